"""What `memsync status` and `GET /api/status` report: one function for both."""

from __future__ import annotations

from typing import Any

from embeddings.backend import graph_state
from embeddings.encoder import canonical_model_name
from service.settings import Settings
from service.wiring import (
    embedded_folder,
    graph_roots,
    index_id,
    index_present,
    known_kinds,
    sync_deps,
)
from sync.errors import LockBusyError
from sync.index.checkpoint import Checkpoint, load_checkpoint
from sync.index.migrate import pending_migration
from sync.index.verify import check_index
from sync.ports import VectorIndex
from sync.store import StoreLayout


def index_health(
    layout: StoreLayout,
    settings: Settings,
    checkpoint: Checkpoint,
    index: VectorIndex | None = None,
) -> dict[str, Any]:
    """The sync's cheap check (points vs checkpoint), read only; ``index``: one already open
    (the service's), else the embedded index is opened as a reader."""
    deps = sync_deps(settings, layout, reader=True)
    sealed = checkpoint.index_seal is not None and checkpoint.index_seal == deps.index_seal()
    if index is None and sealed:  # the index is as the last sync left it: nothing to open
        return {"checked": True, "problem": None, "unchanged_since_last_sync": True}
    try:
        check = check_index(
            checkpoint,
            index_id=deps.index_id,
            encoder_model=deps.encoder_model,
            index_exists=deps.index_exists,
            index_factory=(lambda: index) if index is not None else deps.index_factory,
            repair=False,
        )
    except LockBusyError:
        return {"checked": False, "problem": None, "note": "in use by a running sync"}
    data = check.as_dict()
    if data["problem"]:
        data["problem"] = data["problem"].replace(" are re-indexed", ": the next sync re-indexes")
        data["problem"] = data["problem"].replace(" are removed", ": the next sync removes them")
    return {"checked": check.points is not None, **data}


def store_status(
    layout: StoreLayout, settings: Settings, index: VectorIndex | None = None
) -> dict[str, Any]:
    """Store, counts, encoder, index, retry queue and dead letters; reads, never writes."""
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    files = sum(1 for _ in layout.memory_dir.rglob("*.md")) if layout.memory_dir.exists() else 0
    reports = sorted(layout.reports_dir.glob("sync-*.json")) if layout.reports_dir.exists() else []
    # memory files and captured sources (keys like "claude:/path/session.jsonl") alike
    queue = sorted(
        [*checkpoint.retry.values(), *checkpoint.source_retry.values()], key=lambda r: r.path
    )
    folder = embedded_folder(index_id(settings), layout)
    kinds = known_kinds(settings)
    unknown: dict[str, int] = {}
    for entry in checkpoint.entries.values():
        if entry.kind not in kinds:
            unknown[entry.kind] = unknown.get(entry.kind, 0) + 1
    return {
        "store": str(layout.root),
        "memory_files": files,
        "indexed": len(checkpoint.entries),
        "encoder": checkpoint.encoder.as_dict() if checkpoint.encoder else None,
        "configured_model": canonical_model_name(settings.model),
        "encoder_backend": {
            "configured": settings.model_backend,
            "onnx_graph": graph_state(settings.model, graph_roots(settings)),
        },
        "collection": checkpoint.collection,
        "index": {
            "backend": index_id(settings),
            "location": str(folder) if folder else settings.qdrant_url or "in memory",
            "checkpoint_backend": checkpoint.effective_index_id if checkpoint.entries else None,
            "pending_migration": pending_migration(
                layout, index_id(settings), lambda ident: index_present(ident, layout)
            ),
            "health": index_health(layout, settings, checkpoint, index),
        },
        "retry_queue": [vars(r) for r in queue if not r.dead],
        "dead_letters": [vars(r) for r in queue if r.dead],
        "ignored": sorted(checkpoint.ignored),
        "interrupted_run_pending": layout.journal_path.exists(),
        "last_report": str(reports[-1]) if reports else None,
        "warnings": checkpoint.warnings,
        "kinds": list(kinds),
        "unknown_kinds": dict(sorted(unknown.items())),
    }
