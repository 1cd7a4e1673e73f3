"""The structured results of the MCP tools: what each tool promises to return (its output
schema), validated before it goes out. Extra fields a store reports pass through."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Hit(Open):
    id: str | None
    title: str | None
    kind: str | None
    score: float = Field(description="relevance 0-1; only results at or above the floor come back")
    snippet: str = Field(description="the lines of the memory that match, under their heading")
    path: str | None = Field(description="under .memsync/memory/")
    tags: list[str] = Field(default_factory=list)
    updated: str | None = None


class Closest(Open):
    id: str | None
    title: str | None
    score: float


class SearchResult(BaseModel):
    query: str
    results: list[Hit]
    no_strong_match: bool = Field(
        description="true: memories exist but none is relevant enough; memory has nothing on this"
    )
    withheld: int = Field(description="matches under the relevance floor, not returned")
    closest: Closest | None = Field(None, description="the best withheld match, for reference")
    min_score: float | None = Field(None, description="the relevance floor applied")


class MemoryOut(Open):
    id: str
    kind: str
    title: str
    body: str
    tags: list[str] = Field(default_factory=list)
    path: str = Field(description="under .memsync/memory/")
    confidence: float = 0.7
    created: str = ""
    updated: str = ""
    source: dict[str, Any] = Field(default_factory=dict)


class Neighbour(Open):
    id: str | None
    title: str | None
    kind: str | None
    score: float
    path: str | None = None


class AddResult(Open):
    action: Literal["add", "update", "noop"] = Field(
        description="add: new memory; update: merged into a memory on the same subject (its "
        "old version archived); noop: already known, nothing written"
    )
    id: str | None = Field(description="the memory written, merged into, or duplicated")
    path: str | None
    reason: str
    score: float = Field(description="cosine with the nearest memory")
    nearest: list[Neighbour] = Field(default_factory=list)


class Listed(Open):
    id: str
    kind: str
    title: str
    tags: list[str] = Field(default_factory=list)
    path: str
    created: str | None = None
    updated: str | None = None


class RecentResult(BaseModel):
    total: int = Field(description="live memories of the kind asked for")
    memories: list[Listed]


class ArchiveResult(BaseModel):
    archived: str
    moved_from: str = Field(description="where it was, under .memsync/memory/")
    moved_to: str = Field(description="where it is now, under .memsync/memory/archived/")
    reason: str


class StatusResult(Open):
    store: str
    memory_files: int
    indexed: int
    retry_queue: int = Field(description="items waiting to be retried")
    dead_letters: int = Field(description="items that failed for good until fixed")
    kinds: list[str] = Field(description="the kinds memory_add takes")
    service: dict[str, Any] | None = Field(None, description="the running `memsync serve`")
    last_report: str | None = None


class Session(Open):
    agent: str
    id: str
    started: str | None = None
    ended: str | None = None
    size: int
    status: Literal["pending", "distilled", "extracted"]


class PendingResult(BaseModel):
    pending: int = Field(description="sessions of this project nobody distilled yet")
    sessions: list[Session] = Field(description="the newest pending ones, newest first")


class Hint(Open):
    kind: str
    title: str
    body: str


class DigestResult(Open):
    session: Session
    digest: str = Field(description="the session, compacted: requests, corrections, findings, "
                        "errors with their fixes, checks, summaries, files changed")  # fmt: skip
    tokens: int
    source_tokens: int
    files_changed: list[str] = Field(default_factory=list)
    hints: list[Hint] = Field(
        default_factory=list, description="offline rules' guesses; keep what the digest bears out"
    )


class Done(Open):
    agent: str
    id: str
    at: str


class DoneResult(BaseModel):
    done: list[Done]
