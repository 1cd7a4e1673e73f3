"""The session digest (pure): what it keeps, what it drops, and that the budget holds with the
most informative entries kept. Plus the tool-call reading it is built on."""

from __future__ import annotations

import json

import pytest

from sync.capture.calls import classify, program_of
from sync.capture.digest import build_digest
from sync.capture.digest_units import estimate_tokens
from sync.capture.sources.base import Message, ToolCall, Transcript

CWD = "/home/dev/shop"


def bash(command: str, output: str = "", error: bool = False) -> ToolCall:
    return ToolCall("Bash", json.dumps({"command": command}), output, error)


def edit(path: str, old: str, new: str) -> ToolCall:
    args = {"file_path": f"{CWD}/{path}", "old_string": old, "new_string": new}
    return ToolCall("Edit", json.dumps(args), "The file has been updated.")


def session(extra: tuple[Message, ...] = (), side: tuple[Message, ...] = ()) -> Transcript:
    """A session with each kind of thing the digest keeps, and noise it must drop."""
    noise = "\n".join(f"{n:>6}→ def line_{n}(): pass" for n in range(400))
    ask = {"questions": [{"question": "Keep the legacy export files?"}]}
    messages = (
        Message("user", "Add a CSV export to the orders page.", line=1),
        Message(
            "assistant",
            "Let me look at the orders module.",
            line=2,
            tool_calls=(ToolCall("Read", json.dumps({"file_path": f"{CWD}/orders.py"}), noise),),
        ),
        Message(
            "assistant",
            "",
            line=3,
            tool_calls=(
                ToolCall(
                    "AskUserQuestion",
                    json.dumps(ask),
                    'User answered: "keep them for backwards compatibility"',
                ),
            ),
        ),
        Message(
            "assistant",
            "",
            line=4,
            tool_calls=(
                bash(
                    "pytest tests/test_export.py -q",
                    "E   ModuleNotFoundError: No module named 'csvkit'\n1 failed",
                    error=True,
                ),
            ),
        ),
        Message(
            "assistant",
            "",
            line=5,
            tool_calls=(edit("pyproject.toml", 'deps = ["flask"]', 'deps = ["flask", "csvkit"]'),),
        ),
        Message(
            "assistant",
            "",
            line=6,
            tool_calls=(bash("pytest tests/test_export.py -q", "3 passed"),),
        ),
        Message(
            "assistant",
            "Turns out csvkit was missing from the dependencies; the root "
            "cause was a stale lockfile. Export works now.",
            line=7,
        ),
        Message("user", "No, don't write the files under /tmp; use the exports/ folder.", line=8),
        Message(
            "system",
            "Summary of the earlier work: the export reads orders in batches.",
            line=9,
            kind="compaction",
        ),
        Message(
            "system", "Stop hook feedback: Cannot exit with untracked files.", line=10, kind="hook"
        ),
        Message(
            "assistant",
            "",
            line=11,
            tool_calls=(
                ToolCall(
                    "Task",
                    json.dumps({"description": "Check the docs"}),
                    "The README documents the export flag --with-headers.",
                ),
            ),
        ),
        Message(
            "assistant",
            "",
            line=12,
            tool_calls=(bash("git commit -m 'Add CSV export'", "[main 1a2b3c4] Add CSV export"),),
        ),
        Message("assistant", "Done: exports go to exports/ and the tests pass.", line=13),
        *extra,
    )
    return Transcript(
        "claude",
        "s-1",
        "/t/s-1.jsonl",
        messages,
        cwd=CWD,
        project="shop",
        started="2026-03-02T10:00:00Z",
        ended="2026-03-02T11:30:00Z",
        sidechains=side,
    )


