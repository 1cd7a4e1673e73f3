"""The offline extractor v2 (learnings, decisions, conventions, issues, the recap summary) and
echo stripping, on small hand-written sessions; real shared transcripts when present."""

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
from sync.capture.extraction.offline import FILE_OVERHEAD, OfflineExtractor, cost
from sync.capture.sources.base import Message, ToolCall, Transcript
from tests.conftest import REPO, SHARED_DATA

RAW_ERROR_TITLE = (
    "Error:", "error:", "Traceback", "FAILED ", "Fix ", "No such file", "command not found",
)  # fmt: skip


def bash(command: str, output: str = "", is_error: bool = False) -> ToolCall:
    return ToolCall("Bash", json.dumps({"command": command}), output, is_error)


def edit(path: str, new: str = "value = compute()") -> ToolCall:
    args = {"file_path": path, "old_string": "value = 0", "new_string": new}
    return ToolCall("Edit", json.dumps(args), "The file was updated.")


def user(text: str) -> Message:
    return Message("user", text)


def agent(text: str, *calls: ToolCall) -> Message:
    return Message("assistant", text, tool_calls=calls)


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


def extract(t: Transcript) -> list[Candidate]:
    return OfflineExtractor().extract(t)


def of_kind(t: Transcript | list[Candidate], kind: str) -> list[Candidate]:
    cands = extract(t) if isinstance(t, Transcript) else t
    return [c for c in cands if c.kind == kind]


def line(c: Candidate, label: str) -> str:
    """The text of the body line labelled ``label`` ("" when there is none)."""
    for row in c.body.splitlines():
        if row.startswith(f"{label}: "):
            return row[len(label) + 2 :]
    return ""


# -- learnings from failures ---------------------------------------------------------------

FIXED_BY_EDIT = session(
    user("Run the parser tests."),
    agent("Running them.", bash(
        "cd /home/dev/demo && pytest tests/test_parser.py",
        "Traceback (most recent call last):\n  File \"x.py\", line 1\n"
        "ModuleNotFoundError: No module named 'demo.tokens'", is_error=True)),
    agent("The tokenizer module is missing because it was renamed to lexer.py in the last "
          "refactor. Let me fix the import.", edit("/home/dev/demo/src/parser.py",
                                                   "from demo.lexer import tokens")),
    agent("Retrying.", bash("cd /home/dev/demo && pytest tests/test_parser.py", "3 passed")),
    user("Great, thanks."),
)  # fmt: skip


def test_a_failure_fixed_by_a_change_is_a_learning_problem_cause_fix() -> None:
    (learning,) = of_kind(FIXED_BY_EDIT, "learning")
    assert learning.title.startswith("The tokenizer module is missing because it was renamed")
    assert "ModuleNotFoundError: No module named 'demo.tokens'" in line(learning, "Problem")
    assert line(learning, "Cause").startswith("The tokenizer module is missing")
    assert "src/parser.py (from demo.lexer import tokens)" in line(learning, "Fix")
    assert line(learning, "Verified") == "`pytest tests/test_parser.py` then passed"
    assert (learning.line_start, learning.line_end) == (2, 4)
    assert learning.confidence == 0.8 and "pytest" in learning.tags


def test_a_rerun_a_wrong_path_and_agent_hiccups_teach_nothing() -> None:
    t = session(
        user("Deploy it."),
        agent("", bash("make deploy", "make: *** [deploy] Error 2\nconnection reset", True)),
        agent("", bash("make deploy", "deployed")),  # run again unchanged: flaky, not a fix
        agent("", bash("cat /etc/missing.conf", "cat: /etc/missing.conf: No such file", True)),
        agent(
            "",
            bash("cp /opt/x/a.json b.json", "cp: /opt/x/a.json: No such file or directory", True),
            bash("cp src/a.json b.json", ""),
        ),
        agent("", ToolCall("Edit", "{}", "File has not been read yet. Read it first.", True)),
        agent("", ToolCall("Edit", json.dumps({"file_path": "/home/dev/demo/a.py"}), "ok")),
    )
    assert of_kind(t, "learning") == [] and of_kind(t, "issue") == []


