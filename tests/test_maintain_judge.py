"""Maintain's merge groups come from the duplicate judge, one kept memory and its own
duplicates: never a chain (real model for the store-shaped case)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sync.care.maintain import (
    Candidate,
    MaintainPolicy,
    candidate_pairs,
    judge_pairs,
    plan_maintenance,
    similar_pairs,
    star_groups,
)
from sync.dedup import DedupThresholds, JudgeVectors
from sync.models import Memory

NOW = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def cand(path: str, conf: float = 0.7, kind: str = "decision") -> Candidate:
    m = Memory(path, kind, path, f"body of {path}", confidence=conf, created=stamp(NOW))
    return Candidate(path, m, None, None)


def test_a_chain_of_pairs_is_not_a_group() -> None:
    # A~B and B~C, but A and C differ: A keeps B; C is nobody's duplicate but B's
    a, b, c, d = cand("a.md", 0.9), cand("b.md", 0.8), cand("c.md", 0.7), cand("d.md", 0.6)
    groups = star_groups([a, b, c, d], {(0, 1): 0.9, (1, 2): 0.9, (2, 3): 0.85})
    assert groups == [(0, [1]), (2, [3])]
    plan = plan_maintenance([a, b, c, d], MaintainPolicy(), NOW, {(0, 1): 0.9, (1, 2): 0.9})
    assert [(m.keep, m.merged) for m in plan.merges] == [("a.md", ("b.md",))]


def test_distinct_numbered_decisions_do_not_chain(encoder: Any) -> None:
    """The issue's case: 60 distinct "queue system number i" decisions plus 200 older ones.
    Union-find over pairwise cosine >= 0.92 planned 11 groups with 278 merges; the judge
    merges only the two planted duplicates, each into the memory it duplicates."""
    recent, old = stamp(NOW - dt.timedelta(days=3)), stamp(NOW - dt.timedelta(days=400))
    memories = [
        Memory(
            f"q{i}",
            "decision",
            f"Use queue system number {i}",
            f"We decided to route the jobs of service {i} through queue system number {i}.",
            confidence=0.7,
            created=recent,
            updated=recent,
        )
        for i in range(60)
    ] + [
        Memory(
            f"o{j}",
            "decision",
            f"Older decision {j}: keep worker pool {j} at its size",
            f"Worker pool {j} keeps {j + 2} workers; decided before the queue migration.",
            confidence=0.6,
            created=old,
            updated=old,
        )
        for j in range(200)
    ]
    paraphrase = Memory(  # of queue 7; and an exact copy of older decision 42
        "q7-again",
        "decision",
        "Route service 7 through queue system number 7",
        "Jobs of service 7 go through queue system number 7, as decided.",
        confidence=0.5,
        created=recent,
        updated=recent,
    )
    o42 = memories[102]
    copy = Memory("o42-copy", "decision", o42.title, o42.body, confidence=0.4, created=old)
    memories += [paraphrase, copy]
    vectors = encoder.encode([m.embedding_text() for m in memories])
    candidates = [
        Candidate(f"decisions/{m.id}.md", m, list(v), None)
        for m, v in zip(memories, vectors, strict=True)
    ]
    union_find_pairs = similar_pairs([c.vector or () for c in candidates], 0.92)
    assert len(union_find_pairs) > 300  # what the old grouping chained into big groups

    policy = MaintainPolicy()
    pairs = candidate_pairs(candidates, policy)
    judged = judge_pairs(candidates, pairs, JudgeVectors(encoder).similarity, DedupThresholds())
    duplicates = {k: j.score for k, j in judged.items() if j.merges}
    plan = plan_maintenance(candidates, policy, NOW, duplicates)
    merged = {(m.keep, p) for m in plan.merges for p in m.merged}
    assert merged == {
        ("decisions/q7.md", "decisions/q7-again.md"),
        ("decisions/o42.md", "decisions/o42-copy.md"),
    }
    for m in plan.merges:  # every member is a duplicate of the memory it merges into
        keep = next(i for i, c in enumerate(candidates) if c.path == m.keep)
        for path in m.merged:
            other = next(i for i, c in enumerate(candidates) if c.path == path)
            assert (min(keep, other), max(keep, other)) in duplicates
