"""Daily logs: one memory per local day (``memory/daily/YYYY-MM-DD.md``) built from every
session of that day, across agents and model switches.

The generated section ends with the ``MARKER`` line; what a person writes below it is theirs,
carried byte for byte by ``backfill(preserve=True)``. A file that is replaced otherwise is
archived first whenever its text would be lost. Everything shown passes through ``redact``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import xxhash

from sync.capture.daily_sections import DaySlice, generated_body
from sync.capture.extraction.echo import strip_echo
from sync.capture.redact import redact_transcript
from sync.capture.sources.base import Message, Transcript
from sync.errors import MemoryFileError, MemsyncError, UsageError
from sync.fsutil import atomic_write_bytes, confined
from sync.models import Memory
from sync.redact import redact
from sync.retry import iso, parse_moment
from sync.store import StoreLayout
from sync.store.archive import archive_version
from sync.store.markdown import decode_text, parse_memory, render_memory

MARKER = (
    "<!-- memsync:daily:end — write your own notes below this line; "
    "backfill --preserve keeps them -->"
)
_MARKER_RE = re.compile(r"^<!-- memsync:daily:end\b.*?-->", re.M)
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FORMAT = 2  # bumped when the generated section changes shape: every day then reads stale
NEEDS_LM = (
    "--summarize needs a language model: set [llm] model in .memsync/config.toml "
    '(e.g. model = "openai/gpt-4o-mini") or MEMSYNC_LLM_MODEL'
)
Summarizer = Callable[[str, str], str]  # (day, generated markdown) -> narrative summary


@dataclass(frozen=True)
class DayStatus:
    """Whether a day's file is missing, stale or up to date, and why."""

    day: str
    path: str
    status: str  # missing | stale | ok
    reason: str
    sessions: tuple[str, ...] = ()
    newest: str | None = None


def zone(tz: str) -> ZoneInfo:
    """The IANA zone ``tz``, or a UsageError naming a valid example."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: an unreadable zone file
        raise UsageError(f"time zone {tz!r}: not an IANA zone name (e.g. Europe/Berlin)") from None


def check_day(day: str) -> str:
    """``day`` if it is a real YYYY-MM-DD date, else a UsageError."""
    try:
        if _DAY_RE.match(day):
            dt.date.fromisoformat(day)
            return day
    except ValueError:
        pass
    raise UsageError(f"date {day!r}: use YYYY-MM-DD, e.g. 2026-11-20")


def daily_rel_path(day: str) -> str:
    return f"daily/{day}.md"


def bucket(sessions: Mapping[str, Transcript], tz: str) -> dict[str, list[DaySlice]]:
    """Each session's messages by local day; a message without time takes the session start."""
    zi = zone(tz)
    days: dict[str, list[DaySlice]] = {}
    for key, raw in sessions.items():
        t = strip_echo(redact_transcript(raw)[0])
        fallback = parse_moment(t.started) or parse_moment(t.ended)
        parts: dict[str, list[tuple[dt.datetime, Message]]] = {}
        for msg in t.messages:
            moment = parse_moment(msg.time) or fallback
            if moment is not None:
                parts.setdefault(moment.astimezone(zi).date().isoformat(), []).append((moment, msg))
        order = sorted(parts)
        for n, day in enumerate(order):
            msgs = parts[day]
            part = dataclasses.replace(t, messages=tuple(m for _, m in msgs))
            times = tuple(moment for moment, _ in msgs)
            days.setdefault(day, []).append(DaySlice(key, part, times, n > 0, n < len(order) - 1))
    for slices in days.values():
        slices.sort(key=lambda s: (min(s.times), s.key))
    return dict(sorted(days.items()))


