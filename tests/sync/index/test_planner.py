"""The planner is pure: these tests feed it scans and checkpoints, no disk or model."""

from __future__ import annotations

import datetime as dt

from sync.hashing import content_hash, point_id
from sync.index.checkpoint import Checkpoint, IndexedEntry
from sync.index.planner import PlanOptions, must_read_all, plan_sync
from sync.models import Action, EncoderIdentity, ScannedFile, collection_name
from sync.retry import RetryPolicy
from sync.store.markdown import parse_memory

MODEL = "test-model"
NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
OPTS = PlanOptions(MODEL)


def scanned(path: str, mid: str, body: str = "body") -> ScannedFile:
    memory = parse_memory(f"---\nid: {mid}\ntitle: {mid}\n---\n{body}", path)
    return ScannedFile(
        path, 1, 10, raw_hash=f"raw-{mid}-{body}", content_hash=content_hash(memory), memory=memory
    )


def indexed(sf: ScannedFile, model: str = MODEL) -> IndexedEntry:
    assert sf.memory is not None
    return IndexedEntry(
        sf.memory.id,
        point_id(sf.memory.id),
        sf.content_hash or "",
        sf.raw_hash or "",
        1,
        10,
        0,
        model,
        "decision",
        100,
    )


def checkpoint_of(*files: ScannedFile, model: str = MODEL) -> Checkpoint:
    return Checkpoint(
        encoder=EncoderIdentity(model, 384),
        collection=collection_name("memsync", EncoderIdentity(model, 384)),
        entries={sf.path: indexed(sf, model) for sf in files},
    )


def actions(plan) -> dict[str, Action]:  # type: ignore[no-untyped-def]
    return {item.path: item.action for item in plan.items}


def test_new_modified_deleted_unchanged() -> None:
    a, b, c = scanned("d/a.md", "a"), scanned("d/b.md", "b"), scanned("d/c.md", "c")
    cp = checkpoint_of(a, b, c)
    plan = plan_sync([a, scanned("d/b.md", "b", "edited"), scanned("d/new.md", "n")], cp, OPTS, NOW)
    assert actions(plan) == {
        "d/a.md": Action.UNCHANGED,
        "d/b.md": Action.UPDATE,
        "d/c.md": Action.DELETE,
        "d/new.md": Action.ADD,
    }
    delete = next(i for i in plan.items if i.action is Action.DELETE)
    assert delete.point_id == point_id("c")
    assert not plan.reembed_all


def test_nothing_to_do_needs_no_encoder_and_no_index() -> None:
    a = scanned("d/a.md", "a")
    plan = plan_sync([a], checkpoint_of(a), OPTS, NOW)
    assert not plan.needs_encoder and not plan.needs_index


def test_older_collection_schema_reindexes_everything() -> None:
    a, b = scanned("d/a.md", "a"), scanned("d/b.md", "b")
    cp = checkpoint_of(a, b)
    cp.collection = "memsync-all-minilm-l6-v2-384"  # before lexical vectors existed
    plan = plan_sync([a, b], cp, OPTS, NOW)
    assert actions(plan) == {"d/a.md": Action.UPDATE, "d/b.md": Action.UPDATE}
    assert all("index schema changed" in i.reason for i in plan.items)


def test_rename_keeps_the_point_and_takes_over_the_entry() -> None:
    a = scanned("d/a.md", "a")
    moved = scanned("d/renamed.md", "a")
    plan = plan_sync([moved], checkpoint_of(a), OPTS, NOW)
    assert actions(plan) == {"d/renamed.md": Action.UPDATE}
    item = plan.items[0]
    assert item.replaces_path == "d/a.md" and item.stale_point_id is None
    assert "renamed" in item.reason


def test_changed_id_removes_the_old_point() -> None:
    a = scanned("d/a.md", "a")
    plan = plan_sync([scanned("d/a.md", "a2")], checkpoint_of(a), OPTS, NOW)
    assert plan.items[0].stale_point_id == point_id("a")


