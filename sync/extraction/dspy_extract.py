"""DSPy extraction: a ChainOfThought over overlapping windows of a transcript, merged.

- Messages are rendered ``[L<n>] role: text`` (tool calls as ``  tool <name>: …`` under
  them); ``n`` is the first source line when every message has one, else the position.
- Tokens are approximated as ``ceil(chars / 4)`` (no tokenizer; the budget only needs to be
  roughly right). Windows are filled greedily to ``window_tokens``; the next one repeats the
  trailing messages worth at most ``overlap_tokens`` (at least the last message), so a point
  made across a boundary is seen whole. A message longer than a window is cut.
- Each window runs ``MemoryExtract``; items are cleaned (kind checked, confidence clamped,
  tags slugged, lines clamped to the window) and merged: same kind and same normalized title
  or body is one memory (best confidence keeps its text, tags united, span widened), capped
  by confidence. One ``summary`` candidate comes from ``SessionSummary`` over the windows'
  notes (one more call), or from the notes themselves when that output is unparsable.

A window whose output cannot be parsed is salvaged item by item or skipped, with a warning
on stderr; if no window parsed, PermanentError. Other LM failures: see ``lm_failure``.
"""

import functools
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sync.errors import PermanentError
from sync.extraction.base import Candidate
from sync.extraction.lm import lm_failure
from sync.sources.base import Message, Transcript

CHARS_PER_TOKEN = 4
EXTRACTED_KINDS = ("decision", "learning", "insight")
MAX_TAGS = 8
TITLE_CHARS = 120
EVIDENCE_CHARS = 300
TOOL_CHARS = 200
SUMMARY_CONFIDENCE = 0.7


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


def _clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[: max(limit - 14, 0)].rstrip() + " …[truncated]"


def render_message(message: Message, number: int, limit: int) -> str:
    """One message as the model sees it: ``[L<n>] role: text`` and its tool calls."""
    text = re.sub(r"\n{3,}", "\n\n", message.text.strip())
    parts = [f"[L{number}] {message.role}: {text}"]
    for call in message.tool_calls:
        line = f"  tool {call.name}: {_clip(' '.join(call.input.split()), TOOL_CHARS)}"
        if call.is_error and call.output:
            line += f" -> error: {_clip(' '.join(call.output.split()), TOOL_CHARS)}"
        parts.append(line)
    return _clip("\n".join(parts), limit)


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


def _slug_tags(tags: Sequence[object]) -> tuple[str, ...]:
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
    title = _clip(" ".join(str(data.get("title") or "").split()), TITLE_CHARS)
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
        tags=_slug_tags(data.get("tags") or ()),
        evidence=_clip(" ".join(str(data.get("evidence") or "").split()), EVIDENCE_CHARS),
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
        tags=_slug_tags([*kept.tags, *new.tags]),
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


def salvage_items(lm_response: object) -> list[Any]:
    """The raw ``candidates`` list from an output DSPy could not parse as a whole."""
    text = str(lm_response or "")
    marks = list(re.finditer(r"\[\[ ## candidates ## \]\]|\"candidates\"\s*:", text))
    if not marks:
        return []
    start = text.find("[", marks[-1].end())
    if start < 0:
        return []
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError:
        return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def warn(message: str) -> None:
    """A note for people on stderr; never fatal."""
    print(f"memsync: {message}", file=sys.stderr)


