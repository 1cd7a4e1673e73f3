"""`memsync sync` capture end to end: hand-written agent sessions and knowledge files become
memories with provenance, deduplicated by meaning and indexed in the real embedded edge index
with the real model. Commands run in-process through `service.cli.main.main` (the CLI's own code
path; the model is imported once per test session), a few through the real subprocess CLI."""

from __future__ import annotations

import json
import os
import shutil
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.cli.main import main
from sync.hashing import raw_hash
from sync.index.checkpoint import Checkpoint, load_checkpoint
from sync.models import Memory
from sync.retry import parse_iso
from sync.store import StoreLayout
from sync.store.markdown import decode_text, parse_memory
from tests.conftest import REPO, SHARED_DATA, cli_env, one_json, open_embedded, point_count, run

FIXTURES = Path(__file__).parent / "fixtures" / "capture"
SOURCES = Path(__file__).parent / "fixtures" / "sources"
QUEUE = "11111111-aaaa-4000-8000-000000000001"
BILLING = "22222222-bbbb-4000-8000-000000000002"
DEPLOY = "33333333-cccc-4000-8000-000000000003"
ECHO = "44444444-dddd-4000-8000-000000000004"
CORRUPT = "55555555-eeee-4000-8000-000000000005"
OPENCLAW = "7f3c9a12-5b6d-4e8f-9a01-23456789abcd"  # tests/fixtures/sources/openclaw session
PG_TITLE = "Use PostgreSQL for the job queue"
# the fake secrets written into claude-secrets/ (see that fixture)
OPENAI_KEY = "sk-proj-Zq3vT8mN2pL6xR9wK4yH7jB1cF5gD0sA3eU8iO2tY6nM4vQ9"
DB_PASSWORD = "Tr0ub4dor-x9Qz"


@dataclass
class Result:
    code: int
    data: dict[str, Any]
    err: str


@dataclass
class Store:
    """A project with a .memsync store whose [sources] point at copied fixture folders."""

    proj: Path
    layout: StoreLayout
    agents: Path  # tmp folder holding one sub-folder per agent
    capsys: pytest.CaptureFixture[str]

    def cli(self, *args: str, as_json: bool = True) -> Result:
        """Run one memsync command in-process (cwd is the project); JSON stdout parsed."""
        self.capsys.readouterr()
        code = main([*args, "--json"] if as_json else list(args))
        out, err = self.capsys.readouterr()
        return Result(code, one_json(out) if as_json else {"text": out}, err)

    def sync(self, *args: str, expect: int = 0) -> dict[str, Any]:
        res = self.cli("sync", *args)
        assert res.code == expect, (res.code, res.err, res.data.get("error"))
        return res.data

    def configure(self, section: str, **values: Any) -> None:
        """Set keys in an existing section of the template config (no duplicate header)."""
        text = self.layout.config_path.read_text(encoding="utf-8")
        header = f"[{section}]\n"
        assert text.count(header) == 1, f"the init template should have one {header!r}"
        lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
        text = text.replace(header, header + lines, 1)
        self.layout.config_path.write_text(text, encoding="utf-8")
        parsed = tomllib.loads(text)[section]
        assert {k: parsed[k] for k in values} == values

    def checkpoint(self) -> Checkpoint:
        return load_checkpoint(self.layout.checkpoint_path, self.layout.journal_path)

    def memories(self) -> dict[str, Memory]:
        """Every memory file (archived versions included), parsed, by path under memory/."""
        root = self.layout.memory_dir
        out = {}
        for path in sorted(root.rglob("*.md")):
            rel = path.relative_to(root).as_posix()
            out[rel] = parse_memory(decode_text(path.read_bytes(), rel), rel)
        return out


