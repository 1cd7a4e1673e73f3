"""Qdrant behind ``sync.ports.VectorIndex``: embedded local mode, in-memory, or a server URL."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from embeddings.vectors import dense_of, sparse_of
from sync.errors import LockBusyError, PermanentError, RetryableError
from sync.lexical import SPARSE_NAME, SparseVec
from sync.ports import IndexPoint, SearchFilter, SearchHit

T = TypeVar("T")
KEYWORD_FIELDS = ("kind", "tags", "path", "memory_id", "fingerprint", "status")


class QdrantIndex:
    """One client for every mode; server errors become retryable, bad requests permanent."""

    def __init__(
        self,
        *,
        path: Path | None = None,
        url: str | None = None,
        api_key: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        from qdrant_client import QdrantClient

        self.mode = "server" if url else ("local" if path else "memory")
        self.where = url or (str(path) if path else ":memory:")
        try:
            if url:
                self._client = QdrantClient(
                    url=url, api_key=api_key, timeout=int(timeout), check_compatibility=False
                )
            elif path is not None:
                self._client = QdrantClient(path=str(path))
            else:
                self._client = QdrantClient(location=":memory:")
        except RuntimeError as exc:
            if "already accessed" in str(exc):
                raise LockBusyError(
                    f"the embedded index {path} is open in another memsync process (a running "
                    "`memsync serve` or sync?); wait for it, or use its API"
                ) from None
            raise

    def ensure_collection(self, name: str, dim: int) -> None:
        from qdrant_client import models

        def make() -> None:
            if self._client.collection_exists(name):
                size = self._vector_size(name)
                if size != dim:
                    raise PermanentError(f"collection {name} holds {size}-dim vectors, not {dim}")
                return
            self._client.create_collection(
                name,
                vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE),
                sparse_vectors_config={
                    SPARSE_NAME: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
            )
            if self.mode == "server":  # local mode has no payload indexes
                for key in KEYWORD_FIELDS:
                    self._client.create_payload_index(name, key, models.PayloadSchemaType.KEYWORD)

        self._call(make)

    def upsert(self, collection: str, points: Sequence[IndexPoint]) -> None:
        from qdrant_client import models

        structs = [
            models.PointStruct(id=p.point_id, vector=_vectors(p), payload=dict(p.payload))
            for p in points
        ]
        self._call(lambda: self._client.upsert(collection, points=structs, wait=True))

    def delete(self, collection: str, point_ids: Sequence[str]) -> None:
        from qdrant_client import models

        if not point_ids or not self._exists(collection):
            return
        selector = models.PointIdsList(points=list(point_ids))
        self._call(lambda: self._client.delete(collection, points_selector=selector, wait=True))

    def search(
        self,
        collection: str,
        vector: Sequence[float],
        k: int,
        flt: SearchFilter | None = None,
        *,
        exact: bool = False,
    ) -> list[SearchHit]:
        from qdrant_client import models

        if not self._exists(collection):
            return []
        res = self._call(
            lambda: self._client.query_points(
                collection,
                query=list(vector),
                limit=k,
                query_filter=_filter(flt or SearchFilter()),
                with_payload=True,
                # local mode always searches exactly (and warns about search params)
                search_params=models.SearchParams(exact=True)
                if exact and self.mode == "server"
                else None,
            )
        )
        return [SearchHit(str(p.id), min(float(p.score), 1.0), p.payload or {}) for p in res.points]

    def search_lexical(
        self,
        collection: str,
        query: SparseVec,
        k: int,
        flt: SearchFilter | None = None,
        *,
        with_vectors: bool = False,
    ) -> list[SearchHit]:
        from qdrant_client import models

        if not query or not self._exists(collection):
            return []
        sparse = models.SparseVector(indices=list(query.indices), values=list(query.values))
        res = self._call(
            lambda: self._client.query_points(
                collection,
                query=sparse,
                using=SPARSE_NAME,
                limit=k,
                query_filter=_filter(flt or SearchFilter()),
                with_payload=True,
                with_vectors=[""] if with_vectors else False,
            )
        )
        return [
            SearchHit(str(p.id), float(p.score), p.payload or {}, dense_of(p.vector))
            for p in res.points
        ]

    def find_by(self, collection: str, key: str, value: str, limit: int = 10) -> list[SearchHit]:
        from qdrant_client import models

        if not self._exists(collection):
            return []
        condition = models.FieldCondition(key=key, match=models.MatchValue(value=value))
        flt = models.Filter(must=[condition])
        points, _ = self._call(
            lambda: self._client.scroll(
                collection, scroll_filter=flt, limit=limit, with_payload=True, with_vectors=False
            )
        )
        return [SearchHit(str(p.id), 1.0, p.payload or {}) for p in points]

    def vectors(self, collection: str, point_ids: Sequence[str]) -> dict[str, Sequence[float]]:
        if not point_ids or not self._exists(collection):
            return {}
        records = self._call(
            lambda: self._client.retrieve(
                collection, ids=list(point_ids), with_payload=False, with_vectors=True
            )
        )
        out: dict[str, Sequence[float]] = {}
        for r in records:
            dense = dense_of(r.vector)
            if dense:
                out[str(r.id)] = dense
        return out

    def count(self, collection: str) -> int:
        if not self._exists(collection):
            return 0
        return int(self._call(lambda: self._client.count(collection, exact=True)).count)

    def point_ids(self, collection: str) -> set[str]:
        return {p.point_id for p in self._scroll(collection, with_vectors=False)}

    def export(self, collection: str) -> Iterator[IndexPoint]:
        return self._scroll(collection, with_vectors=True)

    def maintain(self, collection: str) -> bool:
        return False  # a server optimizes by itself; local mode has no ANN index to build

    def _scroll(self, collection: str, *, with_vectors: bool) -> Iterator[IndexPoint]:
        if not self._exists(collection):
            return
        offset: Any = None
        while True:
            page = partial(
                self._client.scroll,
                collection,
                limit=1024,
                offset=offset,
                with_payload=with_vectors,
                with_vectors=with_vectors,
            )
            points, offset = self._call(page)
            for p in points:
                yield IndexPoint(
                    str(p.id), dense_of(p.vector) or [], p.payload or {}, sparse_of(p.vector)
                )
            if offset is None:
                return

    def collections(self) -> list[str]:
        return sorted(c.name for c in self._call(self._client.get_collections).collections)

    def drop_collection(self, name: str) -> None:
        if self._exists(name):
            self._call(lambda: self._client.delete_collection(name))

    def close(self) -> None:
        self._client.close()

    def _exists(self, name: str) -> bool:
        return bool(self._call(lambda: self._client.collection_exists(name)))

    def _vector_size(self, name: str) -> int:
        params = self._client.get_collection(name).config.params.vectors
        if isinstance(params, dict):
            params = params.get("")
        return int(params.size)  # type: ignore[union-attr]

    def _call(self, fn: Callable[[], T]) -> T:
        """Run a client call, mapping transport failures to retryable errors."""
        try:
            return fn()
        except (PermanentError, RetryableError):
            raise
        except Exception as exc:  # boundary: classify whatever the client raises
            raise _classify(exc, self.where) from exc


def _classify(exc: Exception, where: str) -> Exception:
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 500 and status not in (408, 429):
        return PermanentError(f"Qdrant at {where} rejected the request ({status}): {exc}")
    if isinstance(exc, ValueError | TypeError | KeyError | AssertionError):
        return PermanentError(f"Qdrant at {where}: {name}: {exc}")
    return RetryableError(f"Qdrant at {where} unavailable ({name}: {exc})")


def _filter(flt: SearchFilter) -> Any:
    from qdrant_client import models

    must: list[Any] = []
    if flt.kinds:
        must.append(models.FieldCondition(key="kind", match=models.MatchAny(any=list(flt.kinds))))
    must.extend(
        models.FieldCondition(key="tags", match=models.MatchValue(value=t)) for t in flt.tags
    )
    must_not: list[Any] = (
        []
        if flt.include_archived
        else [models.FieldCondition(key="status", match=models.MatchValue(value="archived"))]
    )
    return models.Filter(must=must or None, must_not=must_not or None)


def _vectors(point: IndexPoint) -> Any:
    from qdrant_client import models

    dense = [float(x) for x in point.vector]
    if not point.sparse:
        return dense
    sparse = models.SparseVector(
        indices=list(point.sparse.indices), values=list(point.sparse.values)
    )
    return {"": dense, SPARSE_NAME: sparse}
