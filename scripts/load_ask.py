#!/usr/bin/env python3
"""Bounded loopback load test: concurrent asks (wrk) while a sync writes, on a real service.

A store with N indexed memories (default 10,000, as in bench_ask.py) is served by
`memsync serve`; wrk sends `POST /api/ask` on C connections for D seconds while, a few
seconds in, M new memory files are synced through `POST /api/sync`. Afterwards it checks
that nothing was lost (every new memory indexed and findable) and prints wrk's figures.
Traffic goes to 127.0.0.1 only and stops by itself.

    .venv/bin/python scripts/load_ask.py [--n 10000] [--new 300] [--seconds 30] [--json]
Needs wrk (Debian package `wrk`).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_ask import build_store, start_service  # noqa: E402
from bench_index import DATA, corpus, embed_cached  # noqa: E402

from embeddings.encoder import DEFAULT_MODEL  # noqa: E402
from sync.models import Memory  # noqa: E402
from sync.store import StoreLayout, write_memory  # noqa: E402

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local questions = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, "/api/ask", nil, questions[(i %% #questions) + 1])
end
"""


def parse_wrk(text: str) -> dict[str, object]:
    def grab(pattern: str) -> str | None:
        match = re.search(pattern, text)
        return match.group(1) if match else None

    return {
        "requests": int(grab(r"(\d+) requests in") or 0),
        "requests_per_s": float(grab(r"Requests/sec:\s+([\d.]+)") or 0),
        "latency_p50": grab(r"50%\s+(\S+)"),
        "latency_p90": grab(r"90%\s+(\S+)"),
        "latency_p99": grab(r"99%\s+(\S+)"),
        "non_2xx": int(grab(r"Non-2xx or 3xx responses: (\d+)") or 0),
        "socket_errors": grab(r"Socket errors: (.+)"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--new", type=int, default=300)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    texts, questions, _ = corpus(args.n, 100, DATA)
    vectors = embed_cached(texts, REPO / "bench-out")
    work = Path(tempfile.mkdtemp(prefix="memsync-load-"))
    build_store(work, texts, vectors, DEFAULT_MODEL)
    layout = StoreLayout(work / ".memsync")

    import httpx

    server, url = start_service(work)
    try:
        bodies = ", ".join(json.dumps(json.dumps({"question": q, "k": 5})) for q in questions[:50])
        script = work / "ask.lua"
        script.write_text(LUA % bodies)
        wrk = subprocess.Popen(
            [
                "wrk",
                "-t2",
                f"-c{args.connections}",
                f"-d{args.seconds}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        sync_result: dict[str, object] = {}

        def write_then_sync() -> None:
            time.sleep(5)
            for i in range(args.new):
                write_memory(
                    layout.memory_dir,
                    f"learnings/load-{i:04d}.md",
                    Memory(
                        id=f"load-{i}",
                        kind="learning",
                        title=f"Load test learning {i}",
                        body=f"Release {i} needed the cache warmed before traffic {i * 13}.",
                    ),
                )
            t0 = time.perf_counter()
            report = httpx.post(url + "/api/sync", json={}, timeout=600).json()
            sync_result.update(seconds=round(time.perf_counter() - t0, 1), counts=report["counts"])

        writer = threading.Thread(target=write_then_sync)
        writer.start()
        out, _ = wrk.communicate(timeout=args.seconds + 120)
        writer.join(timeout=600)
        status = httpx.get(url + "/api/status", timeout=30).json()
        found = httpx.post(
            url + "/api/ask",
            json={"question": f"Release {args.new - 1} needed the cache warmed", "k": 3},
            timeout=30,
        ).json()
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    figures = {
        "memories": args.n,
        "connections": args.connections,
        "seconds": args.seconds,
        "wrk": parse_wrk(out),
        "sync_during_load": sync_result,
        "indexed_after": status["indexed"],
        "new_memory_found": f"load-{args.new - 1}" in {r["id"] for r in found["results"]},
    }
    ok = (
        sync_result.get("counts", {}).get("added") == args.new  # type: ignore[union-attr]
        and status["indexed"] == args.new
        and figures["new_memory_found"]
        and figures["wrk"]["non_2xx"] == 0
    )  # type: ignore[index]
    figures["nothing_lost"] = ok
    print(
        json.dumps(figures, indent=2)
        if args.json
        else "\n".join(f"{k}: {v}" for k, v in figures.items())
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
