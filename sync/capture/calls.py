"""What one tool call did, read from its name, input and output (pure; every agent's names).

A call is an ``edit`` (the files it changed and one line of what changed: Claude
Edit/Write/MultiEdit, Codex ``apply_patch``, pi/OpenCode/Cursor edit tools, and edits made
inside shell commands: ``cat > f``, ``sed -i``, ``tee``), a ``run`` (a shell command; whether it
failed, and whether it verified: tests, builds, type checks, linters), an ``ask`` (a question
the user answered through a tool), a ``plan`` (a plan the user approved or rejected), a
``subagent`` (a delegated task and its report), or ``other`` (reads, searches, todo lists).
Output bodies are never kept, only the lines that say what went wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sync.capture.reported import json_failure
from sync.capture.sources.base import ToolCall

EDIT_TOOLS = frozenset(
    {
        "edit", "multiedit", "write", "notebookedit", "apply_patch", "patch", "str_replace_editor",
        "str_replace_based_edit_tool", "create_file", "edit_file", "write_file", "search_replace",
        "replace", "insert", "delete_file", "applypatch",
    }
)  # fmt: skip
RUN_TOOLS = frozenset(
    {
        "bash", "shell", "exec_command", "local_shell", "run_terminal_cmd", "run_terminal",
        "shell_exec", "execute_command", "run_command", "terminal", "powershell", "cmd",
        "exec",  # OpenClaw's shell tool
        "shell_command",  # Codex 0.6x+: {"command": "docker compose up -d", "workdir": …}
    }
)  # fmt: skip
ASK_TOOLS = frozenset({"askuserquestion", "ask_user", "request_user_input", "askfollowupquestion"})
PLAN_TOOLS = frozenset({"exitplanmode", "exit_plan_mode", "present_plan"})
SUBAGENT_TOOLS = frozenset({"task", "agent", "dispatch_agent", "subagent", "spawn_agent"})

_PATH_KEYS = ("file_path", "path", "filePath", "target_file", "notebook_path", "filename", "file")
_OLD_KEYS = ("old_string", "oldString", "oldText", "old_str", "old")
_NEW_KEYS = ("new_string", "newString", "newText", "new_str", "content", "code_edit", "new")
_VERIFY = re.compile(
    r"(?:^|[\s;&|(])(?:pytest|py\.test|tox|nox|unittest|(?:npm|pnpm|yarn|bun)\s+(?:run\s+)?"
    r"(?:test|build|check|lint|typecheck|type-check|tsc|ci)\b|npx\s+(?:tsc|jest|vitest|eslint|biome"
    r"|playwright|next\s+build)|tsc\b|tsgo\b|jest\b|vitest\b|cargo\s+(?:test|build|check|clippy)"
    r"|go\s+(?:test|build|vet)|make(?:\s+\w*(?:test|check|build|lint)\w*)?\s*$|ruff\b|mypy\b"
    r"|eslint\b|biome\b|gradle\w*\s+\w*(?:test|build)|mvn\s|dotnet\s+(?:test|build)|ng\s+build"
    r"|ionic\s+build|swift\s+(?:test|build)|rspec\b|phpunit\b|mix\s+test|deno\s+test|bun\s+test"
    r"|lint-imports|pre-commit\s+run)",
    re.M,
)
_EXIT = re.compile(
    r"(?:exit(?:ed)?(?: with)? code|exit status|returned non-zero exit status)\D{0,3}([0-9]+)", re.I
)
_ERROR_LINE = re.compile(
    r"\w*(?:Error|Exception)\b"
    r"|\b(?:error|errors|exception|traceback|failed|failure|fatal|panic|cannot|can't|could not"
    r"|couldn't|not found|no such file|denied|refused|undefined|is not a function|is not defined"
    r"|unexpected|invalid|missing|timed out|timeout|aborted|FAIL|ERR!|TS\d{4}|NG\d{4}|E\d{3,4}"
    r"|not allowed|has not been read)\b",
    re.I,
)
_SHELL_WRITE = re.compile(
    r"(?:\bcat\s*>{1,2}\s*|\btee\s+(?:-a\s+)?|\bsed\s+-i\S*\s+(?:'[^']*'|\"[^\"]*\"|\S+)\s+"
    r"|>{1,2}\s*)([\w./~-]+\.[A-Za-z0-9]{1,8})\b"
)
_INSPECT = re.compile(
    r"^(?:grep|rg|ag|ack|find|fd|ls|ll|tree|cat|head|tail|less|wc|which|whereis|type|file|stat"
    r"|test|\[|echo|pwd|du|df|git\s+(?:status|log|diff|show|branch|grep)|sed\s+-n|awk|jq|open"
    r"|code|sleep)\b"
)
_INSTALL = re.compile(
    r"\b(?:(?:npm|pnpm|yarn|bun)\s+(?:add|install|i)\s+\S|pip3?\s+install\s|uv\s+(?:add|pip\s+"
    r"install)\s|poetry\s+add\s|cargo\s+(?:add|install)\s|go\s+(?:get|install)\s|gem\s+install"
    r"\s|brew\s+install\s|apt(?:-get)?\s+install\s|npx\s+create-|dotnet\s+(?:add|new)\s"
    # scaffolding: the project's own setup (cargo init --lib, npm init, uv init, go mod init)
    r"|cargo\s+(?:init|new)\b|(?:npm|pnpm|yarn|bun)\s+(?:init|create)\b|uv\s+init\b"
    r"|poetry\s+new\s|go\s+mod\s+init\b|rails\s+new\s|django-admin\s+startproject\s)"
)
_COMMIT = re.compile(r"\bgit\s+commit\b")
_COMMIT_DONE = re.compile(r"^\[[\w./-]+(?: \(root-commit\))? ([0-9a-f]{7,40})\] (.+)$", re.M)
_NPM_SCRIPT = re.compile(r"^> [\w@/.-]+@[\w.+-]+ [\w:.-]+\s*\n> (.+)$", re.M)
_FAMILIES = frozenset(
    {
        "npm", "pnpm", "yarn", "bun", "cargo", "go", "git", "uv", "poetry", "make", "docker",
        "kubectl", "python", "python3", "dotnet", "gradle", "mvn", "pip", "pip3",
    }
)  # fmt: skip
_FILTERS = frozenset(
    {
        "tail", "head", "grep", "egrep", "rg", "sed", "awk", "less", "more", "wc", "sort", "uniq",
        "cut", "tee", "cat", "jq", "tr", "column", "xargs",
    }
)  # fmt: skip
_PATCH_FILE = re.compile(r"^\*\*\* (?:Update|Add|Delete) File: (.+)$", re.M)
_NOISE_OUTPUT = re.compile(
    r"^\s*(?:\d+→|\d+\s*[|│])"  # numbered listings and code excerpts
    r"|^\s*(?:npm (?:error|ERR!)\s+)(?:syscall|errno|dest|at)\b"  # npm's detail and stack lines
)
_WARNING = re.compile(r"^\W*(?:warn(?:ing)?|deprecat\w*)\b", re.I)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")  # a name inside a line
LINE_CHARS = 160


@dataclass(frozen=True)
class CallFacts:
    """One tool call reduced to what a digest needs."""

    kind: str  # edit | run | ask | plan | subagent | other
    name: str
    files: tuple[str, ...] = ()  # files an edit changed
    summary: str = ""  # one line: what changed, the command, the question and its answer
    failed: bool = False
    verifies: bool = False  # a command that tests, builds, type-checks or lints
    errors: tuple[str, ...] = ()  # the output lines that say what went wrong
    report: str = ""  # a subagent's report, a plan's text, a commit's message, a doc's lines
    program: str = ""  # a command's program ("create-next-app", "npm run build")
    inspects: bool = False  # a command that only looks (grep, ls, cat, git status)
    installs: bool = False  # a command that installs or scaffolds (npm add, pip install)


def one_line(text: str, limit: int = LINE_CHARS) -> str:
    """``text`` on one line, whitespace collapsed, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def arguments(call: ToolCall) -> dict[str, Any]:
    """A call's arguments as a dict ({} when its input is not a JSON object)."""
    try:
        value = json.loads(call.input) if call.input.strip().startswith("{") else None
    except (ValueError, RecursionError):  # not JSON, or nested too deep to read
        value = None
    return value if isinstance(value, dict) else {}


