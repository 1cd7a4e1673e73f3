"""Reading the vectors a Qdrant record carries (both engines return the same shapes)."""

from __future__ import annotations

from typing import Any

from sync.lexical import SPARSE_NAME, SparseVec


def dense_of(vector: Any) -> list[float] | None:
    """The unnamed dense vector of a record: a plain list, or the "" entry of a dict."""
    if isinstance(vector, dict):
        vector = vector.get("")
    return [float(x) for x in vector] if isinstance(vector, list) else None


def sparse_of(vector: Any) -> SparseVec | None:
    """The lexical sparse vector of a record, when it has one."""
    sparse = vector.get(SPARSE_NAME) if isinstance(vector, dict) else None
    if sparse is None or not sparse.indices:
        return None
    return SparseVec(tuple(int(i) for i in sparse.indices), tuple(float(v) for v in sparse.values))
