"""Builds the core's dependencies from settings: encoder, index, policies."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embeddings.encoder import canonical_model_name
from embeddings.onnx_graph import default_roots
from service.settings import Settings
from sync.dedup import DedupThresholds
from sync.errors import UsageError
from sync.fsutil import tree_seal
from sync.index.checkpoint import Checkpoint, load_checkpoint
from sync.index.engine import SyncDeps, writer_lock
from sync.index.migrate import migrate_index, pending_migration, pending_upgrade, upgrade_collection
from sync.models import KINDS, kind_problem
from sync.ports import Encoder, VectorIndex
from sync.recall.retrieve import Scoring
from sync.retry import RetryPolicy
from sync.store import StoreLayout

if TYPE_CHECKING:
    from sync.care.maintain import MaintainPolicy


def make_encoder(settings: Settings) -> Encoder:
    """The configured model on the configured backend (ONNX Runtime unless told otherwise)."""
    from embeddings.backend import open_encoder

    return open_encoder(
        settings.model,
        backend=settings.model_backend,
        batch_size=settings.batch_size,
        roots=graph_roots(settings),
        note=lambda message: print(message, file=sys.stderr),
    )


def graph_roots(settings: Settings) -> list[Path]:
    """Where exported ONNX graphs are cached: the configured folder, else inside the
    environment, then the user's cache."""
    if settings.model_cache_dir:
        return [Path(settings.model_cache_dir).expanduser()]
    return default_roots(Path.home())


def index_id(settings: Settings) -> str:
    """Which index a store uses: ``edge``, ``local``, ``memory`` or ``server:<url>``."""
    return f"server:{settings.qdrant_url}" if settings.qdrant_url else settings.qdrant_mode


def open_index(
    ident: str, settings: Settings, layout: StoreLayout, *, reader: bool = False
) -> VectorIndex:
    """The index ``ident``; a ``reader`` (ask, audit) gives up quickly when the embedded index
    is held by another process, a writer waits for the reader to finish."""
    if ident.startswith("server:"):
        from embeddings.qdrant_index import QdrantIndex

        return QdrantIndex(
            url=ident.removeprefix("server:"),
            api_key=settings.qdrant_api_key or None,
            timeout=settings.qdrant_timeout_s,
        )
    if ident == "edge":
        from embeddings.edge_index import READER_WAIT_S, WRITER_WAIT_S, EdgeIndex

        wait_s = READER_WAIT_S if reader else WRITER_WAIT_S
        return EdgeIndex(layout.qdrant_edge_dir, wait_s=wait_s)
    from embeddings.qdrant_index import QdrantIndex

    return QdrantIndex(path=layout.qdrant_dir) if ident == "local" else QdrantIndex()


def make_index(settings: Settings, layout: StoreLayout, *, reader: bool = False) -> VectorIndex:
    return open_index(index_id(settings), settings, layout, reader=reader)


def embedded_folder(ident: str, layout: StoreLayout) -> Path | None:
    """The store folder an embedded index lives in; None for a server or in-memory index."""
    return {"edge": layout.qdrant_edge_dir, "local": layout.qdrant_dir}.get(ident)


def index_present(ident: str, layout: StoreLayout) -> bool:
    """Whether an index holds data worth opening (opening a fresh embedded one creates it)."""
    folder = embedded_folder(ident, layout)
    return folder is None or folder.exists()


def index_seal(ident: str, layout: StoreLayout) -> str | None:
    """A signature of an embedded index's files; None for a server or in-memory index."""
    folder = embedded_folder(ident, layout)
    return tree_seal(folder, skip=(".owner.lock",)) if folder is not None else None


def index_exists(settings: Settings, layout: StoreLayout) -> bool:
    return index_present(index_id(settings), layout)


