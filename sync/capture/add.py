"""`memsync add`: embed a candidate, find its neighbours, judge them, decide, write, index."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import replace
from typing import Any

from sync.dedup import (
    JUDGE_FLOOR,
    DedupDecision,
    DedupThresholds,
    JudgeVectors,
    Neighbour,
    Referee,
    decide_dedup,
    judge,
    merge_memories,
)
from sync.errors import MemoryFileError, UsageError
from sync.fsutil import confined
from sync.hashing import new_memory_id, text_fingerprint
from sync.index.engine import SyncDeps, SyncOptions, run_sync, writer_lock
from sync.models import Memory, collection_name
from sync.ports import Encoder, SearchFilter
from sync.redact import redact_memory
from sync.retry import iso
from sync.store import StoreLayout, memory_rel_path, read_memory, try_read_memory, write_memory
from sync.store.archive import archive_version


def add_memory(
    layout: StoreLayout,
    candidate: Memory,
    deps: SyncDeps,
    thresholds: DedupThresholds,
    *,
    dry_run: bool = False,
    neighbours_k: int = 5,
    lock_held: bool = False,
    referee: Referee | None = None,
) -> dict[str, Any]:
    """Add a memory unless it duplicates one; merge it when it is about the same subject."""
    with writer_lock(layout, skip=dry_run or lock_held):
        now = deps.clock()
        encoder = deps.encoder_factory()
        neighbours = _judge_all(
            candidate, _neighbours(candidate, encoder, deps, neighbours_k), layout, encoder,
            thresholds, referee,
        )  # fmt: skip
        decision = decide_dedup(
            candidate.kind,
            text_fingerprint(candidate.title, candidate.body),
            neighbours,
            thresholds,
        )
        result: dict[str, Any] = {
            "action": decision.action,
            "reason": decision.reason,
            "score": round(decision.score, 4),
            "dry_run": dry_run,
            "nearest": [n.as_dict() for n in neighbours],
        }
        if dry_run or decision.action == "noop":
            result["id"] = decision.target.memory_id if decision.target else None
            result["path"] = decision.target.path if decision.target else None
            return result
        written = _apply(layout, candidate, decision, now)
        result.update(id=written[0][1], path=written[0][0], written=[p for p, _ in written])
        shared = dataclasses.replace(deps, encoder_factory=lambda: encoder)
        report = run_sync(
            layout, SyncOptions(scope=frozenset(p for p, _ in written)), shared, lock_held=True
        )
        result["sync"] = {"counts": report["counts"], "failures": report["failures"]}
        return result


def new_candidate(
    *,
    kind: str,
    title: str,
    body: str,
    tags: tuple[str, ...],
    confidence: float,
    source: dict[str, Any],
    now: dt.datetime,
    dated: dt.datetime | None = None,
) -> Memory:
    """A fresh memory as `memsync add` writes it, secrets redacted; ``dated`` (the session it
    was distilled from) gives its date, file name and ``created``; ``captured`` is when
    memsync wrote it."""
    if not title.strip() or not body.strip():
        raise UsageError("a memory needs a title and a body that are not blank")
    stamp = iso(now)
    day = dated or now
    memory = Memory(
        id=new_memory_id(day.strftime("%Y%m%d")),
        kind=kind,
        title=title.strip(),
        body=body.strip(),
        tags=tags,
        confidence=confidence,
        source=source,
        created=iso(day),
        updated=stamp,
        extra={"captured": stamp},
    )
    return redact_memory(memory)[0]  # compared, embedded and written without its secrets


def _neighbours(candidate: Memory, encoder: Encoder, deps: SyncDeps, k: int) -> list[Neighbour]:
    if not deps.index_exists():
        return []
    collection = collection_name(deps.collection_prefix, encoder.identity)
    index = deps.index_factory()
    try:
        vector = encoder.encode([candidate.embedding_text()])[0]
        hits = index.search(collection, vector, k, SearchFilter(), exact=True)
        exact = index.find_by(
            collection, "fingerprint", text_fingerprint(candidate.title, candidate.body), limit=5
        )
    finally:
        index.close()  # the sync that follows reopens it (embedded Qdrant allows one client)
    seen = {h.point_id for h in hits}
    live_exact = [h for h in exact if h.point_id not in seen and not h.payload.get("archived")]
    return [_neighbour(h.payload, h.score) for h in hits] + [
        _neighbour(h.payload, 1.0) for h in live_exact
    ]


def _judge_all(
    candidate: Memory,
    neighbours: list[Neighbour],
    layout: StoreLayout,
    encoder: Encoder,
    thresholds: DedupThresholds,
    referee: Referee | None,
) -> list[Neighbour]:
    """Each neighbour near enough, read from its file and judged against the candidate."""
    vectors = JudgeVectors(encoder)
    out = []
    for n in neighbours:
        existing = try_read_memory(layout.memory_dir, n.path) if n.score >= JUDGE_FLOOR else None
        if existing is not None:
            similarity = vectors.similarity(candidate, existing)
            n = replace(n, judgement=judge(candidate, existing, similarity, thresholds, referee))
        out.append(n)
    return out


def _neighbour(payload: Any, score: float) -> Neighbour:
    return Neighbour(
        str(payload.get("memory_id")),
        str(payload.get("path")),
        str(payload.get("title")),
        str(payload.get("kind")),
        float(score),
        str(payload.get("fingerprint", "")),
    )


def _apply(
    layout: StoreLayout, candidate: Memory, decision: DedupDecision, now: dt.datetime
) -> list[tuple[str, str]]:
    """Write the files of the decision; returns (path, id) pairs, the main memory first."""
    day = candidate.created[:10].replace("-", "") or now.strftime("%Y%m%d")
    memory_dir = layout.memory_dir

    def taken(rel: str) -> bool:
        return confined(memory_dir, rel).exists()

    if decision.action == "add" or decision.target is None:
        rel = memory_rel_path(candidate, day, taken)
        write_memory(memory_dir, rel, candidate)
        return [(rel, candidate.id)]
    target = decision.target.path
    existing = read_memory(memory_dir, target)
    if existing is None:
        raise MemoryFileError(target, "indexed memory is missing on disk; run `memsync sync`")
    archive_rel = archive_version(layout, existing, now)
    write_memory(memory_dir, target, merge_memories(existing, candidate, now))
    return [(target, existing.id), (archive_rel, existing.id)]
