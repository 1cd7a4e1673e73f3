"""Move the index between backends (local mode -> edge, ...) reusing the stored vectors."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sync.errors import RetryableError
from sync.index.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from sync.lexical import SparseVec, document_vector
from sync.models import collection_name
from sync.ports import IndexPoint, VectorIndex
from sync.store import StoreLayout, try_read_memory

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
    layout: StoreLayout,
    target_id: str,
    source_present: Callable[[str], bool],
    checkpoint: Checkpoint | None = None,
) -> str | None:
    """The index id to migrate from, when the checkpoint describes another backend whose
    data is still there; None when nothing needs moving (or it cannot be moved: then the
    next sync re-embeds)."""
    if checkpoint is None:
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


def pending_upgrade(checkpoint: Checkpoint, prefix: str) -> tuple[str, str] | None:
    """(old, new) collection names when the index predates the current collection schema."""
    encoder, held = checkpoint.encoder, checkpoint.collection
    if not checkpoint.entries or encoder is None or held is None:
        return None
    wanted = collection_name(prefix, encoder)
    return None if held == wanted else (held, wanted)


def upgrade_collection(
    layout: StoreLayout, index: VectorIndex, *, prefix: str, batch: int = BATCH
) -> dict[str, Any] | None:
    """Move the points of an older-schema collection into the current one, reusing their
    dense vectors and adding lexical weights computed from the memory files (no model
    needed). The caller holds the writer lock; an interrupted upgrade is redone."""
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    names = pending_upgrade(checkpoint, prefix)
    if names is None or checkpoint.encoder is None:
        return None
    old, new = names
    if old not in index.collections():
        return None  # nothing to reuse: the next sync re-embeds (planner: schema changed)
    index.ensure_collection(new, checkpoint.encoder.dim)
    buffer: list[IndexPoint] = []
    copied = without_text = 0
    for point in index.export(old):
        sparse = _lexical_of(layout, str(point.payload.get("path", "")))
        without_text += sparse is None
        buffer.append(dataclasses.replace(point, sparse=sparse))
        if len(buffer) >= batch:
            copied += _flush(index, new, buffer, None)
    copied += _flush(index, new, buffer, None)
    if index.count(new) < index.count(old):
        raise RetryableError(f"{new}: copied {index.count(new)} of {index.count(old)}; retry")
    checkpoint.collection = new
    checkpoint.stale_collections.append(old)  # dropped below, or by a later sync if we die
    save_checkpoint(checkpoint, layout.checkpoint_path, layout.journal_path)
    index.drop_collection(old)
    checkpoint.stale_collections.remove(old)
    save_checkpoint(checkpoint, layout.checkpoint_path, layout.journal_path)
    return {"from": old, "to": new, "points": copied, "without_text": without_text}


def _lexical_of(layout: StoreLayout, rel: str) -> SparseVec | None:
    """Lexical weights of the memory at ``rel``; None when it cannot be read now (it will
    be re-indexed by the next sync if it changed)."""
    memory = try_read_memory(layout.memory_dir, rel)
    return document_vector(memory.embedding_text()) if memory else None
