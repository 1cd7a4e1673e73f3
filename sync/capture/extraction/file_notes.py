"""What a new file says it is for (pure): the comment or docstring that opens it.

A file written whole in the session (Claude's Write, a Codex ``*** Add File``, an editor's
create) or a new file in a diff the user pasted for review often opens with a note on what it
does and why ("stream-filter a raw ITCH file to one symbol, keeping only …"): the cheapest
statement of the design there is. The recap's "Done" tells it next to the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sync.capture.calls import arguments, command_of
from sync.capture.extraction.offline_text import clip
from sync.capture.extraction.timeline import Timeline
from sync.capture.sources.base import ToolCall

HEAD_CHARS = 320  # of a file's opening note at most
MIN_WORDS = 6  # an opening note with fewer words says nothing
_CREATE_KEYS = ("content", "file_text", "contents", "text")
_ADD_FILE = re.compile(r"^\*\*\* Add File: (.+)\n((?:\+.*\n?)+)", re.M)
_QUOTED_NEW = re.compile(
    r"^(?:=== DIFF: (?P<a>\S+) ===|\+\+\+ b/(?P<b>\S+))\n(?:.*\n){0,2}?@@ -0,0 \+1(?:,\d+)? @@.*\n"
    r"(?P<body>(?:\+.*\n?)+)",
    re.M,
)
_SKIP = re.compile(r"^(?:#!|#\s*-\*-|['\"]use \w+['\"];?$|<\?\w+|\s*$)")
_COMMENT = re.compile(r"^\s*(?://+!?|#+|/\*+|\*+/?|--|;+|<!--)\s?(.*?)(?:\*/|-->)?\s*$")
_DOCSTRING = re.compile(r'^[rRbBuU]?("""|\'\'\')(.*?)\1', re.S)
_LEGAL = re.compile(r"(?i)copyright|spdx-license|licensed under|all rights reserved|@license")
_RULER = re.compile(r"^[\W_]*$")


def head_note(text: str, limit: int = HEAD_CHARS) -> str:
    """The note that opens ``text`` (a docstring or a block of comment lines), on one line,
    licence lines and rulers left out; "" when it opens with code or says too little."""
    lines = text.splitlines()
    while lines and _SKIP.match(lines[0]):
        lines = lines[1:]
    rest = "\n".join(lines).lstrip()
    doc = _DOCSTRING.match(rest)
    if doc:
        said = [line.strip() for line in doc.group(2).splitlines()]
    else:
        said = []
        for line in lines:
            match = _COMMENT.match(line)
            if not match or line.lstrip().startswith(("#include", "#define", "#pragma", "#[")):
                break
            said.append(match.group(1).strip())
    kept = [s for s in said if not _LEGAL.search(s) and not _RULER.match(s)]
    note = clip(" ".join(kept), limit)
    return note if len(re.findall(r"[^\W\d_]{2,}", note)) >= MIN_WORDS else ""


def written_notes(tl: Timeline) -> dict[str, str]:
    """Each file the session created whole, with its opening note (when it has one)."""
    notes: dict[str, str] = {}
    for _, act in tl.acts():
        call = act.call
        if not act.applied or call is None or act.facts.kind != "edit":
            continue
        for path, text in _created(call, act.facts.files):
            note = head_note(text)
            if note:
                notes.setdefault(tl.relative(path), note)
    return notes


def quoted_notes(texts: Iterable[str]) -> dict[str, str]:
    """Each new file of a unified diff quoted in ``texts`` (a change sent for review), with
    its opening note."""
    notes: dict[str, str] = {}
    for text in texts:
        if "@@ -0,0 +1" not in text:
            continue
        for match in _QUOTED_NEW.finditer(text):
            body = "\n".join(line[1:] for line in match.group("body").splitlines())
            note = head_note(body)
            if note:
                notes.setdefault(match.group("a") or match.group("b"), note)
    return notes


def _created(call: ToolCall, files: tuple[str, ...]) -> list[tuple[str, str]]:
    """(path, whole text) of each file a call created: a patch's added files (a Codex patch
    may sit inside a shell call's command), or a write whose arguments hold the whole text."""
    if "*** Add File:" in call.input:
        patch = call.input if _ADD_FILE.search(call.input) else command_of(call)
        return [
            (m.group(1).strip(), "\n".join(line[1:] for line in m.group(2).splitlines()))
            for m in _ADD_FILE.finditer(patch)
        ]
    args = arguments(call)
    text = next((args[k] for k in _CREATE_KEYS if isinstance(args.get(k), str)), "")
    return [(files[0], text)] if text and files else []
