"""Offline extraction from the agent's structured reports and from the user's behaviour specs
and corrections, on small hand-written sessions (negative cases included)."""

from __future__ import annotations

from sync.capture.extraction.base import Candidate
from sync.capture.extraction.timeline import build_timeline
from sync.capture.extraction.user_text import classify
from sync.capture.sources.base import Message
from tests.sync.capture.test_extraction_offline import (
    agent,
    bash,
    edit,
    extract,
    line,
    of_kind,
    session,
    user,
)

REPORT = (
    "The port is complete. Here's a summary:\n\n"
    "### Modules Ported:\n"
    "1. **math_utils** - `factorial()` function with `NegativeInputError` error type\n"
    "2. **dict_utils** - `invert_dict()` function using generics with `HashMap`\n\n"
    "### Key Rust Adaptations:\n"
    "- Used `Result<T, E>` instead of raising exceptions for `factorial()`\n"
    "- Used generics with trait bounds for `invert_dict()` to work with any hashable types\n\n"
    "### Cleaned Up:\n"
    "- Deleted `pyproject.toml` and `uv.lock`\n\n"
    "### Coverage & Tests:\n"
    "- **29 unit tests** across all modules, and 5 doctests (one per function)\n"
    "- **100% line coverage** verified with `cargo llvm-cov`\n"
)


def ported(*after: object) -> list[object]:
    return [
        user("Port this Python project to Rust."),
        agent("Writing the crate.", edit("/home/dev/demo/src/math_utils.rs")),
        *after,
    ]


def test_a_sign_off_after_the_report_leaves_the_structured_report_as_the_account() -> None:
    t = session(
        *ported(  # type: ignore[arg-type]
            agent(REPORT),
            agent("I need to commit.", bash("git commit -am port", "[master 7e2d976] port")),
            agent("The port is committed."),
        )
    )
    (turn,) = build_timeline(t).main()
    assert turn.report is not None and turn.report.text == REPORT.strip()
    (summary,) = of_kind(t, "summary")
    account = summary.body.split("## The agent's final report\n", 1)[1]
    assert "NegativeInputError" in account and "uv.lock" in account


def test_a_long_plan_before_the_last_change_is_not_the_report() -> None:
    t = session(
        user("Port this Python project to Rust."),
        agent(REPORT.replace("The port is complete", "Plan")),
        agent("Writing the crate.", edit("/home/dev/demo/src/math_utils.rs")),
        agent("Done, the crate builds."),
    )
    (turn,) = build_timeline(t).main()
    assert turn.report is not None and turn.report.text == "Done, the crate builds."


def test_a_reports_adaptations_are_one_decision_with_what_else_it_says_of_them() -> None:
    (choice,) = of_kind(session(*ported(agent(REPORT))), "decision")  # type: ignore[arg-type]
    assert choice.title == "Key Rust Adaptations: Used Result<T, E> instead of raising exceptions"
    assert "`invert_dict()` to work with any hashable types" in line(choice, "Decision")
    related = line(choice, "Related")
    assert "`NegativeInputError`" in related and "`HashMap`" in related
    assert "uv.lock" not in related  # names no adapted function


def test_a_report_section_of_what_was_cleaned_up_gives_no_decision() -> None:
    report = REPORT.split("### Key Rust Adaptations:")[0] + "### Cleaned Up:\n- Deleted a\n- b\n"
    assert of_kind(session(*ported(agent(report))), "decision") == []  # type: ignore[arg-type]


# -- what the user specified or corrected --------------------------------------------------------


def test_behaviour_specs_and_corrections_are_read_as_preferences() -> None:
    for text in [
        "by default the dark mode setting is off",
        "when hitting enter in the command window, the font size changes. don't do that",
        "why did you change the color of the header? keep the one i gave earlier",
        "remove the green line. When entering a command, display it on the top line",
        'when asking the copilot a question, have it answer "Enter your API key"',
    ]:
        assert classify(text, first=False) == "prefer", text
    for text in [
        "create a new page for Files",  # a task
        "when you are done, tell me what changed",  # no behaviour of the product
        "by default the dark mode setting is off",  # the session's first message: the task
    ]:
        assert classify(text, first=text.startswith("by default")) == "task", text


def test_a_granted_correction_is_titled_with_the_choice_the_agent_states() -> None:
    t = session(
        user("Apply the colour 014073 to all page headers."),
        agent("I set it as the theme's primary colour.", edit("/home/dev/demo/theme.scss")),
        user("why did you change the color of the header for each page. keep the one i gave"),
        agent(
            "You're right - let's keep the header color #014073 set on each ion-toolbar. "
            "This will ensure the exact color is kept on every page.",
            edit("/home/dev/demo/src/app/command/command.page.scss"),
        ),
    )
    (choice,) = of_kind(t, "decision")
    assert choice.title == "Keep the header color #014073 set on each ion-toolbar"
    assert "the user asked: why did you change" in line(choice, "Decision")
    assert line(choice, "Reason").startswith("This will ensure the exact color is kept")


def test_an_answer_that_grants_nothing_leaves_the_users_words_and_narration_is_no_reason() -> None:
    t = session(
        user("Build the command page."),
        agent("Built.", edit("/home/dev/demo/src/app/command/command.page.ts")),
        user("by default the history panel is closed"),
        agent(
            "I'll help you make the history panel closed by default to match this behavior.",
            edit("/home/dev/demo/src/app/command/command.page.ts"),
        ),
    )
    (choice,) = of_kind(extract(t), "decision")
    assert choice.title == "By default the history panel is closed"
    assert line(choice, "Reason") == ""  # "I'll help you … to match" narrates, it gives no why


