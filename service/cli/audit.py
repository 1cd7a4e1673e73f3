"""`memsync audit`: the store's health report for people and CI; `--fix` repairs index drift.

Exit codes, for CI: 0 when no threshold is crossed, 5 when at least one is (1-4 keep their
CLI meaning: error, usage, retry queue, lock busy). Without ``--fix`` the audit takes no lock
and writes nothing; ``--fix`` holds the writer lock and changes only the index and checkpoint.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from service.care import audit, audit_fix, audit_policy
from service.cli.common import EXIT_AUDIT_FAILED, EXIT_OK, Result
from service.settings import Settings, load_settings, locate_store
from service.wiring import index_id, index_present, open_index, prepare_index, sync_deps
from sync.index.migrate import pending_migration
from sync.store import StoreLayout


def cmd_audit(args: argparse.Namespace) -> Result:
    layout = locate_store(Path.cwd(), os.environ)
    settings = load_settings(layout, os.environ)
    audit_policy(settings, args.near_threshold)  # a bad --near-threshold fails before any work
    if not args.fix:
        deps = sync_deps(settings, layout, reader=True)  # a reader never hurts a writer
        ident = _current_index_id(layout, settings)
        deps.index_id = ident
        deps.index_factory = lambda: open_index(ident, settings, layout, reader=True)
        deps.index_exists = lambda: index_present(ident, layout)
        return present_audit(args, audit(layout, settings, deps, near=args.near_threshold))
    prepare_index(settings, layout, quiet=args.json)  # moves/upgrades first, under the lock
    deps = sync_deps(settings, layout)
    report = audit_fix(layout, settings, deps, near=args.near_threshold)
    return present_audit(args, report)


def present_audit(args: argparse.Namespace, report: dict[str, Any]) -> Result:
    """The audit's text and exit code (5 when a threshold is crossed), from its report."""
    return report, audit_text(report), _exit(report)


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


def _exit(report: dict[str, Any]) -> int:
    return EXIT_AUDIT_FAILED if report["failed"] else EXIT_OK


_LINES = (
    ("exact duplicates", "exact_duplicate_rate", "exact_duplicates"),
    ("near duplicates", "near_duplicate_rate", "near_duplicates"),
    ("low information", "low_information", "low_information"),
    ("noise", "noise_rate", "noise"),
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