def input_hash(day: str, slices: Sequence[DaySlice], tz: str) -> str:
    """Content hash of what the day's file is built from (any change makes it stale)."""
    data = [FORMAT, tz, day]
    for s in sorted(slices, key=lambda s: s.key):
        msgs = [
            [m.role, iso(when), m.model, m.text]
            + [[c.name, c.input, c.output, c.is_error] for c in m.tool_calls]
            for m, when in zip(s.transcript.messages, s.times, strict=True)
        ]
        data.append([s.key, s.transcript.project, s.transcript.models, msgs])
    canonical = json.dumps(data, ensure_ascii=False, default=str)
    return xxhash.xxh3_128_hexdigest(canonical.encode("utf-8"))


def split_tail(text: str) -> tuple[str, str | None]:
    """(text before the end marker, text after it byte for byte); None when there is none."""
    m = _MARKER_RE.search(text)
    return (text, None) if m is None else (text[: m.start()], text[m.end() :])


def render_daily(
    day: str, slices: Sequence[DaySlice], tz: str, body: str, created: str, now: dt.datetime
) -> str:
    """The file text up to and including the marker (the caller appends the tail)."""
    memory = Memory(
        id=f"daily-{day}",
        kind="daily",
        title=f"Daily log {day}",
        body=f"{body}\n\n{MARKER}",
        tags=("daily",),
        source={
            "agents": sorted({s.transcript.agent for s in slices}),
            "sessions": [s.key for s in slices],
            "hash": input_hash(day, slices, tz),
            "timezone": tz,
        },
        created=created or iso(now),
        updated=iso(now),
    )
    return render_memory(memory).removesuffix("\n")


def day_status(day: str, slices: Sequence[DaySlice], tz: str, existing: str | None) -> DayStatus:
    """Missing, stale (written before its newest activity, or its inputs changed) or ok."""
    rel = daily_rel_path(day)
    newest = max((w for s in slices for w in s.times), default=None)
    keys, stamp = tuple(s.key for s in slices), iso(newest) if newest else None
    if not slices:
        left = "the file is left as it is" if existing is not None else "nothing to write"
        return DayStatus(day, rel, "ok", f"no sessions found for this day; {left}", keys, stamp)
    if existing is None:
        return DayStatus(day, rel, "missing", "no daily file yet", keys, stamp)
    try:
        memory = parse_memory(existing, rel)
    except MemoryFileError as exc:
        return DayStatus(day, rel, "stale", f"cannot parse: {exc.reason}", keys, stamp)
    written = parse_moment(memory.updated)
    if newest is not None and (written is None or written < newest):
        reason = f"sessions active until {stamp}, after the file was written ({memory.updated})"
        return DayStatus(day, rel, "stale", reason, keys, stamp)
    if memory.source.get("hash") != input_hash(day, slices, tz):
        reason = "the day's sessions changed since the file was written"
        return DayStatus(day, rel, "stale", reason, keys, stamp)
    return DayStatus(day, rel, "ok", "up to date", keys, stamp)


def _read(layout: StoreLayout, rel: str) -> str | None:
    """The text of a day's file; None when there is none; MemoryFileError when not text."""
    try:
        return decode_text(confined(layout.memory_dir, rel).read_bytes(), rel)
    except FileNotFoundError:
        return None


def _status(layout: StoreLayout, day: str, slices: Sequence[DaySlice], tz: str) -> DayStatus:
    """The day's status as it stands on disk (an unreadable file is stale, never lost)."""
    try:
        return day_status(day, slices, tz, _read(layout, daily_rel_path(day)))
    except MemoryFileError as exc:
        keys = tuple(s.key for s in slices)
        return DayStatus(day, daily_rel_path(day), "stale", f"cannot read: {exc.reason}", keys)


def _existing_days(layout: StoreLayout) -> list[str]:
    folder = layout.memory_dir / "daily"
    names = sorted(p.stem for p in folder.glob("*.md")) if folder.is_dir() else []
    return [n for n in names if _DAY_RE.match(n)]


