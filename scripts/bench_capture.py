#!/usr/bin/env python3
"""Benchmark offline-mode capture on the real transcripts of the shared data.

Three measurements, each repeated ``--repeat`` times (the table shows the median):

(a) extraction only: discover, parse, redact, strip echo and extract (OfflineExtractor) every
    session of every agent, in memory: sessions/s, messages/s, candidates/s.
(b) a full capture into a fresh store: `memsync init` in a temporary folder, a config whose
    [sources] point at copies of the data (window "all"), then what `memsync sync` runs,
    in-process (capture_and_index, the model loaded beforehand and timed apart): seconds,
    sessions/s, candidates/s and the split from the report's timings (read + extract,
    dedup with its embedding, indexing the written memories).
(c) the same sync again, in-process and as a `memsync sync --json` process: seconds, and
    what it opened (audit hook on open()): it must read no source and write no memory.

Agents map to data folders as in scripts/parse_transcripts.py. Exits 0 with a message when
the shared data is absent.

    .venv/bin/python scripts/bench_capture.py [--data DIR] [--repeat N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from parse_transcripts import DEFAULT_DATA, roots_for  # noqa: E402

from sync.capture.extraction.echo import strip_echo  # noqa: E402
from sync.capture.extraction.offline import OfflineExtractor  # noqa: E402
from sync.capture.redact import redact_transcript  # noqa: E402
from sync.capture.sources import adapter  # noqa: E402
from sync.capture.sources.base import AGENTS  # noqa: E402


class OpenWatch:
    """Counts files opened under the sources copy (reads) and the store (writes)."""

    def __init__(self, sources: Path, store: Path) -> None:
        self.sources, self.store = str(sources), str(store)
        self.active = False
        self.reads: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active or event not in ("open", "sqlite3.connect"):
            return
        path = os.fsdecode(args[0]) if isinstance(args[0], str | bytes | os.PathLike) else ""
        if path.startswith("file:"):  # a SQLite URI
            path = path[5:].split("?", 1)[0]
        if path.startswith(self.sources):
            self.reads[path] += 1
        elif path.startswith(self.store) and event == "open" and _writes(args):
            self.writes[os.path.relpath(path, self.store)] += 1

    @contextmanager
    def watching(self) -> Iterator[None]:
        self.reads.clear()
        self.writes.clear()
        self.active = True
        try:
            yield
        finally:
            self.active = False


def _writes(args: tuple[Any, ...]) -> bool:
    mode, flags = (*args, None, None)[1:3]
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & (os.O_WRONLY | os.O_RDWR))


# -- (a) extraction only -----------------------------------------------------------------------


def extract_only(data: Path) -> dict[str, Any]:
    """Discover, parse, redact, strip echo and extract every session; figures per agent."""
    extractor = OfflineExtractor()
    per_agent: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    for agent in AGENTS:
        source, row = adapter(agent), Counter[str]()
        for root in roots_for(data, agent):
            for item in source.discover(root):
                transcript, _ = redact_transcript(source.parse(item))
                transcript = strip_echo(transcript)
                found = extractor.extract(transcript)
                row["sessions"] += 1
                row["messages"] += len(transcript.messages)
                row["candidates"] += len(found)
                row.update(f"kind_{c.kind}" for c in found)
        per_agent[agent] = dict(row)
    seconds = time.perf_counter() - t0
    total = sum((Counter(r) for r in per_agent.values()), Counter[str]())
    return {"seconds": round(seconds, 3), **rates(total, seconds), "agents": per_agent}


def rates(total: Counter[str], seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = dict(sorted(total.items()))
    for name in ("sessions", "messages", "candidates"):
        out[f"{name}_per_s"] = round(total[name] / seconds, 1) if seconds else None
    return out


# -- (b) + (c) full capture --------------------------------------------------------------------


def make_store(data: Path, work: Path) -> dict[str, list[str]]:
    """`memsync init` in ``work`` and a config whose [sources] point at copies of the data."""
    roots: dict[str, list[str]] = {}
    for agent in AGENTS:
        for i, root in enumerate(roots_for(data, agent)):
            copy = work / "sources" / agent / f"{i:02d}-{root.name}"
            shutil.copytree(root, copy)
            roots.setdefault(agent, []).append(str(copy))
    cli(["init"], work)
    lines = ["[sources]", f"agents = {json.dumps(list(roots))}", 'window = "all"']
    lines += [f"{agent} = {json.dumps(paths)}" for agent, paths in roots.items()]
    (work / ".memsync" / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return roots


def cli(args: list[str], work: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )


def capture_runner(work: Path, encoder: Any) -> Callable[[], dict[str, Any]]:
    """What `memsync sync` does in-process, with the already loaded encoder."""
    from service.capture_wiring import capture_deps, capture_options
    from service.settings import load_settings, locate_store
    from service.wiring import sync_deps
    from sync.capture.combined import capture_and_index
    from sync.index.engine import SyncOptions

    env = {"HOME": str(work)}
    layout = locate_store(work, env)
    settings = load_settings(layout, env)

    def run() -> dict[str, Any]:
        deps = sync_deps(settings, layout)
        deps.encoder_factory = lambda: encoder
        cdeps = capture_deps(settings, layout, deps)
        opts = capture_options(settings, {"all_projects": True}, deps.clock(), layout=layout)
        return capture_and_index(layout, opts, SyncOptions(), cdeps)

    return run


def full_capture(data: Path, encoder: Any) -> dict[str, Any]:
    """A cold capture into a fresh store, then the same sync again (in-process and CLI)."""
    work = Path(tempfile.mkdtemp(prefix="memsync-capture-"))
    try:
        make_store(data, work)
        watch = OpenWatch(work / "sources", work / ".memsync")
        run = capture_runner(work, encoder)
        with watch.watching():
            t0 = time.perf_counter()
            first = run()
            cold_s = time.perf_counter() - t0
        cold_reads = len(watch.reads)
        raw_s, texts = raw_encode(work / ".memsync" / "memory", encoder)
        with watch.watching():
            t0 = time.perf_counter()
            second = run()
            again_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        by_cli = json.loads(cli(["sync", "--json"], work).stdout)
        cli_s = time.perf_counter() - t0
        return {
            "cold": cold_figures(first, cold_s, cold_reads)
            | {"raw_encode_written_s": round(raw_s, 3), "raw_encode_texts": texts},
            "again": again_figures(second, again_s, watch),
            "again_cli": {
                "seconds": round(cli_s, 3),
                "read": by_cli["capture"]["counts"]["read"],
                "written": len(by_cli["capture"]["written"]),
                "indexed": by_cli["counts"]["added"] + by_cli["counts"]["updated"],
            },
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def raw_encode(memory_dir: Path, encoder: Any) -> tuple[float, int]:
    """Seconds the bare encoder takes on the texts the index pass embedded (for comparison)."""
    from sync.store.markdown import parse_memory

    texts = [
        parse_memory(p.read_text(encoding="utf-8"), str(p)).embedding_text()
        for p in sorted(memory_dir.rglob("*.md"))
        if "archived" not in p.parts
    ]
    t0 = time.perf_counter()
    encoder.encode(texts)
    return time.perf_counter() - t0, len(texts)


def cold_figures(report: dict[str, Any], seconds: float, reads: int) -> dict[str, Any]:
    cap = report["capture"]
    counts = cap["counts"]
    split = {
        "read_extract_s": cap["timings_s"]["read_extract"],
        "dedup_embed_s": cap["timings_s"]["dedup"],
        "write_s": round(
            cap["timings_s"]["total"]
            - cap["timings_s"]["read_extract"]
            - cap["timings_s"]["dedup"],
            3,
        ),
        "index_s": report["timings_s"]["total"],
    }
    return {
        "seconds": round(seconds, 3),
        "sessions": counts["read"],
        "sessions_per_s": round(counts["read"] / seconds, 1),
        "candidates": counts["candidates"],
        "candidates_per_s": round(counts["candidates"] / seconds, 1),
        "verdicts": {k: counts[k] for k in ("added", "updated", "noop", "summaries")},
        "failed": counts["failed"],
        "written": len(set(cap["written"])),
        "indexed": report["counts"]["added"],
        "source_files_opened": reads,
        "split_s": split,
        "index_timings_s": report["timings_s"],
    }


def again_figures(report: dict[str, Any], seconds: float, watch: OpenWatch) -> dict[str, Any]:
    cap = report["capture"]["counts"]
    return {
        "seconds": round(seconds, 3),
        "read": cap["read"],
        "unchanged": cap["unchanged"],
        "candidates": cap["candidates"],
        "written": len(report["capture"]["written"]),
        "indexed": report["counts"]["added"] + report["counts"]["updated"],
        "source_files_opened": len(watch.reads),
        "source_files_opened_by_agent": dict(
            Counter(Path(p).relative_to(watch.sources).parts[0] for p in watch.reads)
        ),
        "store_files_written": sorted(watch.writes),
        "memory_files_written": sorted(p for p in watch.writes if p.startswith("memory/")),
    }


# -- output ------------------------------------------------------------------------------------


def median(runs: list[dict[str, Any]], *keys: str) -> float:
    values = []
    for run in runs:
        value: Any = run
        for key in keys:
            value = value[key]
        values.append(value)
    return round(statistics.median(values), 3)


def print_table(doc: dict[str, Any]) -> None:
    ex, full = doc["extract_only"], doc["full_capture"]
    last = ex[-1]
    print(f"runs: {doc['repeat']} (medians)   model load {doc['model_load_s']:.1f} s")
    print("(a) parse + redact + echo-strip + extract, in memory")
    print(f"  {'agent':<10} {'sessions':>8} {'messages':>9} {'candidates':>11}")
    for agent, row in last["agents"].items():
        print(
            f"  {agent:<10} {row.get('sessions', 0):>8} {row.get('messages', 0):>9}"
            f" {row.get('candidates', 0):>11}"
        )
    print(
        f"  all: {median(ex, 'seconds'):.3f} s = {median(ex, 'sessions_per_s'):.0f} sessions/s,"
        f" {median(ex, 'messages_per_s'):.0f} messages/s,"
        f" {median(ex, 'candidates_per_s'):.0f} candidates/s"
    )
    cold = full[-1]["cold"]
    print("(b) full capture into a fresh store (in-process, model preloaded)")
    print(
        f"  {median(full, 'cold', 'seconds'):.2f} s: {cold['sessions']} sessions"
        f" ({median(full, 'cold', 'sessions_per_s'):.1f}/s), {cold['candidates']} candidates"
        f" ({median(full, 'cold', 'candidates_per_s'):.1f}/s); verdicts {cold['verdicts']},"
        f" {cold['written']} files written, {cold['indexed']} indexed"
    )
    split = {k: median(full, "cold", "split_s", k) for k in cold["split_s"]}
    print("  split: " + ", ".join(f"{k} {v:.3f}" for k, v in split.items()))
    print(
        f"  bare encoder on the {cold['raw_encode_texts']} indexed texts:"
        f" {median(full, 'cold', 'raw_encode_written_s'):.3f} s"
    )
    again, by_cli = full[-1]["again"], full[-1]["again_cli"]
    print("(c) the same sync again")
    print(
        f"  in-process {median(full, 'again', 'seconds') * 1000:.0f} ms: read {again['read']},"
        f" candidates {again['candidates']}, written {again['written']},"
        f" indexed {again['indexed']}, memory files written {len(again['memory_files_written'])}"
    )
    folders = Counter(p.split("/", 1)[0] for p in again["store_files_written"])
    print(
        f"  source files opened: {again['source_files_opened']}"
        f" {again['source_files_opened_by_agent'] or ''}; store files opened for writing:"
        f" {dict(folders) or 'none'}"
    )
    print(
        f"  `memsync sync --json` process {median(full, 'again_cli', 'seconds') * 1000:.0f} ms:"
        f" read {by_cli['read']}, written {by_cli['written']}, indexed {by_cli['indexed']}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each measurement")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args()
    data: Path = args.data.resolve()
    if not data.is_dir() or not any(roots_for(data, a) for a in AGENTS):
        print(f"no transcripts under {data}; nothing to measure", file=sys.stderr)
        if args.json:
            print(json.dumps({"data": str(data), "present": False}))
        return 0
    from embeddings.encoder import SentenceTransformerEncoder

    t0 = time.perf_counter()
    encoder = SentenceTransformerEncoder("all-MiniLM-L6-v2")
    encoder.encode(["warm-up"])
    load_s = time.perf_counter() - t0
    repeat = max(1, args.repeat)
    doc = {
        "data": str(data),
        "present": True,
        "repeat": repeat,
        "model_load_s": round(load_s, 2),
        "extract_only": [extract_only(data) for _ in range(repeat)],
        "full_capture": [full_capture(data, encoder) for _ in range(repeat)],
    }
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print_table(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
