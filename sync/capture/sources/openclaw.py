"""OpenClaw and pi coding-agent sessions: one JSONL file per session.

OpenClaw writes ``~/.openclaw/agents/<agentId>/sessions/<sessionId>.jsonl`` (next to a
``sessions.json`` index, which is not a session); pi writes
``~/.pi/agent/sessions/--<cwd>--/<timestamp>_<uuid>.jsonl``. Both use pi's session format: a
``session`` header (v3 carries ``version`` and tree ``id``/``parentId`` on entries; the older pi
header carries ``provider``/``modelId``/``thinkingLevel`` and entries have no ids), then one
entry per line.

Choices, kept here so that tests and readers agree:

* Entries are read in file order; abandoned branches of the session tree are kept (they hold
  learnings too) and ``parentId`` is not followed.
* ``compaction`` and ``branch_summary`` become one ``system`` message holding the summary; the
  entries they summarize are still in the file and are not repeated.
* ``custom_message`` (and ``custom``/``hookMessage`` role messages) become a ``system`` message
  only when ``display`` is true and they hold text; hidden ones are injected context, dropped.
  ``custom`` entries are extension state: only a ``model-snapshot`` is used (as a model switch).
* An assistant message with no content and ``stopReason`` ``error`` (the provider failed:
  "fetch failed", a missing key) becomes a ``system`` message of kind ``error`` naming the
  model and the error; the same error again right after it is counted on that message
  ("(4 times)"), not repeated. Errors are also counted in ``meta["errors"]`` with the last
  text in ``meta["last_error"]``; aborts (``aborted``) only in ``meta["aborted"]``.
  OpenClaw's ``gateway-injected`` notices are kept as ``system`` messages.
* A tool result is an error when ``isError`` is set or when OpenClaw's tool reports
  ``details.status`` ``error`` (its tools answer errors that way with ``isError`` false).
* User text loses OpenClaw's ``(untrusted metadata)`` blocks, its ``[Day date time TZ]``
  envelope and ``[[reply_to_current]]`` tags (assistant text loses the tags too); a user prompt
  repeated right after a failed attempt is kept once (``meta["collapsed_retries"]``), and the
  startup prompt OpenClaw injects after ``/new`` is dropped.
* ``bashExecution`` (a shell command the user ran with ``!``) is a ``tool`` message with one
  ``bash`` call. A tool result fills its call (matched by id) and extends that message's
  ``end_line``; a result whose call is unknown is a ``tool`` message of its own.
* Unknown entry types and roles are reported as parse issues (schema drift), then skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sync.capture.sources.base import ItemHead, ParseIssue, SourceError, SourceItem, Transcript
from sync.capture.sources.common import (
    MessageDraft,
    PendingCall,
    as_text,
    file_item,
    find_files,
    head_records,
    iso_utc,
    jsonl_records,
    project_name,
    read_source,
)

_REPLY_TAG = re.compile(r"\A\s*(?:\[\[\s*reply_to(?:_current|\s*:[^\]\n]*)\s*\]\]\s*)+")
_META_BLOCK = re.compile(
    r"\A\s*[^\n]{0,80}\(untrusted[^)\n]*\):[ \t]*\n```[a-z]*\n.*?\n```[ \t]*\n?", re.S
)
_ENVELOPE = re.compile(r"\A\s*\[[^\]\n]{0,40}\d{4}-\d{2}-\d{2} \d{2}:\d{2}[^\]\n]{0,20}\]\s*")
_INJECTED_USER = ("A new session was started via /new or /reset",)
_SUMMARY_ROLES = frozenset({"compactionSummary", "branchSummary"})
_CUSTOM_ROLES = frozenset({"custom", "hookMessage"})
_INJECTED_MODEL = "gateway-injected"


def clean_user_text(text: str) -> str:
    """User text without OpenClaw's metadata blocks, time envelope and reply tags."""
    previous = None
    while previous != text:
        previous = text
        text = _META_BLOCK.sub("", text, count=1)
    text = _ENVELOPE.sub("", text, count=1)
    return _REPLY_TAG.sub("", text).strip()