@functools.cache
def signatures() -> tuple[Any, Any, Any]:
    """(ExtractedMemory, MemoryExtract, SessionSummary), built on first use (imports dspy)."""
    from typing import Literal

    import dspy
    import pydantic

    class ExtractedMemory(pydantic.BaseModel):
        """One durable memory found in the window."""

        kind: Literal["decision", "learning", "insight"] = pydantic.Field(
            description="decision: a choice made and why; learning: a fact found about the "
            "code, tools or environment (a gotcha, a fix, a command that works); insight: a "
            "general lesson worth applying elsewhere"
        )
        title: str = pydantic.Field(description="short and specific, at most 80 characters")
        body: str = pydantic.Field(description="1-4 self-contained sentences: what, and why")
        confidence: float = pydantic.Field(
            default=0.6, description="0..1: how sure it is correct and worth keeping"
        )
        tags: list[str] = pydantic.Field(default_factory=list, description="1-5 short topics")
        evidence: str = pydantic.Field(default="", description="a short quote supporting it")
        line_start: int | None = pydantic.Field(default=None, description="first [L<n>] cited")
        line_end: int | None = pydantic.Field(default=None, description="last [L<n>] cited")

        @pydantic.field_validator("kind", mode="before")
        @classmethod
        def _kind(cls, value: object) -> object:
            """Accept "Decision" or "learnings" for the canonical kind."""
            return value.strip().lower().rstrip("s") if isinstance(value, str) else value

        @pydantic.field_validator("tags", mode="before")
        @classmethod
        def _tags(cls, value: object) -> object:
            """Accept "a, b" for ["a", "b"]."""
            return [t for t in value.split(",") if t.strip()] if isinstance(value, str) else value

    class MemoryExtract(dspy.Signature):
        """Find what a coding agent's future sessions should remember from this transcript part.

        Keep only durable knowledge: decisions with their reasons, learnings about this project,
        its code, tools and environment (errors and their fixes, commands that work,
        conventions), and general insights. Skip small talk, routine steps, transient state,
        and anything that is a secret. Each memory must stand alone without the transcript.
        Cite the [L<n>] line numbers it comes from. Return [] when nothing is worth keeping;
        at most 6 memories.
        """

        transcript_window: str = dspy.InputField(
            desc="part of a session; each message starts with [L<n>], its line number"
        )
        agent: str = dspy.InputField(desc="the coding agent that ran the session")
        project: str = dspy.InputField(desc="the project the session worked on")
        candidates: list[ExtractedMemory] = dspy.OutputField(desc="the memories, best first")
        notes: str = dspy.OutputField(desc="one or two sentences on what happened in this part")

    class SessionSummary(dspy.Signature):
        """Summarize a coding-agent session for its long-term memory from notes on its parts.

        Say what the goal was, what was done, the outcome, and anything left open. Be factual;
        no secrets.
        """

        agent: str = dspy.InputField(desc="the coding agent that ran the session")
        project: str = dspy.InputField(desc="the project the session worked on")
        notes: str = dspy.InputField(desc="numbered notes on consecutive parts of the session")
        title: str = dspy.OutputField(desc="what the session was about, at most 80 characters")
        summary: str = dspy.OutputField(desc="2-5 sentences")

    return ExtractedMemory, MemoryExtract, SessionSummary


