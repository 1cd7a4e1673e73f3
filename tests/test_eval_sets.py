"""The hand-labelled coding retrieval set is well formed (data only, no model)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[1] / "scripts" / "data"
KINDS = {"decision", "learning", "insight", "summary"}
STYLES = {"paraphrase", "identifier", "error", "command", "preference"}


def _load(name: str) -> list[dict[str, Any]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    out = []
    for number, line in enumerate(lines, 1):
        assert line.strip(), f"{name}:{number} is blank"
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            pytest.fail(f"{name}:{number} does not parse: {exc}")
    return out


@pytest.fixture(scope="module")
def memories() -> list[dict[str, Any]]:
    return _load("coding_memories.jsonl")


@pytest.fixture(scope="module")
def questions() -> list[dict[str, Any]]:
    return _load("coding_questions.jsonl")


def test_memories_are_well_formed(memories: list[dict[str, Any]]) -> None:
    assert len(memories) >= 140
    ids = [m["id"] for m in memories]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    for m in memories:
        assert set(m) == {"id", "kind", "title", "body", "tags", "project"}, m["id"]
        assert m["kind"] in KINDS, m["id"]
        assert m["title"].strip() and m["body"].strip() and m["project"].strip(), m["id"]
        assert isinstance(m["tags"], list) and all(isinstance(t, str) for t in m["tags"])
    assert len({m["project"] for m in memories}) >= 8


def test_questions_are_labelled(
    memories: list[dict[str, Any]], questions: list[dict[str, Any]]
) -> None:
    assert len(questions) >= 75
    ids = {m["id"] for m in memories}
    for q in questions:
        assert set(q) == {"q", "gold", "style"}, q
        assert q["q"].strip()
        assert q["style"] in STYLES, q
        assert 1 <= len(q["gold"]) <= 2, q
        assert set(q["gold"]) <= ids, q
    assert len({q["q"] for q in questions}) == len(questions)
    assert set(Counter(q["style"] for q in questions)) == STYLES