def test_a_command_that_works_only_with_other_flags_is_how_to_run_it() -> None:
    t = session(
        user("Scaffold the app."),
        agent("", bash("npx create-next-app@latest web --typescript", "? Would you like src/?")),
        agent("The command is waiting for input about the src/ directory.",
              bash('yes "" | npx create-next-app@latest web --typescript --no-turbopack',
                   "Success! Created web")),
        agent("The project has been created."),
    )  # fmt: skip
    (learning,) = of_kind(t, "learning")
    assert learning.title == 'create-next-app worked once run with yes "" --no-turbopack'
    assert "waiting for input" in line(learning, "Problem")
    assert line(learning, "Fix") == (
        'run it as `yes "" | npx create-next-app@latest web --typescript --no-turbopack`'
    )


def test_codex_apply_patch_inside_a_shell_call_is_the_fix() -> None:
    patch = "*** Begin Patch\n*** Update File: src/app.py\n@@\n-x = 1\n+x = int(env)\n*** End Patch"
    shell = ToolCall("shell", json.dumps({"command": ["apply_patch", patch]}), "Success.")
    t = session(
        user("Make the tests pass."),
        agent(
            "",
            ToolCall(
                "shell",
                json.dumps({"command": ["bash", "-lc", "pytest -q"]}),
                "FAILED tests/test_app.py::test_env - TypeError: x is not int\nExit code: 1",
            ),
        ),
        agent("", shell),
        agent(
            "",
            ToolCall(
                "shell",
                json.dumps({"command": ["bash", "-lc", "pytest -q"]}),
                "4 passed\nExit code: 0",
            ),
        ),
        agent="codex",
    )
    (learning,) = of_kind(t, "learning")
    assert "src/app.py (x = int(env))" in line(learning, "Fix")
    assert learning.title.startswith("test_env failed: TypeError: x is not int")


def test_a_failure_never_fixed_is_left_open() -> None:
    t = session(
        user("Build it for production."),
        agent(
            "",
            bash(
                "npm run build",
                "> next build\n\n[TypeError: generate is not a function]\nExit code 1",
                True,
            ),
        ),
        agent("The build issue might be related to the configuration. The dev server works."),
    )
    (issue,) = of_kind(t, "issue")
    assert (
        issue.title
        == "The npm run build command still fails with TypeError: generate is not a function"
    )
    assert "did not pass again before the session ended" in line(issue, "Open")


def test_a_fix_the_user_confirms_needs_no_rerun() -> None:
    t = session(
        user("Fix the rounding."),
        agent(
            "",
            bash(
                "pytest -q",
                "FAILED tests/test_invoice.py::test_total - AssertionError: 10.005 != 10.01",
                True,
            ),
        ),
        agent("Floats lose cents, so amounts become Decimal.", edit("/home/dev/demo/invoice.py")),
        user("Great, the rounding is right now."),
    )
    assert of_kind(t, "issue") == []
    (learning,) = of_kind(t, "learning")
    assert line(learning, "Verified") == "the user then said: the rounding is right now."


# -- what the user said ------------------------------------------------------------------------


