"""A project's sessions as the host agent distils them: each with a status, found by id or
path, and the record of which were distilled (``state/distilled.json``).

Status (``session_status``, pure): ``distilled`` when an agent marked the session done at its
current size (a session that grew since is offered again), ``extracted`` when a language model
already extracted its current content during `memsync sync`, else ``pending`` (new, grown, or
only seen by the offline rules). The record is written atomically under its own lock, apart
from the checkpoint, so that marking a session done never waits for a sync or the service.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sync.capture.extraction.echo import strip_echo
from sync.capture.redact import redact_transcript
from sync.capture.sources import adapter
from sync.capture.sources.base import ItemHead, SourceAdapter, SourceItem, Transcript
from sync.errors import UsageError
from sync.fsutil import atomic_write_bytes
from sync.index.checkpoint import SourceEntry
from sync.retry import iso
from sync.store import StoreLayout

STATUSES = ("pending", "distilled", "extracted")
LM_EXTRACTORS = frozenset({"dspy"})
MIN_PREFIX = 4


@dataclass(frozen=True)
class DistilledMark:
    """A session an agent distilled, at the size it had then."""

    key: str
    agent: str
    session: str
    size: int
    mtime_ns: int
    at: str  # ISO time of `memsync sessions --done`


def session_status(item: SourceItem, entry: SourceEntry | None, mark: DistilledMark | None) -> str:
    """``distilled``, ``extracted`` or ``pending`` (see the module docstring)."""
    if mark is not None and mark.size == item.size:
        return "distilled"
    if entry is not None and entry.extractor in LM_EXTRACTORS and entry.size == item.size:
        return "extracted"
    return "pending"


def session_row(
    item: SourceItem,
    head: ItemHead,
    status: str,
    entry: SourceEntry | None,
    mark: DistilledMark | None,
) -> dict[str, Any]:
    """What `memsync sessions` shows of one session."""
    ended = dt.datetime.fromtimestamp(item.mtime_ns / 1e9, dt.UTC)
    row: dict[str, Any] = {
        "agent": item.agent,
        "id": item.session_id,
        "key": item.key,
        "path": str(item.path),
        "started": head.started,
        "ended": iso(ended),
        "size": item.size,
        "status": status,
        "cwd": head.cwd,
        "memories": len(entry.memories) if entry else 0,
    }
    if item.locator:
        row["locator"] = item.locator
    if mark is not None:
        row["distilled_at"] = mark.at
        if status == "pending":
            row["note"] = "grew since it was distilled"
    return row


def find_session(ref: str, items: Sequence[SourceItem]) -> SourceItem:
    """The item ``ref`` names: its key, session id or conversation id, or a unique prefix of
    the session id (at least four characters); UsageError otherwise, naming the candidates."""
    ref = ref.strip()
    for field in ("key", "session_id", "locator"):
        exact = [i for i in items if getattr(i, field) == ref]
        if len(exact) == 1:
            return exact[0]
        if len(exact) > 1:
            raise UsageError(_ambiguous(ref, exact))
    found = [i for i in items if len(ref) >= MIN_PREFIX and i.session_id.startswith(ref)]
    if len(found) == 1:
        return found[0]
    if found:
        raise UsageError(_ambiguous(ref, found))
    raise UsageError(
        f"no session {ref!r} among the {len(items)} sessions found; `memsync sessions` lists "
        "them (ids, or give the transcript's path)"
    )


def _ambiguous(ref: str, items: Sequence[SourceItem]) -> str:
    shown = ", ".join(f"{i.agent}:{i.session_id}" for i in items[:5])
    more = f" and {len(items) - 5} more" if len(items) > 5 else ""
    return f"{ref!r} names {len(items)} sessions ({shown}{more}); give more of the id or the key"


# -- reading ---------------------------------------------------------------------------------


def discover(
    roots: Mapping[str, Sequence[Path]], adapters: dict[str, SourceAdapter]
) -> Iterator[SourceItem]:
    """Every session under the agents' folders (stat only)."""
    for agent, folders in roots.items():
        source = adapters.setdefault(agent, adapter(agent))
        for root in folders:
            if root.exists():
                yield from source.discover(root)


def item_for_path(path: Path, locator: str = "") -> SourceItem:
    """The session in a transcript file or database given by path (``locator``: which
    conversation of a database); the agent is told by the file's name and contents."""
    from sync.capture.sources.sniff import sniff_items

    items = sniff_items(path)
    if locator:
        items = [i for i in items if i.locator == locator]
    if len(items) == 1:
        return items[0]
    if not items:
        what = f"conversation {locator!r} in " if locator else "a session in "
        raise UsageError(f"found no {what}{path}")
    ids = ", ".join(i.locator for i in items[:5])
    raise UsageError(f"{path} holds {len(items)} conversations ({ids}, …); give PATH#ID")


def read_transcript(item: SourceItem, adapters: dict[str, SourceAdapter]) -> Transcript:
    """The session parsed, redacted and without memsync's own echo: what a digest is made of."""
    source = adapters.setdefault(item.agent, adapter(item.agent))
    transcript, _ = redact_transcript(source.parse(item))
    return strip_echo(transcript)


# -- the distilled record ----------------------------------------------------------------------


def distilled_path(layout: StoreLayout) -> Path:
    return layout.state_dir / "distilled.json"


def load_marks(layout: StoreLayout) -> dict[str, DistilledMark]:
    """Every distilled session by key; an unreadable record counts as none (and is rewritten
    on the next ``--done``)."""
    try:
        data = json.loads(distilled_path(layout).read_text(encoding="utf-8"))
        sessions = data.get("sessions", {}) if isinstance(data, dict) else {}
        return {k: DistilledMark(**v) for k, v in sessions.items()}
    except (OSError, ValueError, TypeError, RecursionError):
        return {}


@contextlib.contextmanager
def _record_lock(layout: StoreLayout) -> Iterator[None]:
    """Serialize read-modify-write of the record (a short, blocking flock)."""
    layout.state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(layout.state_dir / "distilled.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def mark_distilled(
    layout: StoreLayout, items: Sequence[SourceItem], now: dt.datetime
) -> list[DistilledMark]:
    """Record ``items`` as distilled at their current size; returns the marks written."""
    with _record_lock(layout):
        marks = load_marks(layout)
        new = [
            DistilledMark(i.key, i.agent, i.session_id, i.size, i.mtime_ns, iso(now)) for i in items
        ]
        marks.update({m.key: m for m in new})
        doc = {"version": 1, "sessions": {k: asdict(m) for k, m in sorted(marks.items())}}
        atomic_write_bytes(distilled_path(layout), json.dumps(doc, indent=1).encode("utf-8"))
    return new
