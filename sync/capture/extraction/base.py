"""The candidate every extractor returns, and the extractor port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sync.capture.sources.base import Transcript

CANDIDATE_KINDS = ("decision", "learning", "convention", "issue", "insight", "summary")


@dataclass(frozen=True)
class Candidate:
    """A memory proposed by extraction, before dedup decides add / update / no-op.

    ``line_start``/``line_end`` point at the transcript lines (or rows) it came from, for the
    provenance recorded in the memory's frontmatter.
    """

    kind: str  # one of CANDIDATE_KINDS
    title: str
    body: str
    confidence: float = 0.6
    tags: tuple[str, ...] = ()
    evidence: str = ""  # a short quote or pointer supporting it
    line_start: int | None = None
    line_end: int | None = None


class Extractor(Protocol):
    """Offline rules or a DSPy program; both answer the same question."""

    name: str

    def extract(self, transcript: Transcript) -> list[Candidate]:
        """Candidates found in one (already redacted, echo-stripped) transcript."""
        ...