def compare(layout: StoreLayout, sessions: Mapping[str, Transcript], tz: str) -> list[DayStatus]:
    """Every day with sessions or a daily file, with its status."""
    days = bucket(sessions, tz)
    return [
        _status(layout, d, days.get(d, []), tz) for d in sorted({*days, *_existing_days(layout)})
    ]


def _plan(status: DayStatus, force: bool, preserve: bool) -> tuple[str, str]:
    if not status.sessions:
        return "skip", status.reason
    if status.status == "missing":
        return "create", status.reason
    if not force:
        return "skip", f"exists ({status.status}: {status.reason}); --force regenerates it"
    kept = "; your notes below the marker are kept" if preserve else ""
    return "regenerate", f"--force ({status.status}: {status.reason}){kept}"


def backfill(
    layout: StoreLayout,
    sessions: Mapping[str, Transcript],
    tz: str,
    *,
    day: str | None,
    now: dt.datetime,
    dry_run: bool = False,
    force: bool = False,
    preserve: bool = False,
    summarize: bool = False,
    summarizer: Summarizer | None = None,
) -> dict[str, Any]:
    """Write the missing days (``day`` or all; existing ones only with ``force``); the caller
    holds the writer lock and indexes ``written``. A dry run writes nothing."""
    if summarize and summarizer is None:
        raise UsageError(NEEDS_LM)
    days = bucket(sessions, tz)
    chosen = [check_day(day)] if day is not None else sorted(days)
    results: list[dict[str, Any]] = []
    written: list[str] = []
    for d in chosen:
        status = _status(layout, d, days.get(d, []), tz)
        action, reason = _plan(status, force, preserve)
        item: dict[str, Any] = {"day": d, "path": status.path, "action": action, "reason": reason}
        item.update(sessions=len(status.sessions), archive=False, archived=None)
        if action != "skip":
            use = summarizer if summarize else None
            try:
                archive, archived = _write_day(layout, d, days[d], tz, now, preserve, use, dry_run)
            except MemsyncError as exc:  # per-day boundary: the other days still go on
                item.update(action="failed", error=str(exc))
            else:
                item.update(archive=archive, archived=archived)
                written += [] if dry_run else [p for p in (archived, status.path) if p]
        results.append(item)
    return {"timezone": tz, "dry_run": dry_run, "days": results, "written": written}


def _write_day(
    layout: StoreLayout,
    day: str,
    slices: Sequence[DaySlice],
    tz: str,
    now: dt.datetime,
    preserve: bool,
    summarizer: Summarizer | None,
    dry_run: bool,
) -> tuple[bool, str | None]:
    """Write one day's file, archiving first a previous version whose text would be lost;
    returns (archive needed, archived path). A dry run decides the same and writes nothing."""
    rel = daily_rel_path(day)
    existing = _read(layout, rel)
    try:
        old = parse_memory(existing, rel) if existing is not None else None
    except MemoryFileError as exc:
        raise MemoryFileError(rel, f"{exc.reason}; fix or move the file, then run again") from None
    body = generated_body(day, slices, tz)
    if summarizer is not None and not dry_run:
        summary = redact(summarizer(day, body))[0].replace("<!--", "&lt;!--")
        body = generated_body(day, slices, tz, summary)
    tail = split_tail(existing)[1] if existing is not None and preserve else None
    archive = old is not None and (
        (dry_run and summarizer is not None) or _loses_text(old, body, tail is not None)
    )
    if dry_run:
        return archive, None
    archived = archive_version(layout, old, now) if archive and old is not None else None
    text = render_daily(day, slices, tz, body, old.created if old else "", now) + (tail or "\n")
    atomic_write_bytes(confined(layout.memory_dir, rel), text.encode("utf-8"))
    return archive, archived


def _loses_text(old: Memory, new_generated: str, tail_kept: bool) -> bool:
    """Whether replacing ``old`` would drop text: its generated part or its notes differ."""
    before, after = split_tail(old.body)
    if before.strip() != new_generated.strip():
        return True
    return not tail_kept and bool((after or "").strip())
