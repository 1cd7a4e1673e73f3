"""Claude Code ``attachment`` records: queued prompts, files changed on disk and hook
blocks are read; listings, reminders, injected context and unknown kinds are not; a malformed
one is an issue on its line and the rest of the session is still read."""

from __future__ import annotations

import json
from pathlib import Path

from sync.capture.digest import build_digest
from sync.capture.digest_entries import digest_entries
from sync.capture.redact import redact_transcript
from sync.capture.sources.base import Message, ToolCall, Transcript
from sync.capture.sources.claude import ClaudeAdapter
from sync.capture.sources.claude_attachments import EXCERPT_CHARS
from sync.capture.sources.common import file_item

FIXTURE = (
    Path(__file__).resolve().parents[3] / "fixtures" / "sources" / "claude" / "attachments.jsonl"
)
HEAD = {"isSidechain": False, "cwd": "/home/dev/shop", "sessionId": "s", "version": "2.1.112"}


def parse(path: Path) -> Transcript:
    item = file_item("claude", path, path.stem)
    assert item is not None
    return ClaudeAdapter().parse(item)


def write(tmp_path: Path, *attachments: object) -> Path:
    """A session of one prompt followed by ``attachments``, one record each."""
    prompt = {**HEAD, "type": "user", "timestamp": "2026-04-20T09:00:00Z"}
    prompt["message"] = {"role": "user", "content": "Add a /health endpoint."}
    records = [prompt] + [
        {**HEAD, "type": "attachment", "timestamp": "2026-04-20T09:01:00Z", "attachment": a}
        for a in attachments
    ]
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_what_the_user_typed_or_did_is_read_and_the_harness_context_is_not() -> None:
    t = parse(FIXTURE)
    assert [(m.line, m.role, m.kind) for m in t.messages] == [
        (2, "user", ""),
        (8, "assistant", ""),  # the npm call; its PreToolUse block is its error result
        (11, "system", "hook"),  # a PostToolUse hook's objection
        (12, "system", "edited"),  # CLAUDE.md changed on disk by another hand
        (13, "user", "queued"),  # typed while the agent worked
        (17, "user", "queued"),  # text and a pasted image: the text
        (18, "assistant", ""),
        (26, "user", "queued"),  # also written as a user line (27): kept once
    ]
    by_line = {m.line: m.text for m in t.messages}
    assert by_line[13] == "also log each request's duration"
    assert by_line[17] == "the health page should look like this"
    assert by_line[11] == (
        "PostToolUse hook (Bash) blocked: eslint: 'console.log' is not allowed in src/api "
        "(no-console)"
    )
    edited = by_line[12]
    assert edited.startswith("/home/dev/shop/CLAUDE.md (lines 1–6) changed on disk since the agent")
    assert "- Use pnpm, never npm: the lockfile is pnpm-lock.yaml." in edited
    assert "4\t" not in edited  # the snippet's line numbers are gone
    # listings, deltas, the memory file, hook context (memsync's own), a task notification,
    # another session's message, a Stop block, empty structured output: none of them
    everything = "\n".join(by_line.values())
    for absent in ("WebFetch", "Explore", "fastify", "task-notification", "peer:", "tests were"):
        assert absent not in everything
    assert t.ended == "2026-04-20T09:00:08Z"


def test_malformed_attachments_are_issues_on_their_lines() -> None:
    t = parse(FIXTURE)
    assert [(i.line, i.reason) for i in t.issues] == [
        (22, "attachment record without an attachment object"),
        (23, "edited_text_file attachment without a filename"),
        (24, "queued_command attachment without a prompt"),
    ]
    assert all(i.path == str(FIXTURE) for i in t.issues)


def test_odd_but_valid_attachments_are_skipped_in_silence(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"type": "edited_text_file", "filename": "/home/dev/shop/a.md", "snippet": ""},
        {"type": "edited_text_file", "filename": "/home/dev/shop/b.md"},
        {"type": "queued_command", "prompt": "   ", "commandMode": "prompt"},
        {"type": "queued_command", "prompt": [{"type": "image"}], "commandMode": "prompt"},
        {"type": "hook_blocking_error", "hookEvent": "PostToolUse", "blockingError": {}},
        {"type": "date_change", "newDate": "2026-04-21"},
        {"no": "type"},
        [],
    )
    t = parse(path)
    assert [(m.role, m.kind) for m in t.messages] == [("user", "")]
    assert [(i.line, i.reason) for i in t.issues] == [
        (6, "hook_blocking_error attachment without a reason"),
        (9, "attachment record without an attachment object"),
    ]


