"""Ask: find the memories that answer a question, best first, each with the one score that
orders the list.

Hybrid (default) and dense: the score is a relevance in about [0, 1] — the cosine of question
and memory, raised toward 1 by BM25 term matches (`sync.lexical.relevance`, so an exact
identifier or error string still finds its memory), times the kind's weight (a session
summary counts 0.85: it outranks a decision only when it answers clearly better; a long
memory matched by one of its lines answers by that line, and its kind weight does not
apply). Results under the floor (`Scoring.min_score`, chosen on the evaluation sets:
docs/benchmarks.md) are withheld, so an unrelated question gets "no strong match" instead of noise.
Lexical: BM25 alone, with its own (unbounded) score; no model is loaded, and only memories
sharing a term with the question come back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sync.errors import UsageError
from sync.index.passages import PAYLOAD_KEY as PASSAGES
from sync.index.passages import best_passage, passage_line
from sync.lexical import SparseVec, query_vector, relevance
from sync.ports import Encoder, SearchFilter, SearchHit, VectorIndex
from sync.recall.scoring import Scoring
from sync.recall.snippet import snippet
from sync.store import try_read_memory

MODES = ("hybrid", "dense", "lexical")
MAX_TIE_FETCH = 2_000


@dataclass(frozen=True)
class Ranked:
    """One retrieved memory: the score that orders the list, and the signals behind it."""

    hit: SearchHit
    score: float  # relevance (hybrid, dense) or BM25 (lexical)
    cosine: float | None  # of the memory, or of its best line less the margin
    lexical: float | None
    passage: int | None = None  # which stored line matched best, when one counted


def ask(
    question: str,
    *,
    encoder: Encoder | None,
    index: VectorIndex,
    collection: str,
    k: int,
    flt: SearchFilter,
    memory_dir: Path,
    mode: str = "hybrid",
    scoring: Scoring | None = None,
) -> dict[str, Any]:
    """The top-k memories above the floor, each with path, title, kind, score and snippet, and
    what was withheld under the floor. ``encoder`` may be None in lexical mode."""
    if not question.strip():
        raise UsageError("the question is empty")
    if mode not in MODES:
        raise UsageError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    scoring = scoring or Scoring()
    vector = None
    if mode != "lexical":
        if encoder is None:
            raise UsageError(f"mode {mode!r} needs the embedding model")
        vector = encoder.encode([question])[0]
    ranked = search(
        question, vector, index=index, collection=collection, k=k, flt=flt, mode=mode,
        scoring=scoring,
    )  # fmt: skip
    floor = None if mode == "lexical" else scoring.min_score
    kept = [r for r in ranked if not floor or r.score >= floor]  # 0: every match
    withheld = ranked[len(kept) :]
    closest = withheld[0] if withheld else None
    return {
        "results": [_result(r, memory_dir, question) for r in kept],
        "scoring": {
            "mode": mode,
            "score": "bm25" if mode == "lexical" else "relevance",
            "min_score": floor,
        },
        "withheld": len(withheld),
        "closest": None if closest is None else _brief(closest),
        "no_strong_match": not kept and bool(withheld),
    }


def search(
    question: str,
    vector: Sequence[float] | None,
    *,
    index: VectorIndex,
    collection: str,
    k: int,
    flt: SearchFilter,
    mode: str = "hybrid",
    depth: int | None = None,
    scoring: Scoring | None = None,
) -> list[Ranked]:
    """The ``k`` best memories of ``collection`` by their score, no floor applied."""
    scoring = scoring or Scoring()
    pool = depth or max(4 * k, 20)
    if mode == "lexical":
        hits = lexical_top(index, collection, query_vector(question), k, flt, with_vectors=False)
        return [Ranked(h, h.score, None, h.score) for h in hits]
    if vector is None:
        raise ValueError("dense and hybrid search need the question's vector")
    dense = stable_order(index.search(collection, vector, pool, flt))
    lexical = []
    if mode == "hybrid":
        lexical = lexical_top(index, collection, query_vector(question), pool, flt)
    return fuse(vector, dense, lexical, k, scoring)


def lexical_top(
    index: VectorIndex,
    collection: str,
    query: SparseVec,
    pool: int,
    flt: SearchFilter,
    *,
    with_vectors: bool = True,
) -> list[SearchHit]:
    """The best ``pool`` BM25 matches, with ties at the cut resolved by point id: engines
    return an arbitrary subset of equally scored points, so fetch past the tie first."""
    limit = pool
    while True:
        hits = stable_order(
            index.search_lexical(collection, query, limit + 1, flt, with_vectors=with_vectors)
        )
        if len(hits) <= limit or limit >= MAX_TIE_FETCH:
            break  # every match is here
        if not _tied(hits[limit].score, hits[pool - 1].score):
            break  # the group tied at the cut ends inside what was fetched
        limit *= 4
    return hits[:pool]


T = TypeVar("T")


def by_score(items: Sequence[T], score: Callable[[T], float], key: Callable[[T], str]) -> list[T]:
    """Best first; scores equal up to float noise (engines differ in the last bits) count
    as ties and are ordered by ``key``, so every backend gives the same ranking."""
    ordered = sorted(items, key=lambda x: -score(x))
    out: list[T] = []
    group: list[T] = []
    for item in ordered:
        if group and not _tied(score(group[-1]), score(item)):
            out.extend(sorted(group, key=key))
            group = []
        group.append(item)
    out.extend(sorted(group, key=key))
    return out


def stable_order(hits: Sequence[SearchHit]) -> list[SearchHit]:
    """Hits best first, ties by point id."""
    return by_score(hits, lambda h: h.score, lambda h: h.point_id)


def _tied(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-5 * max(abs(a), abs(b), 1e-3)


def fuse(
    vector: Sequence[float],
    dense: Sequence[SearchHit],
    lexical: Sequence[SearchHit],
    k: int,
    scoring: Scoring,
) -> list[Ranked]:
    """Score every memory of either ranking by relevance (cosine raised by its BM25 match,
    times its kind's weight) and keep the ``k`` best."""
    by_id = {h.point_id: h for h in (*lexical, *dense)}
    cosine = {h.point_id: h.score for h in dense}
    bm25 = {h.point_id: h.score for h in lexical}
    ranked = []
    for point, hit in by_id.items():
        cos = cosine.get(point)
        if cos is None:
            cos = _dot(vector, hit.vector) if hit.vector is not None else 0.0
        lex = bm25.get(point)
        line = None
        packed = hit.payload.get(PASSAGES)
        best = best_passage(packed, vector) if isinstance(packed, str) else None
        if best is not None and best[0] - scoring.passage_margin > cos:
            cos, line = best[0] - scoring.passage_margin, best[1]
        weight = 1.0 if line is not None else scoring.weight(hit.payload.get("kind"))
        score = relevance(cos, lex or 0.0) * weight
        ranked.append(Ranked(hit, score, cos, lex, line))
    return by_score(ranked, lambda r: r.score, lambda r: r.hit.point_id)[:k]


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return min(sum(x * y for x, y in zip(a, b, strict=False)), 1.0)


def _result(ranked: Ranked, memory_dir: Path, question: str) -> dict[str, Any]:
    payload = ranked.hit.payload
    path = str(payload.get("path", ""))
    title = str(payload.get("title") or "")
    memory = try_read_memory(memory_dir, path) if path else None
    body = memory.body if memory is not None else str(payload.get("snippet", ""))
    focus = None
    if memory is not None and ranked.passage is not None:
        focus = passage_line(memory, ranked.passage)
    return {
        "id": payload.get("memory_id"),
        "path": payload.get("path"),
        "file": str(memory_dir / path),
        "title": payload.get("title"),
        "kind": payload.get("kind"),
        "tags": payload.get("tags", []),
        "score": round(float(ranked.score), 4),
        "cosine": None if ranked.cosine is None else round(ranked.cosine, 4),
        "lexical": None if ranked.lexical is None else round(ranked.lexical, 4),
        "snippet": snippet(body, question, title, focus),
        "updated": payload.get("updated"),
    }


def _brief(ranked: Ranked) -> dict[str, Any]:
    payload = ranked.hit.payload
    return {
        "id": payload.get("memory_id"),
        "path": payload.get("path"),
        "title": payload.get("title"),
        "kind": payload.get("kind"),
        "score": round(float(ranked.score), 4),
    }
