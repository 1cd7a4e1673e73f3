"""One owner of the embedded index: a reader that finds it busy touches nothing, a writer
waits a reader out, `kill -9`s of a writer with readers beside it lose and duplicate nothing,
and a file deleted while it sat in the retry queue takes its point with it."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from embeddings.edge_index import EdgeIndex
from sync.hashing import point_id
from sync.index.checkpoint import load_checkpoint, save_checkpoint
from sync.index.engine import SyncDeps, SyncOptions, run_sync
from sync.retry import RetryEntry
from sync.store import StoreLayout
from tests.conftest import REPO, memory_text, point_count, write_memory_file
from tests.index_writer import HashEncoder

ENV = {**os.environ, "PYTHONPATH": str(REPO)}
WRITER = [sys.executable, "-m", "tests.index_writer"]


def spawn(layout: StoreLayout, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*WRITER, str(layout.root), *flags],
        cwd=REPO,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def write(layout: StoreLayout, i: int, version: int = 0) -> None:
    write_memory_file(
        layout,
        f"learnings/n{i:04d}.md",
        memory_text(f"Learning {i}", f"Fixed step {i} (version {version}).", mid=f"n{i}"),
    )


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_a_reader_finds_the_index_busy_and_touches_nothing(layout: StoreLayout) -> None:
    for i in range(20):
        write(layout, i)
    assert subprocess.run([*WRITER, str(layout.root)], cwd=REPO, env=ENV).returncode == 0
    index = EdgeIndex(layout.qdrant_edge_dir)  # this process owns it now
    try:
        index.count(next(iter(index.collections())))
        before = tree(layout.qdrant_edge_dir)
        res = subprocess.run([*WRITER, str(layout.root), "--read-once"], cwd=REPO, env=ENV)
        assert res.returncode == 4  # busy, and not a byte of the shard was opened for it
        assert tree(layout.qdrant_edge_dir) == before
    finally:
        index.close()
    assert not (layout.qdrant_edge_dir / ".owner.lock").exists()  # released, nothing left
    res = subprocess.run([*WRITER, str(layout.root), "--read-once"], cwd=REPO, env=ENV)
    assert res.returncode == 0


def test_a_writer_waits_for_a_reader_to_finish(layout: StoreLayout) -> None:
    for i in range(10):
        write(layout, i)
    assert subprocess.run([*WRITER, str(layout.root)], cwd=REPO, env=ENV).returncode == 0
    for i in range(10, 30):
        write(layout, i)
    reader = EdgeIndex(layout.qdrant_edge_dir)
    reader.count(next(iter(reader.collections())))  # holds the folder while "searching"
    writer = spawn(layout)
    time.sleep(1.0)
    assert writer.poll() is None  # waiting, not failing
    reader.close()
    _, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert point_count(layout)[0] == 30


def _check_consistent(layout: StoreLayout) -> None:
    files = sorted(
        p.relative_to(layout.memory_dir).as_posix() for p in layout.memory_dir.rglob("*.md")
    )
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    assert sorted(checkpoint.entries) == files
    assert checkpoint.retry == {}
    total, ids = point_count(layout)
    expected = {point_id(f"n{int(Path(f).stem[1:])}") for f in files}
    assert total == len(ids) == len(files) and ids == expected  # none lost, none duplicated


@pytest.mark.slow
def test_kills_of_a_writer_with_readers_beside_it_lose_and_duplicate_nothing(
    layout: StoreLayout,
) -> None:
    """MEMSYNC_KILL_ROUNDS=60 for the figure in docs/benchmarks.md; 4 in the suite."""
    rounds = int(os.environ.get("MEMSYNC_KILL_ROUNDS", "4"))
    rng = random.Random(13)
    live = set(range(120))
    for i in live:
        write(layout, i)
    readers = [spawn(layout, "--reader") for _ in range(2)]
    killed, finished, next_id = 0, 0, 120
    try:
        for r in range(rounds):
            for i in rng.sample(sorted(live), 4):  # deletes, edits and new files each round
                (layout.memory_dir / f"learnings/n{i:04d}.md").unlink()
                live.discard(i)
            for i in rng.sample(sorted(live), 4):
                write(layout, i, version=r + 1)
            for _ in range(4):
                write(layout, next_id)
                live.add(next_id)
                next_id += 1
            writer = spawn(layout)
            time.sleep(rng.uniform(0.2, 1.6))
            if writer.poll() is None:
                writer.send_signal(signal.SIGKILL)
                killed += 1
            else:
                finished += 1
            _, err = writer.communicate(timeout=120)
            assert writer.returncode in (0, -signal.SIGKILL), err  # never a crash
        final = spawn(layout)
        _, err = final.communicate(timeout=300)
        assert final.returncode == 0, err
    finally:
        for reader in readers:
            reader.kill()
    outputs = [reader.communicate(timeout=30) for reader in readers]
    assert all("Traceback" not in err for _, err in outputs), outputs
    assert any("read" in out for out, _ in outputs)  # readers did get in between runs
    assert killed >= 1, (killed, finished)
    _check_consistent(layout)
    reads = sum(out.count("read") for out, _ in outputs)
    busy = sum(out.count("busy") for out, _ in outputs)
    print(f"\n{killed} kills, {finished} runs finished, readers: {reads} reads, {busy} busy")


def test_a_deleted_file_that_sat_in_the_retry_queue_loses_its_point(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    for i in range(3):
        write(layout, i)
    deps = make_deps()
    run_sync(layout, SyncOptions(), deps)
    # the run that wrote n1's point died before recording it: it sits in the retry queue
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    entry = checkpoint.entries.pop("learnings/n0001.md")
    checkpoint.retry["learnings/n0001.md"] = RetryEntry(
        "learnings/n0001.md", entry.raw_hash, "index write failed", False, 1, "x", "x", "x"
    )
    save_checkpoint(checkpoint, layout.checkpoint_path, layout.journal_path)
    assert point_id("n1") in point_count(layout)[1]
    (layout.memory_dir / "learnings/n0001.md").unlink()
    report = run_sync(layout, SyncOptions(), deps)
    deleted = {i["path"]: i["reason"] for i in report["items"] if i["action"] == "delete"}
    assert deleted["learnings/n0001.md"] == "file deleted; dropped from the retry queue"
    # the cheap count check (3 points for 2 memories) finds the same point: removed once
    check = report["index_check"]
    assert (check["expected"], check["points"], check["strays"]) == (2, 3, 1)
    assert check["problem"] in report["warnings"]
    total, ids = point_count(layout)
    assert total == 2 and point_id("n1") not in ids
    assert load_checkpoint(layout.checkpoint_path, layout.journal_path).retry == {}
    assert HashEncoder  # the writer helper the subprocess tests run
