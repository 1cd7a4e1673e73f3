"""Text and tool-call helpers shared by the offline extractor's rules. Pure and linear."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from sync.capture.sources.base import ToolCall, Transcript

TITLE_MAX = 80
EVIDENCE_MAX = 200

_FENCE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)", re.S)
# Wrapper tags agents inject (<system-reminder>, <command-output>); plain HTML is left alone.
_TAG_BLOCK = re.compile(r"<([a-z]+[-_][\w-]*)>.*?</\1>", re.S)
_SENT_SPLIT = re.compile(
    r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bvs\.)(?<!\betc\.)(?<=[.!?])\s+(?=[A-Za-z`\"'(\[*_])"
    r"|\s+[—–]\s+(?=[A-Z])"
)
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)]|#{1,6})\s+")
_MD = re.compile(r"\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)|`")
_WS = re.compile(r"\s+")
_NOT_LETTER = re.compile(r"[^\w ]|[\d_]")
_TRAIL = re.compile(r"[\s.,;:!?\-—–(\[{'\"/]+$")
_DANGLING = re.compile(
    r"\s+(?:and|or|but|the|a|an|to|of|for|with|by|in|on|at|because|since|so|as|that|which)$",
    re.I,
)

SHELL_TOOLS = {
    "bash", "shell", "exec_command", "exec", "run_terminal_cmd", "terminal", "local_shell",
    "run_shell_command", "execute_command", "shell_command", "run_command", "command",
}  # fmt: skip
EDIT_TOOLS = {
    "write", "edit", "multiedit", "notebookedit", "apply_patch", "str_replace_editor",
    "str_replace_based_edit_tool", "create_file", "edit_file", "write_file", "search_replace",
    "patch",
}  # fmt: skip
_LOOKUP_TOOLS = re.compile(r"(?i)glob|grep|^ls$|list|search|find")
_PATH_KEYS = ("file_path", "filePath", "path", "notebook_path", "target_file", "filename", "file")
_PATCH_FILE = re.compile(r"\*\*\* (?:Update|Add|Delete) File: ([^\n\\]+)")

_TECH_WORDS = {
    "python", "pytest", "pip", "uv", "ruff", "mypy", "rust", "cargo", "typescript", "javascript",
    "node", "npm", "pnpm", "yarn", "bun", "deno", "docker", "git", "sqlite", "postgres", "redis",
    "react", "vue", "kubectl", "terraform", "java", "gradle", "maven", "make", "qdrant",
    "fastapi", "django", "flask", "golang", "vitest", "jest", "eslint", "tsc", "dspy", "swift",
}  # fmt: skip
_EXT_TECH = {
    ".py": "python", ".rs": "rust", ".ts": "typescript", ".tsx": "typescript",
    ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript", ".go": "golang",
    ".java": "java", ".rb": "ruby", ".sh": "bash", ".sql": "sql", ".kt": "kotlin",
    ".swift": "swift", ".c": "c", ".cpp": "cpp", ".cs": "csharp",
}  # fmt: skip
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#-]*")

_ERROR_LINE = re.compile(
    r"^(?:Traceback \(most recent call last\)|[\w.]*(?:Error|Exception)\b|error(?:\[E\d+\])?:"
    r"|fatal:|FAILED\b|FAIL\b|npm ERR!|panic:|ERROR\b)"
    r"|command not found|No such file or directory|\bexit (?:code|status):? [1-9]"
    r"|^Exit code:? [1-9]|Process exited with code [1-9]",
    re.M,
)
_INFORMATIVE = re.compile(
    r"(?i)\berror\b|\bfailed\b|\bexception\b|not found|cannot|can't|unable|denied|invalid"
    r"|missing|undefined|panic|no such|refused|mismatch|expected"
)
_EXC_LINE = re.compile(r"^\s*[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b.*$", re.M)
_TOOL_ERR_TAG = re.compile(r"</?tool_use_error>")
_AGENT_MECHANICS = re.compile(
    r"(?i)has not been read yet|string to replace not found|found \d+ matches of the string"
    r"|doesn't want to (?:proceed|take)|does not want to|rejected by (?:the )?user"
    r"|interrupted by user|file has been (?:unexpectedly )?modified|must read .* before"
    r"|no changes to make|oldString not found|request was aborted|operation aborted"
    r"|could not find the exact text|command aborted|^aborted$|user cancel"
    r"|requested permissions? to|haven't granted|permission to use .* was denied"
)
_PROBES = {
    "ls", "cat", "grep", "rg", "ag", "find", "fd", "head", "tail", "which", "echo", "pwd", "wc",
    "stat", "file", "test", "[", "tree", "diff", "type", "command", "less", "more", "du", "df",
    "whereis", "locate", "ps", "env", "printenv", "true", "false", "sleep",
}  # fmt: skip
_GIT_PROBES = {"status", "log", "diff", "show", "branch", "remote", "rev-parse", "ls-files"}
_PREFIX_WORDS = {"sudo", "time", "nohup", "exec", "command", "env"}
_SETUP_WORDS = {"cd", "export", "source", "set", "pushd", "popd", ".", "unset", "mkdir"}


def clip(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    text = _WS.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def prose(text: str) -> str:
    """``text`` without fenced code blocks and XML-ish tag blocks (those are not statements)."""
    if "```" in text or "~~~" in text:
        text = _FENCE.sub("\n", text)
    if "</" in text:
        text = _TAG_BLOCK.sub("\n", text)
    return text


def _is_codeish(line: str) -> bool:
    """Tables, indented code, diffs and symbol-heavy lines are not sentences."""
    if line.startswith(("    ", "\t", "|", ">", "+", "@@")) or line.rstrip().endswith(("{", ";")):
        return True
    return len(_NOT_LETTER.sub("", line)) < 0.7 * len(line)


def sentences(text: str) -> Iterator[str]:
    """The prose sentences of ``text``, markdown stripped, each on one line."""
    for raw in prose(text).splitlines():
        line = _BULLET.sub("", raw)
        if len(line) < 12 or _is_codeish(raw):
            continue
        line = _MD.sub("", line)
        for part in _SENT_SPLIT.split(line):
            part = part.strip()
            if part:
                yield part


def clean_title(text: str, limit: int = TITLE_MAX) -> str:
    """A title from a clause: one line, capitalized, ≤ ``limit`` chars, no trailing junk."""
    text = _WS.sub(" ", _MD.sub("", text)).strip(" -—–:,;")
    if len(text) > limit:
        cut = text[: limit + 1]
        text = cut[: cut.rfind(" ")] if " " in cut else cut[:limit]
    for _ in range(3):
        text = _DANGLING.sub("", _TRAIL.sub("", text))
    return text[:1].upper() + text[1:]


def normalized(text: str) -> str:
    """A key for near-identical texts: lower-case words only."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def slug(text: str) -> str:
    """A tag-safe slug: lower-case letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def project_name(t: Transcript) -> str:
    """The session's project: the adapter's name for it, else the last part of its cwd."""
    if t.project:
        return t.project
    cwd = (t.cwd or "").replace("\\", "/").rstrip("/")
    return cwd.rsplit("/", 1)[-1]


def base_tags(t: Transcript) -> tuple[str, ...]:
    """Tags every candidate of a session carries: the agent and the project."""
    project = slug(project_name(t))
    return tuple(dict.fromkeys([t.agent, project] if project else [t.agent]))


def tags_for(base: tuple[str, ...], text: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """``base`` plus the languages and tools ``text`` mentions, at most 6 in all."""
    return tuple(dict.fromkeys([*base, *extra, *tech_tags(text)]))[:6]


def tech_tags(text: str, limit: int = 4) -> list[str]:
    """Language and tool names mentioned in ``text``, in order of first mention."""
    found: dict[str, None] = {}
    for word in _WORD.findall(text):
        low = word.lower()
        if low in _TECH_WORDS:
            found.setdefault(low, None)
            if len(found) >= limit:
                break
    return list(found)


def ext_tag(path: str) -> str | None:
    """The language a file's extension implies."""
    dot = path.rfind(".")
    return _EXT_TECH.get(path[dot:].lower()) if dot > path.rfind("/") else None


