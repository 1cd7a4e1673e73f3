"""Move the index between backends (local mode -> edge, ...) reusing the stored vectors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sync.checkpoint import load_checkpoint, save_checkpoint
from sync.errors import RetryableError
from sync.ports import IndexPoint, VectorIndex
from sync.store import StoreLayout

BATCH = 512


def copy_index(
    src: VectorIndex,
    dst: VectorIndex,
    *,
    batch: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Copy every collection with its vectors and payloads; verifies the counts."""
    copied: dict[str, int] = {}
    for name in src.collections():
        done, buffer = 0, list[IndexPoint]()
        for point in src.export(name):
            if not point.vector:
                raise RetryableError(f"{name}: point {point.point_id} came without its vector")
            if done == 0 and not buffer:
                dst.ensure_collection(name, len(point.vector))
            buffer.append(point)
            if len(buffer) >= batch:
                done += _flush(dst, name, buffer, progress)
        done += _flush(dst, name, buffer, progress)
        expected, got = src.count(name), dst.count(name)
        if got < expected:
            raise RetryableError(f"{name}: copied {got} of {expected} points; run it again")
        copied[name] = done
    return copied


def _flush(
    dst: VectorIndex,
    name: str,
    buffer: list[IndexPoint],
    progress: Callable[[str, int], None] | None,
) -> int:
    if not buffer:
        return 0
    dst.upsert(name, buffer)
    n = len(buffer)
    buffer.clear()
    if progress:
        progress(name, n)
    return n


def pending_migration(
    layout: StoreLayout, target_id: str, source_present: Callable[[str], bool]
) -> str | None:
    """The index id to migrate from, when the checkpoint describes another backend whose
    data is still there; None when nothing needs moving (or it cannot be moved: then the
    next sync re-embeds)."""
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    source = checkpoint.effective_index_id
    if not checkpoint.entries or source == target_id or not source_present(source):
        return None
    return source


def migrate_index(
    layout: StoreLayout,
    *,
    source_id: str,
    target_id: str,
    open_index: Callable[[str], VectorIndex],
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """Copy ``source_id``'s points into ``target_id`` and point the checkpoint at it.

    The caller holds the writer lock. If it is interrupted the checkpoint still names the
    source, so running it again redoes the copy (upserts are idempotent)."""
    src, dst = open_index(source_id), open_index(target_id)
    try:
        copied = copy_index(src, dst, progress=progress)
    finally:
        src.close()
        dst.close()
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    checkpoint.index_id = target_id
    save_checkpoint(checkpoint, layout.checkpoint_path, layout.journal_path)
    return {
        "from": source_id,
        "to": target_id,
        "collections": copied,
        "points": sum(copied.values()),
    }
