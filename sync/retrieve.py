"""Ask: embed a question and return the memories that answer it, best first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sync.errors import UsageError
from sync.ports import Encoder, SearchFilter, VectorIndex


def ask(
    question: str,
    *,
    encoder: Encoder,
    index: VectorIndex,
    collection: str,
    k: int,
    flt: SearchFilter,
    memory_dir: Path,
) -> list[dict[str, Any]]:
    """Top-k memories for a question, with path, title, kind, score and a snippet."""
    if not question.strip():
        raise UsageError("the question is empty")
    vector = encoder.encode([question])[0]
    hits = index.search(collection, vector, k, flt)
    return [_result(hit.payload, hit.score, memory_dir) for hit in hits]


def _result(payload: Any, score: float, memory_dir: Path) -> dict[str, Any]:
    return {
        "id": payload.get("memory_id"),
        "path": payload.get("path"),
        "file": str(memory_dir / str(payload.get("path", ""))),
        "title": payload.get("title"),
        "kind": payload.get("kind"),
        "tags": payload.get("tags", []),
        "score": round(float(score), 4),
        "snippet": _snippet(str(payload.get("snippet", ""))),
        "updated": payload.get("updated"),
    }


def _snippet(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
