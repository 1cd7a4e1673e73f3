"""The checks of `memsync audit`: pure functions over the memory files it read, the index's
stored points and vectors, the checkpoint and access times."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.care.maintain import NEVER_MERGED, decayed, similar_pairs
from sync.hashing import normalized_text, point_id
from sync.index.checkpoint import Checkpoint
from sync.models import Memory
from sync.ports import Encoder, IndexPoint
from sync.redact import redact
from sync.retry import parse_moment

NEVER_COMPARED = NEVER_MERGED  # summaries and daily logs belong to their own session or day
NEVER_DECAYED = frozenset({"daily"})
# bodies that say nothing (compared after sync.hashing.normalized_text)
BOILERPLATE = frozenset(
    {
        "todo", "wip", "n a", "na", "tbd", "tbc", "fixme", "xxx", "none", "nothing", "empty",
        "placeholder", "lorem ipsum", "see above", "see below", "as above", "same as above",
        "as discussed", "no notes", "nothing to add", "more later", "details later", "to do",
        "work in progress", "notes", "misc", "untitled", "test", "testing", "done", "ok",
    }
)  # fmt: skip


@dataclass(frozen=True)
class AuditPolicy:
    """How findings are detected."""

    near_threshold: float = 0.92  # cosine between memories of one kind
    min_words: int = 8  # fewer words in the body: low information
    min_summary_words: int = 25  # fewer words of recap in a summary or daily log: noise
    decay_period_days: float = 180.0
    confidence_floor: float = 0.1


@dataclass(frozen=True)
class MemoryFile:
    """A parsed memory file as the checks see it."""

    path: str
    memory: Memory
    content_hash: str
    fingerprint: str  # sync.hashing.text_fingerprint: equal for exact duplicates
    mtime_ns: int
    archived: bool
    secrets: Mapping[str, int] = field(default_factory=dict)  # what redaction took out


def _rate(n: int, total: int) -> float:
    return round(n / total, 4) if total else 0.0


def exact_duplicates(files: Sequence[MemoryFile]) -> dict[str, Any]:
    """Memories whose normalized title and body are the same; count = redundant copies."""
    groups: dict[str, list[str]] = {}
    for f in files:
        groups.setdefault(f.fingerprint, []).append(f.path)
    clusters = sorted(sorted(paths) for paths in groups.values() if len(paths) > 1)
    redundant = sum(len(c) - 1 for c in clusters)
    return {"count": redundant, "rate": _rate(redundant, len(files)), "clusters": clusters}


def stored_vectors(
    files: Sequence[MemoryFile],
    points: Mapping[str, IndexPoint],
    encoder_factory: Callable[[], Encoder] | None,
) -> dict[str, Sequence[float]]:
    """Path -> vector: the indexed one, else (with an encoder) one embedded now."""
    vectors: dict[str, Sequence[float]] = {}
    missing: list[MemoryFile] = []
    for f in files:
        point = points.get(point_id(f.memory.id))
        if point is not None and point.vector:
            vectors[f.path] = point.vector
        elif f.memory.kind not in NEVER_COMPARED:
            missing.append(f)
    if missing and encoder_factory is not None:
        encoded = encoder_factory().encode([f.memory.embedding_text() for f in missing])
        vectors.update({f.path: v for f, v in zip(missing, encoded, strict=True)})
    return vectors


def near_duplicates(
    files: Sequence[MemoryFile],
    vectors: Mapping[str, Sequence[float]],
    policy: AuditPolicy,
) -> dict[str, Any]:
    """Same-kind pairs at cosine >= the threshold (exact duplicates left to their own check),
    grouped into connected components; count = memories beyond one per cluster."""
    compared = [f for f in files if f.memory.kind not in NEVER_COMPARED]
    by_kind: dict[str, list[MemoryFile]] = {}
    for f in compared:
        if f.path in vectors:
            by_kind.setdefault(f.memory.kind, []).append(f)
    pairs: dict[tuple[str, str], float] = {}
    for members in by_kind.values():
        found = similar_pairs([vectors[f.path] for f in members], policy.near_threshold)
        for a, b, score in found:
            fa, fb = members[a], members[b]
            if fa.fingerprint == fb.fingerprint:
                continue  # an exact duplicate: its own check
            key = (min(fa.path, fb.path), max(fa.path, fb.path))
            pairs[key] = max(pairs.get(key, 0.0), round(score, 4))
    clusters = components(pairs)
    redundant = sum(len(c) - 1 for c in clusters)
    return {
        "threshold": policy.near_threshold,
        "count": redundant,
        "rate": _rate(redundant, len(compared)),
        "clusters": clusters,
        "pairs": [{"a": a, "b": b, "score": s} for (a, b), s in sorted(pairs.items())],
        "unchecked": sorted(f.path for f in compared if f.path not in vectors),
    }


def components(pairs: Mapping[tuple[str, str], float]) -> list[list[str]]:
    """Connected components of the pair graph, each sorted, largest first."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[root(a)] = root(b)
    groups: dict[str, list[str]] = {}
    for x in parent:
        groups.setdefault(root(x), []).append(x)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g))


