"""`memsync compare` and `memsync backfill`: daily logs (memory/daily/YYYY-MM-DD.md) built
from the sessions of the configured agents, as capture finds them."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from service.capture_wiring import source_roots, user_home
from service.cli.common import EXIT_ERROR, EXIT_OK, EXIT_RETRY, Result
from service.settings import Settings, load_settings, locate_store
from service.wiring import prepare_index, sync_deps
from sync.capture.daily import NEEDS_LM, Summarizer, backfill, check_day, compare, zone
from sync.capture.sources import adapter
from sync.capture.sources.base import SourceError, Transcript
from sync.errors import UsageError
from sync.index.engine import SyncOptions, run_sync, writer_lock
from sync.store import StoreLayout

SKEW_NS = 24 * 3600 * 10**9  # a session last written this long before a day cannot touch it


def resolve_tz(flag: str | None, env: Mapping[str, str]) -> str:
    """--tz, else MEMSYNC_TIMEZONE, else the system's zone, else UTC; validated."""
    tz = flag or env.get("MEMSYNC_TIMEZONE") or local_zone(env)
    zone(tz)
    return tz


def local_zone(env: Mapping[str, str]) -> str:
    """The system's IANA zone name ($TZ, /etc/timezone, the /etc/localtime link), else UTC."""
    names = [env.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError, UnicodeDecodeError):
        names.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    with contextlib.suppress(OSError):
        names.append(os.readlink("/etc/localtime"))
    for name in names:
        name = name.split("zoneinfo/", 1)[-1]
        try:
            if name:
                return zone(name).key
        except UsageError:
            continue
    return "UTC"


def load_sessions(
    settings: Settings, since_ns: int | None = None
) -> tuple[dict[str, Transcript], list[str]]:
    """Every session of the configured agents (optionally only those written since
    ``since_ns``), keyed like capture keys them; unreadable ones become problems."""
    sessions: dict[str, Transcript] = {}
    problems: list[str] = []
    for agent, roots in source_roots(settings, user_home()).items():
        source = adapter(agent)
        for root in roots:
            for item in source.discover(root):
                if since_ns is not None and item.mtime_ns < since_ns:
                    continue
                try:
                    sessions[item.key] = source.parse(item)
                except SourceError as exc:
                    problems.append(str(exc))
            problems += [str(p) for p in source.problems]
    return sessions, problems


def summarizer_for(settings: Settings) -> Summarizer | None:
    """The narrative summarizer for --summarize: DSPy over the configured LM, else None."""
    if not settings.llm_model:
        return None
    from service.capture_wiring import lm_config
    from sync.capture.extraction.dspy_merge import DspyDaySummarizer
    from sync.llm import make_lm

    return DspyDaySummarizer(make_lm(lm_config(settings)))


def _open() -> tuple[StoreLayout, Settings]:
    layout = locate_store(Path.cwd(), os.environ)
    return layout, load_settings(layout, os.environ)


def cmd_compare(args: argparse.Namespace) -> Result:
    layout, settings = _open()
    tz = resolve_tz(args.tz or settings.daily_timezone or None, os.environ)
    sessions, problems = load_sessions(settings)
    days = [{**asdict(d), "sessions": list(d.sessions)} for d in compare(layout, sessions, tz)]
    counts = {s: sum(d["status"] == s for d in days) for s in ("missing", "stale", "ok")}
    data = {"timezone": tz, "counts": counts, "days": days, "problems": problems}
    lines = [
        f"{d['day']}  {d['status']:<7}  {len(d['sessions'])} session(s)  {d['reason']}"
        for d in days
    ]
    lines.append(f"{counts['missing']} missing, {counts['stale']} stale, {counts['ok']} ok ({tz})")
    return data, "\n".join(lines), EXIT_OK


def cmd_backfill(args: argparse.Namespace) -> Result:
    if (args.date is None) == (not args.all):
        raise UsageError("give one DATE (YYYY-MM-DD) or --all")
    day = check_day(args.date) if args.date is not None else None
    if args.preserve and not args.force:
        raise UsageError("--preserve goes with --force (it keeps your notes while regenerating)")
    layout, settings = _open()
    tz = resolve_tz(args.tz or settings.daily_timezone or None, os.environ)
    summarizer = summarizer_for(settings) if args.summarize else None
    if args.summarize and summarizer is None:
        raise UsageError(NEEDS_LM if not settings.llm_model else _NOT_WIRED)
    since = None
    if day is not None:
        start = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), zone(tz))
        since = int(start.timestamp()) * 10**9 - SKEW_NS
    sessions, problems = load_sessions(settings, since)
    if not args.dry_run:
        prepare_index(settings, layout, quiet=args.json)
    with writer_lock(layout, skip=args.dry_run):
        result = backfill(
            layout,
            sessions,
            tz,
            day=day,
            now=dt.datetime.now(dt.UTC),
            dry_run=args.dry_run,
            force=args.force,
            preserve=args.preserve,
            summarize=args.summarize,
            summarizer=summarizer,
        )
        if result["written"]:
            deps = sync_deps(settings, layout)
            opts = SyncOptions(scope=frozenset(result["written"]))
            report = run_sync(layout, opts, deps, lock_held=True)
            result["sync"] = {"counts": report["counts"], "failures": report["failures"]}
    result["problems"] = problems
    return result, _backfill_text(result), _exit(result)


_NOT_WIRED = "--summarize: no summarizer is available for the configured [llm] model yet"


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
