#!/usr/bin/env python3
"""Warm `POST /api/ask` latency over loopback against a real `memsync serve`.

Builds a store whose edge index holds N memories (default 10,000: real MiniLM embeddings of
the bench_index corpus, cached under bench-out/), starts `memsync serve` on a free port, warms
it up, then sends sequential asks (LoCoMo questions when ../shared/data is present) on one
keep-alive connection and prints p50 / p95 / max, next to the in-process cost of embedding
one question and of one search.

    .venv/bin/python scripts/bench_ask.py [--n 10000] [--asks 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_index import DATA, corpus, embed_cached  # noqa: E402

from embeddings.edge_index import EdgeIndex  # noqa: E402
from embeddings.encoder import SentenceTransformerEncoder  # noqa: E402
from sync.lexical import document_vector  # noqa: E402
from sync.models import collection_name  # noqa: E402
from sync.ports import IndexPoint, SearchFilter  # noqa: E402
from sync.recall.retrieve import search  # noqa: E402
from sync.store import init_store  # noqa: E402

KINDS = ("decision", "learning", "insight", "summary")


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def build_store(root: Path, texts: list[str], vectors: object, model: str) -> str:
    layout, _ = init_store(root / ".memsync")
    index = EdgeIndex(layout.qdrant_edge_dir)
    from sync.models import EncoderIdentity

    collection = collection_name("memsync", EncoderIdentity(model, 384))
    index.ensure_collection(collection, 384)
    for start in range(0, len(texts), 512):
        index.upsert(
            collection,
            [
                IndexPoint(
                    f"00000000-0000-4000-8000-{i:012d}",
                    list(vectors[i]),
                    {  # type: ignore[index]
                        "memory_id": f"m{i}",
                        "path": f"{KINDS[i % 4]}s/{i}.md",
                        "kind": KINDS[i % 4],
                        "title": texts[i][:80],
                        "tags": [],
                        "snippet": texts[i],
                        "status": "active",
                        "archived": False,
                    },
                    document_vector(texts[i]),
                )
                for i in range(start, min(start + 512, len(texts)))
            ],
        )
    index.close()
    return collection


def start_service(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`memsync serve` on a free loopback port for the store in ``work``; its URL."""
    env = {**os.environ, "HOME": str(work), "PYTHONPATH": str(REPO)}
    server = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", "0", "--sync-every", "0"],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    info = work / ".memsync" / "service.json"
    deadline = time.monotonic() + 180
    while not info.exists() and time.monotonic() < deadline and server.poll() is None:
        time.sleep(0.1)
    if not info.exists():
        server.kill()
        raise SystemExit("memsync serve did not start")
    return server, str(json.loads(info.read_text())["url"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--asks", type=int, default=300)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    texts, questions, source = corpus(args.n, 100, DATA)
    vectors = embed_cached(texts, REPO / "bench-out")
    encoder = SentenceTransformerEncoder("all-MiniLM-L6-v2")
    work = Path(tempfile.mkdtemp(prefix="memsync-bench-ask-"))
    collection = build_store(work, texts, vectors, encoder.identity.model)

    # in-process parts of one ask, for the breakdown
    embed_ms = []
    for q in questions[:50]:
        t0 = time.perf_counter()
        encoder.encode([q])
        embed_ms.append((time.perf_counter() - t0) * 1000)
    index = EdgeIndex(work / ".memsync" / "qdrant-edge")
    qv = encoder.encode(questions[:50])
    search_ms, hybrid_ms = [], []
    for q, v in zip(questions[:50], qv, strict=True):
        t0 = time.perf_counter()
        index.search(collection, list(v), 5, SearchFilter())
        search_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        search(q, list(v), index=index, collection=collection, k=5, flt=SearchFilter())
        hybrid_ms.append((time.perf_counter() - t0) * 1000)
    index.close()

    import httpx

    server, url = start_service(work)
    try:
        latencies = []
        with httpx.Client(base_url=url, timeout=30) as client:
            for i in range(20 + args.asks):
                q = questions[i % len(questions)]
                t0 = time.perf_counter()
                res = client.post("/api/ask", json={"question": q, "k": 5})
                elapsed = (time.perf_counter() - t0) * 1000
                res.raise_for_status()
                assert len(res.json()["results"]) == 5
                if i >= 20:  # the first 20 warm the process up
                    latencies.append(elapsed)
    finally:
        server.terminate()
        server.wait(timeout=60)
    figures = {
        "n": args.n,
        "corpus": source,
        "asks": args.asks,
        "http_ask": percentiles(latencies),
        "embed_question_in_process": percentiles(embed_ms),
        "search_in_process": percentiles(search_ms),
        "hybrid_search_in_process": percentiles(hybrid_ms),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{args.n} memories ({source}); {args.asks} sequential asks over loopback")
        keys = ("http_ask", "embed_question_in_process", "search_in_process")
        for key in (*keys, "hybrid_search_in_process"):
            f = figures[key]
            print(f"{key:28} p50 {f['p50_ms']} ms  p95 {f['p95_ms']} ms  max {f['max_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
