"""Pure windowing and merging for LM extraction (no DSPy here: cheap to import and to test).

- Messages are rendered ``[L<n>] role: text`` (tool calls as ``  tool <name>: …`` under
  them); ``n`` is the first source line when every message has one, else the position.
- Tokens are approximated as ``ceil(chars / 4)`` (no tokenizer; the budget only needs to be
  roughly right). Windows are filled greedily to ``window_tokens``; the next one repeats the
  trailing messages worth at most ``overlap_tokens`` (at least the last message), so a point
  made across a boundary is seen whole. A message longer than a window is cut.
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
from sync.capture.sources.base import Message, Transcript

CHARS_PER_TOKEN = 4
EXTRACTED_KINDS = ("decision", "learning", "insight")
MAX_TAGS = 8
TITLE_CHARS = 120
EVIDENCE_CHARS = 300
TOOL_CHARS = 200


def approx_tokens(text: str) -> int:
    """Approximate token count: one token per four characters, at least one."""
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


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


def render_message(message: Message, number: int, limit: int) -> str:
    """One message as the model sees it: ``[L<n>] role: text`` and its tool calls."""
    text = re.sub(r"\n{3,}", "\n\n", message.text.strip())
    parts = [f"[L{number}] {message.role}: {text}"]
    for call in message.tool_calls:
        line = f"  tool {call.name}: {clip(' '.join(call.input.split()), TOOL_CHARS)}"
        if call.is_error and call.output:
            line += f" -> error: {clip(' '.join(call.output.split()), TOOL_CHARS)}"
        parts.append(line)
    return clip("\n".join(parts), limit)


def message_numbers(messages: Sequence[Message]) -> list[tuple[int, int]]:
    """(first, last) line of each message: source lines if all have them, else positions."""
    if messages and all(m.line is not None for m in messages):
        return [(m.line or 0, max(m.end_line or m.line or 0, m.line or 0)) for m in messages]
    return [(i, i) for i in range(1, len(messages) + 1)]


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


def make_windows(transcript: Transcript, window_tokens: int, overlap_tokens: int) -> list[Window]:
    """The transcript cut into overlapping windows of rendered, line-numbered messages."""
    messages = [m for m in transcript.messages if m.text.strip() or m.tool_calls]
    spans = message_numbers(messages)
    limit = max(window_tokens - overlap_tokens, 1) * CHARS_PER_TOKEN
    rendered = [render_message(m, s[0], limit) for m, s in zip(messages, spans, strict=True)]
    plan = plan_windows([approx_tokens(r) for r in rendered], window_tokens, overlap_tokens)
    return [
        Window(
            index=i,
            first_line=spans[r.start][0],
            last_line=max(spans[j][1] for j in r),
            text="\n".join(rendered[j] for j in r),
        )
        for i, r in enumerate(plan)
    ]


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
