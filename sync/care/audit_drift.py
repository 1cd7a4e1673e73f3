"""Index drift: where the index and the memory files disagree, and its repair.

The one repair `memsync audit --fix` makes: it changes the index and the checkpoint only
(through ``run_sync``), never a memory file.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from sync.care.audit_checks import MemoryFile
from sync.hashing import point_id
from sync.index.checkpoint import Checkpoint, IndexedEntry
from sync.index.engine import SyncDeps, SyncOptions, run_sync, writer_lock
from sync.models import ScannedFile
from sync.ports import IndexPoint
from sync.store import StoreLayout


def index_drift(
    files: Sequence[MemoryFile],
    scanned: Sequence[ScannedFile],
    checkpoint: Checkpoint,
    points: Mapping[str, IndexPoint],
) -> dict[str, Any]:
    """Where the index and the files disagree: points without a file, files without a
    point, and files whose content differs from what was indexed."""
    on_disk = {sf.path for sf in scanned}
    parsed = {f.path for f in files}
    expected = {point_id(f.memory.id) for f in files}
    # an unreadable file keeps its last good version indexed
    expected |= {e.point_id for p, e in checkpoint.entries.items() if p in on_disk - parsed}
    known_points = {e.point_id for e in checkpoint.entries.values()}
    by_id: dict[str, tuple[str, IndexedEntry]] = {
        e.id: (p, e) for p, e in checkpoint.entries.items()
    }
    without_file = [
        {
            "point_id": pid,
            "path": points[pid].payload.get("path"),
            "reason": "memory file deleted since the last sync"
            if pid in known_points
            else "unknown to the checkpoint (written behind memsync's back)",
        }
        for pid in sorted(set(points) - expected)
    ]
    without_point, mismatch = [], []
    for f in files:
        point = points.get(point_id(f.memory.id))
        path, entry = by_id.get(f.memory.id, (None, None))
        if point is None:
            reason = "point missing from the index" if entry else "not indexed yet"
            without_point.append({"path": f.path, "reason": reason})
        elif (why := _stale_point(f, point, path, entry)) is not None:
            mismatch.append({"path": f.path, "reason": why})
    return {
        "count": len(without_file) + len(without_point) + len(mismatch),
        "points_without_file": without_file,
        "files_without_point": without_point,
        "hash_mismatch": mismatch,
    }


def _stale_point(
    f: MemoryFile, point: IndexPoint, path: str | None, entry: IndexedEntry | None
) -> str | None:
    """Why the indexed point does not hold the file's current content, if it does not."""
    if entry is None:
        return "indexed but not recorded in the checkpoint"
    if path != f.path:
        return f"moved from {path} since indexed"
    if entry.content_hash != f.content_hash:
        return "changed since indexed"
    if point.payload.get("hash") != f.content_hash:
        return "the index holds an older version"
    return None


def fix_drift(
    layout: StoreLayout, report: Mapping[str, Any], deps: SyncDeps, *, lock_held: bool = False
) -> dict[str, Any]:
    """Repair index drift only: delete points without a file, re-index (forced, scoped to
    them) files without a point or indexed with other content. Memory files are only read."""
    drift, collection = report["index_drift"], report["collection"]
    stray = [x["point_id"] for x in drift["points_without_file"]]
    paths = sorted({x["path"] for x in (*drift["files_without_point"], *drift["hash_mismatch"])})
    done: dict[str, Any] = {"deleted_points": [], "reindexed": [], "failures": []}
    with writer_lock(layout, skip=lock_held):
        if stray and collection:
            index = deps.index_factory()
            try:
                index.delete(collection, stray)
            finally:
                index.close()
            done["deleted_points"] = stray
        if paths:
            opts = SyncOptions(
                force=True, scope=frozenset(paths), run_id=f"audit-fix-{secrets.token_hex(3)}"
            )
            result = run_sync(layout, opts, deps, lock_held=True)
            failed = {f["path"] for f in result["failures"]}
            done["reindexed"] = [p for p in paths if p not in failed]
            done["failures"] = result["failures"]
    return done