def _first(args: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = args.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def command_of(call: ToolCall) -> str:
    """The shell command a run call executed (the raw input when it is not JSON)."""
    args = arguments(call)
    value = args.get("command", args.get("cmd"))
    if isinstance(value, list):
        parts = [str(v) for v in value]
        if len(parts) >= 3 and parts[0].endswith(("bash", "sh", "zsh")) and parts[1] == "-lc":
            return parts[2]
        return " ".join(parts)
    if isinstance(value, str):
        return value
    return "" if args else call.input


def error_lines(output: str, limit: int = 3) -> tuple[str, ...]:
    """Up to ``limit`` distinct lines of ``output`` that name an error, each on one line, in
    order, errors before warnings ("warning: unable to unlink 'a.md'" × 40 hides the "error:
    … would be overwritten by merge" that stopped the command), one line per shape (the same
    line about another quoted name is the same line)."""
    found: list[tuple[bool, int, str]] = []  # (a warning, position, line)
    shapes: set[str] = set()
    for line in output.splitlines():
        if _NOISE_OUTPUT.match(line) or not _ERROR_LINE.search(line):
            continue
        flat = one_line(line, 200)
        shape = _QUOTED.sub("''", flat)
        if flat and shape not in shapes:
            shapes.add(shape)
            found.append((bool(_WARNING.match(flat)), len(found), flat))
        if sum(not w for w, _, _ in found) >= limit:
            break
    return tuple(line for _, _, line in sorted(found)[:limit])


def printed_lines(output: str, limit: int) -> list[str]:
    """Up to ``limit`` lines of ``output`` that say something, each on one line: banners, box
    drawing and bare rules out (a CLI's logo and frames are not what it reported)."""
    found: list[str] = []
    for line in output.splitlines():
        bare = _DRAWING.sub(" ", line).strip()
        if re.search(r"[^\W\d_]{2,}", bare):
            found.append(one_line(bare, 200))
            if len(found) >= limit:
                break
    return found


_DRAWING = re.compile(r"[\u2500-\u259f\u25a0-\u25ff]+")  # box drawing, blocks, shapes


_BARE_LINE = re.compile(
    r"^\s*(?:[{}()\[\];,]+|/\*.*|\*.*|//.*|#.*|<!--.*|['\"]use \w+['\"];?)\s*$"
)  # braces, comments, "use client"


def _changed_line(old: str, new: str) -> str:
    """The first line of ``new`` that ``old`` does not have and that says something (not a
    brace, a comment or a "use client" directive): what the edit is about."""
    before = {line.strip() for line in old.splitlines()}
    fresh = [line for line in new.splitlines() if line.strip() and line.strip() not in before]
    telling = next((line for line in fresh if not _BARE_LINE.match(line)), "")
    if telling or fresh:
        return one_line(telling or fresh[0])
    return one_line(new.strip().splitlines()[0]) if new.strip() else ""


def _patch(text: str) -> tuple[tuple[str, ...], str]:
    """Files and the first added line of an ``apply_patch`` envelope."""
    files = tuple(dict.fromkeys(m.strip() for m in _PATCH_FILE.findall(text)))
    added = next(
        (
            line[1:]
            for line in text.splitlines()
            if line.startswith("+") and not line.startswith("+++") and line[1:].strip()
        ),
        "",
    )
    return files, one_line(added)


def _edit(call: ToolCall, args: dict[str, Any]) -> CallFacts:
    if "*** Begin Patch" in call.input or _PATCH_FILE.search(call.input):
        text = _first(args, ("input", "patch")) or call.input
        files, line = _patch(text)
        return CallFacts("edit", call.name, files, line, call.is_error)
    path = _first(args, _PATH_KEYS)
    edits = args.get("edits")
    if isinstance(edits, list) and edits:
        first = edits[0] if isinstance(edits[0], dict) else {}
        line = _changed_line(_first(first, _OLD_KEYS), _first(first, _NEW_KEYS))
    else:
        line = _changed_line(_first(args, _OLD_KEYS), _first(args, _NEW_KEYS))
    errors = error_lines(call.output) if call.is_error else ()
    if call.is_error and not errors and call.output.strip():
        errors = (one_line(call.output.strip().splitlines()[0], 200),)
    doc = _added_text(args) if path.lower().endswith((".md", ".mdx", ".rst", ".txt")) else ""
    return CallFacts(
        "edit", call.name, (path,) if path else (), line, call.is_error, errors=errors, report=doc
    )


def _added_text(args: dict[str, Any]) -> str:
    """The lines an edit of a document adds (all of a new file's text)."""
    pairs = [args] + [e for e in args.get("edits") or [] if isinstance(e, dict)]
    out: list[str] = []
    for pair in pairs:
        before = {line.strip() for line in _first(pair, _OLD_KEYS).splitlines()}
        out += [
            line
            for line in _first(pair, _NEW_KEYS).splitlines()
            if line.strip() and line.strip() not in before
        ]
    return "\n".join(out)


def program_of(command: str) -> str:
    """The program a command line is about: the last ``&&``/``;`` step, its last pipe stage
    that is not a filter (``| tail``, ``| grep``), runners (npx, sudo, env) and versions
    dropped; two or three words for tool families."""
    step = re.split(r"&&|;|\|\|", command.strip())[-1]
    stages = [s.split() for s in step.split("|") if s.strip()]
    kept = [s for s in stages if s[0] not in _FILTERS]
    stage = (kept or stages or [[]])[-1]
    words = [w for w in stage if "=" not in w or w.startswith("-")]
    while words and words[0] in ("npx", "sudo", "env", "time", "timeout", "exec", "command"):
        words = words[1:]
        while words and (words[0].isdigit() or words[0].startswith("-")):
            words = words[1:]
    if not words:
        return ""
    head = re.sub(r"@[\w.^~-]*$", "", words[0].rsplit("/", 1)[-1])
    if head in _FAMILIES and len(words) > 1:
        second = words[1]
        if second in ("run", "-m", "exec", "x") and len(words) > 2:
            return f"{head} {second} {words[2]}"
        return f"{head} {second}"
    return head


_TREE_REWRITE = re.compile(
    r"\bgit\s+(?:stash|checkout|switch|reset|restore|pull|merge|rebase|apply|am|cherry-pick"
    r"|revert)\b"
)


def rewrites(command: str, path: str) -> bool:
    """Whether a shell command likely changed ``path``: it names the file, or it is a git
    command that rewrites the working tree (a stash, a checkout, a pull)."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    named = len(name) >= 4 and re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-]|\.\w)", command)
    return bool(command) and bool(named or _TREE_REWRITE.search(command))


def _exit_code(output: str) -> int:
    """The first non-zero exit code the end of ``output`` reports (0 when none)."""
    return next((int(m) for m in _EXIT.findall(output[-400:]) if m != "0"), 0)


def _run(call: ToolCall) -> CallFacts:
    command = command_of(call)
    exit_code = _exit_code(call.output)
    program = program_of(command)
    inspects = bool(_INSPECT.match(program))
    quiet = not call.output.strip() or call.output.strip().startswith("(no output)")
    reported = json_failure(call.output, error_lines, outer=True)  # OpenClaw exec's report
    failed = (call.is_error or exit_code != 0 or bool(reported)) and not (
        inspects and quiet and exit_code in (0, 1)  # grep found nothing: not an error
    )
    errors = (reported or error_lines(call.output)) if failed else ()
    if failed and not errors and call.output.strip():
        errors = (one_line(call.output.strip().splitlines()[-1], 200),)
    script = _NPM_SCRIPT.search(call.output) if failed else None
    if script and script.group(1).strip() not in command:
        errors = (f"(runs `{one_line(script.group(1), 80)}`)", *errors)
    writes = tuple(dict.fromkeys(m for m in _SHELL_WRITE.findall(command) if "/dev/" not in m))
    report = ""
    if _COMMIT.search(command) and not failed:
        done = _COMMIT_DONE.search(call.output)
        report = f"{done.group(1)} {done.group(2)}" if done else ""
    return CallFacts(
        "run",
        call.name,
        files=writes,
        summary=one_line(command, 200),
        failed=failed,
        verifies=bool(_VERIFY.search(command)),
        errors=errors,
        report=report,
        program=program,
        inspects=inspects,
        installs=bool(_INSTALL.search(command)),
    )


def _ask(call: ToolCall, args: dict[str, Any]) -> CallFacts:
    questions = args.get("questions")
    if isinstance(questions, list) and questions:
        asked = "; ".join(
            str(q.get("question") or q.get("header") or "") if isinstance(q, dict) else str(q)
            for q in questions
        )
    else:
        asked = _first(args, ("question", "prompt", "message", "text")) or call.input
    answer = call.output.strip()
    return CallFacts("ask", call.name, summary=one_line(asked, 400), report=one_line(answer, 600))


def classify(call: ToolCall) -> CallFacts:
    """What ``call`` did; unknown tools are ``other`` (their output is never kept)."""
    name = call.name.lower().rsplit(".", 1)[-1]
    args = arguments(call)
    if name in EDIT_TOOLS or call.input.lstrip().startswith("*** Begin Patch"):
        return _edit(call, args)
    if name in RUN_TOOLS:
        command = command_of(call)
        if "*** Begin Patch" in command:  # Codex: apply_patch run through the shell
            files, line = _patch(command)
            failed = call.is_error or _exit_code(call.output) != 0
            errors = error_lines(call.output) if failed else ()
            return CallFacts("edit", call.name, files, line, failed, errors=errors)
        return _run(call)
    if name in ASK_TOOLS:
        return _ask(call, args)
    if name in PLAN_TOOLS:
        plan = _first(args, ("plan", "content", "text"))
        return CallFacts("plan", call.name, summary=one_line(call.output, 200), report=plan)
    if name in SUBAGENT_TOOLS:
        task = _first(args, ("description", "prompt", "task")) or call.input
        return CallFacts("subagent", call.name, summary=one_line(task, 200), report=call.output)
    reported = json_failure(call.output, error_lines)  # {"ok": false, …}, unwrapped
    errors = reported or (error_lines(call.output) if call.is_error else ())
    if call.is_error and not errors and call.output.strip():
        errors = (one_line(call.output.strip().splitlines()[0], 200),)
    return CallFacts("other", call.name, summary=one_line(call.input, 120),
                     failed=call.is_error or bool(reported), errors=errors)  # fmt: skip
