"""The normalized transcript every source adapter yields, and the adapter port.

Adapters are read-only and tolerant: a malformed record becomes a ``ParseIssue`` naming the
file and line (or row), the rest of the item is still used. Only an item that cannot be
opened at all raises ``SourceError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

AGENTS = ("claude", "codex", "cursor", "opencode", "openclaw")


@dataclass(frozen=True)
class ToolCall:
    """One tool invocation and, when the transcript has it, its result."""

    name: str
    input: str = ""  # arguments rendered as text (JSON when they were structured)
    output: str = ""
    is_error: bool = False


@dataclass(frozen=True)
class Message:
    """One turn of a conversation after grouping (a Claude API message split over lines is one)."""

    role: str  # "user" | "assistant" | "system" | "tool"
    text: str  # visible text; thinking is kept apart
    thinking: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    time: str | None = None  # ISO-8601 UTC ("...Z") when known
    model: str | None = None
    line: int | None = None  # first source line (1-based) or row number
    end_line: int | None = None  # last source line of this message
    # "" a turn (or a notice, for a system message); user kind "queued": typed while the agent
    # worked, folded into its running turn; system kinds: "compaction", "summary" (branch),
    # "hook" feedback, "error" (the model or its provider failed), "edited" (a file the agent
    # read changed on disk, not by its edit tools: the user's hand, a formatter, a command)
    kind: str = ""


@dataclass(frozen=True)
class ParseIssue:
    """A record that was skipped; never fatal for the item."""

    path: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Transcript:
    """One session of one agent, normalized."""

    agent: str  # one of AGENTS
    session_id: str
    path: str  # the file (or database) it came from
    messages: tuple[Message, ...]
    cwd: str | None = None
    project: str | None = None  # a short project name (last part of cwd when nothing better)
    title: str | None = None
    started: str | None = None  # ISO-8601 UTC
    ended: str | None = None
    models: tuple[str, ...] = ()  # models in order of first use (model switches)
    issues: tuple[ParseIssue, ...] = ()
    meta: dict[str, str] = field(default_factory=dict)
    # subagent (sidechain) work, kept apart so that only the digest reads it
    sidechains: tuple[Message, ...] = ()


@dataclass(frozen=True)
class SourceItem:
    """One unit the checkpoint tracks: a session file, or one conversation inside a database.

    ``key`` is stable across runs (``<agent>:<path>`` or ``<agent>:<db path>#<conversation id>``);
    ``fingerprint`` is cheap to compute without parsing (size + mtime for files, an
    updated-at stamp for database rows) and ``content_hash`` is computed when it changed.
    """

    agent: str
    key: str
    path: Path
    session_id: str
    size: int
    mtime_ns: int
    locator: str = ""  # the conversation id inside a database; "" for a plain file


@dataclass(frozen=True)
class ItemHead:
    """What an item says about itself without being parsed: where it ran, when it began."""

    cwd: str | None = None
    started: str | None = None  # ISO-8601 UTC


class SourceError(Exception):
    """The item cannot be read at all (missing, unreadable, not the expected format)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class SourceAdapter(Protocol):
    """What every agent adapter provides."""

    agent: str
    problems: list[ParseIssue]  # what the last discover() could not read (databases, folders)

    def default_roots(self, home: Path) -> list[Path]:
        """Where this agent keeps its sessions on this platform, relative to ``home``."""
        ...

    def discover(self, root: Path) -> Iterator[SourceItem]:
        """Every session under ``root``, without parsing any of them."""
        ...

    def item_bytes(self, item: SourceItem) -> bytes:
        """The raw bytes whose hash tells whether the item changed (file or row contents)."""
        ...

    def parse(self, item: SourceItem) -> Transcript:
        """The normalized transcript; bad records become ``ParseIssue``s, not exceptions."""
        ...

    def peek(self, item: SourceItem) -> ItemHead:
        """The working directory and start, reading as little as possible (the file's head,
        one row); unknown fields are None. Decides per-project capture before any parse."""
        ...
