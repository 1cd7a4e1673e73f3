#!/usr/bin/env python3
"""The relevance floor and the kind weights of `memsync ask`, swept on labelled questions and
on questions that must return nothing.

Answerable: the coding set (scripts/data/coding_*.jsonl, 88 questions over 154 memories) and
LoCoMo (1,536 questions, each within its own conversation; skipped when ../shared/data is
absent). Unanswerable: scripts/data/unrelated_questions.jsonl (30 off-topic questions and 30
software questions on subjects the coding store does not hold), asked of the coding store and
of LoCoMo conversations; and each set's questions asked of the other store (LoCoMo's about
people's lives of the coding store, the coding ones of LoCoMo conversations).

For each floor: recall@5 that survives it (a gold memory in the top 5 and scoring at least the
floor), and the share of unanswerable questions that get nothing. For each summary weight:
recall@1 and MRR@10 on the coding set, and how many summaries that are not the answer sit in
the top 5. Everything goes through `sync.recall.retrieve.search`, as `memsync ask` does.

    .venv/bin/python scripts/eval_floor.py [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from embeddings.edge_index import EdgeIndex  # noqa: E402
from embeddings.encoder import SentenceTransformerEncoder  # noqa: E402
from sync.lexical import document_vector  # noqa: E402
from sync.models import Memory  # noqa: E402
from sync.ports import IndexPoint, SearchFilter  # noqa: E402
from sync.recall.retrieve import Ranked, Scoring, search  # noqa: E402

DATA = REPO / "scripts" / "data"
LOCOMO = REPO.parent / "shared" / "data" / "locomo"
FLOORS = (0.0, 0.2, 0.25, 0.3, 0.32, 0.35, 0.38, 0.4, 0.45)
SUMMARY_WEIGHTS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75)
CROSS_SAMPLE = 300  # LoCoMo questions asked of the coding store


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def build(encoder: Any, name: str, texts: list[str], payloads: list[dict[str, Any]]) -> EdgeIndex:
    index = EdgeIndex(Path(tempfile.mkdtemp(prefix=f"memsync-floor-{name}-")))
    index.ensure_collection(name, encoder.identity.dim)
    vectors = encoder.encode(texts)
    points = [
        IndexPoint(f"00000000-0000-4000-8000-{i:012d}", list(map(float, v)), p, document_vector(t))
        for i, (t, p, v) in enumerate(zip(texts, payloads, vectors, strict=True))
    ]
    for start in range(0, len(points), 512):
        index.upsert(name, points[start : start + 512])
    return index


Asked = list[tuple[dict[str, Any], list[Ranked]]]  # each question with its top results


def ask_all(
    encoder: Any,
    index: EdgeIndex,
    name: str,
    questions: list[dict[str, Any]],
    text: str,
    flt: Callable[[int, dict[str, Any]], SearchFilter],
    scoring: Scoring,
    k: int = 10,
) -> Asked:
    vectors = encoder.encode([q[text] for q in questions])
    return [
        (q, search(q[text], list(map(float, v)), index=index, collection=name, k=k,
                   flt=flt(i, q), scoring=scoring))
        for i, (q, v) in enumerate(zip(questions, vectors, strict=True))
    ]  # fmt: skip


def recall_at_5(
    asked: Asked, floor: float, is_gold: Callable[[dict[str, Any], Ranked], bool]
) -> float:
    hits = sum(any(is_gold(q, r) and r.score >= floor for r in ranked[:5]) for q, ranked in asked)
    return round(hits / len(asked), 3)


def empty_share(asked: Asked, floor: float) -> float:
    return round(sum(not ranked or ranked[0].score < floor for _, ranked in asked) / len(asked), 3)


def coding_gold(q: dict[str, Any], r: Ranked) -> bool:
    return r.hit.payload.get("memory_id") in q["gold"]


def locomo_gold(q: dict[str, Any], r: Ranked) -> bool:
    return bool(set(r.hit.payload.get("evidence", [])) & set(q["evidence"]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--locomo", type=Path, default=LOCOMO, help="LoCoMo folder (../shared/data)")
    args = ap.parse_args()
    records = load(DATA / "coding_memories.jsonl")
    questions = load(DATA / "coding_questions.jsonl")
    unrelated = load(DATA / "unrelated_questions.jsonl")
    encoder = SentenceTransformerEncoder("all-MiniLM-L6-v2")
    memories = [
        Memory(id=r["id"], kind=r["kind"], title=r["title"], body=r["body"], tags=tuple(r["tags"]))
        for r in records
    ]
    coding = build(
        encoder,
        "coding",
        [m.embedding_text() for m in memories],
        [
            {"memory_id": m.id, "kind": m.kind, "status": "active", "archived": False}
            for m in memories
        ],
    )
    everything = SearchFilter()
    unweighted = Scoring(min_score=0.0, kind_weights={})
    default = Scoring(min_score=0.0)
    out: dict[str, Any] = {"floors": {}, "summary_weights": {}}

    def of_coding(qs: list[dict[str, Any]], text: str, scoring: Scoring = default) -> Asked:
        return ask_all(encoder, coding, "coding", qs, text, lambda i, q: everything, scoring)

    for weight in SUMMARY_WEIGHTS:
        scoring = Scoring(min_score=0.0, kind_weights={"summary": weight})
        out["summary_weights"][weight] = summary_effect(of_coding(questions, "q", scoring), records)
    answered = of_coding(questions, "q")
    sets: dict[str, Asked] = {
        "off-topic -> coding": of_coding([u for u in unrelated if u["group"] == "off-topic"], "q"),
        "near-domain -> coding": of_coding(
            [u for u in unrelated if u["group"] == "near-domain"], "q"
        ),
    }
    locomo: Asked = []
    if (args.locomo / "locomo10_qa.derived.jsonl").exists():
        locomo, more = locomo_sets(args.locomo, encoder, questions, unrelated, of_coding)
        sets.update(more)
    for floor in FLOORS:
        row = {"coding_recall_at_5": recall_at_5(answered, floor, coding_gold)}
        if locomo:
            row["locomo_recall_at_5"] = recall_at_5(locomo, floor, locomo_gold)
        row.update({f"empty: {name}": empty_share(asked, floor) for name, asked in sets.items()})
        out["floors"][floor] = row
    out["unweighted_coding"] = summary_effect(of_coding(questions, "q", unweighted), records)
    coding.close()
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print_tables(out)
    return 0


def locomo_sets(
    folder: Path,
    encoder: Any,
    questions: list[dict[str, Any]],
    unrelated: list[dict[str, Any]],
    of_coding: Callable[[list[dict[str, Any]], str], Asked],
) -> tuple[Asked, dict[str, Asked]]:
    """LoCoMo's questions in their conversation, and the cross-store unanswerable sets."""
    observations = load(folder / "locomo10_observations.derived.jsonl")
    qa = [q for q in load(folder / "locomo10_qa.derived.jsonl")
          if q["category"] in (1, 2, 3, 4) and q["evidence"]]  # fmt: skip
    index = build(
        encoder,
        "locomo",
        [o["memory"] for o in observations],
        [
            {"memory_id": f"obs{i}", "kind": "insight", "tags": [o["sample_id"]],
             "evidence": o["evidence"], "status": "active", "archived": False}
            for i, o in enumerate(observations)
        ],
    )  # fmt: skip
    samples = sorted({o["sample_id"] for o in observations})

    def own(i: int, q: dict[str, Any]) -> SearchFilter:
        return SearchFilter(tags=(q["sample_id"],))

    def some(i: int, q: dict[str, Any]) -> SearchFilter:
        return SearchFilter(tags=(samples[i % len(samples)],))

    default = Scoring(min_score=0.0)
    try:
        answered = ask_all(encoder, index, "locomo", qa, "question", own, default)
        cross = random.Random(1).sample(qa, min(CROSS_SAMPLE, len(qa)))
        sets = {
            "LoCoMo questions -> coding": of_coding(cross, "question"),
            "coding questions -> LoCoMo": ask_all(
                encoder, index, "locomo", questions, "q", some, default
            ),
            "unrelated -> LoCoMo": ask_all(encoder, index, "locomo", unrelated, "q", some, default),
        }
    finally:
        index.close()
    return answered, sets


