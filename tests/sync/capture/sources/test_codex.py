"""Codex adapter: hand-written rollouts first, then every real file in the shared data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from sync.capture.calls import classify
from sync.capture.sources.base import SourceError, SourceItem, Transcript
from sync.capture.sources.codex import CodexAdapter
from tests.conftest import SHARED_DATA

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "sources" / "codex"
SESSIONS = FIXTURES / "sessions"
CURRENT_ID = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
LEGACY_ID = "0196c0de-1111-7222-8333-444455556666"
CURRENT = SESSIONS / "2025" / "11" / "02" / f"rollout-2025-11-02T10-00-00-{CURRENT_ID}.jsonl"
LEGACY = SESSIONS / f"rollout-2025-05-01-{LEGACY_ID}.jsonl"


def item_for(path: Path, session_id: str | None = None) -> SourceItem:
    stat = path.stat()
    sid = session_id or path.stem
    return SourceItem("codex", f"codex:{path}", path, sid, stat.st_size, stat.st_mtime_ns)


def parse(path: Path) -> Transcript:
    return CodexAdapter().parse(item_for(path))


def test_default_root_is_sessions_folder(tmp_path: Path) -> None:
    assert CodexAdapter().default_roots(tmp_path) == [tmp_path / ".codex" / "sessions"]


def test_discover_takes_session_id_from_file_name() -> None:
    items = list(CodexAdapter().discover(SESSIONS))
    assert [(i.path, i.session_id) for i in items] == [(CURRENT, CURRENT_ID), (LEGACY, LEGACY_ID)]
    assert items[0].key == f"codex:{CURRENT}"
    assert (items[0].size, items[0].locator) == (CURRENT.stat().st_size, "")


def test_discover_rules(tmp_path: Path) -> None:
    dated = tmp_path / "2025" / "01" / "02"
    dated.mkdir(parents=True)
    (dated / "rollout-2025-01-02T03-04-05-abc.jsonl").write_text("{}\n")
    (dated / "notes.jsonl").write_text("{}\n")  # not a rollout, not at the top
    (tmp_path / "old-session.jsonl").write_text("{}\n")  # legacy flat layout
    found = {i.path.name: i.session_id for i in CodexAdapter().discover(tmp_path)}
    assert found == {
        "rollout-2025-01-02T03-04-05-abc.jsonl": "rollout-2025-01-02T03-04-05-abc",
        "old-session.jsonl": "old-session",
    }
    assert list(CodexAdapter().discover(tmp_path / "absent")) == []


def test_item_bytes_are_the_file() -> None:
    assert CodexAdapter().item_bytes(item_for(CURRENT)) == CURRENT.read_bytes()


def test_text_written_twice_appears_once() -> None:
    transcript = parse(CURRENT)
    compactions = [m for m in transcript.messages if m.kind == "compaction"]
    assert [m.role for m in compactions] == ["system"]  # its summary, not its history
    transcript = dataclasses.replace(
        transcript, messages=tuple(m for m in transcript.messages if m.kind != "compaction")
    )
    assert [(m.role, m.text) for m in transcript.messages] == [
        ("user", "Fix the failing test in cart.py"),
        ("assistant", "Running the tests first."),
        ("assistant", "Fixed: the discount was applied twice."),
        ("user", "Add a regression test"),  # the IDE context preamble is cut
    ]
    # the event lines are the source; the response_item copies and the compacted history are not
    assert [(m.line, m.end_line) for m in transcript.messages] == [
        (6, 6),
        (8, 15),
        (18, 18),
        (24, 24),
    ]


def test_developer_and_injected_items_are_skipped() -> None:
    texts = " ".join(m.text for m in parse(CURRENT).messages)
    for injected in ("permissions", "AGENTS.md", "environment_context", "Run pytest before"):
        assert injected not in texts


def test_function_calls_are_paired_by_call_id() -> None:
    working = parse(CURRENT).messages[1]
    assert working.thinking == "Reading the failing test"
    shell, patch = working.tool_calls
    assert (shell.name, json.loads(shell.input)) == ("shell", {"command": ["pytest", "-q"]})
    assert (shell.output, shell.is_error) == ("1 failed", True)  # exit_code 1 in the metadata
    assert patch.name == "apply_patch"
    assert patch.input.startswith("*** Begin Patch")
    assert (patch.output, patch.is_error) == ("Success. Updated cart.py", False)


def test_model_switch_via_turn_context() -> None:
    transcript = parse(CURRENT)
    assert transcript.models == ("gpt-5-codex", "gpt-5.1-codex")
    assert [m.model for m in transcript.messages if m.role == "assistant"] == [
        "gpt-5-codex",
        "gpt-5.1-codex",
    ]


def test_session_facts_and_issues() -> None:
    transcript = parse(CURRENT)
    assert transcript.session_id == CURRENT_ID
    assert (transcript.cwd, transcript.project) == ("/home/dev/shop", "shop")
    assert transcript.title == "Cart discount fix"
    assert (transcript.started, transcript.ended) == (
        "2025-11-02T09:59:58Z",
        "2025-11-02T10:03:00Z",
    )
    assert transcript.messages[0].time == "2025-11-02T10:00:05Z"
    assert transcript.meta["git_branch"] == "main"
    assert transcript.meta["cli_version"] == "0.58.0"
    assert transcript.meta["compactions"] == "1"
    assert [(i.line, i.reason.split(" (")[0]) for i in transcript.issues] == [
        (23, "invalid JSON"),
        (26, "truncated last line"),
    ]


def test_session_id_comes_from_meta_not_file_name() -> None:
    transcript = CodexAdapter().parse(item_for(CURRENT, session_id="from-the-name"))
    assert transcript.session_id == CURRENT_ID


def test_legacy_rollout() -> None:
    transcript = parse(LEGACY)
    assert transcript.session_id == LEGACY_ID
    assert [(m.role, m.line) for m in transcript.messages] == [
        ("user", 5),
        ("assistant", 7),
        ("assistant", 10),
    ]
    assert transcript.messages[0].text == "List the TODO comments"
    (call,) = transcript.messages[1].tool_calls
    assert (call.name, call.output) == ("shell", "src/a.py:3: # TODO: cache results")
    assert transcript.messages[1].thinking == "Searching with rg"
    assert transcript.messages[2].text == "One TODO: src/a.py line 3 (cache results)."
    assert (transcript.started, transcript.ended) == (
        "2025-05-01T09:00:00Z",
        "2025-05-01T09:00:00Z",
    )
    assert transcript.meta["git_branch"] == "dev"
    assert transcript.issues == ()


def test_without_events_response_items_are_used_once(tmp_path: Path) -> None:
    path = tmp_path / "rollout-x.jsonl"
    records = [
        {"type": "session_meta", "payload": {"id": "s1", "cwd": "/w"}},
        {
            "type": "response_item",
            "payload": {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "<user_instructions>x</user_instructions>"}
                ],
            },
        },
        {
            "type": "response_item",
            "payload": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hi"}],
            },
        },
        {"type": "event_msg", "payload": {"type": "agent_message", "message": "Hello"}},
        {
            "type": "response_item",
            "payload": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hello"}],
            },
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert [(m.role, m.text, m.line) for m in parse(path).messages] == [
        ("user", "Hi", 3),
        ("assistant", "Hello", 4),
    ]


def test_unreadable_item_is_a_source_error(tmp_path: Path) -> None:
    missing = tmp_path / "rollout-gone.jsonl"
    with pytest.raises(SourceError):
        CodexAdapter().parse(SourceItem("codex", "codex:x", missing, "gone", 0, 0))


# --- the real public rollouts (skipped when ../shared/data is absent) ---

REAL_SESSIONS = SHARED_DATA / "codex" / "madshn_localpush_sanitized" / "sessions"
SCHEMA = SHARED_DATA / "schema_fixtures" / "jazzyalex_agent-sessions"

# file uuid: (user, assistant, tool calls, calls with output, compactions)
REAL_COUNTS = {
    "019c8a4c-ed82-79a1-aa28-7738fc5ab61a": (5, 64, 105, 104, None),
    "019c8a4d-8f45-7010-8b5d-7fad920aa6f9": (1, 28, 118, 118, None),
    "019c8a53-a0dd-7130-bcd7-95445d84846a": (7, 73, 144, 143, None),
    "019c8a59-e9dd-71f0-9ae3-4079fe9726a9": (38, 270, 372, 365, "1"),
    "019c8a70-dda7-7f33-98ea-f30553347322": (1, 1, 1, 0, None),
    "019c8bfe-ec25-79e0-97d7-bda6a9c575ff": (1, 6, 5, 5, None),
}


def need_shared_data() -> None:
    if not REAL_SESSIONS.is_dir():
        pytest.skip("shared data (../shared/data/codex) is not present")


def test_real_rollouts_counts() -> None:
    need_shared_data()
    items = list(CodexAdapter().discover(REAL_SESSIONS))
    assert sorted(i.session_id for i in items) == sorted(REAL_COUNTS)
    for item in items:
        transcript = CodexAdapter().parse(item)
        assert transcript.session_id == item.session_id
        assert transcript.issues == ()
        roles = [m.role for m in transcript.messages]
        calls = [c for m in transcript.messages for c in m.tool_calls]
        user, assistant, n_calls, answered, compactions = REAL_COUNTS[item.session_id]
        assert (roles.count("user"), roles.count("assistant")) == (user, assistant), item.path
        assert (len(calls), sum(1 for c in calls if c.output)) == (n_calls, answered), item.path
        assert transcript.meta.get("compactions") == compactions
        assert transcript.models == ("gpt-5.3-codex",)
        assert transcript.meta["originator"] == "Codex Desktop"


def test_real_user_texts_are_the_typed_ones() -> None:
    need_shared_data()
    for item in CodexAdapter().discover(REAL_SESSIONS):
        for message in CodexAdapter().parse(item).messages:
            if (
                message.role == "user"
            ):  # event texts are "[REDACTED_MESSAGE …]", items "[REDACTED_TEXT …]"
                assert message.text.startswith("[REDACTED_MESSAGE"), item.path


def test_every_schema_fixture_parses() -> None:
    need_shared_data()
    files = sorted([*SCHEMA.glob("codex/*.jsonl"), *SCHEMA.glob("codex_legacy/*.jsonl")])
    if not files:
        pytest.skip("codex schema fixtures are not present")
    results = {p.relative_to(SCHEMA).as_posix(): parse(p) for p in files}
    small = results["codex/small.jsonl"]
    assert small.session_id == "019fc8be-3658-7ca3-9e29-000000000000"
    assert small.models[:2] == ("gpt-5.6-luna", "gpt-5.5")
    assert [m.text for m in small.messages if m.text][:2] == ["List the files", "Found 2 files."]
    assert [c.name for c in small.messages[1].tool_calls] == ["shell", "shell", "web_search"]
    assert [c.output for c in small.messages[1].tool_calls] == ["a.txt\nb.txt", "a.txt", ""]
    assert small.issues == ()
    large = results["codex/large.jsonl"]
    assert [m.text for m in large.messages][:2] == ["Start", "Acknowledged."]
    drift = results["codex/schema_drift.jsonl"]
    assert [i.line for i in drift.issues] == [1, 4]
    for name in ("codex_050_legacy", "codex_051_usage", "codex_052_raw", "codex_053_rate_limit"):
        legacy = results[f"codex_legacy/{name}.jsonl"]
        assert legacy.session_id.startswith("test-")
        assert legacy.issues == ()
        assert legacy.started is not None


def test_shell_command_outputs_tell_their_exit_code(tmp_path: Path) -> None:
    """Codex 0.6x+ runs commands through ``shell_command`` and prefixes what they printed with
    their exit code and time: a non-zero code is a failure, and the header is not output."""
    path = tmp_path / "rollout-y.jsonl"

    def call(n: int, command: str) -> dict[str, object]:
        args = json.dumps({"command": command, "workdir": "chroma-tool"})
        return {"type": "response_item", "payload": {"type": "function_call",
                "name": "shell_command", "arguments": args, "call_id": f"c{n}"}}  # fmt: skip

    def out(n: int, text: str) -> dict[str, object]:
        payload = {"type": "function_call_output", "call_id": f"c{n}", "output": text}
        return {"type": "response_item", "payload": payload}

    denied = "permission denied while trying to connect to the Docker daemon socket"
    records = [
        {"type": "session_meta", "payload": {"id": "s2", "cwd": "/home/dev/Tools"}},
        {"type": "event_msg", "payload": {"type": "user_message", "message": "Start the DB"}},
        call(1, "docker compose up -d"),
        out(1, f"Exit code: 1\nWall time: 0.3 seconds\nOutput:\n{denied}\n"),
        call(2, "docker context use default"),
        out(2, "Exit code: 0\nWall time: 0 seconds\nOutput:\ndefault\n"),
        call(3, "tail -f server.log"),
        out(
            3, "Chunk ID: 5e1f\nWall time: 10.0 seconds\nOriginal token count: 3\nOutput:\nready\n"
        ),
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    calls = [c for m in parse(path).messages for c in m.tool_calls]
    assert [(c.output, c.is_error) for c in calls] == [
        (denied, True), ("default", False), ("ready", False),
    ]  # fmt: skip
    facts = classify(calls[0])
    assert facts.kind == "run" and facts.failed and facts.program == "docker compose"
    assert facts.errors == (denied,)
