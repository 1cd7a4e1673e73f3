#!/usr/bin/env python3
"""ONNX Runtime vs torch on the evaluation sets: the same top 5 for every question?

Embeds every memory and question of LoCoMo (../shared/data/locomo, skipped when absent) and of
the coding-memory set (scripts/data) with both backends, indexes each backend's vectors in its
own edge index (same payloads, same BM25 weights) and compares each question's top 5, in
order, for the hybrid and dense modes. Also reports the smallest cosine between the two
backends' vectors of one text, and each backend's encoding rate on these texts.

    .venv/bin/python scripts/bench_backends.py [--locomo ../shared/data/locomo] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from embeddings.backend import open_encoder  # noqa: E402
from embeddings.edge_index import EdgeIndex  # noqa: E402
from embeddings.encoder import SentenceTransformerEncoder  # noqa: E402
from embeddings.onnx_graph import default_roots  # noqa: E402
from sync.lexical import document_vector  # noqa: E402
from sync.ports import Encoder, IndexPoint, SearchFilter  # noqa: E402
from sync.recall.retrieve import search  # noqa: E402

LOCOMO = REPO.parent / "shared" / "data" / "locomo"
CODING = REPO / "scripts" / "data"
MODES = ("hybrid", "dense")
K = 5

Dataset = tuple[list[str], list[dict[str, Any]], list[tuple[str, SearchFilter]]]


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def locomo(folder: Path = LOCOMO) -> Dataset | None:
    obs = folder / "locomo10_observations.derived.jsonl"
    qa = folder / "locomo10_qa.derived.jsonl"
    if not obs.exists() or not qa.exists():
        return None
    memories = load(obs)
    payloads = [{"memory_id": f"obs{i}", "tags": [o["sample_id"]]} for i, o in enumerate(memories)]
    questions = [
        (q["question"], SearchFilter(tags=(q["sample_id"],)))
        for q in load(qa)
        if q["category"] in (1, 2, 3, 4) and q["evidence"]
    ]
    return [o["memory"] for o in memories], payloads, questions


def coding() -> Dataset | None:
    from eval_coding import to_memory

    mem, qs = CODING / "coding_memories.jsonl", CODING / "coding_questions.jsonl"
    if not mem.exists() or not qs.exists():
        return None
    memories = [to_memory(r) for r in load(mem)]
    payloads = [{"memory_id": m.id, "kind": m.kind, "tags": list(m.tags)} for m in memories]
    questions = [(q["q"], SearchFilter()) for q in load(qs)]
    return [m.embedding_text() for m in memories], payloads, questions


def embed(encoder: Encoder, texts: list[str]) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    vectors = np.asarray(encoder.encode(texts), dtype=np.float32)
    return vectors, len(texts) / (time.perf_counter() - t0)


def build_index(texts: list[str], payloads: list[dict[str, Any]], vectors: np.ndarray) -> Any:
    index = EdgeIndex(Path(tempfile.mkdtemp(prefix="memsync-backends-")))
    index.ensure_collection("eval", vectors.shape[1])
    points = [
        IndexPoint(
            f"00000000-0000-4000-8000-{i:012d}",
            [float(x) for x in v],
            {**p, "status": "active", "archived": False},
            document_vector(t),
        )
        for i, (t, p, v) in enumerate(zip(texts, payloads, vectors, strict=True))
    ]
    for start in range(0, len(points), 512):
        index.upsert("eval", points[start : start + 512])
    return index


def compare(data: Dataset, encoders: dict[str, Encoder]) -> dict[str, Any]:
    """Top-5 agreement of the two backends on one data set."""
    texts, payloads, questions = data
    qtexts = [q for q, _ in questions]
    out: dict[str, Any] = {"memories": len(texts), "questions": len(questions)}
    vecs, qvecs, indexes = {}, {}, {}
    for name, encoder in encoders.items():
        vecs[name], rate = embed(encoder, texts)
        qvecs[name], _ = embed(encoder, qtexts)
        out[f"{name}_texts_per_s"] = round(rate, 1)
        indexes[name] = build_index(texts, payloads, vecs[name])
    a, b = list(encoders)
    out["min_cosine_memories"] = round(float((vecs[a] * vecs[b]).sum(axis=1).min()), 7)
    out["min_cosine_questions"] = round(float((qvecs[a] * qvecs[b]).sum(axis=1).min()), 7)
    for mode in MODES:
        same_order = same_set = 0
        differing = []
        for i, (question, flt) in enumerate(questions):
            tops = {
                name: [
                    r.hit.payload["memory_id"]
                    for r in search(
                        question,
                        [float(x) for x in qvecs[name][i]],
                        index=indexes[name],
                        collection="eval",
                        k=K,
                        flt=flt,
                        mode=mode,
                    )
                ]
                for name in encoders
            }
            same_order += tops[a] == tops[b]
            same_set += set(tops[a]) == set(tops[b])
            if tops[a] != tops[b] and len(differing) < 5:
                differing.append({"question": question, a: tops[a], b: tops[b]})
        out[mode] = {
            "identical_top5": same_order,
            "same_top5_set": same_set,
            "of": len(questions),
            "differing": differing,
        }
    for index in indexes.values():
        index.close()
    return out


def compare_backends(locomo_dir: Path = LOCOMO) -> dict[str, Any]:
    encoders: dict[str, Encoder] = {
        "torch": SentenceTransformerEncoder("all-MiniLM-L6-v2"),
        "onnx": open_encoder(
            "all-MiniLM-L6-v2",
            backend="onnx",
            batch_size=64,
            roots=default_roots(Path.home()),
            note=lambda m: print(m, file=sys.stderr),
        ),
    }
    results = {}
    for name, loader in (("locomo", lambda: locomo(locomo_dir)), ("coding", coding)):
        data = loader()
        if data is None:
            print(f"{name}: data not found; skipped", file=sys.stderr)
            continue
        results[name] = compare(data, encoders)
        row = results[name]
        print(
            f"{name}: identical top-5 hybrid {row['hybrid']['identical_top5']}/{row['questions']}"
            f", dense {row['dense']['identical_top5']}/{row['questions']}",
            file=sys.stderr,
        )
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--locomo", type=Path, default=LOCOMO, help="the LoCoMo folder")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = compare_backends(args.locomo)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for name, row in results.items():
        print(f"{name}: {row['memories']} memories, {row['questions']} questions")
        print(
            f"  min cosine torch vs onnx: memories {row['min_cosine_memories']}, "
            f"questions {row['min_cosine_questions']}"
        )
        print(f"  texts/s: torch {row['torch_texts_per_s']}, onnx {row['onnx_texts_per_s']}")
        for mode in MODES:
            m = row[mode]
            print(
                f"  {mode:6}: identical top-5 {m['identical_top5']}/{m['of']}, "
                f"same set {m['same_top5_set']}/{m['of']}"
            )
            for d in m["differing"]:
                print(f"    differs: {d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
