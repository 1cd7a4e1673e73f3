"""The hand-labelled capture dedup pairs are well formed (data only, no model)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sync.capture.extraction.base import CANDIDATE_KINDS

PAIRS = Path(__file__).resolve().parents[1] / "scripts" / "data" / "capture_dedup_pairs.jsonl"
LABELS = {"duplicate", "related", "new"}
DEDUPED_KINDS = set(CANDIDATE_KINDS) - {"summary"}  # capture never deduplicates summaries


@pytest.fixture(scope="module")
def pairs() -> list[dict[str, Any]]:
    out = []
    for number, line in enumerate(PAIRS.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"line {number} is blank"
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            pytest.fail(f"line {number} does not parse: {exc}")
    return out


def test_every_pair_is_well_formed(pairs: list[dict[str, Any]]) -> None:
    for number, pair in enumerate(pairs, 1):
        assert set(pair) == {"a", "b", "label", "note"}, number
        assert pair["label"] in LABELS, number
        assert isinstance(pair["note"], str) and pair["note"].strip(), number
        for side in ("a", "b"):
            memory = pair[side]
            assert set(memory) == {"kind", "title", "body"}, (number, side)
            assert memory["kind"] in DEDUPED_KINDS, (number, side)
            assert memory["title"].strip() and memory["body"].strip(), (number, side)
            assert len(memory["title"]) <= 200 and len(memory["body"]) <= 2000, (number, side)


def test_labels_are_balanced(pairs: list[dict[str, Any]]) -> None:
    counts = Counter(p["label"] for p in pairs)
    assert set(counts) == LABELS
    assert min(counts.values()) >= 30, counts
    assert 100 <= len(pairs) <= 200


def test_labels_are_consistent(pairs: list[dict[str, Any]]) -> None:
    seen = set()
    for number, pair in enumerate(pairs, 1):
        key = json.dumps([pair["a"], pair["b"]], sort_keys=True)
        assert key not in seen, f"line {number} repeats an earlier pair"
        seen.add(key)
        if pair["a"] == pair["b"]:
            assert pair["label"] == "duplicate", number
        if pair["label"] == "related":  # an update only ever merges memories of one kind
            assert pair["a"]["kind"] == pair["b"]["kind"], number
