"""A transcript as scored digest entries (pure): what a developer returning to the project
would want back, each with how informative it is.

Kept: the user's requests, preferences and corrections; answers given through tools
(questions, plan approval); files changed on disk, not by the agent's edit tools (the user's
hand edits, a bounded excerpt; worth less when the last command did it); the agent's
end-of-turn reports and its findings along the way ("root cause", "turns out", tables); each
error with the edits that fixed it and the command that then passed; the commands that
verified; compaction and session summaries; hook feedback; the agent's failure notices (a
provider error, a missing key); subagent reports and the subagents' own errors and findings.
Tool output bodies are dropped except their error lines; where the budget has room, the other
commands that ran (with the first lines of what they printed, unless they only looked) and the
other tools called come in at a low score.
Reads, searches and narration ("Let me look at …") score low or go.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from sync.capture.calls import CallFacts, classify, error_lines, one_line, printed_lines, rewrites
from sync.capture.sources.base import Message, Transcript

# the most characters an entry of each kind brings; the budget then takes its best sentences
PRINTED_LINES = 24  # of a command's output at most (a short session's digest has the room)
CAPS = {
    "summary": 8000,
    "request": 4000,
    "correction": 1500,
    "answer": 900,
    "plan": 2000,
    "report": 2500,
    "subagent": 4000,
    "finding": 1200,
    "note": 600,
    "error": 420,
    "verify": 220,
    "setup": 300,
    "commit": 300,
    "doc": 3000,
    "hook": 500,
    "ran": 1600,
    "call": 300,
    "notice": 600,
    "edited": 1200,
}
_CORRECTION = re.compile(
    r"^\W*(?:no\b|nope|don'?t|do not|stop|wait|actually|instead|wrong|that'?s not|not what|why\b"
    r"|revert|undo|never|always|i want|i'?d (?:rather|prefer)|prefer|make sure|please don'?t"
    r"|you (?:should|shouldn'?t|must|need)|hmm|but\b|slight steering)",
    re.I,
)
_ACK = re.compile(
    r"^\W*(?:ok(?:ay)?|yes|yep|yo|sure|thanks?(?: you)?|ty|great|nice|cool|wow|continue|go on"
    r"|go ahead|do it|proceed|perfect|good|lgtm|k)\W*$",
    re.I,
)
_FINDING = re.compile(
    r"\b(?:root cause|turns? out|the (?:issue|problem|bug|cause|reason|fix) (?:is|was)|because"
    r"|that'?s why|found (?:that|the)|the fix|fixed|works now|doesn'?t work|didn'?t work"
    r"|isn'?t needed|not needed|no longer|instead of|decided|we should|you'?re right|conclusion"
    r"|in summary|summary|note that|important|must|never|always|gotcha|caveat|workaround"
    r"|the culprit|culprit|so the|this means|which means|verified|confirmed|done\.)",
    re.I,
)
_NARRATION = re.compile(
    r"^\W*(?:let me|now (?:let me|i'?ll|i need|let'?s)|i'?ll (?:start|now|check|look|read|run|"
    r"update|fix|create|add)|let'?s|first,? (?:let me|i'?ll)|next,? |good[.!,]|great[.!,]|perfect"
    r"[.!,]|okay[.!,]|ok[.!,]|now )",
    re.I,
)
_LOOKUP = re.compile(r"(?:\w+[.:])?(?:read|view|cat|open|glob|grep|find|search|ls|list)", re.I)
_TABLE = re.compile(r"^\s*\|.*\|\s*$\n^\s*\|?\s*:?-{3,}", re.M)


@dataclass(frozen=True)
class Entry:
    """One piece of the digest: where it is, what it is, its text, and its worth."""

    seq: int  # order in the session (main conversation first, then subagent work)
    line: int | None
    section: str  # "summary" | "main" | "side"
    kind: str  # one of CAPS
    text: str
    score: float


@dataclass
class Facts:
    """What the whole session did, beside the entries."""

    files: dict[str, int] = field(default_factory=dict)  # path -> edits
    calls: int = 0
    side_calls: int = 0
    users: int = 0
    agents: int = 0


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters at a word boundary, marked with an ellipsis."""
    text = re.sub(r"\n{3,}", "\n\n", text.strip())
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 1)]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.6 else cut).rstrip() + "…"


_IMAGE_PATH = re.compile(
    r"['\"]?(?:[A-Za-z]:)?[/\\][^\s'\"]+\.(?:png|jpe?g|gif|webp|heic|bmp)['\"]?", re.I
)


