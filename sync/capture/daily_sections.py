"""The generated section of a daily log, built from one day's slices of sessions: what was
asked and done, what was decided, fixed and left open, the errors met, model transitions and
message counts. The same offline rules as capture read each slice (``read_session``), so a
day shows the decisions and errors its sessions had ("none" only when there were none)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sync.capture.extraction.base import Candidate
from sync.capture.extraction.offline import Reading, read_session
from sync.capture.extraction.offline_errors import errors_seen
from sync.capture.extraction.offline_recap import asked, done_lines, report_texts
from sync.capture.extraction.offline_text import clip, tech_tags
from sync.capture.extraction.user_text import classify, headline
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


def _listing(items: Sequence[str], limit: int) -> list[str]:
    lines = [f"- {i}" for i in items[:limit]]
    return lines + ([f"- (+{len(items) - limit} more)"] if len(items) > limit else [])


def _tally(messages: Sequence[Message]) -> str:
    """Messages by role and tool calls: ``assistant 5, user 3, tool calls 4``."""
    roles = Counter(m.role for m in messages)
    calls = sum(len(m.tool_calls) for m in messages)
    return ", ".join([*(f"{r} {n}" for r, n in sorted(roles.items())), f"tool calls {calls}"])


class _Day:
    """One day's slices, each read once by the offline rules."""

    def __init__(self, slices: Sequence[DaySlice], zi: ZoneInfo) -> None:
        self.slices, self.zi = slices, zi
        self.readings = [read_session(s.transcript) for s in slices]

    def _at(self, s: DaySlice, line: int | None) -> str:
        times = {m.line: w for m, w in zip(s.transcript.messages, s.times, strict=True)}
        when = times.get(line) if line is not None else None
        return f", {_hm(when, self.zi)}" if when else ""

    def topics(self) -> list[str]:
        lines = []
        for s, r in zip(self.slices, self.readings, strict=True):
            first = asked(r.timeline)[0]
            what = clip(s.transcript.title or "", 160) or clip(first, 160) or "(no request)"
            lines.append(f"{_project(s.transcript)}: {what}")
        text = " ".join(m.text[:2000] for s in self.slices for m in s.transcript.messages)
        terms = tech_tags(text, limit=8)
        out = _listing(list(dict.fromkeys(lines)), 12)
        return out + ([f"- Key terms: {', '.join(terms)}"] if terms else [])

    def flow(self) -> list[str]:
        lines = []
        for s, r in zip(self.slices, self.readings, strict=True):
            t = s.transcript
            span = f"{_hm(min(s.times), self.zi)}–{_hm(max(s.times), self.zi)}"
            notes = [n for n, on in (("continued", s.continued), ("continues", s.continues)) if on]
            request = clip(asked(r.timeline)[0], 160) or "(no user message this day)"
            lines.append(
                f"- {span} · {t.agent} · {_project(t)} · session {t.session_id[:8]}"
                + (f" ({', '.join(notes)})" if notes else "")
                + f" — {request} ({_tally(t.messages)})"
            )
        return lines

    def done(self) -> list[str]:
        lines = []
        for s, r in zip(self.slices, self.readings, strict=True):
            tl = r.timeline
            texts = [*(x.text for x in tl.summaries), *report_texts(tl)]
            lines += [f"- {_project(s.transcript)}: {d[2:]}" for d in done_lines(tl, texts)]
        return lines

    def of_kind(self, *kinds: str) -> list[str]:
        lines = []
        for s, r in zip(self.slices, self.readings, strict=True):
            for c in _found(r, kinds):
                lines.append(f"{c.title} ({_project(s.transcript)}{self._at(s, c.line_start)})")
        return _listing(list(dict.fromkeys(lines)), 15)

    def errors(self) -> list[str]:
        lines = []
        for s, r in zip(self.slices, self.readings, strict=True):
            where = _project(s.transcript)
            for line, text in errors_seen(r.timeline):
                lines.append(f"{where}{self._at(s, line)}: {text}")
            for turn in r.timeline.main():
                user = turn.user
                if user is not None and classify(user.text, False) == "bug":
                    said = clip(headline(user.text), 160)
                    lines.append(f"{where}{self._at(s, user.line)}: reported: {said}")
        return _listing(list(dict.fromkeys(lines)), 12)

    def models(self) -> list[str]:
        lines: list[str] = []
        used: Counter[str] = Counter()
        for s in self.slices:
            t, last = s.transcript, None
            per_message = [(m, w) for m, w in zip(t.messages, s.times, strict=True) if m.model]
            for m, when in per_message:
                used[str(m.model)] += 1
                if last is not None and m.model != last:
                    lines.append(
                        f"- {_hm(when, self.zi)} {t.agent} · {_project(t)}: {last} → {m.model}"
                    )
                last = m.model
            if not per_message and len(t.models) > 1:  # no per-message model: order of first use
                lines.append(f"- {t.agent} · {_project(t)}: {' → '.join(t.models)}")
        lines = lines or ["- none"]
        if used:
            lines.append("- Models used: " + ", ".join(f"{m} ({n})" for m, n in used.most_common()))
        return lines

    def counts(self) -> list[str]:
        agents = Counter(s.transcript.agent for s in self.slices)
        messages = [m for s in self.slices for m in s.transcript.messages]
        return [
            f"- Sessions: {len(self.slices)} "
            f"({', '.join(f'{a} {n}' for a, n in sorted(agents.items()))})",
            f"- Messages: {len(messages)} ({_tally(messages)})",
        ]


def _found(reading: Reading, kinds: Sequence[str]) -> list[Candidate]:
    return [c for c in reading.all() if c.kind in kinds]


def generated_body(day: str, slices: Sequence[DaySlice], tz: str, summary: str = "") -> str:
    """The generated section of a day's file (redacted; without the end marker)."""
    zi = ZoneInfo(tz)  # validated by sync.capture.daily.zone before any day is built
    d = _Day(slices, zi)
    agents = ", ".join(sorted({s.transcript.agent for s in slices}))
    parts = [
        f"# Daily log {day}",
        f"_{len(slices)} session(s) · agents: {agents} · times in {tz} · generated by memsync_",
    ]
    if summary.strip():
        parts.append("## Summary\n" + summary.strip())
    for title, lines in (
        ("Topics covered", d.topics()),
        ("Session flow", d.flow()),
        ("Done", d.done()),
        ("Key decisions", d.of_kind("decision", "convention") or ["- none found"]),
        ("Fixed", d.of_kind("learning")),
        ("Left open", d.of_kind("issue")),
        ("Errors seen", d.errors() or ["- none"]),
        ("Model transitions", d.models()),
        ("Message counts", d.counts()),
    ):
        if lines:
            parts.append(f"## {title}\n" + "\n".join(lines))
    text = redact("\n\n".join(parts))[0]
    return text.replace("<!--", "&lt;!--")  # only our footer may look like the marker