def summary_effect(asked: Asked, records: list[dict[str, Any]]) -> dict[str, float]:
    """recall@1, MRR@10, and summaries that are not the answer among the top 5."""
    kinds = {r["id"]: r["kind"] for r in records}
    first_ranks = []
    intruders = 0
    for q, ranked in asked:
        ids = [r.hit.payload.get("memory_id") for r in ranked[:10]]
        first = next((n for n, mid in enumerate(ids, 1) if mid in q["gold"]), None)
        first_ranks.append(first)
        intruders += sum(kinds.get(str(m)) == "summary" and m not in q["gold"] for m in ids[:5])
    n = len(asked)
    return {
        "recall_at_1": round(sum(f == 1 for f in first_ranks) / n, 3),
        "mrr_at_10": round(sum(1 / f for f in first_ranks if f) / n, 3),
        "summaries_in_top5_not_gold": intruders,
    }


def print_tables(out: dict[str, Any]) -> None:
    rows = out["floors"]
    columns = list(next(iter(rows.values())))
    print("floor  " + "  ".join(columns))
    for floor, row in rows.items():
        print(f"{floor:<5}  " + "  ".join(f"{row[c]:>{len(c)}}" for c in columns))
    print("\nsummary weight  recall@1  MRR@10  non-gold summaries in top 5")
    for weight, row in out["summary_weights"].items():
        print(
            f"{weight:<14}  {row['recall_at_1']:<8}  {row['mrr_at_10']:<6}  "
            f"{row['summaries_in_top5_not_gold']}"
        )


if __name__ == "__main__":
    sys.exit(main())
