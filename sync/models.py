"""Frozen values that flow between the scanner, the planner and the executor."""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The kinds of memory, each with its folder under memory/. The vocabulary is fixed: more
# kinds come only from configuration (``[kinds] custom``), and their folder is "<kind>s".
KIND_FOLDERS: Mapping[str, str] = {
    "decision": "decisions",
    "learning": "learnings",
    "convention": "conventions",
    "issue": "issues",  # what was left broken, open or unverified
    "insight": "insights",
    "summary": "summaries",
    "daily": "daily",
    "note": "notes",  # also what a hand-written file outside these folders becomes
}
KINDS: tuple[str, ...] = tuple(KIND_FOLDERS)
ARCHIVE_FOLDER = "archived"
KIND_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")  # a memory kind, in files and on the CLI


def kind_problem(kind: str, custom: Iterable[str] = ()) -> str | None:
    """None when ``kind`` is in the vocabulary; else what is wrong, the closest kind and the
    list to choose from (for --kind errors and for files of an unknown kind)."""
    known = [*KINDS, *(c for c in custom if c not in KIND_FOLDERS)]
    if kind in known:
        return None
    singular = {folder: k for k, folder in KIND_FOLDERS.items()}.get(kind)
    close = [singular] if singular else difflib.get_close_matches(kind, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else "."
    return (
        f"{kind!r} is not a kind{hint} Kinds: {', '.join(known)} "
        "(more with `[kinds] custom = [...]` in config.toml)"
    )


def kind_folder(kind: str) -> str:
    """Folder name under memory/ for memories of ``kind``."""
    return KIND_FOLDERS.get(kind, f"{kind}s")


def kind_from_folder(folder: str) -> str | None:
    """Inverse of :func:`kind_folder` for the known kinds."""
    for kind, name in KIND_FOLDERS.items():
        if name == folder:
            return kind
    return None


@dataclass(frozen=True)
class Memory:
    """One memory: frontmatter fields plus a markdown body."""

    id: str
    kind: str
    title: str
    body: str
    tags: tuple[str, ...] = ()
    confidence: float = 0.7
    source: Mapping[str, Any] = field(default_factory=dict)
    created: str = ""
    updated: str = ""
    supersedes: tuple[str, ...] = ()
    superseded_by: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def embedding_text(self) -> str:
        """Text the encoder sees: title, tags and body."""
        tags = f"\nTags: {', '.join(self.tags)}" if self.tags else ""
        return f"{self.title}{tags}\n\n{self.body}".strip()


@dataclass(frozen=True)
class EncoderIdentity:
    """Which model produced a vector; vectors of two identities never share a collection."""

    model: str
    dim: int

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "dim": self.dim}


@dataclass(frozen=True)
class ScannedFile:
    """What the scanner saw of one file under memory/."""

    path: str  # relative to memory/, POSIX separators
    mtime_ns: int
    size: int
    archived: bool = False
    stat_unchanged: bool = False  # stat matches the checkpoint: not read at all
    seen_ns: int = 0  # when the scan started: no later than the read of this file
    raw_hash: str | None = None
    content_hash: str | None = None
    memory: Memory | None = None  # as indexed: secrets already redacted
    error: str | None = None
    secrets: Mapping[str, int] = field(default_factory=dict)  # redacted from the file, by kind


class Action(enum.StrEnum):
    ADD = "add"
    UPDATE = "update"
    DELETE = "delete"
    UNCHANGED = "unchanged"
    SKIP = "skip"  # waiting for its retry time, dead-lettered, or dropped by the user
    FAIL = "fail"  # known bad before any work (unparseable file, duplicate id)


@dataclass(frozen=True)
class PlanItem:
    """One decision of the planner, with the reason a person can read."""

    path: str
    action: Action
    reason: str
    memory_id: str | None = None
    point_id: str | None = None
    content_hash: str | None = None
    raw_hash: str | None = None
    mtime_ns: int = 0
    size: int = 0
    seen_ns: int = 0
    replaces_path: str | None = None  # rename: the checkpoint entry this item takes over
    stale_point_id: str | None = None  # a point to remove once this item is indexed
    error: str | None = None
    refresh_stat: bool = False  # unchanged content but new stat: record it
    est_bytes: int = 0
    # a deleted file that never made it into the checkpoint (it sat in the retry queue): its
    # write may have reached the index all the same, so its point is looked up by path
    find_point: bool = False
    stray: bool = False  # a point no memory accounts for (``point_id``), to remove


@dataclass(frozen=True)
class Plan:
    """Everything a run would do, computed without side effects."""

    items: tuple[PlanItem, ...]
    encoder_model: str
    reembed_all: bool = False
    force: bool = False

    def of(self, *actions: Action) -> list[PlanItem]:
        return [item for item in self.items if item.action in actions]

    @property
    def needs_encoder(self) -> bool:
        return any(item.action in (Action.ADD, Action.UPDATE) for item in self.items)

    @property
    def needs_index(self) -> bool:
        return any(item.action in (Action.ADD, Action.UPDATE, Action.DELETE) for item in self.items)


# Bumped when what a collection holds changes; an older collection is upgraded (vectors
# reused) or, failing that, re-indexed. "hybrid": a dense vector plus lexical BM25 weights.
INDEX_SCHEMA = "hybrid"


def collection_name(prefix: str, identity: EncoderIdentity) -> str:
    """One collection per encoder and schema: ``<prefix>-<model slug>-<dim>-<schema>``."""
    slug = "".join(c if c.isalnum() else "-" for c in identity.model.lower()).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    return f"{prefix}-{slug[-48:].strip('-')}-{identity.dim}-{INDEX_SCHEMA}"