def low_information(files: Sequence[MemoryFile], min_words: int) -> list[dict[str, Any]]:
    """Memories too short or boilerplate to be worth recalling, with every reason."""
    found = []
    for f in files:
        body = normalized_text(f.memory.body)
        words = len(body.split())
        lines = [line.strip() for line in f.memory.body.splitlines() if line.strip()]
        reasons = []
        if not body:
            reasons.append("empty body")
        elif body == normalized_text(f.memory.title):
            reasons.append("body repeats the title")
        if lines and all(line.startswith("#") for line in lines):
            reasons.append("only a heading")
        if body in BOILERPLATE:
            reasons.append(f"boilerplate body ({body!r})")
        if words < min_words:
            reasons.append(f"{words} word(s), fewer than {min_words}")
        if reasons:
            found.append({"path": f.path, "words": words, "reasons": reasons})
    return found


def secret_findings(files: Sequence[MemoryFile]) -> list[dict[str, Any]]:
    """Memories (archived ones too) holding what redaction would remove, in their text, tags
    or file name (the file is left as written; the index never holds the secret): kinds only."""
    found = []
    for f in files:
        counts = dict(f.secrets)
        for kind, n in redact(f"{f.path}\n{f.memory.title}\n{f.memory.body}")[1].items():
            counts[kind] = counts.get(kind, 0) + n
        if counts:
            found.append({"path": f.path, "kinds": dict(sorted(counts.items()))})
    return found


def effective_confidence(confidence: float, days: float, policy: AuditPolicy) -> float:
    """Confidence decayed linearly over the decay period since the last touch, floored."""
    return decayed(confidence, days, policy.decay_period_days, policy.confidence_floor)


def last_touch(f: MemoryFile, access: Mapping[str, str | dt.datetime]) -> tuple[dt.datetime, str]:
    """The latest of last access, update and creation (file mtime when none is known)."""
    known = [
        (moment, basis)
        for basis, value in (
            ("accessed", access.get(f.memory.id)),
            ("updated", f.memory.updated),
            ("created", f.memory.created),
        )
        if (moment := parse_moment(value)) is not None
    ]
    if not known:
        return dt.datetime.fromtimestamp(f.mtime_ns / 1e9, dt.UTC), "file mtime"
    return max(known, key=lambda mb: mb[0])


def stale_memories(
    files: Sequence[MemoryFile],
    access: Mapping[str, str | dt.datetime],
    now: dt.datetime,
    policy: AuditPolicy,
) -> dict[str, Any]:
    """Memories untouched for the whole decay period (daily logs never decay)."""
    considered, items = 0, []
    for f in files:
        if f.memory.kind in NEVER_DECAYED:
            continue
        considered += 1
        touched, basis = last_touch(f, access)
        days = (now - touched).total_seconds() / 86400.0
        if days < policy.decay_period_days:
            continue
        effective = round(effective_confidence(f.memory.confidence, days, policy), 4)
        items.append({"path": f.path, "days": int(days), "since": basis, "confidence":
                      f.memory.confidence, "effective_confidence": effective})  # fmt: skip
    rate = _rate(len(items), considered)
    return {"horizon_days": policy.decay_period_days, "count": len(items), "rate": rate,
            "items": items}  # fmt: skip


def missing_sources(files: Sequence[MemoryFile], project: Path) -> list[dict[str, Any]]:
    """Memories whose source session file is gone: they and their provenance hash stay."""
    found = []
    for f in files:
        source = f.memory.source if isinstance(f.memory.source, Mapping) else {}
        name = source.get("file")
        if not isinstance(name, str) or not name:
            continue
        path = Path(name).expanduser()
        if not (path if path.is_absolute() else project / path).exists():
            found.append({"path": f.path, "source_file": name, "agent": source.get("agent")})
    return found


def dead_letters(checkpoint: Checkpoint) -> list[dict[str, Any]]:
    """Dead-lettered memory files and source items."""
    queues = (("memory", checkpoint.retry), ("source", checkpoint.source_retry))
    return [
        {"path": r.path, "queue": queue, "attempts": r.attempts, "error": r.error}
        for queue, entries in queues
        for r in sorted(entries.values(), key=lambda r: r.path)
        if r.dead
    ]