def test_rules_preferences_and_findings_from_the_user() -> None:
    t = session(
        user("Port the selector to the theme system."),
        agent(
            "Done: the selector now uses theme colours, 256-colour indices for greys.",
            edit("/home/dev/demo/theme.ts"),
        ),
        user("use rgb values in the themes, never palette indices!"),
        agent("All colours are now hex RGB values.", edit("/home/dev/demo/dark.json")),
        user("i think the footer should be dimmer so that it does not distract"),
        agent("The footer now uses the dim colour.", edit("/home/dev/demo/footer.ts")),
        user("you can undo that, it was actually the console.log calls in theme.ts that broke it"),
        agent("Reverted; the console.log calls are gone.", edit("/home/dev/demo/theme.ts")),
    )
    cands = extract(t)
    (rule,) = of_kind(cands, "convention")
    assert rule.title == "Use rgb values in the themes, never palette indices"
    assert "256-colour" in line(rule, "Context") and "hex RGB" in line(rule, "Done")
    (choice,) = of_kind(cands, "decision")
    assert choice.title == "The footer should be dimmer so that it does not distract"
    assert line(choice, "Decision") == "the footer should be dimmer so that it does not distract"
    assert line(choice, "Reason") == ""  # the reason is in the statement itself
    assert "footer.ts" in line(choice, "Done")
    (finding,) = of_kind(cands, "learning")
    assert finding.title == "It was actually the console.log calls in theme.ts that broke it"
    assert "dim colour" in line(finding, "Context")


@pytest.mark.parametrize(
    "text",
    [
        "Let's use Postgres for the app and build the login page.",  # the task itself
        "thanks, you are a monster!",
        "Here is my key, use it: sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD",
        "hello there",
    ],
)
def test_no_memory_from_a_task_flattery_a_greeting_or_a_credential(text: str) -> None:
    from sync.capture.redact import redact_transcript

    first = [] if text.startswith("Let's") else [user("Build the login page.")]
    t = session(*first, user(text), agent("Okay.", edit("/home/dev/demo/login.py")))
    cands = extract(redact_transcript(t)[0])
    assert [c for c in cands if c.kind != "summary"] == []


def test_a_reported_bug_the_agent_fixed_is_a_learning_and_a_repeated_one_is_open() -> None:
    paste = (
        "src/app/page.html:13:10 - error NG8002: Can't bind to 'ngClass' since it isn't a known "
        "property of 'div'.\n  13  <div [ngClass]=...>\n  ~~~~~~~~\nError occurs in CopilotPage."
    )
    t = session(
        user("Style the chat messages."),
        agent("Here is the template."),
        user(paste),
        agent(
            "The error occurs because we haven't imported the NgClass directive. Added NgClass "
            "to the component's imports array."
        ),
        user(
            'now the icons: name "send-sharp" is not registered\n'
            "Error: icon send-sharp not found\n   at loadIcon (main.js:23)"
        ),
        agent("Register the icon with addIcons({ sendSharp })."),
        user("Error: icon send-sharp not found\n   at loadIcon (main.js:23)\nstill"),
        agent("Try clearing the cache."),
    )
    cands = extract(t)
    (learning,) = of_kind(cands, "learning")
    assert learning.title == "The error occurs because we haven't imported the NgClass directive"
    assert "NG8002" in line(learning, "Problem") and "Added NgClass" in line(learning, "Fix")
    (issue,) = of_kind(cands, "issue")
    assert issue.title == "Icon send-sharp not found"
    assert "addIcons" in line(issue, "Tried before")
    assert "clearing the cache" in line(issue, "Tried")


def test_a_confirmation_closes_the_problem_with_the_fix_just_made() -> None:
    t = session(
        user("Theme colours."),
        agent("Done.", edit("/home/dev/demo/theme.ts")),
        user("the vs code terminal still looks the same for all gray levels"),
        agent(
            "VS Code applies its own contrast: set terminal.integrated.minimumContrastRatio to 1."
        ),
        user("that's it, now it renders the same. ok, let's move on"),
        agent("Good."),
    )
    (learning,) = of_kind(t, "learning")
    assert "gray levels" in line(learning, "Problem")
    assert "minimumContrastRatio" in line(learning, "Fix")
    assert line(learning, "Verified").startswith("that's it")


# -- what the agent wrote down -----------------------------------------------------------------

