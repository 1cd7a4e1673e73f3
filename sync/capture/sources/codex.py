"""Codex CLI rollouts: ``~/.codex/sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl``.

Current rollouts are ``{timestamp, type, payload}`` lines; pre-0.44 ones start with a bare
``{id, timestamp, instructions, git}`` line followed by bare response items. The same text is
written twice (``response_item.message`` and ``event_msg.user_message``/``agent_message``): per
role, the events are used when the file has any (they hold only what the person typed), else
the response items, filtered of injected context.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.capture.sources.base import ItemHead, ParseIssue, SourceItem, Transcript
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

_UUID_TAIL = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", re.I)
_INJECTED = (
    "<environment_context>",
    "<user_instructions>",
    "# AGENTS.md instructions",
    "<INSTRUCTIONS>",
    "<permissions instructions>",
    "<turn_aborted>",
)
_IDE_REQUEST = "## My request for Codex:"
_CALL_TYPES = {"function_call", "custom_tool_call", "local_shell_call", "web_search_call"}
_OUTPUT_TYPES = {"function_call_output", "custom_tool_call_output", "local_shell_call_output"}
_BARE_ITEMS = {"message", "reasoning", *_CALL_TYPES, *_OUTPUT_TYPES}  # pre-0.44, no payload


def session_id_from_name(path: Path) -> str:
    """The uuid a rollout's file name ends with, else the whole stem."""
    match = _UUID_TAIL.search(path.stem)
    return match.group(1) if match else path.stem


_NAME_TIME = re.compile(r"rollout-(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})")


def _timestamp_of_name(path: Path) -> str | None:
    """``rollout-2025-11-02T10-00-00-…`` → ``2025-11-02T10:00:00`` (local time; a fallback)."""
    match = _NAME_TIME.search(path.name)
    return f"{match.group(1)}T{match.group(2)}:{match.group(3)}:{match.group(4)}" if match else None


def _content_text(content: object) -> str:
    """The text parts of a message's content list (images and ``<image>`` markers dropped)."""
    if isinstance(content, str):
        return content.strip()
    parts: list[str] = []
    for part in content if isinstance(content, list) else []:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            text = part["text"].strip()
            if text and text not in ("<image>", "</image>"):
                parts.append(text)
    return "\n\n".join(parts)


def _user_text(text: str) -> str:
    """What the person typed: injected context blocks dropped, IDE context preamble cut."""
    text = text.strip()
    if text.startswith(_INJECTED):
        return ""
    if _IDE_REQUEST in text:
        text = text.split(_IDE_REQUEST, 1)[1].strip()
    return text


# what newer Codex tools put before a command's output: its exit code, time and size
_HEADER = re.compile(
    r"\A(?:(?:Chunk ID|Wall time|Original token count|Exit code|Process exited with code)"
    r"\b[^\n]*\n){1,6}Output:[ \t]*\n?"
)
_HEADER_EXIT = re.compile(r"^(?:Exit code:|Process exited with code)\s*(-?\d+)", re.M)


def _output(value: object) -> tuple[str, bool]:
    """A tool output as text, and whether it reports a failure."""
    if isinstance(value, dict):
        inner = next((value[k] for k in ("content", "output", "text") if k in value), "")
        text, _ = _output(inner)
        return text, value.get("success") is False
    if isinstance(value, list):
        return _content_text(value), False
    text = as_text(value, sort_keys=True)
    head = _HEADER.match(text)  # shell_command, exec_command: "Exit code: 1\n…\nOutput:\n…"
    if head is not None:
        code = _HEADER_EXIT.search(head.group(0))
        return text[head.end() :], code is not None and int(code.group(1)) != 0
    if text.startswith("{") and '"metadata"' in text:
        try:
            decoded = json.loads(text)
        except (ValueError, RecursionError):
            return text, False
        if isinstance(decoded, dict) and isinstance(decoded.get("metadata"), dict):
            code = decoded["metadata"].get("exit_code")
            return as_text(decoded.get("output"), sort_keys=True), isinstance(
                code, int
            ) and code != 0
    return text, False


