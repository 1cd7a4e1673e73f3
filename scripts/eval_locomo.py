#!/usr/bin/env python3
"""Retrieval quality on LoCoMo: index each conversation's observations as memories, ask its
questions, and measure whether the gold evidence is among the top k.

Each observation ("Caroline attended an LGBTQ support group ...", evidence ["D1:3"]) becomes a
memory tagged with its conversation; each question searches only its own conversation
(memsync's tag filter). recall@k = share of questions whose top-k memories cite at least one
gold evidence turn; evidence recall@k = share of all gold evidence turns cited in the top k.
Category 5 (adversarial, unanswerable) is left out. Uses memsync's encoder and edge index.

    .venv/bin/python scripts/eval_locomo.py [--data ../shared/data/locomo] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from embeddings.edge_index import EdgeIndex  # noqa: E402
from embeddings.encoder import SentenceTransformerEncoder  # noqa: E402
from sync.lexical import document_vector  # noqa: E402
from sync.ports import IndexPoint, SearchFilter  # noqa: E402
from sync.recall.retrieve import MODES, search  # noqa: E402

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (1, 5, 10)


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "locomo")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--mode", choices=MODES, action="append", help="default: all three")
    args = ap.parse_args()
    obs_path = args.data / "locomo10_observations.derived.jsonl"
    qa_path = args.data / "locomo10_qa.derived.jsonl"
    if not obs_path.exists() or not qa_path.exists():
        print(f"LoCoMo files not found under {args.data}; nothing to evaluate", file=sys.stderr)
        return 0
    observations = load(obs_path)
    questions = [q for q in load(qa_path) if q["category"] in CATEGORIES and q["evidence"]]

    encoder = SentenceTransformerEncoder("all-MiniLM-L6-v2")
    t0 = time.perf_counter()
    memory_vectors = encoder.encode([o["memory"] for o in observations])
    question_vectors = encoder.encode([q["question"] for q in questions])
    embed_s = time.perf_counter() - t0

    index = EdgeIndex(Path(tempfile.mkdtemp(prefix="memsync-locomo-")))
    index.ensure_collection("locomo", encoder.identity.dim)
    points = [
        IndexPoint(
            f"00000000-0000-4000-8000-{i:012d}",
            list(map(float, v)),
            {
                "memory_id": f"obs{i}",
                "kind": "insight",
                "tags": [o["sample_id"]],
                "evidence": o["evidence"],
                "status": "active",
                "archived": False,
            },
            document_vector(o["memory"]),
        )
        for i, (o, v) in enumerate(zip(observations, memory_vectors, strict=True))
    ]
    for start in range(0, len(points), 512):
        index.upsert("locomo", points[start : start + 512])

    results: dict[str, Any] = {
        "observations": len(observations),
        "questions": len(questions),
        "embed_s": round(embed_s, 1),
        "per_category_questions": {
            g: sum(CATEGORIES[q["category"]] == g for q in questions) for g in CATEGORIES.values()
        },
        "modes": {},
    }
    for mode in args.mode or MODES:
        t0 = time.perf_counter()
        results["modes"][mode] = evaluate(index, questions, question_vectors, mode)
        results["modes"][mode]["seconds"] = round(time.perf_counter() - t0, 1)
    index.close()

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"LoCoMo: {len(observations)} observations, {len(questions)} questions (categories 1-4)")
    for mode, figures in results["modes"].items():
        print(f"{mode}:")
        for group, row in figures["recall_at_k"].items():
            print(f"  {group:12} " + "  ".join(f"recall@{k} {v:.3f}" for k, v in row.items()))
        print(
            "  evidence     "
            + "  ".join(f"recall@{k} {v:.3f}" for k, v in figures["evidence_recall_at_k"].items())
        )
    return 0


def evaluate(
    index: EdgeIndex, questions: list[dict[str, Any]], vectors: Any, mode: str
) -> dict[str, Any]:
    """recall@k per category and evidence recall@k for one retrieval mode."""
    hits: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    covered: dict[int, int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    gold_total = 0
    for q, vector in zip(questions, vectors, strict=True):
        found = search(
            q["question"],
            list(map(float, vector)),
            index=index,
            collection="locomo",
            k=max(KS),
            flt=SearchFilter(tags=(q["sample_id"],)),
            mode=mode,
        )
        gold = set(q["evidence"])
        gold_total += len(gold)
        for group in ("all", CATEGORIES[q["category"]]):
            totals[group] += 1
        for k in KS:
            cited = {e for r in found[:k] for e in r.hit.payload.get("evidence", [])}
            if cited & gold:
                hits["all"][k] += 1
                hits[CATEGORIES[q["category"]]][k] += 1
            covered[k] += len(cited & gold)
    return {
        "recall_at_k": {
            group: {k: round(hits[group][k] / totals[group], 3) for k in KS}
            for group in ["all", *CATEGORIES.values()]
        },
        "evidence_recall_at_k": {k: round(covered[k] / gold_total, 3) for k in KS},
    }


if __name__ == "__main__":
    sys.exit(main())
