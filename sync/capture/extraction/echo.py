"""Remove what memsync itself put into a session, so memories never re-capture their own echo.

Three things go: tool calls that ran the memsync CLI (their output is recalled memory), any
text between the recall markers (memsync wraps ``ask`` and skill output in them), and the
messages left empty by those removals.
"""

from __future__ import annotations

import re
from dataclasses import replace

from sync.capture.sources.base import Message, ToolCall, Transcript

RECALL_OPEN = "<memsync-recall>"
RECALL_CLOSE = "</memsync-recall>"

# `memsync` in command position (start, after a separator or quote, or a runner such as
# `uv run`), optionally behind a path: `.venv/bin/memsync sync`, `$(memsync ask ...)`.
_MEMSYNC_CLI = re.compile(
    r"(?:^|\\n|[\n;&|(`\"'])[ \t]*(?:(?:uv|poetry|pdm|hatch|pipx)\s+run\s+|uvx\s+)?"
    r"(?:[\w.~-]*/)*memsync(?:\.exe)?(?=$|\s|\\?[\"';&|)`])"
    r"|\bpython[\d.]*\s+-m\s+(?:service\.cli|memsync)\b"
)
_RECALL = re.compile(re.escape(RECALL_OPEN) + r"[\s\S]*?(?:" + re.escape(RECALL_CLOSE) + r"|\Z)")
_EDIT_TOOLS = {
    "write", "edit", "multiedit", "notebookedit", "apply_patch", "str_replace_editor",
    "str_replace_based_edit_tool", "create_file", "edit_file", "write_file",
}  # fmt: skip


def runs_memsync(call: ToolCall) -> bool:
    """Whether ``call`` ran the memsync CLI (a file edit that merely mentions it does not)."""
    if call.name.lower() in _EDIT_TOOLS or (
        "memsync" not in call.input and "service.cli" not in call.input
    ):
        return False
    return _MEMSYNC_CLI.search(call.input) is not None


def strip_recall(text: str) -> str:
    """``text`` without any ``<memsync-recall>`` block (an unclosed one runs to the end)."""
    if RECALL_OPEN not in text and RECALL_CLOSE not in text:
        return text
    return _RECALL.sub("", text).replace(RECALL_CLOSE, "").strip()


def _strip_message(msg: Message) -> Message:
    calls = tuple(
        replace(c, output=strip_recall(c.output)) for c in msg.tool_calls if not runs_memsync(c)
    )
    text, thinking = strip_recall(msg.text), strip_recall(msg.thinking)
    if text == msg.text and thinking == msg.thinking and calls == msg.tool_calls:
        return msg
    return replace(msg, text=text, thinking=thinking, tool_calls=calls)


def _is_empty(msg: Message) -> bool:
    return not msg.text.strip() and not msg.thinking.strip() and not msg.tool_calls


def _strip_all(messages: tuple[Message, ...]) -> tuple[Message, ...] | None:
    """The messages without memsync's echo; None when nothing changed."""
    kept: list[Message] = []
    changed = False
    for msg in messages:
        new = _strip_message(msg)
        if new is not msg:
            changed = True
            if _is_empty(new):
                continue
        kept.append(new)
    return tuple(kept) if changed else None


def strip_echo(t: Transcript) -> Transcript:
    """``t`` without memsync CLI calls, recall blocks, and the messages they leave empty."""
    messages, sidechains = _strip_all(t.messages), _strip_all(t.sidechains)
    if messages is None and sidechains is None:
        return t
    return replace(
        t,
        messages=t.messages if messages is None else messages,
        sidechains=t.sidechains if sidechains is None else sidechains,
    )
