"""Failures a tool reports inside JSON, what a command printed in a short session's digest,
and a failure the user fixed on the agent's word (small hand-written sessions, negative cases
included)."""

from __future__ import annotations

import json

from sync.capture.calls import classify, error_lines, printed_lines
from sync.capture.digest import build_digest
from sync.capture.extraction.offline_errors import main_error
from sync.capture.extraction.offline_text import env_setting, gist
from sync.capture.reported import json_failure
from sync.capture.sources.base import Message, ToolCall, Transcript
from tests.sync.capture.test_extraction_offline import agent, bash, edit, of_kind, session, user

NPM_EACCES = (
    "Exit code 243\nnpm error code EACCES\nnpm error syscall rename\n"
    "npm error path /usr/local/lib/node_modules/@acme/cli\n"
    "npm error Error: EACCES: permission denied, rename '/usr/local/lib/node_modules/@acme/cli'"
    " -> '/usr/local/lib/node_modules/@acme/.cli-x1'\n"
    "npm error     at async Object.rename (node:internal/fs/promises:781:10)\n"
)
SUDO = "sudo: a terminal is required to read the password\nsudo: a password is required"
UPDATE = {
    "ok": True,
    "result": {
        "ok": False,
        "result": {
            "status": "error",
            "reason": "global update",
            "steps": [
                {"name": "global update", "command": "npm i -g openclaw@latest", "exitCode": 243,
                 "stderrTail": "npm error code EACCES\nnpm error Error: EACCES: permission denied"},
            ],
        },
        "sentinel": {"payload": {"status": "error",
                                 "doctorHint": "Run: openclaw doctor --non-interactive"}},
    },
}  # fmt: skip


def test_a_failure_reported_inside_a_json_result_is_a_failure_with_its_step() -> None:
    errors = json_failure(json.dumps(UPDATE, indent=2), error_lines)
    assert errors[0] == "`npm i -g openclaw@latest` exited 243"
    assert "npm error Error: EACCES: permission denied" in errors
    assert "Run: openclaw doctor --non-interactive" in errors
    longer = json.loads(json.dumps(UPDATE))  # more error lines than are kept: the hint stays
    step = longer["result"]["result"]["steps"][0]
    step["stderrTail"] += "\nnpm error path /usr/lib/node_modules/openclaw\nnpm error errno -13"
    kept = json_failure(json.dumps(longer), error_lines)
    assert len(kept) == 5 and kept[-1] == "Run: openclaw doctor --non-interactive"
    facts = classify(ToolCall("gateway", '{"action": "update.run"}', json.dumps(UPDATE)))
    assert facts.failed and facts.errors[0].startswith("`npm i -g openclaw@latest`")


def test_json_that_reports_success_or_is_not_json_is_no_failure() -> None:
    assert (
        json_failure('{"ok": true, "result": {"status": "done", "exitCode": 0}}', error_lines) == ()
    )
    assert json_failure("ok: false", error_lines) == ()
    assert json_failure("{not json", error_lines) == ()
    deep = '{"a":' * 5000 + "1" + "}" * 5000  # past the parser's depth: not read, no crash
    assert json_failure(deep, error_lines) == ()
    assert not classify(ToolCall("cron", "{}", deep)).failed
    assert not classify(ToolCall("cron", "{}", '{"ok": true, "jobs": []}')).failed


NO_KEY = {
    "error": "missing_brave_api_key",
    "message": "web_search (brave) needs a Brave Search API key. Run `openclaw configure "
    "--section web` to store it, or set BRAVE_API_KEY in the Gateway environment.",
    "docs": "https://docs.openclaw.ai/tools/web",
}


def test_an_answer_that_is_an_error_as_a_whole_is_a_failure_and_left_open() -> None:
    errors = json_failure(json.dumps(NO_KEY, indent=2), error_lines)
    # an error told by its code alone reads with its message
    assert errors == (f"missing_brave_api_key: {NO_KEY['message']}",)
    nested = json.dumps({"error": {"code": 401, "message": "Invalid API key"}})
    assert json_failure(nested, error_lines) == ("Invalid API key",)
    for fine in (
        {"ok": True, "error": "none worth telling"},  # said to have worked
        {"results": [{"url": "a", "error": "timeout"}, {"url": "b"}]},  # one item's error
        {"error": None, "results": []},
        {"error": "", "results": []},
    ):
        assert json_failure(json.dumps(fine), error_lines) == (), fine
    search = ToolCall("web_search", '{"query": "openclaw multiple instances"}', json.dumps(NO_KEY))
    t = session(
        user("How do I run several OpenClaw instances?"),
        agent("Searching.", search),
        agent("Web search is not configured; from the local docs: use --profile per gateway."),
    )
    (issue,) = of_kind(t, "issue")
    assert "missing_brave_api_key" in issue.title and "BRAVE_API_KEY" in issue.body
    for name, output in (  # a look that failed on its own is no issue of the project
        ("web_fetch", '{"error": "Request failed with status code 403 Forbidden"}'),
        ("read", '{"error": "EISDIR: illegal operation on a directory, read"}'),
        ("web_fetch", '{"error": "Unexpected token < in JSON at position 0"}'),
    ):
        probe = ToolCall(name, '{"url": "https://example.com/docs"}', output)
        looked = session(user("Read the docs."), agent("Reading.", probe), agent("It failed."))
        assert of_kind(looked, "issue") == [], name


