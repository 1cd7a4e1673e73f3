"""Qdrant's in-process engine (qdrant-edge) behind ``sync.ports.VectorIndex``.

One edge shard per collection, in ``<root>/<collection>/``. Writes are flushed before
``upsert``/``delete`` return, so the checkpoint only ever records durable points. The folder
has one owner process at a time: ``<root>/.owner.lock`` is taken before any shard file is
opened (a second process opening a shard that is being written corrupts it), waiting up to
``wait_s`` for a holder; a process that still cannot have it touches nothing (busy store).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from embeddings.edge_owner import MIN_FREE_BYTES, drop_owner, ensure_room, storage_fault, take_owner
from embeddings.vectors import dense_of, sparse_of
from sync.errors import LockBusyError, PermanentError, RetryableError, StorageError
from sync.lexical import SPARSE_NAME, SparseVec
from sync.ports import IndexPoint, SearchFilter, SearchHit

KEYWORD_FIELDS = ("kind", "tags", "path", "memory_id", "fingerprint", "status")
# Above this many vectors outside the HNSW index, `maintain` builds it (optimize). Exact
# search over the unindexed part costs ~4 ms per 20,000 vectors here (docs/benchmarks.md).
OPTIMIZE_UNINDEXED = 20_000
# ef=128: recall@5 0.996 at 100,000 real MiniLM embeddings, p50 1.1 ms (ef=64: 0.979);
# measured by scripts/bench_index.py, table in docs/benchmarks.md
HNSW_EF = 128
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
WRITER_WAIT_S = 60.0  # a writer outwaits a reader's search or audit
READER_WAIT_S = 2.0  # a reader gives up quickly when a sync holds the index


class EdgeIndex:
    """Embedded Qdrant shards; safe to share between threads of one process."""

    mode = "edge"

    def __init__(
        self,
        root: Path,
        *,
        optimize_unindexed: int = OPTIMIZE_UNINDEXED,
        hnsw_ef: int = HNSW_EF,
        wait_s: float = 0.0,
    ) -> None:
        import qdrant_edge  # noqa: F401  (fail here, at wiring time, if it is missing)

        self.root = root
        self.where = str(root)
        self.wait_s = wait_s
        self.min_free = MIN_FREE_BYTES
        self._owner = False
        self.optimize_unindexed = optimize_unindexed
        self.hnsw_ef = hnsw_ef
        self._shards: dict[str, Any] = {}
        self._written: set[str] = set()
        self._lock = threading.Lock()  # guards _shards; the shards lock themselves

    # -- collections -------------------------------------------------------------------------

    def ensure_collection(self, name: str, dim: int) -> None:
        # the dimension is part of the collection name (sync.models.collection_name)
        self._shard(name, create_dim=dim)

    def collections(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if _NAME.match(p.name) and (p / "wal").exists()
        )

    def drop_collection(self, name: str) -> None:
        path = self._path(name)
        if path.is_dir():
            self._own()
        with self._lock:
            shard = self._shards.pop(name, None)
            self._written.discard(name)
        if shard is not None:
            shard.close()
        if path.is_dir():
            shutil.rmtree(path)

    # -- writes ------------------------------------------------------------------------------

    def upsert(self, collection: str, points: Sequence[IndexPoint]) -> None:
        from qdrant_edge import Point, UpdateOperation

        if not points:
            return
        self._room()
        shard = self._shard(collection)
        batch = [Point(p.point_id, _vectors(p), dict(p.payload)) for p in points]
        self._write(shard, UpdateOperation.upsert_points(batch))
        self._written.add(collection)

    def delete(self, collection: str, point_ids: Sequence[str]) -> None:
        from qdrant_edge import UpdateOperation

        if not point_ids or not self._exists(collection):
            return
        self._room()
        self._write(self._shard(collection), UpdateOperation.delete_points(list(point_ids)))
        self._written.add(collection)

    def maintain(self, collection: str) -> bool:
        """Build the HNSW index once enough vectors sit outside it; True if it did."""
        if not self._exists(collection):
            return False
        shard = self._shard(collection)
        info = shard.info()
        if info.points_count - info.indexed_vectors_count < self.optimize_unindexed:
            return False
        self._room()
        changed = bool(shard.optimize())
        shard.flush()
        self._written.add(collection)
        return changed

    # -- reads -------------------------------------------------------------------------------

    def search(
        self,
        collection: str,
        vector: Sequence[float],
        k: int,
        flt: SearchFilter | None = None,
        *,
        exact: bool = False,
    ) -> list[SearchHit]:
        from qdrant_edge import Query, QueryRequest, SearchParams

        if not self._exists(collection):
            return []
        flt = flt or SearchFilter()
        # HNSW under a kind/tag filter lost recall (0.966 at 100k); exact keeps 1.0 for ~11 ms
        exact = exact or bool(flt.kinds or flt.tags)
        request = QueryRequest(
            limit=k,
            query=Query.Nearest([float(x) for x in vector]),
            filter=_filter(flt),
            with_payload=True,
            params=SearchParams(exact=exact, hnsw_ef=None if exact else self.hnsw_ef),
        )
        points = self._read(lambda: self._shard(collection).query(request))
        return [SearchHit(str(p.id), min(float(p.score), 1.0), p.payload or {}) for p in points]

    def search_lexical(
        self,
        collection: str,
        query: SparseVec,
        k: int,
        flt: SearchFilter | None = None,
        *,
        with_vectors: bool = False,
    ) -> list[SearchHit]:
        from qdrant_edge import Query, QueryRequest, SparseVector

        if not query or not self._exists(collection):
            return []
        request = QueryRequest(
            limit=k,
            query=Query.Nearest(
                SparseVector(indices=list(query.indices), values=list(query.values)),
                using=SPARSE_NAME,
            ),
            filter=_filter(flt or SearchFilter()),
            with_payload=True,
            with_vector=with_vectors,
        )
        points = self._read(lambda: self._shard(collection).query(request))
        return [
            SearchHit(str(p.id), float(p.score), p.payload or {}, dense_of(p.vector))
            for p in points
        ]

    def find_by(self, collection: str, key: str, value: str, limit: int = 10) -> list[SearchHit]:
        from qdrant_edge import FieldCondition, Filter, MatchValue, ScrollRequest

        if not self._exists(collection):
            return []
        flt = Filter(must=[FieldCondition(key=key, match=MatchValue(value))])
        request = ScrollRequest(limit=limit, filter=flt, with_payload=True, with_vector=False)
        records, _ = self._read(lambda: self._shard(collection).scroll(request))
        return [SearchHit(str(r.id), 1.0, r.payload or {}) for r in records]

    def vectors(self, collection: str, point_ids: Sequence[str]) -> dict[str, Sequence[float]]:
        from qdrant_edge import Filter, HasIdCondition, ScrollRequest

        if not point_ids or not self._exists(collection):
            return {}
        out: dict[str, Sequence[float]] = {}
        ids = list(point_ids)
        for start in range(0, len(ids), 1024):
            chunk = ids[start : start + 1024]
            request = ScrollRequest(
                limit=len(chunk),
                filter=Filter(must=[HasIdCondition(set(chunk))]),
                with_payload=False,
                with_vector=True,
            )
            records, _ = self._read(lambda r=request: self._shard(collection).scroll(r))
            for r in records:
                dense = dense_of(r.vector)
                if dense:
                    out[str(r.id)] = dense
        return out

    def count(self, collection: str) -> int:
        from qdrant_edge import CountRequest

        if not self._exists(collection):
            return 0
        return int(self._read(lambda: self._shard(collection).count(CountRequest(exact=True))))

    def point_ids(self, collection: str) -> set[str]:
        return {p.point_id for p in self._scroll(collection, with_vectors=False)}

    def export(self, collection: str) -> Iterator[IndexPoint]:
        """Every point with its vector and payload (used to migrate between backends)."""
        return self._scroll(collection, with_vectors=True)

    def close(self) -> None:
        """Flush what was written and close; shards written to are loaded once more and
        closed, because the first load after writes compacts files: later read-only opens
        (dry runs) then leave every byte as it is."""
        from qdrant_edge import EdgeShard

        with self._lock:
            shards, self._shards = dict(self._shards), {}
            written, self._written = set(self._written), set()
        try:
            for name, shard in shards.items():
                if name in written:  # a read-only shard has nothing to flush (saves its fsyncs)
                    shard.flush()
                shard.close()
                if name in written:  # still the owner: nobody else opened it in between
                    with contextlib.suppress(Exception):
                        EdgeShard.load(str(self._path(name))).close()
        finally:
            if self._owner:
                self._owner = False
                drop_owner(self.root)

    # -- internals ---------------------------------------------------------------------------

    def _scroll(self, collection: str, *, with_vectors: bool) -> Iterator[IndexPoint]:
        from qdrant_edge import ScrollRequest

        if not self._exists(collection):
            return
        offset: Any = None
        while True:
            request = ScrollRequest(
                offset=offset, limit=1024, with_payload=with_vectors, with_vector=with_vectors
            )
            records, offset = self._read(lambda r=request: self._shard(collection).scroll(r))
            for r in records:
                yield IndexPoint(
                    str(r.id), dense_of(r.vector) or [], r.payload or {}, sparse_of(r.vector)
                )
            if offset is None:
                return

    def _path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise PermanentError(f"collection name {name!r}: letters, digits, '.', '-', '_'")
        return self.root / name

    def _room(self) -> None:
        ensure_room(self.root, self.min_free)

    def _own(self) -> None:
        """Become the folder's owner before any shard file is opened (once per object)."""
        if not self._owner:
            self.root.mkdir(parents=True, exist_ok=True)
            take_owner(self.root, self.wait_s)
            self._owner = True

    def _exists(self, name: str) -> bool:
        return name in self._shards or (self._path(name) / "wal").exists()

    def _shard(self, name: str, create_dim: int | None = None) -> Any:
        from qdrant_edge import EdgeShard

        with self._lock:
            shard = self._shards.get(name)
            if shard is not None:
                return shard
            path = self._path(name)
            if (path / "wal").exists() or create_dim is not None:
                self._own()
            try:
                if (path / "wal").exists():
                    shard = EdgeShard.load(str(path))
                elif create_dim is not None:
                    self._room()
                    shard = self._create(path, create_dim)
                    self._written.add(name)
                else:
                    raise PermanentError(f"collection {name} does not exist")
            except Exception as exc:  # boundary: map the engine's errors
                if "WouldBlock" in str(exc):
                    raise LockBusyError(
                        f"the embedded index {path} is open in another memsync process (a "
                        "running `memsync serve` or sync?); wait for it, or use its API"
                    ) from None
                if isinstance(exc, PermanentError | StorageError):
                    raise
                if storage_fault(str(exc)):
                    raise StorageError(f"cannot open the embedded index {path}: {exc}") from exc
                raise PermanentError(f"cannot open the embedded index {path}: {exc}") from exc
            self._shards[name] = shard
            return shard

    @staticmethod
    def _create(path: Path, dim: int) -> Any:
        from qdrant_edge import (
            Distance,
            EdgeConfig,
            EdgeShard,
            EdgeSparseVectorParams,
            EdgeVectorParams,
            Modifier,
            PayloadSchemaType,
            UpdateOperation,
        )

        path.mkdir(parents=True, exist_ok=True)
        shard = EdgeShard.create(
            str(path),
            EdgeConfig(
                vectors={"": EdgeVectorParams(size=dim, distance=Distance.Cosine)},
                sparse_vectors={SPARSE_NAME: EdgeSparseVectorParams(modifier=Modifier.Idf)},
            ),
        )
        for key in KEYWORD_FIELDS:
            shard.update(UpdateOperation.create_field_index(key, PayloadSchemaType.Keyword))
        shard.flush()
        return shard

    @staticmethod
    def _write(shard: Any, operation: Any) -> None:
        try:
            shard.update(operation)
            shard.flush()  # durable before returning: the checkpoint may now record it
        except Exception as exc:  # boundary: classify what the engine raises
            message = str(exc)
            if storage_fault(message):
                raise StorageError(f"embedded index write failed: {message}") from exc
            if "WouldBlock" in message:
                raise RetryableError(f"embedded index write failed: {message}") from exc
            raise PermanentError(f"embedded index rejected the write: {message}") from exc

    @staticmethod
    def _read(fn: Any) -> Any:
        try:
            return fn()
        except (PermanentError, RetryableError, LockBusyError, StorageError):
            raise
        except Exception as exc:  # boundary
            raise RetryableError(f"embedded index read failed: {exc}") from exc


def _filter(flt: SearchFilter) -> Any:
    from qdrant_edge import FieldCondition, Filter, MatchAny, MatchValue

    must: list[Any] = []
    if flt.kinds:
        must.append(FieldCondition(key="kind", match=MatchAny(list(flt.kinds))))
    must.extend(FieldCondition(key="tags", match=MatchValue(t)) for t in flt.tags)
    must_not: list[Any] = (
        [] if flt.include_archived else [FieldCondition(key="status", match=MatchValue("archived"))]
    )
    if not must and not must_not:
        return None
    return Filter(must=must or None, must_not=must_not or None)


def _vectors(point: IndexPoint) -> Any:
    from qdrant_edge import SparseVector

    dense = [float(x) for x in point.vector]
    if not point.sparse:
        return dense
    sparse = SparseVector(indices=list(point.sparse.indices), values=list(point.sparse.values))
    return {"": dense, SPARSE_NAME: sparse}
