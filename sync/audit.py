"""`memsync audit`: a health report of the store, and the one repair it may make (index drift).

The checks are pure functions over what :func:`audit_store` read (files, checkpoint, the
index's stored points and vectors, access times); it writes nothing. :func:`fix_drift` changes
the index and checkpoint only, through ``run_sync``, never a memory file.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sync.audit_drift import index_drift
from sync.checkpoint import Checkpoint, load_checkpoint
from sync.hashing import normalized_text, point_id
from sync.hashing import text_fingerprint as fp
from sync.maintain import NEVER_MERGED, decayed, similar_pairs
from sync.models import Memory
from sync.ports import Encoder, IndexPoint, VectorIndex
from sync.redact import redact
from sync.retry import parse_moment
from sync.store import DEFAULT_MAX_FILE_BYTES, StoreLayout, scan

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
SEVERITY = {
    "secret": "error", "index_drift": "error", "dead_letter": "error", "unreadable": "error",
    "exact_duplicate": "warning", "near_duplicate": "warning", "low_information": "warning",
    "stale": "info", "source_missing": "info",
}  # fmt: skip


@dataclass(frozen=True)
class AuditPolicy:
    """How findings are detected."""

    near_threshold: float = 0.92  # cosine between memories of one kind
    min_words: int = 8  # fewer words in the body: low information
    decay_period_days: float = 180.0
    confidence_floor: float = 0.1


@dataclass(frozen=True)
class AuditThresholds:
    """Limits; a measure above its limit fails the audit (`memsync audit` exits 5)."""

    max_exact_duplicate_rate: float = 0.05
    max_near_duplicate_rate: float = 0.10
    max_low_information: int = 10
    max_secrets: int = 0
    max_index_drift: int = 0
    max_dead_letters: int = 0
    max_stale_rate: float = 0.5
    max_unreadable: int = 0


@dataclass(frozen=True)
class MemoryFile:
    """A parsed memory file as the checks see it."""

    path: str
    memory: Memory
    content_hash: str
    fingerprint: str  # sync.hashing.text_fingerprint: equal for exact duplicates
    mtime_ns: int
    archived: bool


def audit_store(
    layout: StoreLayout,
    index: VectorIndex | None,
    *,
    policy: AuditPolicy | None = None,
    thresholds: AuditThresholds | None = None,
    access: Mapping[str, str | dt.datetime] | None = None,
    now: dt.datetime | None = None,
    encoder_factory: Callable[[], Encoder] | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> dict[str, Any]:
    """Read the store and return the full report; the encoder is loaded only for memories
    that have no point yet (``index`` None: no index exists)."""
    policy, thresholds = policy or AuditPolicy(), thresholds or AuditThresholds()
    now = now or dt.datetime.now(dt.UTC)
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    scanned = scan(layout.memory_dir, {}, now_ns=time.time_ns(), max_bytes=max_file_bytes)
    files = [
        MemoryFile(sf.path, m, sf.content_hash or "", fp(m.title, m.body), sf.mtime_ns, sf.archived)
        for sf in scanned
        if (m := sf.memory) is not None
    ]
    active = [f for f in files if not f.archived]
    collection = checkpoint.collection
    points: dict[str, IndexPoint] = {}
    if index is not None and collection:
        points = {p.point_id: p for p in index.export(collection)}

    exact = exact_duplicates(active)
    vectors = stored_vectors(active, points, encoder_factory if points else None)
    report: dict[str, Any] = {
        "store": str(layout.root),
        "collection": collection,
        "files": len(scanned),
        "memories": len(active),
        "archived": len(files) - len(active),
        "points": len(points),
        "exact_duplicates": exact,
        "near_duplicates": near_duplicates(active, vectors, policy),
        "low_information": low_information(active, policy.min_words),
        "secrets": secret_findings(files),
        "stale": stale_memories(active, access or {}, now, policy),
        "source_missing": missing_sources(active, layout.root.parent),
        "index_drift": index_drift(files, scanned, checkpoint, points),
        "dead_letters": dead_letters(checkpoint),
        "unreadable": [{"path": sf.path, "error": sf.error} for sf in scanned if sf.error],
        "policy": asdict(policy),
        "thresholds": asdict(thresholds),
    }
    report["problems"] = problems(report)
    report["measures"] = measures(report)
    report["failed"] = crossed(report["measures"], thresholds)
    return report


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
    """Memories (archived ones too) holding what redaction would remove: kinds only."""
    found = []
    for f in files:
        _, counts = redact(f"{f.memory.title}\n{f.memory.body}")
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


def problems(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every finding as one line: check, severity, path, message (never a secret's value)."""
    out: list[tuple[str, str | None, str]] = []
    for cluster in report["exact_duplicates"]["clusters"]:
        out += [("exact_duplicate", p, f"same text as {cluster[0]}") for p in cluster[1:]]
    for pair in report["near_duplicates"]["pairs"]:
        out.append(("near_duplicate", pair["b"], f"cosine {pair['score']} with {pair['a']}"))
    out += [
        ("low_information", x["path"], "; ".join(x["reasons"])) for x in report["low_information"]
    ]
    for x in report["secrets"]:
        kinds = ", ".join(f"{k} x{n}" for k, n in x["kinds"].items())
        out.append(("secret", x["path"], f"holds a secret: {kinds}"))
    for x in report["stale"]["items"]:
        out.append(("stale", x["path"], f"untouched for {x['days']} days (since {x['since']})"))
    for x in report["source_missing"]:
        out.append(("source_missing", x["path"], f"source session gone: {x['source_file']}"))
    drift = report["index_drift"]
    for x in drift["points_without_file"]:
        out.append(
            ("index_drift", x["path"], f"point {x['point_id']} without a file: {x['reason']}")
        )
    for x in (*drift["files_without_point"], *drift["hash_mismatch"]):
        out.append(("index_drift", x["path"], x["reason"]))
    for x in report["dead_letters"]:
        out.append(("dead_letter", x["path"], f"dead-lettered after {x['attempts']}: {x['error']}"))
    out += [("unreadable", x["path"], x["error"]) for x in report["unreadable"]]
    return [{"check": c, "severity": SEVERITY[c], "path": p, "message": m} for c, p, m in out]


def measures(r: Mapping[str, Any]) -> dict[str, float]:
    """The figures the thresholds judge, by threshold name (without ``max_``)."""
    return {
        "exact_duplicate_rate": r["exact_duplicates"]["rate"],
        "near_duplicate_rate": r["near_duplicates"]["rate"],
        "low_information": len(r["low_information"]), "secrets": len(r["secrets"]),
        "index_drift": r["index_drift"]["count"], "dead_letters": len(r["dead_letters"]),
        "stale_rate": r["stale"]["rate"], "unreadable": len(r["unreadable"]),
    }  # fmt: skip


def crossed(values: Mapping[str, float], thresholds: AuditThresholds) -> list[str]:
    """Names of the thresholds a measure exceeds."""
    return [name for name, value in values.items() if value > getattr(thresholds, f"max_{name}")]