def squeeze(text: str, limit: int) -> str:
    """A long text (a pasted log, a long report) cut to ``limit``: its head, the lines that
    name errors, and its tail."""
    text = re.sub(r"\n{3,}", "\n\n", text.strip())
    if len(text) <= limit:
        return text
    errors = "\n".join(error_lines(text, 4))
    head = clip(text, int(limit * 0.6))
    tail_room = limit - len(head) - len(errors) - 8
    tail = text[-tail_room:].split("\n", 1)[-1] if tail_room > 80 else ""
    return "\n".join(p for p in (head, errors and f"[…] {errors}", tail and f"[…] {tail}") if p)


class _Builder:
    """Walks the messages once, keeping the state that pairs errors with their fixes."""

    def __init__(self, section: str, facts: Facts, seq0: int, cwd: str | None) -> None:
        self.section, self.facts, self.seq, self.cwd = section, facts, seq0, cwd
        self.entries: list[Entry] = []
        self.open_error: dict[str, object] | None = None
        self.first_user = section == "main"
        self.program, self.tries = "", 0  # the last command's program, and its runs in a row
        self.last_run = ""  # the turn's last shell command

    def add(self, line: int | None, kind: str, text: str, score: float) -> int:
        cap = CAPS[kind]
        full = squeeze(text, cap) if kind in ("request", "correction") else clip(text, cap)
        weight = score if self.section != "side" else score * 0.8
        self.entries.append(Entry(self.seq, line, self.section, kind, full, weight))
        self.seq += 1
        return len(self.entries) - 1

    def path(self, path: str) -> str:
        if self.cwd and path.startswith(self.cwd.rstrip("/\\") + "/"):
            return path[len(self.cwd.rstrip("/\\")) + 1 :]
        return path

    # -- messages ----------------------------------------------------------------------------

    def run(self, messages: Sequence[Message]) -> None:
        last_text = _turn_reports(messages)
        for i, msg in enumerate(messages):
            if msg.role == "user":
                if msg.kind != "queued":  # a queued prompt lands mid-turn: the work goes on
                    self.close_error("")
                    self.program, self.tries, self.last_run = "", 0, ""
                self.user(msg)
            elif msg.role == "system":
                self.system(msg)
            else:
                if msg.role == "assistant":
                    self.facts.agents += self.section == "main"
                    if msg.text.strip():
                        self.agent(msg, i in last_text)
                for call in msg.tool_calls:
                    self.call(msg.line, classify(call), call.output)
        self.close_error("")

    def user(self, msg: Message) -> None:
        text = _IMAGE_PATH.sub("[image]", msg.text).strip()  # pasted screenshots
        if not text:
            return
        if self.section == "side":  # a subagent's brief: its report says what came of it
            self.add(msg.line, "request", text, 1.5)
            return
        self.facts.users += 1
        if self.first_user:
            self.first_user = False
            self.add(msg.line, "request", text, 10.0)
        elif _ACK.match(text):
            self.add(msg.line, "request", text, 0.5)
        elif _CORRECTION.match(text):
            self.add(msg.line, "correction", text, 9.0)
        else:
            self.add(msg.line, "request", text, 8.0 if len(text) < 1500 else 7.0)

    def system(self, msg: Message) -> None:
        if msg.kind in ("compaction", "summary"):
            self.add(msg.line, "summary", msg.text, 10.0)
        elif msg.kind == "hook":
            self.add(msg.line, "hook", msg.text, 4.5)
        elif msg.kind == "error":  # the model or its provider failed (no key, fetch failed)
            self.add(msg.line, "error", msg.text, 6.0)
        elif msg.kind == "edited":  # by hand (guidance the user wrote), or by the last command
            head, _, body = msg.text.partition("\n")
            if not rewrites(self.last_run, head.split(" (line")[0].split(" changed on disk")[0]):
                self.add(msg.line, "edited", msg.text, 5.5)
            else:  # a `git stash` or a `sed -i` the agent ran: worth less
                after = f" after `{one_line(self.last_run, 80)}`"
                self.add(msg.line, "edited", f"{head.rstrip(':')}{after}:\n{body}", 2.5)
        elif msg.text.strip():  # the harness's own notice (a failed start, a reminder)
            failed = bool(error_lines(msg.text, 1))
            self.add(msg.line, "notice", msg.text, 6.0 if failed else 3.0)

    def agent(self, msg: Message, end_of_turn: bool) -> None:
        text = msg.text.strip()
        cues = len(_FINDING.findall(text)) + (2 if _TABLE.search(text) else 0)
        bonus = min(cues, 4) * 0.5
        if end_of_turn:
            score = 7.0 + bonus if self.section == "main" else 2.0
            self.add(msg.line, "report", text, score)
        elif cues and not (_NARRATION.match(text) and len(text) < 160):
            self.add(msg.line, "finding", text, 5.0 + bonus)
        elif len(text) >= 200:
            self.add(msg.line, "note", text, 3.0)
        elif not _NARRATION.match(text):
            self.add(msg.line, "note", text, 1.0)

    # -- tool calls --------------------------------------------------------------------------

    def call(self, line: int | None, facts: CallFacts, output: str = "") -> None:
        if self.section == "side":
            self.facts.side_calls += 1
        else:
            self.facts.calls += 1
        if facts.kind == "edit" and not facts.failed:
            for path in facts.files:
                self.changed(path, facts.summary)
            if facts.report and facts.files:
                self.add(line, "doc", f"{self.path(facts.files[0])}:\n{facts.report}", 3.5)
        elif facts.kind == "run":
            self.command(line, facts, output)
        elif facts.kind == "ask":
            self.add(line, "answer", f"asked: {facts.summary}\nanswer: {facts.report}", 9.0)
        elif facts.kind == "plan":
            self.add(line, "plan", f"plan ({facts.summary or 'no answer'}):\n{facts.report}", 7.5)
        elif facts.kind == "subagent":
            text = f'"{facts.summary}" reported:\n{facts.report}'
            self.add(line, "subagent", text, 6.0 if facts.report.strip() else 2.0)
        if facts.kind == "other" and facts.failed and _LOOKUP.match(facts.name):
            # a read or search that failed (a missing file): a finding at most, it fixes nothing
            self.add(line, "error", _lookup_failure(facts, self.path), 2.5)
        elif facts.kind in ("edit", "other") and facts.failed:
            what = f"{facts.name} {', '.join(self.path(f) for f in facts.files)}".strip()
            self.error(line, what, facts, 5.0)
        elif facts.kind == "other" and not _LOOKUP.match(facts.name):  # kept when there is room
            self.add(line, "call", f"{facts.name} {facts.summary}".strip(), 1.0)

    def changed(self, path: str, summary: str, fix: bool = True) -> None:
        short = self.path(path)
        self.facts.files[short] = self.facts.files.get(short, 0) + 1
        if self.open_error is not None and fix:
            fixes = self.open_error["fixes"]
            assert isinstance(fixes, list)
            if len(fixes) < 3 and all(f[0] != short for f in fixes):
                fixes.append((short, summary))

    def command(self, line: int | None, facts: CallFacts, output: str = "") -> None:
        for path in facts.files:
            # appending (`cat >> notes.md`) logs what happened; it fixes nothing
            self.changed(path, "written by the shell", fix=">>" not in facts.summary)
        self.last_run = self.last_run if facts.inspects else facts.summary  # a look changes nothing
        tries = self.tries if facts.program and facts.program == self.program else 0
        self.program, self.tries = facts.program, tries + 1
        what = f"`{one_line(facts.summary, 160)}`"
        if facts.failed and facts.inspects:  # a search that failed: worth little, fixes nothing
            self.add(line, "error", f"{what} failed: {'; '.join(facts.errors)}", 2.5)
        elif facts.failed:
            self.error(line, what, facts, 6.5 if facts.verifies else 6.0)
        elif self.open_error is not None and _same_command(self.open_error, facts):
            self.close_error(f"then `{one_line(facts.summary, 100)}` passed")
        elif tries and not facts.inspects:
            self.add(line, "setup", f"worked after {tries + 1} tries: {what}", 5.5)
            if said := _printed(output):  # what it printed, when the budget has room
                self.add(line, "ran", f"{what} printed: {said}", 1.5)
        elif facts.report:  # a commit: its hash and message say what was done
            self.add(line, "commit", facts.report, 5.0)
        elif facts.installs:
            self.add(line, "setup", what, 4.5)
        elif facts.verifies:
            self.add(line, "verify", f"verified: {what} passed", 4.0)
        else:  # the rest of the work, kept when the budget has room (a short session)
            said = "" if facts.inspects else _printed(output)  # what a look printed is not kept
            text = f"{what} → {said}" if said else what
            self.add(line, "ran", text, 0.8 if facts.inspects else 1.5)

    def error(self, line: int | None, what: str, facts: CallFacts, score: float) -> None:
        self.close_error("")
        index = self.add(line, "error", f"{what} failed: {_detail(facts.errors)}", score)
        self.open_error = {"index": index, "command": facts.summary, "fixes": []}

    def close_error(self, outcome: str) -> None:
        """Write what followed the open error (its fixing edits, the command that passed)."""
        if self.open_error is None:
            return
        index, fixes = self.open_error["index"], self.open_error["fixes"]
        assert isinstance(index, int) and isinstance(fixes, list)
        self.open_error = None
        parts = [f"{p}: {s}" if s else p for p, s in fixes]
        tail = []
        if parts:
            tail.append("fixed by editing " + "; ".join(parts))
        if outcome:
            tail.append(outcome)
        if not tail:
            return
        entry = self.entries[index]
        text = clip(f"{entry.text}\n  → {'; '.join(tail)}", 700)
        score = entry.score + (1.5 if parts and outcome else 1.0)
        self.entries[index] = replace(entry, text=text, score=score)


