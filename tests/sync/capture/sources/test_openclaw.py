"""The OpenClaw / pi adapter on hand-written fixtures and shared real data; the figures script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sync.capture.sources import adapter
from sync.capture.sources.base import SourceError, SourceItem, Transcript
from sync.capture.sources.common import iso_utc as iso_time
from sync.capture.sources.common import project_name
from sync.capture.sources.openclaw import OpenClawAdapter, clean_user_text
from tests.conftest import REPO, SHARED_DATA

FIXTURES = REPO / "tests" / "fixtures" / "sources" / "openclaw"
V3_ID = "7f3c9a12-5b6d-4e8f-9a01-23456789abcd"
V3 = FIXTURES / "agents" / "main" / "sessions" / f"{V3_ID}.jsonl"
PI_ID = "2025-12-01T10-00-00-000Z_0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
PI = FIXTURES / "pi" / "--home-dev-projects-pi-notes--" / f"{PI_ID}.jsonl"
SCRIPT = REPO / "scripts" / "parse_transcripts.py"


def item_for(path: Path) -> SourceItem:
    items = list(OpenClawAdapter().discover(path))
    assert len(items) == 1
    return items[0]


def parse(path: Path) -> Transcript:
    return OpenClawAdapter().parse(item_for(path))


# --- discovery -----------------------------------------------------------------------------


def test_registry_and_default_roots() -> None:
    source = adapter("openclaw")
    assert isinstance(source, OpenClawAdapter)
    assert source.agent == "openclaw"
    home = Path("/home/u")
    assert source.default_roots(home) == [
        home / ".openclaw" / "agents",
        home / ".pi" / "agent" / "sessions",
    ]


def test_discover_finds_sessions_and_skips_the_index() -> None:
    items = list(OpenClawAdapter().discover(FIXTURES))
    assert [i.session_id for i in items] == [V3_ID, PI_ID]
    assert [i.key for i in items] == [f"openclaw:{V3}", f"openclaw:{PI}"]
    assert all(i.agent == "openclaw" and i.locator == "" for i in items)
    assert items[0].size == V3.stat().st_size
    assert items[0].mtime_ns == V3.stat().st_mtime_ns
    assert (V3.parent / "sessions.json").exists()  # present, yet not an item


def test_discover_missing_root_yields_nothing(tmp_path: Path) -> None:
    assert list(OpenClawAdapter().discover(tmp_path / "absent")) == []


def test_item_bytes_are_the_file() -> None:
    assert OpenClawAdapter().item_bytes(item_for(V3)) == V3.read_bytes()


# --- the v3 session ------------------------------------------------------------------------


def test_v3_messages_roles_and_lines() -> None:
    t = parse(V3)
    assert t.agent == "openclaw"
    assert t.session_id == V3_ID
    assert [(m.role, m.line) for m in t.messages] == [
        ("user", 5),  # line 7 repeats it after the failed attempt on line 6: collapsed
        ("system", 6),  # the failed attempt: an error notice naming model and error
        ("assistant", 8),
        ("system", 14),  # displayed custom_message; the hidden one on line 13 is dropped
        ("assistant", 16),
        ("system", 17),  # compaction summary
        ("user", 18),  # line 19 is an aborted empty reply: nothing
        ("tool", 20),  # bashExecution
    ]


def test_v3_user_text_is_cleaned() -> None:
    t = parse(V3)
    first, last = t.messages[0], t.messages[6]
    assert first.text == "The upload test fails on CI about once in ten runs. Find out why."
    assert first.time == "2026-01-15T09:00:04Z"  # from the message's epoch-ms timestamp
    assert last.text == "Great, now commit it."


def test_v3_tool_calls_are_paired_with_results() -> None:
    reply = parse(V3).messages[2]
    assert reply.text == "Let me look at the test first."  # reply tag stripped
    assert reply.thinking == "Start with the test file, then run it."
    assert reply.model == "claude-sonnet-4-5"
    read, bash = reply.tool_calls
    assert (read.name, json.loads(read.input)) == ("read", {"path": "tests/test_upload.py"})
    assert read.output.startswith("def test_upload(server):")
    assert read.is_error is False
    assert bash.name == "bash"
    assert json.loads(bash.input) == {"command": "pytest -x tests/test_upload.py"}
    assert (bash.output, bash.is_error) == ("1 failed, 3 passed", True)
    assert (reply.line, reply.end_line) == (8, 10)  # spans its results


def test_v3_bash_execution_compaction_and_custom_message() -> None:
    msgs = parse(V3).messages
    assert msgs[3].text == "Reminder: CI runs the suite in random order."
    assert msgs[5].text.startswith("The user asked why test_upload is flaky.")
    assert msgs[5].time == "2026-01-15T09:03:00Z"
    (call,) = msgs[7].tool_calls
    assert (call.name, call.input, call.is_error) == ("bash", "git status --short", False)
    assert "tests/test_upload.py" in call.output
    assert msgs[4].model == "gpt-5.4"
    assert not any("Hidden runtime context" in m.text for m in msgs)


def test_v3_session_fields_and_meta() -> None:
    t = parse(V3)
    assert t.cwd == "C:\\Users\\dev\\code\\widget-shop"
    assert t.project == "widget-shop"
    assert t.title == "Fix flaky upload test"
    assert t.models == ("claude-sonnet-4-5", "gpt-5.4")
    assert (t.started, t.ended) == ("2026-01-15T09:00:00Z", "2026-01-15T09:04:30Z")
    assert t.meta["format"] == "v3"
    assert t.meta["header_id"] == V3_ID
    assert t.meta["thinking_level"] == "high"
    assert (t.meta["errors"], t.meta["last_error"]) == ("1", "fetch failed")
    assert t.meta["aborted"] == "1"
    assert t.meta["collapsed_retries"] == "1"
    assert t.meta["compactions"] == "1"


def test_v3_issues_name_their_lines() -> None:
    issues = parse(V3).issues
    assert [(i.line, i.reason.split(":")[0]) for i in issues] == [
        (11, "invalid JSON"),
        (21, "unknown entry type 'future_entry'"),
        (22, "truncated last line"),
    ]
    assert all(i.path == str(V3) for i in issues)
    assert str(issues[0]).startswith(f"{V3}:11: ")


# --- the older pi format -------------------------------------------------------------------


def test_old_pi_header_without_entry_ids() -> None:
    t = parse(PI)
    assert t.session_id == PI_ID
    assert t.meta["format"] == "pi-v1"
    assert t.meta["thinking_level"] == "medium"  # the later change wins over the header
    assert t.project == "pi-notes"
    assert t.models == ("claude-opus-4-5", "claude-sonnet-4-5")
    assert [(m.role, m.line, m.model) for m in t.messages] == [
        ("user", 2, None),
        ("assistant", 3, "claude-opus-4-5"),
        ("assistant", 7, "claude-sonnet-4-5"),
        ("user", 8, None),
    ]
    (mv,) = t.messages[1].tool_calls
    assert (mv.name, json.loads(mv.input)) == ("bash", {"command": "git mv index.md README.md"})
    assert t.messages[3].text == "Thanks. From now on always use git mv for renames."  # str content
    assert t.issues == ()
    assert (t.started, t.ended) == ("2025-12-01T10:00:00Z", "2025-12-01T10:01:00Z")


# --- failures and helpers ------------------------------------------------------------------


def test_unreadable_and_non_jsonl_files_raise_source_error(tmp_path: Path) -> None:
    source = OpenClawAdapter()
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"\x00\x01 not json at all\n\xff\xfe\n")
    with pytest.raises(SourceError) as err:
        source.parse(item_for(junk))
    assert err.value.path == str(junk)
    gone = item_for(junk)
    junk.unlink()
    with pytest.raises(SourceError):
        source.parse(gone)
    with pytest.raises(SourceError):
        source.item_bytes(gone)


def test_empty_file_is_an_empty_transcript(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    t = parse(empty)
    assert (t.messages, t.issues, t.started) == ((), (), None)


def test_malformed_entry_is_an_issue(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    lines = [
        {"type": "session", "version": 3, "id": "s", "timestamp": "2026-01-01T00:00:00Z"},
        {"type": "message", "id": "x"},
        {"type": "message", "message": {"role": "user", "content": 42}},
        {"type": "message", "message": {"role": "wizard", "content": "hi"}},
        [1, 2],
        {"type": "message", "message": {"role": "user", "content": "still read"}},
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    t = parse(path)
    assert [m.text for m in t.messages] == ["still read"]
    assert [i.line for i in t.issues] == [2, 3, 4, 5]
    assert "unknown message role 'wizard'" in t.issues[2].reason


def test_injected_notices_summaries_and_orphans(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    notice = {"role": "assistant", "model": "gateway-injected", "provider": "openclaw"}
    lines = [
        {"type": "session", "version": 3, "id": "s", "timestamp": "2026-01-01T00:00:00Z"},
        {"type": "message", "message": {**notice, "content": [{"type": "text", "text": "No key"}]}},
        {
            "type": "message",
            "message": {
                "role": "user",
                "content": "A new session was started via /new or /reset. Execute your startup.",
            },
        },
        {"type": "branch_summary", "fromId": "a", "summary": "Tried approach A; dropped it."},
        {"type": "message", "message": {"role": "custom", "content": "hidden", "display": False}},
        {
            "type": "message",
            "message": {
                "role": "toolResult",
                "toolCallId": "nope",
                "toolName": "grep",
                "content": "x.py:1",
                "isError": False,
            },
        },
        {"type": "label", "targetId": "a", "label": "checkpoint"},
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    t = parse(path)
    assert [(m.role, m.text, m.line) for m in t.messages] == [
        ("system", "No key", 2),
        ("system", "Tried approach A; dropped it.", 4),
        ("tool", "", 6),
    ]
    assert t.messages[2].tool_calls[0].name == "grep"
    assert t.messages[2].tool_calls[0].output == "x.py:1"
    assert (t.models, t.issues, t.meta["compactions"]) == ((), (), "0")


def test_clean_user_text_strips_openclaw_wrappers() -> None:
    block = 'Conversation info (untrusted metadata):\n```json\n{"message_id": "m1"}\n```\n\n'
    sender = 'Sender (untrusted metadata):\n```json\n{"name": "bob"}\n```\n\n'
    text = f"{block}{sender}[Mon 2026-02-23 23:41 GMT+8] [[reply_to_current]] deploy it"
    assert clean_user_text(text) == "deploy it"
    assert clean_user_text("keep [2026-01-01 10:00] inside") == "keep [2026-01-01 10:00] inside"


def test_time_and_project_helpers() -> None:
    assert iso_time(1772975007057) == "2026-03-08T13:03:27Z"
    assert iso_time("2025-12-08T22:41:05.306Z") == "2025-12-08T22:41:05Z"
    assert iso_time("2025-12-08T23:41:05+01:00") == "2025-12-08T22:41:05Z"
    assert iso_time("yesterday") is None
    assert iso_time(True) is None
    assert project_name("C:\\Users\\x\\proj\\") == "proj"
    assert project_name("/a/b/c") == "c"
    assert project_name(None) is None


# --- the shared real data ------------------------------------------------------------------

REAL_ROOTS = (
    SHARED_DATA / "openclaw_pi",
    SHARED_DATA / "schema_fixtures" / "jazzyalex_agent-sessions" / "openclaw",
)


def real(name: str) -> Transcript:
    path = next((SHARED_DATA / "openclaw_pi").rglob(name), None)
    if path is None:
        pytest.skip(f"shared data absent: {name}")
    return parse(path)


def test_real_data_parses_without_source_error() -> None:
    if not all(r.is_dir() for r in REAL_ROOTS):
        pytest.skip("shared data absent")
    source = OpenClawAdapter()
    items = [i for r in REAL_ROOTS for i in source.discover(r)]
    assert len(items) == 6
    transcripts = [source.parse(i) for i in items]  # raises on any SourceError
    assert all(t.messages for t in transcripts)
    drift = next(t for t in transcripts if t.session_id == "schema_drift")
    assert [i.line for i in drift.issues] == [7]  # the unknown "compact" entry
    assert sum(len(t.issues) for t in transcripts) == 1


def test_real_pi_sessions_give_hundreds_of_messages() -> None:
    for name, count, tools in (
        ("large-session.jsonl", 527, 391),
        ("before-compaction.jsonl", 532, 457),  # one provider error notice,
    ):
        t = real(name)
        assert len(t.messages) == count
        assert sum(len(m.tool_calls) for m in t.messages) == tools
        assert t.project == "pi-mono"
        assert t.meta["format"] == "pi-v1"
        assert t.issues == ()


def test_real_compaction_records_are_found() -> None:
    t = real("before-compaction.jsonl")
    assert t.meta["compactions"] == "2"
    summaries = [m for m in t.messages if m.kind == "compaction"]
    assert len(summaries) == 2
    assert all(len(m.text) > 200 for m in summaries)
    assert sum(1 for m in t.messages if m.role == "tool") == 3  # bashExecution


def test_real_openclaw_v3_retry_errors_and_wrappers() -> None:
    t = real("8555a0a4-0b79-459d-939c-e17cdbbf4fe2.first18lines.jsonl")
    assert t.project == "clawdbot-main"  # a Windows cwd
    assert (t.meta["errors"], t.meta["collapsed_retries"]) == ("4", "1")
    assert [m.role for m in t.messages] == ["system", "user", "system", "assistant", "assistant"]
    failed = t.messages[2]
    assert (failed.kind, failed.text) == ("error", "qwen3.5:9b failed: fetch failed (4 times)")
    assert failed.end_line is not None and failed.line is not None and failed.end_line > failed.line
    reads = [c for c in t.messages[3].tool_calls if c.name == "read"]
    # OpenClaw's tools answer a missing file with details.status "error" and isError false
    assert [c.is_error for c in reads] == [False, False, True, True, True]
    assert "ENOENT" in reads[2].output
    users = [m for m in t.messages if m.role == "user"]
    assert len(users) == 1
    assert "untrusted" not in users[0].text and not users[0].text.startswith("[")
    assert not any(m.text.startswith("[[") for m in t.messages)
    assert sum(len(m.tool_calls) for m in t.messages) == 5
    assert all(c.output for m in t.messages for c in m.tool_calls)


# --- the figures script --------------------------------------------------------------------


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data folder laid out like the shared data, holding only this project's fixtures."""
    data = tmp_path / "data"
    shutil.copytree(FIXTURES, data / "openclaw_pi" / "handwritten")
    return data


