"""`memsync maintain`, `restore`, undo and access times, with the real model and edge index."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest

from service.cli.main import main
from sync.care.maintain import Candidate, MaintainPolicy, effective_confidence, plan_maintenance
from sync.models import Memory
from sync.store import StoreLayout
from sync.store.markdown import parse_memory
from tests.conftest import one_json, write_memory_file

DAY = dt.timedelta(days=1)
NOW = dt.datetime.now(dt.UTC)


def memory(
    title: str, body: str, mid: str, *, conf: float, created: dt.datetime, kind: str = "decision"
) -> str:
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"---\nid: {mid}\nkind: {kind}\ntitle: {title}\ntags: []\nconfidence: {conf}\n"
        f"created: '{stamp}'\nupdated: '{stamp}'\n---\n\n{body}\n"
    )


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str, expect: int = 0) -> dict[str, Any]:
        self.capsys.readouterr()
        code = main([*args, "--json"])
        out, err = self.capsys.readouterr()
        assert code == expect, (code, err, out)
        return one_json(out)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    for name in [k for k in os.environ if k.startswith("MEMSYNC_")]:
        monkeypatch.delenv(name)
    proj = tmp_path / "proj"
    proj.mkdir()
    monkeypatch.chdir(proj)
    cli = Cli(capsys)
    cli("init")
    layout = StoreLayout(proj / ".memsync")
    old = NOW - 400 * DAY
    files = {
        "decisions/queue.md": memory(
            "Use PostgreSQL for the job queue",
            "SKIP LOCKED gives a transactional job queue, so there is no Redis to run.",
            "keep",
            conf=0.9,
            created=NOW - 5 * DAY,
        ),
        "decisions/queue-again.md": memory(
            "Use PostgreSQL for the job queue",
            "SKIP LOCKED gives a transactional job queue, so there is no Redis to run at all.",
            "near",
            conf=0.6,
            created=NOW - 4 * DAY,
        ),
        "decisions/queue-copy.md": memory(
            "Use PostgreSQL for the job queue",
            "SKIP LOCKED gives a transactional job queue, so there is no Redis to run.",
            "exact",
            conf=0.5,
            created=NOW - 3 * DAY,
        ),
        "decisions/frontend.md": memory(
            "Render the dashboard with server-side templates",
            "No SPA build step; htmx covers the interactive parts.",
            "other",
            conf=0.8,
            created=NOW - 5 * DAY,
        ),
        "learnings/old-flaky.md": memory(
            "Flaky CI came from the shared cache volume",
            "Jobs wrote the same cache folder; each job now gets its own.",
            "stale",
            conf=0.3,
            created=old,
            kind="learning",
        ),
        "learnings/old-but-read.md": memory(
            "The deploy script needs bash 5",
            "macOS ships bash 3; use the Homebrew one.",
            "read",
            conf=0.3,
            created=old,
            kind="learning",
        ),
        "learnings/new-weak.md": memory(
            "Maybe pin the Go toolchain",
            "Unsure yet; builds differ between laptops.",
            "fresh",
            conf=0.15,
            created=NOW - 10 * DAY,
            kind="learning",
        ),
    }
    for rel, text in files.items():
        write_memory_file(layout, rel, text)
    cli("sync", "--scope", "memories")
    return cli, layout


def tree(layout: StoreLayout) -> dict[str, bytes]:
    return {
        p.relative_to(layout.root).as_posix(): p.read_bytes()
        for p in sorted(layout.root.rglob("*"))
        if p.is_file()
    }


def live(layout: StoreLayout) -> dict[str, Memory]:
    out = {}
    for p in sorted(layout.memory_dir.rglob("*.md")):
        rel = p.relative_to(layout.memory_dir).as_posix()
        out[rel] = parse_memory(p.read_text(encoding="utf-8"), rel)
    return out


def test_maintain_merges_duplicates_archives_decayed_and_undo_restores(store: Any) -> None:
    cli, layout = store
    # reading a memory records the access without touching its file or hash
    before_read = (layout.memory_dir / "learnings/old-but-read.md").read_bytes()
    cli("ask", "which bash does the deploy script need", "--k", "1")
    assert (layout.memory_dir / "learnings/old-but-read.md").read_bytes() == before_read
    assert '"read"' in (layout.state_dir / "access.jsonl").read_text()
    assert cli("sync", "--scope", "memories")["counts"]["unchanged"] == 7

    snapshot = tree(layout)
    preview = cli("maintain", "--dry-run")
    assert tree(layout) == snapshot  # the dry run wrote nothing
    [group] = preview["merges"]
    assert group["keep"] == "decisions/queue.md"
    merged = {m["path"]: m["score"] for m in group["merged"]}
    assert set(merged) == {"decisions/queue-again.md", "decisions/queue-copy.md"}
    assert merged["decisions/queue-copy.md"] == 1.0 and merged["decisions/queue-again.md"] >= 0.78
    assert [a["path"] for a in preview["archives"]] == ["learnings/old-flaky.md"]
    assert "effective confidence 0.10 < 0.2" in preview["archives"][0]["reason"]

    report = cli("maintain")
    assert report["counts"]["merged"] == 2 and report["counts"]["archived"] == 1
    memories = live(layout)
    kept = memories["decisions/queue.md"]
    assert set(kept.supersedes) == {"near", "exact"}
    assert "no Redis to run at all" in kept.body  # what the near-duplicate added is kept
    moved = memories["archived/decisions/queue-again.md"]
    assert (
        moved.superseded_by == "keep" and moved.extra["archived_from"] == "decisions/queue-again.md"
    )
    assert "archived/learnings/old-flaky.md" in memories
    assert "learnings/old-but-read.md" in memories and "learnings/new-weak.md" in memories
    assert not (layout.memory_dir / "decisions/queue-copy.md").exists()
    previous = [r for r in memories if r.startswith("archived/decisions/use-postgresql")]
    assert len(previous) == 1  # the kept memory's version before the merge

    # archived memories leave default search, stay reachable on request
    ids = [r["id"] for r in cli("ask", "job queue in postgres", "--k", "5")["results"]]
    assert "near" not in ids and "exact" not in ids and "keep" in ids
    archived = cli("ask", "job queue in postgres", "--k", "10", "--include-archived")["results"]
    assert {"near", "exact"} <= {r["id"] for r in archived}

    # restore one archived memory by id; a history version is not restorable
    back = cli("restore", "stale")
    assert back["to"] == "learnings/old-flaky.md"
    assert (layout.memory_dir / "learnings/old-flaky.md").exists()
    history_id = live(layout)[previous[0]].id
    cli("restore", history_id, expect=2)

    # undo the run from its report: everything is where it was, the merge is reverted
    cli("maintain", "--undo", report["run_id"])
    after = live(layout)
    for rel in ("decisions/queue-again.md", "decisions/queue-copy.md", "decisions/queue.md"):
        assert rel in after, rel
    assert (
        after["decisions/queue.md"].body
        == parse_memory(snapshot["memory/decisions/queue.md"].decode(), "decisions/queue.md").body
    )
    assert after["decisions/queue.md"].supersedes == ()
    assert "Undo" in Path(report["report_files"][1]).read_text()
    counts = cli("sync", "--scope", "memories")["counts"]
    assert counts["failed"] == 0


def test_effective_confidence_and_grace() -> None:
    policy = MaintainPolicy()
    assert effective_confidence(0.8, NOW - 90 * DAY, NOW, policy) == pytest.approx(0.4)
    assert effective_confidence(0.8, NOW - 400 * DAY, NOW, policy) == 0.1  # the floor
    assert effective_confidence(0.8, NOW, NOW, policy) == 0.8

    def cand(path: str, conf: float, created: dt.datetime, kind: str = "learning") -> Candidate:
        stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
        m = Memory(
            path, kind, path, f"body of {path}", confidence=conf, created=stamp, updated=stamp
        )
        return Candidate(path, m, None, None)

    plan = plan_maintenance(
        [
            cand("old.md", 0.3, NOW - 400 * DAY),
            cand("young.md", 0.05, NOW - 5 * DAY),  # within the grace period
            cand("strong.md", 0.9, NOW - 60 * DAY),  # 0.9 * (1 - 60/180) = 0.6
            cand("daily.md", 0.1, NOW - 900 * DAY, kind="daily"),  # journals never decay
        ],
        policy,
        NOW,
    )
    assert [a.path for a in plan.archives] == ["old.md"] and not plan.merges


def test_maintain_report_json_is_written(store: Any) -> None:
    cli, _ = store
    report = cli("maintain")
    data = json.loads(Path(report["report_files"][0]).read_text())
    assert data["kind"] == "maintain" and data["actions"]
    assert {a["op"] for a in data["actions"]} == {"merge", "archive"}


def test_the_service_maintains_on_its_schedule_without_overlapping_writes(
    layout: StoreLayout, encoder: Any
) -> None:
    import time

    from service.http.runtime import ServiceState
    from service.settings import Settings

    body = "Every build uses the lockfile; never resolve versions in CI."
    write_memory_file(
        layout, "decisions/a.md", memory("Pin deps", body, "a", conf=0.9, created=NOW)
    )
    write_memory_file(
        layout, "decisions/b.md", memory("Pin deps", body, "b", conf=0.4, created=NOW)
    )
    state = ServiceState(layout, Settings(), encoder=encoder)
    state.open()
    try:
        from sync.index.engine import SyncOptions

        state.sync(SyncOptions(), {"scope": "memories"})
        state.start_background_sync(0, maintain_every_s=0.2)
        deadline = time.monotonic() + 60
        while state.last_maintain is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state.last_maintain is not None and state.last_maintain["counts"]["merged"] == 1
        assert not (layout.memory_dir / "decisions/b.md").exists()
        assert (layout.memory_dir / "archived/decisions/b.md").exists()
        assert state.status()["service"]["background_maintain"]["run_id"]
    finally:
        state.close()


def test_an_lm_writes_the_merged_body_and_a_failure_falls_back(
    layout: StoreLayout, make_deps: Any
) -> None:
    from dspy.utils import DummyLM

    from sync.capture.extraction.dspy_merge import DspyMerger
    from sync.care.maintain_run import run_maintain
    from sync.index.engine import SyncOptions, run_sync

    body = "Every build uses the lockfile; never resolve versions in CI."
    write_memory_file(
        layout, "decisions/a.md", memory("Pin deps", body, "a", conf=0.9, created=NOW)
    )
    write_memory_file(
        layout,
        "decisions/b.md",
        memory("Pin deps", body + " Renovate bumps it.", "b", conf=0.4, created=NOW),
    )
    deps = make_deps()
    run_sync(layout, SyncOptions(), deps)
    merged = "Every build uses the lockfile; CI never resolves versions; Renovate bumps it."
    lm = DummyLM([{"body": merged}])
    report = run_maintain(layout, deps, MaintainPolicy(), merger=DspyMerger(lm))
    assert report["counts"]["merged"] == 1
    kept = parse_memory((layout.memory_dir / "decisions/a.md").read_text(), "decisions/a.md")
    assert kept.body == merged and kept.id == "a" and kept.supersedes == ("b",)

    # a model whose answer cannot be used leaves the deterministic merge; the run goes on
    broken = DummyLM([{"unrelated": "x"}, {"unrelated": "x"}])
    keep = Memory("k", "decision", "T", "one", confidence=0.9)
    other = Memory("o", "decision", "T", "two", confidence=0.5)
    out = DspyMerger(broken)(keep, [other], NOW)
    assert "one" in out.body and "two" in out.body


def test_audit_backfill_and_compare_are_reachable_from_the_cli(store: Any) -> None:
    cli, _ = store
    audit = cli("audit", expect=5)  # the planted exact duplicate crosses the default limit
    assert "exact_duplicate_rate" in audit["failed"]
    assert audit["exact_duplicates"]["count"] == 1
    days = cli("compare", "--tz", "UTC")
    assert days["counts"] == {"missing": 0, "stale": 0, "ok": 0}  # no agent sessions here
    cli("backfill", "not-a-date", expect=2)


def test_a_moved_memory_whose_text_is_unchanged_keeps_its_vector(
    layout: StoreLayout, make_deps: Any, encoder: Any
) -> None:
    from sync.index.engine import SyncOptions, run_sync

    class Counting:
        identity = encoder.identity

        def __init__(self) -> None:
            self.texts: list[str] = []

        def encode(self, texts: Any) -> Any:
            self.texts += list(texts)
            return encoder.encode(texts)

    counting = Counting()
    deps = make_deps(encoder_factory=lambda: counting)
    text = memory("Pin deps", "Every build uses the lockfile.", "p", conf=0.8, created=NOW)
    write_memory_file(layout, "decisions/pin.md", text)
    write_memory_file(
        layout, "decisions/other.md", memory("Other", "Body.", "o", conf=0.8, created=NOW)
    )
    run_sync(layout, SyncOptions(), deps)
    assert len(counting.texts) == 2
    # moved, with a frontmatter-only change: same embedded text -> the stored vector is reused
    (layout.memory_dir / "decisions/pin.md").unlink()
    write_memory_file(
        layout,
        "archived/decisions/pin.md",
        text.replace("tags: []", "tags: []\narchived_from: decisions/pin.md"),
    )
    # and a real edit elsewhere is embedded
    write_memory_file(
        layout, "decisions/other.md", memory("Other", "A new body.", "o", conf=0.8, created=NOW)
    )
    report = run_sync(layout, SyncOptions(), deps)
    assert report["counts"]["failed"] == 0
    assert counting.texts[2:] == ["Other\n\nA new body."]
    hits = run_sync(layout, SyncOptions(dry_run=True), deps)["counts"]
    assert hits["unchanged"] == 2
    # --force re-embeds everything, reuse or not
    run_sync(layout, SyncOptions(force=True), deps)
    assert len(counting.texts) == 5


def _live_bodies(layout: StoreLayout) -> dict[str, str]:
    return {rel: m.body for rel, m in live(layout).items() if not rel.startswith("archived/")}


def _undo_restores(cli: Any, layout: StoreLayout, before: dict[str, str]) -> None:
    [report] = [json.loads(p.read_text()) for p in layout.reports_dir.glob("maintain-*.json")]
    assert report["status"] == "applying" and report["actions"]  # the plan, on disk first
    undone = cli("maintain", "--undo", report["run_id"])
    assert undone["undone"] == report["run_id"]
    assert _live_bodies(layout) == before
    assert not list(layout.root.rglob("*.tmp"))  # a killed write's temporary is swept
    cli("maintain", "--undo", report["run_id"])  # again: nothing left to undo, no error
    assert _live_bodies(layout) == before
    assert cli("sync", "--scope", "memories")["counts"]["failed"] == 0


def test_a_maintain_that_dies_half_way_is_undone_from_its_plan(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli, layout = store
    before = _live_bodies(layout)
    from sync.care import maintain_run

    real_move, moves = maintain_run._move_to_archive, []

    def move_then_die(*args: Any, **kw: Any) -> None:
        if len(moves) == 1:
            # as a kill would leave it: a half-written temporary, no cleanup
            (layout.memory_dir / "decisions" / ".queue.md.x1y2z3.tmp").write_text("half")
            raise KeyboardInterrupt
        moves.append(args[1])
        real_move(*args, **kw)

    with monkeypatch.context() as patch:
        patch.setattr(maintain_run, "_move_to_archive", move_then_die)
        cli("maintain", expect=1)  # interrupted after one of its three moves
    assert len(moves) == 1 and before != _live_bodies(layout)
    _undo_restores(cli, layout, before)


@pytest.mark.slow
def test_a_maintain_killed_after_its_moves_is_undone(store: Any) -> None:
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    cli, layout = store
    before = _live_bodies(layout)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "maintain"],
        cwd=layout.root.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not list(layout.reports_dir.glob("maintain-*.json")) and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.2)  # the moves take milliseconds; the re-index after them takes seconds
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert before != _live_bodies(layout)  # killed with its files moved, not re-indexed
    _undo_restores(cli, layout, before)