@pytest.fixture
def make_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Any]:
    """Build a store in a tmp project; HOME is a tmp folder and no MEMSYNC_* leaks in."""
    for name in [k for k in os.environ if k.startswith("MEMSYNC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    proj = tmp_path / "proj"
    proj.mkdir()
    monkeypatch.chdir(proj)

    def build(**sources: Any) -> Store:
        store = Store(proj, StoreLayout(proj / ".memsync"), tmp_path / "agents", capsys)
        res = store.cli("init")
        assert res.code == 0 and res.data["created"] is True
        # fixture sessions ran in other folders: these tests take every project (per-project
        # capture has tests of its own in test_capture_projects.py)
        store.configure("sources", **{"window": "all", "projects": "all", **sources})
        return store

    yield build


def copy_sessions(src: Path, dest: Path, mtimes: dict[str, float] | None = None) -> Path:
    """Copy fixture sessions with fresh stats; ``mtimes`` pins some (file stem -> epoch s)."""
    shutil.copytree(src, dest, copy_function=shutil.copy, dirs_exist_ok=True)
    for path in dest.rglob("*.jsonl"):
        if mtimes and path.stem in mtimes:
            os.utime(path, (mtimes[path.stem], mtimes[path.stem]))
    return dest


def session_file(root: Path, session: str) -> Path:
    return next(root.rglob(f"{session}.jsonl"))


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (None) under ``root``."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def by_title(memories: dict[str, Memory], title: str) -> tuple[str, Memory]:
    found = [(rel, m) for rel, m in memories.items() if m.title == title]
    assert len(found) == 1, (title, sorted(m.title for m in memories.values()))
    return found[0]


def item_for(capture: dict[str, Any], session: str) -> dict[str, Any]:
    return next(i for i in capture["items"] if i["session"] == session)


def verdicts(item: dict[str, Any]) -> dict[str, str]:
    return {c["title"]: c["verdict"] for c in item["candidates"]}


def make_due(layout: StoreLayout, key: str) -> None:
    """Let time pass for one queued source item: its next attempt moves into the past."""
    data = json.loads(layout.checkpoint_path.read_text(encoding="utf-8"))
    data["source_retry_queue"][key]["next_attempt"] = "2000-01-01T00:00:00Z"
    layout.checkpoint_path.write_text(json.dumps(data), encoding="utf-8")


def now_minus(seconds: float) -> float:
    return time.time() - seconds


# -- 1. first sync captures with provenance and indexes; the second changes nothing -------------


def test_first_sync_captures_with_provenance_then_second_sync_changes_nothing(
    make_store: Any, tmp_path: Path
) -> None:
    claude = copy_sessions(
        FIXTURES / "claude", tmp_path / "agents" / "claude", {QUEUE: now_minus(60), BILLING: 0}
    )
    store = make_store(agents=["claude"], claude=[str(claude)])
    queue_file, billing_file = session_file(claude, QUEUE), session_file(claude, BILLING)

    report = store.sync()
    cap = report["capture"]
    c = cap["counts"]
    assert (c["items"], c["read"], c["failed"], c["parse_issues"]) == (2, 2, 0, 0)
    assert (c["candidates"], c["summaries"]) == (7, 2)
    assert c["added"] + c["updated"] + c["noop"] + c["summaries"] == c["candidates"]
    assert [i["session"] for i in cap["items"]] == [QUEUE, BILLING]  # newest first

    memories = store.memories()
    kinds = sorted(m.kind for m in memories.values())
    # the second queue decision is kept on its own or merged into the PostgreSQL one
    assert kinds in (
        ["decision", "decision", "learning", "summary", "summary"],
        ["decision", "decision", "decision", "learning", "summary", "summary"],
    )
    pg_rel, pg = by_title(memories, PG_TITLE)
    assert pg_rel.startswith("decisions/") and pg.kind == "decision"
    assert pg.source == {
        "agent": "claude",
        "session": QUEUE,
        "file": str(queue_file),
        "hash": raw_hash(queue_file.read_bytes()),
        "lines": [2, 2],  # line 1 is a queue-operation record
        "project": "queue-service",
        "cwd": "/home/dev/queue-service",
    }
    # dated by the session (file name, id, created); `captured` is when memsync wrote it
    assert pg_rel.startswith("decisions/20261005-") and pg.id.startswith("mem-20261005-")
    assert pg.created.startswith("2026-10-05T")
    assert parse_iso(pg.extra["captured"]) > parse_iso(pg.created)
    assert "SQLite locks the whole database under concurrent writers" in pg.body
    assert "claude" in pg.tags and "queue-service" in pg.tags and pg.confidence == 0.8
    # the same decision stated in the billing session merged into it, provenance kept
    from_billing = [s for s in pg.extra["merged_sources"] if s["session"] == BILLING]
    assert [(s["file"], s["lines"]) for s in from_billing] == [(str(billing_file), [1, 1])]
    # the second queue decision is kept, on its own or merged into the PostgreSQL one
    assert any("real PostgreSQL container" in m.body for m in memories.values())
    by_title(memories, "Standardize on Decimal for every invoice amount")

    learning = next(m for m in memories.values() if m.kind == "learning")
    assert learning.source["lines"] == [3, 9] and learning.source["session"] == QUEUE
    assert "ModuleNotFoundError: No module named 'psycopg'" in learning.body
    assert "Cause: The error is because the psycopg driver was missing" in learning.body
    assert 'Fix: Changed pyproject.toml (dev = ["pytest", "psycopg[binary]"])' in learning.body
    assert "Verified: `pytest tests/test_queue.py -q` then passed" in learning.body

    summary_rel = f"summaries/20261005/claude-{QUEUE}.md"
    summary = memories[summary_rel]
    assert summary.kind == "summary" and summary.id.startswith("sum-claude-")
    assert summary.id.endswith(QUEUE) and summary.source["lines"] == [2, 15]
    for needle in (
        "## Asked\nThe job queue keeps failing with 'database is locked'",
        "## Done\n- pyproject.toml — ",
        "- src/queue/migrations/001_jobs.sql",
        "- Verified: `pytest tests/test_queue.py -q`",
        "## Decided and fixed\n- Use PostgreSQL for the job queue",
        "- The migration is in place: the jobs table keeps the payload as jsonb.",
    ):
        assert needle in summary.body, needle
    assert f"summaries/20261006/claude-{BILLING}.md" in memories

    # indexed: every file is a point, and asking finds the decision
    assert report["counts"]["added"] == len(memories) and report["counts"]["failed"] == 0
    assert point_count(store.layout)[0] == len(memories)
    sources = store.checkpoint().sources
    assert {k: e.content_hash for k, e in sources.items()} == {
        f"claude:{queue_file}": raw_hash(queue_file.read_bytes()),
        f"claude:{billing_file}": raw_hash(billing_file.read_bytes()),
    }
    asked = store.cli("ask", "which database backs the job queue and why", "--k", "3")
    assert asked.data["results"][0]["path"] == pg_rel

    # second sync through the real CLI: reads nothing, adds nothing, touches no byte
    before = snapshot(store.layout.memory_dir)
    env = cli_env(tmp_path)
    env["PYTHONPATH"] = str(REPO)
    res = run(["sync", "--json"], store.proj, env)
    assert res.returncode == 0, res.stderr
    again = one_json(res.stdout)
    c2 = again["capture"]["counts"]
    assert (c2["read"], c2["unchanged"], c2["candidates"]) == (0, 2, 0)
    assert again["capture"]["written"] == [] and again["capture"]["items"] == []
    assert again["counts"]["added"] == again["counts"]["updated"] == 0
    assert again["counts"]["unchanged"] == len(memories)
    assert snapshot(store.layout.memory_dir) == before
    # an ordinary capture is not a recovery from an interrupted run
    assert report["recovered_interrupted_run"] is False


# -- 2. --dry-run writes nothing, yet shows every candidate ---------------------------------------


def test_dry_run_writes_nothing_and_reports_each_candidate(make_store: Any, tmp_path: Path) -> None:
    claude = copy_sessions(
        FIXTURES / "claude", tmp_path / "agents" / "claude", {QUEUE: now_minus(60), BILLING: 0}
    )
    store = make_store(agents=["claude"], claude=[str(claude)])
    before = snapshot(store.layout.root)

    dry = store.sync("--dry-run")
    assert snapshot(store.layout.root) == before  # no memory, state, report, index or lock
    cap = dry["capture"]
    assert dry["dry_run"] is True and cap["dry_run"] is True and cap["written"] == []
    assert cap["counts"]["read"] == 2 and cap["counts"]["candidates"] == 7
    assert [i["session"] for i in cap["items"]] == [QUEUE, BILLING]
    for item in cap["items"]:
        assert item["candidates"], item["key"]
        for cand in item["candidates"]:
            assert cand["verdict"] in {"add", "update", "noop", "summary"}
            assert isinstance(cand["score"], float) and cand["reason"]
            assert cand["verdict"] == "noop" or cand["file"].startswith("memory/")
    queue = item_for(cap, QUEUE)
    assert queue["candidates"][0] == {
        "id": queue["candidates"][0]["id"],
        "kind": "decision",
        "title": PG_TITLE,
        "verdict": "add",
        "reason": "new memory (no memories yet)",
        "score": 0.0,
        "file": queue["candidates"][0]["file"],
        "nearest": [],
    }
    assert queue["candidates"][-1]["file"] == f"memory/summaries/20261005/claude-{QUEUE}.md"
    text = store.cli("sync", "--dry-run", as_json=False)
    assert text.code == 0 and "would capture from 2 of 2 source items" in text.data["text"]
    assert snapshot(store.layout.root) == before

    # the real run does what the dry run announced
    real = store.sync()["capture"]
    plan = [(c["kind"], c["verdict"], c["file"]) for i in cap["items"] for c in i["candidates"]]
    done = [(c["kind"], c["verdict"], c["file"]) for i in real["items"] for c in i["candidates"]]
    assert done == plan
    assert sorted(f"memory/{p}" for p in store.memories()) == sorted(
        {f for _, v, f in plan if v != "noop"}
    )


def test_dry_run_and_real_run_from_one_state_report_the_same(
    make_store: Any, tmp_path: Path
) -> None:
    """One plan per dry run: its index preview includes what capture would write, its dedup
    sees what the real run's catch-up would index; the real report shows the catch-up too."""
    claude = copy_sessions(
        FIXTURES / "claude", tmp_path / "agents" / "claude", {QUEUE: now_minus(60), BILLING: 0}
    )
    store = make_store(agents=["claude"], claude=[str(claude)])
    added = store.cli(
        "add", "--kind", "learning", "--title", "Run the linters before pushing",
        "--body", "ruff and mypy both run in CI; running them first saves a round trip.",
    )  # fmt: skip
    assert added.code == 0, added.err
    edited = store.layout.memory_dir / added.data["path"]
    edited.write_text(edited.read_text() + "\nAlso run lint-imports.\n")  # a hand edit
    by_hand = store.layout.memory_dir / "decisions" / "decimal.md"  # written, not indexed yet
    by_hand.write_text(
        "---\nkind: decision\ntitle: Invoice amounts are stored as Decimal\n---\n\n"
        "We standardized on Decimal for every invoice amount, because summing float line "
        "items loses cents.\n"
    )

    dry = store.sync("--dry-run")
    real = store.sync()

    def shape(report: dict[str, Any]) -> dict[str, Any]:
        verdicts = [
            (c["kind"], c["verdict"], c["file"])
            for i in report["capture"]["items"]
            for c in i["candidates"]
            if not (c["file"] or "").startswith("memory/archived/")
        ]
        cap = {k: v for k, v in report["capture"]["counts"].items()}
        return {"counts": report["counts"], "storage": report["storage"],
                "capture": cap, "verdicts": verdicts}  # fmt: skip

    assert shape(dry) == shape(real)
    assert real["counts"]["updated"] == 1  # the hand edit, which the catch-up indexed
    items = {i["path"]: i for i in real["items"]}
    assert items[added.data["path"]]["action"] == "update"  # the catch-up is reported
    assert items["decisions/decimal.md"]["action"] == "add"  # indexed, then merged into
    decimal = next(
        c for i in real["capture"]["items"] for c in i["candidates"] if "Decimal" in c["title"]
    )
    assert decimal["verdict"] in ("update", "noop") and decimal["nearest"][0]["path"] == (
        "decisions/decimal.md"
    )
    again = store.sync("--dry-run")
    assert again["counts"]["added"] == again["counts"]["updated"] == 0


# -- 3. a session that grew is re-read: old candidates are no-ops, the new one is added -----------


def test_grown_session_adds_the_new_decision_and_rewrites_its_summary(
    make_store: Any, tmp_path: Path
) -> None:
    claude = copy_sessions(FIXTURES / "claude" / "-home-dev-queue-service", tmp_path / "a" / "q")
    store = make_store(agents=["claude"], claude=[str(claude)])
    store.sync()
    summary_rel = f"summaries/20261005/claude-{QUEUE}.md"
    first = store.memories()
    files_before = snapshot(store.layout.memory_dir)

    path = session_file(claude, QUEUE)
    with path.open("ab") as fh:
        fh.write((FIXTURES / "claude-grown" / "appended.jsonl").read_bytes())
    report = store.sync()
    cap = report["capture"]
    assert cap["counts"]["read"] == 1 and cap["counts"]["messages"] == 12
    item = item_for(cap, QUEUE)
    seen = verdicts(item)
    retry_title = "Retry failed jobs with exponential backoff capped at five minutes"
    assert seen[retry_title] == "add"
    after = store.memories()
    retry_rel, retry = by_title(after, retry_title)
    assert retry.source["lines"] == [17, 17]
    assert retry.source["hash"] == raw_hash(path.read_bytes())

    summary = next(c for c in item["candidates"] if c["kind"] == "summary")
    assert summary["verdict"] == "summary" and "rewritten" in summary["reason"]
    assert summary["file"] == f"memory/{summary_rel}"
    old, new = first[summary_rel], after[summary_rel]
    assert (new.id, new.created) == (old.id, old.created)
    assert new.source["lines"] == [2, 19] and "\n- src/queue/worker.py" in new.body
    assert [r for r in after if r.startswith("summaries/")] == [summary_rel]

    # what the first run already captured is a duplicate now: no rewrite, no archived copy
    old_titles = [c["title"] for c in item["candidates"] if c["kind"] not in ("summary",)]
    assert {t: seen[t] for t in old_titles if t != retry_title} == {
        t: "noop" for t in old_titles if t != retry_title
    }
    assert not [r for r in after if r.startswith("archived/")]
    changed = {
        rel
        for rel, data in snapshot(store.layout.memory_dir).items()
        if files_before.get(rel) != data
    }
    assert changed == {summary_rel, retry_rel}


def test_touched_session_is_recorded_when_other_sessions_add_memories(
    make_store: Any, tmp_path: Path
) -> None:
    """A session whose stat moved but whose bytes did not is recorded as seen, even when the
    same run indexes first (before deduplicating another session's candidates)."""
    claude = copy_sessions(FIXTURES / "claude", tmp_path / "agents" / "claude")
    store = make_store(agents=["claude"], claude=[str(claude)])
    store.sync("--exclude", "*billing*")
    queue = session_file(claude, QUEUE)
    os.utime(queue, (now_minus(5), now_minus(5)))  # touched, same bytes

    cap = store.sync()["capture"]
    assert cap["counts"]["read"] == 2 and [i["session"] for i in cap["items"]] == [BILLING]
    entry = store.checkpoint().sources[f"claude:{queue}"]
    assert entry.mtime_ns == queue.stat().st_mtime_ns
    again = store.sync()["capture"]["counts"]
    assert (again["read"], again["unchanged"]) == (0, 2)


# -- 4. secrets never reach a memory, the index or a report ---------------------------------------


def test_secrets_are_redacted_everywhere_and_counted(make_store: Any, tmp_path: Path) -> None:
    claude = copy_sessions(FIXTURES / "claude-secrets", tmp_path / "agents" / "claude")
    store = make_store(agents=["claude"], claude=[str(claude)])
    res = store.cli("sync")
    assert res.code == 0, res.err
    cap = res.data["capture"]
    assert cap["counts"]["redactions"] == 6
    assert item_for(cap, DEPLOY)["redactions"] == {"openai_key": 3, "url_password": 3}

    memories = store.memories()
    _, vault = by_title(memories, "Keep deploy credentials in the vault instead of shell exports")
    assert "the key [REDACTED:openai_key] already leaked" in vault.body
    issue = next(m for m in memories.values() if m.kind == "issue")  # deploy.sh never passed
    assert "postgres://deploy:[REDACTED:url_password]@db.staging.internal:5432/app" in issue.body
    learning = next(m for m in memories.values() if m.kind == "learning")
    assert "only accepts connections through the bastion" in learning.body

    secrets = [OPENAI_KEY, DB_PASSWORD, OPENAI_KEY[8:28]]
    for text in (json.dumps(res.data), res.err):
        assert not [s for s in secrets if s in text]
    leaked, edge_has_payloads = [], False
    for path in (p for p in store.layout.root.rglob("*") if p.is_file()):
        data = path.read_bytes()  # memory files, reports, checkpoint, the qdrant-edge folder
        leaked += [(path.name, s) for s in secrets if s.encode() in data]
        if store.layout.qdrant_edge_dir in path.parents and b"Keep deploy credentials" in data:
            edge_has_payloads = True  # the scan can see payload text where it is stored
    assert leaked == [] and edge_has_payloads
    index = open_embedded(store.layout)
    try:
        payloads = [p.payload for name in index.collections() for p in index.export(name)]
    finally:
        index.close()
    assert len(payloads) == len(memories)
    dumped = json.dumps(payloads)
    assert "[REDACTED:openai_key]" in dumped and not [s for s in secrets if s in dumped]
    asked = store.cli("ask", "deploy credentials vault staging database", "--k", "5")
    assert asked.data["results"] and not [s for s in secrets if s in json.dumps(asked.data)]


# -- 5. memsync's own echo is not captured ---------------------------------------------------------


def test_memsync_echo_is_not_captured(make_store: Any, tmp_path: Path) -> None:
    claude = copy_sessions(FIXTURES / "claude-echo", tmp_path / "agents" / "claude")
    store = make_store(agents=["claude"], claude=[str(claude)])
    cap = store.sync()["capture"]
    item = item_for(cap, ECHO)
    assert [(c["kind"], c["title"]) for c in item["candidates"]] == [
        ("decision", "Go with Caddy as the reverse proxy"),
        ("summary", item["candidates"][1]["title"]),
    ]
    everything = "\n".join(
        p.read_text(encoding="utf-8") for p in store.layout.memory_dir.rglob("*.md")
    )
    assert "Caddy" in everything and "## Done\n- Caddyfile" in everything
    for echo in ("Memcached", "Cassandra", "memsync ask", "memsync-recall", "cache layer decision"):
        assert echo not in everything, echo


# -- 6. one memory per meaning: across sessions of a run, and against `memsync add` ----------------


def test_same_decision_in_two_sessions_and_a_paraphrase_of_an_added_memory(
    make_store: Any, tmp_path: Path
) -> None:
    claude = copy_sessions(
        FIXTURES / "claude", tmp_path / "agents" / "claude", {QUEUE: now_minus(60), BILLING: 0}
    )
    store = make_store(agents=["claude"], claude=[str(claude)])
    added = store.cli(
        "add",
        "--kind",
        "decision",
        "--title",
        "Invoice amounts are stored as Decimal",
        "--body",
        "We standardized on Decimal for every invoice amount, because summing float line "
        "items loses cents.",
    )
    assert added.code == 0 and added.data["action"] == "add", added.data
    added_path = added.data["path"]

    cap = store.sync()["capture"]
    billing = item_for(cap, BILLING)
    pg_in_billing = next(c for c in billing["candidates"] if c["title"] == PG_TITLE)
    assert pg_in_billing["verdict"] in ("noop", "update")
    assert "(a candidate of this run)" in pg_in_billing["reason"]
    decimal = next(c for c in billing["candidates"] if "Decimal" in c["title"])
    assert decimal["verdict"] in ("noop", "update"), decimal
    assert decimal["file"] in (None, f"memory/{added_path}")
    assert decimal["nearest"][0]["path"] == added_path

    current = {r: m for r, m in store.memories().items() if not r.startswith("archived/")}
    decisions = sorted(r for r, m in current.items() if m.kind == "decision")
    # the "real PostgreSQL container" decision is another fact: kept apart or merged
    container = [r for r in decisions if "container" in current[r].title]
    assert len(decisions) - len(container) == 2 and added_path in decisions
    assert sum(current[r].title == PG_TITLE for r in decisions) == 1


# -- 7. the sync flags --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--window", "7x"], "window '7x': use a number with d, h, m or w"),
        (["--since", "yesterday"], "--since 'yesterday': use ISO-8601"),
        (["--until", "soon"], "--until 'soon': use ISO-8601"),
        (["--run-id", "bad id!"], "--run-id 'bad id!'"),
        (["--max-sessions", "0"], "--max-sessions must be at least 1"),
        (["--agent", "claude,vim"], "agent vim: expected some of"),
        (["--content-type", "Bad Type"], "content type 'Bad Type'"),
    ],
)
def test_bad_sync_flags_exit_2_with_a_clear_message(
    make_store: Any, flags: list[str], message: str
) -> None:
    store = make_store(agents=["claude"], claude=[str(FIXTURES / "claude")])
    res = store.cli("sync", *flags)
    assert res.code == 2 and message in res.data["error"]["message"], res.data
    assert message in res.err
    assert not store.layout.checkpoint_path.exists()