def test_the_digest_keeps_what_a_developer_wants_back() -> None:
    side = (
        Message("user", "Check the docs", line=20),
        Message(
            "assistant",
            "",
            line=21,
            tool_calls=(
                bash("grep -rn export docs/", "grep: docs/: No such file or directory", error=True),
            ),
        ),
    )
    digest = build_digest(session(side=side))
    text = digest.text
    assert text.startswith("# Session digest: claude s-1\nproject: /home/dev/shop\n")
    assert "when: 2026-03-02 10:00 UTC to 2026-03-02 11:30 (1 h 30 min)" in text
    assert "L1 USER: Add a CSV export to the orders page." in text
    assert "L8 USER: No, don't write the files under /tmp; use the exports/ folder." in text
    assert "USER ANSWERED: asked: Keep the legacy export files?" in text
    assert 'answer: User answered: "keep them for backwards compatibility"' in text
    # the error, the edit that fixed it (file + one line), and the check that then passed
    assert (
        "L4 ERROR: `pytest tests/test_export.py -q` failed: E ModuleNotFoundError: No module "
        "named 'csvkit'; 1 failed\n"
        '    → fixed by editing pyproject.toml: deps = ["flask", "csvkit"]; then '
        "`pytest tests/test_export.py -q` passed"
    ) in text
    assert "L7 AGENT: Turns out csvkit was missing from the dependencies" in text
    assert "L9 SUMMARY: Summary of the earlier work" in text
    assert text.index("## Summaries") < text.index("## Conversation") < text.index("## Subagent")
    assert "L10 HOOK: Stop hook feedback: Cannot exit with untracked files." in text
    assert 'L11 SUBAGENT: "Check the docs" reported:' in text and "--with-headers" in text
    assert "L12 COMMIT: 1a2b3c4 Add CSV export" in text
    assert "L21 ERROR: `grep -rn export docs/` failed" in text  # a subagent's own error
    assert "## Files changed (1)\npyproject.toml" in text
    # dropped: tool output bodies, narration, absolute paths under the project
    assert "def line_" not in text and "Let me look" not in text and f"{CWD}/" not in text
    assert digest.files == ("pyproject.toml",)
    assert digest.tokens == estimate_tokens(text) and digest.source_tokens > digest.tokens
    assert build_digest(session(side=side)).text == text  # deterministic


def test_the_budget_holds_and_keeps_the_most_informative() -> None:
    chatter = tuple(
        Message("assistant", f"Module {n} holds the helpers of batch {n}.", line=100 + n)
        for n in range(300)
    )
    t = session(extra=chatter)
    full = build_digest(t, 20_000)
    assert full.left_out == 0
    for budget in (400, 800, 1500, 3000):
        digest = build_digest(t, budget)
        assert digest.tokens <= budget, budget
        assert digest.left_out > 0
        # the user's request, correction and answer outrank narration at any budget
        assert "Add a CSV export" in digest.text and "use the exports/ folder" in digest.text
        assert "keep them for backwards compatibility" in digest.text
    tight = build_digest(t, 400).text
    assert tight.count("holds the helpers") < 30 and "\n…\n" in tight  # gaps are marked


def test_a_long_pasted_log_keeps_its_head_its_errors_and_its_tail() -> None:
    log = "\n".join(
        ["Here is the output of the nightly job:"]
        + [f"INFO step {n} ok" for n in range(500)]
        + ["TypeError: generate is not a function"]
        + [f"INFO cleanup {n}" for n in range(200)]
        + ["what is going on?"]
    )
    t = Transcript("codex", "c", "/c", (Message("user", log, line=1),))
    text = build_digest(t).text
    assert "Here is the output of the nightly job:" in text
    assert "TypeError: generate is not a function" in text
    assert "what is going on?" in text and "INFO step 400" not in text


def test_budget_below_the_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="below 300 tokens"):
        build_digest(session(), 100)


def test_token_estimate_is_heavier_for_other_scripts() -> None:
    assert estimate_tokens("") == 0
    ascii_text, cjk_text = "hello world " * 10, "記憶を同期する" * 10
    assert estimate_tokens(cjk_text) > estimate_tokens(ascii_text) > len(ascii_text) / 5
    assert estimate_tokens("1234567890") == 10  # digits are about one token each


def test_tool_calls_are_read_across_agents() -> None:
    patch = "*** Begin Patch\n*** Update File: src/app.py\n@@\n-x = 1\n+x = 2\n*** End Patch"
    applied = classify(ToolCall("apply_patch", patch))
    assert (applied.kind, applied.files, applied.summary) == ("edit", ("src/app.py",), "x = 2")
    multi = classify(
        ToolCall(
            "MultiEdit",
            json.dumps(
                {
                    "file_path": "a.md",
                    "edits": [{"old_string": "v14", "new_string": "v15 (App Router)"}],
                }
            ),
        )
    )
    assert (multi.kind, multi.files, multi.summary, multi.report) == (
        "edit",
        ("a.md",),
        "v15 (App Router)",
        "v15 (App Router)",
    )
    codex = classify(ToolCall("exec_command", json.dumps({"cmd": ["bash", "-lc", "npm test"]})))
    assert (codex.kind, codex.summary, codex.verifies) == ("run", "npm test", True)
    heredoc = classify(bash("cat > types/todo.ts << 'EOF'\nexport type T = 1\nEOF"))
    assert heredoc.files == ("types/todo.ts",)
    nothing = classify(
        bash("grep -n foo src/x.ts", "(no output)\n\nCommand exited with code 1", error=True)
    )
    assert not nothing.failed and nothing.inspects  # grep found nothing: not an error
    build = classify(
        bash("npm run build", "> app@0.1.0 build\n> next build\n\nError: boom", error=True)
    )
    assert build.failed and build.errors[0] == "(runs `next build`)"
    assert program_of('yes "" | npx create-next-app@latest app --ts') == "create-next-app"
    assert program_of("cd web && pnpm run build") == "pnpm run build"
    plan = classify(ToolCall("ExitPlanMode", json.dumps({"plan": "1. Do it"}), "User approved"))
    assert (plan.kind, plan.report, plan.summary) == ("plan", "1. Do it", "User approved")