def test_npm_detail_and_stack_lines_are_no_error_lines_and_the_message_names_the_error() -> None:
    lines = error_lines(NPM_EACCES, 5)
    assert not any("syscall" in line or "at async" in line for line in lines)
    assert main_error("; ".join(lines)).startswith("Error: EACCES: permission denied")
    assert not gist("rename 'a' -> '/usr/local/lib/node_modules/x'", 30, cut=False).endswith("->")


def test_a_short_sessions_digest_keeps_what_a_command_printed_without_its_banner() -> None:
    doctor = (
        "▄▄▄▄▄▄▄▄▄▄\n██░▄▄▄░██░▄▄░██\n🦞 OPENCLAW 🦞\n┌ OpenClaw doctor\n│\n"
        "◇ State integrity ───────╮\n"
        "│ - Config file is group/world readable (~/.openclaw/openclaw.json). │\n"
        "│ Recommend chmod 600. │\n"
    )
    assert printed_lines(doctor, 10) == [
        "🦞 OPENCLAW 🦞",
        "OpenClaw doctor",
        "State integrity",
        "- Config file is group/world readable (~/.openclaw/openclaw.json).",
        "Recommend chmod 600.",
    ]
    call = ToolCall("exec", json.dumps({"command": "openclaw doctor --repair"}), doctor)
    messages = (
        Message("user", "Check the gateway.", line=1),
        Message("assistant", "", line=2, tool_calls=(call,)),
    )
    text = build_digest(Transcript("openclaw", "s", "/s", messages)).text
    assert "Recommend chmod 600." in text and "▄▄" not in text


def handed(*after: Message) -> Transcript:
    return session(
        user("Install the acme CLI globally."),
        agent("Installing.", bash("npm i -g @acme/cli", NPM_EACCES, is_error=True)),
        agent("No write permission on /usr/local/lib/node_modules."),
        user("use sudo"),
        agent("Trying.", bash("sudo npm i -g @acme/cli", SUDO, is_error=True)),
        agent(
            "sudo needs a password this shell cannot read. Open Terminal.app and run:\n\n"
            "```\nsudo npm i -g @acme/cli\n```"
        ),
        *after,
    )


def test_a_failure_the_user_fixed_as_the_agent_said_is_a_learning_with_its_check() -> None:
    t = handed(
        user("done, what next?"),
        agent("Checking.", bash("acme --version || npm list -g @acme/cli", "1.4.2 (acme)")),
        agent("Installed: 1.4.2."),
    )
    (learning,) = of_kind(t, "learning")
    body = learning.body
    assert learning.title.startswith("EACCES: permission denied")
    assert "Then: `sudo npm i -g @acme/cli` failed: sudo: a password is required" in body
    assert "Fix: the user ran it as the agent said:" in body and "Terminal.app" in body
    assert "`sudo npm i -g @acme/cli`" in body.split("Fix:", 1)[1]
    assert "then passed (printed 1.4.2 (acme))" in body
    assert of_kind(t, "issue") == []


def test_no_later_check_on_the_same_subject_leaves_the_failure_open() -> None:
    unchecked = handed(user("ok I'll do it later"), agent("Sure."))
    assert of_kind(unchecked, "learning") == []
    assert of_kind(unchecked, "issue")  # still failing when the session ended
    other = handed(
        user("done"), agent("Checking.", bash("git status", "nothing to commit")), agent("Ok.")
    )
    assert of_kind(other, "learning") == []


def message(payload: str, error: str) -> ToolCall:
    output = json.dumps({"status": "error", "tool": "message", "error": error})
    return ToolCall("message", json.dumps({"action": "send", "message": payload}), output)


