"""`memsync audit`: a health report of the store, and the one repair it may make (index drift).

The checks are pure functions over what :func:`audit_store` read (files, checkpoint, the
index's stored points and vectors, access times); it writes nothing. :func:`fix_drift` changes
the index and checkpoint only, through ``run_sync``, never a memory file.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sync.care.audit_checks import (
    AuditPolicy,
    MemoryFile,
    dead_letters,
    exact_duplicates,
    low_information,
    missing_sources,
    near_duplicates,
    secret_findings,
    stale_memories,
    stored_vectors,
)
from sync.care.audit_drift import index_drift
from sync.care.audit_noise import noisy_memories
from sync.hashing import text_fingerprint as fp
from sync.index.checkpoint import load_checkpoint
from sync.index.scan import scan
from sync.ports import Encoder, IndexPoint, VectorIndex
from sync.store import DEFAULT_MAX_FILE_BYTES, StoreLayout

SEVERITY = {
    "secret": "error", "index_drift": "error", "dead_letter": "error", "unreadable": "error",
    "exact_duplicate": "warning", "near_duplicate": "warning", "low_information": "warning",
    "noise": "warning",
    "stale": "info", "source_missing": "info",
}  # fmt: skip


@dataclass(frozen=True)
class AuditThresholds:
    """Limits; a measure above its limit fails the audit (`memsync audit` exits 5)."""

    max_exact_duplicate_rate: float = 0.05
    max_near_duplicate_rate: float = 0.10
    max_low_information: int = 10
    max_noise_rate: float = 0.2  # raw-error titles, restated titles, no fix, no reason, ...
    max_secrets: int = 0
    max_index_drift: int = 0
    max_dead_letters: int = 0
    max_stale_rate: float = 0.5
    max_unreadable: int = 0


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
        MemoryFile(
            sf.path,
            m,
            sf.content_hash or "",
            fp(m.title, m.body),
            sf.mtime_ns,
            sf.archived,
            sf.secrets,
        )
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
        "noise": noisy_memories([(f.path, f.memory) for f in active], policy.min_summary_words),
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
    out += [("noise", x["path"], "; ".join(x["reasons"])) for x in report["noise"]["items"]]
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
        "low_information": len(r["low_information"]), "noise_rate": r["noise"]["rate"],
        "secrets": len(r["secrets"]),
        "index_drift": r["index_drift"]["count"], "dead_letters": len(r["dead_letters"]),
        "stale_rate": r["stale"]["rate"], "unreadable": len(r["unreadable"]),
    }  # fmt: skip


def crossed(values: Mapping[str, float], thresholds: AuditThresholds) -> list[str]:
    """Names of the thresholds a measure exceeds."""
    return [name for name, value in values.items() if value > getattr(thresholds, f"max_{name}")]