COMPACTED = session(
    user("Refactor the run modes."),
    Message(
        "system",
        "# Context Checkpoint\n\n## Key Decisions Made\n"
        "1. **Keep old code for reference** - Create main-new.ts instead of editing main.ts, "
        "allowing side-by-side comparison\n"
        "2. **Listeners persist across operations** - only dispose() clears them\n\n"
        "## User Preferences\n- **E2E tests only** - no unit tests\n"
        "- `npm run check` must pass before committing\n\n## Pending Tasks\n- Move config.ts\n",
        kind="compaction",
    ),
    agent("Continuing with the move.", edit("/home/dev/demo/src/utils/config.ts")),
    Message(
        "system",
        "# Context Checkpoint\n\n## Pending Tasks\n"
        "- Update README.md with the new layout of src/\n",
        kind="compaction",
    ),
    agent("All done: config.ts moved to utils/ and imports updated."),
)


def test_compaction_summaries_give_decisions_preferences_and_what_is_open() -> None:
    cands = extract(COMPACTED)
    decisions = of_kind(cands, "decision")
    assert [d.title for d in decisions] == [
        "Keep old code for reference",
        "Listeners persist across operations",
    ]
    assert "allowing side-by-side comparison" in line(decisions[0], "Decision")
    (prefs,) = of_kind(cands, "convention")
    assert prefs.title.startswith("User Preferences: E2E tests only")
    assert "`npm run check` must pass" in line(prefs, "Rule")
    (issue,) = of_kind(cands, "issue")  # only the last summary says what is still open
    assert issue.title == "Update README.md with the new layout of src"


def test_hook_feedback_is_a_convention_with_what_the_agent_did() -> None:
    hook = (
        "Stop hook feedback:\n# Uncommitted Changes Detected\nCannot exit with untracked files.\n"
        "The following files are not tracked by git:\n\n  .coverage\n  src/__pycache__/a.pyc\n\n"
        "Either `git add` them or add them to .gitignore\nBefore stopping, please:\n"
    )
    t = session(
        user("Add a test."),
        agent("Done.", edit("/home/dev/demo/tests/test_a.py")),
        Message("system", hook, kind="hook"),
        agent("Ignoring generated files.", edit("/home/dev/demo/.gitignore", "__pycache__/")),
    )
    (rule,) = of_kind(t, "convention")
    assert rule.title == "The Stop hook does not let the agent exit with untracked files"
    assert ".coverage, src/__pycache__/a.pyc" in line(rule, "Listed")
    assert line(rule, "Done") == "changed .gitignore"


def test_the_agent_states_a_decision_with_its_reason() -> None:
    t = session(
        user("Set up storage."),
        agent(
            "We decided to use SQLite instead of Postgres because the tool must run without a "
            "server. I'll use the Read tool next."
        ),
        agent("Let's use tabs."),  # no reason: not kept
    )
    (decision,) = of_kind(t, "decision")
    assert decision.title == (
        "Use SQLite instead of Postgres because the tool must run without a server"
    )
    assert "because the tool must run without a server" in line(decision, "Decision")


def test_choices_made_through_tools_are_decisions() -> None:
    question = {
        "questions": [
            {
                "question": "Keep the legacy export files?",
                "header": "Legacy",
                "options": [
                    {"label": "Keep them", "description": "older clients still import them"},
                    {"label": "Delete them", "description": "less code to maintain"},
                ],
            }
        ]
    }
    ask = ToolCall(
        "AskUserQuestion",
        json.dumps(question),
        'User has answered your questions: "Keep the legacy export files?"="Keep them". '
        "You can now continue with the user's answers in mind.",
    )
    approved = ToolCall(
        "ExitPlanMode",
        json.dumps({"plan": "## Split the exporter\n1. Move CSV code to csv_export.py"}),
        "User has approved your plan. You can now start coding.",
    )
    rejected = ToolCall(
        "ExitPlanMode",
        json.dumps({"plan": "## Add a cache\n1. Cache every query in Redis"}),
        "The user doesn't want to proceed with this tool use. The tool use was rejected. "
        "The user said:\nno Redis, keep an in-process LRU cache",
    )
    t = session(user("Tidy the exporter."), agent("", ask, approved, rejected))
    kept = of_kind(t, "decision")
    titles = [d.title for d in kept]
    assert "Keep them (chosen for: Keep the legacy export files?)" in titles
    keep = kept[titles.index("Keep them (chosen for: Keep the legacy export files?)")]
    assert line(keep, "Reason") == "older clients still import them"
    assert "Plan approved: Split the exporter" in titles
    redis = kept[titles.index("No Redis, keep an in-process LRU cache")]
    assert line(redis, "Context") == "on the plan: Cache every query in Redis"
    assert titles[0] == "Keep them (chosen for: Keep the legacy export files?)"  # session order