def prepare_index(
    settings: Settings, layout: StoreLayout, *, quiet: bool = False
) -> dict[str, Any] | None:
    """Bring the index up to date before it is used: move the points to the configured
    backend, then upgrade an older collection schema; vectors are reused either way."""
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    moved = _move_backend(settings, layout, checkpoint, quiet=quiet)
    if moved is not None:  # the move rewrote the checkpoint
        checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    if pending_upgrade(checkpoint, settings.collection) is None:
        return moved
    with writer_lock(layout, skip=False):
        index = make_index(settings, layout)
        try:
            upgraded = upgrade_collection(layout, index, prefix=settings.collection)
        finally:
            index.close()
    if upgraded and not quiet:
        print(
            f"memsync: upgraded {upgraded['points']} points to hybrid search "
            f"({upgraded['from']} -> {upgraded['to']}; vectors reused)",
            file=sys.stderr,
        )
    if moved is None:
        return None if upgraded is None else {"upgraded": upgraded}
    return {**moved, "upgraded": upgraded}


def _move_backend(
    settings: Settings, layout: StoreLayout, checkpoint: Checkpoint, *, quiet: bool
) -> dict[str, Any] | None:
    target = index_id(settings)

    def present(ident: str) -> bool:
        return index_present(ident, layout)

    if pending_migration(layout, target, present, checkpoint) is None:
        return None
    with writer_lock(layout, skip=False):
        source = pending_migration(layout, target, present)
        if source is None:  # another process did it while we waited
            return None
        if not quiet:
            print(
                f"memsync: moving the index from {source} to {target} (vectors reused)",
                file=sys.stderr,
            )
        result = migrate_index(
            layout,
            source_id=source,
            target_id=target,
            open_index=lambda ident: open_index(ident, settings, layout),
        )
        folder = embedded_folder(source, layout)
        if folder is not None and folder.is_dir():
            shutil.rmtree(folder)  # derived data, now copied and verified
            result["removed"] = str(folder)
        return result


def sync_deps(settings: Settings, layout: StoreLayout, *, reader: bool = False) -> SyncDeps:
    """The core's dependencies; ``reader``: for dry runs, which only read the index."""
    return SyncDeps(
        encoder_model=canonical_model_name(settings.model),
        encoder_factory=lambda: make_encoder(settings),
        index_factory=lambda: make_index(settings, layout, reader=reader),
        index_exists=lambda: index_exists(settings, layout),
        index_seal=lambda: index_seal(index_id(settings), layout),
        index_id=index_id(settings),
        collection_prefix=settings.collection,
        policy=RetryPolicy(
            settings.retry_max_attempts, settings.retry_base_delay_s, settings.retry_max_delay_s
        ),
        batch_size=settings.batch_size,
        max_file_bytes=settings.max_file_bytes,
        kinds=known_kinds(settings),
    )


def dedup_thresholds(settings: Settings) -> DedupThresholds:
    """The ``[dedup]`` settings as the duplicate judge's thresholds."""
    return DedupThresholds(
        settings.dedup_noop_threshold,
        settings.dedup_update_threshold,
        settings.dedup_uncertain_band,
    )


def maintain_policy(settings: Settings) -> MaintainPolicy:
    """The ``[maintain]`` settings as the core's policy."""
    from sync.care.maintain import MaintainPolicy  # numpy: only where maintenance runs

    return MaintainPolicy(
        duplicate_threshold=settings.maintain_duplicate_threshold,
        decay_period_days=settings.maintain_decay_period_days,
        confidence_floor=settings.maintain_confidence_floor,
        archive_threshold=settings.maintain_archive_threshold,
        grace_period_days=settings.maintain_grace_period_days,
    )


def ask_scoring(settings: Settings, min_score: float | None = None) -> Scoring:
    """The ``[ask]`` settings as the core's scoring; ``min_score`` overrides the floor."""
    if min_score is not None and not 0.0 <= min_score <= 1.0:
        raise UsageError(f"--min-score {min_score}: choose 0..1 (0 shows every match)")
    floor = settings.ask_min_score if min_score is None else min_score
    return Scoring(floor, dict(settings.ask_kind_weights))


def known_kinds(settings: Settings) -> tuple[str, ...]:
    """The kind vocabulary: the built-in kinds, then ``[kinds] custom``."""
    return (*KINDS, *settings.kinds_custom)


def check_kind(settings: Settings, kind: str, what: str = "--kind") -> None:
    """Refuse a kind outside the vocabulary, naming the closest one and the choices."""
    problem = kind_problem(kind, settings.kinds_custom)
    if problem is not None:
        raise UsageError(f"{what} {problem}")
