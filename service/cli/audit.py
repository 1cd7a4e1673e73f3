"""`memsync audit`: the store's health report for people and CI; `--fix` repairs index drift.

Exit codes, for CI: 0 when no threshold is crossed, 5 when at least one is (1-4 keep their
CLI meaning: error, usage, retry queue, lock busy). Without ``--fix`` the audit takes no lock
and writes nothing; ``--fix`` holds the writer lock and changes only the index and checkpoint.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from service.cli.common import EXIT_AUDIT_FAILED, EXIT_OK, Result
from service.http.client import find_service
from service.settings import Settings, load_settings, locate_store
from service.wiring import (
    index_id,
    index_present,
    make_encoder,
    open_index,
    prepare_index,
    sync_deps,
)
from sync.care.audit import AuditPolicy, AuditThresholds, audit_store
from sync.care.audit_drift import fix_drift
from sync.errors import LockBusyError, UsageError
from sync.index.engine import writer_lock
from sync.index.migrate import pending_migration
from sync.ports import Encoder
from sync.store import StoreLayout
from sync.store.access import last_access


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """The `audit` command (``--json`` comes with ``common``)."""
    p = sub.add_parser(
        "audit",
        parents=[common],
        help="health report: duplicates, low-information, secrets, stale memories, index "
        "drift, dead letters (exit 5 when a threshold is crossed, for CI)",
    )
    p.add_argument(
        "--fix",
        action="store_true",
        help="repair index drift (stray or missing points, unsynced edits); memory files "
        "are never touched",
    )
    p.add_argument(
        "--near-threshold",
        type=float,
        metavar="F",
        help=f"cosine from which two memories of one kind are near duplicates "
        f"(default {AuditPolicy().near_threshold})",
    )


def cmd_audit(args: argparse.Namespace) -> Result:
    layout = locate_store(Path.cwd(), os.environ)
    settings = load_settings(layout, os.environ)
    if find_service(layout, os.environ) is not None:
        raise LockBusyError(
            f"a running `memsync serve` holds the index of {layout.root}; stop it to audit"
        )
    policy = _policy(settings, args.near_threshold)
    thresholds = _settings_into(AuditThresholds(), settings)
    encoder = _lazy_encoder(settings)
    if not args.fix:
        ident = _current_index_id(layout, settings)
        report = _audit(layout, settings, ident, policy, encoder, thresholds)
        return report, audit_text(report), _exit(report)
    prepare_index(settings, layout, quiet=args.json)  # moves/upgrades first, under the lock
    deps = sync_deps(settings, layout)
    deps.encoder_factory = encoder
    with writer_lock(layout, skip=False):
        before = _audit(layout, settings, deps.index_id, policy, encoder, thresholds)
        fixed = fix_drift(layout, before, deps, lock_held=True)
        report = _audit(layout, settings, deps.index_id, policy, encoder, thresholds)
    report["fix"] = {**fixed, "drift_before": before["index_drift"]}
    return report, audit_text(report), _exit(report)


def _audit(
    layout: StoreLayout,
    settings: Settings,
    ident: str,
    policy: AuditPolicy,
    encoder: Any,
    thresholds: AuditThresholds,
) -> dict[str, Any]:
    """One audit over the index ``ident`` (none opened when it holds no data yet)."""
    present = index_present(ident, layout)
    index = open_index(ident, settings, layout, reader=True) if present else None
    try:
        return audit_store(
            layout,
            index,
            policy=policy,
            thresholds=thresholds,
            access=last_access(layout),  # state/access.jsonl
            encoder_factory=encoder,
            max_file_bytes=settings.max_file_bytes,
        )
    finally:
        if index is not None:
            index.close()


def _current_index_id(layout: StoreLayout, settings: Settings) -> str:
    """The index the points are in today (a pending move to the configured one is not made)."""
    configured = index_id(settings)
    source = pending_migration(layout, configured, lambda ident: index_present(ident, layout))
    if source is None:
        return configured
    print(
        f"memsync: auditing the {source} index (a sync would move it to {configured})",
        file=sys.stderr,
    )
    return source


def _policy(settings: Settings, near: float | None) -> AuditPolicy:
    policy = _settings_into(AuditPolicy(), settings)
    if near is None:
        return policy
    if not 0.0 < near <= 1.0:
        raise UsageError(f"--near-threshold {near}: choose a cosine in (0, 1], e.g. 0.92")
    return AuditPolicy(**{**vars(policy), "near_threshold": near})


def _settings_into(value: Any, settings: Settings) -> Any:
    """``value`` with each field overridden by the setting ``audit_<field>``, where one exists
    (config.toml ``[audit]``), or ``maintain_<field>`` for the decay shared with maintain."""
    chosen = {
        f.name: getattr(
            settings,
            f"audit_{f.name}",
            getattr(settings, f"maintain_{f.name}", getattr(value, f.name)),  # decay: shared
        )
        for f in fields(value)
    }
    return type(value)(**chosen)


def _lazy_encoder(settings: Settings) -> Any:
    """The encoder, loaded on first use and then shared (most audits never need it)."""
    loaded: list[Encoder] = []

    def get() -> Encoder:
        if not loaded:
            loaded.append(make_encoder(settings))
        return loaded[0]

    return get


def _exit(report: dict[str, Any]) -> int:
    return EXIT_AUDIT_FAILED if report["failed"] else EXIT_OK


_LINES = (
    ("exact duplicates", "exact_duplicate_rate", "exact_duplicates"),
    ("near duplicates", "near_duplicate_rate", "near_duplicates"),
    ("low information", "low_information", "low_information"),
    ("secrets", "secrets", "secrets"),
    ("stale", "stale_rate", "stale"),
    ("index drift", "index_drift", "index_drift"),
    ("dead letters", "dead_letters", "dead_letters"),
    ("unreadable", "unreadable", "unreadable"),
    ("source gone", None, "source_missing"),
)


def audit_text(report: dict[str, Any]) -> str:
    """The report for people: one line per check, then every problem, then the verdict."""
    lines = [
        f"Audit of {report['store']}: {report['memories']} memories "
        f"({report['archived']} archived), {report['points']} points"
    ]
    for label, measure, section in _LINES:
        found = report[section]
        count = found["count"] if isinstance(found, dict) else len(found)
        value = report["measures"].get(measure) if measure else None
        rate = f"  rate {value}" if measure and measure.endswith("_rate") else ""
        limit = report["thresholds"].get(f"max_{measure}") if measure else None
        verdict = f"  FAILED (> {limit})" if measure in report["failed"] else ""
        note = "" if measure else "  (informational)"
        lines.append(f"  {label:<17}{count:>5}{rate}{verdict}{note}")
    if report["problems"]:
        lines.append("Problems:")
        lines += [
            f"  {p['severity']:<8}{p['check']:<17}{p['path'] or '-'}: {p['message']}"
            for p in report["problems"]
        ]
    if "fix" in report:
        fix = report["fix"]
        lines.append(
            f"Fixed: deleted {len(fix['deleted_points'])} point(s) without a file, "
            f"re-indexed {len(fix['reindexed'])} file(s), {len(fix['failures'])} failure(s)"
        )
    failed = report["failed"]
    lines.append(f"Failed: {', '.join(failed)} (exit 5)" if failed else "OK: no threshold crossed")
    return "\n".join(lines)
