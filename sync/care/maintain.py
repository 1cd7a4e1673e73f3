"""`memsync maintain`, the decisions: merge duplicates, archive what decayed.

Pure: given the memories, their stored vectors, access times, the duplicate judge's rulings
and a policy, it returns the plan. Pairs of one kind near enough by their stored vectors go
to the judge (`sync.dedup.judge`, the one `memsync add` and capture use); a merge group is a
kept memory and members the judge ruled duplicates *of it* — never a chain of pairs. Nothing
is deleted: merged-from and decayed memories are moved to memory/archived/. Session summaries
and daily logs are never merged (each belongs to its own session or day), and daily logs
never decay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from sync.dedup import DEFAULT_UPDATE_THRESHOLD, DedupThresholds, Judgement, Referee, judge
from sync.hashing import text_fingerprint
from sync.models import Memory
from sync.retry import parse_moment

NEVER_MERGED = frozenset({"summary", "daily"})
NEVER_DECAYED = frozenset({"daily"})
BLOCK = 1024  # rows per similarity block: 1024 x 10,000 floats = 40 MB


@dataclass(frozen=True)
class MaintainPolicy:
    duplicate_threshold: float = DEFAULT_UPDATE_THRESHOLD  # judge score: merged (same kind)
    candidate_floor: float = 0.6  # stored cosine below which a pair is not worth judging
    decay_period_days: float = 180.0
    confidence_floor: float = 0.1
    archive_threshold: float = 0.2
    grace_period_days: float = 30.0


@dataclass(frozen=True)
class Candidate:
    """One live memory as maintain sees it."""

    path: str
    memory: Memory
    vector: Sequence[float] | None  # the stored vector (None: not indexed yet)
    last_access: dt.datetime | None


@dataclass(frozen=True)
class Merge:
    keep: str  # path of the memory that stays
    merged: tuple[str, ...]  # paths merged into it (moved to archived/)
    scores: tuple[float, ...]  # the judge's score of each with the kept one


@dataclass(frozen=True)
class Archive:
    path: str
    effective: float
    reason: str


@dataclass
class MaintainPlan:
    merges: list[Merge] = field(default_factory=list)
    archives: list[Archive] = field(default_factory=list)


def effective_confidence(
    confidence: float, last_touch: dt.datetime, now: dt.datetime, policy: MaintainPolicy
) -> float:
    """Confidence decayed linearly over the decay period since the last access, floored."""
    days = (now - last_touch).total_seconds() / 86400.0
    return decayed(confidence, days, policy.decay_period_days, policy.confidence_floor)


def decayed(confidence: float, days: float, period_days: float, floor: float) -> float:
    """``max(confidence * (1 - min(days / period, 1)), floor)``; shared with the audit."""
    decay = min(max(days, 0.0) / period_days, 1.0)
    return max(confidence * (1.0 - decay), floor)


def plan_maintenance(
    candidates: Sequence[Candidate],
    policy: MaintainPolicy,
    now: dt.datetime,
    duplicates: Mapping[tuple[int, int], float] | None = None,
) -> MaintainPlan:
    """Merge groups first (the kept memory absorbs the others), then decay what is left.
    ``duplicates``: (i, j) with i < j -> judge score, for the pairs the judge would merge
    (see :func:`judge_pairs`); none given: nothing merges."""
    plan = MaintainPlan()
    merged_away: set[str] = set()
    for keep, others in star_groups(candidates, duplicates or {}):
        plan.merges.append(
            Merge(
                candidates[keep].path,
                tuple(candidates[i].path for i in others),
                tuple(round(_score(duplicates or {}, keep, i), 4) for i in others),
            )
        )
        merged_away.update(candidates[i].path for i in others)
    kept = {m.keep for m in plan.merges}
    for c in candidates:
        if c.path in merged_away or c.path in kept or c.memory.kind in NEVER_DECAYED:
            continue
        archive = _decayed(c, policy, now)
        if archive is not None:
            plan.archives.append(archive)
    return plan


def star_groups(
    candidates: Sequence[Candidate], duplicates: Mapping[tuple[int, int], float]
) -> list[tuple[int, list[int]]]:
    """(kept, members): the best-ranked memory not yet grouped keeps every ungrouped memory
    the judge ruled its duplicate; so each member duplicates the kept one itself (A~B and B~C
    never pull C in with A)."""
    near: dict[int, list[int]] = {}
    for i, j in duplicates:
        near.setdefault(i, []).append(j)
        near.setdefault(j, []).append(i)
    grouped: set[int] = set()
    groups = []
    for keep in sorted(near, key=lambda i: _rank(candidates[i]), reverse=True):
        if keep in grouped:
            continue
        members = sorted(j for j in near[keep] if j not in grouped)
        if members:
            grouped.update([keep, *members])
            groups.append((keep, members))
    return groups


def _score(duplicates: Mapping[tuple[int, int], float], a: int, b: int) -> float:
    return duplicates.get((min(a, b), max(a, b)), 0.0)


def candidate_pairs(
    candidates: Sequence[Candidate], policy: MaintainPolicy
) -> list[tuple[int, int]]:
    """Same-kind pairs worth judging (i < j): exact text matches, and stored cosine at or
    above the policy's floor. Summaries and daily logs are left out."""
    by_kind: dict[str, list[int]] = {}
    for i, c in enumerate(candidates):
        if c.memory.kind not in NEVER_MERGED:
            by_kind.setdefault(c.memory.kind, []).append(i)
    pairs: set[tuple[int, int]] = set()
    for members in by_kind.values():
        seen: dict[str, int] = {}
        for i in members:
            m = candidates[i].memory
            fp = text_fingerprint(m.title, m.body)
            if fp in seen:
                pairs.add((seen[fp], i))
            else:
                seen[fp] = i
        pairs.update(_similar_pairs(candidates, members, policy.candidate_floor))
    return sorted(pairs)


