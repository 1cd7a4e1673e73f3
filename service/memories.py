"""Reading memories, as the CLI, the HTTP API, the MCP tools and the hooks share it: one
memory in full, a catalog page, the most recent ones, and a search. Each takes the store and
returns plain data; the caller says how the index and the model are reached."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any

from service.settings import Settings
from sync.errors import MemoryFileError, UsageError
from sync.fsutil import confined
from sync.index.checkpoint import IndexedEntry, load_checkpoint
from sync.models import ARCHIVE_FOLDER, Memory, collection_name
from sync.ports import Encoder, SearchFilter
from sync.recall.retrieve import Scoring, ask
from sync.redact import redact_memory
from sync.store import StoreLayout, try_read_memory
from sync.store.access import record_access
from sync.store.markdown import decode_text, parse_memory

SORTS = ("path", "recent")
_DAY = re.compile(r"(?:^|/)(\d{8})-[^/]*$")


class NotFoundError(UsageError):
    """The requested memory or report does not exist."""


def get_memory(layout: StoreLayout, memory_id: str) -> dict[str, Any]:
    """One indexed memory in full (frontmatter fields, body, path); the read is recorded."""
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    path = next((p for p, e in checkpoint.entries.items() if e.id == memory_id), None)
    if path is None:
        raise NotFoundError(f"no indexed memory with id {memory_id!r}")
    try:
        data = confined(layout.memory_dir, path).read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"memory/{path} was deleted; the next sync drops it") from None
    try:
        memory = parse_memory(decode_text(data, path), path)
    except MemoryFileError as exc:
        raise UsageError(str(exc)) from None
    record_access(layout, [memory.id], dt.datetime.now(dt.UTC))
    return {"path": path, **memory_fields(memory)}


def memory_fields(memory: Memory) -> dict[str, Any]:
    """A memory's fields as plain JSON-ready values, secrets redacted (a file written by hand
    may hold one; what memsync shows never does)."""
    shown = redact_memory(memory)[0]
    return {f.name: _plain(getattr(shown, f.name)) for f in dataclasses.fields(shown)}


def list_memories(
    layout: StoreLayout,
    *,
    kind: str | None = None,
    tag: str | None = None,
    offset: int = 0,
    limit: int = 50,
    sort: str = "path",
) -> dict[str, Any]:
    """A page of the indexed memories (archived ones left out when sorted by recency), by
    path or most recently created or updated first (``sort="recent"``, with their dates)."""
    if sort not in SORTS:
        raise UsageError(f"sort {sort!r}: expected one of {', '.join(SORTS)}")
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    chosen = [
        (path, e)
        for path, e in sorted(checkpoint.entries.items())
        if (kind is None or e.kind == kind) and (tag is None or tag in e.tags)
    ]
    if sort == "recent":
        live = [(p, e) for p, e in chosen if not p.startswith(f"{ARCHIVE_FOLDER}/")]
        rows = [_row(p, e, m) for p, e, m in recent(layout, live, offset + limit)]
        total = len(live)
    else:
        rows = [_row(p, e, None) for p, e in chosen[offset : offset + limit]]
        total = len(chosen)
        offset = 0  # the page was cut above
    return {
        "total": total,
        "offset": offset,
        "limit": limit,
        "memories": rows[offset : offset + limit],
    }


def recent(
    layout: StoreLayout, entries: Sequence[tuple[str, IndexedEntry]], n: int
) -> list[tuple[str, IndexedEntry, Memory]]:
    """The ``n`` memories most recently created or updated, newest first.

    Only the likeliest files are read: entries are ranked first by the day their file name
    carries (memsync names files by the day of the session they came from) or by mtime,
    and 3n of them (at least 30) are parsed and ordered by their ``updated`` field."""
    ranked = sorted(entries, key=lambda pe: _day_hint(*pe), reverse=True)
    found = []
    for path, entry in ranked[: max(3 * n, 30)]:
        memory = try_read_memory(layout.memory_dir, path)
        if memory is not None:
            found.append((path, entry, memory))
    found.sort(key=lambda f: (when(f[1], f[2]), f[0]), reverse=True)
    return found[:n]


def when(entry: IndexedEntry, memory: Memory) -> str:
    """When a memory last changed: its ``updated`` or ``created`` field, else (a file written
    by hand without dates) its modification time."""
    stamp = memory.updated or memory.created
    if stamp:
        return stamp
    moment = dt.datetime.fromtimestamp(entry.mtime_ns / 1e9, dt.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _day_hint(path: str, entry: IndexedEntry) -> tuple[str, int]:
    named = _DAY.search(path)
    moment = dt.datetime.fromtimestamp(entry.mtime_ns / 1e9, dt.UTC).strftime("%Y%m%d")
    return (max(named.group(1), moment) if named else moment, entry.mtime_ns)


def _row(path: str, entry: IndexedEntry, memory: Memory | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": entry.id,
        "path": path,
        "kind": entry.kind,
        "title": entry.title,
        "tags": list(entry.tags),
    }
    if memory is not None:
        row.update(created=memory.created or None, updated=when(entry, memory))
    return row


def search_store(
    layout: StoreLayout,
    settings: Settings,
    question: str,
    *,
    k: int,
    flt: SearchFilter,
    mode: str,
    scoring: Scoring,
    encoder: Callable[[], Encoder],
) -> dict[str, Any]:
    """Ask the store's index, opened for this search and closed after (an embedded index has
    one owner at a time); lexical mode loads no model (the collection comes from the
    checkpoint). Nothing indexed yet: no results."""
    from service.wiring import index_exists, make_index

    lexical = mode == "lexical"
    empty = {
        "results": [],
        "scoring": {
            "mode": mode,
            "score": "bm25" if lexical else "relevance",
            "min_score": None if lexical else scoring.min_score,
        },
        "withheld": 0,
        "closest": None,
        "no_strong_match": False,
    }
    if not index_exists(settings, layout):
        return empty
    collection = load_checkpoint(layout.checkpoint_path, layout.journal_path).collection
    model = None if lexical else encoder()
    if model is not None:
        collection = collection_name(settings.collection, model.identity)
    if collection is None:
        return empty  # nothing indexed yet
    index = make_index(settings, layout, reader=True)  # a reader never hurts a writer
    try:
        return ask(
            question,
            encoder=model,
            index=index,
            collection=collection,
            k=k,
            flt=flt,
            memory_dir=layout.memory_dir,
            mode=mode,
            scoring=scoring,
        )
    finally:
        index.close()


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "items"):
        return dict(value)
    return value
