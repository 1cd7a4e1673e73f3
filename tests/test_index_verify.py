"""Every sync checks the index against the checkpoint (a point count): a lost, truncated or
unreadable index is rebuilt from the markdown, points no memory accounts for are removed,
and `memsync status` says so before the next sync does it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from embeddings.edge_index import EdgeIndex
from service.settings import Settings
from service.status import store_status
from service.wiring import index_seal
from sync.hashing import point_id
from sync.index.engine import SyncDeps, SyncOptions, run_sync
from sync.ports import IndexPoint
from sync.store import StoreLayout
from tests.conftest import memory_text, point_count, write_memory_file

N = 12


def seed(layout: StoreLayout) -> None:
    for i in range(N):
        write_memory_file(
            layout,
            f"learnings/n{i:02d}.md",
            memory_text(f"Learning {i}", f"The build step {i} needed flag {i * 3}.", mid=f"n{i}"),
        )


def status_problem(layout: StoreLayout) -> str | None:
    health = store_status(layout, Settings())["index"]["health"]
    problem: str | None = health["problem"]
    return problem


@pytest.mark.parametrize("damage", ["folder", "segments", "config"])
def test_a_lost_or_damaged_index_is_noticed_and_rebuilt(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps], damage: str
) -> None:
    seed(layout)
    deps = make_deps(index_seal=lambda: index_seal("edge", layout))
    first = run_sync(layout, SyncOptions(), deps)
    assert first["counts"]["added"] == N and first["index_check"]["points"] is None
    assert status_problem(layout) is None
    # nothing touched the index since: the seal says so, no need to open it
    quiet = run_sync(layout, SyncOptions(), deps)
    assert quiet["index_check"]["unchanged_since_last_run"] is True
    assert "open_index" not in quiet["timings_s"]
    collection = next(p for p in layout.qdrant_edge_dir.iterdir() if p.is_dir())
    if damage == "folder":
        shutil.rmtree(layout.qdrant_edge_dir)
    elif damage == "segments":
        shutil.rmtree(collection / "segments")  # and what the WAL could have replayed
        shutil.rmtree(collection / "wal")
        (collection / "wal").mkdir()
    else:
        (collection / "edge_config.json").write_text("{not json", encoding="utf-8")
    problem = status_problem(layout)
    if damage != "config":  # status reads only: an unreadable index is left for the sync
        assert problem and "the next sync re-indexes" in problem, problem
    report = run_sync(layout, SyncOptions(), deps)
    assert report["counts"]["updated"] == N, report["warnings"]
    assert any("re-indexed from the markdown" in w for w in report["warnings"])
    reasons = {i["reason"] for i in report["items"]}
    assert reasons == {"its point was missing from the index; re-indexed from the markdown"}
    total, ids = point_count(layout)
    assert total == N and ids == {point_id(f"n{i}") for i in range(N)}
    again = run_sync(layout, SyncOptions(), deps)
    assert again["counts"]["unchanged"] == N and again["warnings"] == []
    assert again["index_check"]["unchanged_since_last_run"] is True
    assert status_problem(layout) is None
    counted = run_sync(layout, SyncOptions(), make_deps())  # without a seal: counted
    assert counted["index_check"]["points"] == N


def test_points_without_a_memory_are_removed(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps], tmp_path: Path
) -> None:
    seed(layout)
    deps = make_deps()
    report = run_sync(layout, SyncOptions(), deps)
    index = EdgeIndex(layout.qdrant_edge_dir)
    stray = "00000000-0000-4000-8000-00000000dead"
    index.upsert(report["collection"], [IndexPoint(stray, [1.0] + [0.0] * 383, {"path": "x"})])
    index.close()
    dry = run_sync(layout, SyncOptions(dry_run=True), deps)
    assert dry["index_check"]["strays"] == 1 and point_count(layout)[0] == N + 1
    report = run_sync(layout, SyncOptions(), deps)
    removed = [i for i in report["items"] if i["reason"] == "point without a memory file"]
    assert [i["path"] for i in removed] == [f"<point {stray}>"]
    assert point_count(layout)[0] == N
