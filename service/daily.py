"""Daily logs as operations on a store, shared by the CLI and the service: the sessions of
the configured agents (as capture finds them) compared with memory/daily/, and written."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from service.capture_wiring import source_roots, store_scope, user_home
from service.settings import Settings
from sync.capture.daily import NEEDS_LM, Summarizer, backfill, check_day, compare, zone
from sync.capture.sources import adapter
from sync.capture.sources.base import SourceError, Transcript
from sync.errors import UsageError
from sync.index.engine import SyncDeps, SyncOptions, run_sync, writer_lock
from sync.store import StoreLayout

SKEW_NS = 24 * 3600 * 10**9  # a session last written this long before a day cannot touch it
_NOT_WIRED = "--summarize: no summarizer is available for the configured [llm] model yet"


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
    settings: Settings, layout: StoreLayout, since_ns: int | None = None
) -> tuple[dict[str, Transcript], list[str]]:
    """Every session of the configured agents that this store captures (this project's, or
    every project's for the global store), optionally only those written since ``since_ns``,
    keyed like capture keys them; unreadable ones become problems."""
    sessions: dict[str, Transcript] = {}
    problems: list[str] = []
    scope = store_scope(settings, layout, user_home())
    for agent, roots in source_roots(settings, user_home()).items():
        source = adapter(agent)
        for root in roots:
            for item in source.discover(root):
                if since_ns is not None and item.mtime_ns < since_ns:
                    continue
                try:
                    transcript = source.parse(item)
                except SourceError as exc:
                    problems.append(str(exc))
                    continue
                if scope is None or scope.contains(transcript.cwd):
                    sessions[item.key] = transcript
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


def timezone(settings: Settings, flag: str | None) -> str:
    return resolve_tz(flag or settings.daily_timezone or None, os.environ)


def compare_days(layout: StoreLayout, settings: Settings, tz: str | None) -> dict[str, Any]:
    """Each day with sessions: its daily log missing, stale or ok. Reads only."""
    zone_name = timezone(settings, tz)
    sessions, problems = load_sessions(settings, layout)
    days = [
        {**asdict(d), "sessions": list(d.sessions)} for d in compare(layout, sessions, zone_name)
    ]
    counts = {s: sum(d["status"] == s for d in days) for s in ("missing", "stale", "ok")}
    return {"timezone": zone_name, "counts": counts, "days": days, "problems": problems}


def backfill_days(
    layout: StoreLayout,
    settings: Settings,
    deps: SyncDeps,
    request: Mapping[str, Any],
    *,
    lock_held: bool = False,
) -> dict[str, Any]:
    """Write the daily logs ``request`` asks for (date or all, dry_run, force, preserve,
    summarize, tz), then index them; the caller has moved the index if it had to."""
    date, every = request.get("date"), bool(request.get("all"))
    dry_run, force = bool(request.get("dry_run")), bool(request.get("force"))
    if (date is None) == (not every):
        raise UsageError("give one DATE (YYYY-MM-DD) or --all")
    day = check_day(str(date)) if date is not None else None
    if request.get("preserve") and not force:
        raise UsageError("--preserve goes with --force (it keeps your notes while regenerating)")
    zone_name = timezone(settings, request.get("tz"))
    summarize = bool(request.get("summarize"))
    summarizer = summarizer_for(settings) if summarize else None
    if summarize and summarizer is None:
        raise UsageError(NEEDS_LM if not settings.llm_model else _NOT_WIRED)
    since = None
    if day is not None:
        start = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), zone(zone_name))
        since = int(start.timestamp()) * 10**9 - SKEW_NS
    sessions, problems = load_sessions(settings, layout, since)
    with writer_lock(layout, skip=dry_run or lock_held):
        result = backfill(
            layout, sessions, zone_name, day=day, now=dt.datetime.now(dt.UTC), dry_run=dry_run,
            force=force, preserve=bool(request.get("preserve")), summarize=summarize,
            summarizer=summarizer,
        )  # fmt: skip
        if result["written"]:
            opts = SyncOptions(scope=frozenset(result["written"]))
            report = run_sync(layout, opts, deps, lock_held=True)
            result["sync"] = {"counts": report["counts"], "failures": report["failures"]}
    result["problems"] = problems
    return result