# -- the harness's notices -----------------------------------------------------------------------


def notice(text: str) -> Message:
    return Message("system", text)


def test_a_harness_notice_with_its_remedy_is_a_learning() -> None:
    failed = (
        '⚠️ Agent failed before reply: No API key found for provider "anthropic". Auth store: '
        "/home/dev/.openclaw/agents/main/agent/auth-profiles.json. Configure auth for this agent "
        "(openclaw agents add <id>) or copy auth-profiles.json from the main agentDir.\n"
        "Logs: openclaw logs --follow"
    )
    t = session(notice(failed), user("hello"), notice(failed), agent("Hi! What shall we build?"))
    (learning,) = of_kind(t, "learning")  # the same notice twice is one learning
    assert learning.title == 'No API key found for provider "anthropic"'
    assert line(learning, "Detail").startswith("Auth store: /home/dev/.openclaw/agents/main")
    assert line(learning, "Fix").startswith("Configure auth for this agent")


def test_a_notice_without_a_remedy_or_without_a_failure_teaches_nothing() -> None:
    t = session(
        notice("Agent failed before reply: the request timed out."),
        notice("Session resumed. Run /help to see the commands."),
        user("hello"),
        agent("Hi! What shall we build?"),
    )
    assert [c for c in extract(t) if c.kind != "summary"] == []


def test_the_digest_shows_the_harness_notices() -> None:
    from sync.capture.digest import build_digest

    t = session(
        notice("Agent failed before reply: No API key found. Configure auth for this agent."),
        user("hello"),
        agent("Hi!"),
    )
    assert "L1 NOTICE: Agent failed before reply: No API key found." in build_digest(t).text


# -- what the session ended on -------------------------------------------------------------------


def test_a_failure_left_in_the_last_turn_outranks_one_left_earlier() -> None:
    from sync.capture.extraction.offline_errors import error_found
    from sync.capture.extraction.timeline import build_timeline

    def failing(command: str, error: str) -> Message:
        return agent("", bash(command, f"{error}\nExit code 1", True))

    t = session(
        user("Build it for production."),
        failing("npm run build", "[TypeError: generate is not a function]"),
        agent("The dev server works; moving on."),
        user("Release it."),
        failing("npm run publish", "error TS2305: Module has no exported member 'EditorTheme'"),
        agent("The publish failed after the tag was pushed."),
    )
    build, publish = (
        next(f.score for f in error_found(build_timeline(t), ()) if w in f.candidate.title)
        for w in ("build", "publish")
    )
    assert publish > build  # though the build is a check (those weigh more) and names more


def test_a_short_pointer_like_dont_do_that_keeps_the_sentence_it_points_at() -> None:
    t = session(
        user("Build the command window."),
        agent("Built.", edit("/home/dev/demo/src/app/command/command.page.scss")),
        user("when hitting enter in the command window, the font size changes. don't do that"),
        agent(
            "All text now keeps a consistent 16px font size.",
            edit("/home/dev/demo/src/app/command/command.page.scss"),
        ),
    )
    (choice,) = of_kind(t, "decision")
    assert line(choice, "Decision") == (
        "when hitting enter in the command window, the font size changes. don't do that"
    )
    assert "16px" in line(choice, "Done")


def test_a_grant_after_an_apology_and_a_question_never_a_title() -> None:
    def corrected(reply: str) -> Candidate:
        t = session(
            user("Build the command page."),
            agent("Built.", edit("/home/dev/demo/src/app/command/command.page.scss")),
            user("why did you change the header color? keep the one previously entered"),
            agent(reply, edit("/home/dev/demo/src/app/command/command.page.scss")),
        )
        (choice,) = of_kind(t, "decision")
        return choice

    apology = "I apologize for that. You're right - let's remove the toolbar styles I added."
    assert corrected(apology).title == "Remove the toolbar styles I added"
    plain = corrected("The header styles are restored in command.page.scss.")
    assert plain.title == "Keep the one previously entered"  # the user's words, not a question


def test_a_follow_up_question_is_no_decision_and_the_reports_table_is_recapped() -> None:
    """ "So it has to be global?" asks; the agent's table answers it, row by row, in the
    summary; the title tells the ask, not the greeting before it."""
    answer = (
        "You can have a project-level `.claude/` directory. The full picture:\n\n"
        "| Path | What it is |\n|---|---|\n"
        "| `~/.claude/CLAUDE.md` | Global instructions |\n"
        "| `.claude/settings.local.json` | Project settings (local only, gitignored) |\n"
    )
    t = session(
        user("Hi! I have some dotfiles I'd like to use. Where can I put them?"),
        agent("Put them in `~/.claude/CLAUDE.md`, or symlink it with `ln -s`."),
        user("So I can't have a .claude/ directory for this project? It has to be global?"),
        agent(answer),
    )
    assert of_kind(t, "decision") == []
    (summary,) = of_kind(t, "summary")
    assert ": I have some dotfiles I'd like to use" in summary.title
    assert "settings.local.json: Project settings (local only, gitignored)" in summary.body
    assert "Path: What it is" not in summary.body and "---" not in summary.body