def test_script_json_figures(data_dir: Path) -> None:
    res = run_script("--data", str(data_dir), "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["present"] is True and doc["fatal"] == 0
    oc = doc["agents"]["openclaw"]
    assert oc["status"] == "ok"
    assert oc["roots"] == ["openclaw_pi/handwritten"]
    assert (oc["items"], oc["messages"], oc["tool_calls"], oc["issues"]) == (2, 12, 4, 3)
    assert oc["fatal"] == []
    assert [Path(f["path"]).name for f in oc["files"]] == [V3.name, PI.name]
    assert {a: doc["agents"][a]["status"] for a in ("claude", "codex", "cursor", "opencode")} == {
        a: "no data" for a in ("claude", "codex", "cursor", "opencode")
    }


def test_script_reports_fatal_file_and_exits_1(data_dir: Path) -> None:
    (data_dir / "openclaw_pi" / "handwritten" / "broken.jsonl").write_bytes(b"\x00garbage\n")
    res = run_script("--data", str(data_dir), "--json")
    assert res.returncode == 1
    oc = json.loads(res.stdout)["agents"]["openclaw"]
    assert oc["items"] == 3
    (fatal,) = oc["fatal"]
    assert fatal["path"].endswith("broken.jsonl")
    assert fatal["error"].startswith("SourceError")
    table = run_script("--data", str(data_dir))
    assert table.returncode == 1
    assert "FATAL openclaw" in table.stdout


def test_script_without_data_exits_0(tmp_path: Path) -> None:
    res = run_script("--data", str(tmp_path / "absent"), "--json")
    assert res.returncode == 0
    assert json.loads(res.stdout)["present"] is False
    assert "no shared data" in res.stderr