def test_duplicate_ids_fail_the_newcomer_not_the_indexed_file() -> None:
    a = scanned("d/z.md", "same")
    copy = scanned("d/a-copy.md", "same", "other text")
    plan = plan_sync([a, copy], checkpoint_of(a), OPTS, NOW)
    assert actions(plan) == {"d/z.md": Action.UNCHANGED, "d/a-copy.md": Action.FAIL}
    assert "d/z.md" in (plan.items[0].error or "")


def test_unparseable_file_fails_and_keeps_its_old_point() -> None:
    a = scanned("d/a.md", "a")
    broken = ScannedFile("d/a.md", 2, 11, raw_hash="r2", error="invalid YAML")
    plan = plan_sync([broken], checkpoint_of(a), OPTS, NOW)
    assert actions(plan) == {"d/a.md": Action.FAIL}


def test_retry_waits_for_backoff_then_goes_and_dead_letters_stay() -> None:
    policy = RetryPolicy(max_attempts=2, base_delay_s=60)
    new = scanned("d/n.md", "n")
    cp = Checkpoint()
    cp.retry["d/n.md"] = policy.after_failure("d/n.md", new.raw_hash, "down", False, None, NOW)
    assert actions(plan_sync([new], cp, OPTS, NOW)) == {"d/n.md": Action.SKIP}
    later = NOW + dt.timedelta(seconds=61)
    assert actions(plan_sync([new], cp, OPTS, later)) == {"d/n.md": Action.ADD}
    cp.retry["d/n.md"] = policy.after_failure(
        "d/n.md", new.raw_hash, "down", False, cp.retry["d/n.md"], later
    )
    assert cp.retry["d/n.md"].dead
    far = NOW + dt.timedelta(days=30)
    assert actions(plan_sync([new], cp, OPTS, far)) == {"d/n.md": Action.SKIP}
    assert actions(plan_sync([new], cp, PlanOptions(MODEL, retry_now=True), far)) == {
        "d/n.md": Action.ADD
    }
    edited = scanned("d/n.md", "n", "fixed body")
    assert actions(plan_sync([edited], cp, OPTS, far)) == {"d/n.md": Action.ADD}


def test_encoder_change_and_force_reembed_everything() -> None:
    a, b = scanned("d/a.md", "a"), scanned("d/b.md", "b")
    cp = checkpoint_of(a, b, model="old-model")
    assert must_read_all(cp, OPTS)
    plan = plan_sync([a, b], cp, OPTS, NOW)
    assert plan.reembed_all and set(actions(plan).values()) == {Action.UPDATE}
    assert "encoder changed" in plan.items[0].reason
    forced = plan_sync([a, b], checkpoint_of(a, b), PlanOptions(MODEL, force=True), NOW)
    assert set(actions(forced).values()) == {Action.UPDATE}


def test_scope_limits_deletions_to_the_given_paths() -> None:
    a, b = scanned("d/a.md", "a"), scanned("d/b.md", "b")
    plan = plan_sync([], checkpoint_of(a, b), PlanOptions(MODEL, scope=frozenset({"d/a.md"})), NOW)
    assert actions(plan) == {"d/a.md": Action.DELETE}


def test_dropped_items_are_skipped_until_edited() -> None:
    broken = ScannedFile("d/x.md", 2, 11, raw_hash="r", error="bad")
    cp = Checkpoint(ignored={"d/x.md": "r"})
    assert actions(plan_sync([broken], cp, OPTS, NOW)) == {"d/x.md": Action.SKIP}
    edited = ScannedFile("d/x.md", 3, 12, raw_hash="r2", error="still bad")
    assert actions(plan_sync([edited], cp, OPTS, NOW)) == {"d/x.md": Action.FAIL}


def test_a_new_index_backend_reindexes_everything_without_a_content_change() -> None:
    a = scanned("d/a.md", "a")
    cp = checkpoint_of(a)
    cp.index_id = "local"
    edge = PlanOptions(MODEL, index_id="edge")
    assert must_read_all(cp, edge)
    plan = plan_sync([a], cp, edge, NOW)
    assert actions(plan) == {"d/a.md": Action.UPDATE}
    assert plan.items[0].reason == "index changed (local -> edge)"
    cp.index_id = "edge"
    assert actions(plan_sync([a], cp, edge, NOW)) == {"d/a.md": Action.UNCHANGED}