_TARGET = re.compile(r'"(?:file_?path|filePath|path|pattern|query|url)"\s*:\s*"((?:[^"\\]|\\.)+)"')
_JSON_KEY = re.compile(r'^\W*"?(?:status|error|message)"?\s*:\s*"?|"?,?\s*$')


def _lookup_failure(facts: CallFacts, relative: Callable[[str], str]) -> str:
    """A failed read or search in one line: the tool, what it looked for, and the error."""
    found = _TARGET.search(facts.summary)
    target = relative(found.group(1).replace("\\\\", "\\")) if found else facts.summary
    return f"{facts.name} {target} failed: {_detail(facts.errors)}"


def _printed(output: str) -> str:
    """What a command printed: its first two lines on the first line, then the next lines,
    one each (each further line is worth a little less, so a long session keeps the head and
    a short one the rest)."""
    lines = printed_lines(output, PRINTED_LINES)
    return "\n".join([" / ".join(lines[:2]), *lines[2:]]) if lines else ""


def _detail(errors: Sequence[str]) -> str:
    """Error lines as one, without the JSON a tool wrapped them in (``"error": "…"``)."""
    lines = [part.strip() for e in errors for part in _JSON_KEY.sub("", e).split("\\n")]
    return "; ".join(e for e in lines if e and e.lower() != "error") or "failed"


