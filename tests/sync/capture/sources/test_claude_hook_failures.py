"""Claude Code ``system`` records of hook commands that failed: read once per hook with their
count, left open as an issue naming the hook and its error; every other system record (hook
runs, durations, compaction boundaries) is not read."""

from __future__ import annotations

import json
from pathlib import Path

from sync.capture.daily import bucket
from sync.capture.daily_sections import generated_body
from sync.capture.digest import build_digest
from sync.capture.extraction.offline import candidates
from sync.capture.extraction.timeline import build_timeline
from sync.capture.sources.base import Transcript
from sync.capture.sources.claude import ClaudeAdapter
from sync.capture.sources.claude_attachments import hook_failure
from sync.capture.sources.common import file_item

HEAD = {"isSidechain": False, "cwd": "/Users/flo", "sessionId": "s", "version": "2.0.0"}
NODE_STDERR = (
    "node:internal/modules/cjs/loader:1404\n  throw err;\n  ^\n\n"
    "Error: Cannot find module '/Users/flo/.claude/scripts/validate-command.js'\n"
    "    at Function._resolveFilename (node:internal/modules/cjs/loader:1401:15)\n"
    "    at node:internal/main/run_main_module:36:49 {\n"
    "  code: 'MODULE_NOT_FOUND',\n  requireStack: []\n}\n\nNode.js v22.17.1\n"
)
VALIDATE = (
    "\x1b[1mPreToolUse:Bash\x1b[22m [node /Users/flo/.claude/scripts/validate-command.js] "
    f"failed with non-blocking status code 1: {NODE_STDERR}"
)
LINT = (
    "\x1b[1mPostToolUse:Write\x1b[22m [bash /Users/flo/.claude/scripts/simple-lint.sh] failed "
    "with non-blocking status code 127: bash: /Users/flo/.claude/scripts/simple-lint.sh: "
    "No such file or directory\n"
)


def system(content: str, level: str = "warning", **extra: object) -> dict[str, object]:
    return {**HEAD, "type": "system", "content": content, "level": level, "isMeta": False,
            "timestamp": "2025-08-15T20:47:55Z", "toolUseID": "toolu_1", **extra}  # fmt: skip


def bash_call(n: int) -> list[dict[str, object]]:
    use = {"type": "tool_use", "id": f"toolu_{n}", "name": "Bash",
           "input": {"command": f"mkdir -p dir{n}"}}  # fmt: skip
    result = {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": ""}
    return [
        {**HEAD, "type": "assistant", "timestamp": "2025-08-15T20:47:54Z",
         "message": {"id": f"m{n}", "role": "assistant", "content": [use]}},
        system(VALIDATE),
        {**HEAD, "type": "user", "timestamp": "2025-08-15T20:47:56Z",
         "message": {"role": "user", "content": [result]}},
    ]  # fmt: skip


def session(tmp_path: Path) -> Transcript:
    ask = {"role": "user", "content": "Rebuild the ~/.claude folder layout."}
    prompt = {**HEAD, "type": "user", "timestamp": "2025-08-15T20:47:00Z", "message": ask}
    records = [prompt, *bash_call(1), *bash_call(2), *bash_call(3)]
    records += [
        system("Running \x1b[1mPostToolUse:Write\x1b[22m...", level="info"),
        system(LINT),
        system("", level="info", subtype="turn_duration", durationMs=5400),
        system("Conversation compacted", level="info", subtype="compact_boundary"),
        {**HEAD, "type": "assistant", "timestamp": "2025-08-15T20:49:00Z",
         "message": {"id": "m9", "role": "assistant",
                     "content": [{"type": "text", "text": "The new layout is in place."}]}},
    ]  # fmt: skip
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    item = file_item("claude", path, path.stem)
    assert item is not None
    return ClaudeAdapter().parse(item)


def test_a_failed_hook_is_read_once_with_its_count_and_other_system_records_are_not(
    tmp_path: Path,
) -> None:
    t = session(tmp_path)
    failures = [m for m in t.messages if m.kind == "hook_error"]
    assert [m.text.splitlines()[0] for m in failures] == [
        "PreToolUse:Bash hook `node /Users/flo/.claude/scripts/validate-command.js` failed "
        "with status 1 (3 times):",
        "PostToolUse:Write hook `bash /Users/flo/.claude/scripts/simple-lint.sh` failed with "
        "status 127:",
    ]
    assert "\x1b" not in failures[0].text and "MODULE_NOT_FOUND" in failures[0].text
    assert not any("Running" in m.text or "compacted" in m.text for m in t.messages)
    assert t.issues == ()
    assert "Cannot find module" in build_digest(t, 4000).text
    for other in ("Conversation compacted", "Running PostToolUse:Write...", "", None, 42):
        assert hook_failure(other) is None


def test_a_failed_hook_is_left_open_with_its_script_and_error(tmp_path: Path) -> None:
    tl = build_timeline(session(tmp_path))
    issues = [f.candidate for f in candidates(tl, ()) if f.candidate.kind == "issue"]
    by_title = {c.title: c.body for c in issues}
    node = by_title["The validate-command.js hook fails: Cannot find module validate-command.js"]
    assert "`node .claude/scripts/validate-command.js` failed 3 times (status 1)" in node
    error = "Error: Cannot find module '.claude/scripts/validate-command.js' (MODULE_NOT_FOUND)"
    assert error in node
    (lint,) = [b for t, b in by_title.items() if t.startswith("The simple-lint.sh hook fails")]
    assert "failed once (status 127)" in lint and "No such file or directory" in lint


def test_the_daily_log_counts_a_failed_hook_among_the_errors_seen(tmp_path: Path) -> None:
    days = bucket({"claude:s": session(tmp_path)}, "UTC")
    body = generated_body("2025-08-15", days["2025-08-15"], "UTC")
    errors = body.split("## Errors seen\n", 1)[1].split("\n## ", 1)[0]
    assert "PreToolUse:Bash hook `node" in errors and "(3 times)" in errors
    assert "Cannot find module" in errors and "simple-lint.sh: No such file" in errors
