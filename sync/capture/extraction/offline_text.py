"""Text helpers shared by the offline extractor's rules. Pure and linear."""

from __future__ import annotations

import re
from collections.abc import Iterator

from sync.capture.sources.base import Transcript

TITLE_MAX = 80

_FENCE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)", re.S)
LED_BLOCK_LINES = 3  # a block a line introduces joins it up to this many lines (160 characters)
_LED_BLOCK = re.compile(
    r"([:：])[ \t]*\n(?:[ \t]*\n)*[ \t]*```[\w+-]*[ \t]*\n(.{1,160}?)\n[ \t]*```[ \t]*\n?", re.S
)
# Wrapper tags agents inject (<system-reminder>, <command-output>); plain HTML is left alone.
_TAG_BLOCK = re.compile(r"<([a-z]+[-_][\w-]*)>.*?</\1>", re.S)
_SENT_SPLIT = re.compile(
    r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bvs\.)(?<!\betc\.)(?<=[.!?])\s+(?=[A-Za-z`\"'(\[*_])"
    r"|\s+[—–]\s+(?=[A-Z])"
)
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)]|#{1,6})\s+")
_MD = re.compile(r"\*\*|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)|`")  # underscores belong to names
_WS = re.compile(r"\s+")
_ROW = re.compile(r"^\s*\|(.+)\|\s*$")
_NOT_LETTER = re.compile(r"[^\w ]|[\d_]")
_TRAIL = re.compile(r"[\s.,;:!?\-—–(\[{'\"/]+$")
_DANGLING = re.compile(
    r"\s+(?:and|or|but|the|a|an|to|of|for|with|by|in|on|at|because|since|so|as|that|which)$",
    re.I,
)


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
# swearing, interjections and insults: they carry the mood, not the fact
NARRATION = re.compile(
    r"^(?:(?:now|ok(?:ay)?|great|perfect|good|alright|first|next|then|so)[,!.]?\s+)*"
    r"(?:let me|let'?s|i'?ll|i will|i'?m going to|i need to|now i|i can see|i see|i notice)\b",
    re.I,
)
_RUDE = re.compile(
    r"\b(?:f+u+c+k\w*(?: up)?|(?:screw|mess)ed up|shit\w*|crap\w*|damn\w*|hell\b|wtf|omfg|omg"
    r"|ffs|jesus|dude|bro|idiot\w*|stupid\w*|dumb\w*|moron\w*|ugh+|argh+|lol|lmao|w\.t\.f\.?"
    r"|my dude|you know)\b",
    re.I,
)
_LEAD_FILLER = re.compile(
    r"^(?:(?:ok(?:ay)?|alright|all right|right|so|well|yeah|yes|hm+|hmm+|ah+|oh|wait|btw"
    r"|also|and|but|actually|now|great|nice|cool|please|just|i (?:think|guess|suppose|feel like)"
    r"(?: that)?)\b[\s,.!:;-]*)+",
    re.I,
)
_DANGLING_END = re.compile(
    r"\s*\b(?:is|are|was|were|be|the|a|an|so|of|to|and|or|but|this|that|it|its|with|for|as|in"
    r"|on|at|by|from|into|not)$",
    re.I,
)
_LOCATION = re.compile(r"(?:[\w.@~-]*[/\\])*[\w.@-]+\.\w+(?:\(\d+,\d+\)|:\d+(?::\d+)?)[:\s]*")
_ERROR_WORD = re.compile(
    r"(?:\b(?:error|fatal|warning)\b|\bERR!)\s*(?:\[?(?P<code>[A-Z]+\d+[A-Z0-9]*)\]?)?\s*:\s*",
    re.I,
)
_LONG_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/]?[\w.@~-]+[\\/]){2,}([\w.@-]+)")
_TEST_FAILED = re.compile(r"^\s*FAIL(?:ED)?\s+\S*?(?:::|\s>\s)([\w\[\]-]+)\s+-\s+")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
NAME = re.compile(
    r"`[^`\n]{2,60}`|\b[a-z]+(?:[A-Z][a-z0-9]+)+\b|\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+\b"
    r"|\b[A-Za-z]+_[A-Za-z0-9_]+\b|(?:~|\.{1,2})?/?\b[\w.-]+/[\w./-]+|\b[\w-]+\.[a-z]{1,5}\b"
    r"|(?<![\w-])--?[a-z][\w-]+|\b[A-Z]+\d+[A-Z0-9]*\b|#[0-9a-fA-F]{6}\b|\bv?\d+\.\d+(?:\.\d+)?\b"
)