def _same_command(error: dict[str, object], facts: CallFacts) -> bool:
    """Whether a command that passed is the one that failed (same first words), or a check."""
    before = _words(str(error["command"]))
    return facts.verifies or (bool(before) and _words(facts.summary) == before)


_PREAMBLE = re.compile(r"^(?:\s*(?:(?:cd|export|source|set)\s+[^&;|]*(?:&&|;)|\w+=\S*\s))+\s*")


def _words(command: str) -> list[str]:
    """A command's first three words after its set-up (``cd x &&``, ``export PATH=… &&``,
    ``VAR=1``), the program by its name (``~/.nvm/…/bin/x`` is ``x``)."""
    words = _PREAMBLE.sub("", command).split()[:3]
    return [words[0].rstrip("/\\").rsplit("/", 1)[-1], *words[1:]] if words else []


def _turn_reports(messages: Sequence[Message]) -> set[int]:
    """Positions of the last agent message with text before each user message (and at the end)."""
    found: set[int] = set()
    last: int | None = None
    for i, msg in enumerate(messages):
        if msg.role == "user" and msg.kind != "queued":  # a queued prompt does not end the turn
            if last is not None:
                found.add(last)
            last = None
        elif msg.role == "assistant" and msg.text.strip():
            last = i
    if last is not None:
        found.add(last)
    return found


def digest_entries(transcript: Transcript) -> tuple[list[Entry], Facts]:
    """Every candidate entry of the digest, in session order, and the session's facts.

    Paths under the session's working directory are written relative to it. A compaction
    summary covers what came before it: the last one scores highest, and entries it covers
    score lower than those after it."""
    facts = Facts()
    main = _Builder("main", facts, 0, transcript.cwd)
    main.run(transcript.messages)
    side = _Builder("side", facts, len(main.entries), transcript.cwd)
    side.run(transcript.sidechains)
    summaries = [i for i, e in enumerate(main.entries) if e.kind == "summary"]
    last = summaries[-1] if summaries else -1
    entries = []
    for i, e in enumerate((*main.entries, *side.entries)):
        if e.kind == "summary":
            e = replace(e, section="summary", score=e.score if i == last else 7.0)
        elif i < last:
            e = replace(e, score=e.score - 1.5)
        entries.append(_relative(e, transcript.cwd))
    return _unique(entries), facts


def _relative(entry: Entry, cwd: str | None) -> Entry:
    """``entry`` with ``<cwd>/`` removed from its texts (the header names the project)."""
    root = (cwd or "").rstrip("/\\")
    if len(root) < 2 or root not in entry.text:
        return entry
    prefix = root + ("\\" if "\\" in root and "/" not in root else "/")
    return replace(entry, text=entry.text.replace(prefix, ""))


def _unique(entries: list[Entry]) -> list[Entry]:
    """The first of entries with the same text (repeated hook feedback, retried commands)."""
    seen: set[str] = set()
    out = []
    for entry in entries:
        key = " ".join(entry.text.lower().split())[:300]
        if key in seen:
            continue
        seen.add(key)
        out.append(entry)
    return out
