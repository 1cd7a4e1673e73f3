#!/usr/bin/env python3
"""Benchmark the embedded index backends on real MiniLM embeddings, side by side.

For each size (default 10,000 and 100,000 points) and backend (qdrant-edge, qdrant-client
local mode): upsert rate (through memsync's adapters, flushes included), search latency
p50/p95 and recall@5 against exact numpy search, filtered search, HNSW build (edge), reopen.

Texts: real sentences from ../shared/data when present (LoCoMo turns and observations,
STS-B and MRPC sentences), topped up with generated memory-like notes; queries are LoCoMo
questions (or held-out generated notes). Embeddings are computed once and cached
(bench-out/), since 100,000 texts take several minutes on a CPU.

    .venv/bin/python scripts/bench_index.py [--sizes 10000,100000] [--json]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from embeddings.edge_index import EdgeIndex  # noqa: E402
from embeddings.qdrant_index import QdrantIndex  # noqa: E402
from sync.ports import IndexPoint, SearchFilter  # noqa: E402

DATA = REPO.parent / "shared" / "data"
KINDS = ("decision", "learning", "insight", "summary")
EF_SWEEP = (16, 32, 64, 128, 256)


# -- corpus ---------------------------------------------------------------------------------


def real_texts(data: Path) -> tuple[list[str], list[str]]:
    """Sentences and questions from the shared data sets, when present."""
    texts: list[str] = []
    questions: list[str] = []
    locomo = data / "locomo"
    for name, key, out in (
        ("locomo10_turns.derived.jsonl", "text", texts),
        ("locomo10_observations.derived.jsonl", "memory", texts),
        ("locomo10_qa.derived.jsonl", "question", questions),
    ):
        path = locomo / name
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                value = json.loads(line).get(key)
                if isinstance(value, str) and value.strip():
                    out.append(value.strip())
    for path in sorted((data / "dedup_eval").glob("*/*.tsv")) + sorted(
        (data / "dedup_eval").glob("*/*.csv")
    ):
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                texts.extend(cell for cell in row[-3:] if len(cell.split()) >= 5)
    return list(dict.fromkeys(texts)), list(dict.fromkeys(questions))


def generated_notes(rng: random.Random) -> Iterator[str]:
    """Endless memory-like notes with enough variety to cluster like real ones."""
    topics = [
        "database",
        "queue",
        "cache",
        "auth",
        "CI",
        "deploy",
        "tests",
        "logging",
        "API",
        "frontend",
        "billing",
        "search",
        "migrations",
        "monitoring",
        "docs",
        "security",
    ]
    things = [
        "PostgreSQL",
        "Redis",
        "SQLite",
        "nginx",
        "pytest",
        "ruff",
        "uvicorn",
        "Kafka",
        "GitHub Actions",
        "Docker",
        "FastAPI",
        "Celery",
        "S3",
        "Terraform",
        "React",
        "Sentry",
        "Grafana",
        "OpenTelemetry",
        "mypy",
        "Playwright",
    ]
    verbs = [
        "chose",
        "rejected",
        "migrated to",
        "benchmarked",
        "debugged",
        "pinned",
        "replaced",
        "removed",
        "upgraded",
        "configured",
        "documented",
        "rolled back",
    ]
    reasons = [
        "latency under load",
        "operational cost",
        "a flaky failure in CI",
        "a memory leak",
        "missing retries",
        "the team's familiarity",
        "licence terms",
        "a security advisory",
        "slow cold starts",
        "lock contention",
    ]
    n = 0
    while True:
        n += 1
        a, b = rng.sample(things, 2)
        yield (
            f"We {rng.choice(verbs)} {a} for the {rng.choice(topics).lower()} "
            f"{rng.choice(['layer', 'service', 'job', 'pipeline'])} because of "
            f"{rng.choice(reasons)}; {b} was the alternative (note {n})."
        )


def corpus(size: int, n_queries: int, data: Path) -> tuple[list[str], list[str], str]:
    rng = random.Random(7)
    texts, questions = real_texts(data) if data.is_dir() else ([], [])
    source = f"{len(texts)} real sentences" if texts else "no shared data"
    rng.shuffle(texts)
    notes = generated_notes(rng)
    while len(texts) < size + n_queries:
        texts.append(next(notes))
    rng.shuffle(questions)
    queries = questions[:n_queries]
    held_out = texts[size : size + n_queries - len(queries)]
    return texts[:size], queries + held_out, source


# -- embeddings, cached ---------------------------------------------------------------------


def embed_cached(texts: list[str], cache: Path) -> np.ndarray:
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache / f"minilm-{len(texts)}-{key}.npy"
    if path.exists():
        return np.load(path)
    from embeddings.encoder import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder("all-MiniLM-L6-v2", batch_size=64)
    started, parts = time.perf_counter(), []
    for i in range(0, len(texts), 2048):
        parts.append(np.asarray(encoder.encode(texts[i : i + 2048]), dtype=np.float32))
        done = min(i + 2048, len(texts))
        rate = done / (time.perf_counter() - started)
        print(f"  embedded {done}/{len(texts)} ({rate:.0f}/s)", file=sys.stderr)
    vectors = np.concatenate(parts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


# -- measurements ---------------------------------------------------------------------------


def payload(i: int) -> dict[str, Any]:
    kind = KINDS[i % len(KINDS)]
    return {
        "memory_id": f"m{i}",
        "path": f"{kind}s/{i}.md",
        "kind": kind,
        "tags": [f"t{i % 7}"],
        "archived": False,
        "status": "active",
    }


def point_id(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def upsert_all(index: Any, collection: str, vectors: np.ndarray, batch: int = 256) -> float:
    index.ensure_collection(collection, vectors.shape[1])
    started = time.perf_counter()
    for start in range(0, len(vectors), batch):
        stop = min(start + batch, len(vectors))
        index.upsert(
            collection,
            [IndexPoint(point_id(i), vectors[i].tolist(), payload(i)) for i in range(start, stop)],
        )
    return len(vectors) / (time.perf_counter() - started)


def truth(
    vectors: np.ndarray, queries: np.ndarray, k: int, mask: np.ndarray | None = None
) -> list[set[str]]:
    scores = queries @ vectors.T
    if mask is not None:
        scores[:, ~mask] = -np.inf
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    return [{point_id(int(i)) for i in row} for row in top]


def measure(
    search: Callable[[np.ndarray], list[str]], queries: np.ndarray, expected: list[set[str]]
) -> dict[str, float]:
    latencies, hits = [], 0
    for q, want in zip(queries, expected, strict=True):
        started = time.perf_counter()
        got = search(q)
        latencies.append((time.perf_counter() - started) * 1000)
        hits += len(want & set(got))
    latencies.sort()
    return {
        "p50_ms": round(statistics.median(latencies), 3),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
        "recall_at_5": round(hits / (5 * len(queries)), 4),
    }


def searcher(
    index: Any, collection: str, flt: SearchFilter | None = None, exact: bool = False
) -> Callable[[np.ndarray], list[str]]:
    return lambda q: [h.point_id for h in index.search(collection, q.tolist(), 5, flt, exact=exact)]


def bench_backend(
    name: str, make: Callable[[Path], Any], vectors: np.ndarray, queries: np.ndarray, work: Path
) -> dict[str, Any]:
    root = work / name
    expected = truth(vectors, queries, 5)
    decision_mask = np.array([KINDS[i % len(KINDS)] == "decision" for i in range(len(vectors))])
    expected_f = truth(vectors, queries, 5, decision_mask)
    flt = SearchFilter(kinds=("decision",))
    out: dict[str, Any] = {}
    index = make(root)
    out["upsert_per_s"] = round(upsert_all(index, "c", vectors))
    out["search"] = measure(searcher(index, "c"), queries, expected)
    out["filtered"] = measure(searcher(index, "c", flt), queries, expected_f)
    if isinstance(index, EdgeIndex):
        out["exact"] = measure(searcher(index, "c", exact=True), queries, expected)
        started = time.perf_counter()
        index.optimize_unindexed = 0
        index.maintain("c")
        out["optimize_s"] = round(time.perf_counter() - started, 2)
        out["hnsw"] = {}
        for ef in EF_SWEEP:
            index.hnsw_ef = ef
            out["hnsw"][ef] = measure(searcher(index, "c"), queries, expected)
        index.hnsw_ef = EdgeIndex(root).hnsw_ef
        out["search_after_optimize"] = measure(searcher(index, "c"), queries, expected)
        out["filtered_after_optimize"] = measure(searcher(index, "c", flt), queries, expected_f)
        out["exact_after_optimize"] = measure(searcher(index, "c", exact=True), queries, expected)
    index.close()
    started = time.perf_counter()
    reopened = make(root)
    count = reopened.count("c")
    out["reopen_s"] = round(time.perf_counter() - started, 3)
    assert count == len(vectors), (name, count)
    reopened.close()
    shutil.rmtree(root, ignore_errors=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--backends", default="edge,local")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--cache", type=Path, default=REPO / "bench-out")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    texts, query_texts, source = corpus(sizes[-1], args.queries, args.data)
    print(f"corpus: {len(texts)} texts ({source}), {len(query_texts)} queries", file=sys.stderr)
    vectors = embed_cached(texts, args.cache)
    queries = embed_cached(query_texts, args.cache)
    makers: dict[str, Callable[[Path], Any]] = {
        "edge": lambda root: EdgeIndex(root),
        "local": lambda root: QdrantIndex(path=root),
    }
    results: dict[str, Any] = {"corpus": source, "queries": len(queries), "sizes": {}}
    work = Path(tempfile.mkdtemp(prefix="memsync-bench-index-"))
    try:
        for size in sizes:
            results["sizes"][size] = {}
            for name in args.backends.split(","):
                print(f"size {size}: {name}", file=sys.stderr)
                results["sizes"][size][name] = bench_backend(
                    name, makers[name], vectors[:size], queries, work
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2) if args.json else render(results))
    return 0


def render(results: dict[str, Any]) -> str:
    lines = [f"corpus: {results['corpus']}; {results['queries']} queries; recall@5 vs exact numpy"]
    for size, by_backend in results["sizes"].items():
        lines.append(f"\n== {size} points")
        lines.append(f"{'':34}" + "".join(f"{name:>24}" for name in by_backend))
        rows = [("upsert (points/s)", lambda r: f"{r['upsert_per_s']}")]
        for key, label in (
            ("search", "search"),
            ("filtered", "filtered search (kind)"),
            ("search_after_optimize", "search after HNSW build"),
            ("filtered_after_optimize", "filtered after HNSW build"),
            ("exact_after_optimize", "exact after HNSW build"),
        ):
            rows.append((f"{label} p50/p95 ms, recall", lambda r, k=key: fmt(r.get(k))))
        rows.append(("HNSW build (s)", lambda r: str(r.get("optimize_s", "-"))))
        rows.append(("reopen (s)", lambda r: str(r["reopen_s"])))
        for label, get in rows:
            lines.append(f"{label:34}" + "".join(f"{get(r):>24}" for r in by_backend.values()))
        edge = by_backend.get("edge", {})
        for ef, m in edge.get("hnsw", {}).items():
            lines.append(
                f"  edge HNSW ef={ef:<4} p50 {m['p50_ms']} ms  p95 {m['p95_ms']} ms  "
                f"recall@5 {m['recall_at_5']}"
            )
    return "\n".join(lines)


def fmt(m: dict[str, float] | None) -> str:
    return "-" if m is None else f"{m['p50_ms']}/{m['p95_ms']}, {m['recall_at_5']}"


if __name__ == "__main__":
    sys.exit(main())
