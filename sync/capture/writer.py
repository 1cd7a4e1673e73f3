"""Writing the files capture decided on: new memories, merges (old version archived),
summaries."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sync.dedup import merge_memories
from sync.errors import MemoryFileError
from sync.models import Memory
from sync.store import StoreLayout, read_memory, write_memory
from sync.store.archive import archive_version

if TYPE_CHECKING:
    from sync.capture.dedup import Decided


class MemoryWriter:
    """Applies decisions; an existing memory merged several times in one run is archived once."""

    def __init__(self, layout: StoreLayout, now: dt.datetime) -> None:
        self.layout = layout
        self.now = now
        self._merged: dict[str, Memory] = {}  # path -> current version, this run

    def apply(self, decided: Sequence[Decided]) -> tuple[list[str], list[str]]:
        """Write what ``decided`` asks for; returns the paths written and the memory ids."""
        paths: list[str] = []
        ids: list[str] = []
        for d in decided:
            if d.action == "noop" or d.path is None:
                continue
            if d.action == "summary":
                memory = self._summary(d.memory, d.path)
            elif d.action == "update" and d.merge_into_run is None:
                memory = self._merge(d.memory, d.path, paths)
            else:
                memory = d.memory
            write_memory(self.layout.memory_dir, d.path, memory)
            self._merged[d.path] = memory
            paths.append(d.path)
            ids.append(memory.id)
        return list(dict.fromkeys(paths)), list(dict.fromkeys(ids))

    def _merge(self, candidate: Memory, rel: str, paths: list[str]) -> Memory:
        current = self._merged.get(rel)
        if current is None:
            existing = read_memory(self.layout.memory_dir, rel)
            if existing is None:
                raise MemoryFileError(rel, "indexed memory is missing on disk; run `memsync sync`")
            paths.append(archive_version(self.layout, existing, self.now))
            current = existing
        return merge_memories(current, candidate, self.now)

    def _summary(self, memory: Memory, rel: str) -> Memory:
        existing = read_memory(self.layout.memory_dir, rel)
        if existing is None:
            return memory
        return dataclasses.replace(memory, id=existing.id, created=existing.created)
