"""`memsync maintain`, the decisions: merge near-duplicates, archive what decayed.

Pure: given the memories, their stored vectors, access times and a policy, it returns the
plan. Nothing is deleted: merged-from and decayed memories are moved to memory/archived/.
Session summaries and daily logs are never merged (each belongs to its own session or day),
and daily logs never decay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sync.hashing import text_fingerprint
from sync.models import Memory
from sync.retry import parse_moment

NEVER_MERGED = frozenset({"summary", "daily"})
NEVER_DECAYED = frozenset({"daily"})
BLOCK = 1024  # rows per similarity block: 1024 x 10,000 floats = 40 MB


@dataclass(frozen=True)
class MaintainPolicy:
    duplicate_threshold: float = 0.92  # cosine, same kind
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
    scores: tuple[float, ...]  # their cosine with the kept one (1.0: exact match)


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
    candidates: Sequence[Candidate], policy: MaintainPolicy, now: dt.datetime
) -> MaintainPlan:
    """Merge groups first (the kept memory absorbs the others), then decay what is left."""
    plan = MaintainPlan()
    merged_away: set[str] = set()
    for group in _groups(candidates, policy):
        keep = max(group, key=lambda i: _rank(candidates[i]))
        others = [i for i in group if i != keep]
        plan.merges.append(
            Merge(
                candidates[keep].path,
                tuple(candidates[i].path for i in others),
                tuple(round(_similarity(candidates[keep], candidates[i]), 4) for i in others),
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


def _groups(candidates: Sequence[Candidate], policy: MaintainPolicy) -> list[list[int]]:
    """Connected components of same-kind pairs: exact text matches or cosine >= threshold."""
    parent = list(range(len(candidates)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_kind: dict[str, list[int]] = {}
    for i, c in enumerate(candidates):
        if c.memory.kind not in NEVER_MERGED:
            by_kind.setdefault(c.memory.kind, []).append(i)
    for members in by_kind.values():
        seen: dict[str, int] = {}
        for i in members:
            m = candidates[i].memory
            fp = text_fingerprint(m.title, m.body)
            if fp in seen:
                union(seen[fp], i)
            else:
                seen[fp] = i
        for a, b in _similar_pairs(candidates, members, policy.duplicate_threshold):
            union(a, b)
    groups: dict[int, list[int]] = {}
    for members in by_kind.values():
        for i in members:
            groups.setdefault(find(i), []).append(i)
    return [sorted(g) for g in groups.values() if len(g) > 1]


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


def _similarity(a: Candidate, b: Candidate) -> float:
    if text_fingerprint(a.memory.title, a.memory.body) == text_fingerprint(
        b.memory.title, b.memory.body
    ):
        return 1.0
    if not a.vector or not b.vector:
        return 0.0
    va, vb = np.asarray(a.vector, dtype=np.float64), np.asarray(b.vector, dtype=np.float64)
    denom = float(np.linalg.norm(va) * np.linalg.norm(vb)) or 1.0
    return min(float(va @ vb) / denom, 1.0)
