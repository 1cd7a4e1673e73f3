"""Cursor Agent CLI transcripts: ``~/.cursor/projects/<project>/agent-transcripts/**/*.jsonl``.

Choices, kept here so that tests and readers agree:

* One item per transcript file; one message per ``{role, message: {content: [blocks]}}`` line.
* ``tool_result`` blocks attach to the pending call with the same id, else the same name, else
  the oldest; a result with no call left is a ``tool`` message of its own.
* ``<user_query>`` wrappers are unwrapped and injected context blocks dropped; the IDE's user
  bubbles are cleaned the same way (``freeze``), which is why ``cursor.py`` uses this module.
* A transcript in a ``subagents/`` folder names its parent in ``meta["parent_session"]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sync.capture.sources.base import Message, ParseIssue, SourceError, SourceItem, Transcript
from sync.capture.sources.common import (
    MessageDraft,
    PendingCall,
    as_text,
    file_item,
    find_files,
    iso_utc,
    jsonl_records,
    read_source,
)

AGENT = "cursor"
TRANSCRIPTS = "agent-transcripts"
_TRANSCRIPT_DIRS = (TRANSCRIPTS, f"projects/*/{TRANSCRIPTS}")
_INJECTED = re.compile(
    r"<(user_info|system_reminder|system-reminder|rules|user_rules|additional_data|git_status|"
    r"project_layout|open_and_recently_viewed_files|attached_files|environment_context)>"
    r".*?</\1>",
    re.S,
)
_QUERY_TAG = re.compile(r"</?user_query>")


def clean_user_text(text: str) -> str:
    """User text without injected context blocks or the CLI's ``<user_query>`` wrapper."""
    return _QUERY_TAG.sub("", _INJECTED.sub("", text)).strip()


def freeze(draft: MessageDraft) -> Message | None:
    """The finished message (blocks joined as Cursor wrote them; a user's text cleaned)."""
    text = "\n\n".join(draft.texts)
    draft.texts = [clean_user_text(text) if draft.role == "user" else text]
    draft.thinking = ["\n\n".join(draft.thinking)]
    return draft.freeze()


def transcript_items(root: Path, problems: list[ParseIssue]) -> Iterator[SourceItem]:
    """Every transcript below ``root`` (``*.jsonl`` in it and in its agent-transcripts folders)."""
    inside = root.name == TRANSCRIPTS
    files = [] if inside else sorted(root.glob("*.jsonl"))
    dirs = [root] if inside else []
    dirs += [d for pattern in _TRANSCRIPT_DIRS for d in sorted(root.glob(pattern))]
    files += [f for d in dirs for f in find_files(d, ".jsonl", problems)]
    return file_items(list(dict.fromkeys(files)))


def file_items(files: list[Path]) -> Iterator[SourceItem]:
    """Each file that still exists as an item keyed by its path."""
    items = (file_item(AGENT, path, path.stem) for path in files)
    return (item for item in items if item is not None)


def parse_transcript(item: SourceItem) -> Transcript:
    """A CLI transcript; bad lines become issues, an unreadable file a ``SourceError``."""
    path = str(item.path)
    data = read_source(item.path)
    try:
        mtime = item.path.stat().st_mtime_ns
    except OSError as exc:
        raise SourceError(path, f"cannot read: {exc}") from exc
    drafts: list[MessageDraft] = []
    pending: list[PendingCall] = []
    issues: list[ParseIssue] = []
    # an undecodable line is worded as the CLI format always was: it is not a JSON object
    for n, rec in jsonl_records(data, path, issues, bad_json="not a JSON object"):
        role = rec.get("role")
        if role not in ("user", "assistant"):
            continue  # turn markers and other non-conversation records
        message = rec.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        if not isinstance(content, list):
            issues.append(ParseIssue(path, n, "message.content is missing"))
            continue
        model = rec.get("model") if isinstance(rec.get("model"), str) else None
        draft = MessageDraft(str(role), n, model=model if role == "assistant" else None)
        _blocks(draft, content, pending, drafts)
        drafts.append(draft)
    messages = tuple(m for d in drafts if (m := freeze(d)))
    meta = {"format": "agent-cli"}
    if item.path.parent.name == "subagents":
        meta["parent_session"] = item.path.parent.parent.name
    return Transcript(
        agent=AGENT,
        session_id=item.session_id,
        path=path,
        messages=messages,
        ended=iso_utc(mtime / 1_000_000),
        models=tuple(dict.fromkeys(m.model for m in messages if m.model)),
        issues=tuple(issues),
        meta=meta,
    )


def _blocks(
    draft: MessageDraft, content: list[Any], pending: list[PendingCall], drafts: list[MessageDraft]
) -> None:
    """Adds a line's blocks to ``draft``; tool results go to their pending call."""
    for block in content:
        if not isinstance(block, dict):
            continue
        kind, text = block.get("type"), block.get("text")
        if kind == "thinking":
            draft.thinking.append(str(block.get("thinking") or text or ""))
        elif kind in ("tool_use", "tool_call"):
            call_id = block.get("id") if isinstance(block.get("id"), str) else None
            name = str(block.get("name") or "tool")
            call = PendingCall(name, as_text(block.get("input")), call_id)
            draft.calls.append(call)
            pending.append(call)
        elif kind in ("tool_result", "tool-result"):
            _attach(block, pending, drafts, draft.line)
        elif isinstance(text, str):  # text, and unknown blocks that carry visible text
            draft.texts.append(text)


def _attach(
    block: dict[str, Any], pending: list[PendingCall], drafts: list[MessageDraft], line: int
) -> None:
    """Pairs a tool result with its call (by id, then name, then oldest pending)."""
    content = block.get("content")
    if isinstance(content, list):
        parts = [c.get("text", "") for c in content if isinstance(c, dict)]
        content = "\n".join(p for p in parts if isinstance(p, str))
    output = as_text(content)
    call = next((c for c in pending if c.id and c.id == block.get("tool_use_id")), None)
    call = call or next((c for c in pending if c.name == block.get("name")), None)
    call = call or (pending[0] if pending else None)
    if call is None:
        drafts.append(MessageDraft("tool", line, texts=[output]))
        return
    pending.remove(call)
    call.output, call.is_error = output, bool(block.get("is_error"))