def test_a_harness_tool_that_never_works_again_is_left_open_with_its_unwrapped_error() -> None:
    missing = "Discord bot token missing (set DISCORD_BOT_TOKEN for default)."
    t = session(
        user("Post the nightly report to Discord."),
        agent("Posting.", message("nightly report", missing)),
        agent("The Discord post failed: the bot token is not configured."),
    )
    (issue,) = of_kind(t, "issue")
    assert issue.title.startswith("The message tool still fails with Discord bot token missing")
    assert f"Error: {missing}" in issue.body and '"status"' not in issue.body
    fixed = session(
        user("Post the nightly report to Discord."),
        agent("Posting.", message("nightly report", missing)),
        agent("Retrying.", ToolCall("message", '{"action": "send"}', '{"ok": true}')),
        agent("Posted."),
    )
    assert of_kind(fixed, "issue") == []
    assert gist("[plugins] device-pair failed to load") == "device-pair failed to load"


def test_a_failing_model_is_a_learning_when_another_replied_and_an_issue_when_none_did() -> None:
    failed = Message("system", "qwen3.5:9b failed: fetch failed (4 times)", kind="error")
    replied = Message("assistant", "Hi! What should I call you?", model="gpt-5.4")
    t = session(user("hello"), failed, replied, user("call me Hakua"), agent("Nice to meet you."))
    (learning,) = of_kind(t, "learning")
    assert learning.title == "Model qwen3.5:9b failed (fetch failed); gpt-5.4 replied instead"
    assert "Problem: qwen3.5:9b failed: fetch failed (4 times)" in learning.body
    alone = session(user("hello"), failed, user("are you there?"), failed)
    (issue,) = of_kind(alone, "issue")
    assert issue.title.startswith("The model qwen3.5:9b fails: fetch failed")
    assert of_kind(alone, "learning") == []


def test_a_model_failure_the_same_model_then_answered_past_makes_nothing() -> None:
    failed = Message("system", "claude-opus-4-5 failed: 400 tool_result missing", kind="error")
    again = Message("assistant", "Done: the refactor compiles.", model="claude-opus-4-5")
    t = session(
        user("Refactor the modes."), failed, again, user("thanks"), agent("You're welcome.")
    )
    assert of_kind(t, "issue") == [] and of_kind(t, "learning") == []


def test_a_write_refused_for_permission_is_left_open_and_not_told_as_done() -> None:
    refused = ToolCall(
        "Write",
        json.dumps({"file_path": "/home/dev/demo/CLAUDE.md", "content": "# CLAUDE.md\nnotes"}),
        "Claude requested permissions to write to /home/dev/demo/CLAUDE.md, but you haven't "
        "granted it yet.",
        True,
    )
    t = session(
        user("Create a CLAUDE.md for this repository."),
        agent("Writing it.", refused),
        agent("I've created a basic CLAUDE.md file for this empty repository."),
        user("thanks"),
        agent("You're welcome."),
    )
    (issue,) = of_kind(t, "issue")
    assert issue.title.startswith("CLAUDE.md was never written")
    assert "Agent said: I've created a basic CLAUDE.md" in issue.body
    summaries = of_kind(t, "summary")
    assert all("## Done" not in s.body for s in summaries)  # nothing was changed
    granted = session(
        user("Create a CLAUDE.md for this repository."),
        agent("Writing it.", refused),
        agent("Retrying.", ToolCall("Write", refused.input, "File created.")),
        agent("I've created CLAUDE.md."),
    )
    assert of_kind(granted, "issue") == []


def test_a_look_that_found_nothing_is_no_open_issue() -> None:
    missing = ToolCall("Read", json.dumps({"file_path": "/home/dev/demo/NOTES.md"}),
                       "File does not exist.", True)  # fmt: skip
    fetched = ToolCall("WebFetch", json.dumps({"url": "https://example.com/x"}),
                       "Request failed with status code 500", True)  # fmt: skip
    gone = ToolCall("mcp__db__drop_table", json.dumps({"table": "t"}), "relation t not found", True)
    t = session(
        user("Check the notes and the docs, then drop the table."),
        agent("Looking.", missing, fetched, gone),
        agent("Nothing there."),
    )
    assert of_kind(t, "issue") == []


def test_a_fix_the_agent_made_itself_in_a_later_turn_is_no_handover() -> None:
    failing = "FAILED tests/test_parser.py::test_empty - AssertionError"
    t = session(
        user("Run the parser tests."),
        agent("Running.", bash("pytest tests/test_parser.py", failing, is_error=True)),
        agent(
            "The parser crashes on empty input; rerun `pytest tests/test_parser.py` after a fix."
        ),
        user("fix it"),
        agent(
            "Fixing.",
            edit("/home/dev/demo/parser.py", "if not text: return []"),
            bash("python -m pytest tests/test_parser.py", "1 passed"),
        ),
        agent("Fixed."),
    )
    assert not any("the user ran it" in c.body for c in of_kind(t, "learning"))
    unrelated_advice = handed(
        user("done"),
        agent("Checking.", bash("acme --version || npm list -g @acme/cli", "1.4.2 (acme)")),
    )
    assert of_kind(unrelated_advice, "learning")  # the advice names @acme/cli: still a handover


