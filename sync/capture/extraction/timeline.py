"""A session as turns (pure): each user message opens a turn that holds what the agent said
and did until the next one. The offline rules read turns, not raw messages.

Tool calls are read once through ``sync.capture.calls`` (every agent's tool names; Codex
``apply_patch`` inside shell calls included). A command that did not fail but that the agent
says did not work ("waiting for input", "let me try a different approach") counts as failed,
with the agent's sentence as its error. Cursor answers change files through code blocks
headed ``lang:path``; those count as the turn's edits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from sync.capture.calls import CallFacts, classify
from sync.capture.extraction.offline_text import sentences
from sync.capture.sources.base import Message, ToolCall, Transcript

_SOFT_FAIL = re.compile(
    r"\b(?:waiting for (?:input|a response|confirmation)|(?:is|was|still) (?:prompting|hanging"
    r"|interactive)|hangs?\b|timed? ?out|didn'?t work|did not work|doesn'?t work|not working"
    r"|try (?:a )?different approach|try (?:again|another way)|still (?:fail|broken|not)"
    r"|that failed|it failed|let me try (?:using|with|again|a different|another|running)"
    r"|(?:try|trying) (?:using|with) (?:the )?--?\w)",
    re.I,
)
_GO_ON = re.compile(
    r"^\W*(?:continue|go on|go ahead|keep going|proceed|carry on|yes|yep|ok(?:ay)?|sure|do it"
    r"|please continue|continue please)\W*$",
    re.I,
)
_FENCE_PATH = re.compile(r"^```[\w+-]*:([^\s`]+\.\w{1,8})\s*$", re.M)
_MECHANICS = re.compile(
    r"(?i)has not been read yet|string to replace not found|found \d+ matches of the string"
    r"|doesn't want to (?:proceed|take)|does not want to|rejected by (?:the )?user"
    r"|interrupted by user|file has been (?:unexpectedly )?modified|must read .* before"
    r"|no changes to make|oldString not found|request was aborted|operation aborted"
    r"|could not find the exact text|command aborted|^aborted$|user cancel|eisdir"
    r"|requested permissions? to|haven't granted|permission to use .* was denied"
    r"|required parameter .* is missing|inputvalidationerror|tool_use_error"
)


SHORT_REPORT = 300  # a last text shorter than this is a sign-off, not the report
_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+•]|\d{1,2}[.)])\s+\S", re.M)
_HEADING_LINE = re.compile(r"^\s{0,3}#{1,6}\s+\S", re.M)


def _structured(text: str) -> bool:
    """A written account: long, with headings or a list of at least three items."""
    items = len(_LIST_ITEM.findall(text))
    return len(text) >= 2 * SHORT_REPORT and (items >= 3 or bool(_HEADING_LINE.search(text)))


@dataclass(frozen=True)
class Said:
    """Something written: by the user, the agent, a compaction summary or a hook."""

    pos: int
    line: int | None
    role: str  # user | agent | summary | hook
    text: str


@dataclass(frozen=True)
class Act:
    """A tool call, read; ``error`` is what went wrong ("" when it worked)."""

    pos: int
    line: int | None
    facts: CallFacts
    error: str = ""
    call: ToolCall | None = None  # as recorded (the options of a question, a plan's text)

    @property
    def failed(self) -> bool:
        return bool(self.error)

    @property
    def applied(self) -> bool:
        """Whether the call took effect: an edit refused (no permission, not read first, the
        user said no) changed nothing, though its hiccup is no error of the project."""
        return not self.failed and not (self.facts.kind == "edit" and self.facts.failed)

    @property
    def key(self) -> str:
        """What a retry of this call shares with it: the program, else the tool."""
        return self.facts.program or self.facts.name.lower()


Event = Said | Act


@dataclass(frozen=True)
class Turn:
    """A user message (None before the first) and what followed it."""

    number: int
    side: bool  # subagent work
    user: Said | None
    events: tuple[Event, ...]

    def says(self) -> list[Said]:
        return [e for e in self.events if isinstance(e, Said)]

    def acts(self) -> list[Act]:
        return [e for e in self.events if isinstance(e, Act)]

    @property
    def report(self) -> Said | None:
        """What the agent reported: its last text of the turn, or, when that is a short
        sign-off ("Committed."), the structured account it wrote after its last change."""
        says = [s for s in self.says() if s.text.strip()]
        last = says[-1] if says else None
        if last is None or len(last.text) >= SHORT_REPORT:
            return last
        changed = max((a.pos for a in self.acts() if a.facts.kind == "edit"), default=-1)
        accounts = [s for s in says[:-1] if s.pos > changed and _structured(s.text)]
        return accounts[-1] if accounts else last

    def edits(self) -> list[tuple[str, str]]:
        """(file, what changed) for every change the turn made, in order, first per file."""
        seen: dict[str, str] = {}
        for act in self.acts():
            if act.facts.kind == "edit" and act.applied:
                for path in act.facts.files:
                    seen.setdefault(path, act.facts.summary)
            elif act.facts.kind == "run" and not act.failed:
                for path in act.facts.files:
                    seen.setdefault(path, "")
        if not self.acts():
            for said in self.says():
                for path in _FENCE_PATH.findall(said.text):
                    seen.setdefault(path, "")
        return list(seen.items())


@dataclass(frozen=True)
class Timeline:
    """A session's turns (main conversation first, then subagent work), its summaries
    (compaction, branch), hook feedback and the harness's notices."""

    turns: tuple[Turn, ...]
    summaries: tuple[Said, ...]
    hooks: tuple[Said, ...]
    cwd: str | None
    notices: tuple[Said, ...] = ()  # the agent harness's own messages (a failed start)
    # the model or its provider failed ("qwen3.5:9b failed: fetch failed"), with the model
    # whose reply came next (None when none did)
    model_errors: tuple[tuple[Said, str | None], ...] = ()
    hook_errors: tuple[Said, ...] = ()  # a hook command failed ("PreToolUse:Bash hook `…`")

    def main(self) -> list[Turn]:
        return [t for t in self.turns if not t.side]

    def acts(self) -> Iterator[tuple[Turn, Act]]:
        for turn in self.turns:
            for act in turn.acts():
                yield turn, act

    def relative(self, path: str) -> str:
        """``path`` relative to the session's directory when it lies under it."""
        root = (self.cwd or "").rstrip("/\\")
        if len(root) > 1 and path.startswith(root) and path[len(root) : len(root) + 1] in "/\\":
            return path[len(root) + 1 :] or path
        return path