# -- the summary -------------------------------------------------------------------------------


def test_the_summary_recaps_asked_done_decided_and_left_open() -> None:
    t = session(
        user("Add a CSV export to the reports module."),
        agent(
            "On it.",
            edit("/home/dev/demo/src/reports.py"),
            bash("pip install pandas", "Successfully installed pandas"),
            bash("pytest -q", "5 passed"),
        ),
        agent("Done. `src/reports.py` now has export_csv() that writes one row per report."),
        user("always run ruff before committing"),
        agent(
            "Understood.",
            bash("ruff check .", "All checks passed!"),
            bash("git commit -m 'CSV export'", "[main 1a2b3c4] CSV export"),
        ),
        user("Build the docs too."),
        agent("", bash("make docs", "sphinx-build: error: no conf.py\nExit code 2", True)),
        agent("The docs build needs a conf.py that the repo does not have."),
    )
    (summary,) = of_kind(t, "summary")
    assert summary.title == "Demo 2025-01-02: Add a CSV export to the reports module"
    body = summary.body
    assert body.startswith("## Asked\nAdd a CSV export to the reports module.\n- then: Build")
    assert "- src/reports.py — Done. src/reports.py now has export_csv() that writes" in body
    assert "- Installed: `pip install pandas`" in body
    assert "- Verified: `pytest -q`; `ruff check .`" in body
    assert "- Committed: 1a2b3c4 CSV export" in body
    assert "## Decided and fixed\n- Always run ruff before committing" in body
    assert "## Left open\n- The make docs command still fails with" in body
    report = body.split("## The agent's final report\n", 1)[1]
    assert "- The docs build needs a conf.py that the repo does not have." in report
    assert summary.line_start == 1 and summary.line_end == 8


def test_the_summary_prefers_the_agents_own_account() -> None:
    (summary,) = of_kind(COMPACTED, "summary")
    assert "## The agent's summary and final report" in summary.body
    assert "Update README.md with the new layout of src/" in summary.body


def test_trivial_or_unreadable_sessions_have_no_summary() -> None:
    assert extract(session(user("hi"), agent("Hello! How can I help?"))) == []
    hidden = session(
        user("[REDACTED_MESSAGE len=40 sha=1]"),
        agent("[REDACTED_MESSAGE len=9]"),
        user("[REDACTED_MESSAGE len=3 sha=2]"),
        agent("[REDACTED_MESSAGE len=90]"),
    )
    assert extract(hidden) == []


RULES = (
    "never commit generated protobuf files to the repository",
    "always pin docker base images by digest in the deploy scripts",
    "migrations must run inside a transaction on postgres",
    "never log request bodies from the payments endpoint",
    "every public function in sdk/ must have a docstring",
    "always run the linter with --fix before pushing a branch",
    "feature flags must default to off in production config",
    "never call the billing API from unit tests, use the sandbox",
    "background jobs must be idempotent because retries happen",
    "always format money with the locale helper in ui/format.ts",
    "cache keys must include the tenant id to avoid leaks",
    "never store tokens in localStorage, cookies only",
    "every migration needs a matching down script in db/down",
    "always bump the schema version in api/openapi.yaml",
    "log lines must not contain email addresses of customers",
)


