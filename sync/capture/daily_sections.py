"""The generated section of a daily log: topics, session flow, decisions, technical details,
model transitions and message counts, built from one day's slices of sessions."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sync.capture.extraction.offline import find_decisions, select
from sync.capture.extraction.offline_session import session_calls
from sync.capture.extraction.offline_text import (
    base_tags,
    clip,
    is_edit,
    paths_of,
    sentences,
    tech_tags,
)
from sync.capture.sources.base import Message, Transcript
from sync.redact import redact


@dataclass(frozen=True)
class DaySlice:
    """The part of one session that fell on one local day (redacted, echo stripped)."""

    key: str
    transcript: Transcript  # messages of this day only
    times: tuple[dt.datetime, ...]  # per message, UTC
    continued: bool = False  # the session began on an earlier day
    continues: bool = False  # and goes on after this day


def _hm(moment: dt.datetime, zi: ZoneInfo) -> str:
    return moment.astimezone(zi).strftime("%H:%M")


def _project(t: Transcript) -> str:
    name = t.project or (t.cwd or "").replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return redact(name)[0] or "unknown project"


def _first_request(t: Transcript) -> str:
    user = next((m for m in t.messages if m.role == "user" and m.text.strip()), None)
    if user is None:
        return ""
    return clip(next(iter(sentences(user.text)), "") or user.text, 160)


def _listing(items: Sequence[str], limit: int) -> list[str]:
    lines = [f"- {i}" for i in items[:limit]]
    return lines + ([f"- (+{len(items) - limit} more)"] if len(items) > limit else [])


def _topics(slices: Sequence[DaySlice]) -> list[str]:
    lines = []
    for s in slices:
        t = s.transcript
        what = clip(t.title or "", 160) or _first_request(t) or "(no request this day)"
        lines.append(f"{_project(t)}: {what}")
    users = " ".join(m.text[:2000] for s in slices for m in s.transcript.messages)
    terms = tech_tags(users, limit=8)
    out = _listing(list(dict.fromkeys(lines)), 12)
    return out + ([f"- Key terms: {', '.join(terms)}"] if terms else [])


def _tally(messages: Sequence[Message]) -> str:
    """Messages by role and tool calls: ``assistant 5, user 3, tool calls 4``."""
    roles = Counter(m.role for m in messages)
    calls = sum(len(m.tool_calls) for m in messages)
    return ", ".join([*(f"{r} {n}" for r, n in sorted(roles.items())), f"tool calls {calls}"])


def _flow(slices: Sequence[DaySlice], zi: ZoneInfo) -> list[str]:
    lines = []
    for s in slices:
        t = s.transcript
        span = f"{_hm(min(s.times), zi)}–{_hm(max(s.times), zi)}"
        notes = [n for n, on in (("continued", s.continued), ("continues", s.continues)) if on]
        request = _first_request(t) or "(no user message this day)"
        lines.append(
            f"- {span} · {t.agent} · {_project(t)} · session {t.session_id[:8]}"
            + (f" ({', '.join(notes)})" if notes else "")
            + f" — {request} ({_tally(t.messages)})"
        )
    return lines


def _decisions(slices: Sequence[DaySlice], zi: ZoneInfo) -> list[str]:
    lines = []
    for s in slices:
        t = s.transcript
        at = {m.line: w for m, w in zip(t.messages, s.times, strict=True)}
        for cand in select(find_decisions(t, base_tags(t)), 6):
            when = at.get(cand.line_start) if cand.line_start is not None else None
            stamp = f", {_hm(when, zi)}" if when else ""
            lines.append(f"{cand.title} ({_project(t)}{stamp})")
    return _listing(list(dict.fromkeys(lines)), 15)


def _relative(path: str, cwd: str | None) -> str:
    root = (cwd or "").rstrip("/\\")
    if root and path.startswith(root) and len(path) > len(root) + 1 and path[len(root)] in "/\\":
        return path[len(root) + 1 :]
    return path


def _technical(slices: Sequence[DaySlice]) -> list[str]:
    commands: list[str] = []
    files: dict[str, bool] = {}
    errors: list[str] = []
    for s in slices:
        for call in session_calls(s.transcript):
            if call.command:
                commands.append(f"`{clip(call.command, 120)}`")
            if call.error:
                errors.append(call.error)
            for p in paths_of(call.call):
                rel = _relative(p, s.transcript.cwd)
                files[rel] = files.get(rel, False) or is_edit(call.call)
    marked = [f"{p} (edited)" if edited else p for p, edited in files.items()]
    out: list[str] = []
    for name, items, limit in (
        ("Commands run", commands, 25),
        ("Files touched", marked, 30),
        ("Errors seen", errors, 10),
    ):
        unique = list(dict.fromkeys(items))
        out += [f"### {name}", *(_listing(unique, limit) if unique else ["- none"]), ""]
    return out[:-1]


def _models(slices: Sequence[DaySlice], zi: ZoneInfo) -> list[str]:
    lines: list[str] = []
    used: Counter[str] = Counter()
    for s in slices:
        t, last = s.transcript, None
        per_message = [(m, w) for m, w in zip(t.messages, s.times, strict=True) if m.model]
        for m, when in per_message:
            used[str(m.model)] += 1
            if last is not None and m.model != last:
                lines.append(f"- {_hm(when, zi)} {t.agent} · {_project(t)}: {last} → {m.model}")
            last = m.model
        if not per_message and len(t.models) > 1:  # no per-message model: the order of first use
            lines.append(f"- {t.agent} · {_project(t)}: {' → '.join(t.models)}")
    lines = lines or ["- none"]
    if used:
        lines.append("- Models used: " + ", ".join(f"{m} ({n})" for m, n in used.most_common()))
    return lines


def _counts(slices: Sequence[DaySlice]) -> list[str]:
    agents = Counter(s.transcript.agent for s in slices)
    messages = [m for s in slices for m in s.transcript.messages]
    return [
        f"- Sessions: {len(slices)} ({', '.join(f'{a} {n}' for a, n in sorted(agents.items()))})",
        f"- Messages: {len(messages)} ({_tally(messages)})",
    ]


def generated_body(day: str, slices: Sequence[DaySlice], tz: str, summary: str = "") -> str:
    """The generated section of a day's file (redacted; without the end marker)."""
    zi = ZoneInfo(tz)  # validated by sync.capture.daily.zone before any day is built
    agents = ", ".join(sorted({s.transcript.agent for s in slices}))
    parts = [
        f"# Daily log {day}",
        f"_{len(slices)} session(s) · agents: {agents} · times in {tz} · generated by memsync_",
    ]
    if summary.strip():
        parts.append("## Summary\n" + summary.strip())
    for title, lines in (
        ("Topics covered", _topics(slices)),
        ("Session flow", _flow(slices, zi)),
        ("Key decisions", _decisions(slices, zi) or ["- none found"]),
        ("Technical details", _technical(slices)),
        ("Model transitions", _models(slices, zi)),
        ("Message counts", _counts(slices)),
    ):
        parts.append(f"## {title}\n" + "\n".join(lines))
    text = redact("\n\n".join(parts))[0]
    return text.replace("<!--", "&lt;!--")  # only our footer may look like the marker
