#!/usr/bin/env python3
"""Cold start: whole-process wall time of memsync commands, with and without a running service.

For each store size (default 2,000 and 10,000 memories, generated as by bench_sync and indexed
by a real sync, kept under bench-out/ for the next run) it times, median of N runs (default 5)
after one discarded warm-up (the OS file cache is warm, the Python process always cold):
`memsync ask`, `memsync add --dry-run`, `memsync --help` and the bare `python -c pass` of the
same environment; `ask` also with `[model] backend = torch` for reference. Then it starts
`memsync serve` and times the same commands through it.

Then the two backends side by side on the evaluation sets (LoCoMo from ../shared/data, the
coding-memory set from scripts/data): every memory and question embedded by both, indexed in
two edge indexes, and each question's top 5 compared (hybrid and dense).

    .venv/bin/python scripts/bench_cold.py [--sizes 2000,10000] [--runs 5] [--skip-top5]
                                           [--locomo DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_sync import generate  # noqa: E402

from service.settings import Settings  # noqa: E402
from service.wiring import sync_deps  # noqa: E402
from sync.index.checkpoint import load_checkpoint  # noqa: E402
from sync.index.engine import SyncOptions, run_sync  # noqa: E402
from sync.store import StoreLayout, init_store  # noqa: E402

OUT = REPO / "bench-out"
QUESTIONS = [
    "which cache did we choose for the api layer?",
    "why did we reject Kafka for the queue?",
    "how did p95 latency change after the deploy migration?",
    "what did we pin for the tests tooling?",
    "which feature flag allows rolling back the logging change?",
    "when should we revisit the database decision?",
]
ADD = ["add", "--kind", "decision", "--title", "Use Redis for the api cache", "--dry-run"]
ADD_BODY = "We chose Redis for the api cache after comparing it with Memcached; p95 fell."


def store(n: int) -> Path:
    """A project folder whose store holds ``n`` memories, indexed by a real sync (reused)."""
    project = OUT / f"cold-{n}"
    layout = StoreLayout(project / ".memsync")
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    if len(checkpoint.entries) == n:
        return project
    shutil.rmtree(project, ignore_errors=True)
    layout, _ = init_store(layout.root)
    generate(layout.memory_dir, n)
    t0 = time.perf_counter()
    report = run_sync(layout, SyncOptions(), sync_deps(Settings(), layout))
    assert report["counts"]["added"] == n, report["counts"]
    print(f"indexed {n} memories in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return project


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMSYNC_")}
    return {**env, "HOME": str(home), "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}


def wall(cmd: list[str], cwd: Path, env: dict[str, str], runs: int) -> dict[str, float]:
    """Median and spread of ``runs`` cold processes (after one discarded warm-up), and their
    CPU time: on a shared machine the wall time includes waiting for a core."""
    samples, cpu = [], []
    for i in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
        if i:
            samples.append(elapsed)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return {
        "median_s": round(statistics.median(samples), 3),
        "min_s": round(min(samples), 3),
        "max_s": round(max(samples), 3),
        "cpu_s": round(statistics.median(cpu), 3),  # user + system, all threads
        "load": round(os.getloadavg()[0], 2),
    }


def commands(torch_too: bool) -> dict[str, list[str]]:
    memsync = [sys.executable, "-m", "service"]
    rows = {
        "memsync ask": [*memsync, "ask", QUESTIONS[0]],
        "memsync add --dry-run": [*memsync, *ADD, "--body", ADD_BODY],
        "memsync --help": [*memsync, "--help"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    if torch_too:
        rows["memsync ask (backend torch)"] = rows["memsync ask"]
    return rows


def measure(project: Path, env: dict[str, str], runs: int, *, served: bool) -> dict[str, Any]:
    out = {}
    for name, cmd in commands(torch_too=not served).items():
        use = {**env, "MEMSYNC_MODEL_BACKEND": "torch"} if "torch" in name else env
        out[name] = wall(cmd, project, use, runs)
        row = out[name]
        print(
            f"  {name:30} {row['median_s']:.3f} s (cpu {row['cpu_s']:.3f} s, load {row['load']})",
            file=sys.stderr,
        )
    return out


def with_service(project: Path, env: dict[str, str], runs: int) -> dict[str, Any]:
    info = project / ".memsync" / "service.json"
    server = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", "0", "--sync-every", "0"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        t0 = time.perf_counter()
        while not info.exists() and server.poll() is None and time.perf_counter() - t0 < 300:
            time.sleep(0.05)
        if not info.exists():
            raise SystemExit("memsync serve did not start")
        started = time.perf_counter() - t0
        print(f"  service up in {started:.1f} s", file=sys.stderr)
        return {"service_start_s": round(started, 2), **measure(project, env, runs, served=True)}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2000,10000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-top5", action="store_true")
    ap.add_argument("--locomo", type=Path, default=REPO.parent / "shared" / "data" / "locomo")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="memsync-cold-home-"))
    env = environment(home)
    figures: dict[str, Any] = {"runs": args.runs, "cpus": os.cpu_count(), "sizes": {}}
    figures["load_before"] = os.getloadavg()[0]
    for n in (int(s) for s in args.sizes.split(",")):
        project = store(n)
        print(f"{n} memories, no service:", file=sys.stderr)
        cold = measure(project, env, args.runs, served=False)
        print(f"{n} memories, through a running service:", file=sys.stderr)
        figures["sizes"][n] = {"no_service": cold, "service": with_service(project, env, args.runs)}
    figures["load_after"] = os.getloadavg()[0]
    if not args.skip_top5:
        from bench_backends import compare_backends

        figures["top5"] = compare_backends(args.locomo)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_table(figures)
    return 0


def print_table(figures: dict[str, Any]) -> None:
    print(f"whole-process wall time, median of {figures['runs']} (s); {figures['cpus']} CPUs")
    for n, by in figures["sizes"].items():
        print(f"{n} memories (service started in {by['service']['service_start_s']} s):")
        for name, row in by["no_service"].items():
            served = by["service"].get(name, {}).get("median_s")
            via = f"{served:7.3f}" if served is not None else "      -"
            print(
                f"  {name:30} no service {row['median_s']:7.3f} (cpu {row['cpu_s']:.3f})"
                f"   via service {via}"
            )
    for name, result in figures.get("top5", {}).items():
        print(f"{name}: {json.dumps(result)}")


if __name__ == "__main__":
    sys.exit(main())