def base_name(path: str) -> str:
    """The last part of a path, either separator ("src/app/a.ts" → "a.ts")."""
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def clip(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    text = _WS.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def prose(text: str) -> str:
    """``text`` without fenced code blocks and XML-ish tag blocks (those are not statements),
    except a short block that a line introduces ("test.txt contains:", "Start it with:"):
    that block is what the line says, so it joins the line."""
    if "```" in text or "~~~" in text:
        text = _LED_BLOCK.sub(_inline_block, text)
        text = _FENCE.sub("\n", text)
    if "</" in text:
        text = _TAG_BLOCK.sub("\n", text)
    return text


def _inline_block(m: re.Match[str]) -> str:
    lines = [line.strip() for line in m.group(2).splitlines() if line.strip()]
    if not lines or len(lines) > LED_BLOCK_LINES:
        return m.group(0)
    return f"{m.group(1)} {'; '.join(lines)}\n"


def _is_codeish(line: str) -> bool:
    """Tables, indented code, diffs and symbol-heavy lines are not sentences."""
    if line.startswith(("    ", "\t", "|", ">", "+", "@@")) or line.rstrip().endswith(("{", ";")):
        return True
    return len(_NOT_LETTER.sub("", line)) < 0.7 * len(line)


def _is_listing(line: str) -> bool:
    """A list item or plain line with a few words, however many digits it holds."""
    if line.startswith(("    ", "\t", "|", ">", "+", "@@")) or line.rstrip().endswith(("{", ";")):
        return False
    return len(re.findall(r"[^\W\d_]{2,}", line)) >= 2


def _is_rule(line: str) -> bool:
    """A table header's underline (``|---|:--:|``)."""
    return bool(_ROW.match(line)) and set(line.strip()) <= set("|-: ") and "-" in line


def sentences(text: str, lax: bool = False) -> Iterator[str]:
    """The prose sentences of ``text``, markdown stripped, each on one line. ``lax`` keeps
    lines heavy with numbers and symbols (versions, ports, colours) that are not code, and
    reads a table's rows as ``first cell: other cells``."""
    lines = prose(text).splitlines()
    for i, raw in enumerate(lines):
        if lax and (row := _ROW.match(raw)):  # a table row is a statement too: "a: b; c"
            if _is_rule(raw) or (i + 1 < len(lines) and _is_rule(lines[i + 1])):
                continue  # the header and its underline
            cells = [c.strip() for c in row.group(1).split("|")]
            raw = f"{cells[0]}: {'; '.join(c for c in cells[1:] if c)}".rstrip(": ")
        line = _BULLET.sub("", raw)
        if len(line) < 12 or (_is_codeish(raw) and not (lax and _is_listing(raw))):
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
    if text.count('"') % 2:  # the closing quote of a quoted last word stays
        text += '"'
    head = text.split(" ", 1)[0]
    if re.search(
        r"[-_./@\d]|[a-z][A-Z]", head
    ):  # a name (create-next-app, useTodos) keeps its case
        return text
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


def polite(text: str) -> str:
    """``text`` without swearing, insults and leading filler ("ok, so", "hmm"); clauses that
    were only that go."""
    parts = re.split(r"(?<=[,.;!?])\s+", text.strip())
    kept = []
    for part in parts:
        if not _RUDE.search(part):
            kept.append(part)
            continue
        cleaned = _WS.sub(" ", _RUDE.sub("", part)).strip()
        end = cleaned[-1:] if cleaned[-1:] in ",.;!?" else ""
        bare = cleaned.rstrip(" ,.;!?")
        for _ in range(3):
            bare = _DANGLING_END.sub("", bare).rstrip(" ,;")
        if len(re.findall(r"[A-Za-z]{2,}", bare)) >= 3:
            kept.append(bare + end)
    out = _LEAD_FILLER.sub("", " ".join(kept)).strip(" ,;:-")
    return re.sub(r"\s+([,.;!?])(?=\s|$)", r"\1", out)


def gist(error: str, limit: int = 110, cut: bool = True) -> str:
    """An error line as a phrase: file locations, "error:" heads and escape codes gone;
    ``cut=False`` cuts at a word without marking it (for titles)."""
    text = _ANSI.sub("", error)
    text = _TEST_FAILED.sub(r"\1 failed: ", text)
    text = _LOCATION.sub("", text)
    text = _LONG_PATH.sub(lambda m: m.group(1), text)
    codes = [m.group("code") for m in _ERROR_WORD.finditer(text) if m.group("code")]
    text = _ERROR_WORD.sub("", text)
    text = re.sub(r"<[^>]{1,40}>|^\s*\[[\w ./-]{1,30}\]", "", text).strip(" ;:-[]")
    code = f" ({codes[0]})" if codes and codes[0] not in text else ""
    room = limit - len(code)
    if not cut and len(text) > room:
        text = text[: text.rfind(" ", 0, room) if " " in text[:room] else room].rstrip(" ,;:")
        for _ in range(3):
            text = _DANGLING_END.sub("", _DANGLING.sub("", text)).rstrip(" ,;:")
        text = re.sub(r"\s*(?:->|=>|→)$", "", text)  # "rename 'a' ->" cut before its target
    return clip(text, room) + code


def names(text: str) -> set[str]:
    """The identifiers ``text`` mentions (code spans, camelCase, snake_case, paths, file
    names, flags, error codes, colours, versions), lowercased."""
    return {n.strip("`").lower() for n in NAME.findall(text)}


def telling(text: str, limit: int, keep: re.Pattern[str] | None = None) -> list[str]:
    """The telling sentences of an agent's text, in order, within ``limit`` characters:
    narration and filler out, those naming things (or matching ``keep``) first."""
    said = [
        s
        for s in sentences(text, lax=True)
        if len(s) >= 12 and not NARRATION.match(s) and not s.rstrip().endswith((":", "?"))
    ]
    ranked = sorted(
        range(len(said)),
        key=lambda i: (-(bool(names(said[i])) + bool(keep and keep.search(said[i]))), i),
    )
    chosen: list[int] = []
    used = 0
    for i in ranked:
        if used + len(said[i]) + 1 > limit and chosen:
            continue
        chosen.append(i)
        used += len(said[i]) + 1
        if used >= limit:
            break
    return [_stop(clip(polite(said[i]), limit)) for i in sorted(chosen)]


def _stop(sentence: str) -> str:
    """``sentence`` ending with a stop, so that sentences run together still read apart."""
    return sentence if sentence[-1:] in ".!?…)" else sentence + "."


def gist_of(text: str, limit: int, keep: re.Pattern[str] | None = None) -> str:
    """``telling`` sentences on one line."""
    return clip(" ".join(telling(text, limit, keep)), limit)


_ENV_SET = re.compile(r"""(?:\bexport\s+|^|\s)([A-Z_][A-Z0-9_]*)=("[^"]*"|'[^']*'|\S+)""")
_HOME = re.compile(r"^(?:/Users|/home)/[^/]+|^[A-Za-z]:[\\/]Users[\\/][^\\/]+")


def env_setting(command: str, before: str = "") -> str:
    """The first environment variable ``command`` sets that ``before`` did not, as ``VAR=value``
    (quotes, ``$VAR`` references and the home directory shortened away); "" when none."""
    for m in _ENV_SET.finditer(command):
        if m.group(0).strip() in before:
            continue
        value = m.group(2).strip("\"'")
        value = ":".join(p for p in value.split(":") if not p.startswith("$"))
        return f"{m.group(1)}={_HOME.sub('~', value)}"
    return ""