@dataclass
class _Rollout:
    """Folds the records of one rollout into messages, issues and session facts."""

    path: str
    user_events: bool  # take user text from event_msg.user_message
    agent_events: bool  # take assistant text from event_msg.agent_message
    issues: list[ParseIssue] = field(default_factory=list)
    drafts: list[MessageDraft] = field(default_factory=list)
    current: MessageDraft | None = None  # the assistant message being filled
    calls: dict[str, PendingCall] = field(default_factory=dict)
    model: str | None = None
    models: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    session_id: str | None = None
    cwd: str | None = None
    title: str | None = None
    meta: dict[str, str] = field(default_factory=dict)

    def feed(self, number: int, record: dict) -> None:
        """Take one record into account; valid non-conversation records are ignored."""
        moment = iso_utc(record.get("timestamp"))
        if moment:
            self.times.append(moment)
        kind = record.get("type")
        payload = record.get("payload")
        if "payload" in record and not isinstance(payload, dict):
            self.issues.append(ParseIssue(self.path, number, "payload is not an object"))
        elif isinstance(payload, dict):
            self._wrapped(number, moment, kind, payload)
        elif kind in _BARE_ITEMS:
            self._item(number, moment, record)  # pre-0.44: a bare response item
        elif "id" in record and kind is None and "record_type" not in record:
            self._session_meta(record)  # pre-0.44: the bare first line
        elif kind is None and "record_type" not in record:
            self.issues.append(ParseIssue(self.path, number, "record has no type"))

    def _wrapped(self, number: int, moment: str | None, kind: object, payload: dict) -> None:
        """A current-format ``{timestamp, type, payload}`` record."""
        if kind == "session_meta":
            self._session_meta(payload)
        elif kind == "turn_context":
            self._switch_model(payload.get("model"))
            if self.cwd is None and isinstance(payload.get("cwd"), str):
                self.cwd = payload["cwd"]
        elif kind == "response_item":
            self._item(number, moment, payload)
        elif kind == "event_msg":
            self._event(number, moment, payload)
        elif kind == "compacted":  # replacement_history repeats earlier turns
            self.meta["compactions"] = str(int(self.meta.get("compactions", "0")) + 1)
            summary = payload.get("message")
            if isinstance(summary, str) and summary.strip():
                draft = MessageDraft("system", number, moment, end_line=number, kind="compaction")
                draft.texts.append(summary.strip())
                self.drafts.append(draft)

    def _session_meta(self, meta: dict) -> None:
        """Session id, cwd and provenance from the first meta record only."""
        if self.session_id is not None:
            return  # later ones describe forked or resumed history
        self.session_id = str(meta.get("id") or "") or None
        moment = iso_utc(meta.get("timestamp"))
        if moment:
            self.times.append(moment)
        if isinstance(meta.get("cwd"), str):
            self.cwd = meta["cwd"]
        for key in ("originator", "cli_version", "source", "model_provider"):
            if isinstance(meta.get(key), str):
                self.meta[key] = meta[key]
        git = meta.get("git")
        if isinstance(git, dict):
            for key, name in (("branch", "git_branch"), ("commit_hash", "git_commit")):
                if isinstance(git.get(key), str):
                    self.meta[name] = git[key]
            if isinstance(git.get("repository_url"), str):
                self.meta["repository_url"] = git["repository_url"]

    def _switch_model(self, model: object) -> None:
        """A turn_context names the model used from here on."""
        if isinstance(model, str) and model:
            self.model = model
            if model not in self.models:
                self.models.append(model)

    def _item(self, number: int, moment: str | None, item: dict) -> None:
        """A response item: a message, reasoning, a tool call or a tool output."""
        kind = item.get("type")
        if kind == "message":
            role = item.get("role")
            text = _content_text(item.get("content"))
            if role == "user" and not self.user_events:
                self._user(number, moment, _user_text(text))
            elif role == "assistant" and not self.agent_events:
                self._assistant_text(number, moment, text)
        elif kind == "reasoning":
            self._reasoning(number, moment, item)
        elif kind in _CALL_TYPES:
            self._call(number, moment, item)
        elif kind in _OUTPUT_TYPES:
            call = self.calls.get(str(item.get("call_id")))
            if call is not None:
                output, call.is_error = _output(item.get("output"))
                call.output = output.strip()
                call.answered = True

    def _event(self, number: int, moment: str | None, event: dict) -> None:
        """An event_msg: the clean user/agent texts, and the thread's name."""
        kind = event.get("type")
        text = event.get("message")
        if kind == "user_message" and self.user_events and isinstance(text, str):
            self._user(number, moment, _user_text(text))
        elif kind == "agent_message" and self.agent_events and isinstance(text, str):
            self._assistant_text(number, moment, text.strip())
        elif kind == "thread_name_updated" and isinstance(event.get("thread_name"), str):
            self.title = event["thread_name"]

    def _user(self, number: int, moment: str | None, text: str) -> None:
        """A person's prompt closes the assistant message being filled."""
        if not text:
            return
        draft = MessageDraft("user", number, moment, end_line=number)
        draft.texts.append(text)
        self.drafts.append(draft)
        self.current = None

    def _assistant(self, number: int, moment: str | None, fresh: bool) -> MessageDraft:
        """The assistant message to add to; a new one when ``fresh`` and this one has content."""
        draft = self.current
        if draft is None or (fresh and (draft.texts or draft.calls)):
            draft = MessageDraft("assistant", number, moment, self.model)
            self.drafts.append(draft)
            self.current = draft
        draft.end_line = number
        return draft

    def _assistant_text(self, number: int, moment: str | None, text: str) -> None:
        """Visible assistant text starts a new message unless only reasoning came before."""
        if text:
            self._assistant(number, moment, fresh=True).texts.append(text)

    def _reasoning(self, number: int, moment: str | None, item: dict) -> None:
        """Reasoning summaries (and plain reasoning text when present) as thinking."""
        parts = [_content_text(item.get("summary")), _content_text(item.get("content"))]
        thought = "\n\n".join(p for p in parts if p)
        if thought:
            self._assistant(number, moment, fresh=True).thinking.append(thought)

    def _call(self, number: int, moment: str | None, item: dict) -> None:
        """A tool call, kept until its output arrives by ``call_id``."""
        call_id = item.get("call_id") if isinstance(item.get("call_id"), str) else None
        if call_id and call_id in self.calls:
            return
        kind = item.get("type")
        if kind == "local_shell_call":
            name, arguments = "local_shell", item.get("action")
        elif kind == "web_search_call":
            name, arguments = "web_search", item.get("action")
        else:
            function = item.get("function")
            nested = function.get("name") if isinstance(function, dict) else None
            name = str(item.get("name") or nested or "?")
            arguments = item.get("arguments") if kind == "function_call" else item.get("input")
        call = PendingCall(name, as_text(arguments, sort_keys=True), call_id)
        self._assistant(number, moment, fresh=False).calls.append(call)
        if call_id:
            self.calls[call_id] = call

    def transcript(self, item: SourceItem) -> Transcript:
        """The normalized transcript of everything fed so far."""
        messages = tuple(m for m in (d.freeze() for d in self.drafts) if m is not None)
        return Transcript(
            agent="codex",
            session_id=self.session_id or item.session_id,
            path=str(item.path),
            messages=messages,
            cwd=self.cwd,
            project=project_name(self.cwd),
            title=self.title,
            started=min(self.times) if self.times else None,
            ended=max(self.times) if self.times else None,
            models=tuple(self.models),
            issues=tuple(self.issues),
            meta=dict(self.meta),
        )