def is_mechanics(error: str) -> bool:
    """Agent-tool hiccups (edit before read, a rejected call): nothing about the project."""
    return bool(_MECHANICS.search(error))


def _error(facts: CallFacts) -> str:
    if not facts.failed or facts.inspects:
        return ""
    text = "; ".join(facts.errors) or "failed"
    return "" if is_mechanics(text) else text


class _Walk:
    """One pass over a list of messages, cutting turns at user messages; the session's
    directory is cut from texts and paths (the project is known)."""

    def __init__(self, side: bool, pos: int, number: int, cwd: str | None) -> None:
        self.side, self.pos, self.number = side, pos, number
        root = (cwd or "").rstrip("/\\")
        self.prefix = (
            root + ("\\" if "\\" in root and "/" not in root else "/") if len(root) > 1 else ""
        )
        self.turns: list[Turn] = []
        self.summaries: list[Said] = []
        self.hooks: list[Said] = []
        self.notices: list[Said] = []
        self.model_errors: list[tuple[Said, str | None]] = []
        self.hook_errors: list[Said] = []
        self.user: Said | None = None
        self.events: list[Event] = []

    def said(self, line: int | None, role: str, text: str) -> Said:
        self.pos += 1
        return Said(self.pos, line, role, self.cut(text))

    def cut(self, text: str) -> str:
        if not self.prefix:
            return text
        text = text.replace(f"cd {self.prefix[:-1]} && ", "")
        return text.replace(self.prefix, "")

    def facts(self, call: ToolCall) -> CallFacts:
        facts = classify(call)
        if not self.prefix:
            return facts
        return replace(
            facts,
            files=tuple(self.cut(f) for f in facts.files),
            summary=self.cut(facts.summary),
            errors=tuple(self.cut(e) for e in facts.errors),
        )

    def answered(self, model: str | None) -> None:
        """The model that replied after the last provider failures, recorded on them."""
        for i in range(len(self.model_errors) - 1, -1, -1):
            said, after = self.model_errors[i]
            if after is not None:
                break
            self.model_errors[i] = (said, model or "")

    def close(self) -> None:
        if self.user is not None or self.events:
            events = tuple(_soft_failures(self.events))
            self.turns.append(Turn(self.number, self.side, self.user, events))
            self.number += 1
        self.user, self.events = None, []

    def run(self, messages: Sequence[Message]) -> None:
        for msg in messages:
            if msg.role == "user" and msg.text.strip():
                if _GO_ON.match(msg.text) and (self.user is not None or self.events):
                    continue  # "continue": the same turn goes on
                self.close()
                self.user = self.said(msg.line, "user", msg.text.strip())
            elif msg.role == "system" and msg.kind in ("compaction", "summary"):
                self.summaries.append(self.said(msg.line, "summary", msg.text.strip()))
            elif msg.role == "system" and msg.kind == "hook_error":
                self.hook_errors.append(self.said(msg.line, "notice", msg.text.strip()))
            elif msg.role == "system" and msg.kind == "hook":
                self.hooks.append(self.said(msg.line, "hook", msg.text.strip()))
            elif msg.role == "system" and not msg.kind and msg.text.strip():
                self.notices.append(self.said(msg.line, "notice", msg.text.strip()))
            elif msg.role == "system" and msg.kind == "error" and msg.text.strip():
                self.model_errors.append((self.said(msg.line, "notice", msg.text.strip()), None))
            elif msg.role == "assistant":
                self.answered(msg.model)
                if msg.text.strip():
                    self.events.append(self.said(msg.line, "agent", msg.text.strip()))
                for call in msg.tool_calls:
                    self.pos += 1
                    facts = self.facts(call)
                    self.events.append(Act(self.pos, msg.line, facts, _error(facts), call))
        self.close()


def _soft_failures(events: list[Event]) -> Iterator[Event]:
    """``events`` with a command the agent then says did not work marked as failed."""
    for event, after in zip(events, [*events[1:], None][: len(events)], strict=True):
        if (
            isinstance(event, Act)
            and isinstance(after, Said)
            and event.facts.kind == "run"
            and not event.failed
            and not event.facts.inspects
        ):
            first = next(iter(sentences(after.text)), "")
            if _SOFT_FAIL.search(first):
                event = replace(event, error=first)
        yield event


def build_timeline(t: Transcript) -> Timeline:
    """The turns of ``t``: its main conversation, then each subagent's work."""
    main = _Walk(False, 0, 0, t.cwd)
    main.run(t.messages)
    side = _Walk(True, main.pos + 1000, main.number, t.cwd)
    side.run(t.sidechains)
    return Timeline(
        (*main.turns, *side.turns),
        (*main.summaries, *side.summaries),
        tuple(main.hooks),
        t.cwd,
        tuple(main.notices),
        tuple(main.model_errors),
        tuple(main.hook_errors),
    )
