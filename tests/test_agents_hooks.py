"""`memsync hook EVENT` with the JSON Claude Code sends (session_id, transcript_path, cwd,
hook_event_name, source / prompt / reason / trigger): the brief at session start, recall for
a prompt (nothing at all when nothing is relevant), capture at session end without waiting,
and a hook that never fails the agent's session."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service.agents.brief import render_brief
from service.agents.hooks import LOOP_GUARD, run_hook
from service.cli.main import main
from sync.capture.digest_units import estimate_tokens
from sync.capture.extraction.echo import RECALL_CLOSE, RECALL_OPEN, strip_recall
from sync.index.engine import SyncDeps
from sync.models import Memory
from sync.store import StoreLayout, init_store
from tests.agents_world import child_env, claude_session, seed_project
from tests.conftest import MEMSYNC, one_json

OTHER_ID = "7b000000-0000-4000-8000-00000000000b"
OTHER_DECISION = "We decided to use Redis for the session cache because it is simple."


def payload(event: str, cwd: Path, **fields: Any) -> str:
    base = {"session_id": "s-1", "transcript_path": str(cwd / "none.jsonl"), "cwd": str(cwd),
            "hook_event_name": event, "permission_mode": "default"}  # fmt: skip
    return json.dumps({**base, **fields})


def context_of(out: str, event: str) -> str:
    data = json.loads(out)
    assert data["hookSpecificOutput"]["hookEventName"] == event
    text = str(data["hookSpecificOutput"]["additionalContext"])
    assert text.startswith(RECALL_OPEN) and text.endswith(RECALL_CLOSE)
    assert strip_recall(text) == ""  # capture never takes it for something said
    return text


@pytest.fixture
def seeded(layout: StoreLayout, make_deps: Callable[..., SyncDeps],
           monkeypatch: pytest.MonkeyPatch, encoder: Any) -> StoreLayout:  # fmt: skip
    """A project with indexed memories; the hooks' encoder is the session's loaded model."""
    seed_project(layout, make_deps())
    monkeypatch.setattr("service.wiring.make_encoder", lambda settings: encoder)
    for name in [k for k in os.environ if k.startswith("MEMSYNC_")]:
        monkeypatch.delenv(name)
    return layout


def test_session_start_briefs_the_agent_with_ids_within_the_budget(
    seeded: StoreLayout, tmp_path: Path
) -> None:
    project = seeded.root.parent
    out = run_hook(
        "SessionStart",
        payload("SessionStart", project, source="startup"),
        dict(os.environ),
        tmp_path,
    )  # fmt: skip  (process cwd elsewhere)
    text = context_of(out, "SessionStart")
    for mid in ("m-commits", "m-upload", "m-db", "m-tests"):
        assert f"[{mid}]" in text
    order = [text.index(h) for h in ("## Conventions", "## Open issues", "## Recent decisions",
                                     "## Recent learnings")]  # fmt: skip
    assert order == sorted(order)
    assert "test_upload.py::test_resume" in text  # identifiers kept as written
    assert "memory_search" in text and "memsync ask" in text  # how to ask for more
    assert estimate_tokens(text) <= 1500


def test_the_brief_keeps_the_most_important_within_a_small_budget() -> None:
    def memory(i: int, kind: str) -> Memory:
        return Memory(id=f"{kind}-{i}", kind=kind, title=f"{kind} number {i} about things",
                      body="A body that says what and why. " * 6)  # fmt: skip

    chosen = [[memory(i, kind) for i in range(8)] for kind in ("convention", "issue", "decision",
                                                                "learning")]  # fmt: skip
    whole = render_brief(chosen, 20_000)
    assert whole.count("\n- ") == 32
    small = render_brief(chosen, 400)
    assert estimate_tokens(small) <= 400
    assert "[convention-0]" in small and "[issue-0]" in small  # the first of each first
    assert "[convention-7]" not in small
    assert render_brief([[], [], [], []], 1500) == ""


def test_nothing_is_said_without_a_store_or_memories_or_inside_memsync(
    seeded: StoreLayout, tmp_path: Path
) -> None:
    env = dict(os.environ)
    nowhere = tmp_path / "elsewhere"
    nowhere.mkdir()
    assert run_hook("SessionStart", payload("SessionStart", nowhere), env, nowhere) == ""
    empty, _ = init_store(tmp_path / "empty" / ".memsync")
    assert run_hook("SessionStart", payload("SessionStart", empty.root.parent), env, nowhere) == ""
    project = seeded.root.parent
    guarded = {**env, LOOP_GUARD: "1"}  # memsync's own LM call (claude -p) runs hooks too
    assert run_hook("SessionStart", payload("SessionStart", project), guarded, project) == ""
    assert run_hook("Stop", payload("Stop", project), env, project) == ""
    assert run_hook("SessionStart", "{not json", env, project) == ""  # no cwd: process cwd
    log = (seeded.state_dir / "hooks.log").read_text()
    assert "SessionStart failed: JSONDecodeError" in log


def test_a_prompt_gets_the_relevant_memories_or_nothing_at_all(seeded: StoreLayout) -> None:
    project, env = seeded.root.parent, dict(os.environ)

    def prompt(text: str) -> str:
        return run_hook("UserPromptSubmit", payload("UserPromptSubmit", project, prompt=text),
                        env, project)  # fmt: skip

    text = context_of(prompt("Which database should the job queue use?"), "UserPromptSubmit")
    assert "[m-db]" in text and "Use PostgreSQL for the job queue" in text
    assert estimate_tokens(text) <= 800
    assert prompt("Write me a haiku about autumn leaves falling") == ""  # nothing relevant
    assert prompt("yes") == "" and prompt("/compact keep the plan") == ""


def test_the_hook_command_prints_only_what_the_agent_reads_and_exits_0(
    seeded: StoreLayout, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = seeded.root.parent
    monkeypatch.setattr("sys.stdin", _Stdin(payload("SessionStart", project)))
    assert main(["hook", "SessionStart"]) == 0
    context_of(capsys.readouterr().out, "SessionStart")
    monkeypatch.setattr("sys.stdin", _Stdin("[1, 2]"))
    assert main(["hook", "UserPromptSubmit"]) == 0
    assert capsys.readouterr().out == ""


class _Stdin:
    def __init__(self, text: str) -> None:
        self.text = text

    def read(self) -> str:
        return self.text


@pytest.mark.slow
def test_session_end_hands_the_transcript_over_and_returns_at_once(seeded: StoreLayout) -> None:
    project, home = seeded.root.parent, Path(os.environ["HOME"])
    transcript = claude_session(home, project)
    other = claude_session(home, project, OTHER_ID, OTHER_DECISION)
    event = payload("SessionEnd", project, transcript_path=str(transcript), reason="other")
    ended = subprocess.run(
        [*MEMSYNC, "hook", "SessionEnd"],
        input=event,
        cwd="/",
        env=child_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ended.returncode == 0 and ended.stdout == ""
    assert "handed to a detached `memsync sync`" in (seeded.state_dir / "hooks.log").read_text()
    decisions = seeded.memory_dir / "decisions"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not any("zstd" in p.name for p in decisions.iterdir()):
        time.sleep(0.5)
    names = [p.name for p in decisions.iterdir()]
    assert any("zstd" in n for n in names), names
    assert not any("redis" in n for n in names)  # only the session that ended
    assert other.exists()
    _wait_unlocked(seeded)


def test_sync_session_captures_only_that_session(
    seeded: StoreLayout, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, home = seeded.root.parent, Path(os.environ["HOME"])
    claude_session(home, project)
    other = claude_session(home, project, OTHER_ID, OTHER_DECISION)
    monkeypatch.chdir(project)
    assert main(["sync", "--session", str(other), "--json"]) == 0
    report = one_json(capsys.readouterr().out)
    read = [i for i in report["capture"]["items"] if i.get("action") == "read"] or report[
        "capture"]["items"]  # fmt: skip
    assert len(read) == 1 and "7b000000" in json.dumps(read[0])
    decisions = [p.name for p in (seeded.memory_dir / "decisions").iterdir()]
    assert any("redis" in n for n in decisions) and not any("zstd" in n for n in decisions)
    assert main(["sync", "--session", "no-such-session", "--json"]) == 2


def _wait_unlocked(layout: StoreLayout) -> None:
    """The detached sync has finished (its lock released) before the test's folder goes."""
    deadline = time.monotonic() + 120
    while layout.lock_path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