def test_the_session_budget_holds_and_what_did_not_fit_is_told_in_the_summary() -> None:
    said = [
        m
        for n, rule in enumerate(RULES)
        for m in (
            user(rule),
            agent(f"Noted and applied in step {n}.", edit(f"/home/dev/demo/m{n}.py")),
        )
    ]
    cands = extract(session(user("Tidy the service."), *said))
    kept = [c for c in cands if c.kind != "summary"]
    (summary,) = of_kind(cands, "summary")
    assert 0 < len(kept) < len(RULES)
    assert sum(cost(c) for c in cands) <= OfflineExtractor().budget + FILE_OVERHEAD
    told = summary.body.split("## Also decided, fixed or open\n", 1)[1]
    assert told.startswith("- convention: ") and told.count("- convention: ") >= 3


def test_candidates_are_well_formed_and_titles_are_sentences() -> None:
    for t in (FIXED_BY_EDIT, COMPACTED):
        for c in extract(t):
            assert c.kind in CANDIDATE_KINDS
            assert 0 < len(c.title) <= 80 and "\n" not in c.title
            assert not c.title.startswith(RAW_ERROR_TITLE) and not c.title.endswith("…")
            assert 0.0 < c.confidence <= 1.0 and len(c.evidence) <= 200
            assert c.line_start is not None and c.line_end is not None
            assert c.line_start <= c.line_end


def test_same_input_same_output_whatever_the_hash_seed() -> None:
    code = (
        "from tests.sync.capture.test_extraction_offline import FIXED_BY_EDIT, COMPACTED, "
        "extract\nprint(repr([extract(t) for t in (FIXED_BY_EDIT, COMPACTED)]))"
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


# -- echo --------------------------------------------------------------------------------------


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
    assert of_kind(out, "decision") == []
    assert strip_echo(out) is out
    assert RECALL_OPEN == "<memsync-recall>" and RECALL_CLOSE == "</memsync-recall>"


def test_unclosed_recall_runs_to_the_end() -> None:
    t = session(Message("assistant", f"Before. {RECALL_OPEN} recalled text cut off"))
    assert strip_echo(t).messages[0].text == "Before."


# -- real transcripts --------------------------------------------------------------------------


def _real(agent: str, relative: str) -> Transcript:
    pytest.importorskip(f"sync.capture.sources.{agent}")
    from sync.capture.extraction.echo import strip_echo as strip
    from sync.capture.redact import redact_transcript
    from sync.capture.sources import adapter

    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is absent")
    a = adapter(agent)
    items = [i for i in a.discover(path.parent) if Path(i.path).name == path.name]
    if not items:
        pytest.skip(f"the {agent} adapter does not list {path.name}")
    return strip(redact_transcript(a.parse(items[0]))[0])


@pytest.mark.parametrize(
    "name",
    ["hello-world-script", "stop-hook-fast-path-clean", "stop-hook-uncommitted-changes"],
)
def test_trivial_real_sessions_give_only_their_summary(name: str) -> None:
    t = _real("claude", f"claude_code/drmaciver_claude-reliability/{name}.jsonl")
    assert [c.kind for c in extract(t)] == ["summary"]


def test_a_long_real_session_stays_within_its_budget() -> None:
    t = _real("openclaw", "openclaw_pi/pi-mono_real/large-session.jsonl")
    cands = extract(t)
    assert cands == extract(t)
    assert sum(cost(c) for c in cands) <= OfflineExtractor().budget + FILE_OVERHEAD
    kinds = {c.kind for c in cands}
    assert {"summary", "convention", "learning"} <= kinds
    for c in cands:
        assert len(c.title) <= 80 and not c.title.startswith(RAW_ERROR_TITLE)
