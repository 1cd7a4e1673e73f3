"""Deciding add / update / no-op for every captured candidate, by meaning.

Each candidate is compared with its nearest memories in the index (exact search, plus an
exact-fingerprint lookup) and with the candidates already accepted in this run: the duplicate
judge (`sync.dedup.judge`) reads each near one and rules, and `decide_dedup` decides, as for
`memsync add`. Session summaries are not deduplicated: each session has exactly one, with a
deterministic id and path, rewritten when the session grows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sync.capture.work import CaptureDeps, Decided, ItemWork, Proposed
from sync.dedup import (
    JUDGE_FLOOR,
    DedupDecision,
    JudgeVectors,
    Neighbour,
    decide_dedup,
    judge,
    merge_memories,
)
from sync.fsutil import confined
from sync.hashing import new_memory_id, normalized_text, raw_hash, text_fingerprint
from sync.index.checkpoint import Checkpoint
from sync.index.engine import preview
from sync.models import ARCHIVE_FOLDER, Action, Memory, collection_name
from sync.ports import Encoder, SearchFilter, VectorIndex
from sync.retry import iso, parse_iso, parse_moment
from sync.store import StoreLayout, memory_rel_path, slugify, try_read_memory

Accepted = list[tuple[Memory, Sequence[float], str]]  # memory, vector, planned path


@dataclass(frozen=True)
class Pending:
    """A dry run's view of the index after the catch-up a real run makes before dedup: the
    memories it would add or change (path -> memory), and the paths whose points are stale."""

    memories: Mapping[str, Memory]
    stale: frozenset[str]


def pending_index(layout: StoreLayout, deps: CaptureDeps, checkpoint: Checkpoint) -> Pending:
    """What the index lacks of memory/ now (hand edits, new files, deletions)."""
    plan, memories = preview(layout, deps.sync, checkpoint)
    changed = plan.of(Action.ADD, Action.UPDATE)
    stale = {i.path for i in plan.of(Action.UPDATE, Action.DELETE)}
    stale |= {i.replaces_path for i in changed if i.replaces_path}
    return Pending(
        {
            i.path: memories[i.path]
            for i in changed
            if i.path in memories and not i.path.startswith(ARCHIVE_FOLDER + "/")
        },
        frozenset(stale),
    )


def to_memory(p: Proposed, now: dt.datetime) -> Memory:
    """The memory a candidate would become, with provenance in its frontmatter; it is dated
    by its session (file name, id and ``created``), ``captured`` says when memsync wrote it."""
    c, stamp = p.candidate, iso(now)
    when = parse_moment(p.started) if p.started else None
    created = iso(when) if when is not None else stamp
    extra: dict[str, Any] = {"captured": stamp}
    if p.content_type:
        extra["content_type"] = p.content_type
    if c.evidence:
        extra["evidence"] = c.evidence[:300]
    ident = new_memory_id((when or now).strftime("%Y%m%d"))
    if c.kind == "summary":
        ident = f"sum-{p.source['agent']}-{raw_hash(str(p.source['file']).encode())[:6]}-" + (
            slugify(str(p.source["session"]), 40)
        )
    return Memory(
        id=ident,
        kind=c.kind,
        title=c.title.strip() or "untitled",
        body=c.body.strip(),
        tags=p.tags,
        confidence=max(0.0, min(1.0, c.confidence)),
        source=p.source,
        created=created,
        updated=stamp,
        extra=extra,
    )


def decide_candidates(
    works: Sequence[ItemWork],
    layout: StoreLayout,
    deps: CaptureDeps,
    now: dt.datetime,
    pending: Pending | None = None,
) -> None:
    """Fill ``work.decided`` for every work item, in order (earlier candidates win).
    ``pending``: memories not indexed yet that count as neighbours (a dry run's)."""
    flat = [(w, to_memory(p, now), p) for w in works for p in w.candidates]
    regular = [(w, m) for w, m, _ in flat if m.kind != "summary"]
    encoder = deps.sync.encoder_factory() if regular else None
    vectors = list(encoder.encode([m.embedding_text() for _, m in regular])) if encoder else []
    index = deps.sync.index_factory() if regular and deps.sync.index_exists() else None
    unindexed = _pending_neighbours(pending, encoder)
    stale = pending.stale if pending else frozenset()
    planned: set[str] = set()
    accepted: Accepted = []
    judged = JudgeVectors(encoder) if encoder else None
    if judged is not None:
        judged.add([m for _, m in regular])
    try:
        vi = 0
        for work, memory, proposed in flat:
            if memory.kind == "summary":
                work.decided.append(_summary(memory, proposed, layout, now))
                continue
            assert encoder is not None and judged is not None
            vector = vectors[vi]
            vi += 1
            known = _nearest(index, encoder, deps, memory, vector, stale)
            if unindexed:
                known = _merged_nearest(known, _in_run(unindexed, vector), deps.neighbours_k)
            others = {n.memory_id: m for n, m in _read(known, layout)}
            others |= {m.id: m for m, _, _ in (*unindexed, *accepted)}
            near = [
                _judged(n, memory, others.get(n.memory_id), judged, deps)
                for n in [*known, *_in_run(accepted, vector)]
            ]
            decision = decide_dedup(
                memory.kind, text_fingerprint(memory.title, memory.body), near, deps.thresholds
            )
            decided = _decided(memory, decision, near, accepted, layout, planned)
            work.decided.append(decided)
            if decided.action == "add" and decided.path:
                accepted.append((decided.memory, vector, decided.path))
    finally:
        if index is not None:
            index.close()


def _pending_neighbours(pending: Pending | None, encoder: Encoder | None) -> Accepted:
    if pending is None or encoder is None or not pending.memories:
        return []
    paths = sorted(pending.memories)
    texts = [pending.memories[p].embedding_text() for p in paths]
    vectors = encoder.encode(texts)
    return [(pending.memories[p], v, p) for p, v in zip(paths, vectors, strict=True)]


def _merged_nearest(known: list[Neighbour], pending: list[Neighbour], k: int) -> list[Neighbour]:
    """The index's neighbours and the pending ones, best first, as one top ``k``."""
    return sorted([*known, *pending], key=lambda n: -n.score)[: max(k, 1)]


def _nearest(
    index: VectorIndex | None,
    encoder: Encoder,
    deps: CaptureDeps,
    memory: Memory,
    vector: Sequence[float],
    stale: frozenset[str] = frozenset(),
) -> list[Neighbour]:
    if index is None:
        return []
    collection = collection_name(deps.sync.collection_prefix, encoder.identity)
    hits = index.search(collection, vector, deps.neighbours_k, SearchFilter(), exact=True)
    fp = text_fingerprint(memory.title, memory.body)
    exact = index.find_by(collection, "fingerprint", fp, limit=3)
    seen = {h.point_id for h in hits}
    out = [_neighbour(h.payload, h.score) for h in hits]
    out += [_neighbour(h.payload, 1.0) for h in exact if h.point_id not in seen]
    return [n for n in out if n.path and not n.path.startswith("archived/") and n.path not in stale]


def _read(known: list[Neighbour], layout: StoreLayout) -> list[tuple[Neighbour, Memory]]:
    """The stored memories the judge needs to read (those near enough to be judged)."""
    out = []
    for n in known:
        if n.score >= JUDGE_FLOOR:
            m = try_read_memory(layout.memory_dir, n.path)
            if m is not None:
                out.append((n, m))
    return out


def _judged(
    n: Neighbour, memory: Memory, other: Memory | None, vectors: JudgeVectors, deps: CaptureDeps
) -> Neighbour:
    """The neighbour with the judge's ruling (none when it is too far or unreadable)."""
    if other is None or n.score < JUDGE_FLOOR:
        return n
    similarity = vectors.similarity(memory, other)
    return replace(n, judgement=judge(memory, other, similarity, deps.thresholds, deps.referee))


def _neighbour(payload: Any, score: float) -> Neighbour:
    return Neighbour(
        str(payload.get("memory_id")),
        str(payload.get("path", "")),
        str(payload.get("title")),
        str(payload.get("kind")),
        float(score),
        str(payload.get("fingerprint", "")),
    )


def _in_run(accepted: Accepted, vector: Sequence[float]) -> list[Neighbour]:
    """Neighbours among the memories this run is about to add (or a dry run's pending)."""
    out = []
    for memory, other, path in accepted:
        score = min(float(sum(a * b for a, b in zip(vector, other, strict=False))), 1.0)
        fp = text_fingerprint(memory.title, memory.body)
        out.append(Neighbour(memory.id, path, memory.title, memory.kind, score, fp))
    return sorted(out, key=lambda n: -n.score)[:5]


def _decided(
    memory: Memory,
    decision: DedupDecision,
    nearest: list[Neighbour],
    accepted: Accepted,
    layout: StoreLayout,
    planned: set[str],
) -> Decided:
    target = decision.target
    if decision.action == "noop" or (target is None and decision.action != "add"):
        return Decided(memory, "noop", decision.reason, decision.score, None, nearest)
    if decision.action == "add" or target is None:
        day = memory.created[:10].replace("-", "")

        def taken(rel: str) -> bool:
            return rel in planned or confined(layout.memory_dir, rel).exists()

        rel = memory_rel_path(memory, day, taken)
        planned.add(rel)
        return Decided(memory, "add", decision.reason, decision.score, rel, nearest)
    for i, (pending, vector, path) in enumerate(accepted):
        if pending.id == target.memory_id:  # same subject as an earlier candidate of this run
            merged = merge_memories(pending, memory, parse_iso(memory.updated))
            accepted[i] = (merged, vector, path)
            reason = f"{decision.reason} (a candidate of this run)"
            return Decided(merged, "update", reason, decision.score, path, nearest, i)
    existing = try_read_memory(layout.memory_dir, target.path)
    if existing is not None and normalized_text(memory.body) in normalized_text(existing.body):
        reason = f"already merged into memory/{target.path} (cosine {decision.score:.3f})"
        return Decided(memory, "noop", reason, decision.score, None, nearest)
    return Decided(
        memory, "update", decision.reason, decision.score, target.path, nearest,
        target_id=target.memory_id,
    )  # fmt: skip


def _summary(memory: Memory, p: Proposed, layout: StoreLayout, now: dt.datetime) -> Decided:
    day = (p.started or iso(now))[:10].replace("-", "")
    name = slugify(f"{p.source['agent']}-{p.source['session']}", 72)
    rel = f"summaries/{day}/{name}.md"
    exists = confined(layout.memory_dir, rel).exists()
    reason = "session summary, rewritten (the session grew)" if exists else "session summary"
    return Decided(memory, "summary", reason, 0.0, rel)
