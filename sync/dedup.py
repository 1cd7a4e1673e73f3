"""Semantic dedup: decide add / update / no-op for a candidate memory. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sync.hashing import normalized_text
from sync.models import Memory

# Chosen from measurement on STS-B and MRPC pairs (scripts/eval_dedup.py, docs/benchmarks.md).
DEFAULT_NOOP_THRESHOLD = 0.98
DEFAULT_UPDATE_THRESHOLD = 0.70


@dataclass(frozen=True)
class DedupThresholds:
    noop: float = DEFAULT_NOOP_THRESHOLD
    update: float = DEFAULT_UPDATE_THRESHOLD

    def __post_init__(self) -> None:
        if not 0.0 < self.update <= self.noop <= 1.0:
            raise ValueError(
                f"dedup thresholds need 0 < update ({self.update}) <= noop ({self.noop}) <= 1"
            )


@dataclass(frozen=True)
class Neighbour:
    """An existing memory near the candidate."""

    memory_id: str
    path: str
    title: str
    kind: str
    score: float
    fingerprint: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.memory_id,
            "path": self.path,
            "title": self.title,
            "kind": self.kind,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class DedupDecision:
    action: str  # add | update | noop
    reason: str
    score: float = 0.0
    target: Neighbour | None = None


def decide_dedup(
    kind: str, fingerprint: str, neighbours: Sequence[Neighbour], thresholds: DedupThresholds
) -> DedupDecision:
    """No-op for an exact or near-exact duplicate (any kind), update for the same subject
    (same kind), add otherwise. Scores are clamped: identical vectors can exceed 1.0."""
    ranked = sorted(neighbours, key=lambda n: -n.score)
    for n in ranked:
        if fingerprint and n.fingerprint == fingerprint:
            return DedupDecision("noop", f"exact duplicate of memory/{n.path}", 1.0, n)
    if ranked and min(ranked[0].score, 1.0) >= thresholds.noop:
        best = ranked[0]
        return DedupDecision(
            "noop",
            f"near-duplicate of memory/{best.path} (cosine "
            f"{min(best.score, 1.0):.3f} >= {thresholds.noop})",
            best.score,
            best,
        )
    same_kind = [n for n in ranked if n.kind == kind]
    if same_kind and same_kind[0].score >= thresholds.update:
        best = same_kind[0]
        return DedupDecision(
            "update",
            f"same subject as memory/{best.path} (cosine "
            f"{best.score:.3f} >= {thresholds.update}); merging",
            best.score,
            best,
        )
    top = ranked[0].score if ranked else 0.0
    why = f"nearest cosine {top:.3f} < {thresholds.update}" if ranked else "no memories yet"
    return DedupDecision("add", f"new memory ({why})", top, None)


def merge_memories(existing: Memory, candidate: Memory, now: dt.datetime) -> Memory:
    """The existing memory enriched by the candidate; keeps the id, title, kind and creation."""
    body = existing.body
    if normalized_text(candidate.body) not in normalized_text(existing.body):
        stamp = now.date().isoformat()
        body = f"{existing.body.rstrip()}\n\n**Update ({stamp}):** {candidate.body.strip()}"
    sources = list(existing.extra.get("merged_sources", []))
    if candidate.source:
        sources.append(dict(candidate.source))
    extra = {**existing.extra, **({"merged_sources": sources} if sources else {})}
    return replace(
        existing,
        body=body,
        tags=tuple(dict.fromkeys((*existing.tags, *candidate.tags))),
        confidence=max(existing.confidence, candidate.confidence),
        updated=now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        extra=extra,
    )
