"""Merging near-duplicate memories with a DSPy LM (`memsync maintain` when an LM is set).

The model writes only the merged body; ids, title, kind, tags, confidence and provenance
are decided here, so frontmatter is never written by a model. If the model fails, the
deterministic merge is used instead and the run goes on.
"""

import dataclasses
import datetime as dt
import functools
import sys
from collections.abc import Sequence
from typing import Any

from sync.dedup import merge_memories
from sync.errors import MemsyncError
from sync.llm import lm_failure
from sync.models import Memory


@functools.cache
def merge_signature() -> Any:
    """The MergeMemories signature, built on first use (imports dspy)."""
    import dspy

    class MergeMemories(dspy.Signature):
        """Merge near-duplicate memories of a coding project into one memory body.

        Keep every distinct fact, decision, reason, command, path and error string from all
        of them; drop repetition. Do not invent anything. Plain markdown, no frontmatter.
        """

        kept: str = dspy.InputField(desc="the memory that stays (title and body)")
        others: str = dspy.InputField(desc="the near-duplicates merged into it, numbered")
        body: str = dspy.OutputField(desc="the merged body")

    return MergeMemories


class DspyMerger:
    """A `Merger` for `sync.care.maintain_run.run_maintain`."""

    def __init__(self, lm: Any, *, adapter: Any = None) -> None:
        self.lm = lm
        self.adapter = adapter

    def __call__(self, keep: Memory, others: Sequence[Memory], now: dt.datetime) -> Memory:
        fallback = keep
        for other in others:
            fallback = merge_memories(fallback, other, now)
        try:
            body = self._body(keep, others)
        except MemsyncError as exc:
            print(
                f"memsync: LM merge of {keep.id} failed ({exc}); merged without it", file=sys.stderr
            )
            return fallback
        return dataclasses.replace(fallback, body=body) if body else fallback

    def _body(self, keep: Memory, others: Sequence[Memory]) -> str:
        import dspy
        from dspy.utils.exceptions import DSPyError

        overrides: dict[str, Any] = {"lm": self.lm}
        if self.adapter is not None:
            overrides["adapter"] = self.adapter
        listed = "\n\n".join(f"[{n}] {o.title}\n{o.body}" for n, o in enumerate(others, 1))
        try:
            with dspy.context(**overrides):
                pred = dspy.Predict(merge_signature())(
                    kept=f"{keep.title}\n{keep.body}", others=listed
                )
        except DSPyError as exc:
            raise lm_failure(exc, "merging memories") from None
        return str(pred.body or "").strip()


@functools.cache
def day_signature() -> Any:
    """The DailyNarrative signature, built on first use (imports dspy)."""
    import dspy

    class DailyNarrative(dspy.Signature):
        """Write a short narrative of a day of work with coding agents from its log.

        Three to six sentences: what was worked on, what was decided and why, what broke and
        how it was fixed. Only facts present in the log; no secrets; plain markdown.
        """

        day: str = dspy.InputField()
        log: str = dspy.InputField(desc="the generated daily log")
        narrative: str = dspy.OutputField()

    return DailyNarrative


class DspyDaySummarizer:
    """A `sync.capture.daily.Summarizer`: (day, generated markdown) -> narrative."""

    def __init__(self, lm: Any) -> None:
        self.lm = lm

    def __call__(self, day: str, log: str) -> str:
        import dspy
        from dspy.utils.exceptions import DSPyError

        try:
            with dspy.context(lm=self.lm):
                pred = dspy.Predict(day_signature())(day=day, log=log)
        except DSPyError as exc:
            raise lm_failure(exc, f"summarizing {day}") from None
        return str(pred.narrative or "").strip()
