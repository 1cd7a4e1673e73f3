"""Ports the core depends on; adapters in ``embeddings`` implement them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sync.lexical import SparseVec
from sync.models import EncoderIdentity


class Encoder(Protocol):
    """Turns texts into unit-length vectors."""

    @property
    def identity(self) -> EncoderIdentity: ...

    def encode(self, texts: Sequence[str]) -> Sequence[Sequence[float]]: ...


@dataclass(frozen=True)
class IndexPoint:
    point_id: str
    vector: Sequence[float]
    payload: Mapping[str, Any]
    sparse: SparseVec | None = None  # lexical term weights (sync.lexical)


@dataclass(frozen=True)
class SearchHit:
    point_id: str
    score: float
    payload: Mapping[str, Any]
    vector: Sequence[float] | None = None  # the dense vector, when asked for


@dataclass(frozen=True)
class SearchFilter:
    """Restricts a search; empty tuples mean no restriction."""

    kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    include_archived: bool = False


class VectorIndex(Protocol):
    """A vector store holding one point per memory file.

    Writes return only once the backend has durably acknowledged them.
    """

    def ensure_collection(self, name: str, dim: int) -> None: ...

    def upsert(self, collection: str, points: Sequence[IndexPoint]) -> None: ...

    def delete(self, collection: str, point_ids: Sequence[str]) -> None: ...

    def search(
        self,
        collection: str,
        vector: Sequence[float],
        k: int,
        flt: SearchFilter | None = None,
        *,
        exact: bool = False,  # dedup needs exact neighbours, not approximate ones
    ) -> list[SearchHit]: ...

    def search_lexical(
        self,
        collection: str,
        query: SparseVec,
        k: int,
        flt: SearchFilter | None = None,
        *,
        with_vectors: bool = False,
    ) -> list[SearchHit]:
        """BM25 matches (IDF applied by the index), best first."""
        ...

    def find_by(
        self, collection: str, key: str, value: str, limit: int = 10
    ) -> list[SearchHit]: ...

    def vectors(self, collection: str, point_ids: Sequence[str]) -> dict[str, Sequence[float]]:
        """The stored dense vectors of these points (missing ones are left out)."""
        ...

    def count(self, collection: str) -> int: ...

    def point_ids(self, collection: str) -> set[str]: ...

    def collections(self) -> list[str]: ...

    def drop_collection(self, name: str) -> None: ...

    def export(self, collection: str) -> Iterator[IndexPoint]:
        """Every point with its vector and payload (to move between backends)."""
        ...

    def maintain(self, collection: str) -> bool:
        """Background-type upkeep (building the ANN index); True if it did something."""
        ...

    def close(self) -> None: ...
