#!/usr/bin/env python3
"""Retrieval quality on a hand-written set of coding-agent memories: recall@k and MRR@10.

scripts/data/coding_memories.jsonl holds ~150 memories such as a coding agent keeps
(decisions, learnings from errors, commands, config keys, user preferences) spread over
several fictional projects, with deliberate near-duplicates (same topic, other project or
fact). scripts/data/coding_questions.jsonl holds questions labelled with the 1-2 memories
that answer them, in five styles: paraphrase, identifier, error, command, preference.
Every memory is indexed as memsync indexes it (the encoder and the BM25 weights both see
Memory.embedding_text()) in a temporary edge index; each question searches the whole set.
recall@k = share of questions with at least one gold memory in the top k; MRR@10 = mean of
1/rank of the first gold memory (0 when none is in the top 10). Reported per retrieval mode,
overall and per question style.

    .venv/bin/python scripts/eval_coding.py [--data scripts/data] [--mode hybrid] [--json]
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
from sync.models import Memory  # noqa: E402
from sync.ports import IndexPoint, SearchFilter  # noqa: E402
from sync.recall.retrieve import MODES, search  # noqa: E402

STYLES = ("paraphrase", "identifier", "error", "command", "preference")
KS = (1, 5, 10)
COLLECTION = "coding"


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def to_memory(record: dict[str, Any]) -> Memory:
    """The memsync Memory a record stands for, so the indexed text is what memsync embeds."""
    return Memory(
        id=record["id"],
        kind=record["kind"],
        title=record["title"],
        body=record["body"],
        tags=tuple(record["tags"]),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO / "scripts" / "data")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--mode", choices=MODES, action="append", help="default: all three")
    args = ap.parse_args()
    mem_path = args.data / "coding_memories.jsonl"
    q_path = args.data / "coding_questions.jsonl"
    if not mem_path.exists() or not q_path.exists():
        print(f"coding set not found under {args.data}; nothing to evaluate", file=sys.stderr)
        return 0
    records = load(mem_path)
    questions = load(q_path)
    memories = [to_memory(r) for r in records]
    texts = [m.embedding_text() for m in memories]

    encoder = SentenceTransformerEncoder("all-MiniLM-L6-v2")
    t0 = time.perf_counter()
    memory_vectors = encoder.encode(texts)
    question_vectors = encoder.encode([q["q"] for q in questions])
    embed_s = time.perf_counter() - t0

    index = EdgeIndex(Path(tempfile.mkdtemp(prefix="memsync-coding-")))
    index.ensure_collection(COLLECTION, encoder.identity.dim)
    points = [
        IndexPoint(
            f"00000000-0000-4000-8000-{i:012d}",
            list(map(float, v)),
            {
                "memory_id": m.id,
                "kind": m.kind,
                "title": m.title,
                "tags": list(m.tags),
                "project": r["project"],
                "status": "active",
                "archived": False,
            },
            document_vector(text),
        )
        for i, (m, r, text, v) in enumerate(
            zip(memories, records, texts, memory_vectors, strict=True)
        )
    ]
    index.upsert(COLLECTION, points)

    results: dict[str, Any] = {
        "memories": len(memories),
        "questions": len(questions),
        "embed_s": round(embed_s, 1),
        "per_style_questions": {s: sum(q["style"] == s for q in questions) for s in STYLES},
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
    print(f"Coding memories: {len(memories)} memories, {len(questions)} questions")
    for mode, figures in results["modes"].items():
        print(f"{mode}:")
        for group, row in figures["recall_at_k"].items():
            n = len(questions) if group == "all" else results["per_style_questions"][group]
            recall = "  ".join(f"recall@{k} {v:.3f}" for k, v in row.items())
            print(f"  {group:11} ({n:2}) {recall}  MRR@10 {figures['mrr_at_10'][group]:.3f}")
    return 0


def evaluate(
    index: EdgeIndex, questions: list[dict[str, Any]], vectors: Any, mode: str
) -> dict[str, Any]:
    """recall@k and MRR@10, overall and per question style, for one retrieval mode."""
    hits: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    reciprocal: dict[str, float] = defaultdict(float)
    totals: dict[str, int] = defaultdict(int)
    for q, vector in zip(questions, vectors, strict=True):
        found = search(
            q["q"],
            list(map(float, vector)),
            index=index,
            collection=COLLECTION,
            k=max(KS),
            flt=SearchFilter(),
            mode=mode,
        )
        ranked = [r.hit.payload.get("memory_id") for r in found]
        gold = set(q["gold"])
        first = next((rank for rank, mid in enumerate(ranked, 1) if mid in gold), None)
        for group in ("all", q["style"]):
            totals[group] += 1
            reciprocal[group] += 1.0 / first if first else 0.0
            for k in KS:
                hits[group][k] += first is not None and first <= k
    groups = ["all", *(s for s in STYLES if totals[s])]
    return {
        "recall_at_k": {g: {k: round(hits[g][k] / totals[g], 3) for k in KS} for g in groups},
        "mrr_at_10": {g: round(reciprocal[g] / totals[g], 3) for g in groups},
    }


if __name__ == "__main__":
    sys.exit(main())
