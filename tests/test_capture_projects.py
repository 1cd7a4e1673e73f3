"""Per-project capture and the host agent's distillation loop, end to end through the CLI's
own code path (in-process `main`), with the real model and the real embedded index.

Sessions are written here, as each agent writes them, with a working directory inside the
project, in a subfolder, in a git worktree of the same repository, or in another project; a
marker word in each says where its memories came from, so a leak across projects shows."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.cli.main import main
from sync.capture.project import normalize_path, project_scope
from sync.store.markdown import decode_text, parse_memory
from tests.conftest import one_json

DECISION = "We decided to use {marker} as the queue backend because it survives restarts."


def claude_session(path: Path, cwd: str, marker: str, started: str) -> Path:
    """A Claude Code session file: a user decision and an agent reply, in ``cwd``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    base = {"cwd": cwd, "sessionId": path.stem, "version": "2.0.31", "isSidechain": False}
    lines = [
        {"type": "queue-operation", "operation": "enqueue", "timestamp": started},
        {
            **base,
            "type": "user",
            "uuid": "u1",
            "timestamp": started,
            "message": {"role": "user", "content": DECISION.format(marker=marker)},
        },
        {
            **base,
            "type": "assistant",
            "uuid": "a1",
            "timestamp": started,
            "message": {
                "id": "msg_1",
                "model": "claude-sonnet-4-5",
                "role": "assistant",
                "content": [{"type": "text", "text": f"Noted: {marker} it is."}],
            },
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return path


def codex_session(folder: Path, cwd: str, marker: str, started: str) -> Path:
    path = folder / "2026" / "03" / "02" / f"rollout-2026-03-02T10-00-00-{marker}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        {"timestamp": started, "type": "session_meta", "payload": {"id": marker, "cwd": cwd}},
        {
            "timestamp": started,
            "type": "event_msg",
            "payload": {"type": "user_message", "message": DECISION.format(marker=marker)},
        },
        {
            "timestamp": started,
            "type": "event_msg",
            "payload": {"type": "agent_message", "message": f"Noted: {marker}."},
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return path


def openclaw_session(folder: Path, cwd: str, marker: str, started: str) -> Path:
    path = folder / "main" / "sessions" / f"{marker}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        {"type": "session", "version": 3, "id": marker, "timestamp": started, "cwd": cwd},
        {
            "type": "message",
            "id": "e1",
            "parentId": None,
            "timestamp": started,
            "message": {
                "role": "user",
                "content": [{"type": "text", "text": DECISION.format(marker=marker)}],
            },
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return path


def cursor_workspace(user: Path, folder: Path, marker: str) -> Path:
    """A Cursor workspace database whose workspace.json names ``folder``."""
    workspace = user / "workspaceStorage" / marker
    workspace.mkdir(parents=True)
    (workspace / "workspace.json").write_text(json.dumps({"folder": folder.as_uri()}))
    composer = {
        "composerId": f"c-{marker}",
        "name": "queue",
        "createdAt": 1772445600000,
        "lastUpdatedAt": 1772445660000,
        "conversation": [
            {"type": 1, "bubbleId": "b1", "text": DECISION.format(marker=marker)},
            {"type": 2, "bubbleId": "b2", "text": f"Noted: {marker}."},
        ],
    }
    db = workspace / "state.vscdb"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    conn.execute(
        "INSERT INTO ItemTable VALUES (?, ?)",
        ("composer.composerData", json.dumps({"allComposers": [composer]})),
    )
    conn.commit()
    conn.close()
    return db


def git(*args: str, cwd: Path) -> None:
    names = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
    env = {**os.environ, **dict.fromkeys(names, "t")}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@dataclass
class World:
    """A project (a git repository with a linked worktree), another project, and the agents'
    session folders holding sessions of both."""

    proj: Path
    worktree: Path
    other: Path
    agents: Path
    capsys: pytest.CaptureFixture[str]
    mine: tuple[str, ...] = (
        "alphaclaude",
        "alphasub",
        "alphatree",
        "alphacodex",
        "alphaclaw",
        "alphacursor",
    )
    theirs: tuple[str, ...] = ("zetaclaude", "zetacodex", "zetaclaw", "zetacursor")

    def cli(self, *args: str, cwd: Path | None = None) -> tuple[int, dict[str, Any], str]:
        self.capsys.readouterr()
        os.chdir(cwd or self.proj)
        code = main([*args, "--json"])
        out, err = self.capsys.readouterr()
        return code, one_json(out), err

    def configure(self, store: Path, **sources: Any) -> None:
        config = store / ".memsync" / "config.toml"
        text = config.read_text(encoding="utf-8")
        roots = {
            "claude": [str(self.agents / "claude")],
            "codex": [str(self.agents / "codex")],
            "openclaw": [str(self.agents / "openclaw")],
            "cursor": [str(self.agents / "cursor")],
            "agents": ["claude", "codex", "openclaw", "cursor"],
            "window": "all",
            **sources,
        }
        lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in roots.items())
        config.write_text(text.replace("[sources]\n", "[sources]\n" + lines, 1), encoding="utf-8")

    def memory_texts(self, store: Path) -> dict[str, str]:
        root = store / ".memsync" / "memory"
        return {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*.md")}


@pytest.fixture
def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[World]:
    for name in [k for k in os.environ if k.startswith("MEMSYNC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    proj, other, agents = tmp_path / "proj", tmp_path / "other-proj", tmp_path / "agents"
    for folder in (proj / "sub", other):
        folder.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=proj)
    git("commit", "-q", "--allow-empty", "-m", "start", cwd=proj)
    worktree = tmp_path / "proj-feature"
    git("worktree", "add", "-q", "-b", "feature", str(worktree), cwd=proj)
    w = World(proj, worktree, other, agents, capsys)
    day = "2026-03-02T10:00:00.000Z"
    claude = agents / "claude"
    claude_session(claude / "p1" / "alphaclaude.jsonl", str(proj), "alphaclaude", day)
    claude_session(claude / "p2" / "alphasub.jsonl", str(proj / "sub"), "alphasub", day)
    claude_session(claude / "p3" / "alphatree.jsonl", str(worktree), "alphatree", day)
    claude_session(claude / "o1" / "zetaclaude.jsonl", str(other), "zetaclaude", day)
    codex_session(agents / "codex", str(proj), "alphacodex", day)
    codex_session(agents / "codex", str(other), "zetacodex", day)
    openclaw_session(agents / "openclaw", str(proj), "alphaclaw", day)
    openclaw_session(agents / "openclaw", str(other), "zetaclaw", day)
    cursor_workspace(agents / "cursor", proj, "alphacursor")
    cursor_workspace(agents / "cursor", other, "zetacursor")
    cwd = Path.cwd()
    yield w
    os.chdir(cwd)


def test_project_scope_covers_subfolders_and_git_worktrees(world: World) -> None:
    scope = project_scope(world.proj)
    assert scope.contains(str(world.proj)) and scope.contains(str(world.proj / "sub" / "x"))
    assert scope.contains(str(world.worktree)) and scope.contains(str(world.worktree) + "/")
    assert not scope.contains(str(world.other))
    assert not scope.contains(str(world.proj) + "-other")  # a sibling with the same prefix
    assert not scope.contains(None) and not scope.contains("")
    assert normalize_path("C:\\Users\\Me\\Proj\\") == "c:/users/me/proj"


def test_a_project_store_captures_only_its_own_sessions(world: World) -> None:
    assert world.cli("init")[0] == 0
    world.configure(world.proj)
    code, preview, _ = world.cli("sync", "--dry-run")
    assert code == 0
    skipped = preview["capture"]["skipped"]
    foreign = {s["key"].split(":", 1)[0] + ":" + s["key"].rsplit("/", 1)[-1] for s in skipped}
    assert len(skipped) == 4 and all(s["code"] == "other_project" for s in skipped), skipped
    assert all("other project (ran in" in s["reason"] for s in skipped)
    assert any("zetacodex" in k for k in foreign)

    code, report, _ = world.cli("sync")
    assert code == 0, report
    assert report["capture"]["counts"]["read"] == len(world.mine)
    texts = "\n".join(world.memory_texts(world.proj).values())
    for marker in world.mine:
        assert marker in texts, marker
    for marker in world.theirs:  # nothing leaks in: not in a memory, not in the index
        assert marker not in texts, marker
    _, asked, _ = world.cli("ask", "zetacodex queue backend", "--k", "20", "--no-answer")
    assert all("zeta" not in r["snippet"] for r in asked["results"])
    assert world.cli("backfill", "--all")[0] == 0  # the daily logs take this project's too
    daily = {p: t for p, t in world.memory_texts(world.proj).items() if p.startswith("daily/")}
    assert daily and all("zeta" not in t for t in daily.values())
    assert any("alphaclaude" in t for t in daily.values())

    _, sources, _ = world.cli("sources")
    by_agent = {a["agent"]: a for a in sources["agents"]}
    assert (by_agent["claude"]["sessions"], by_agent["claude"]["other_projects"]) == (3, 1)
    assert (by_agent["cursor"]["sessions"], by_agent["cursor"]["other_projects"]) == (1, 1)
    assert sources["project"]["captures"] == "this project"


def test_memories_are_dated_by_their_session(world: World) -> None:
    world.cli("init")
    world.configure(world.proj)
    assert world.cli("sync")[0] == 0
    root = world.proj / ".memsync" / "memory"
    decisions = [p for p in (root / "decisions").glob("*.md")]
    assert decisions and all(p.name.startswith("20260302-") for p in decisions)
    memory = parse_memory(decode_text(decisions[0].read_bytes(), "d.md"), "decisions/d.md")
    assert memory.created.startswith("2026-03-02T10:00")
    assert memory.extra["captured"] > memory.created and memory.id.startswith("mem-20260302-")


def test_global_store_and_all_projects_take_every_project_tagged(world: World) -> None:
    home = Path(os.environ["HOME"])
    code, made, _ = world.cli("init", "--global", cwd=world.other)
    assert code == 0 and made["global"] is True and made["store"] == str(home / ".memsync")
    world.configure(home)
    code, report, _ = world.cli("sync", cwd=home)
    assert code == 0 and report["capture"]["skipped"] == []
    texts = world.memory_texts(home)
    for marker in (*world.mine, *world.theirs):
        assert any(marker in t for t in texts.values()), marker
    zeta = next(t for t in texts.values() if "zetaclaude" in t and "kind: decision" in t)
    assert "- other-proj" in zeta  # tagged with its project

    world.cli("init")
    world.configure(world.proj)
    code, report, _ = world.cli("sync", "--all-projects", "--dry-run")
    assert code == 0 and report["capture"]["skipped"] == []
    assert report["capture"]["counts"]["read"] == len(world.mine) + len(world.theirs)


def test_the_host_agent_distils_a_session(world: World) -> None:
    world.cli("init")
    world.configure(world.proj)
    code, listed, _ = world.cli("sessions", "--pending")
    assert code == 0 and listed["counts"] == {"pending": 6, "distilled": 0, "extracted": 0}
    ids = [s["id"] for s in listed["sessions"]]
    assert "zetaclaude" not in ids and "alphaclaude" in ids
    assert (
        world.cli("sessions", "--pending", "--limit", "2")[1]["sessions"]
        == (listed["sessions"][:2])
    )

    code, digest, _ = world.cli("digest", "alphaclaude", "--budget", "800")
    assert code == 0 and digest["tokens"] <= 800 and digest["session"]["id"] == "alphaclaude"
    assert "L2 USER: We decided to use alphaclaude" in digest["digest"]
    assert digest["source_tokens"] > 0 and isinstance(digest["hints"], list)

    code, added, _ = world.cli(
        "add",
        "--kind",
        "decision",
        "--title",
        "alphaclaude is the queue backend",
        "--body",
        "It survives restarts.",
        "--session",
        "alphaclaude",
    )
    assert code == 0 and added["action"] == "add"
    assert added["path"].startswith("decisions/20260302-")  # dated by the session
    memory = parse_memory(
        (world.proj / ".memsync" / "memory" / added["path"]).read_text(), added["path"]
    )
    assert memory.source["session"] == "alphaclaude" and memory.source["via"] == "memsync add"
    assert memory.source["cwd"] == str(world.proj) and "captured" in memory.extra

    code, again, _ = world.cli(  # the same fact again: dedup applies as for any add
        "add",
        "--kind",
        "decision",
        "--title",
        "alphaclaude is the queue backend",
        "--body",
        "It survives restarts.",
        "--session",
        "alphaclaude",
    )
    assert again["action"] == "noop"

    assert world.cli("sessions", "--done", "alphaclaude")[1]["done"][0]["id"] == "alphaclaude"
    _, listed, _ = world.cli("sessions", "--pending")
    assert listed["counts"]["distilled"] == 1
    assert "alphaclaude" not in [s["id"] for s in listed["sessions"]]

    session = world.agents / "claude" / "p1" / "alphaclaude.jsonl"
    with session.open("a") as fh:  # the session grew: offered again
        fh.write(
            json.dumps(
                {
                    "type": "user",
                    "cwd": str(world.proj),
                    "message": {"role": "user", "content": "One more thing."},
                }
            )
            + "\n"
        )
    _, listed, _ = world.cli("sessions", "--pending")
    grown = next(s for s in listed["sessions"] if s["id"] == "alphaclaude")
    assert grown["note"] == "grew since it was distilled"

    code, bad, _ = world.cli("digest", "nosuchsession")
    assert code == 2 and "no session 'nosuchsession'" in bad["error"]["message"]


def test_session_start_dates_are_read_without_parsing(world: World) -> None:
    world.cli("init")
    world.configure(world.proj)
    _, listed, _ = world.cli("sessions")
    started = {s["agent"]: s["started"] for s in listed["sessions"]}
    assert started["claude"] == started["codex"] == started["openclaw"] == "2026-03-02T10:00:00Z"
    moment = dt.datetime.fromisoformat(started["claude"].replace("Z", "+00:00"))
    assert moment.tzinfo is not None


def test_a_language_model_extracts_from_the_digest_and_marks_sessions_extracted(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[llm] model = "cli:claude"` through a stub `claude -p --output-format json`: sync
    extracts with DSPy over each session's digest; those sessions are then `extracted`."""
    from tests.sync.test_llm_cli import CLAUDE_BODY, stub

    claude = stub(tmp_path, "claude", CLAUDE_BODY)
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("STUB_LOG", str(log))
    world.cli("init")
    world.configure(world.proj, agents=["claude"])
    config = world.proj / ".memsync" / "config.toml"
    text = config.read_text(encoding="utf-8")
    llm = f'[llm]\nmodel = "cli:claude"\ncommand = {json.dumps(str(claude))}\n'
    config.write_text(text.replace("[llm]\n", llm, 1), encoding="utf-8")
    code, report, _ = world.cli("sync")
    assert code == 0, report
    titles = [c["title"] for i in report["capture"]["items"] for c in i["candidates"]]
    assert "Build with the lockfile's compiler" in titles  # the stub's answer, via DSPy
    prompts = [json.loads(line)["prompt"] for line in log.read_text().splitlines()]
    assert any("# Session digest: claude alphaclaude" in p for p in prompts)
    _, listed, _ = world.cli("sessions")
    assert {s["id"]: s["status"] for s in listed["sessions"]} == dict.fromkeys(
        ("alphaclaude", "alphasub", "alphatree"), "extracted"
    )
