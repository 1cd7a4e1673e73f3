"""The offline extractor (decisions, learnings, summary) and echo stripping."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from sync.capture.extraction.base import CANDIDATE_KINDS, Candidate
from sync.capture.extraction.echo import RECALL_CLOSE, RECALL_OPEN, strip_echo
from sync.capture.extraction.offline import OfflineExtractor
from sync.capture.sources.base import Message, ToolCall, Transcript
from tests.conftest import REPO, SHARED_DATA


def bash(command: str, output: str = "", is_error: bool = False) -> ToolCall:
    return ToolCall("Bash", json.dumps({"command": command}), output, is_error)


def edit(path: str) -> ToolCall:
    return ToolCall("Edit", json.dumps({"file_path": path, "old_string": "a", "new_string": "b"}))


def session(*messages: Message, **kw: object) -> Transcript:
    numbered = tuple(
        replace(m, line=m.line or i + 1, end_line=m.end_line or i + 1)
        for i, m in enumerate(messages)
    )
    fields: dict[str, object] = {
        "agent": "claude",
        "session_id": "s1",
        "path": "/tmp/s1.jsonl",
        "cwd": "/home/dev/demo",
        "project": "demo",
        "started": "2025-01-02T10:00:00Z",
    }
    fields.update(kw)
    return Transcript(messages=numbered, **fields)  # type: ignore[arg-type]


def of_kind(cands: list[Candidate], kind: str) -> list[Candidate]:
    return [c for c in cands if c.kind == kind]


def extract(t: Transcript) -> list[Candidate]:
    return OfflineExtractor().extract(t)


DECISION_SESSION = session(
    Message("user", "Set up the storage layer for the notes app, please."),
    Message(
        "assistant",
        "Let me look at the project first. We decided to use SQLite instead of Postgres because "
        "the tool must run without a server. I'll now create the schema.",
    ),
    Message("user", "Always run ruff before committing. Thanks!"),
    Message("assistant", "```\nwe decided to use tabs because reasons\n```\nDone."),
    Message("assistant", "I'll use the Read tool to open the file."),
)


def test_decision_with_reason() -> None:
    decisions = of_kind(extract(DECISION_SESSION), "decision")
    assert [d.title for d in decisions] == [
        "Use SQLite instead of Postgres because the tool must run without a server",
        "Always run ruff before committing",
    ]
    sqlite, ruff = decisions
    assert sqlite.confidence == 0.8
    assert sqlite.body.startswith("> We decided to use SQLite instead of Postgres because")
    assert "the user asked: Set up the storage layer" in sqlite.body
    assert sqlite.evidence.startswith("We decided to use SQLite")
    assert (sqlite.line_start, sqlite.line_end) == (2, 2)
    assert sqlite.tags[:2] == ("claude", "demo") and "sqlite" in sqlite.tags
    assert ruff.confidence == 0.7 and ruff.line_start == 3 and "ruff" in ruff.tags


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Let's go with pnpm for the monorepo.", "Go with pnpm for the monorepo"),
        (
            "We switched to uv instead of pip since installs were slow.",
            "Switch to uv instead of pip",
        ),
        ("I chose httpx over requests for async support.", "Choose httpx over requests"),
        ("Going forward, never commit generated files.", "Never commit generated files"),
        ("Use pathlib, not os.path, in new code.", "Use pathlib, not os.path, in new code"),
    ],
)
def test_decision_phrasings(text: str, title: str) -> None:
    t = session(Message("user", text), Message("user", "ok"))
    decisions = of_kind(extract(t), "decision")
    assert len(decisions) == 1
    assert decisions[0].title.startswith(title)
    assert len(decisions[0].title) <= 80
    assert not decisions[0].title.endswith((".", ",", ":", ";"))


@pytest.mark.parametrize(
    "text",
    [
        "Let me check the config file now.",
        "Should we use Postgres instead of SQLite?",
        "If we decided to use Redis, the cache would be faster.",
        "That should never happen.",
        "Reset the password field.",
    ],
)
def test_not_decisions(text: str) -> None:
    t = session(Message("user", "hello there friend"), Message("assistant", text))
    assert of_kind(extract(t), "decision") == []


ERROR_SESSION = session(
    Message("user", "Run the tests for the parser."),
    Message(
        "assistant",
        "Running them.",
        tool_calls=(
            bash(
                "cd /home/dev/demo && pytest tests/test_parser.py",
                'Traceback (most recent call last):\n  File "x.py", line 1\n'
                "ModuleNotFoundError: No module named 'demo'",
                is_error=True,
            ),
        ),
    ),
    Message(
        "assistant",
        "The issue was that the package is not installed in editable mode.",
        tool_calls=(bash("pip install -e .", "Successfully installed demo"),),
    ),
    Message(
        "assistant",
        "Retrying.",
        tool_calls=(bash("cd /home/dev/demo && pytest tests/test_parser.py", "3 passed"),),
    ),
    Message("user", "Great, thanks."),
)


def test_error_then_fix_then_explanation() -> None:
    learnings = of_kind(extract(ERROR_SESSION), "learning")
    assert len(learnings) == 1
    learning = learnings[0]
    assert learning.title == "The issue was that the package is not installed in editable mode"
    assert learning.confidence == 0.8
    assert "Error: ModuleNotFoundError: No module named 'demo'" in learning.body
    assert "Failed: `cd /home/dev/demo && pytest tests/test_parser.py` (Bash)" in learning.body
    assert "Fixed by: `cd /home/dev/demo && pytest tests/test_parser.py`" in learning.body
    assert (learning.line_start, learning.line_end) == (2, 4)
    assert "pytest" in learning.tags


def test_error_and_retry_only_is_weaker() -> None:
    t = session(
        Message("user", "build it"),
        Message(
            "assistant",
            "",
            tool_calls=(
                bash("cargo build", "error[E0425]: cannot find value `x` in this scope\n", True),
                edit("/home/dev/demo/src/main.rs"),
                bash("cargo build --release", "Finished release"),
            ),
        ),
    )
    (learning,) = of_kind(extract(t), "learning")
    assert learning.confidence == 0.6
    assert learning.title == "Fix cargo build: error[E0425]: cannot find value x in this scope"
    assert "Changed: /home/dev/demo/src/main.rs" in learning.body
    assert "rust" in learning.tags


def test_unresolved_errors_and_agent_hiccups_are_not_learnings() -> None:
    t = session(
        Message("user", "go"),
        Message(
            "assistant",
            "",
            tool_calls=(
                ToolCall("Edit", "{}", "File has not been read yet. Read it first.", True),
                ToolCall("Edit", "{}", "ok"),
                bash("ls missing/", "ls: cannot access 'missing/': No such file", True),
                bash("ls", "a b"),
                bash("make deploy", "make: *** [deploy] Error 2", True),
            ),
        ),
        Message("assistant", "Deployment is broken; I could not fix it."),
    )
    assert of_kind(extract(t), "learning") == []


SUMMARY_SESSION = session(
    Message("user", "Add a CSV export to the reports module."),
    Message(
        "assistant",
        "On it.",
        tool_calls=(
            ToolCall("Read", json.dumps({"file_path": "/home/dev/demo/src/reports.py"}), "..."),
            edit("/home/dev/demo/src/reports.py"),
            bash("pytest -q", "FAILED tests/test_reports.py::test_csv - AssertionError", True),
            bash("pytest -q", "5 passed"),
        ),
        model="claude-sonnet-4-5",
    ),
    Message("user", "Now document the CSV export in the README."),
    Message(
        "assistant",
        "Done.",
        tool_calls=(edit("/home/dev/demo/README.md"), bash("git status")),
        model="claude-opus-4-5",
    ),
    models=("claude-sonnet-4-5", "claude-opus-4-5"),
)


def test_session_summary() -> None:
    (summary,) = of_kind(extract(SUMMARY_SESSION), "summary")
    assert summary.title.startswith("Session 2025-01-02: demo — ")
    assert "export" in summary.title and len(summary.title) <= 80
    body = summary.body
    assert "- Add a CSV export to the reports module." in body
    assert "## Files touched\n- src/reports.py (edited)\n- README.md (edited)" in body
    assert "## Commands run\n- `pytest -q`\n- `git status`" in body
    assert "## Errors seen\n- FAILED tests/test_reports.py::test_csv - AssertionError" in body
    assert "## Models\nclaude-sonnet-4-5 → claude-opus-4-5" in body
    assert "## Messages\nassistant 2, user 2, tool calls 6" in body
    assert summary.confidence == 0.5
    assert (summary.line_start, summary.line_end) == (1, 4)
    assert summary.tags[:2] == ("claude", "demo") and "python" in summary.tags


def test_trivial_session_has_no_summary() -> None:
    t = session(Message("user", "hi"), Message("assistant", "Hello! How can I help?"))
    assert extract(t) == []


def test_same_input_same_output() -> None:
    first = extract(SUMMARY_SESSION) + extract(ERROR_SESSION) + extract(DECISION_SESSION)
    again = extract(SUMMARY_SESSION) + extract(ERROR_SESSION) + extract(DECISION_SESSION)
    assert first == again


def test_output_does_not_depend_on_hash_seed() -> None:
    code = (
        "from tests.sync.capture.test_extraction_offline import SUMMARY_SESSION, ERROR_SESSION, "
        "DECISION_SESSION, extract\n"
        "print(repr([extract(t) for t in (SUMMARY_SESSION, ERROR_SESSION, DECISION_SESSION)]))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outs) == 1 and "Candidate(" in outs.pop()


def test_caps_and_duplicates() -> None:
    rules = [Message("user", f"Always run check number {n} before merging.") for n in range(20)]
    repeated = [Message("user", "Always run check number 3 before merging.")] * 3
    t = session(*rules, *repeated)
    decisions = of_kind(extract(t), "decision")
    assert len(decisions) == 12
    assert len({d.title for d in decisions}) == 12
    assert len(of_kind(OfflineExtractor(max_decisions=3).extract(t), "decision")) == 3


def test_candidates_are_well_formed() -> None:
    for t in (SUMMARY_SESSION, ERROR_SESSION, DECISION_SESSION):
        for c in extract(t):
            assert c.kind in CANDIDATE_KINDS
            assert 0 < len(c.title) <= 80 and "\n" not in c.title
            assert 0.0 < c.confidence <= 1.0
            assert len(c.evidence) <= 200
            assert c.line_start is not None and c.line_end is not None
            assert c.line_start <= c.line_end


def test_echo_is_stripped() -> None:
    recalled = f"{RECALL_OPEN}\nWe decided to use MongoDB because it scales.\n{RECALL_CLOSE}"
    t = session(
        Message("user", "What did we decide about the database?"),
        Message(
            "assistant",
            "",
            tool_calls=(
                bash('.venv/bin/memsync ask "database decision"', "We decided to use MongoDB."),
                bash("memsync sync --json", "{}"),
                bash("python -m service.cli ask x", "..."),
            ),
        ),
        Message("assistant", recalled),
        Message("assistant", f"Per memory: {recalled} so nothing changes."),
        Message(
            "assistant",
            "",
            tool_calls=(
                bash("grep -r memsync docs/", f"docs/a.md: {recalled}"),
                ToolCall("Write", json.dumps({"file_path": "x.md", "content": "memsync sync"})),
            ),
        ),
    )
    out = strip_echo(t)
    assert [m.line for m in out.messages] == [1, 4, 5]
    assert out.messages[1].text == "Per memory:  so nothing changes."
    grep, write = out.messages[2].tool_calls
    assert grep.output == "docs/a.md:" and write.name == "Write"
    assert of_kind(extract(out), "decision") == []
    assert strip_echo(out) is out
    assert RECALL_OPEN == "<memsync-recall>" and RECALL_CLOSE == "</memsync-recall>"


def test_unclosed_recall_runs_to_the_end() -> None:
    t = session(Message("assistant", f"Before. {RECALL_OPEN} recalled text cut off"))
    assert strip_echo(t).messages[0].text == "Before."


def _real(agent: str, relative: str) -> Transcript:
    pytest.importorskip(f"sync.capture.sources.{agent}")
    from sync.capture.sources import adapter

    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is absent")
    a = adapter(agent)
    items = [i for i in a.discover(path.parent) if Path(i.path).name == path.name]
    if not items:
        pytest.skip(f"the {agent} adapter does not list {path.name}")
    return a.parse(items[0])


@pytest.mark.parametrize(
    ("agent", "relative"),
    [
        ("claude", "claude_code/drmaciver_claude-reliability/python-to-rust-port.jsonl"),
        ("openclaw", "openclaw_pi/pi-mono_real/large-session.jsonl"),
    ],
)
def test_real_transcripts(agent: str, relative: str) -> None:
    if not SHARED_DATA.exists():
        pytest.skip("shared data absent")
    from sync.capture.extraction.echo import strip_echo as strip
    from sync.capture.redact import redact_transcript

    t = strip(redact_transcript(_real(agent, relative))[0])
    cands = extract(t)
    assert cands == extract(t)
    summaries = of_kind(cands, "summary")
    assert len(summaries) == 1 and summaries[0].title.startswith("Session 20")
    assert len(of_kind(cands, "decision")) <= 12 and len(of_kind(cands, "learning")) <= 12
    for c in cands:
        assert len(c.title) <= 80 and c.kind in CANDIDATE_KINDS
    if agent == "openclaw":  # the pi session settles theme handling; it has both kinds
        assert of_kind(cands, "decision") and of_kind(cands, "learning")
