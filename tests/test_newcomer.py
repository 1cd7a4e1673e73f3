"""A newcomer's first hour, as the README's quick start walks it: init, add, ask (ordering
and the relevance floor), a hand edit, sources, a dry run and the real run that follows it
(same counts), status — in-process through the CLI's own code path, and again with
`memsync serve` running (every command, the health tools included, goes through it)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from service.cli.main import main
from sync.store import StoreLayout
from tests.conftest import MEMSYNC, REPO, cli_env, one_json, run

FIXTURES = Path(__file__).parent / "fixtures" / "capture" / "claude"
RECENT = "11111111-aaaa-4000-8000-000000000001"  # the queue-service session
OLD = "22222222-bbbb-4000-8000-000000000002"  # the billing session, 60 days old
DECISION = (
    "Use PostgreSQL for the job queue",
    "SKIP LOCKED gives a transactional queue; no Redis to run.",
)
UNRELATED = "kubernetes helm chart rollback"


def agent_sessions(home: Path, project: Path) -> Path:
    """Claude Code's default session folder under ``home``: one recent session, one old, both
    run in ``project`` (a project store captures only its own sessions)."""
    root = home / ".claude" / "projects"
    shutil.copytree(FIXTURES, root, copy_function=shutil.copy)
    for session in root.rglob("*.jsonl"):
        text = session.read_text(encoding="utf-8")
        for fixture_cwd in ("/home/dev/queue-service", "/home/dev/billing"):
            text = text.replace(f'"cwd": "{fixture_cwd}"', json.dumps({"cwd": str(project)})[1:-1])
        session.write_text(text, encoding="utf-8")
    old = next(root.rglob(f"{OLD}.jsonl"))
    stamp = time.time() - 60 * 86400  # outside the default 30-day window
    os.utime(old, (stamp, stamp))
    return root


def shape(report: dict[str, Any]) -> dict[str, Any]:
    """What a dry run promises and the real run must report alike."""
    cap = report.get("capture") or {}
    verdicts = sorted(
        (c["kind"], c["verdict"], c["file"] or "")
        for i in cap.get("items", [])
        for c in i["candidates"]
        if not (c["file"] or "").startswith("memory/archived/")
    )
    return {
        "counts": report["counts"],
        "storage": report["storage"],
        "capture": cap.get("counts"),
        "skipped_by_reason": cap.get("skipped_by_reason"),
        "verdicts": verdicts,
    }


@pytest.fixture
def newcomer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Any]:
    """A project folder, a HOME with agent sessions, and `memsync` run in-process."""
    for name in [k for k in os.environ if k.startswith("MEMSYNC_")]:
        monkeypatch.delenv(name)
    home = tmp_path / "home"
    proj = tmp_path / "proj"
    proj.mkdir()
    agent_sessions(home, proj)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(proj)

    def memsync(*args: str, expect: int = 0, as_json: bool = True) -> Any:
        capsys.readouterr()
        code = main([*args, "--json"] if as_json else list(args))
        out, err = capsys.readouterr()
        assert code == expect, (args, code, err, out[-2000:])
        return (one_json(out) if as_json else out), err

    yield memsync, proj


def test_first_hour_in_process(newcomer: Any) -> None:
    memsync, proj = newcomer
    created, _ = memsync("init")
    assert created["created"] is True
    layout = StoreLayout(proj / ".memsync")
    fresh, _ = memsync("status", as_json=False)
    assert "collection None" not in fresh and "nothing indexed yet" in fresh
    assert "service:  not running" in fresh

    # add: the kinds are a vocabulary; a typo is refused with the closest kind and the list
    _, err = memsync("add", "--kind", "decison", "--title", "x", "--body", "y", expect=2)
    assert "did you mean 'decision'?" in err and "convention" in err
    assert not (layout.memory_dir / "decisons").exists()
    decision, _ = memsync(
        "add", "--kind", "decision", "--title", DECISION[0], "--body", DECISION[1],
        "--tags", "db,queue",
    )  # fmt: skip
    assert decision["action"] == "add"
    memsync(
        "add", "--kind", "learning", "--title", "Flaky tests came from shared temp dirs",
        "--body", "Use pytest's tmp_path fixture instead of writing under /tmp.",
    )  # fmt: skip

    # ask: one score orders the list; an unrelated question gets nothing, and says so
    asked, _ = memsync("ask", "which database runs the job queue?")
    results = asked["results"]
    assert results[0]["path"] == decision["path"] and results[0]["snippet"]
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True) and min(scores) >= asked["scoring"]["min_score"]
    nothing, _ = memsync("ask", UNRELATED)
    assert nothing["results"] == [] and nothing["no_strong_match"] is True
    assert nothing["closest"]["score"] < nothing["scoring"]["min_score"]
    text, _ = memsync("ask", UNRELATED, as_json=False)
    assert text.startswith("no strong match")
    weak, _ = memsync("ask", UNRELATED, "--min-score", "0")
    assert len(weak["results"]) == 2
    lexical, _ = memsync("ask", "SKIP LOCKED", "--mode", "lexical")
    assert lexical["scoring"]["score"] == "bm25"
    assert lexical["results"][0]["score"] == lexical["results"][0]["lexical"] > 0

    # a hand edit, then what would be captured, then the real run: the same counts
    edited = layout.memory_dir / decision["path"]
    edited.write_text(edited.read_text() + "\nWorkers poll every second.\n")
    sources, _ = memsync("sources")
    claude = next(a for a in sources["agents"] if a["agent"] == "claude")
    assert claude["sessions"] == 2 and claude["captured"] == 0
    dry, _ = memsync("sync", "--dry-run")
    dry_text, _ = memsync("sync", "--dry-run", as_json=False)
    assert "skipped: 1 changed before the window" in dry_text
    real, _ = memsync("sync")
    assert shape(dry) == shape(real)
    assert real["capture"]["skipped_by_reason"]["window"] == 1
    changed = {i["path"]: i["action"] for i in real["items"]}
    assert changed[decision["path"]] == "update"  # the hand edit is reported, not swallowed
    status, _ = memsync("status", as_json=False)
    assert f"collection {real['collection']}" in status and "retry queue: 0" in status
    again, _ = memsync("sync")
    assert again["counts"]["added"] == again["counts"]["updated"] == 0

    retry, _ = memsync("retry", as_json=False)
    assert "nothing to retry" in retry

    # lexical mode loads no model: neither torch nor sentence-transformers is even imported
    code = (
        "import sys\nfrom service.cli.main import main\n"
        "code = main(['ask', 'SKIP LOCKED', '--mode', 'lexical', '--json'])\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'onnxruntime')\n"
        "         if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\nsys.exit(code)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=proj, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert one_json(done.stdout)["results"][0]["path"] == decision["path"]
    assert "HEAVY=\n" in done.stderr, done.stderr


@pytest.mark.slow
def test_first_hour_with_the_service_running(tmp_path: Path) -> None:
    """The same path with `memsync serve` up: nothing is refused, every answer comes from the
    service (it holds the store's lock and index), with the CLI's output and exit codes."""
    env = cli_env(tmp_path)
    env["PYTHONPATH"] = str(REPO)
    proj = tmp_path / "proj"
    proj.mkdir()
    agent_sessions(Path(env["HOME"]), proj)

    def memsync(*args: str, expect: int = 0) -> dict[str, Any]:
        res = run([*args, "--json"], proj, env)
        assert res.returncode == expect, (args, res.returncode, res.stderr, res.stdout[-2000:])
        return dict(one_json(res.stdout))

    memsync("init")
    layout = StoreLayout(proj / ".memsync")
    with served(proj, env, layout) as url:
        status = memsync("status")
        service = status["service"]
        assert service["url"] == url and service["pid"] and service["uptime_s"] >= 0
        text = run(["status"], proj, env).stdout
        assert f"service:  running at {url} (pid {service['pid']}" in text
        assert memsync("add", "--kind", "decison", "--title", "x", "--body", "y", expect=2)[
            "error"
        ]["message"].startswith("--kind 'decison' is not a kind; did you mean 'decision'?")
        decision = memsync(
            "add", "--kind", "decision", "--title", DECISION[0], "--body", DECISION[1]
        )
        asked = memsync("ask", "which database runs the job queue?")
        assert asked["results"][0]["path"] == decision["path"]
        assert memsync("ask", UNRELATED)["no_strong_match"] is True
        edited = layout.memory_dir / decision["path"]
        edited.write_text(edited.read_text() + "\nWorkers poll every second.\n")
        assert memsync("sources")["agents"][0]["sessions"] == 2
        dry = memsync("sync", "--dry-run")
        real = memsync("sync")
        assert shape(dry) == shape(real)
        assert {i["path"]: i["action"] for i in real["items"]}[decision["path"]] == "update"

        # the health tools work while the service holds the store
        # (exit 5 exactly when a threshold is crossed: the offline rules' memories of these
        # fixture sessions may count as noise)
        res = run(["audit", "--json"], proj, env)
        audit = dict(one_json(res.stdout))
        assert res.returncode == (5 if audit["failed"] else 0), res.stderr
        assert audit["memories"] >= 2 and set(audit["failed"]) <= {"noise_rate"}
        res = run(["audit", "--fix", "--json"], proj, env)
        fixed = dict(one_json(res.stdout))
        assert res.returncode == (5 if fixed["failed"] else 0), res.stderr
        assert fixed["fix"]["failures"] == []
        preview = memsync("maintain", "--dry-run")
        assert preview["dry_run"] is True
        assert memsync("maintain")["dry_run"] is False
        days = memsync("compare", "--tz", "UTC")
        assert days["timezone"] == "UTC" and days["days"]
        planned = memsync("backfill", "--all", "--dry-run", "--tz", "UTC")
        assert planned["dry_run"] is True and planned["days"]
        written = memsync("backfill", "--all", "--tz", "UTC")
        assert written["written"] and written["sync"]["counts"]["failed"] == 0
        nothing = memsync("retry")
        assert nothing["retried"] is False
        assert memsync("restore", "no-such-id", expect=2)["error"]["message"].startswith(
            "no archived memory"
        )
    assert not (layout.root / "service.json").exists()


@contextmanager
def served(proj: Path, env: dict[str, str], layout: StoreLayout) -> Iterator[str]:
    """`memsync serve` on a free port for the block; yields its address."""
    server = subprocess.Popen(
        [*MEMSYNC, "serve", "--port", "0", "--sync-every", "0"],
        cwd=proj,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    info = layout.root / "service.json"
    try:
        deadline = time.monotonic() + 120
        while not info.exists() and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.1)
        assert info.exists(), server.stderr.read() if server.stderr else ""
        yield str(json.loads(info.read_text())["url"])
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
