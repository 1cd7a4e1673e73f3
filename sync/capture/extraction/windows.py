"""Pure windowing and merging for LM extraction (no DSPy here: cheap to import and to test).

- The model reads a session's digest (``digest_windows``: cut at entry boundaries when it is
  larger than a window, each window led by the digest's header); ``L<n>`` marks the transcript
  line an entry comes from.
- Tokens are estimated as the digest estimates them (``digest_units.estimate_tokens``, no
  tokenizer). Windows are filled greedily to ``window_tokens``; the next one repeats the
  trailing entries worth at most ``overlap_tokens`` (at least the last one), so a point made
  across a boundary is seen whole.
- Model items are cleaned (kind checked, confidence clamped, tags slugged, lines clamped to the
  window) and merged: same kind and same normalized title or body is one memory (best
  confidence keeps its text, tags united, span widened), capped by confidence.
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sync.capture.extraction.base import Candidate
from sync.capture.tokens import estimate_tokens

EXTRACTED_KINDS = ("decision", "learning", "convention", "issue", "insight")
MAX_TAGS = 8
TITLE_CHARS = 120
EVIDENCE_CHARS = 300


def approx_tokens(text: str) -> int:
    """Estimated tokens of ``text`` (at least one)."""
    return max(1, estimate_tokens(text))


@dataclass(frozen=True)
class Window:
    """A slice of the rendered transcript sent to the model in one call."""

    index: int
    first_line: int
    last_line: int
    text: str


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[: max(limit - 14, 0)].rstrip() + " …[truncated]"


def plan_windows(costs: Sequence[int], window_tokens: int, overlap_tokens: int) -> list[range]:
    """Index ranges of the windows: greedy fill, then step back by up to ``overlap_tokens``.

    The next window always repeats at least the last message of the previous one (when that
    one holds two or more), so there is an overlap even when messages are long.
    """
    windows: list[range] = []
    start, n = 0, len(costs)
    while start < n:
        end, total = start, 0
        while end < n and (end == start or total + costs[end] <= window_tokens):
            total += costs[end]
            end += 1
        windows.append(range(start, end))
        if end >= n:
            break
        next_start, back = end, 0
        while next_start - 1 > start and (
            next_start == end or back + costs[next_start - 1] <= overlap_tokens
        ):
            next_start -= 1
            back += costs[next_start]
        start = next_start
    return windows


_ENTRY_START = re.compile(r"^(?:L\d+ [A-Z]|## |…)")
_LINE_MARK = re.compile(r"^L(\d+) ", re.M)


def digest_windows(text: str, window_tokens: int, overlap_tokens: int) -> list[Window]:
    """A digest cut into windows at entry boundaries, each led by the digest's header (one
    window when it fits). A window's line span is that of the ``L<n>`` entries it holds."""
    lines = text.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("## ")), len(lines))
    header, blocks = "\n".join(lines[:start]), list[str]()
    for line in lines[start:]:
        if not blocks or _ENTRY_START.match(line):
            blocks.append(line)
        else:
            blocks[-1] += "\n" + line
    if not blocks:
        return [Window(0, 1, 1, header)] if header else []
    room = max(window_tokens - approx_tokens(header), 1)
    plan = plan_windows([approx_tokens(b) for b in blocks], room, min(overlap_tokens, room - 1))
    out = []
    for i, part in enumerate(plan):
        body = "\n".join(blocks[j] for j in part)
        marks = [int(m) for m in _LINE_MARK.findall(body)] or [1]
        out.append(Window(i, min(marks), max(marks), f"{header}\n{body}".strip()))
    return out


def _norm(text: str) -> str:
    """Lowercased words only: the key under which two phrasings count as the same."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def slug_tags(tags: Sequence[object]) -> tuple[str, ...]:
    """Tags as unique lowercase slugs, in order, at most ``MAX_TAGS``."""
    out: list[str] = []
    for tag in tags:
        slug = re.sub(r"[^a-z0-9._+#-]+", "-", str(tag).lower()).strip("-")
        if slug and slug not in out:
            out.append(slug)
    return tuple(out[:MAX_TAGS])


def _clamp_confidence(value: object) -> float:
    """A confidence in 0..1; anything unusable becomes the Candidate default."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return Candidate.confidence
    return Candidate.confidence if math.isnan(number) else min(max(number, 0.0), 1.0)


def _clamp_line(value: object, window: Window) -> int | None:
    """A cited line moved inside the window it came from; None when not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(min(max(value, window.first_line), window.last_line))


def to_candidate(item: Any, window: Window) -> Candidate | None:
    """A model item (ExtractedMemory or dict) as a Candidate, or None when unusable."""
    data = item.model_dump() if hasattr(item, "model_dump") else dict(item)
    kind = str(data.get("kind") or "").strip().lower()
    title = clip(" ".join(str(data.get("title") or "").split()), TITLE_CHARS)
    body = str(data.get("body") or "").strip()
    if kind not in EXTRACTED_KINDS or not title or not body:
        return None
    start = _clamp_line(data.get("line_start"), window)
    end = _clamp_line(data.get("line_end"), window)
    start, end = (start or window.first_line), (end or start or window.last_line)
    return Candidate(
        kind=kind,
        title=title,
        body=body,
        confidence=_clamp_confidence(data.get("confidence")),
        tags=slug_tags(data.get("tags") or ()),
        evidence=clip(" ".join(str(data.get("evidence") or "").split()), EVIDENCE_CHARS),
        line_start=min(start, end),
        line_end=max(start, end),
    )


def _merge_pair(kept: Candidate, new: Candidate) -> Candidate:
    """Two sightings of one memory: best text, max confidence, all tags, widest span."""
    best = new if new.confidence > kept.confidence else kept
    starts = [s for s in (kept.line_start, new.line_start) if s is not None]
    ends = [e for e in (kept.line_end, new.line_end) if e is not None]
    return replace(
        best,
        tags=slug_tags([*kept.tags, *new.tags]),
        line_start=min(starts) if starts else None,
        line_end=max(ends) if ends else None,
    )


def merge_candidates(candidates: Sequence[Candidate], max_candidates: int) -> list[Candidate]:
    """Duplicates (same kind, same normalized title or body) merged; top ``max_candidates``."""
    merged: list[Candidate] = []
    index: dict[tuple[str, str, str], int] = {}
    for cand in candidates:
        keys = [(cand.kind, "t", _norm(cand.title)), (cand.kind, "b", _norm(cand.body))]
        hit = next((index[k] for k in keys if k in index), None)
        if hit is None:
            hit = len(merged)
            merged.append(cand)
        else:
            merged[hit] = _merge_pair(merged[hit], cand)
        for key in keys:
            index.setdefault(key, hit)
    if len(merged) <= max_candidates:
        return merged
    ranked = sorted(range(len(merged)), key=lambda i: (-merged[i].confidence, i))
    keep = set(ranked[:max_candidates])
    return [c for i, c in enumerate(merged) if i in keep]
