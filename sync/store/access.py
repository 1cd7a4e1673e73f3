"""When memories were last read: an append-only log beside the checkpoint.

Asks record the ids they return here rather than in the markdown, so reading a memory never
rewrites its file, never changes its content hash and never triggers a re-embed. Appends are
single small writes (atomic with O_APPEND) and best effort: a failure never fails an ask.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterable
from pathlib import Path

from sync.retry import iso, parse_iso
from sync.store import StoreLayout


def access_log(layout: StoreLayout) -> Path:
    return layout.state_dir / "access.jsonl"


def record_access(layout: StoreLayout, memory_ids: Iterable[str], now: dt.datetime) -> None:
    """Append one line per id read now; silently does nothing if the store is read-only."""
    ids = [i for i in dict.fromkeys(memory_ids) if i]
    if not ids:
        return
    stamp = iso(now)
    data = "".join(json.dumps({"id": i, "at": stamp}) + "\n" for i in ids).encode("utf-8")
    with contextlib.suppress(OSError):
        fd = os.open(access_log(layout), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def last_access(layout: StoreLayout) -> dict[str, dt.datetime]:
    """The latest access time per memory id (bad lines are ignored)."""
    latest: dict[str, dt.datetime] = {}
    path = access_log(layout)
    if not path.exists():
        return latest
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                entry = json.loads(line)
                moment = parse_iso(str(entry["at"]))
                ident = str(entry["id"])
            except (ValueError, KeyError, TypeError):
                continue
            if ident not in latest or moment > latest[ident]:
                latest[ident] = moment
    return latest
