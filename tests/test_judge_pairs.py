"""The duplicate judge's labelled pairs are well formed, drawn from the dev capture facts only,
and split the same way every time (data only, no model)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[1] / "scripts" / "data"
LABELS = {"duplicate": "paraphrase", "related": "update", "new": ("template", "nearby")}
KINDS = {"decision", "learning", "insight"}


def _lines(name: str) -> list[dict[str, Any]]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def pairs() -> list[dict[str, Any]]:
    return _lines("judge_pairs.jsonl")


def test_every_pair_is_well_formed(pairs: list[dict[str, Any]]) -> None:
    assert len(pairs) == 100
    seen = set()
    for n, p in enumerate(pairs, 1):
        assert set(p) == {"a", "b", "label", "group", "note", "facts"}, n
        assert p["group"] in LABELS[p["label"]], n
        for side in (p["a"], p["b"]):
            assert set(side) == {"kind", "title", "body"} and side["kind"] in KINDS, n
            assert side["title"].strip() and side["body"].strip(), n
        if p["label"] == "related":
            assert p["a"]["kind"] == p["b"]["kind"], n  # an update merges one kind only
        key = json.dumps([p["a"], p["b"]], sort_keys=True)
        assert key not in seen, n
        seen.add(key)
    counts = Counter(p["group"] for p in pairs)
    assert counts["paraphrase"] >= 30 and counts["template"] >= 25 and counts["update"] >= 15


def test_pairs_use_dev_facts_only(pairs: list[dict[str, Any]]) -> None:
    dev = {f["id"] for s in _lines("capture_facts.jsonl") for f in s["facts"]}
    heldout = {f["id"] for s in _lines("capture_facts_heldout.jsonl") for f in s["facts"]}
    used = {f for p in pairs for f in p["facts"]}
    assert used and used <= dev and not used & heldout


def test_the_held_out_split_is_fixed() -> None:
    sys.path.insert(0, str(DATA.parent))
    from eval_judge import FILES, held_out, load

    for name in FILES:
        pairs = load(name)
        held = held_out(pairs)
        assert held == held_out(pairs)  # seeded: the same pairs on every run
        for label in {p["label"] for p in pairs}:
            mine = [i for i, p in enumerate(pairs) if p["label"] == label]
            assert len(held & set(mine)) == round(0.3 * len(mine))
    first = held_out(load(FILES[1]))
    assert sorted(first)[:5] == [0, 2, 4, 6, 14]  # the split fixed before tuning (commit 2ccbf8e)
