"""Sync end to end with the real model and the real embedded Qdrant (local mode)."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from embeddings.encoder import SentenceTransformerEncoder, resolve_model_path
from embeddings.qdrant_index import QdrantIndex
from sync.errors import LockBusyError, RetryableError
from sync.index.checkpoint import load_checkpoint
from sync.index.engine import SyncDeps, SyncOptions, run_sync
from sync.lock import WriterLock
from sync.ports import IndexPoint
from sync.store import StoreLayout
from tests.conftest import Clock, index_for, memory_text, point_count, write_memory_file

MEMORIES = {
    "decisions/db.md": (
        "Use PostgreSQL for the job queue",
        "SKIP LOCKED gives us a transactional queue without Redis.",
    ),
    "decisions/api.md": ("Version the HTTP API in the URL", "Clients pin /v1/ and /v2/ paths."),
    "learnings/tests.md": (
        "Flaky tests came from shared temp dirs",
        "Use pytest's tmp_path fixture instead of /tmp.",
    ),
    "learnings/ci.md": (
        "CI cache key must include the lockfile hash",
        "Otherwise stale wheels are restored.",
    ),
}


@pytest.fixture(params=["edge", "local"])
def backend(request: pytest.FixtureRequest) -> str:
    """Every scenario here runs on both embedded backends."""
    return str(request.param)


def seed(layout: StoreLayout) -> None:
    for i, (rel, (title, body)) in enumerate(MEMORIES.items()):
        write_memory_file(layout, rel, memory_text(title, body, mid=f"m{i}"))


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its bytes' hash (and every folder)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "<dir>"
    return out


def indexed_state(layout: StoreLayout) -> dict[str, tuple[str, str, str]]:
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    return {p: (e.id, e.point_id, e.content_hash) for p, e in checkpoint.entries.items()}


def test_first_sync_indexes_everything_and_second_changes_nothing(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    seed(layout)
    first = run_sync(layout, SyncOptions(), make_deps())
    assert first["counts"]["added"] == 4 and first["counts"]["failed"] == 0
    assert point_count(layout)[0] == 4
    state_before = indexed_state(layout)
    loads: list[int] = []

    def no_model() -> SentenceTransformerEncoder:
        loads.append(1)
        raise AssertionError("a sync with nothing to do must not load the model")

    second = run_sync(layout, SyncOptions(), make_deps(encoder_factory=no_model))
    c = second["counts"]
    assert (c["added"], c["updated"], c["deleted"], c["unchanged"]) == (0, 0, 0, 4)
    assert loads == []
    assert point_count(layout)[0] == 4
    assert indexed_state(layout) == state_before
    assert not layout.journal_path.exists()
    reports = sorted(layout.reports_dir.glob("sync-*.json"))
    assert len(reports) == 2 and len(sorted(layout.reports_dir.glob("sync-*.md"))) == 2


def test_dry_run_writes_nothing_at_all(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps], tmp_path: Path
) -> None:
    seed(layout)
    run_sync(layout, SyncOptions(), make_deps())
    write_memory_file(layout, "decisions/new.md", memory_text("New", "A new decision.", mid="n"))
    (layout.memory_dir / "learnings/ci.md").unlink()
    before = tree_digest(layout.root)
    report = run_sync(layout, SyncOptions(dry_run=True), make_deps())
    assert tree_digest(layout.root) == before
    assert report["dry_run"] and "report_files" not in report
    c = report["counts"]
    assert (c["added"], c["deleted"], c["unchanged"]) == (1, 1, 3)
    assert report["storage"]["points_added"] == 1 and report["storage"]["points_removed"] == 1
    assert report["storage"]["bytes_added"] > 384 * 4
    reasons = {i["path"]: i["reason"] for i in report["items"]}
    assert reasons == {"decisions/new.md": "new file", "learnings/ci.md": "file deleted"}
    explicit = tmp_path / "preview.json"
    run_sync(layout, SyncOptions(dry_run=True, report_path=explicit), make_deps())
    assert explicit.exists() and explicit.with_suffix(".md").exists()
    assert tree_digest(layout.root) == before


def test_dry_run_on_a_fresh_store_does_not_create_the_index(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    seed(layout)
    before = tree_digest(layout.root)
    report = run_sync(layout, SyncOptions(dry_run=True), make_deps())
    assert report["counts"]["added"] == 4
    assert tree_digest(layout.root) == before
    assert not layout.qdrant_dir.exists() and not layout.qdrant_edge_dir.exists()


def test_modify_delete_and_rename(
    layout: StoreLayout,
    make_deps: Callable[..., SyncDeps],
    encoder: SentenceTransformerEncoder,
    backend: str,
) -> None:
    seed(layout)
    run_sync(layout, SyncOptions(), make_deps())
    _, ids_before = point_count(layout)
    write_memory_file(
        layout,
        "decisions/db.md",
        memory_text(
            "Use PostgreSQL for the job queue",
            "Changed: we moved to a dedicated queue table.",
            mid="m0",
        ),
    )
    (layout.memory_dir / "decisions/api.md").unlink()
    (layout.memory_dir / "learnings/tests.md").rename(layout.memory_dir / "learnings/moved.md")
    report = run_sync(layout, SyncOptions(), make_deps())
    actions = {i["path"]: (i["action"], i["reason"]) for i in report["items"]}
    assert actions["decisions/db.md"] == ("update", "content changed")
    assert actions["decisions/api.md"] == ("delete", "file deleted")
    assert actions["learnings/moved.md"] == ("update", "renamed from memory/learnings/tests.md")
    total, ids = point_count(layout)
    assert total == 3 and len(ids) == 3 and ids < ids_before
    index = index_for(layout, backend)
    try:
        collection = index.collections()[0]
        hits = index.search(collection, encoder.encode(["dedicated queue table"])[0], 1)
        assert hits[0].payload["path"] == "decisions/db.md"
        moved = index.find_by(collection, "memory_id", "m2")
        assert [h.payload["path"] for h in moved] == ["learnings/moved.md"]
    finally:
        index.close()


def test_encoder_change_reembeds_into_a_new_collection(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps], tmp_path: Path, backend: str
) -> None:
    seed(layout)
    run_sync(layout, SyncOptions(), make_deps())
    copy = tmp_path / "model-copy"
    shutil.copytree(resolve_model_path("all-MiniLM-L6-v2"), copy)
    other = SentenceTransformerEncoder(str(copy))
    deps = make_deps(encoder_model=other.identity.model, encoder_factory=lambda: other)
    report = run_sync(layout, SyncOptions(), deps)
    assert report["counts"]["updated"] == 4
    assert all(i["reason"].startswith("encoder changed") for i in report["items"])
    index = index_for(layout, backend)
    try:
        names = index.collections()
        assert names == [report["collection"]] and "model-copy" in names[0]
        assert index.count(names[0]) == 4
    finally:
        index.close()
    assert run_sync(layout, SyncOptions(), deps)["counts"]["unchanged"] == 4


class FlakyIndex:
    """The real index, except that writes of chosen points fail as if Qdrant timed out."""

    def __init__(self, inner: QdrantIndex, failing: set[str]) -> None:
        self.inner, self.failing = inner, failing

    def upsert(self, collection: str, points: Sequence[IndexPoint]) -> None:
        if any(p.payload["memory_id"] in self.failing for p in points):
            raise RetryableError("Qdrant timed out")
        self.inner.upsert(collection, points)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)


def test_failing_items_go_to_the_retry_queue_and_succeed_later(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps], clock: Clock, backend: str
) -> None:
    seed(layout)
    flaky = make_deps(index_factory=lambda: FlakyIndex(index_for(layout, backend), {"m1", "m3"}))
    first = run_sync(layout, SyncOptions(), flaky)
    assert first["counts"]["added"] == 2 and first["counts"]["failed"] == 2
    queue = {r["path"]: r for r in first["retry_queue"]}
    assert set(queue) == {"decisions/api.md", "learnings/ci.md"}
    assert (
        queue["decisions/api.md"]["attempts"] == 1
        and "timed out" in queue["decisions/api.md"]["error"]
    )
    assert "memsync retry" in first["failures"][0]["remediation"]
    assert point_count(layout)[0] == 2
    not_due = run_sync(layout, SyncOptions(), make_deps())
    assert not_due["counts"]["skipped"] == 2 and not_due["counts"]["retry_queue"] == 2
    clock.advance(61)
    healed = run_sync(layout, SyncOptions(), make_deps())
    assert healed["counts"]["added"] == 2 and healed["counts"]["retry_queue"] == 0
    assert point_count(layout)[0] == 4


def test_repeated_failures_dead_letter_and_retry_now_recovers(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps], clock: Clock, backend: str
) -> None:
    seed(layout)
    flaky = make_deps(index_factory=lambda: FlakyIndex(index_for(layout, backend), {"m1"}))
    for _ in range(3):  # max_attempts=3 in the test policy
        report = run_sync(layout, SyncOptions(), flaky)
        clock.advance(10_000)
    assert report["counts"]["dead_letters"] == 1 and report["retry_queue"][0]["dead"]
    assert run_sync(layout, SyncOptions(), make_deps())["counts"]["skipped"] == 1
    forced = run_sync(layout, SyncOptions(retry_now=True), make_deps())
    assert forced["counts"]["added"] == 1 and forced["counts"]["dead_letters"] == 0


def test_hostile_files_are_reported_and_nothing_stored_is_lost(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    seed(layout)
    run_sync(layout, SyncOptions(), make_deps())
    good = (layout.memory_dir / "decisions/db.md").read_bytes()
    write_memory_file(layout, "decisions/db.md", "---\ntitle: [broken\n---\nnow malformed\n")
    (layout.memory_dir / "decisions/binary.md").write_bytes(b"\x00\x01\x02binary")
    (layout.memory_dir / "decisions/huge.md").write_bytes(b"x" * (1024 * 1024 + 1))
    (layout.memory_dir / "decisions/latin1.md").write_bytes(b"caf\xe9")
    (layout.memory_dir / "decisions/escape.md").symlink_to("/etc/hostname")
    report = run_sync(layout, SyncOptions(), make_deps())
    errors = {f["path"]: f["error"] for f in report["failures"]}
    assert "invalid YAML frontmatter" in errors["decisions/db.md"]
    assert "binary" in errors["decisions/binary.md"]
    assert "limit is 1048576" in errors["decisions/huge.md"]
    assert "not UTF-8" in errors["decisions/latin1.md"]
    assert "outside" in errors["decisions/escape.md"]
    assert report["counts"]["deleted"] == 0
    total, _ = point_count(layout)
    assert total == 4  # the last good version of db.md stays searchable
    write_memory_file(layout, "decisions/db.md", good.decode())
    fixed = run_sync(layout, SyncOptions(), make_deps())
    assert "decisions/db.md" not in {r["path"] for r in fixed["retry_queue"]}


def test_a_second_writer_is_refused_while_the_lock_is_held(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    seed(layout)
    with WriterLock(layout.lock_path), pytest.raises(LockBusyError, match="another memsync"):
        run_sync(layout, SyncOptions(), make_deps())
    assert not layout.lock_path.exists()  # released and removed: nothing left behind
    assert run_sync(layout, SyncOptions(), make_deps())["counts"]["added"] == 4


def test_force_reembeds_and_removes_stray_points(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps], backend: str
) -> None:
    seed(layout)
    report = run_sync(layout, SyncOptions(), make_deps())
    index = index_for(layout, backend)
    stray = "00000000-0000-0000-0000-000000000001"
    index.upsert(report["collection"], [IndexPoint(stray, [0.1] * 384, {"memory_id": "ghost"})])
    index.close()
    forced = run_sync(layout, SyncOptions(force=True), make_deps())
    assert forced["counts"]["updated"] == 4 and forced["counts"]["deleted"] == 1
    total, ids = point_count(layout)
    assert total == 4 and stray not in ids


def test_same_size_edit_with_restored_mtime_is_still_seen(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    """A stat taken within the racy window of the last read is not trusted."""
    import os

    path = write_memory_file(layout, "decisions/x.md", memory_text("Pick A", "We pick A.", mid="x"))
    run_sync(layout, SyncOptions(), make_deps())
    st = path.stat()
    path.write_text(path.read_text().replace("We pick A.", "We pick B."))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    report = run_sync(layout, SyncOptions(), make_deps())
    assert report["counts"]["updated"] == 1


def test_unreachable_qdrant_server_queues_every_item_for_retry(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    """A real client against a closed loopback port: the run finishes, items are queued."""
    seed(layout)
    down = make_deps(index_factory=lambda: QdrantIndex(url="http://127.0.0.1:9", timeout=2))
    report = run_sync(layout, SyncOptions(), down)
    assert report["counts"]["failed"] == 4 and report["counts"]["retry_queue"] == 4
    failure = report["failures"][0]
    assert "unavailable" in failure["error"] and "Qdrant is reachable" in failure["remediation"]
    assert not any(r["permanent"] for r in report["retry_queue"])


QDRANT_URL = os.environ.get("MEMSYNC_TEST_QDRANT_URL", "")


@pytest.mark.skipif(not QDRANT_URL, reason="set MEMSYNC_TEST_QDRANT_URL to test a Qdrant server")
def test_sync_against_a_qdrant_server(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    seed(layout)
    prefix = f"memsync-test-{os.getpid()}"
    deps = make_deps(index_factory=lambda: QdrantIndex(url=QDRANT_URL), collection_prefix=prefix)
    try:
        assert run_sync(layout, SyncOptions(), deps)["counts"]["added"] == 4
        assert run_sync(layout, SyncOptions(), deps)["counts"]["unchanged"] == 4
    finally:
        index = QdrantIndex(url=QDRANT_URL)
        for name in index.collections():
            if name.startswith(prefix):
                index.drop_collection(name)
        index.close()
