"""The cheap check every sync makes: does the index hold as many points as the checkpoint
says? When not, which memories lost their point (re-indexed from the markdown) and which
points no memory accounts for (removed: a write whose run was killed before recording it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sync.errors import LockBusyError
from sync.index.checkpoint import Checkpoint
from sync.ports import VectorIndex


@dataclass(frozen=True)
class IndexCheck:
    """What the check found; ``points`` None when it did not look (nothing to compare)."""

    expected: int = 0
    points: int | None = None
    missing: frozenset[str] = frozenset()  # paths whose point is gone
    strays: tuple[str, ...] = ()  # point ids without a memory
    problem: str | None = None  # for people: "the index is missing: ... re-indexed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "expected": self.expected,
            "points": self.points,
            "missing": len(self.missing),
            "strays": len(self.strays),
            "problem": self.problem,
        }


def check_index(
    checkpoint: Checkpoint,
    *,
    index_id: str,
    encoder_model: str,
    index_exists: Callable[[], bool],
    index_factory: Callable[[], VectorIndex],
    repair: bool = True,
) -> IndexCheck:
    """Compare the point count with the checkpoint; list differences only when it differs.
    A collection that cannot be read is dropped (``repair``) and rebuilt like a missing one."""
    encoder, collection = checkpoint.encoder, checkpoint.collection
    if not checkpoint.entries or encoder is None or collection is None:
        return IndexCheck()
    if checkpoint.effective_index_id != index_id or encoder.model != encoder_model:
        return IndexCheck()  # a move or a new model re-indexes everything anyway
    expected = {e.point_id: p for p, e in checkpoint.entries.items() if e.model == encoder.model}
    rebuild = f"{len(expected)} memories are re-indexed from the markdown"
    if not index_exists():
        return IndexCheck(
            len(expected), 0, frozenset(expected.values()), (), f"the index is missing: {rebuild}"
        )
    index = index_factory()
    try:
        points = index.count(collection)
        if points == len(expected):
            return IndexCheck(len(expected), points)
        ids = index.point_ids(collection)
    except LockBusyError:
        raise
    except Exception as exc:  # boundary: a damaged index is derived data, rebuilt
        if repair:
            index.drop_collection(collection)
        problem = f"the index could not be read ({exc}): {rebuild}"
        return IndexCheck(len(expected), 0, frozenset(expected.values()), (), problem)
    finally:
        index.close()
    missing = frozenset(p for pid, p in expected.items() if pid not in ids)
    strays = tuple(sorted(ids - expected.keys()))
    parts: list[str] = []
    if missing:
        parts.append(f"{len(missing)} memory(ies) without a point are re-indexed from the markdown")
    if strays:
        parts.append(f"{len(strays)} point(s) without a memory file are removed")
    summary = f"the index held {points} points for {len(expected)} memories: " + "; ".join(parts)
    return IndexCheck(len(expected), points, missing, strays, summary if parts else None)