def test_an_issue_tells_what_else_was_tried_with_the_same_error_and_stands_alone() -> None:
    cygpath = "Error: Command failed: cygpath -u 'C:\\Users\\dev\\AppData\\Local\\Temp'"
    t = session(
        user("Run claude doctor and tell me what it says."),
        agent("Running it.", bash("claude doctor", cygpath, is_error=True)),
        agent("Git Bash paths again; via PowerShell.",
              bash('powershell -Command "claude doctor"', cygpath, is_error=True)),
        agent("And via cmd.", bash('cmd //c "claude doctor"', cygpath, is_error=True)),
        agent("There's a conflict between Git Bash and native Windows paths: run it from"
              " Windows Terminal instead."),
    )  # fmt: skip
    (issue,) = of_kind(t, "issue")
    assert "`claude doctor` failed" in issue.body
    assert 'Tried: `powershell -Command "claude doctor"`; `cmd //c "claude doctor"`' in issue.body


def test_a_command_that_ran_once_given_its_environment_is_learned_with_it() -> None:
    said = "zsh:1: command not found: openclaw\n\nCommand exited with code 127"
    not_found = {"status": "error", "tool": "exec", "error": said}
    failed = ToolCall("exec", json.dumps({"command": "openclaw gateway status"}),
                      json.dumps(not_found, indent=2))  # fmt: skip
    assert classify(failed).errors == ("zsh:1: command not found: openclaw",)  # not JSON lines
    runs = json.dumps([{"name": "ci", "status": "failed"}, {"name": "lint", "status": "done"}])
    listing = ToolCall("exec", json.dumps({"command": "gh run list --json name,status"}), runs)
    assert not classify(listing).failed  # a listing that holds failures is data
    with_path = (
        'export PATH="/Users/dev/.nvm/versions/node/v22.22.0/bin:$PATH" && openclaw gateway status'
    )
    t = session(
        user("Is the gateway up?"),
        agent("Checking.", failed),
        agent("Not on PATH; with nvm's bin.", bash(with_path, "Gateway: running (pid 16149)")),
        agent("The gateway is running."),
    )
    (learning,) = of_kind(t, "learning")
    assert learning.title == "Openclaw runs only with PATH=~/.nvm/versions/node/v22.22.0/bin"
    assert "Problem: `openclaw gateway status` failed: zsh:1: command not found" in learning.body
    assert f"Fix: run it as `{with_path}`" in learning.body
    assert env_setting("NODE_OPTIONS=--max-old-space-size=4096 npm run build", "npm run build") == (
        "NODE_OPTIONS=--max-old-space-size=4096"
    )
    assert env_setting("FOO=1 make", "FOO=1 make -j") == ""  # set both times: not what changed


def test_a_command_that_passed_unchanged_after_a_setup_step_is_learned_with_that_step() -> None:
    denied = (
        "unable to get image 'chroma-tool-chroma': permission denied while trying to connect to"
        " the Docker daemon socket at unix:///home/dev/.docker/desktop/docker.sock"
    )
    up = "docker compose up -d"

    def run(*between: ToolCall) -> Transcript:
        return session(
            user("Get the chroma DB running."),
            agent("Starting it.", bash(up, f"Exit code 1\n{denied}", is_error=True)),
            *(agent("Next.", call) for call in between),
            agent("Again.", bash(up, "Container chroma-test Started")),
            agent("The container is up."),
        )

    t = run(
        bash("docker context ls", "default\ndesktop-linux *"),  # a look: not the fix
        bash("docker context use default", "default"),
        bash("docker info", "Server Version: 28.0.1"),
    )
    (learning,) = of_kind(t, "learning")
    assert learning.title.endswith("(docker compose); fixed by docker context")
    assert "Fix: ran `docker context use default` first" in learning.body
    # only looks, tests or git in between: a rerun, nothing learned
    for between in (
        (bash("docker ps", "CONTAINER ID"),),
        (bash("git status", "clean"), bash("npm test", "1 passed")),
        (bash("curl -s localhost:8000/health", "ok"),),
    ):
        assert of_kind(run(*between), "learning") == [], between
