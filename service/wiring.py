"""Builds the core's dependencies from settings: encoder, index, policies."""

from __future__ import annotations

from embeddings.encoder import canonical_model_name
from service.settings import Settings
from sync.dedup import DedupThresholds
from sync.engine import SyncDeps
from sync.ports import Encoder, VectorIndex
from sync.retry import RetryPolicy
from sync.store import StoreLayout


def make_encoder(settings: Settings) -> Encoder:
    from embeddings.encoder import SentenceTransformerEncoder

    return SentenceTransformerEncoder(settings.model, batch_size=settings.batch_size)


def make_index(settings: Settings, layout: StoreLayout) -> VectorIndex:
    from embeddings.qdrant_index import QdrantIndex

    if settings.qdrant_url:
        return QdrantIndex(
            url=settings.qdrant_url,
            api_key=settings.qdrant_api_key or None,
            timeout=settings.qdrant_timeout_s,
        )
    if settings.qdrant_mode == "memory":
        return QdrantIndex()
    return QdrantIndex(path=layout.qdrant_dir)


def index_exists(settings: Settings, layout: StoreLayout) -> bool:
    """Whether opening the index could find anything (opening a fresh embedded one creates it)."""
    return bool(settings.qdrant_url) or layout.qdrant_dir.exists()


def sync_deps(settings: Settings, layout: StoreLayout) -> SyncDeps:
    return SyncDeps(
        encoder_model=canonical_model_name(settings.model),
        encoder_factory=lambda: make_encoder(settings),
        index_factory=lambda: make_index(settings, layout),
        index_exists=lambda: index_exists(settings, layout),
        collection_prefix=settings.collection,
        policy=RetryPolicy(
            settings.retry_max_attempts, settings.retry_base_delay_s, settings.retry_max_delay_s
        ),
        batch_size=settings.batch_size,
        max_file_bytes=settings.max_file_bytes,
    )


def dedup_thresholds(settings: Settings) -> DedupThresholds:
    return DedupThresholds(settings.dedup_noop_threshold, settings.dedup_update_threshold)