def _arguments(call: ToolCall) -> dict[str, object] | None:
    text = call.input.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def is_shell(call: ToolCall) -> bool:
    return call.name.lower() in SHELL_TOOLS


def is_edit(call: ToolCall) -> bool:
    return call.name.lower() in EDIT_TOOLS


def command_of(call: ToolCall) -> str:
    """The shell command a shell tool call ran (first line), or "" for other tools."""
    if not is_shell(call):
        return ""
    args = _arguments(call)
    value: object = call.input
    if args is not None:
        value = args.get("command", args.get("cmd", ""))
    if isinstance(value, list):
        parts = [str(v) for v in value]
        value = parts[-1] if len(parts) >= 3 and parts[1] in ("-lc", "-c") else " ".join(parts)
    lines = str(value).strip().splitlines()
    return lines[0].strip() if lines else ""


def paths_of(call: ToolCall) -> list[str]:
    """File paths a tool call names in its structured input (or in an apply_patch body)."""
    args = _arguments(call)
    found: list[str] = []
    if args is not None and not _LOOKUP_TOOLS.search(call.name):
        for key in _PATH_KEYS:
            value = args.get(key)
            if isinstance(value, str) and 0 < len(value) < 300 and "\n" not in value:
                found.append(value)
                break
    if "*** " in call.input:
        found.extend(p.strip() for p in _PATCH_FILE.findall(call.input))
    return found


