"""Claude Code ``attachment`` records (CLI 2.1.97+): the few that carry what the user said or
did, as message drafts; the Claude adapter decides where they go.

- ``queued_command`` with ``commandMode`` "prompt" (or none), ``origin.kind`` "human" (or no
  origin) and not ``isMeta``: a prompt the user typed while the agent worked. Claude Code folds
  it into the running turn and most often writes no ``user`` line for it: it becomes a user
  message of kind ``queued``. Task notifications and other sessions' messages are not the user.
- ``edited_text_file`` (``filename``, ``snippet``: the changed lines, numbered ``N<tab>``): a
  file the agent had read changed on disk, not through the agent's edit tools — the user's
  hand, a formatter, a command (the agent's own ``git stash`` too). A system message of kind
  ``edited``: the file, the span of lines and a bounded excerpt without the numbers.
- ``hook_blocking_error`` (``blockingError.blockingError``): the project's hook objected, with
  its reason; hook feedback (kind ``hook``). Not for PreToolUse, whose reason is the refused
  call's error result, nor Stop, read from its "Stop hook feedback" line.

And one ``system`` record: a hook command that failed (``PreToolUse:Bash [node ~/.claude/
scripts/validate-command.js] failed with non-blocking status code 1: <stderr>``). Claude Code
goes on past it, so a broken hook does nothing, unnoticed, on every call: a system message of
kind ``hook_error`` (``hook_failure``), its repeats counted on the first.

Everything else — tool, skill and agent listings, reminders, mode switches, hook successes, and
the memory files, at-mentioned files and hook context injected into the prompt (memsync's own
hook among them) — is the harness's context, not the session's news, and is ignored.
"""

from __future__ import annotations

import re

from sync.capture.sources.common import MessageDraft, iso_utc

EXCERPT_CHARS = 4000  # the most of an edited file's snippet a message keeps
_NUMBERED = re.compile(r"^\s*(\d+)\t", re.M)
_SAID_ELSEWHERE = ("PreToolUse", "Stop", "SubagentStop")  # the tool result, the feedback line


HOOK_OUTPUT_CHARS = 1500  # of what a failed hook printed
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_HOOK_FAILED = re.compile(
    r"\A(?P<event>\w+(?::\S+)?) \[(?P<command>[^\]\n]+)\] failed with (?:non-blocking )?"
    r"status code (?P<code>-?\d+):?\s*(?P<output>.*)\Z",
    re.S,
)


def hook_failure(content: object) -> tuple[tuple[str, str, str], str, str] | None:
    """((event, command, status), head, output) of a system record's text saying a hook
    command failed, or None for any other system record (durations, boundaries, notices)."""
    if not isinstance(content, str):
        return None
    m = _HOOK_FAILED.match(_ANSI.sub("", content).strip())
    if m is None:
        return None
    key = (m["event"], " ".join(m["command"].split()), m["code"])
    head = f"{key[0]} hook `{key[1]}` failed with status {key[2]}"
    return key, head, m["output"].strip()[:HOOK_OUTPUT_CHARS]


class BadAttachment(ValueError):
    """A known attachment whose payload is not the expected shape (an issue, never fatal)."""


def attachment_draft(number: int, record: dict) -> MessageDraft | None:
    """The message an attachment record carries, or None when it carries none for us.

    Raises ``BadAttachment`` for a record without an attachment object, or a known type whose
    fields are the wrong shape."""
    payload = record.get("attachment")
    if not isinstance(payload, dict):
        raise BadAttachment("attachment record without an attachment object")
    kind = payload.get("type")
    moment = iso_utc(record.get("timestamp")) or iso_utc(payload.get("timestamp"))
    if kind == "queued_command":
        text = _queued_prompt(payload)
        role, sort = "user", "queued"
    elif kind == "edited_text_file":
        text = _edited_file(payload)
        role, sort = "system", "edited"
    elif kind == "hook_blocking_error":
        text = _hook_block(payload)
        role, sort = "system", "hook"
    else:
        return None
    if not text:
        return None
    draft = MessageDraft(role, number, moment, end_line=number, kind=sort)
    draft.texts.append(text)
    return draft


def _queued_prompt(payload: dict) -> str:
    """A queued prompt's text when the user typed it; "" for what others queued."""
    origin = payload.get("origin")
    by = origin.get("kind") if isinstance(origin, dict) else None
    mode = payload.get("commandMode", "prompt")
    if payload.get("isMeta") is True or mode != "prompt" or by not in (None, "human"):
        return ""
    prompt = payload.get("prompt")
    if isinstance(prompt, str):
        return prompt
    if not isinstance(prompt, list):
        raise BadAttachment("queued_command attachment without a prompt")
    texts = [
        str(block.get("text") or "")
        for block in prompt
        if isinstance(block, dict) and block.get("type") == "text"
    ]
    return "\n\n".join(t for t in texts if t.strip())


def _edited_file(payload: dict) -> str:
    """``<file> (lines a–b) changed on disk since the agent read it:`` and the changed lines,
    bounded."""
    filename, snippet = payload.get("filename"), payload.get("snippet", "")
    if not isinstance(filename, str) or not filename.strip():
        raise BadAttachment("edited_text_file attachment without a filename")
    if not isinstance(snippet, str):
        raise BadAttachment("edited_text_file attachment whose snippet is not text")
    numbers = [int(n) for n in _NUMBERED.findall(snippet)]
    body = _NUMBERED.sub("", snippet).strip("\n")
    if not body.strip():
        return ""
    if len(body) > EXCERPT_CHARS:
        body = body[:EXCERPT_CHARS].rsplit("\n", 1)[0] + "\n…"
    span = ""
    if numbers:
        first, last = min(numbers), max(numbers)
        span = f" (line {first})" if first == last else f" (lines {first}–{last})"
    return f"{filename.strip()}{span} changed on disk since the agent read it:\n{body}"


def _hook_block(payload: dict) -> str:
    """``<event> hook (<name>) blocked: <reason>``; "" where the reason is said elsewhere."""
    event = payload.get("hookEvent")
    event = event if isinstance(event, str) and event else "a"
    if event in _SAID_ELSEWHERE:
        return ""
    error = payload.get("blockingError")
    reason = error.get("blockingError") if isinstance(error, dict) else error
    if not isinstance(reason, str):
        raise BadAttachment("hook_blocking_error attachment without a reason")
    name = payload.get("hookName")
    name = name if isinstance(name, str) else ""
    name = name.split(":", 1)[1] if name.startswith(event + ":") else name  # "PreToolUse:Bash"
    named = f" ({name})" if name and name != event else ""
    return f"{event} hook{named} blocked: {reason.strip()}" if reason.strip() else ""
