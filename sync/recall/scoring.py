"""How ask scores and cuts its results: the relevance floor and the weight of each kind (light:
settings read these defaults without loading retrieval)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MIN_SCORE = 0.35
DEFAULT_KIND_WEIGHTS: Mapping[str, float] = {"summary": 0.85}
# a long memory's best-matching line counts as its cosine less this margin (a single line
# matches a question more easily than a whole memory does): chosen on the capture labelled
# set together with the unrelated questions (docs/benchmarks.md)
DEFAULT_PASSAGE_MARGIN = 0.05


@dataclass(frozen=True)
class Scoring:
    """How results are scored and cut: the relevance floor and the weight of each kind."""

    min_score: float = DEFAULT_MIN_SCORE
    kind_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_KIND_WEIGHTS))
    passage_margin: float = DEFAULT_PASSAGE_MARGIN

    def weight(self, kind: Any) -> float:
        return float(self.kind_weights.get(str(kind), 1.0))