def judge_pairs(
    candidates: Sequence[Candidate],
    pairs: Sequence[tuple[int, int]],
    similarity: Callable[[Memory, Memory], float],
    thresholds: DedupThresholds,
    referee: Referee | None = None,
) -> dict[tuple[int, int], Judgement]:
    """The judge's ruling on each pair (the later memory judged against the earlier one);
    ``similarity`` gives the cosine of two memories' judge texts."""
    out = {}
    for i, j in pairs:
        a, b = candidates[i].memory, candidates[j].memory
        out[(i, j)] = judge(b, a, similarity(b, a), thresholds, referee)
    return out


def _rank(c: Candidate) -> tuple[float, str, str]:
    """Highest confidence wins; then the most recently updated; then the path, for ties."""
    return (c.memory.confidence, c.memory.updated or c.memory.created, c.path)


def _decayed(c: Candidate, policy: MaintainPolicy, now: dt.datetime) -> Archive | None:
    # new to the store since memsync wrote it (a captured memory is dated by its session)
    known = [parse_moment(c.memory.created), parse_moment(str(c.memory.extra.get("captured", "")))]
    created = max((m for m in known if m is not None), default=now)
    touched = max(filter(None, (c.last_access, parse_moment(c.memory.updated), created)))
    grace = dt.timedelta(days=policy.grace_period_days)
    if now - created < grace or (c.last_access is not None and now - c.last_access < grace):
        return None
    effective = effective_confidence(c.memory.confidence, touched, now, policy)
    if effective >= policy.archive_threshold:
        return None
    days = int((now - touched).total_seconds() // 86400)
    reason = (
        f"effective confidence {effective:.2f} < {policy.archive_threshold} "
        f"(confidence {c.memory.confidence:.2f}, untouched for {days} days)"
    )
    return Archive(c.path, round(effective, 4), reason)


def _similar_pairs(
    candidates: Sequence[Candidate], members: list[int], threshold: float
) -> list[tuple[int, int]]:
    with_vectors = [i for i in members if candidates[i].vector]
    found = similar_pairs([candidates[i].vector or () for i in with_vectors], threshold)
    return [(with_vectors[a], with_vectors[b]) for a, b, _ in found]


def similar_pairs(
    vectors: Sequence[Sequence[float]], threshold: float
) -> list[tuple[int, int, float]]:
    """Index pairs (a < b) with cosine >= threshold, by blocked matrix products (memory stays
    bounded: BLOCK rows at a time); shared with the audit."""
    if len(vectors) < 2:
        return []
    matrix = np.asarray(vectors, dtype=np.float32)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, len(vectors), BLOCK):
        sims = matrix[start : start + BLOCK] @ matrix.T
        rows, cols = np.nonzero(sims >= threshold)
        for r, col in zip(rows.tolist(), cols.tolist(), strict=True):
            if start + r < col:
                pairs.append((start + r, col, min(float(sims[r, col]), 1.0)))
    return pairs
