"""What the agent tests share: a project with memories of each kind (indexed with the real
model into the real embedded index) and a Claude Code session of that project."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sync.index.engine import SyncDeps, SyncOptions, run_sync
from sync.store import StoreLayout
from tests.conftest import REPO, memory_text, write_memory_file

MEMORIES = {
    "conventions/commits.md": ("convention", "m-commits", "Commit messages use the imperative mood",
                               "Write 'Add retry to client', never 'Added'; the user corrected "
                               "this twice.", "[git]"),
    "issues/upload.md": ("issue", "m-upload", "Flaky upload test still fails on CI",
                         "tests/test_upload.py::test_resume fails one run in ten on CI; not "
                         "reproduced locally. Left open.", "[ci, tests]"),
    "decisions/db.md": ("decision", "m-db", "Use PostgreSQL for the job queue",
                        "SKIP LOCKED gives a transactional queue, so there is no Redis to run.",
                        "[db, queue]"),
    "learnings/tests.md": ("learning", "m-tests", "Flaky tests came from shared temp dirs",
                           "Tests shared /tmp/work; switching to pytest's tmp_path fixture "
                           "fixed the flaky failures.", "[tests]"),
}  # fmt: skip
SESSION_ID = "6a1b2c3d-0000-4000-8000-00000000000a"
SESSION_DECISION = "We decided to use zstd compression for the upload archives because it is fast."


def seed_project(layout: StoreLayout, deps: SyncDeps) -> None:
    """The memories above, indexed."""
    for rel, (kind, mid, title, body, tags) in MEMORIES.items():
        write_memory_file(layout, rel, memory_text(title, body, mid=mid, kind=kind, tags=tags))
    report = run_sync(layout, SyncOptions(), deps)
    assert report["counts"]["added"] == len(MEMORIES), report["failures"]


def claude_session(home: Path, project: Path, session_id: str = SESSION_ID,
                   text: str = SESSION_DECISION) -> Path:  # fmt: skip
    """A Claude Code transcript of ``project`` under ``home``/.claude/projects."""
    folder = home / ".claude" / "projects" / str(project).replace("/", "-")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{session_id}.jsonl"
    base = {"cwd": str(project), "sessionId": session_id, "version": "2.0.31",
            "isSidechain": False}  # fmt: skip
    started = "2026-11-20T10:00:00.000Z"
    lines = [
        {**base, "type": "user", "uuid": "u1", "timestamp": started,
         "message": {"role": "user", "content": text}},
        {**base, "type": "assistant", "uuid": "a1", "timestamp": started,
         "message": {"id": "msg_1", "model": "claude-sonnet-4-5", "role": "assistant",
                     "content": [{"type": "text", "text": "Noted, zstd it is."}]}},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return path


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a memsync process the tests start: this checkout, a private HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMSYNC_")}
    env.update(HOME=str(home), PYTHONPATH=str(REPO), **extra)
    return env
