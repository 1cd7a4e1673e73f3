"""The host agent's distillation loop, as the CLI, the HTTP API and the MCP tools share it:
list this project's sessions, read one's digest, record memories with its provenance, mark it
done. Each function takes the store and its settings and returns plain data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from service.capture_wiring import source_roots, store_scope, user_home
from service.settings import Settings
from sync.capture.digest import build_digest
from sync.capture.pipeline import peek_cwd
from sync.capture.project import ProjectScope
from sync.capture.sessions import (
    STATUSES,
    discover,
    find_session,
    item_for_path,
    load_marks,
    mark_distilled,
    read_transcript,
    session_row,
    session_status,
)
from sync.capture.sources.base import ItemHead, SourceAdapter, SourceItem
from sync.errors import UsageError
from sync.index.checkpoint import load_checkpoint
from sync.retry import parse_moment
from sync.store import StoreLayout, slugify

MAX_HINTS = 12


def _scope(settings: Settings, layout: StoreLayout, all_projects: bool) -> ProjectScope | None:
    return None if all_projects else store_scope(settings, layout, user_home())


def _heads(
    settings: Settings, layout: StoreLayout, scope: ProjectScope | None
) -> tuple[list[tuple[SourceItem, ItemHead]], dict[str, SourceAdapter]]:
    """The sessions in scope with what their heads say, newest first."""
    adapters: dict[str, SourceAdapter] = {}
    found = []
    for item in discover(source_roots(settings, user_home()), adapters):
        try:
            head = adapters[item.agent].peek(item)
        except (OSError, ValueError):
            head = ItemHead()
        if scope is None or scope.contains(head.cwd):
            found.append((item, head))
    found.sort(key=lambda pair: (-pair[0].mtime_ns, pair[0].key))
    return found, adapters


def list_sessions(
    settings: Settings,
    layout: StoreLayout,
    *,
    pending: bool = False,
    limit: int | None = None,
    all_projects: bool = False,
) -> dict[str, Any]:
    """This project's sessions, newest first, each with its status (`memsync sessions`)."""
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    marks = load_marks(layout)
    scope = _scope(settings, layout, all_projects)
    rows = []
    for item, head in _heads(settings, layout, scope)[0]:
        entry, mark = checkpoint.sources.get(item.key), marks.get(item.key)
        status = session_status(item, entry, mark)
        rows.append(session_row(item, head, status, entry, mark))
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    shown = [r for r in rows if r["status"] == "pending"] if pending else rows
    return {
        "project": "every project" if scope is None else list(scope.roots),
        "counts": counts,
        "sessions": shown[:limit] if limit else shown,
    }


def resolve_session(
    settings: Settings, layout: StoreLayout, ref: str, *, all_projects: bool = False
) -> tuple[SourceItem, ItemHead, dict[str, SourceAdapter]]:
    """The session ``ref`` names: a transcript path (``PATH#ID`` for one conversation of a
    database), or an id among this project's sessions (every project's when none matches)."""
    path, _, locator = ref.partition("#")
    try:
        is_file = bool(path) and Path(path).expanduser().is_file()
    except (OSError, ValueError):  # not a path at all (a NUL byte, a name too long)
        is_file = False
    if is_file:
        item = item_for_path(Path(path), locator)
        adapters: dict[str, SourceAdapter] = {}
        return item, _peek(item, adapters), adapters
    found, adapters = _heads(settings, layout, _scope(settings, layout, all_projects))
    try:
        item = find_session(ref, [i for i, _ in found])
    except UsageError:
        if all_projects:
            raise
        everywhere, adapters = _heads(settings, layout, None)
        item = find_session(ref, [i for i, _ in everywhere])
        found = everywhere
    head = next(h for i, h in found if i.key == item.key)
    return item, head, adapters


def _peek(item: SourceItem, adapters: dict[str, SourceAdapter]) -> ItemHead:
    cwd = peek_cwd(adapters, item)
    try:
        return ItemHead(cwd, adapters[item.agent].peek(item).started)
    except (OSError, ValueError):
        return ItemHead(cwd)


def session_digest(
    settings: Settings, layout: StoreLayout, ref: str, *, budget: int | None = None
) -> dict[str, Any]:
    """A session's digest within the budget, with the offline rules' candidates as hints."""
    from sync.capture.extraction.offline import OfflineExtractor

    budget = settings.digest_budget if budget is None else budget
    if budget < 300:
        raise UsageError("--budget must be at least 300 tokens")
    item, head, adapters = resolve_session(settings, layout, ref)
    transcript = read_transcript(item, adapters)
    digest = build_digest(transcript, budget)
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    entry, mark = checkpoint.sources.get(item.key), load_marks(layout).get(item.key)
    head = ItemHead(head.cwd or transcript.cwd, transcript.started or head.started)
    row = session_row(item, head, session_status(item, entry, mark), entry, mark)
    if transcript.title:
        row["title"] = transcript.title
    hints = [
        {"kind": c.kind, "title": c.title, "body": c.body[:400]}
        for c in OfflineExtractor().extract(transcript)
        if c.kind != "summary"
    ][:MAX_HINTS]
    return {
        "session": row,
        "digest": digest.text,
        "tokens": digest.tokens,
        "source_tokens": digest.source_tokens,
        "budget": budget,
        "entries": {"kept": digest.entries, "left_out": digest.left_out},
        "files_changed": list(digest.files),
        "hints": hints,
    }


def mark_done(settings: Settings, layout: StoreLayout, refs: list[str]) -> dict[str, Any]:
    """Record sessions as distilled at their current size (`memsync sessions --done`)."""
    items = [resolve_session(settings, layout, ref)[0] for ref in refs]
    marks = mark_distilled(layout, items, dt.datetime.now(dt.UTC))
    return {"done": [{"agent": m.agent, "id": m.session, "key": m.key, "at": m.at} for m in marks]}


def session_source(
    settings: Settings, layout: StoreLayout, ref: str, via: str
) -> tuple[dict[str, Any], dt.datetime | None, tuple[str, ...]]:
    """Provenance for a memory distilled from a session (`memsync add --session`), the
    session's start (the memory's date), and its project as a tag when this store takes every
    project (the global store)."""
    item, head, adapters = resolve_session(settings, layout, ref)
    if head.started is None:  # its head does not say (Cursor): the transcript does
        head = ItemHead(head.cwd, read_transcript(item, adapters).started)
    source: dict[str, Any] = {
        "agent": item.agent,
        "session": item.session_id,
        "file": str(item.path),
        "via": via,
    }
    if item.locator:
        source["locator"] = item.locator
    if head.cwd:
        source["cwd"] = head.cwd
    tags: tuple[str, ...] = ()
    if head.cwd and store_scope(settings, layout, user_home()) is None:
        tags = (slugify(Path(head.cwd.replace("\\", "/")).name, 40),)
    return source, parse_moment(head.started), tags


def session_paths(settings: Settings, layout: StoreLayout, refs: list[str]) -> tuple[str, ...]:
    """The transcripts ``refs`` name (ids from `memsync sessions`, or paths), as capture takes
    them: ``PATH``, or ``PATH#ID`` for one conversation of a database."""
    out = []
    for ref in refs:
        item = resolve_session(settings, layout, ref)[0]
        out.append(f"{item.path}#{item.locator}" if item.locator else str(item.path))
    return tuple(out)
