#!/usr/bin/env python3
"""Benchmark sync on N generated memories (default 10,000) with the real model and Qdrant.

Prints, from one run: raw encoder throughput on the same texts, cold sync throughput and its
ratio to the raw encoder, no-op re-sync time (in-process, and as a `memsync sync` command),
and one-change re-sync time.

    .venv/bin/python scripts/bench_sync.py [--n 10000] [--batch-size 64] [--encoder onnx|torch]
                                           [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from embeddings.backend import open_encoder
from embeddings.edge_index import EdgeIndex
from embeddings.onnx_graph import default_roots
from embeddings.qdrant_index import QdrantIndex
from sync.fsutil import tree_seal
from sync.hashing import new_memory_id
from sync.index.checkpoint import load_checkpoint
from sync.index.engine import SyncDeps, SyncOptions, run_sync
from sync.index.verify import check_index
from sync.models import Memory
from sync.ports import VectorIndex
from sync.store import init_store, memory_rel_path, write_memory

TOPICS = ["database", "queue", "cache", "auth", "ci", "deploy", "tests", "logging", "api", "ui"]
VERBS = ["chose", "rejected", "migrated to", "benchmarked", "debugged", "pinned", "replaced"]
THINGS = [
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
]


def make_memory(rng: random.Random, i: int) -> Memory:
    """A ~60-word memory with enough variety to look like real notes."""
    topic, verb = rng.choice(TOPICS), rng.choice(VERBS)
    a, b = rng.sample(THINGS, 2)
    kind = rng.choice(["decision", "learning", "insight"])
    body = (
        f"We {verb} {a} for the {topic} layer (item {i}) after comparing it with {b}. "
        f"The deciding factors were latency under load, operational cost and how well "
        f"it fits the existing {topic} tooling. Measured p95 went from {rng.randint(20, 900)}"
        f" ms to {rng.randint(5, 300)} ms in staging; rollback stays possible through the "
        f"feature flag {topic}_{i}. Revisit if traffic grows {rng.randint(2, 20)}x."
    )
    return Memory(
        id=new_memory_id("20261121") + f"-{i}",
        kind=kind,
        title=f"{verb.capitalize()} {a} for {topic} #{i}",
        body=body,
        tags=(topic, a.lower()),
        created="2026-11-21T00:00:00Z",
        updated="2026-11-21T00:00:00Z",
    )


def generate(memory_dir: Path, n: int) -> list[Memory]:
    rng = random.Random(42)
    memories = [make_memory(rng, i) for i in range(n)]
    for m in memories:
        write_memory(memory_dir, memory_rel_path(m, "20261121", lambda r: False), m)
    return memories


def timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the generated store")
    ap.add_argument(
        "--backend",
        choices=("edge", "local"),
        default="edge",
        help="embedded index (default: edge, memsync's default)",
    )
    ap.add_argument(
        "--encoder",
        choices=("onnx", "torch"),
        default="onnx",
        help="encoder backend (default: onnx, what [model] backend = auto uses)",
    )
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="memsync-bench-"))
    layout, _ = init_store(work / ".memsync")
    memories, gen_s = timed(lambda: generate(layout.memory_dir, args.n))
    print(f"generated {args.n} memories in {gen_s:.1f}s under {work}", file=sys.stderr)

    encoder, load_s = timed(
        lambda: open_encoder(
            "all-MiniLM-L6-v2",
            backend=args.encoder,
            batch_size=args.batch_size,
            roots=default_roots(Path.home()),
            note=lambda m: print(m, file=sys.stderr),
        )
    )
    texts = [m.embedding_text() for m in memories]
    _, raw_s = timed(
        lambda: [
            encoder.encode(texts[i : i + args.batch_size])
            for i in range(0, len(texts), args.batch_size)
        ]
    )
    raw_rate = args.n / raw_s
    print(f"raw encoder: {raw_rate:.1f} memories/s", file=sys.stderr)

    def open_index() -> VectorIndex:
        if args.backend == "edge":
            return EdgeIndex(layout.qdrant_edge_dir)
        return QdrantIndex(path=layout.qdrant_dir)

    folder = layout.qdrant_edge_dir if args.backend == "edge" else layout.qdrant_dir
    deps = SyncDeps(
        encoder_model=encoder.identity.model,
        encoder_factory=lambda: encoder,
        index_factory=open_index,
        index_id=args.backend,
        batch_size=args.batch_size,
        index_seal=lambda: tree_seal(folder, skip=(".owner.lock",)),  # as service.wiring does
    )
    cold, cold_s = timed(lambda: run_sync(layout, SyncOptions(), deps))
    assert cold["counts"]["added"] == args.n, cold["counts"]
    cold_rate = args.n / cold_s
    print(f"cold sync: {cold_rate:.1f} memories/s", file=sys.stderr)

    noop, noop_s = timed(lambda: run_sync(layout, SyncOptions(), deps))
    assert noop["counts"]["unchanged"] == args.n, noop["counts"]
    _, noop2_s = timed(lambda: run_sync(layout, SyncOptions(), deps))
    cli_t0 = time.perf_counter()
    cli = subprocess.run(
        [sys.executable, "-m", "service", "sync", "--json"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(work),
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
            "MEMSYNC_QDRANT_MODE": args.backend,
            "MEMSYNC_MODEL_BACKEND": args.encoder,
        },
    )
    cli_s = time.perf_counter() - cli_t0
    assert json.loads(cli.stdout)["counts"]["unchanged"] == args.n

    target = next(layout.memory_dir.rglob("*.md"))
    target.write_text(target.read_text().replace("latency", "throughput", 1))
    one, one_s = timed(lambda: run_sync(layout, SyncOptions(), deps))
    assert one["counts"]["updated"] == 1, one["counts"]
    # what a sync pays when the index was touched behind its back: the point count
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    check, check_s = timed(
        lambda: check_index(
            checkpoint,
            index_id=deps.index_id,
            encoder_model=deps.encoder_model,
            index_exists=folder.exists,
            index_factory=open_index,
        )
    )
    assert check.points == args.n, check
    _, seal_s = timed(deps.index_seal)

    figures = {
        "n": args.n,
        "backend": args.backend,
        "encoder": args.encoder,
        "batch_size": args.batch_size,
        "model_load_s": round(load_s, 2),
        "raw_encoder_per_s": round(raw_rate, 1),
        "cold_sync_s": round(cold_s, 1),
        "cold_sync_per_s": round(cold_rate, 1),
        "cold_to_raw_ratio": round(cold_rate / raw_rate, 3),
        "cold_sync_timings_s": cold["timings_s"],
        "noop_resync_s": round(noop_s, 3),
        "noop_resync_again_s": round(noop2_s, 3),
        "noop_resync_cli_s": round(cli_s, 3),
        "one_change_resync_s": round(one_s, 3),
        "one_change_timings_s": one["timings_s"],
        "index_count_check_s": round(check_s, 3),
        "index_seal_s": round(seal_s, 4),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"memories                      {args.n} ({args.backend} index, {args.encoder})")
        print(f"model load                    {load_s:.1f} s")
        print(f"raw encoder throughput        {raw_rate:.1f} memories/s")
        print(
            f"cold sync                     {cold_s:.1f} s = {cold_rate:.1f} memories/s "
            f"({100 * cold_rate / raw_rate:.1f}% of raw encoder)"
        )
        print(
            f"no-op re-sync (in-process)    {noop_s * 1000:.0f} ms, again {noop2_s * 1000:.0f} ms"
        )
        print(f"no-op re-sync (memsync sync)  {cli_s * 1000:.0f} ms (process start included)")
        print(
            f"one-change re-sync            {one_s * 1000:.0f} ms "
            f"(opening the index {one['timings_s'].get('open_index', 0):.2f} s of it)"
        )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