def test_a_long_edit_keeps_a_bounded_excerpt(tmp_path: Path) -> None:
    snippet = "\n".join(f"{n}\tline {n} of the guide: keep handlers small." for n in range(1, 2001))
    path = write(
        tmp_path,
        {"type": "edited_text_file", "filename": "/home/dev/shop/GUIDE.md", "snippet": snippet},
    )
    (edited,) = [m for m in parse(path).messages if m.kind == "edited"]
    assert edited.text.startswith("/home/dev/shop/GUIDE.md (lines 1–2000) changed on disk")
    assert "line 1 of the guide" in edited.text and "line 2000 of" not in edited.text
    assert len(edited.text) < EXCERPT_CHARS + 200 and edited.text.endswith("\n…")


def test_the_digest_names_the_edited_file_and_reads_queued_prompts_as_the_user() -> None:
    digest = build_digest(parse(FIXTURE))
    text = digest.text
    assert "FILE: CLAUDE.md (lines 1–6) changed on disk since the agent read it:" in text
    assert "Use pnpm, never npm" in text
    assert "USER: also log each request's duration" in text
    assert text.count("now add a test for it") == 1
    assert "HOOK: PostToolUse hook (Bash) blocked" in text
    assert digest.files == ()  # not the session's own change


def test_a_queued_prompt_does_not_end_the_agents_turn() -> None:
    # typed mid-turn: the agent's text before it is no end-of-turn report, and the error
    # before it is still paired with the edit and the run that fixed it
    def bash(command: str, output: str, error: bool = False) -> ToolCall:
        return ToolCall("Bash", json.dumps({"command": command}), output, error)

    fix = ToolCall("Edit", json.dumps({"file_path": "/home/dev/shop/api.ts"}), "updated")
    messages = [
        Message("user", "Add a /health endpoint.", line=1),
        Message("assistant", "", line=2, tool_calls=(bash("pnpm test", "TS2304: x", True),)),
        Message("assistant", "The handler is registered twice in the router table.", line=3),
        Message("user", "also log each request's duration", line=4, kind="queued"),
        Message("assistant", "", line=5, tool_calls=(fix, bash("pnpm test", "3 passed"))),
        Message("assistant", "Done: one registration left, tests pass.", line=6),
    ]
    entries, _ = digest_entries(
        Transcript("claude", "s", "/s", tuple(messages), cwd="/home/dev/shop")
    )
    kinds = {e.line: e.kind for e in entries}
    assert kinds[3] == "note" and kinds[4] == "request" and kinds[6] == "report"
    (error,) = [e for e in entries if e.kind == "error"]
    assert "fixed by editing api.ts" in error.text and "passed" in error.text


def test_an_edited_file_goes_through_redaction(tmp_path: Path) -> None:
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    snippet = f"1\t# Deploy\n2\tGITHUB_TOKEN={token}\n3\tUse the staging cluster first."
    queued = {"type": "queued_command", "prompt": f"use {token} to push", "commandMode": "prompt"}
    path = write(
        tmp_path,
        {"type": "edited_text_file", "filename": "/home/dev/shop/DEPLOY.md", "snippet": snippet},
        queued,
    )
    transcript, counts = redact_transcript(parse(path))
    text = build_digest(transcript).text
    assert token not in text and sum(counts.values()) == 2
    assert "DEPLOY.md (lines 1–3)" in text and "Use the staging cluster first." in text


def test_an_edit_the_last_command_made_is_worth_less() -> None:
    edited = Message(
        "system", "/home/dev/shop/CLAUDE.md (lines 3–4) changed on disk since the agent read it:"
        "\n## Conventions\n- Use pnpm, never npm.", line=3, kind="edited",
    )  # fmt: skip

    def entry_after(command: str) -> tuple[float, str]:
        run = ToolCall("Bash", json.dumps({"command": command}), "done")
        messages = (
            Message("user", "Tidy the repo.", line=1),
            Message("assistant", "", line=2, tool_calls=(run,)),
            edited,
        )
        t = Transcript("claude", "s", "/s", messages, cwd="/home/dev/shop")
        (entry,) = [e for e in digest_entries(t)[0] if e.kind == "edited"]
        return entry.score, entry.text

    by_hand, text = entry_after("pnpm test")
    assert text.startswith("CLAUDE.md (lines 3–4) changed on disk since the agent read it:\n")
    for command in ("git stash && git checkout main", "sed -i 's/npm/pnpm/' CLAUDE.md"):
        score, text = entry_after(command)
        assert score < by_hand and f"after `{command}`:\n## Conventions" in text
    assert entry_after("cp CLAUDE.md.bak /tmp/")[0] == by_hand  # another file's name
    assert entry_after("cat CLAUDE.md")[0] == by_hand  # a look changes nothing