def clean_assistant_text(text: str) -> str:
    """Assistant text without ``[[reply_to_current]]`` routing tags."""
    return _REPLY_TAG.sub("", text).strip()


def _blocks(content: object) -> list[dict[str, Any]]:
    """Content as a list of blocks (a bare string is one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    if content is None:
        return []
    raise TypeError(f"content is {type(content).__name__}")


def _plain_text(content: object) -> str:
    """Text and image placeholders of a content value, joined by newlines."""
    parts = []
    for block in _blocks(content):
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif block.get("type") == "image":
            parts.append("[image]")
    return "\n".join(parts).strip()


def _arguments(block: dict[str, Any]) -> str:
    """Tool call arguments as text (JSON when structured)."""
    args = block.get("arguments")
    return str(block.get("partialJson") or "") if args is None else as_text(args)


class _Session:
    """Mutable state while one file is read; ``transcript`` freezes it."""

    def __init__(self, item: SourceItem) -> None:
        self.item = item
        self.drafts: list[MessageDraft] = []
        self.pending: dict[str, tuple[MessageDraft, PendingCall]] = {}
        self.models: list[str] = []
        self.model: str | None = None
        self.issues: list[ParseIssue] = []
        self.times: list[str] = []
        self.meta: dict[str, str] = {}
        self.counts = {"errors": 0, "aborted": 0, "collapsed_retries": 0, "compactions": 0}
        self.failure: tuple[MessageDraft, str, int] | None = None  # the last error notice, times
        self.cwd: str | None = None
        self.title: str | None = None

    def issue(self, line: int | None, reason: str) -> None:
        self.issues.append(ParseIssue(str(self.item.path), line, reason))

    def use_model(self, model: object) -> None:
        if isinstance(model, str) and model and model != _INJECTED_MODEL:
            self.model = model
            if model not in self.models:
                self.models.append(model)

    def add(self, draft: MessageDraft) -> None:
        if draft.time:
            self.times.append(draft.time)
        self.drafts.append(draft)

    def entry(self, line: int, obj: dict[str, Any]) -> None:
        """Dispatch one JSON entry by its ``type``."""
        kind = obj.get("type")
        stamp = iso_utc(obj.get("timestamp"))
        if kind == "session":
            self.header(obj)
        elif kind == "message":
            message = obj["message"]
            if not isinstance(message, dict):
                raise TypeError("message is not an object")
            self.message(line, message, iso_utc(message.get("timestamp")) or stamp)
        elif kind == "model_change":
            self.use_model(obj.get("modelId"))
        elif kind == "thinking_level_change":
            self.meta["thinking_level"] = str(obj.get("thinkingLevel"))
        elif kind == "custom":
            if obj.get("customType") == "model-snapshot":
                self.use_model((obj.get("data") or {}).get("modelId"))
        elif kind == "custom_message":
            self.custom(line, obj, stamp)
        elif kind in ("compaction", "branch_summary"):
            self.summary(line, obj, stamp, str(kind))
        elif kind == "session_info":
            self.title = obj.get("name") or self.title
        elif kind != "label":
            self.issue(line, f"unknown entry type {kind!r}")

    def header(self, obj: dict[str, Any]) -> None:
        self.cwd = obj.get("cwd") or self.cwd
        self.meta["format"] = f"v{obj['version']}" if "version" in obj else "pi-v1"
        if obj.get("id"):
            self.meta["header_id"] = str(obj["id"])
        for key in ("parentSession", "branchedFrom"):
            if obj.get(key):
                self.meta["parent_session"] = str(obj[key])
        if obj.get("thinkingLevel"):
            self.meta["thinking_level"] = str(obj["thinkingLevel"])
        self.use_model(obj.get("modelId"))
        if (stamp := iso_utc(obj.get("timestamp"))) is not None:
            self.times.append(stamp)

    def message(self, line: int, msg: dict[str, Any], stamp: str | None) -> None:
        role = msg.get("role")
        if role == "user":
            self.user(line, msg, stamp)
        elif role == "assistant":
            self.assistant(line, msg, stamp)
        elif role == "toolResult":
            self.tool_result(line, msg, stamp)
        elif role == "bashExecution":
            failed = bool(msg.get("cancelled")) or msg.get("exitCode") not in (0, None)
            command, output = str(msg.get("command") or ""), str(msg.get("output") or "")
            call = PendingCall("bash", command, output=output, is_error=failed)
            self.add(MessageDraft("tool", line, stamp, calls=[call]))
        elif role in _CUSTOM_ROLES:
            self.custom(line, msg, stamp)
        elif role in _SUMMARY_ROLES:
            self.summary(line, msg, stamp, str(role))
        elif role == "system":
            if text := _plain_text(msg.get("content")):
                self.add(MessageDraft("system", line, stamp, texts=[text]))
        else:
            self.issue(line, f"unknown message role {role!r}")

    def user(self, line: int, msg: dict[str, Any], stamp: str | None) -> None:
        text = clean_user_text(_plain_text(msg.get("content")))
        if not text or text.startswith(_INJECTED_USER):
            return
        # the prompt again after the model failed on it: kept once (the failure stays)
        last = next((d for d in reversed(self.drafts) if d.kind != "error"), None)
        if last is not None and last.role == "user" and last.texts == [text]:
            self.counts["collapsed_retries"] += 1
            return
        self.add(MessageDraft("user", line, stamp, texts=[text]))

    def assistant(self, line: int, msg: dict[str, Any], stamp: str | None) -> None:
        stop = msg.get("stopReason")
        if stop == "error":
            self.counts["errors"] += 1
            self.meta["last_error"] = str(msg.get("errorMessage") or "unknown error")
            if not _blocks(msg.get("content")):
                self.provider_error(line, stamp, msg.get("model"), self.meta["last_error"])
        elif stop == "aborted":
            self.counts["aborted"] += 1
        self.use_model(msg.get("model"))
        draft = MessageDraft("assistant", line, stamp, self.model)
        texts, thoughts = [], []
        for block in _blocks(msg.get("content")):
            kind = block.get("type")
            if kind == "text" and isinstance(block.get("text"), str):
                texts.append(clean_assistant_text(block["text"]))
            elif kind == "thinking" and isinstance(block.get("thinking"), str):
                thoughts.append(block["thinking"].strip())
            elif kind == "toolCall":
                call = PendingCall(str(block.get("name") or "?"), _arguments(block))
                draft.calls.append(call)
                if block.get("id"):
                    self.pending[str(block["id"])] = (draft, call)
        draft.texts = ["\n".join(t for t in texts if t)]
        draft.thinking = ["\n".join(t for t in thoughts if t)]
        if msg.get("model") == _INJECTED_MODEL:
            draft.role, draft.model = "system", None
        if draft.texts[0] or draft.thinking[0] or draft.calls:
            self.add(draft)

    def provider_error(self, line: int, stamp: str | None, model: object, error: str) -> None:
        """A failed turn as one ``error`` notice; the same failure right after it is counted."""
        who = model if isinstance(model, str) and model and model != _INJECTED_MODEL else ""
        error = " ".join(error.split())
        text = f"{who or 'the model'} failed: {error[:400]}{'…' if len(error) > 400 else ''}"
        if self.failure is not None and self.drafts and self.drafts[-1] is self.failure[0]:
            draft, said, times = self.failure
            if said == text:
                self.failure = (draft, text, times + 1)
                draft.texts, draft.end_line = [f"{text} ({times + 1} times)"], line
                return
        draft = MessageDraft("system", line, stamp, texts=[text], kind="error")
        self.failure = (draft, text, 1)
        self.add(draft)

    def tool_result(self, line: int, msg: dict[str, Any], stamp: str | None) -> None:
        output = _plain_text(msg.get("content"))
        details = msg.get("details")
        is_error = bool(msg.get("isError")) or (
            isinstance(details, dict) and details.get("status") == "error"
        )
        found = self.pending.pop(str(msg.get("toolCallId")), None)
        if found is None:
            orphan = PendingCall(str(msg.get("toolName") or "?"), output=output, is_error=is_error)
            self.add(MessageDraft("tool", line, stamp, calls=[orphan]))
            return
        draft, call = found
        call.output, call.is_error = output, is_error
        draft.end_line = line  # the message spans its tool results

    def custom(self, line: int, obj: dict[str, Any], stamp: str | None) -> None:
        text = _plain_text(obj.get("content"))
        if obj.get("display") and text:
            self.add(MessageDraft("system", line, stamp, texts=[text]))

    def summary(self, line: int, obj: dict[str, Any], stamp: str | None, kind: str) -> None:
        text = str(obj.get("summary") or "").strip()
        if kind in ("compaction", "compactionSummary"):
            self.counts["compactions"] += 1
        if text:
            summary = "compaction" if kind in ("compaction", "compactionSummary") else "summary"
            self.add(MessageDraft("system", line, stamp, texts=[text], kind=summary))

    def transcript(self) -> Transcript:
        meta = dict(self.meta)
        meta.update({k: str(v) for k, v in self.counts.items()})
        return Transcript(
            agent="openclaw",
            session_id=self.item.session_id,
            path=str(self.item.path),
            messages=tuple(m for m in (d.freeze() for d in self.drafts) if m is not None),
            cwd=self.cwd,
            project=project_name(self.cwd),
            title=self.title,
            started=min(self.times) if self.times else None,
            ended=max(self.times) if self.times else None,
            models=tuple(self.models),
            issues=tuple(self.issues),
            meta=meta,
        )


class OpenClawAdapter:
    """Reads OpenClaw (``~/.openclaw/agents``) and pi (``~/.pi/agent/sessions``) sessions."""

    agent = "openclaw"

    def __init__(self) -> None:
        self.problems: list[ParseIssue] = []  # what the last discover() could not read

    def default_roots(self, home: Path) -> list[Path]:
        """OpenClaw's agents folder and pi's sessions folder."""
        return [home / ".openclaw" / "agents", home / ".pi" / "agent" / "sessions"]

    def discover(self, root: Path) -> Iterator[SourceItem]:
        """Every ``*.jsonl`` session under ``root`` (the ``sessions.json`` index is skipped)."""
        self.problems = []
        paths = [root] if root.is_file() else find_files(root, ".jsonl", self.problems)
        items = (file_item(self.agent, p, p.stem) for p in paths if p.suffix == ".jsonl")
        return (item for item in items if item is not None)

    def item_bytes(self, item: SourceItem) -> bytes:
        """The session file's bytes."""
        return read_source(item.path)

    def peek(self, item: SourceItem) -> ItemHead:
        """``cwd`` and start from the ``session`` header (the first line)."""
        for record in head_records(item.path, 64 * 1024):
            if record.get("type") == "session":
                cwd = record.get("cwd")
                return ItemHead(cwd if isinstance(cwd, str) and cwd else None,
                                iso_utc(record.get("timestamp")))  # fmt: skip
            break
        return ItemHead()

    def parse(self, item: SourceItem) -> Transcript:
        """The normalized transcript; bad lines become issues, a non-JSONL file a SourceError."""
        data = read_source(item.path)
        session = _Session(item)
        parsed = 0
        for number, obj in jsonl_records(
            data, str(item.path), session.issues, bad_json="invalid JSON: {}"
        ):
            parsed += 1
            try:
                session.entry(number, obj)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                session.issue(number, f"malformed {obj.get('type')!r} entry: {exc!r}")
        if parsed == 0 and data.strip():
            raise SourceError(str(item.path), "not a JSONL session (no JSON object on any line)")
        return session.transcript()
