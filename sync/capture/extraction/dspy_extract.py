"""DSPy extraction: a ChainOfThought over a session's digest, not its raw transcript.

- The transcript's digest (``sync.capture.digest``, within the configured budget: the user's
  requests and corrections, findings, errors and their fixes, summaries) is what the model
  reads; it is cut into windows only when it is larger than one (``windows``).
- Each window runs ``MemoryExtract``; its items are cleaned and merged across windows (also in
  ``windows``). One ``summary`` candidate comes from ``SessionSummary`` over the windows'
  notes (one more call), or from the notes themselves when that output is unparsable.

A window whose output cannot be parsed is salvaged item by item or skipped, with a warning
on stderr; if no window parsed, PermanentError. Other LM failures: see ``lm_failure``.
"""

import functools
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

from sync.capture.digest import DEFAULT_BUDGET, build_digest
from sync.capture.extraction.base import Candidate
from sync.capture.extraction.windows import (
    TITLE_CHARS,
    Window,
    clip,
    digest_windows,
    merge_candidates,
    slug_tags,
    to_candidate,
)
from sync.capture.sources.base import Transcript
from sync.errors import PermanentError
from sync.llm import lm_failure

SUMMARY_CONFIDENCE = 0.7


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

        kind: Literal["decision", "learning", "convention", "issue", "insight"] = pydantic.Field(
            description="decision: a choice made and why; learning: a fact found about the "
            "code, tools or environment (a gotcha, a fix, a command that works); convention: a "
            "rule the project follows (always/never, how things are done here); issue: a "
            "problem still open when the session ended; insight: a general lesson worth "
            "applying elsewhere"
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
        its code, tools and environment (errors and their fixes, commands that work), the
        project's conventions (rules the user or the project sets), issues left open, and
        general insights. Title each memory as a short sentence that states the fact. Skip
        small talk, routine steps, transient state, and anything that is a secret. Each memory
        must stand alone without the transcript. Cite the L<n> line numbers it comes from.
        Return [] when nothing is worth keeping; at most 8 memories.
        """

        transcript_window: str = dspy.InputField(
            desc="a digest of the session (or part of one); each entry starts with L<n>, the "
            "transcript line it comes from"
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
        budget: int = DEFAULT_BUDGET,
        window_tokens: int = 8000,
        overlap_tokens: int = 400,
        max_candidates: int = 24,
        adapter: Any = None,
    ) -> None:
        if window_tokens <= 0 or not 0 <= overlap_tokens < window_tokens or max_candidates < 1:
            raise ValueError("need window_tokens > overlap_tokens >= 0 and max_candidates >= 1")
        self.budget = budget
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
        if not any(m.text.strip() or m.tool_calls for m in transcript.messages):
            return []
        digest = build_digest(transcript, self.budget)
        windows = digest_windows(digest.text, self.window_tokens, self.overlap_tokens)
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
            title=clip(" ".join((title or fallback_title).split()), TITLE_CHARS),
            body=body or " ".join(notes) or fallback_title,
            confidence=SUMMARY_CONFIDENCE,
            tags=slug_tags([t for c in merged for t in c.tags])[:5],
            line_start=windows[0].first_line,
            line_end=windows[-1].last_line,
        )
