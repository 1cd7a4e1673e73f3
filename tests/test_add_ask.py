"""`memsync add` (semantic dedup) and ask, with the real model and embedded Qdrant."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sync.capture.add import add_memory, new_candidate
from sync.dedup import DedupThresholds
from sync.index.engine import SyncDeps
from sync.models import collection_name
from sync.ports import SearchFilter
from sync.recall.retrieve import ask
from sync.store import StoreLayout
from sync.store.markdown import parse_memory
from tests.conftest import index_for, point_count
from tests.test_sync_integration import tree_digest

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
T = DedupThresholds()


def candidate(title: str, body: str, kind: str = "decision", tags: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    return new_candidate(
        kind=kind,
        title=title,
        body=body,
        tags=tags,
        confidence=0.7,
        source={"agent": "test"},
        now=NOW,
    )


QUEUE = (
    "Use PostgreSQL for the job queue",
    "We chose PostgreSQL with SKIP LOCKED over Redis because we already run Postgres.",
)


def test_add_then_exact_duplicate_is_a_noop(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    first = add_memory(layout, candidate(*QUEUE, tags=("db",)), make_deps(), T)
    assert first["action"] == "add" and first["sync"]["counts"]["added"] == 1
    path = layout.memory_dir / first["path"]
    assert first["path"].startswith("decisions/20261121-use-postgresql-for-the-job-queue")
    stored = parse_memory(path.read_text(), first["path"])
    assert stored.id == first["id"] and stored.tags == ("db",)
    again = add_memory(layout, candidate(QUEUE[0].upper(), QUEUE[1] + "!"), make_deps(), T)
    assert again["action"] == "noop" and "exact duplicate" in again["reason"]
    assert again["id"] == first["id"]
    assert point_count(layout)[0] == 1
    assert len(list(layout.memory_dir.rglob("*.md"))) == 1


def test_same_subject_updates_and_archives_the_previous_version(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    first = add_memory(layout, candidate(*QUEUE), make_deps(), T)
    related = candidate(
        "Use PostgreSQL for the job queue",
        "The job queue uses PostgreSQL with SKIP LOCKED instead of Redis; "
        "workers poll every second.",
    )
    result = add_memory(layout, related, make_deps(), T)
    assert result["action"] == "update", result
    assert result["id"] == first["id"] and result["path"] == first["path"]
    assert result["nearest"][0]["id"] == first["id"]
    merged = parse_memory((layout.memory_dir / first["path"]).read_text(), first["path"])
    assert "workers poll every second" in merged.body and "Redis" in merged.body
    archived = [p for p in result["written"] if p.startswith("archived/decisions/")]
    assert len(archived) == 1
    old = parse_memory((layout.memory_dir / archived[0]).read_text(), archived[0])
    assert old.superseded_by == first["id"] and "workers poll" not in old.body
    total, _ = point_count(layout)
    assert total == 2  # the live memory and its archived version
    encoder = make_deps().encoder_factory()
    index = index_for(layout, "edge")
    try:
        coll = collection_name("memsync", encoder.identity)
        live = ask(
            "which database runs the job queue",
            encoder=encoder,
            index=index,
            collection=coll,
            k=5,
            flt=SearchFilter(),
            memory_dir=layout.memory_dir,
        )["results"]
        assert [r["id"] for r in live] == [first["id"]]
        every = ask(
            "which database runs the job queue",
            encoder=encoder,
            index=index,
            collection=coll,
            k=5,
            flt=SearchFilter(include_archived=True),
            memory_dir=layout.memory_dir,
        )["results"]
        assert len(every) == 2
    finally:
        index.close()


def test_unrelated_memory_is_added(layout: StoreLayout, make_deps: Callable[..., SyncDeps]) -> None:
    add_memory(layout, candidate(*QUEUE), make_deps(), T)
    other = add_memory(
        layout,
        candidate("Pin ruff in CI", "Unpinned ruff broke the lint job.", kind="learning"),
        make_deps(),
        T,
    )
    assert other["action"] == "add" and other["path"].startswith("learnings/")
    assert other["nearest"] and other["nearest"][0]["score"] < T.update


def test_add_dry_run_decides_but_writes_nothing(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    add_memory(layout, candidate(*QUEUE), make_deps(), T)
    before = tree_digest(layout.root)
    result = add_memory(layout, candidate(*QUEUE), make_deps(), T, dry_run=True)
    assert result["action"] == "noop" and result["dry_run"]
    fresh = add_memory(
        layout, candidate("Brand new", "Nothing like it."), make_deps(), T, dry_run=True
    )
    assert fresh["action"] == "add" and "written" not in fresh
    assert tree_digest(layout.root) == before


def test_hostile_title_stays_inside_the_store(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    result = add_memory(layout, candidate("../../../../etc/cron.d/evil", "payload"), make_deps(), T)
    written = (layout.memory_dir / result["path"]).resolve()
    assert layout.memory_dir.resolve() in written.parents
    assert result["path"] == "decisions/20261121-etc-cron-d-evil.md"


def test_ask_filters_by_kind_and_tag(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps], tmp_path: Path
) -> None:
    add_memory(layout, candidate(*QUEUE, tags=("db",)), make_deps(), T)
    add_memory(
        layout,
        candidate(
            "Postgres connection pool size",
            "Keep the pool at 10 per worker; more starves the database.",
            kind="learning",
            tags=("db", "perf"),
        ),
        make_deps(),
        T,
    )
    encoder = make_deps().encoder_factory()
    index = index_for(layout, "edge")
    try:
        coll = collection_name("memsync", encoder.identity)

        def kinds(flt: SearchFilter) -> list[str]:
            res = ask(
                "postgres",
                encoder=encoder,
                index=index,
                collection=coll,
                k=5,
                flt=flt,
                memory_dir=layout.memory_dir,
            )["results"]
            assert all(r["path"] and r["title"] and r["snippet"] for r in res)
            return [r["kind"] for r in res]

        assert sorted(kinds(SearchFilter())) == ["decision", "learning"]
        assert kinds(SearchFilter(kinds=("learning",))) == ["learning"]
        assert kinds(SearchFilter(tags=("perf",))) == ["learning"]
        assert kinds(SearchFilter(tags=("db", "perf"))) == ["learning"]
        assert kinds(SearchFilter(tags=("nope",))) == []
    finally:
        index.close()