class DspyExtractor:
    """Extractor over a DSPy LM: ChainOfThought per window, merged, plus one summary."""

    name = "dspy"

    def __init__(
        self,
        lm: Any,
        *,
        window_tokens: int = 1500,
        overlap_tokens: int = 200,
        max_candidates: int = 24,
        adapter: Any = None,
    ) -> None:
        if window_tokens <= 0 or not 0 <= overlap_tokens < window_tokens or max_candidates < 1:
            raise ValueError("need window_tokens > overlap_tokens >= 0 and max_candidates >= 1")
        import dspy

        _, memory_extract, session_summary = signatures()
        self.lm = lm
        self.adapter = adapter  # None: DSPy's default (ChatAdapter, JSONAdapter on failure)
        self.window_tokens = window_tokens
        self.overlap_tokens = overlap_tokens
        self.max_candidates = max_candidates
        self._extract = dspy.ChainOfThought(memory_extract)
        self._summarize = dspy.ChainOfThought(session_summary)

    def extract(self, transcript: Transcript) -> list[Candidate]:
        """Merged candidates of every window, then the session summary."""
        windows = make_windows(transcript, self.window_tokens, self.overlap_tokens)
        if not windows:
            return []
        results = [r for r in (self._run_window(transcript, w) for w in windows) if r]
        if not results:
            raise PermanentError(
                f"{transcript.path}: the model's output could not be parsed for any of "
                f"{len(windows)} window(s)"
            )
        merged = merge_candidates([c for cands, _ in results for c in cands], self.max_candidates)
        notes = [note for _, note in results if note]
        return [*merged, self._summary(transcript, windows, notes, merged)]

    def _call(self, program: Any, what: str, **inputs: str) -> Any:
        """Run one DSPy program under this LM; LM errors become memsync errors.

        AdapterParseError (unparsable output) passes through for the caller to salvage.
        """
        import dspy
        from dspy.utils.exceptions import AdapterParseError, DSPyError

        overrides: dict[str, Any] = {"lm": self.lm}
        if self.adapter is not None:
            overrides["adapter"] = self.adapter
        try:
            with dspy.context(**overrides):
                return program(**inputs)
        except AdapterParseError:
            raise
        except DSPyError as exc:
            raise lm_failure(exc, what) from None

    def _run_window(
        self, transcript: Transcript, window: Window
    ) -> tuple[list[Candidate], str] | None:
        """(candidates, notes) of one window; None when its output is beyond salvage."""
        from dspy.utils.exceptions import AdapterParseError

        where = f"{transcript.path} lines {window.first_line}-{window.last_line}"
        try:
            pred = self._call(
                self._extract,
                f"extracting from {where}",
                transcript_window=window.text,
                agent=transcript.agent,
                project=transcript.project or "unknown",
            )
            items, notes = list(pred.candidates or []), " ".join(str(pred.notes or "").split())
        except AdapterParseError as exc:
            items, notes = self._salvage(exc), ""
            warn(f"{where}: unparsable model output; kept {len(items)} valid candidate(s)")
            if not items:
                return None
        cands = [c for c in (to_candidate(i, window) for i in items) if c is not None]
        if len(cands) < len(items):
            warn(f"{where}: dropped {len(items) - len(cands)} invalid candidate(s)")
        return cands, notes or "; ".join(c.title for c in cands)

    @staticmethod
    def _salvage(exc: BaseException | None) -> list[Any]:
        """Items of an unparsable output that validate one by one.

        DSPy's JSONAdapter retry raises from inside the ChatAdapter failure, so the chain of
        parse errors is walked: the first response with any list of candidates is used.
        """
        import pydantic

        model = signatures()[0]
        while exc is not None:
            raws = salvage_items(getattr(exc, "lm_response", ""))
            if raws:
                kept = []
                for raw in raws:
                    try:
                        kept.append(model.model_validate(raw))
                    except pydantic.ValidationError:
                        continue
                return kept
            exc = exc.__context__
        return []

    def _summary(
        self,
        transcript: Transcript,
        windows: Sequence[Window],
        notes: Sequence[str],
        merged: Sequence[Candidate],
    ) -> Candidate:
        """The session summary: SessionSummary over the notes, or the notes themselves."""
        from dspy.utils.exceptions import AdapterParseError

        fallback_title = transcript.title or f"{transcript.agent} session {transcript.session_id}"
        title, body = "", ""
        try:
            if notes:  # nothing to summarize: no call
                pred = self._call(
                    self._summarize,
                    f"summarizing {transcript.path}",
                    agent=transcript.agent,
                    project=transcript.project or "unknown",
                    notes="\n".join(f"{i}. {n}" for i, n in enumerate(notes, 1)),
                )
                title, body = str(pred.title or "").strip(), str(pred.summary or "").strip()
        except AdapterParseError:
            warn(f"{transcript.path}: unparsable session summary; using the window notes")
        return Candidate(
            kind="summary",
            title=_clip(" ".join((title or fallback_title).split()), TITLE_CHARS),
            body=body or " ".join(notes) or fallback_title,
            confidence=SUMMARY_CONFIDENCE,
            tags=_slug_tags([t for c in merged for t in c.tags])[:5],
            line_start=windows[0].first_line,
            line_end=windows[-1].last_line,
        )