def test_sync_options_filter_tag_and_track(make_store: Any, tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    claude = copy_sessions(
        FIXTURES / "claude",
        agents / "claude",
        {QUEUE: now_minus(60), ECHO: now_minus(120), BILLING: now_minus(180)},
    )
    copy_sessions(FIXTURES / "claude-echo", claude, {ECHO: now_minus(120)})
    codex = copy_sessions(SOURCES / "codex" / "sessions", agents / "codex")
    store = make_store(agents=["claude", "codex"], claude=[str(claude)], codex=[str(codex)])

    future = store.sync("--since", "2099-01-01")["capture"]
    assert future["counts"]["read"] == 0 and future["counts"]["skipped"] == 5
    assert all(s["reason"].startswith("last changed") for s in future["skipped"])
    assert future["skipped_by_reason"] == {"window": 5}
    assert not list(store.layout.memory_dir.rglob("*.md")) and not store.checkpoint().sources

    only_codex = store.sync("--agent", "codex", "--dry-run")["capture"]
    assert only_codex["counts"]["items"] == 2
    assert {i["agent"] for i in only_codex["items"]} == {"codex"}

    report = store.sync(
        "--agent", "claude", "--exclude", "*billing*", "--max-sessions", "1",
        "--tags", "x,y", "--content-type", "runbook", "--run-id", "opt-run-1",
    )  # fmt: skip
    cap = report["capture"]
    assert [i["session"] for i in cap["items"]] == [QUEUE]
    skipped = {s["key"].rsplit("/", 1)[-1]: s["reason"] for s in cap["skipped"]}
    assert skipped == {
        f"{BILLING}.jsonl": "excluded by '*billing*'",
        f"{ECHO}.jsonl": "over --max-sessions 1",
    }
    assert cap["skipped_by_reason"] == {"excluded": 1, "max_sessions": 1}
    written = store.memories()
    assert written and set(cap["written"]) == set(written)
    for rel, memory in written.items():
        assert {"x", "y"} <= set(memory.tags), rel
        assert memory.extra["content_type"] == "runbook", rel
    assert report["run_id"] == "opt-run-1"
    names = sorted(p.name for p in store.layout.reports_dir.iterdir())
    assert [n for n in names if n.endswith("-opt-run-1.json")], names

    # --no-extract: the sessions are recorded as captured, nothing is extracted
    tracked = store.sync("--agent", "claude", "--no-extract")["capture"]
    assert tracked["counts"]["read"] == 2 and tracked["counts"]["candidates"] == 0
    assert tracked["written"] == [] and store.memories() == written
    sources = store.checkpoint().sources
    echo_key = f"claude:{session_file(claude, ECHO)}"
    assert sources[echo_key].memories == () and sources[echo_key].candidates == 0
    assert not sources[echo_key].extracted
    # ...and a later normal sync extracts what was only tracked, without a --force
    later = store.sync("--agent", "claude")["capture"]
    assert later["counts"]["read"] == 2 and later["counts"]["unchanged"] == 1
    assert [m for m in store.memories().values() if "Caddy" in m.title]
    assert store.checkpoint().sources[echo_key].extracted
    again = store.sync("--agent", "claude")["capture"]
    assert again["counts"]["read"] == 0


# -- 8. the /sync-memory knowledge files, and --scope ----------------------------------------------


def test_insights_and_campaigns_are_captured_and_scope_limits_reading(
    make_store: Any, tmp_path: Path
) -> None:
    claude = copy_sessions(FIXTURES / "claude" / "-home-dev-queue-service", tmp_path / "a" / "q")
    store = make_store(agents=["claude"], claude=[str(claude)])
    shutil.copytree(FIXTURES / "knowledge", store.proj, dirs_exist_ok=True)
    insights_file = store.proj / "insights.json"

    # an --exclude pattern also skips content: here every guideline (the subject-line insight)
    preview = store.sync("--scope", "insights", "--exclude", "guideline", "--dry-run")["capture"]
    assert preview["counts"]["excluded"] == 1 and preview["counts"]["candidates"] == 1
    assert [c["title"] for i in preview["items"] for c in i["candidates"]] == [
        "Checkout conversion falls when the payment page takes over three seconds"
    ]

    cap = store.sync("--scope", "insights")["capture"]
    assert cap["scope"] == "insights" and cap["counts"]["read"] == 2
    assert {i["agent"] for i in cap["items"]} == {"insights"}
    memories = store.memories()
    _, checkout = by_title(
        memories, "Checkout conversion falls when the payment page takes over three seconds"
    )
    assert checkout.kind == "insight"
    assert checkout.extra["content_type"] == "performance-insight"
    assert {"checkout", "latency", "insights"} <= set(checkout.tags)
    assert checkout.source["locator"] == "ins-checkout-latency"
    assert checkout.source["file"] == str(insights_file)
    _, subject = by_title(memories, "Short subject lines win for the weekly newsletter")
    assert subject.extra["content_type"] == "guideline"
    assert {k.split(":", 1)[0] for k in store.checkpoint().sources} == {"insights"}

    cap = store.sync("--scope", "campaigns")["capture"]
    assert cap["counts"]["read"] == 2 and {i["agent"] for i in cap["items"]} == {"campaigns"}
    memories = store.memories()
    _, sale = by_title(memories, "Spring sale 2026: free shipping beat the 15% discount")
    assert sale.extra["content_type"] == "campaign-learning"
    assert sale.source["file"] == str(store.proj / "campaigns" / "spring-sale-2026.md")
    assert sale.source["lines"] == [1, 5] and "Next spring, lead with free shipping" in sale.body
    _, guide = by_title(memories, "Email guidelines: one call to action per message")
    assert guide.extra["content_type"] == "guideline"

    hand = store.layout.memory_dir / "decisions" / "hand-written.md"
    hand.write_text("---\nkind: decision\ntitle: Ship on Tuesdays\n---\n\nNever on Fridays.\n")
    only_index = store.sync("--scope", "memories")
    assert only_index["capture"]["counts"]["items"] == 0 and only_index["counts"]["added"] == 1
    assert not [k for k in store.checkpoint().sources if k.startswith("claude:")]

    cap = store.sync("--scope", "sessions")["capture"]
    assert cap["counts"]["items"] == 1 and [i["agent"] for i in cap["items"]] == ["claude"]
    final = store.sync()["capture"]["counts"]
    assert (final["items"], final["read"], final["unchanged"]) == (5, 0, 5)


# -- 9. corrupt lines are issues; unreadable items are failures, retried later ---------------------


def test_parse_issue_is_reported_and_unreadable_item_is_queued_then_retried(
    make_store: Any, tmp_path: Path
) -> None:
    claude = copy_sessions(FIXTURES / "claude-corrupt", tmp_path / "agents" / "claude")
    (claude / "-home-dev-x" / "x.jsonl").mkdir(parents=True)  # a folder is not a session
    openclaw = tmp_path / "agents" / "openclaw"
    openclaw.mkdir()
    garbage = openclaw / "notes.jsonl"
    garbage.write_text("this is not a session\njust some notes\n")
    store = make_store(
        agents=["claude", "openclaw"], claude=[str(claude)], openclaw=[str(openclaw)]
    )

    first = store.sync(expect=3)
    cap = first["capture"]
    corrupt = session_file(claude, CORRUPT)
    assert cap["counts"]["parse_issues"] == 1 and cap["counts"]["failed"] == 1
    assert item_for(cap, CORRUPT)["issues"] == [f"{corrupt}:2: invalid JSON (Expecting value)"]
    assert verdicts(item_for(cap, CORRUPT))[
        "Move the CI runner from Jenkins to GitHub Actions"
    ] == ("add")
    assert [f["key"] for f in cap["failures"]] == [f"openclaw:{garbage}"]
    assert "no JSON object on any line" in cap["failures"][0]["error"]
    assert str(garbage) in first["capture"]["failures"][0]["key"]
    assert all("x.jsonl" not in i["key"] for i in cap["items"])
    checkpoint = store.checkpoint()
    queued = checkpoint.source_retry[f"openclaw:{garbage}"]
    assert queued.attempts == 1 and not queued.dead
    assert f"openclaw:{garbage}" not in checkpoint.sources
    assert f"claude:{corrupt}" in checkpoint.sources

    second = store.sync(expect=3)["capture"]  # still queued: exit 3 says so
    assert second["counts"]["read"] == 0
    assert [s["reason"].split(" until ")[0] for s in second["skipped"]] == ["in the retry queue"]
    assert second["skipped_by_reason"] == {"retry_wait": 1}

    shutil.copy(
        SOURCES / "openclaw" / "agents" / "main" / "sessions" / f"{OPENCLAW}.jsonl", garbage
    )
    assert parse_iso(queued.next_attempt) > parse_iso(queued.last_failed)  # backoff: 60 s
    make_due(store.layout, f"openclaw:{garbage}")  # the backoff has passed
    third = store.sync()["capture"]
    assert third["counts"]["read"] == 1 and third["counts"]["failed"] == 0
    checkpoint = store.checkpoint()
    assert not checkpoint.source_retry and f"openclaw:{garbage}" in checkpoint.sources

    # the queued item was visible to `memsync status` while it waited
    garbage.write_text("broken again\n")
    store.sync(expect=3)
    status = store.cli("status").data
    assert f"openclaw:{garbage}" in json.dumps(status)

    # dropped by the user: skipped until it changes, and the queue is empty again
    dropped = store.cli("retry", "--drop", f"openclaw:{garbage}")
    assert dropped.code == 0 and dropped.data["dropped"] == [f"openclaw:{garbage}"]
    quiet = store.sync()["capture"]
    assert quiet["counts"]["read"] == 0 and quiet["counts"]["failed"] == 0
    garbage.write_text("broken a third time, longer\n")
    store.sync(expect=3)


def test_capture_failure_in_text_output(make_store: Any, tmp_path: Path) -> None:
    openclaw = tmp_path / "agents" / "openclaw"
    openclaw.mkdir(parents=True)
    (openclaw / "notes.jsonl").write_text("not json\n")
    store = make_store(agents=["openclaw"], openclaw=[str(openclaw)])
    res = store.cli("sync", as_json=False)
    assert res.code == 3, res.err
    assert f"failed openclaw:{openclaw / 'notes.jsonl'}" in res.data["text"]


# -- 10. `memsync sources` ------------------------------------------------------------------------


def test_sources_lists_agents_paths_counts_and_knowledge_files(
    make_store: Any, tmp_path: Path
) -> None:
    agents = tmp_path / "agents"
    claude = copy_sessions(FIXTURES / "claude", agents / "claude")
    codex = copy_sessions(SOURCES / "codex" / "sessions", agents / "codex")
    missing = agents / "openclaw-not-installed"
    store = make_store(
        agents=["claude", "codex", "openclaw"],
        claude=[str(claude)],
        codex=[str(codex)],
        openclaw=[str(missing)],
    )
    shutil.copytree(FIXTURES / "knowledge", store.proj, dirs_exist_ok=True)
    env = cli_env(tmp_path)
    env["PYTHONPATH"] = str(REPO)

    def sources() -> dict[str, Any]:
        res = run(["sources", "--json"], store.proj, env)
        assert res.returncode == 0, res.stderr
        return one_json(res.stdout)

    data = sources()
    assert [
        (a["agent"], a["paths"], a["sessions"], a["captured"], a["problems"])
        for a in data["agents"]
    ] == [
        ("claude", [{"path": str(claude), "exists": True}], 2, 0, []),
        ("codex", [{"path": str(codex), "exists": True}], 2, 0, []),
        ("openclaw", [{"path": str(missing), "exists": False}], 0, 0, []),
    ]
    assert data["knowledge"] == {
        "insights": {"path": str(store.proj / "insights.json"), "entries": 2},
        "campaigns": {"path": str(store.proj / "campaigns"), "files": 2},
        "problems": [],
    }
    store.sync("--agent", "claude", "--scope", "sessions", "--no-extract")
    after = {a["agent"]: a["captured"] for a in sources()["agents"]}
    assert after == {"claude": 2, "codex": 0, "openclaw": 0}
    text = run(["sources"], store.proj, env)
    assert text.returncode == 0 and "claude" in text.stdout and "2 captured" in text.stdout


# -- 11. the real transcripts of the shared data set ----------------------------------------------


def test_real_transcripts_capture_then_second_sync_is_a_noop(
    make_store: Any, tmp_path: Path
) -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    agents = tmp_path / "agents"
    layout = {
        "claude": [(SHARED_DATA / "claude_code", agents / "claude" / "projects")],
        "codex": [(SHARED_DATA / "codex", agents / "codex" / "sessions")],
        "openclaw": [(SHARED_DATA / "openclaw_pi", agents / "openclaw")],
    }
    copied = 0
    for pairs in layout.values():
        for src, dest in pairs:
            for path in src.rglob("*.jsonl"):
                target = dest / path.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target)
                copied += 1
    if not copied:
        pytest.skip("no transcripts in the shared data")
    store = make_store(
        agents=list(layout),
        window="30d",
        **{agent: [str(dest) for _, dest in pairs] for agent, pairs in layout.items()},
    )
    t0 = time.perf_counter()
    first = store.sync("--window", "all")
    cap = first["capture"]
    assert cap["counts"]["failed"] == 0 and cap["failures"] == [], cap["failures"]
    assert cap["counts"]["read"] == cap["counts"]["items"] > 0
    assert cap["counts"]["candidates"] > 0 and first["counts"]["failed"] == 0
    assert first["counts"]["added"] == len(store.memories())

    before = snapshot(store.layout.memory_dir)
    second = store.sync("--window", "all")
    c2 = second["capture"]["counts"]
    assert (c2["read"], c2["candidates"], c2["unchanged"]) == (0, 0, cap["counts"]["items"])
    assert second["capture"]["written"] == [] and second["counts"]["added"] == 0
    assert snapshot(store.layout.memory_dir) == before
    assert time.perf_counter() - t0 < 60


