"""A file the agent meant to write but was not allowed to (pure).

In a session run without write permission (``claude -p`` with no allowed tools, a denied
prompt), the Write is refused ("Claude requested permissions to write to CLAUDE.md, but you
haven't granted it yet") and the agent may still report the file as created. That refusal is
no error of the project, so the failure rules pass over it; but a developer coming back must
know the file was never written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sync.capture.extraction.found import Found, found
from sync.capture.extraction.offline_text import base_name, clip, sentences
from sync.capture.extraction.timeline import Timeline

_NOT_PERMITTED = re.compile(
    r"(?i)requested permissions? to|haven'?t granted|permission to (?:use|write) .* (?:was )?denied"
    r"|not (?:allowed|permitted) to (?:write|edit|create)"
)
_CLAIMED = re.compile(r"(?i)\b(?:created|wrote|written|updated|added|saved|generated)\b")


def refused_found(tl: Timeline, tags: tuple[str, ...]) -> Iterator[Found]:
    """An issue for each file whose write was refused for want of permission and that no
    later change wrote; the agent's claim of having written it, when it made one, is quoted."""
    acts = [a for _, a in tl.acts() if a.facts.kind == "edit"]
    seen: set[str] = set()
    for act in acts:
        error = "; ".join(act.facts.errors)
        if act.applied or not act.facts.files or not _NOT_PERMITTED.search(error):
            continue
        path = tl.relative(act.facts.files[0])
        later = [
            a
            for a in acts
            if a.pos > act.pos and a.applied and path in map(tl.relative, a.facts.files)
        ]
        if later or path in seen:
            continue
        seen.add(path)
        name = base_name(path)
        claim = next(
            (
                s
                for t in tl.main()
                for said in t.says()
                if said.pos > act.pos
                for s in sentences(said.text)
                if name in s and _CLAIMED.search(s)
            ),
            "",
        )
        lines = [
            (
                "Open",
                f"{path} was not written: the {act.facts.name} was refused ({clip(error, 160)})",
            ),
            ("Agent said", clip(claim, 200) if claim else ""),
        ]
        yield from filter(None, [found(
            "issue", f"{name} was never written: write permission was not granted", lines,
            score=6.0, pos=act.pos, span=(act.line, act.line), tags=tags, confidence=0.7,
        )])  # fmt: skip
