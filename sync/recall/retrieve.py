"""Ask: find the memories that answer a question, best first.

Hybrid by default: the dense (embedding) ranking and the lexical (BM25) ranking are fused by
reciprocal rank, so an exact identifier or error string still finds its memory when the
embedding alone would not. Scores shown are cosine similarities (comparable across asks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.errors import UsageError
from sync.lexical import DENSE_WEIGHT, SparseVec, query_vector, rrf
from sync.ports import Encoder, SearchFilter, SearchHit, VectorIndex

MODES = ("hybrid", "dense", "lexical")
MAX_TIE_FETCH = 2_000


@dataclass(frozen=True)
class Ranked:
    """One retrieved memory: its point, cosine score, BM25 score and fused rank score."""

    hit: SearchHit
    score: float
    lexical: float | None
    rank_score: float


def ask(
    question: str,
    *,
    encoder: Encoder,
    index: VectorIndex,
    collection: str,
    k: int,
    flt: SearchFilter,
    memory_dir: Path,
    mode: str = "hybrid",
) -> list[dict[str, Any]]:
    """Top-k memories for a question, with path, title, kind, score and a snippet."""
    if not question.strip():
        raise UsageError("the question is empty")
    if mode not in MODES:
        raise UsageError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    vector = encoder.encode([question])[0]
    ranked = search(question, vector, index=index, collection=collection, k=k, flt=flt, mode=mode)
    return [_result(r, memory_dir) for r in ranked]


def search(
    question: str,
    vector: Sequence[float],
    *,
    index: VectorIndex,
    collection: str,
    k: int,
    flt: SearchFilter,
    mode: str = "hybrid",
    depth: int | None = None,
) -> list[Ranked]:
    """The dense and/or lexical rankings of ``collection``, fused by reciprocal rank."""
    if mode == "dense":
        return [Ranked(h, h.score, None, 0.0) for h in index.search(collection, vector, k, flt)]
    pool = depth or max(4 * k, 20)
    lexical = lexical_top(index, collection, query_vector(question), pool, flt)
    dense = stable_order(index.search(collection, vector, pool, flt)) if mode == "hybrid" else []
    return fuse(vector, dense, lexical, k)


def lexical_top(
    index: VectorIndex, collection: str, query: SparseVec, pool: int, flt: SearchFilter
) -> list[SearchHit]:
    """The best ``pool`` BM25 matches, with ties at the cut resolved by point id: engines
    return an arbitrary subset of equally scored points, so fetch past the tie first."""
    limit = pool
    while True:
        hits = stable_order(
            index.search_lexical(collection, query, limit + 1, flt, with_vectors=True)
        )
        if len(hits) <= limit or limit >= MAX_TIE_FETCH:
            break  # every match is here
        if not _tied(hits[limit].score, hits[pool - 1].score):
            break  # the group tied at the cut ends inside what was fetched
        limit *= 4
    return hits[:pool]


def stable_order(hits: Sequence[SearchHit]) -> list[SearchHit]:
    """Best first; scores equal up to float noise (engines differ in the last bits) count
    as ties and are ordered by point id, so every backend gives the same ranking."""
    ordered = sorted(hits, key=lambda h: -h.score)
    out: list[SearchHit] = []
    group: list[SearchHit] = []
    for hit in ordered:
        if group and not _tied(group[-1].score, hit.score):
            out.extend(sorted(group, key=lambda h: h.point_id))
            group = []
        group.append(hit)
    out.extend(sorted(group, key=lambda h: h.point_id))
    return out


def _tied(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-5 * max(abs(a), abs(b), 1e-3)


def fuse(
    vector: Sequence[float], dense: Sequence[SearchHit], lexical: Sequence[SearchHit], k: int
) -> list[Ranked]:
    """Reciprocal-rank fusion of the two rankings; each result keeps its cosine score."""
    by_id = {h.point_id: h for h in (*lexical, *dense)}
    cosine = {h.point_id: h.score for h in dense}
    bm25 = {h.point_id: h.score for h in lexical}
    rankings = [[h.point_id for h in dense], [h.point_id for h in lexical]]
    out = []
    for point, fused in rrf(rankings, [DENSE_WEIGHT, 1.0])[:k]:
        hit = by_id[point]
        score = cosine.get(point)
        if score is None:
            score = _dot(vector, hit.vector) if hit.vector is not None else 0.0
        out.append(Ranked(hit, score, bm25.get(point), fused))
    return out


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return min(sum(x * y for x, y in zip(a, b, strict=False)), 1.0)


def _result(ranked: Ranked, memory_dir: Path) -> dict[str, Any]:
    payload = ranked.hit.payload
    return {
        "id": payload.get("memory_id"),
        "path": payload.get("path"),
        "file": str(memory_dir / str(payload.get("path", ""))),
        "title": payload.get("title"),
        "kind": payload.get("kind"),
        "tags": payload.get("tags", []),
        "score": round(float(ranked.score), 4),
        "lexical": None if ranked.lexical is None else round(ranked.lexical, 4),
        "snippet": _snippet(str(payload.get("snippet", ""))),
        "updated": payload.get("updated"),
    }


def _snippet(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