# -- DSPy extraction through the whole pipeline -----------------------------------------------


def test_dspy_extraction_feeds_the_same_dedup_and_provenance(
    make_store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dspy.utils import DummyLM

    import service.capture_wiring
    from sync.capture.extraction.dspy_extract import DspyExtractor

    claude = copy_sessions(FIXTURES / "claude" / "-home-dev-queue-service", tmp_path / "a" / "q")
    store = make_store(agents=["claude"], claude=[str(claude)])
    store.configure("llm", model="openai/local-test", api_base="http://127.0.0.1:9/v1")
    decision = {
        "kind": "decision",
        "title": "Keep the job queue in PostgreSQL",
        "body": "SKIP LOCKED gives a transactional queue, so no Redis to run.",
        "confidence": 0.85,
        "tags": ["postgres"],
        "evidence": "we decided to use PostgreSQL",
        "line_start": 2,
        "line_end": 4,
    }
    script = [
        {"reasoning": "r", "candidates": [decision, decision], "notes": "queue in postgres"},
        {"reasoning": "r", "title": "Queue service work", "summary": "Moved the queue."},
    ]
    built: list[Any] = []

    def extractor(settings: Any) -> DspyExtractor:
        assert settings.llm_model == "openai/local-test"  # chosen because [llm] is set
        built.append(DspyExtractor(DummyLM(list(script)), window_tokens=100_000))
        return built[-1]

    monkeypatch.setattr(service.capture_wiring, "make_extractor", extractor)
    cap = store.sync()["capture"]
    assert len(built) == 1
    verdicts = [(c["kind"], c["verdict"]) for i in cap["items"] for c in i["candidates"]]
    assert verdicts == [("decision", "add"), ("summary", "summary")]  # the twin merged in DSPy
    memories = store.memories()
    kept = next(m for m in memories.values() if m.kind == "decision")
    assert kept.title == "Keep the job queue in PostgreSQL" and "postgres" in kept.tags
    assert kept.source["agent"] == "claude" and kept.source["lines"] == [2, 4]
    assert kept.source["session"] == "11111111-aaaa-4000-8000-000000000001"