def command_head(command: str) -> str:
    """The program and sub-command a shell command runs: ``cd x && npm run check | tail`` →
    ``npm run check``."""
    fallback = ""
    for segment in re.split(r"&&|;|\|\||\n", command):
        words = segment.split("|", 1)[0].split()
        while words and (words[0] in _PREFIX_WORDS or re.match(r"[A-Za-z_]\w*=", words[0])):
            words = words[2:] if words[0] == "timeout" else words[1:]
        if words and words[0] == "timeout":
            words = words[2:]
        if not words:
            continue
        fallback = fallback or words[0]
        if words[0] in _SETUP_WORDS:
            continue
        head = [words[0].rsplit("/", 1)[-1]]
        for word in words[1:]:
            module = word == "-m" and head[0].startswith("python")
            if len(head) >= 3 or (word[:1] in "-'\"<>&$(" and not module) or word[:1].isdigit():
                break
            head.append(word)
        return " ".join(head)
    return fallback


def is_probe(command: str) -> bool:
    """Look-ups (ls, grep, git status) fail as a way of answering "no"; that is no error."""
    words = command_head(command).split()
    if not words:
        return False
    return words[0] in _PROBES or (words[0] == "git" and len(words) > 1 and words[1] in _GIT_PROBES)


def _head_tail(output: str) -> str:
    """Errors sit at the start or the end of long outputs; bound the scan to keep it linear."""
    return output if len(output) <= 12_000 else output[:8_000] + "\n" + output[-4_000:]


def failure(call: ToolCall) -> str:
    """The error line of a failed call ("" when it did not fail): flagged by the agent, or a
    shell output that reads as an error. Look-ups (ls, grep) and agent-tool hiccups (edit
    before read, a rejected call) do not count: they teach nothing about the project.
    """
    if is_shell(call) and is_probe(command_of(call)):
        return ""
    if not call.is_error and not (is_shell(call) and _ERROR_LINE.search(_head_tail(call.output))):
        return ""
    line = error_line(call.output)
    return "" if is_mechanics(line) else line or "(no output)"


def is_mechanics(error: str) -> bool:
    """Agent-tool hiccups (edit before read, user rejection) teach nothing about the project."""
    return bool(_AGENT_MECHANICS.search(error))


def error_line(output: str, limit: int = 160) -> str:
    """The most informative line of an error output (a traceback's last exception line first)."""
    text = _TOOL_ERR_TAG.sub("", _head_tail(output))
    if "Traceback (most recent call last)" in text:
        exceptions = _EXC_LINE.findall(text)
        if exceptions:
            return clip(exceptions[-1], limit)
    fallback = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or len(line) > 400 or re.match(r"(?i)exit code:? \d+$", line):
            continue
        if _INFORMATIVE.search(line):
            return clip(line, limit)
        fallback = fallback or line
    return clip(fallback or text.strip(), limit)
