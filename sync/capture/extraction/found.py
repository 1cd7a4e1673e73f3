"""What an offline rule found: a candidate with its worth, for the session's budget (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sync.capture.extraction.base import Candidate
from sync.capture.extraction.offline_text import clean_title, clip, names, tags_for

LINE_CHARS = 240  # one labelled line of a body


@dataclass(frozen=True)
class Found:
    """A candidate, how much it is worth keeping, and where in the session it was found."""

    candidate: Candidate
    score: float
    pos: float  # order in the session (a message's position; its parts in between)
    subject: frozenset[str] = frozenset()  # the names it is about (to drop repeats)


def body(lines: Sequence[tuple[str, str]], limit: int = LINE_CHARS) -> str:
    """``Label: text`` lines (empty texts left out), each on one line and clipped."""
    return "\n".join(f"{label}: {clip(text, limit)}" for label, text in lines if text.strip())


def found(
    kind: str,
    title: str,
    lines: Sequence[tuple[str, str]],
    *,
    score: float,
    pos: float,
    span: tuple[int | None, int | None],
    tags: tuple[str, ...],
    confidence: float = 0.7,
    limit: int = LINE_CHARS,
) -> Found | None:
    """A ``Found`` with a cleaned title and a labelled body; None when the title is too thin."""
    heading = clean_title(title)
    if len(heading) < 12 or len(heading.split()) < 3:
        return None
    text = body(lines, limit)
    start, end = span
    candidate = Candidate(
        kind=kind,
        title=heading,
        body=text,
        confidence=confidence,
        tags=tags_for(tags, f"{heading} {text}"),
        line_start=start,
        line_end=end if end is not None else start,
    )
    return Found(candidate, score + min(len(names(text)), 5) * 0.2, pos, frozenset(names(text)))
