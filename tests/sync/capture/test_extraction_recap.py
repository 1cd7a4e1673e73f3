"""The session summary's recap of each request and of new files' opening notes, and which
lines of a failed command's output name its error (small hand-written sessions, negative
cases included)."""

from __future__ import annotations

import json

from sync.capture.calls import error_lines
from sync.capture.extraction.file_notes import head_note, quoted_notes, written_notes
from sync.capture.extraction.offline_text import prose, sentences
from sync.capture.extraction.timeline import build_timeline
from sync.capture.sources.base import ToolCall
from tests.sync.capture.test_extraction_offline import agent, edit, of_kind, session, user


def write(path: str, content: str) -> ToolCall:
    return ToolCall("Write", json.dumps({"file_path": path, "content": content}), "Created.")


def section(body: str, name: str) -> str:
    """The lines under ``## name`` ("" when the summary has no such section)."""
    return body.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0] if f"## {name}\n" in body else ""


def test_each_request_is_told_with_what_the_agent_answered_and_the_files_it_changed() -> None:
    t = session(
        user("Add a settings page to the app."),
        agent(
            "I'll help you create a settings page with an OpenAI API key input.\n\n"
            "1. First, add the route to `app.routes.ts`:\n",
            edit("/home/dev/demo/src/app/app.routes.ts"),
        ),
        user("remove the folder subpages"),
        agent(
            "I'll help you remove the folder-related code and clean up the routing.\n"
            "Update `app.routes.ts` to remove the folder routes and set command as default:",
            edit("/home/dev/demo/src/app/app.routes.ts", "redirectTo: 'command'"),
        ),
        user("thanks!"),
        agent("You're welcome."),
    )
    (summary,) = of_kind(t, "summary")
    told = section(summary.body, "Request by request").splitlines()
    assert len(told) == 2, summary.body  # the thanks is no request
    assert told[0].startswith("- Add a settings page to the app. → create a settings page")
    assert "add the route to app.routes.ts" in told[0] and told[0].endswith(
        "(changed app.routes.ts)"
    )
    assert "remove the folder routes and set command as default" in told[1]
    assert "I'll help you" not in summary.body


def test_requests_the_room_cannot_hold_leave_out_the_answers_that_name_least() -> None:
    asks = []
    for i in range(80):
        named = (
            f"Renamed `handler_{i}` in `module_{i}.py`." if i % 2 else "Done as asked, all good."
        )
        asks += [user(f"Please do task number {i} for the project now."), agent(named * 3)]
    (summary,) = of_kind(session(*asks), "summary")
    told = section(summary.body, "Request by request")
    assert told and len(summary.body) < 5_000
    assert "all good" not in told  # the room holds fewer than the 40 answers that name things
    assert told.count("handler_") >= 10 and "handler_1 " in told


def test_a_new_files_opening_note_is_told_next_to_it() -> None:
    source = (
        '#!/usr/bin/env python3\n"""Fetch the pinned sample day and filter it to one symbol\n'
        'before the tests read it."""\nimport sys\n'
    )
    t = session(
        user("Write the fetch script for the sample data."),
        agent("Writing it.", write("/home/dev/demo/scripts/fetch_sample.py", source)),
        agent("The script is written."),
    )
    assert written_notes(build_timeline(t)) == {
        "scripts/fetch_sample.py": "Fetch the pinned sample day and filter it to one symbol "
        "before the tests read it."
    }
    (summary,) = of_kind(t, "summary")
    assert "filter it to one symbol" in section(summary.body, "Done")


def test_a_codex_patch_inside_a_shell_call_gives_its_added_files_notes() -> None:
    patch = (
        "*** Begin Patch\n*** Add File: src/cache.rs\n+// An LRU cache of parsed manifests,\n"
        "+// keyed by their content hash so edits invalidate it.\n+pub struct Cache {}\n"
        "*** End Patch"
    )
    call = ToolCall("shell", json.dumps({"command": ["apply_patch", patch]}), "Done!")
    t = session(user("Add a manifest cache."), agent("Adding it.", call))
    notes = written_notes(build_timeline(t))
    assert notes == {
        "src/cache.rs": "An LRU cache of parsed manifests, keyed by their content hash so edits "
        "invalidate it."
    }


