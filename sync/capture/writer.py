"""Writing the files capture decided on: new memories, merges (old version archived),
summaries. The files are planned first (a dry run stops there and previews them), then
written."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sync.dedup import merge_memories
from sync.errors import MemoryFileError
from sync.models import Memory
from sync.store import StoreLayout, read_memory, write_memory
from sync.store.archive import archived_copy

if TYPE_CHECKING:
    from sync.capture.dedup import Decided

FileWrite = tuple[str, Memory]  # a path under memory/ and the memory written there


class MemoryWriter:
    """Applies decisions; an existing memory merged several times in one run is archived once."""

    def __init__(self, layout: StoreLayout, now: dt.datetime) -> None:
        self.layout = layout
        self.now = now
        self._merged: dict[str, Memory] = {}  # path -> current version, this run
        self._claimed: set[str] = set()  # archive paths planned by this run

    def plan(self, decided: Sequence[Decided]) -> list[FileWrite]:
        """The files ``decided`` asks for, in order (an archived copy before its merge);
        reads the memories merged into, writes nothing."""
        writes: list[FileWrite] = []
        for d in decided:
            if d.action == "noop" or d.path is None:
                continue
            if d.action == "summary":
                memory = self._summary(d.memory, d.path)
            elif d.action == "update" and d.merge_into_run is None:
                memory = self._merge(d.memory, d.path, writes)
            else:
                memory = d.memory
            self._merged[d.path] = memory
            writes.append((d.path, memory))
        return writes

    def apply(self, decided: Sequence[Decided]) -> tuple[list[str], list[str]]:
        """Write what ``decided`` asks for; returns the paths written and the memory ids."""
        writes = self.plan(decided)
        for rel, memory in writes:
            write_memory(self.layout.memory_dir, rel, memory)
        paths = [rel for rel, _ in writes]
        ids = [m.id for rel, m in writes if rel in self._merged]
        return list(dict.fromkeys(paths)), list(dict.fromkeys(ids))

    def _merge(self, candidate: Memory, rel: str, writes: list[FileWrite]) -> Memory:
        current = self._merged.get(rel)
        if current is None:
            existing = read_memory(self.layout.memory_dir, rel)
            if existing is None:
                raise MemoryFileError(rel, "indexed memory is missing on disk; run `memsync sync`")
            archived = archived_copy(self.layout, existing, self.now, self._claimed.__contains__)
            self._claimed.add(archived[0])
            writes.append(archived)
            current = existing
        return merge_memories(current, candidate, self.now)

    def _summary(self, memory: Memory, rel: str) -> Memory:
        existing = self._merged.get(rel) or read_memory(self.layout.memory_dir, rel)
        if existing is None:
            return memory
        return dataclasses.replace(memory, id=existing.id, created=existing.created)
