"""`memsync compare` and `memsync backfill`: daily logs (memory/daily/YYYY-MM-DD.md) built
from the sessions of the configured agents, as capture finds them."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from service.cli.common import EXIT_ERROR, EXIT_OK, EXIT_RETRY, Result
from service.daily import backfill_days, compare_days, resolve_tz
from service.settings import Settings, load_settings, locate_store
from service.wiring import prepare_index, sync_deps
from sync.errors import UsageError
from sync.store import StoreLayout

__all__ = ["cmd_backfill", "cmd_compare", "resolve_tz"]


def cmd_compare(args: argparse.Namespace) -> Result:
    layout, settings = _open()
    return present_compare(args, compare_days(layout, settings, args.tz))


def present_compare(args: argparse.Namespace, data: dict[str, Any]) -> Result:
    lines = [
        f"{d['day']}  {d['status']:<7}  {len(d['sessions'])} session(s)  {d['reason']}"
        for d in data["days"]
    ]
    c = data["counts"]
    lines.append(f"{c['missing']} missing, {c['stale']} stale, {c['ok']} ok ({data['timezone']})")
    return data, "\n".join(lines), EXIT_OK


def backfill_request(args: argparse.Namespace) -> dict[str, Any]:
    """The backfill flags as the request the service takes (and the operation too)."""
    return {
        "date": args.date,
        "all": args.all,
        "dry_run": args.dry_run,
        "force": args.force,
        "preserve": args.preserve,
        "summarize": args.summarize,
        "tz": args.tz,
    }


def cmd_backfill(args: argparse.Namespace) -> Result:
    layout, settings = _open()
    request = backfill_request(args)
    if (args.date is None) == (not args.all):
        raise UsageError("give one DATE (YYYY-MM-DD) or --all")
    if not args.dry_run:
        prepare_index(settings, layout, quiet=args.json)
    result = backfill_days(layout, settings, sync_deps(settings, layout), request)
    return present_backfill(args, result)


def present_backfill(args: argparse.Namespace, result: dict[str, Any]) -> Result:
    return result, _backfill_text(result), _exit(result)


def _open() -> tuple[StoreLayout, Settings]:
    layout = locate_store(Path.cwd(), os.environ)
    return layout, load_settings(layout, os.environ)


def _exit(result: dict[str, Any]) -> int:
    if any(d["action"] == "failed" for d in result["days"]):
        return EXIT_ERROR
    counts = result.get("sync", {}).get("counts", {})
    queued = counts.get("retry_queue") or counts.get("dead_letters") or counts.get("failed")
    return EXIT_RETRY if queued else EXIT_OK


def _backfill_text(result: dict[str, Any]) -> str:
    lines = []
    for d in result["days"]:
        extra = f"; archived memory/{d['archived']}" if d["archived"] else ""
        if d["archive"] and result["dry_run"]:
            extra = "; the previous version would be archived"
        error = f" — {d['error']}" if d.get("error") else ""
        where = f"{d['day']}  memory/{d['path']}"
        lines.append(f"{d['action']:<10}  {where}  ({d['reason']}{extra}){error}")
    if not result["days"]:
        lines.append("no sessions found: nothing to write")
    if result["dry_run"]:
        lines.append("dry run: nothing written")
    elif "sync" in result:
        c = result["sync"]["counts"]
        lines.append(f"indexed: {c['added']} added, {c['updated']} updated, {c['failed']} failed")
    return "\n".join(lines)
