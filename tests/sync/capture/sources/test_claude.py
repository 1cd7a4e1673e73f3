"""Claude Code adapter: hand-written fixtures first, then every real file in the shared data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync.capture.sources.base import SourceError, SourceItem, Transcript
from sync.capture.sources.claude import ClaudeAdapter, clean_user_text
from sync.capture.sources.common import iso_utc
from tests.conftest import SHARED_DATA

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "sources" / "claude"
PROJECTS = FIXTURES / "projects"
MAIN = PROJECTS / "-home-dev-demo" / "5f1c2d3e-0000-4000-8000-000000000001.jsonl"
OTHER = PROJECTS / "-home-dev-other" / "7a7a7a7a-0000-4000-8000-000000000002.jsonl"


def item_for(path: Path) -> SourceItem:
    stat = path.stat()
    return SourceItem("claude", f"claude:{path}", path, path.stem, stat.st_size, stat.st_mtime_ns)


def parse(path: Path, include_sidechains: bool = False) -> Transcript:
    return ClaudeAdapter(include_sidechains=include_sidechains).parse(item_for(path))


def test_default_root_is_projects_folder(tmp_path: Path) -> None:
    assert ClaudeAdapter().default_roots(tmp_path) == [tmp_path / ".claude" / "projects"]


def test_discover_skips_subagent_files() -> None:
    items = list(ClaudeAdapter().discover(PROJECTS))
    assert [i.session_id for i in items] == [
        "5f1c2d3e-0000-4000-8000-000000000001",
        "7a7a7a7a-0000-4000-8000-000000000002",
    ]
    first = items[0]
    assert first.key == f"claude:{MAIN}"
    assert first.agent == "claude"
    assert first.locator == ""
    assert first.size == MAIN.stat().st_size
    assert first.mtime_ns == MAIN.stat().st_mtime_ns


def test_discover_with_sidechains_lists_both_subagent_layouts() -> None:
    names = sorted(i.path.name for i in ClaudeAdapter(include_sidechains=True).discover(PROJECTS))
    assert names == [
        "5f1c2d3e-0000-4000-8000-000000000001.jsonl",
        "7a7a7a7a-0000-4000-8000-000000000002.jsonl",
        "agent-0f0f0f.jsonl",
        "agent-a1b2c3.jsonl",
    ]


def test_discover_missing_root_yields_nothing(tmp_path: Path) -> None:
    assert list(ClaudeAdapter().discover(tmp_path / "absent")) == []


def test_item_bytes_are_the_file() -> None:
    assert ClaudeAdapter().item_bytes(item_for(MAIN)) == MAIN.read_bytes()


def test_split_assistant_message_is_grouped_with_paired_tool_results() -> None:
    transcript = parse(MAIN)
    roles = [(m.role, m.line, m.end_line) for m in transcript.messages]
    assert roles == [("user", 2, 2), ("user", 4, 4), ("assistant", 5, 8), ("assistant", 15, 15)]
    grouped = transcript.messages[2]
    assert grouped.text == "I'll read the client first."
    assert grouped.thinking == "The client has no retry loop."
    assert grouped.model == "claude-sonnet-4-5-20250929"
    assert grouped.time == "2025-11-02T10:00:07Z"
    read, bash = grouped.tool_calls
    assert (read.name, json.loads(read.input)) == (
        "Read",
        {"file_path": "/home/dev/demo/src/client.py"},
    )
    assert read.output == "def fetch(url):\n    return get(url)"  # list content, joined
    assert not read.is_error
    assert (bash.name, bash.output, bash.is_error) == ("Bash", "1 failed, 3 passed", True)


def test_noise_is_dropped_and_commands_kept_short() -> None:
    texts = [m.text for m in parse(MAIN).messages if m.role == "user"]
    # isMeta expansion (line 3), "[Request interrupted by user]" (line 16) and the
    # system reminder are gone; the slash command survives as what was typed.
    assert texts == ["/review src/client.py", "Add a retry to the fetch client."]


def test_corrupt_middle_and_truncated_last_line_are_issues() -> None:
    transcript = parse(MAIN)
    assert [(i.line, i.reason) for i in transcript.issues] == [
        (11, "invalid JSON (Expecting value)"),
        (18, "truncated last line"),
    ]
    assert all(i.path == str(MAIN) for i in transcript.issues)
    assert str(transcript.issues[1]).endswith(":18: truncated last line")


def test_session_facts() -> None:
    transcript = parse(MAIN)
    assert transcript.agent == "claude"
    assert transcript.session_id == "5f1c2d3e-0000-4000-8000-000000000001"
    assert transcript.path == str(MAIN)
    assert (transcript.cwd, transcript.project) == ("/home/dev/demo", "demo")
    assert transcript.title == "Retry logic for the fetch client"
    assert transcript.models == ("claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805")
    assert (transcript.started, transcript.ended) == (
        "2025-11-02T10:00:00Z",
        "2025-11-02T10:01:05Z",
    )
    assert transcript.meta == {"version": "2.0.31", "git_branch": "main"}


def test_sidechain_lines_are_kept_apart_unless_asked_for_inline() -> None:
    default = parse(MAIN)
    assert "Found 2 callers." not in [m.text for m in default.messages]
    assert "Found 2 callers." in [m.text for m in default.sidechains]  # for the digest
    full = parse(MAIN, include_sidechains=True)
    assert [m.text for m in full.messages][3:5] == [
        "Search for callers of fetch",
        "Found 2 callers.",
    ]
    assert full.models == (
        "claude-sonnet-4-5-20250929",
        "claude-haiku-4-5",
        "claude-opus-4-1-20250805",
    )


def test_subagent_file_parsed_directly_keeps_its_lines() -> None:
    path = MAIN.with_suffix("") / "subagents" / "agent-a1b2c3.jsonl"
    transcript = parse(path)
    assert [(m.role, m.text) for m in transcript.messages] == [
        ("user", "Search for callers of fetch"),
        ("assistant", "Found 2 callers."),
    ]
    assert transcript.session_id == "agent-a1b2c3"


def test_custom_title_wins_and_synthetic_model_is_not_a_model() -> None:
    transcript = parse(OTHER)
    assert transcript.title == "Flag rename"
    # the compaction summary is kept, apart: a system message of kind "compaction"
    assert [(m.role, m.kind) for m in transcript.messages] == [
        ("user", ""),
        ("assistant", ""),
        ("system", "compaction"),
    ]
    assert "flag renamed" in transcript.messages[2].text
    assert transcript.ended == "2025-11-03T08:05:00Z"
    assert transcript.models == ()
    thinking_only = transcript.messages[1]
    assert (thinking_only.role, thinking_only.text, thinking_only.thinking) == (
        "assistant",
        "",
        "Only thinking here.",
    )


def test_ai_title_beats_summary(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    lines = [
        {"type": "summary", "summary": "From summary"},
        {"type": "ai-title", "aiTitle": "From AI"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert parse(path).title == "From AI"


def test_unreadable_item_is_a_source_error(tmp_path: Path) -> None:
    missing = tmp_path / "gone.jsonl"
    item = SourceItem("claude", f"claude:{missing}", missing, "gone", 0, 0)
    with pytest.raises(SourceError) as caught:
        ClaudeAdapter().parse(item)
    assert caught.value.path == str(missing)


def test_clean_user_text_rules() -> None:
    assert clean_user_text("<command-name>test</command-name><command-args></command-args>") == (
        "/test"
    )
    assert clean_user_text("<local-command-stdout>Total cost: $0.10</local-command-stdout>") == ""
    assert clean_user_text("[Request interrupted by user for tool use]") == ""
    assert clean_user_text("a<system-reminder>x</system-reminder>b") == "ab"


def test_iso_utc_normalizes() -> None:
    assert iso_utc("2025-09-03T02:47:19.293+02:00") == "2025-09-03T00:47:19Z"
    assert iso_utc(1756860439293) == "2025-09-03T00:47:19Z"
    assert iso_utc("[trimmed]") is None


# --- the real public transcripts (skipped when ../shared/data is absent) ---

REAL_DIRS = [
    SHARED_DATA / "claude_code",
    SHARED_DATA / "schema_fixtures" / "jazzyalex_agent-sessions" / "claude",
    SHARED_DATA / "schema_fixtures" / "daaain_claude-code-log",
]
VIEWER = SHARED_DATA / "claude_code" / "d-kimuson_claude-code-viewer"


def real_files() -> list[Path]:
    return sorted(p for d in REAL_DIRS if d.is_dir() for p in d.rglob("*.jsonl"))


def need_shared_data() -> None:
    if not (SHARED_DATA / "claude_code").is_dir():
        pytest.skip("shared data (../shared/data/claude_code) is not present")


@pytest.mark.parametrize("sidechains", [False, True])
def test_every_real_file_parses_without_source_error(sidechains: bool) -> None:
    need_shared_data()
    files = real_files()
    assert len(files) >= 20
    for path in files:
        transcript = parse(path, include_sidechains=sidechains)
        assert transcript.messages, path
        for message in transcript.messages:
            # compaction summaries, hook feedback and files changed on disk (not by the agent's
            # edit tools) are system messages of their kind; a prompt queued mid-turn is a user
            # message of kind "queued"
            assert (message.role, message.kind) in (
                ("user", ""),
                ("user", "queued"),
                ("assistant", ""),
                ("system", "compaction"),
                ("system", "hook"),
                ("system", "edited"),
            )
            assert message.text or message.thinking or message.tool_calls
            assert "<system-reminder>" not in message.text
            assert message.line is not None and message.end_line is not None
            assert message.line <= message.end_line
        if path.parent.name != "daaain_claude-code-log":
            assert transcript.issues == (), path


def test_real_29_line_session() -> None:
    need_shared_data()
    transcript = parse(VIEWER / "1af7fc5e-8455-4414-9ccd-011d40f70b2a.jsonl")
    roles = [m.role for m in transcript.messages]
    assert roles == ["user"] + ["assistant"] * 7
    assert transcript.messages[0].text == "/init"  # the isMeta expansion on line 2 is dropped
    calls = [c for m in transcript.messages for c in m.tool_calls]
    assert len(calls) == 12
    assert [c.name for c in calls] == (
        ["TodoWrite", "Bash"]
        + ["Glob"] * 4
        + ["Bash"]
        + ["Glob"] * 2
        + ["TodoWrite", "Write"]
        + ["TodoWrite"]
    )
    # every call got its result; one Bash listing printed nothing
    assert sum(1 for c in calls if c.output) == 11
    assert "No files found" in [c.output for c in calls]
    assert transcript.models == ("claude-sonnet-4-20250514",)
    assert (transcript.started, transcript.ended) == (
        "2025-09-03T00:47:19Z",
        "2025-09-03T00:47:52Z",
    )
    assert (transcript.cwd, transcript.project) == ("/path/to/Demo", "Demo")
    assert transcript.issues == ()


def test_real_inline_sidechains_are_left_out_by_default() -> None:
    need_shared_data()
    path = VIEWER / "fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"
    main, full = parse(path), parse(path, include_sidechains=True)
    assert len(main.messages) == 11
    assert len(full.messages) == 177
    assert sum(len(m.tool_calls) for m in main.messages) == 11
    assert sum(len(m.tool_calls) for m in full.messages) == 167  # SOURCES.md: 167 pairs
    assert main.title == "Empty Repo Setup: CLAUDE.md Foundation Created"


def test_real_edge_cases_report_their_lines() -> None:
    need_shared_data()
    path = SHARED_DATA / "schema_fixtures" / "daaain_claude-code-log" / "edge_cases.jsonl"
    transcript = parse(path)
    assert [i.line for i in transcript.issues] == [10, 11, 13, 14, 15, 16, 18]
    assert len(transcript.messages) == 8
    texts = [m.text for m in transcript.messages]
    assert "/test-command --verbose --output /tmp/test.log" in texts
    assert not any(t.startswith("Caveat:") for t in texts)


def test_real_new_subagent_layout() -> None:
    need_shared_data()
    root = SHARED_DATA / "schema_fixtures" / "jazzyalex_agent-sessions" / "claude" / "subagent"
    assert [i.path.name for i in ClaudeAdapter().discover(root)] == [
        "0a1b2c3d-4e5f-4061-8071-2a3b4c5d6e7f.jsonl"
    ]
    assert len(list(ClaudeAdapter(include_sidechains=True).discover(root))) == 2


def test_real_headless_sessions_are_one_prompt_each() -> None:
    need_shared_data()
    for path in sorted(
        (SHARED_DATA / "claude_code" / "drmaciver_claude-reliability").glob("*.jsonl")
    ):
        transcript = parse(path)
        assert [m.role for m in transcript.messages].count("user") == 1, path
        assert transcript.models == ("claude-opus-4-5-20251101",)
        users = [m for m in transcript.messages if m.role == "user"]
        assert not any(m.text.startswith("Stop hook feedback") for m in users)
        hooks = [m for m in transcript.messages if m.kind == "hook"]
        assert all(m.role == "system" and m.text.startswith("Stop hook feedback") for m in hooks)


def test_real_schema_fixture_titles() -> None:
    need_shared_data()
    small = SHARED_DATA / "schema_fixtures" / "jazzyalex_agent-sessions" / "claude" / "small.jsonl"
    if not small.is_file():
        pytest.skip("schema fixture missing")
    assert parse(small).title == "Stage0 small fixture"
