"""An LM ruling on the duplicate judge's uncertain pairs (when an LM is configured).

`sync.dedup.judge` asks a :class:`DspyReferee` only about pairs whose score sits near the merge
threshold. The model answers one word (same / update / distinct); anything else, or a failed
call, is an abstention: the judge's own verdict stands and the run goes on.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from sync.dedup import VERDICTS
from sync.errors import MemsyncError
from sync.llm import lm_failure
from sync.models import Memory

TEXT_CHARS = 1500  # of each memory shown to the model


@functools.cache
def referee_signature() -> Any:
    """The SameMemory signature, built on first use (imports dspy)."""
    from typing import Literal

    import dspy

    class SameMemory(dspy.Signature):
        """Compare two memories of a coding project: does the candidate state the same fact
        as the existing memory ("same"), say something new about the same subject
        ("update"), or is it a different fact ("distinct")?

        Judge what they say, not how they are written: two learnings in the same
        "Error: / Failed: / Fixed by:" template about different errors, files or
        identifiers are distinct; a paraphrase of the same decision or fix is the same.
        """

        existing: str = dspy.InputField(desc="the memory already stored: title, then body")
        candidate: str = dspy.InputField(desc="the new memory: title, then body")
        verdict: Literal["same", "update", "distinct"] = dspy.OutputField()

    return SameMemory


class DspyReferee:
    """A `sync.dedup.Referee`; ``lm`` gives the DSPy LM (called once, on first use)."""

    def __init__(self, lm: Callable[[], Any], *, adapter: Any = None) -> None:
        self._lm = functools.cache(lm)
        self.adapter = adapter

    def __call__(self, candidate: Memory, existing: Memory) -> str | None:
        try:
            verdict = self._ask(candidate, existing)
        except MemsyncError as exc:
            print(
                f"memsync: LM duplicate ruling failed ({exc}); judged without it", file=sys.stderr
            )
            return None
        return verdict if verdict in VERDICTS else None

    def _ask(self, candidate: Memory, existing: Memory) -> str:
        import dspy
        from dspy.utils.exceptions import DSPyError

        overrides: dict[str, Any] = {"lm": self._lm()}
        if self.adapter is not None:
            overrides["adapter"] = self.adapter
        try:
            with dspy.context(**overrides):
                pred = dspy.Predict(referee_signature())(
                    existing=_shown(existing), candidate=_shown(candidate)
                )
        except DSPyError as exc:
            raise lm_failure(exc, "judging a possible duplicate") from None
        return str(getattr(pred, "verdict", "") or "").strip().lower()


def _shown(memory: Memory) -> str:
    return f"[{memory.kind}] {memory.title}\n{memory.body}"[:TEXT_CHARS]
