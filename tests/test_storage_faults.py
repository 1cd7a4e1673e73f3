"""A full or failing disk ends a run with a clear message and exit code 1, and tears
nothing: atomic writes keep the old file whole and leave no temporary file, the journal is
cut back to whole batches, the embedded index refuses to write before its memory-mapped
files could crash the process; the next run, with room again, finishes the work."""

from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from embeddings.edge_index import EdgeIndex
from sync.errors import StorageError
from sync.fsutil import atomic_write_bytes
from sync.index.checkpoint import Journal, load_checkpoint
from sync.index.engine import SyncDeps, SyncOptions, run_sync
from sync.store import StoreLayout
from tests.conftest import MEMSYNC, REPO, cli_env, memory_text, point_count, write_memory_file


def _no_space(*_: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_an_atomic_write_on_a_full_disk_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old and whole")
    monkeypatch.setattr(os, "fsync", _no_space)
    with pytest.raises(StorageError, match=r"cannot write .*state\.json: No space left"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old and whole"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no .tmp left


def test_a_journal_batch_that_cannot_be_written_is_cut_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    journal.record({"op": "deleted", "path": "a.md"})
    journal.commit()
    size = journal.path.stat().st_size
    journal.record({"op": "deleted", "path": "b.md"})
    monkeypatch.setattr(os, "fsync", _no_space)
    with pytest.raises(StorageError, match=r"journal\.jsonl"):
        journal.commit()
    monkeypatch.undo()
    journal.close()
    assert journal.path.stat().st_size == size  # whole lines only


def _seed(layout: StoreLayout, start: int, stop: int) -> None:
    for i in range(start, stop):
        write_memory_file(
            layout,
            f"learnings/n{i:04d}.md",
            memory_text(f"Learning {i}", f"Step {i} needed flag {i}. " * 12, mid=f"n{i}"),
        )


def test_the_index_refuses_to_write_on_a_nearly_full_disk(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    _seed(layout, 0, 5)
    run_sync(layout, SyncOptions(), make_deps())
    _seed(layout, 5, 10)
    before = layout.checkpoint_path.read_bytes()

    def cramped() -> EdgeIndex:
        index = EdgeIndex(layout.qdrant_edge_dir)
        index.min_free = 1 << 60  # "the disk holds less than that"
        return index

    with pytest.raises(StorageError, match="MiB free on the disk"):
        run_sync(layout, SyncOptions(), make_deps(index_factory=cramped))
    assert layout.checkpoint_path.read_bytes() == before
    assert point_count(layout)[0] == 5  # untouched
    report = run_sync(layout, SyncOptions(), make_deps())
    assert report["counts"]["added"] == 5 and point_count(layout)[0] == 10


@pytest.mark.slow
def test_sync_at_a_file_size_limit_exits_1_and_the_next_one_finishes(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps], tmp_path: Path
) -> None:
    """A real limit (RLIMIT_FSIZE, as `ulimit -f` sets it): the journal outgrows it."""
    _seed(layout, 0, 10)
    run_sync(layout, SyncOptions(), make_deps())
    before = layout.checkpoint_path.read_bytes()
    _seed(layout, 10, 260)
    limit = 48 * 1024

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**cli_env(tmp_path), "PYTHONPATH": str(REPO), "MEMSYNC_BATCH_SIZE": "16"}
    res = subprocess.run(
        [*MEMSYNC, "sync", "--json"],
        cwd=layout.root.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=cap,
    )
    assert res.returncode == 1, res.stderr
    error = json.loads(res.stdout)["error"]
    assert error["type"] == "StorageError" and "File too large" in error["message"]
    assert "nothing already stored was lost" in res.stderr
    assert layout.checkpoint_path.read_bytes() == before  # whole, as it was
    assert not list(layout.root.rglob("*.tmp"))
    journal = layout.journal_path.read_text(encoding="utf-8")
    assert journal.endswith("\n") and len(journal.encode()) <= limit
    recovered = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    assert 10 < len(recovered.entries) < 260 and not recovered.warnings
    report = run_sync(layout, SyncOptions(), make_deps())
    assert report["recovered_interrupted_run"] and report["counts"]["failed"] == 0
    total, ids = point_count(layout)
    assert total == len(ids) == 260