def test_a_diff_sent_for_review_gives_its_new_files_notes_and_asked_stops_before_it() -> None:
    prompt = (
        "Review this change for security vulnerabilities.\n"
        "=== DIFF: tools/filter.cpp ===\n@@ -0,0 +1,40 @@\n"
        "+// filter — keep only the messages of one symbol, reading a framed stream on stdin\n"
        "+// and writing the same framing to stdout.\n+#include <cstdio>\n+int main() {}\n"
    )
    assert quoted_notes([prompt]) == {
        "tools/filter.cpp": "filter — keep only the messages of one symbol, reading a framed "
        "stream on stdin and writing the same framing to stdout."
    }
    t = session(
        user(prompt),
        agent("No findings: the tool reads only local input."),
        user("Check the fixture flag too."),
        agent("The --fixture path is the operator's own argument."),
    )
    (summary,) = of_kind(t, "summary")
    assert "=== DIFF" not in section(summary.body, "Asked")
    assert "tools/filter.cpp (new, in the change reviewed) — filter — keep only" in summary.body


def test_code_licences_and_short_notes_are_no_opening_note() -> None:
    assert head_note("import os\n# configure the logger for the command line tool here\n") == ""
    assert head_note("// Copyright 2024 Acme Inc.\n// SPDX-License-Identifier: MIT\nint x;\n") == ""
    assert head_note("# utils\nimport os\n") == ""
    assert head_note("#include <stdio.h>\n// reads every line of input\n") == ""
    legal = "/*\n * Copyright 2024 Acme\n *\n * Parses the wire format of version two frames.\n */"
    assert head_note(legal) == "Parses the wire format of version two frames."
    assert written_notes(build_timeline(session(user("x"), agent("y", edit("/a.py"))))) == {}


def test_a_commands_error_comes_before_its_warnings_and_a_repeated_warning_counts_once() -> None:
    unlink = "warning: unable to unlink '.claude/commands/{}.md': Permission denied"
    output = "\n".join(
        [*(unlink.format(n) for n in "abc"),
         "Switched to branch 'main'",
         "error: The following untracked working tree files would be overwritten by merge:",
         "\t.claude/commands/a.md", "Aborting"]
    )  # fmt: skip
    assert error_lines(output) == (
        "error: The following untracked working tree files would be overwritten by merge:",
        "warning: unable to unlink '.claude/commands/a.md': Permission denied",
    )
    assert error_lines("Error: first\nError: second\nError: third\nError: fourth") == (
        "Error: first",
        "Error: second",
        "Error: third",
    )


def test_a_lone_question_with_a_long_answer_is_recapped_and_a_short_reply_is_not() -> None:
    plan = (
        "The copy came from a zip, so nothing is under git yet. To restore it: run `git init` in "
        "the parent, add the remote with `git remote add origin`, then `git submodule add` each "
        "part (backend, frontend and the cursor rules), commit `.gitmodules`, and from then on "
        "clone with `git clone --recursive` or run `git submodule update --init --recursive`. "
        "Before adding each submodule, check its local changes with `git status` and commit "
        "them inside it, so nothing unpacked from the zip is lost when the parent records the "
        "submodule's commit. Keep the zip until the parent's first commit is pushed to the "
        "remote, in case a submodule's history turns out to differ from the copy."
    )
    asked = "This checkout was copied from another PC as a zip. How do I put it back under git?"
    (summary,) = of_kind(session(user(asked), agent(plan)), "summary")
    assert "git submodule update --init --recursive" in summary.body
    assert "## Request by request" not in summary.body  # the account tells the one answer
    assert of_kind(session(user(asked), agent("Run git init first.")), "summary") == []


def test_a_short_block_a_line_leads_in_is_what_the_line_says() -> None:
    said = (
        "Logged in. `/workspace/env/test.txt` contains:\n\n```\nhello from the server\n```\n\n"
        "The port was taken, so start it with:\n```bash\nmlflow ui --port 5001\n```\n"
        "Here is the whole module:\n```python\n" + "\n".join(f"x{i} = {i}" for i in range(8))
        + "\n```\n"
    )  # fmt: skip
    told = list(sentences(said, lax=True))
    assert any(s.endswith("/workspace/env/test.txt contains: hello from the server") for s in told)
    assert "The port was taken, so start it with: mlflow ui --port 5001" in told
    assert not any("x7" in s for s in told)  # a long block is code, not what a line says
    assert prose("Run this:\n```\nmake\n```\nDone.") == "Run this: make\nDone."
    t = session(
        user("Log into the server and tell me what test.txt says."),
        agent(said),
        user("thanks, and the port?"),
        agent("It is 5001 now: start it with:\n```\nmlflow ui --port 5001\n```"),
    )
    (summary,) = of_kind(t, "summary")
    assert "hello from the server" in summary.body
