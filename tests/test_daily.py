"""Daily logs (`memsync compare` / `memsync backfill`): hand-written Claude Code sessions in a
tmp HOME-like folder, configured through `[sources]`, bucketed into days in a non-UTC zone,
written as daily memories and indexed in the real embedded index with the real model.
Handlers run in-process through a parser built with `add_parsers` (the CLI's error mapping
is mirrored by `call`)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.cli.daily import cmd_backfill, cmd_compare, resolve_tz
from service.cli.parser import add_daily_parsers as add_parsers
from sync.capture.daily import MARKER, backfill, bucket, compare, split_tail
from sync.capture.sources import adapter
from sync.capture.sources.base import Transcript
from sync.errors import ConfigError, LockBusyError, StoreNotFoundError, UsageError
from sync.index.checkpoint import load_checkpoint
from sync.store import StoreLayout
from sync.store.markdown import decode_text, parse_memory

TZ = "Europe/Berlin"  # UTC+1 in November
SID_A = "aaaaaaaa-1111-4000-8000-000000000001"  # billing, 09:00-10:00 Berlin on the 19th
SID_B = "bbbbbbbb-2222-4000-8000-000000000002"  # queue-service, 14:00-14:30 on the 19th
SID_C = "cccccccc-3333-4000-8000-000000000003"  # infra, 23:30 on the 19th to 00:20 on the 20th
OPENAI_KEY = "sk-proj-Zq3vT8mN2pL6xR9wK4yH7jB1cF5gD0sA3eU8iO2tY6nM4vQ9"
SONNET, OPUS = "claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805"
D19, D20 = "2026-11-19", "2026-11-20"
PYTEST = "pytest tests/test_invoice.py"
TAIL = "\n\n## My notes\nCall Alice about the invoice rounding.  \n\n   trailing\t\n\n"


def _line(kind: str, ts: str, sid: str, cwd: str, n: int, message: dict[str, Any]) -> str:
    record = {"type": kind, "timestamp": ts, "sessionId": sid, "cwd": cwd, "uuid": f"{sid}-{n}"}
    return json.dumps({**record, "isSidechain": False, "message": message}) + "\n"


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _assistant(mid: str, model: str, text: str, tool: tuple[str, str, Any] | None = None) -> Any:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    if tool:
        content.append({"type": "tool_use", "id": tool[0], "name": tool[1], "input": tool[2]})
    return {"id": mid, "role": "assistant", "model": model, "content": content}


def _result(tool_id: str, output: str, error: bool = False) -> dict[str, Any]:
    block = {"type": "tool_result", "tool_use_id": tool_id, "content": output, "is_error": error}
    return {"role": "user", "content": [block]}


SESSIONS: dict[tuple[str, str], list[tuple[str, str, dict[str, Any]]]] = {
    (SID_A, "/home/dev/billing"): [
        ("user", "2026-11-19T08:00:00Z", _user(
            "Fix the invoice rounding bug in the billing service. "
            f"Here is the key: export OPENAI_API_KEY={OPENAI_KEY}")),
        ("assistant", "2026-11-19T08:01:00Z", _assistant(
            "m1", SONNET, "Running the invoice tests first.",
            ("t1", "Bash", {"command": f"OPENAI_API_KEY={OPENAI_KEY} {PYTEST}"}))),
        ("user", "2026-11-19T08:01:30Z", _result(
            "t1", "FAILED tests/test_invoice.py::test_total - AssertionError: 10.005 != 10.01\n"
            "1 failed in 0.12s", error=True)),
        ("assistant", "2026-11-19T08:05:00Z", _assistant(
            "m2", OPUS, "We decided to use Decimal with ROUND_HALF_UP for every invoice amount "
            "because floats lose cents.",
            ("t2", "Edit", {"file_path": "/home/dev/billing/src/invoice.py", "old_string": "a",
                            "new_string": "b"}))),
        ("user", "2026-11-19T08:05:10Z", _result("t2", "The file was updated.")),
        ("user", "2026-11-19T09:00:00Z", _user("Great, the rounding is right now. Commit it.")),
    ],
    (SID_B, "/home/dev/queue-service"): [
        ("user", "2026-11-19T13:00:00Z", _user("Add a retry limit to the job queue worker.")),
        ("assistant", "2026-11-19T13:10:00Z", _assistant(
            "m3", SONNET, "Done: the worker now gives up after five attempts.")),
        ("user", "2026-11-19T13:30:00Z", _user("Looks good, ship the retry limit.")),
    ],
    (SID_C, "/home/dev/infra"): [
        ("user", "2026-11-19T22:30:00Z", _user("Rotate the staging TLS certificates tonight.")),
        ("assistant", "2026-11-19T22:45:00Z", _assistant(
            "m4", SONNET, "Starting with the load balancer certificate.",
            ("t3", "Bash", {"command": "certbot renew --cert-name staging"}))),
        ("user", "2026-11-19T23:10:00Z", _user("Now restart nginx on the edge nodes.")),
        ("assistant", "2026-11-19T23:20:00Z", _assistant(
            "m5", SONNET, "nginx restarted on both edge nodes.")),
    ],
}  # fmt: skip


def write_sessions(root: Path) -> dict[str, Path]:
    """The three sessions as Claude Code JSONL files under ``root``; session id -> file."""
    files = {}
    for (sid, cwd), records in SESSIONS.items():
        path = root / cwd.replace("/", "-") / f"{sid}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [_line(kind, ts, sid, cwd, n, msg) for n, (kind, ts, msg) in enumerate(records)]
        path.write_text("".join(lines), encoding="utf-8")
        files[sid] = path
    return files


def say(root: Path, sid: str, cwd: str, ts: str, text: str) -> None:
    """The user says one more thing in a session (appended to its file)."""
    with (root / cwd.replace("/", "-") / f"{sid}.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(_line("user", ts, sid, cwd, 99, _user(text)))


def parse_all(root: Path) -> dict[str, Transcript]:
    source = adapter("claude")
    return {item.key: source.parse(item) for item in source.discover(root)}


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true")
    parser = argparse.ArgumentParser(prog="memsync", parents=[common])
    add_parsers(parser.add_subparsers(dest="command", required=True), common)
    return parser


def call(*argv: str) -> tuple[int, dict[str, Any]]:
    """Run one command in-process; errors map to exit codes as `service.cli.main.main` does."""
    args = _parser().parse_args([*argv, "--json"])
    handler = {"compare": cmd_compare, "backfill": cmd_backfill}[args.command]
    try:
        data, _text, code = handler(args)
    except (ConfigError, StoreNotFoundError, UsageError) as exc:
        return 2, {"error": str(exc)}
    except LockBusyError as exc:
        return 4, {"error": str(exc)}
    json.dumps(data)  # the --json document must serialise
    return code, data


def snapshot(root: Path) -> dict[str, bytes | None]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[StoreLayout, Path]]:
    """A project store whose [sources] point at the hand-written sessions; cwd is the project."""
    for name in [k for k in os.environ if k.startswith("MEMSYNC_")]:
        monkeypatch.delenv(name)
    from service.cli.memory_commands import cmd_init

    proj = tmp_path / "proj"
    proj.mkdir()
    monkeypatch.chdir(proj)
    cmd_init(argparse.Namespace(path=None, json=True))
    layout = StoreLayout(proj / ".memsync")
    sessions = tmp_path / "home" / "claude-projects"
    write_sessions(sessions)
    text = layout.config_path.read_text(encoding="utf-8")
    assert text.count("[sources]\n") == 1
    config = (  # the hand-written sessions ran elsewhere: this store takes every project
        f'[sources]\nagents = ["claude"]\nclaude = [{json.dumps(str(sessions))}]\n'
        'projects = "all"\n'
    )
    layout.config_path.write_text(text.replace("[sources]\n", config, 1), encoding="utf-8")
    yield layout, sessions


def read_memory(layout: StoreLayout, rel: str) -> Any:
    return parse_memory(decode_text((layout.memory_dir / rel).read_bytes(), rel), rel)


# -- pure: bucketing by local day ------------------------------------------------------------


def test_sessions_are_bucketed_by_local_day_and_midnight_splits_a_session(tmp_path: Path) -> None:
    files = write_sessions(tmp_path / "s")
    sessions = parse_all(tmp_path / "s")
    keys = {sid: f"claude:{path}" for sid, path in files.items()}

    berlin = bucket(sessions, TZ)
    assert list(berlin) == [D19, D20]
    assert [s.key for s in berlin[D19]] == [keys[SID_A], keys[SID_B], keys[SID_C]]
    assert [s.key for s in berlin[D20]] == [keys[SID_C]]
    late, early = berlin[D19][2], berlin[D20][0]
    assert [m.text for m in late.transcript.messages] == [
        "Rotate the staging TLS certificates tonight.",
        "Starting with the load balancer certificate.",
    ]
    assert (late.continued, late.continues, early.continued, early.continues) == (
        False, True, True, False,
    )  # fmt: skip
    # in UTC the same session never leaves the 19th
    utc = bucket(sessions, "UTC")
    assert list(utc) == [D19] and len(utc[D19]) == 3 and len(utc[D19][2].times) == 4

    layout = StoreLayout(tmp_path / ".memsync")
    (layout.memory_dir / "daily").mkdir(parents=True)
    statuses = compare(layout, sessions, TZ)
    assert [(s.day, s.status) for s in statuses] == [(D19, "missing"), (D20, "missing")]
    assert statuses[0].newest == "2026-11-19T22:45:00Z"  # C's last message of the 19th
    # a file written before the day's last activity is stale; one written after it is ok
    evening = dt.datetime(2026, 11, 19, 20, tzinfo=dt.UTC)
    backfill(layout, sessions, TZ, day=D19, now=evening)
    backfill(layout, sessions, TZ, day=D20, now=evening + dt.timedelta(days=1))
    stale, ok = compare(layout, sessions, TZ)
    assert (stale.status, ok.status) == ("stale", "ok") and ok.reason == "up to date"
    assert stale.reason == (
        "sessions active until 2026-11-19T22:45:00Z, after the file was written "
        "(2026-11-19T20:00:00Z)"
    )


def test_summarizer_output_is_added_and_redacted(tmp_path: Path) -> None:
    write_sessions(tmp_path / "s")
    layout = StoreLayout(tmp_path / ".memsync")
    seen: list[str] = []

    def summarize(day: str, body: str) -> str:
        seen.append(day)
        return f"Billing and certificates. The old key was {OPENAI_KEY}."

    result = backfill(
        layout, parse_all(tmp_path / "s"), TZ, day=D20,
        now=dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC), summarize=True, summarizer=summarize,
    )  # fmt: skip
    assert [d["action"] for d in result["days"]] == ["create"] and seen == [D20]
    text = (layout.memory_dir / "daily" / f"{D20}.md").read_text(encoding="utf-8")
    assert "## Summary\nBilling and certificates. The old key was [REDACTED:openai_key]." in text
    assert OPENAI_KEY not in text
    with pytest.raises(UsageError, match=r"\[llm\] model"):
        backfill(layout, {}, TZ, day=None, now=dt.datetime.now(dt.UTC), summarize=True)


def test_time_zone_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_tz("Asia/Tokyo", {"MEMSYNC_TIMEZONE": TZ}) == "Asia/Tokyo"
    assert resolve_tz(None, {"MEMSYNC_TIMEZONE": TZ}) == TZ
    assert resolve_tz(None, {"TZ": ":America/New_York"}) == "America/New_York"
    with pytest.raises(UsageError, match="IANA"):
        resolve_tz("Mars/Olympus", {})


# -- end to end: compare, backfill, index, preserve, archive, dry run ------------------------


def test_backfill_creates_indexed_daily_memories_and_compare_tracks_them(
    store: tuple[StoreLayout, Path],
) -> None:
    layout, sessions = store
    code, data = call("compare", "--tz", TZ)
    assert code == 0 and data["counts"] == {"missing": 2, "stale": 0, "ok": 0}

    code, data = call("backfill", "--all", "--tz", TZ)
    assert code == 0, data
    assert [(d["day"], d["action"]) for d in data["days"]] == [(D19, "create"), (D20, "create")]
    assert data["written"] == [f"daily/{D19}.md", f"daily/{D20}.md"]
    assert data["sync"]["counts"]["added"] == 2 and data["sync"]["counts"]["failed"] == 0

    day = read_memory(layout, f"daily/{D19}.md")
    assert (day.id, day.kind, day.title, day.tags) == (
        f"daily-{D19}", "daily", f"Daily log {D19}", ("daily",),
    )  # fmt: skip
    assert day.source["agents"] == ["claude"] and len(day.source["sessions"]) == 3
    assert day.source["timezone"] == TZ and len(day.source["hash"]) == 32
    body = day.body
    for needle in (
        "09:00–10:00 · claude · billing · session aaaaaaaa — Fix the invoice rounding bug",
        "23:30–23:45 · claude · infra · session cccccccc (continues)",
        "- Use Decimal with ROUND_HALF_UP for every invoice amount (billing, 09:05)",
        "`OPENAI_API_KEY=[REDACTED:openai_key] pytest tests/test_invoice.py`",
        "## Done\n- billing: src/invoice.py",
        "AssertionError: 10.005 != 10.01",
        "## Fixed\n- test_total failed: AssertionError: 10.005 != 10.01 (pytest) (billing, 09:01)",
        f"09:05 claude · billing: {SONNET} → {OPUS}",
        "- Messages: 9 (assistant 4, user 5, tool calls 3)",
    ):
        assert needle in body, needle
    assert body.endswith(MARKER)
    night = read_memory(layout, f"daily/{D20}.md").body
    assert "00:10–00:20 · claude · infra · session cccccccc (continued)" in night
    assert "billing" not in night

    for path in (p for p in layout.root.rglob("*") if p.is_file()):
        assert OPENAI_KEY.encode() not in path.read_bytes(), path
    entries = load_checkpoint(layout.checkpoint_path, layout.journal_path).entries
    assert {f"daily/{D19}.md", f"daily/{D20}.md"} <= set(entries)
    assert entries[f"daily/{D20}.md"].title == f"Daily log {D20}"

    from service.cli.memory_commands import cmd_ask

    asked = argparse.Namespace(
        question="TLS certificate rotation and nginx restart on the edge nodes after midnight",
        k=2, kind=[], tag=[], include_archived=False, mode="hybrid", no_answer=True, json=True,
    )  # fmt: skip
    results = cmd_ask(asked)[0]["results"]
    assert results[0]["path"] == f"daily/{D20}.md"

    code, data = call("compare", "--tz", TZ)
    assert data["counts"] == {"missing": 0, "stale": 0, "ok": 2}
    # a session grows: its day reads stale, the other stays ok; without --force nothing changes
    say(sessions, SID_B, "/home/dev/queue-service", "2026-11-19T15:00:00Z", "Also log retries.")
    code, data = call("compare", "--tz", TZ)
    assert [(d["day"], d["status"]) for d in data["days"]] == [(D19, "stale"), (D20, "ok")]
    assert data["days"][0]["reason"] == "the day's sessions changed since the file was written"
    before = (layout.memory_dir / "daily" / f"{D19}.md").read_bytes()
    code, data = call("backfill", D19, "--tz", TZ)
    assert code == 0 and data["days"][0]["action"] == "skip" and data["written"] == []
    assert "--force" in data["days"][0]["reason"]
    assert (layout.memory_dir / "daily" / f"{D19}.md").read_bytes() == before


def _backfilled(store: tuple[StoreLayout, Path]) -> tuple[StoreLayout, Path, Path]:
    layout, sessions = store
    assert call("backfill", "--all", "--tz", TZ)[0] == 0
    return layout, sessions, layout.memory_dir / "daily" / f"{D19}.md"


def test_force_preserve_keeps_the_human_tail_byte_for_byte(
    store: tuple[StoreLayout, Path],
) -> None:
    layout, sessions, path = _backfilled(store)
    path.write_bytes(path.read_bytes() + TAIL.encode())
    # the sessions change, so the generated part changes too
    say(
        sessions, SID_A, "/home/dev/billing", "2026-11-19T09:30:00Z", "Please also add a changelog."
    )

    code, data = call("backfill", D19, "--force", "--preserve", "--tz", TZ)
    assert code == 0, data
    item = data["days"][0]
    assert item["action"] == "regenerate" and "notes below the marker are kept" in item["reason"]
    text = path.read_text(encoding="utf-8")
    assert split_tail(text)[1] == "\n" + TAIL and text.endswith(MARKER + "\n" + TAIL)
    assert "changelog" not in split_tail(text)[1]
    assert "- Messages: 10 (assistant 4, user 6, tool calls 3)" in text  # the new message
    # the old generated part is kept in the archive (it differed from the new one)
    archived = item["archived"]
    assert archived and archived.startswith("archived/daily/") and archived in data["written"]
    old = read_memory(layout, archived)
    assert (
        old.superseded_by == f"daily-{D19}"
        and "- Messages: 9 (assistant 4, user 5, tool calls 3)" in old.body
    )
    assert data["sync"]["counts"]["added"] == 1 and data["sync"]["counts"]["updated"] == 1

    # nothing changed since: regenerating again with --preserve keeps all and archives nothing
    code, data = call("backfill", D19, "--force", "--preserve", "--tz", TZ)
    assert code == 0 and data["days"][0]["archived"] is None
    assert path.read_text(encoding="utf-8").endswith(MARKER + "\n" + TAIL)


def test_force_without_preserve_archives_the_previous_version(
    store: tuple[StoreLayout, Path],
) -> None:
    layout, _sessions, path = _backfilled(store)
    path.write_bytes(path.read_bytes() + TAIL.encode())
    code, data = call("backfill", D19, "--force", "--tz", TZ)
    assert code == 0, data
    archived = data["days"][0]["archived"]
    assert archived and archived.startswith("archived/daily/daily-log-2026-11-19--")
    assert "Call Alice about the invoice rounding." in (layout.memory_dir / archived).read_text()
    live = path.read_text(encoding="utf-8")
    assert "Call Alice" not in live and live.endswith(MARKER + "\n")
    assert read_memory(layout, f"daily/{D19}.md").id == f"daily-{D19}"
    entries = load_checkpoint(layout.checkpoint_path, layout.journal_path).entries
    assert archived in entries and entries[archived].id.startswith(f"daily-{D19}@")


def test_dry_run_writes_nothing(store: tuple[StoreLayout, Path]) -> None:
    layout, _sessions = store
    before = snapshot(layout.root)
    code, data = call("backfill", "--all", "--dry-run", "--tz", TZ)
    assert code == 0 and [d["action"] for d in data["days"]] == ["create", "create"]
    assert data["dry_run"] is True and data["written"] == [] and "sync" not in data
    assert snapshot(layout.root) == before

    _backfilled(store)
    path = layout.memory_dir / "daily" / f"{D19}.md"
    path.write_bytes(path.read_bytes() + TAIL.encode())
    before = snapshot(layout.root)
    code, data = call("backfill", "--all", "--force", "--dry-run", "--tz", TZ)
    assert [(d["action"], d["archive"]) for d in data["days"]] == [
        ("regenerate", True),  # its notes would go: archived first
        ("regenerate", False),  # nothing a person wrote would be lost
    ]
    assert call("compare", "--tz", TZ)[0] == 0
    assert snapshot(layout.root) == before


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["backfill", "2026-13-01"], "YYYY-MM-DD"),
        (["backfill", "19.11.2026"], "YYYY-MM-DD"),
        (["backfill"], "DATE (YYYY-MM-DD) or --all"),
        (["backfill", D19, "--all"], "DATE (YYYY-MM-DD) or --all"),
        (["backfill", D19, "--preserve"], "--force"),
        (["backfill", D19, "--summarize"], "[llm] model"),
        (["backfill", D19, "--tz", "Nowhere/Land"], "IANA"),
    ],
)
def test_usage_errors_exit_2(store: tuple[StoreLayout, Path], argv: list[str], needle: str) -> None:
    layout, _ = store
    before = snapshot(layout.root)
    code, data = call(*argv)
    assert code == 2 and needle in data["error"]
    assert snapshot(layout.root) == before


def test_lock_busy_exits_4(store: tuple[StoreLayout, Path]) -> None:
    from sync.lock import WriterLock

    layout, _ = store
    with WriterLock(layout.lock_path):
        code, data = call("backfill", D19, "--tz", TZ)
    assert code == 4 and "another memsync writer" in data["error"]
    assert not (layout.memory_dir / "daily" / f"{D19}.md").exists()
