"""Redacting a whole transcript (messages and subagent work: text, thinking, tool input and
output; the title) before anything is extracted from it."""

from __future__ import annotations

from dataclasses import replace

from sync.capture.sources.base import Message, ToolCall, Transcript
from sync.redact import redact


def _merge(total: dict[str, int], part: dict[str, int]) -> None:
    for kind, n in part.items():
        total[kind] = total.get(kind, 0) + n


def _redact_call(call: ToolCall, total: dict[str, int]) -> ToolCall:
    inp, c1 = redact(call.input)
    out, c2 = redact(call.output)
    _merge(total, c1)
    _merge(total, c2)
    if not c1 and not c2:
        return call
    return replace(call, input=inp, output=out)


def _redact_message(msg: Message, total: dict[str, int]) -> Message:
    text, c1 = redact(msg.text)
    thinking, c2 = redact(msg.thinking)
    calls = tuple(_redact_call(c, total) for c in msg.tool_calls)
    _merge(total, c1)
    _merge(total, c2)
    if not c1 and not c2 and all(a is b for a, b in zip(calls, msg.tool_calls, strict=True)):
        return msg
    return replace(msg, text=text, thinking=thinking, tool_calls=calls)


def redact_transcript(t: Transcript) -> tuple[Transcript, dict[str, int]]:
    """``t`` with every message (sidechains too): text, thinking, tool input/output and the
    title redacted."""
    total: dict[str, int] = {}
    messages = tuple(_redact_message(m, total) for m in t.messages)
    sidechains = tuple(_redact_message(m, total) for m in t.sidechains)
    title, c = redact(t.title) if t.title else (t.title, {})
    _merge(total, c)
    if not total:
        return t, total
    return replace(t, messages=messages, sidechains=sidechains, title=title), total
