"""Failures a tool reports inside a JSON result (pure).

Agent harness tools often answer with JSON and no error flag: OpenClaw's ``gateway`` tool
says ``{"ok": true, "result": {"ok": false, "result": {"status": "error", "steps": [{"command":
"npm i -g openclaw@latest", "exitCode": 243, "stderrTail": "npm error code EACCES …"}]}}}`` —
the call went through, the update it ran failed. Such a result is a failure, told by the step
that failed (its command and exit code) and the error lines of what it printed. So is an
answer that is an error as a whole: OpenClaw's ``web_search`` without a key answers
``{"error": "missing_brave_api_key", "message": "… set BRAVE_API_KEY …"}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

_TEXT_KEYS = ("error", "errors", "stderr", "stderrTail", "stderr_tail", "message", "reason")
_MAX_DEPTH = 8
_CODE_WORD = re.compile(r"[A-Za-z][\w.-]{2,60}")  # an error told by its code alone


def json_failure(
    output: str, lines: Callable[[str], tuple[str, ...]], *, outer: bool = False
) -> tuple[str, ...]:
    """The error lines of a JSON ``output`` that reports a failure anywhere inside it (a
    ``status`` of error or failed, ``ok`` false, a non-zero ``exitCode``), the failed step's
    command first; () when it reports none. ``lines`` picks error lines from a text.
    ``outer``: only the answer as a whole counts (what a shell command printed may be data
    that holds failures: a CI run listing)."""
    text = output.strip()
    if not text.startswith("{") or len(text) > 200_000:
        return ()
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past what the parser takes
        return ()
    failed = [node for node in _nodes(value, 0) if _fails(node)]
    if outer:
        failed = [node for node in failed if node is value]
    if isinstance(value, dict) and _answers_error(value) and value not in failed:
        failed.insert(0, value)  # {"error": "missing_brave_api_key", "message": "…"}
    if not failed:
        return ()
    # the steps that ran a command first, in order, then the rest innermost first (the
    # innermost says what actually went wrong)
    steps = [node for node in failed if isinstance(node.get("command"), str)]
    found: list[str] = []
    remedies: list[str] = []  # what a hint says to do, kept past the cut on the rest
    for node in steps + [n for n in reversed(failed) if n not in steps]:
        command, code = node.get("command"), node.get("exitCode", node.get("exit_code"))
        if isinstance(command, str) and command.strip():
            found.append(f"`{' '.join(command.split())[:160]}` exited {code}")
        hints = [k for k in node if isinstance(k, str) and "hint" in k.lower()]
        remedies += filter(None, (" ".join(_text(node.get(k)).split())[:200] for k in hints))
        texts = [_text(node.get(key)) for key in _TEXT_KEYS]
        code_word, message = texts[0], texts[_TEXT_KEYS.index("message")]
        if _CODE_WORD.fullmatch(code_word) and message:  # "missing_key" told by its message
            texts[0] = f"{code_word}: {lines(message)[0] if lines(message) else message}"
            texts[_TEXT_KEYS.index("message")] = ""
        for said in filter(None, texts):
            found += lines(said) or [" ".join(said.split())[:200]]
    kept = [line for line in dict.fromkeys(found) if line not in remedies][:4]
    return (*kept, *remedies[:1])


def _text(value: Any) -> str:
    if isinstance(value, dict):  # {"error": {"code": 404, "message": "…"}}
        value = value.get("message")
    return value.strip() if isinstance(value, str) else ""


def _fails(node: dict[str, Any]) -> bool:
    code = node.get("exitCode", node.get("exit_code"))
    return (
        str(node.get("status", "")).lower() in ("error", "failed", "failure")
        or node.get("ok") is False
        or node.get("success") is False
        or (isinstance(code, int) and not isinstance(code, bool) and code != 0)
    )


def _answers_error(node: dict[str, Any]) -> bool:
    """Whether a tool's whole answer is an error: an ``error`` that says something, and no
    ``ok`` or ``success`` true beside it (an item's error inside a listing does not count)."""
    error = node.get("error")
    said = (isinstance(error, str) and bool(error.strip())) or (
        isinstance(error, dict) and bool(error)
    )
    return said and node.get("ok") is not True and node.get("success") is not True


def _nodes(value: Any, depth: int) -> Iterator[dict[str, Any]]:
    """Every object inside ``value``, outermost first."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _nodes(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _nodes(item, depth + 1)