def test_retried_commands_say_what_finally_worked() -> None:
    messages = (
        Message("user", "Scaffold the app.", line=1),
        Message("assistant", "", line=2, tool_calls=(bash("npx create-next-app@latest app"),)),
        Message(
            "assistant",
            "It waits for input.",
            line=3,
            tool_calls=(bash('yes "" | npx create-next-app@latest app --no-turbopack'),),
        ),
    )
    text = build_digest(Transcript("claude", "s", "/s", messages)).text
    assert (
        'RAN: worked after 2 tries: `yes "" | npx create-next-app@latest app --no-turbopack`'
        in text
    )


def test_failure_notices_lookups_and_scaffolding_are_kept() -> None:
    """What the agent could not do says as much as what it did: a provider failure, a notice
    shown before any reply, a file that does not exist (low, it fixes nothing); and the
    command that set the project up."""
    read = ToolCall(
        "read",
        json.dumps({"file_path": f"{CWD}/MEMORY.md"}),
        '{\n  "status": "error",\n  "error": "ENOENT: no such file or directory"\n}',
        True,
    )
    messages = (
        Message("system", "⚠️ Agent failed before reply: No API key found for provider.", line=1),
        Message("user", "Port the utilities to Rust.", line=2),
        Message("system", "qwen3.5:9b failed: fetch failed (4 times)", line=3, kind="error"),
        Message("system", "Reminder: CI runs the suite in random order.", line=4),
        Message("assistant", "", line=5, tool_calls=(read, bash("cargo init --lib --name utils"))),
        Message("assistant", "Done: the crate builds.", line=6),
    )
    text = build_digest(Transcript("openclaw", "s", "/s", messages, cwd=CWD)).text
    assert "L1 NOTICE: ⚠️ Agent failed before reply: No API key found for provider." in text
    assert "L3 ERROR: qwen3.5:9b failed: fetch failed (4 times)" in text
    assert "Reminder: CI runs the suite in random order." in text
    assert "ERROR: read MEMORY.md failed: ENOENT: no such file or directory" in text
    assert "RAN: `cargo init --lib --name utils`" in text
    assert classify(bash("uv init app")).installs and not classify(bash("cargo build")).installs


def test_a_short_session_keeps_the_rest_of_its_work_and_the_real_fix() -> None:
    """Room left in the budget takes the commands that ran and the other tools called; a
    command found by its full path closes the `command not found`; notes appended to a file
    are not its fix. OpenClaw's shell tool is `exec`."""

    def exec_(command: str, output: str, error: bool = False) -> ToolCall:
        return ToolCall("exec", json.dumps({"command": command}), output, error)

    tool = "/home/dev/.nvm/versions/node/v22.22.0/bin"
    messages = (
        Message("user", "Remove the stale cron job.", line=1),
        Message(
            "assistant",
            "",
            line=2,
            tool_calls=(
                exec_("openclaw gateway status", "zsh:1: command not found: openclaw", True),
                exec_(f'export PATH="{tool}:$PATH" && openclaw gateway status', "Runtime: running"),
                ToolCall("cron", json.dumps({"action": "remove", "timeoutMs": 30000}), "ok"),
                bash("git log --oneline -1", "a83d1fb docs: pin the dataset"),
                bash("make deploy", "building\ndeployed to staging.example"),
                bash("pytest -q", "E   AssertionError\n1 failed", error=True),
                bash("cat >> notes.md << 'EOF'\nretry tomorrow\nEOF"),
            ),
        ),
        Message("assistant", "Logged it for the next session.", line=3),
    )
    text = build_digest(Transcript("openclaw", "s", "/s", messages, cwd=CWD)).text
    assert "failed: zsh:1: command not found: openclaw" in text
    assert f'→ then `export PATH="{tool}:$PATH" && openclaw gateway status` passed' in text
    assert 'CALLED: cron {"action": "remove", "timeoutMs": 30000}' in text
    assert "RAN: `make deploy` → building / deployed to staging.example" in text
    assert "RAN: `git log --oneline -1`\n" in text  # what a look printed is not kept
    assert "fixed by editing notes.md" not in text