def _has_event(records: list[tuple[int, dict]], event_type: str) -> bool:
    """Whether any event_msg of this type is in the file."""
    return any(
        r.get("type") == "event_msg"
        and isinstance(r.get("payload"), dict)
        and r["payload"].get("type") == event_type
        for _, r in records
    )


class CodexAdapter:
    """Reads Codex CLI rollout files, read-only."""

    agent = "codex"

    def __init__(self) -> None:
        self.problems: list[ParseIssue] = []  # what the last discover() could not read

    def default_roots(self, home: Path) -> list[Path]:
        """Codex writes its rollouts under ``~/.codex/sessions``."""
        return [home / ".codex" / "sessions"]

    def discover(self, root: Path) -> Iterator[SourceItem]:
        """Every ``rollout-*.jsonl`` below ``root``, plus legacy ``*.jsonl`` directly in it."""
        self.problems = []
        return self._discover(root, self.problems)

    def _discover(self, root: Path, problems: list[ParseIssue]) -> Iterator[SourceItem]:
        """The lazy part of ``discover``: folders that cannot be listed go to ``problems``."""
        if not root.is_dir():
            return
        for path in find_files(root, ".jsonl", problems):
            if not path.name.startswith("rollout-") and path.parent != root:
                continue
            item = file_item(self.agent, path, session_id_from_name(path))
            if item is not None:
                yield item

    def item_bytes(self, item: SourceItem) -> bytes:
        """The file's bytes."""
        return read_source(item.path)

    def peek(self, item: SourceItem) -> ItemHead:
        """``cwd`` and start of the first meta record (or turn context) at the file's head."""
        cwd = started = None
        for record in head_records(item.path):
            wrapped = record.get("payload")
            payload: dict[str, Any] = wrapped if isinstance(wrapped, dict) else record
            if record.get("type") in ("session_meta", None) and "id" in payload:
                started = started or iso_utc(payload.get("timestamp"))
            if record.get("type") in ("session_meta", "turn_context", None):
                value = payload.get("cwd")
                if isinstance(value, str) and value:
                    cwd = value
                    break
        return ItemHead(cwd, started or iso_utc(_timestamp_of_name(item.path)))

    def parse(self, item: SourceItem) -> Transcript:
        """The rollout as a transcript; bad lines become issues."""
        raw = read_source(item.path)
        issues: list[ParseIssue] = []
        records = list(jsonl_records(raw, str(item.path), issues))
        rollout = _Rollout(
            str(item.path),
            user_events=_has_event(records, "user_message"),
            agent_events=_has_event(records, "agent_message"),
            issues=issues,
        )
        for number, record in records:
            rollout.feed(number, record)
        rollout.issues.sort(key=lambda issue: issue.line or 0)
        return rollout.transcript(item)
