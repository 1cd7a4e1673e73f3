"""What a capture run works with: its options and dependencies, each item read, and each
candidate's verdict."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.capture.extraction.base import Candidate, Extractor
from sync.capture.project import ProjectScope
from sync.capture.sources.base import AGENTS, ParseIssue, SourceItem
from sync.dedup import DedupThresholds, Neighbour, Referee
from sync.index.engine import SyncDeps
from sync.models import Memory


@dataclass(frozen=True)
class Proposed:
    """A candidate with what the run adds to it: tags, provenance, content type."""

    candidate: Candidate
    tags: tuple[str, ...]
    source: dict[str, Any]
    content_type: str | None
    started: str | None  # the session's start (dates a summary's folder)


@dataclass
class Decided:
    """The verdict for one candidate and the memory it becomes (or merges into)."""

    memory: Memory
    action: str  # add | update | noop | summary
    reason: str
    score: float
    path: str | None  # the file written or changed (None for a no-op)
    nearest: list[Neighbour] = field(default_factory=list)
    merge_into_run: int | None = None  # index of an earlier candidate of this run
    target_id: str | None = None  # the memory an update merges into (it keeps its id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": (self.target_id or self.memory.id) if self.path else None,
            "kind": self.memory.kind,
            "title": self.memory.title,
            "verdict": self.action,
            "reason": self.reason,
            "score": round(self.score, 4),
            "file": f"memory/{self.path}" if self.path else None,
            "nearest": [n.as_dict() for n in self.nearest[:3]],
        }


@dataclass(frozen=True)
class CaptureOptions:
    scope: str = "all"  # all | sessions | insights | campaigns | memories
    agents: tuple[str, ...] = AGENTS
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    max_sessions: int | None = None
    extract: bool = True  # False: track sessions without extracting (--no-extract)
    force: bool = False
    retry_now: bool = False
    tags: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    content_type: str | None = None
    dry_run: bool = False
    project: ProjectScope | None = None  # only this project's sessions; None: every project
    # only these transcripts (paths, ``PATH#ID`` for one conversation of a database): the
    # agents' folders are not walked (a session-end hook captures the session that ended)
    sessions: tuple[str, ...] = ()
    tag_project: bool = False  # tag each memory with its session's project (a global store)


@dataclass
class CaptureDeps:
    sync: SyncDeps
    extractor: Callable[[], Extractor]  # built on first use: an LM client only if needed
    thresholds: DedupThresholds
    roots: Mapping[str, Sequence[Path]] = field(default_factory=dict)  # agent -> folders
    insights: Path | None = None
    campaigns: Path | None = None
    neighbours_k: int = 5
    referee: Referee | None = None  # an LM ruling on uncertain duplicates (when configured)


@dataclass
class ItemWork:
    """One item that was read: its hash, candidates and what was decided for them."""

    item: SourceItem
    content_hash: str
    candidates: list[Proposed] = field(default_factory=list)
    content_type: str | None = None
    issues: list[ParseIssue] = field(default_factory=list)
    messages: int = 0
    redactions: dict[str, int] = field(default_factory=dict)
    decided: list[Decided] = field(default_factory=list)
    excluded: int = 0  # candidates an --exclude pattern dropped
    extracted: bool = False  # a session the extractor ran over (knowledge files are not)
