#!/usr/bin/env python3
"""The duplicate judge on labelled pairs of real memory shapes (issue 12).

Pairs: scripts/data/capture_dedup_pairs.jsonl (120, issue 4) and scripts/data/judge_pairs.jsonl
(100 more, written from the dev capture facts and the shapes memsync writes). A fixed 30 % of
each file and label (seed 12, chosen before any tuning) is held out.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "scripts" / "data"
FILES = ("capture_dedup_pairs.jsonl", "judge_pairs.jsonl")
SEED = 12
HELD_OUT = 0.3


def load(name: str) -> list[dict[str, Any]]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def held_out(pairs: list[dict[str, Any]], seed: int = SEED) -> set[int]:
    """Indices held back: a seeded 30 % of each label, fixed before tuning."""
    held: set[int] = set()
    for label in sorted({p["label"] for p in pairs}):
        idx = [i for i, p in enumerate(pairs) if p["label"] == label]
        held.update(random.Random(f"{seed}:{label}").sample(idx, round(len(idx) * HELD_OUT)))
    return held
