"""`memsync audit`: every planted problem found precisely, thresholds and exit codes, `--fix`
repairs index drift only, and a plain audit writes nothing (real model, real edge index)."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service import wiring
from service.cli.audit import audit_text, cmd_audit
from service.cli.parser import add_audit_parsers as add_parsers
from sync.care.audit import AuditPolicy, AuditThresholds, audit_store
from sync.care.audit_checks import effective_confidence
from sync.hashing import point_id
from sync.index.checkpoint import load_checkpoint
from sync.index.engine import SyncDeps, SyncOptions, run_sync
from sync.ports import IndexPoint
from sync.retry import RetryPolicy
from sync.store import StoreLayout
from tests.conftest import index_for, memory_text, write_memory_file

FAKE_KEY = "sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0"  # not a real key
QUEUE = (
    "Use PostgreSQL for the job queue",
    "SKIP LOCKED gives us a transactional queue without running Redis next to the database.",
)
CLEAN = {  # rel path: (id, title, body)
    "decisions/queue.md": ("m-queue", *QUEUE),
    "decisions/api.md": (
        "m-api",
        "Version the HTTP API in the URL",
        "Clients pin the /v1/ and /v2/ path prefixes, so old clients keep working after a release.",
    ),
    "decisions/ci.md": (
        "m-ci",
        "CI cache key must include the lockfile hash",
        "Otherwise stale wheels are restored from the cache and the build installs old versions.",
    ),
}
PLANTED = {
    # exact duplicate of queue.md once normalized (case, punctuation)
    "decisions/queue-copy.md": ("m-copy", "use postgresql for the JOB QUEUE!", QUEUE[1].upper()),
    "learnings/tmp-1.md": (
        "m-tmp1",
        "Flaky tests came from shared temp directories",
        "Tests that wrote into /tmp collided when they ran in parallel; use the pytest tmp_path "
        "fixture instead.",
    ),
    "learnings/tmp-2.md": (
        "m-tmp2",
        "Flaky tests were caused by shared temp directories",
        "Tests writing into /tmp collided when run in parallel; use pytest's tmp_path fixture "
        "instead.",
    ),
    "decisions/short.md": ("m-short", "Cache", "Use Redis."),
    "decisions/secret.md": (
        "m-secret",
        "Deploy key for the staging bot",
        f"The staging bot authenticates with {FAKE_KEY} until we move it to the vault.",
    ),
}


def parse(*argv: str) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true")
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers(dest="command"), common)
    return parser.parse_args(["audit", *argv])


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def write_all(layout: StoreLayout, memories: dict[str, tuple[str, str, str]]) -> None:
    for rel, (mid, title, body) in memories.items():
        kind = "learning" if rel.startswith("learnings/") else "decision"
        write_memory_file(layout, rel, memory_text(title, body, mid=mid, kind=kind))


@pytest.fixture
def in_store(layout: StoreLayout, monkeypatch: pytest.MonkeyPatch, encoder: Any) -> StoreLayout:
    """cwd in the project; the CLI's encoder is the session's (loaded once)."""
    for var in ("MEMSYNC_DIR", "MEMSYNC_QDRANT_MODE", "MEMSYNC_QDRANT_URL", "MEMSYNC_MODEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(wiring, "make_encoder", lambda settings: encoder)
    monkeypatch.chdir(layout.root.parent)
    return layout


@pytest.fixture
def planted(
    in_store: StoreLayout, make_deps: Callable[..., SyncDeps], tmp_path: Path
) -> dict[str, Any]:
    """A synced store, then every problem the audit must find, planted behind its back."""
    layout = in_store
    write_all(layout, {**CLEAN, **PLANTED})
    transcript = tmp_path / "sessions" / "s1.jsonl"
    transcript.parent.mkdir()
    transcript.write_text("{}\n")
    write_memory_file(
        layout,
        "learnings/from-session.md",
        "---\nid: m-session\nkind: learning\ntitle: Run migrations before deploying\n"
        f"source: {{agent: claude, session: s1, file: '{transcript}'}}\n---\n\n"
        "The deploy script must run alembic upgrade head before new containers serve.\n",
    )
    write_memory_file(
        layout,
        "decisions/logging.md",
        "---\nid: m-logging\nkind: decision\ntitle: Log in JSON lines\nconfidence: 0.8\n"
        "created: '2020-01-01T00:00:00Z'\nupdated: '2020-01-01T00:00:00Z'\n---\n\n"
        "Structured logs in JSON lines let the collector parse fields without regexes.\n",
    )
    write_memory_file(layout, "decisions/broken.md", "---\nkind: [oops\n---\n\nbody\n")
    report = run_sync(layout, SyncOptions(), make_deps(policy=RetryPolicy(max_attempts=1)))
    assert report["counts"]["added"] == 10 and report["counts"]["failed"] == 1
    transcript.unlink()  # agents delete old transcripts
    (layout.memory_dir / "decisions/ci.md").write_text(
        memory_text(
            CLEAN["decisions/ci.md"][1], "Edited after the sync: key on uv.lock.", mid="m-ci"
        )
    )
    collection = load_checkpoint(layout.checkpoint_path, layout.journal_path).collection
    assert collection
    stray = str(uuid.UUID(int=7))
    vector = np.random.default_rng(7).normal(size=384)
    index = index_for(layout, "edge")
    try:
        index.delete(collection, [point_id("m-api")])
        payload = {"path": "decisions/ghost.md", "kind": "decision", "status": "active"}
        index.upsert(
            collection, [IndexPoint(stray, list(vector / np.linalg.norm(vector)), payload)]
        )
    finally:
        index.close()
    return {"layout": layout, "stray": stray, "transcript": str(transcript)}


def test_audit_finds_every_planted_problem_and_fails_with_exit_5(planted: dict[str, Any]) -> None:
    layout: StoreLayout = planted["layout"]
    before = tree(layout.root)
    data, text, code = cmd_audit(parse("--json"))
    assert tree(layout.root) == before  # no lock file, no index write, no report: nothing
    assert code == 5
    assert data["failed"] == [
        "exact_duplicate_rate",
        "noise_rate",
        "secrets",
        "index_drift",
        "dead_letters",
        "unreadable",
    ]
    assert (data["memories"], data["points"]) == (10, 10)
    assert data["exact_duplicates"] == {
        "count": 1,
        "rate": 0.1,
        "clusters": [["decisions/queue-copy.md", "decisions/queue.md"]],
    }
    near = data["near_duplicates"]
    assert near["clusters"] == [["learnings/tmp-1.md", "learnings/tmp-2.md"]]
    assert [(p["a"], p["b"]) for p in near["pairs"]] == [
        ("learnings/tmp-1.md", "learnings/tmp-2.md")
    ]
    assert 0.92 <= near["pairs"][0]["score"] < 1.0 and near["unchecked"] == []
    assert data["low_information"] == [
        {"path": "decisions/short.md", "words": 2, "reasons": ["2 word(s), fewer than 8"]}
    ]
    assert data["secrets"] == [{"path": "decisions/secret.md", "kinds": {"openai_key": 1}}]
    assert [(x["path"], x["reasons"]) for x in data["noise"]["items"]] == [
        ("decisions/ci.md", ["decision without a reason"]),  # its edit dropped the reason
        ("decisions/secret.md", ["decision without a reason"]),
        ("decisions/short.md", ["body restates the title", "decision without a reason"]),
    ]
    assert data["noise"]["rate"] == 0.3
    assert FAKE_KEY not in json.dumps(data) and FAKE_KEY not in text
    assert data["source_missing"] == [
        {
            "path": "learnings/from-session.md",
            "source_file": planted["transcript"],
            "agent": "claude",
        }
    ]
    stale = data["stale"]["items"]
    assert [(s["path"], s["since"], s["effective_confidence"]) for s in stale] == [
        ("decisions/logging.md", "updated", 0.1)
    ]
    drift = data["index_drift"]
    assert drift["count"] == 3
    assert drift["points_without_file"] == [
        {
            "point_id": planted["stray"],
            "path": "decisions/ghost.md",
            "reason": "unknown to the checkpoint (written behind memsync's back)",
        }
    ]
    assert drift["files_without_point"] == [
        {"path": "decisions/api.md", "reason": "point missing from the index"}
    ]
    assert drift["hash_mismatch"] == [
        {"path": "decisions/ci.md", "reason": "changed since indexed"}
    ]
    assert [(d["path"], d["queue"]) for d in data["dead_letters"]] == [
        ("decisions/broken.md", "memory")
    ]
    assert [u["path"] for u in data["unreadable"]] == ["decisions/broken.md"]
    checks = Counter((p["check"], p["severity"]) for p in data["problems"])
    assert checks == {
        ("exact_duplicate", "warning"): 1,
        ("near_duplicate", "warning"): 1,
        ("low_information", "warning"): 1,
        ("noise", "warning"): 3,
        ("secret", "error"): 1,
        ("stale", "info"): 1,
        ("source_missing", "info"): 1,
        ("index_drift", "error"): 3,
        ("dead_letter", "error"): 1,
        ("unreadable", "error"): 1,
    }
    assert "Failed: exact_duplicate_rate, noise_rate, secrets, index_drift" in text


def test_access_times_thresholds_and_decay_in_the_pure_report(planted: dict[str, Any]) -> None:
    layout: StoreLayout = planted["layout"]
    now = dt.datetime.now(dt.UTC)
    recent = (now - dt.timedelta(days=3)).isoformat()
    lenient = AuditThresholds(
        max_exact_duplicate_rate=0.1, max_secrets=1, max_index_drift=3, max_dead_letters=1,
        max_unreadable=1, max_noise_rate=0.3,
    )  # fmt: skip
    index = index_for(layout, "edge")
    try:
        report = audit_store(
            layout, index, thresholds=lenient, access={"m-logging": recent}, now=now,
            policy=AuditPolicy(near_threshold=0.99),
        )  # fmt: skip
    finally:
        index.close()
    assert report["stale"]["items"] == []  # read 3 days ago: not past the horizon
    assert report["failed"] == []  # every measure at (not above) its limit
    assert report["near_duplicates"]["pairs"] == []  # 0.97 < 0.99
    assert report["near_duplicates"]["unchecked"] == ["decisions/api.md"]  # no point, no encoder
    no_index = audit_store(layout, None, now=now)
    assert len(no_index["index_drift"]["files_without_point"]) == 10
    assert no_index["stale"]["items"][0]["days"] >= 180
    policy = AuditPolicy()
    assert effective_confidence(0.8, 90, policy) == pytest.approx(0.4)
    assert effective_confidence(0.8, 400, policy) == 0.1


def test_fix_repairs_drift_only_and_leaves_memory_files_byte_identical(
    planted: dict[str, Any], make_deps: Callable[..., SyncDeps]
) -> None:
    layout: StoreLayout = planted["layout"]
    memory_before = tree(layout.memory_dir)
    data, text, code = cmd_audit(parse("--fix", "--json"))
    assert code == 5  # secrets, duplicates and the dead letter are for people to fix
    assert data["fix"]["deleted_points"] == [planted["stray"]]
    assert data["fix"]["reindexed"] == ["decisions/api.md", "decisions/ci.md"]
    assert data["fix"]["failures"] == [] and data["fix"]["drift_before"]["count"] == 3
    assert data["index_drift"]["count"] == 0 and "index_drift" not in data["failed"]
    assert tree(layout.memory_dir) == memory_before
    assert not layout.lock_path.exists()
    again, _, _ = cmd_audit(parse())
    assert again["index_drift"] == {
        "count": 0,
        "points_without_file": [],
        "files_without_point": [],
        "hash_mismatch": [],
    }
    assert again["points"] == 10 and "Fixed:" in text
    (layout.memory_dir / "decisions/short.md").unlink()  # a person deletes a memory
    data, _, _ = cmd_audit(parse("--fix"))
    assert data["fix"]["drift_before"]["points_without_file"] == [
        {
            "point_id": point_id("m-short"),
            "path": "decisions/short.md",
            "reason": "memory file deleted since the last sync",
        }
    ]
    assert data["index_drift"]["count"] == 0 and data["points"] == 9
    after = run_sync(layout, SyncOptions(), make_deps())["counts"]  # the sync that follows
    assert (after["added"], after["updated"], after["deleted"], after["failed"]) == (0, 0, 1, 0)


def test_a_clean_store_passes_with_exit_0(
    in_store: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    write_all(in_store, CLEAN)
    run_sync(in_store, SyncOptions(), make_deps())
    data, text, code = cmd_audit(parse("--near-threshold", "0.9"))
    assert (code, data["failed"], data["problems"]) == (0, [], [])
    assert data["near_duplicates"]["threshold"] == 0.9
    assert text.endswith("OK: no threshold crossed")
    assert "FAILED" not in audit_text(data)
