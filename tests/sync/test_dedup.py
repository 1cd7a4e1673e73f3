from __future__ import annotations

import datetime as dt

import pytest

from sync.dedup import DedupThresholds, Neighbour, decide_dedup, merge_memories
from sync.models import Memory

T = DedupThresholds(noop=0.9, update=0.75)


def n(score: float, kind: str = "decision", fp: str = "other") -> Neighbour:
    return Neighbour("m1", "decisions/m1.md", "Existing", kind, score, fp)


def test_no_neighbours_adds() -> None:
    assert decide_dedup("decision", "fp", [], T).action == "add"


def test_exact_fingerprint_is_a_noop_whatever_the_score() -> None:
    decision = decide_dedup("decision", "fp", [n(0.2, fp="fp")], T)
    assert decision.action == "noop" and "exact duplicate" in decision.reason


def test_thresholds_split_noop_update_add() -> None:
    assert decide_dedup("decision", "fp", [n(0.95)], T).action == "noop"
    assert decide_dedup("decision", "fp", [n(0.90)], T).action == "noop"
    assert decide_dedup("decision", "fp", [n(0.80)], T).action == "update"
    assert decide_dedup("decision", "fp", [n(0.74)], T).action == "add"


def test_identical_vectors_scoring_above_one_still_count() -> None:
    decision = decide_dedup("decision", "fp", [n(1.0000002)], T)
    assert decision.action == "noop" and "1.000" in decision.reason


def test_update_only_merges_into_the_same_kind() -> None:
    assert decide_dedup("decision", "fp", [n(0.8, kind="learning")], T).action == "add"
    mixed = [n(0.8, kind="learning"), Neighbour("m2", "d/m2.md", "Same", "decision", 0.77)]
    decision = decide_dedup("decision", "fp", mixed, T)
    assert decision.action == "update" and decision.target and decision.target.memory_id == "m2"


def test_invalid_thresholds_are_refused() -> None:
    with pytest.raises(ValueError):
        DedupThresholds(noop=0.7, update=0.8)


def test_merge_keeps_identity_and_adds_only_what_is_new() -> None:
    now = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    old = Memory(
        "m1",
        "decision",
        "Queue",
        "Use Postgres.",
        ("db",),
        0.6,
        {"agent": "a"},
        "2026-01-01",
        "2026-01-01",
    )
    new = Memory(
        "m9", "decision", "Queue again", "Use SKIP LOCKED.", ("queue",), 0.8, {"agent": "b"}
    )
    merged = merge_memories(old, new, now)
    assert (merged.id, merged.title, merged.created) == ("m1", "Queue", "2026-01-01")
    assert "Use Postgres." in merged.body and "Use SKIP LOCKED." in merged.body
    assert merged.tags == ("db", "queue") and merged.confidence == 0.8
    assert merged.extra["merged_sources"] == [{"agent": "b"}]
    same = merge_memories(old, Memory("m9", "decision", "Q", "use postgres"), now)
    assert same.body == "Use Postgres."
