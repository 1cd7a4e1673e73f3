"""A session's digest: a compact, readable account of a (redacted) transcript within a token
budget — what the host agent reads to distil memories, and what an LM extracts from.

``build_digest`` is pure: transcript in, ``Digest`` out. Entries come from
``digest_entries``; when they do not all fit, the most informative are kept (each may first
shrink to its short form) and the rest are counted as left out, in place. The kept entries
are shown in session order: summaries first, then the conversation, then subagent work, then
the files changed.

Tokens are estimated without a tokenizer (``digest_units.estimate_tokens``: per character
class, fitted on the shared real transcripts against cl100k, o200k and Claude's tokenizer and
rounded up so that a budget holds for all three; ``scripts/eval_capture.py`` prints the check).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sync.capture.digest_entries import Facts, digest_entries
from sync.capture.digest_units import (
    choose_units,
    estimate_tokens,
    render_units,
    split_units,
)
from sync.capture.sources.base import Message, Transcript

DEFAULT_BUDGET = 6000
MIN_BUDGET = 300
MAX_FILES_LISTED = 40


@dataclass(frozen=True)
class Digest:
    """A rendered digest and what it was made of."""

    text: str
    tokens: int  # estimated tokens of ``text``
    source_tokens: int  # estimated tokens of the whole transcript (text, thinking, tool I/O)
    budget: int
    entries: int  # entries kept
    left_out: int  # entries that did not fit
    files: tuple[str, ...]  # files the session changed

    def as_dict(self) -> dict[str, object]:
        return {
            "digest": self.text,
            "tokens": self.tokens,
            "source_tokens": self.source_tokens,
            "budget": self.budget,
            "entries": self.entries,
            "left_out": self.left_out,
            "files_changed": list(self.files),
        }


def source_tokens(transcript: Transcript) -> int:
    """Estimated tokens of everything the transcript holds (text, thinking, tool I/O)."""

    def size(m: Message) -> int:
        calls = sum(estimate_tokens(c.input) + estimate_tokens(c.output) for c in m.tool_calls)
        return estimate_tokens(m.text) + estimate_tokens(m.thinking) + calls

    return sum(size(m) for m in (*transcript.messages, *transcript.sidechains))


def build_digest(transcript: Transcript, budget: int = DEFAULT_BUDGET) -> Digest:
    """The digest of ``transcript`` within ``budget`` estimated tokens (most informative kept)."""
    if budget < MIN_BUDGET:
        raise ValueError(f"a digest budget below {MIN_BUDGET} tokens leaves no room; got {budget}")
    entries, facts = digest_entries(transcript)
    head = _header(transcript, facts)
    files = _files(facts)
    units = [u for i, e in enumerate(entries) for u in split_units(i, e)]
    room = budget - estimate_tokens(head) - estimate_tokens(files) - 30  # section headings
    chosen = choose_units(units, room)
    while True:
        body = render_units(entries, units, chosen)
        text = "\n".join(p for p in (head, body, files) if p).strip() + "\n"
        tokens = estimate_tokens(text)
        if tokens <= budget or not chosen:
            break
        chosen.discard(min(chosen, key=lambda u: (units[u].value, -u)))
    kept = {units[u].entry for u in chosen}
    return Digest(
        text=text,
        tokens=tokens,
        source_tokens=source_tokens(transcript),
        budget=budget,
        entries=len(kept),
        left_out=len(entries) - len(kept),
        files=tuple(facts.files),
    )


def _header(t: Transcript, facts: Facts) -> str:
    when = _span(t.started, t.ended)
    parts = [f"# Session digest: {t.agent} {t.session_id}"]
    if t.cwd:
        parts.append(f"project: {t.cwd}")
    if t.title:
        parts.append(f"title: {' '.join(t.title.split())[:200]}")
    if when:
        parts.append(f"when: {when}")
    if t.models:
        parts.append(f"models: {', '.join(t.models[:4])}")
    side = f" (+{facts.side_calls} in subagents)" if facts.side_calls else ""
    parts.append(
        f"size: {facts.users} user and {facts.agents} agent messages, "
        f"{facts.calls} tool calls{side}"
    )
    return "\n".join(parts)


def _span(started: str | None, ended: str | None) -> str:
    def parse(value: str | None) -> dt.datetime | None:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
        except ValueError:
            return None

    a, b = parse(started), parse(ended)
    if a is None:
        return ""
    text = f"{a:%Y-%m-%d %H:%M} UTC"
    if b is not None and b > a:
        minutes = int((b - a).total_seconds() // 60)
        took = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
        text += f" to {b:%Y-%m-%d %H:%M} ({took})"
    return text


def _files(facts: Facts) -> str:
    if not facts.files:
        return ""
    ranked = sorted(facts.files.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = [f"{p} (×{n})" if n > 1 else p for p, n in ranked[:MAX_FILES_LISTED]]
    more = len(ranked) - len(shown)
    tail = f", and {more} more" if more > 0 else ""
    return f"\n## Files changed ({len(ranked)})\n" + ", ".join(shown) + tail
