"""Fitting digest entries into a token budget, a sentence at a time (pure).

Each entry is cut into units (its lines; long lines into sentences). A unit is worth its
entry's score, plus half a point per identifier it adds to the digest (code spans, camelCase
and snake_case names, paths and file names, flags, error codes, versions: the names of things
are what a developer asks about later; a name the digest already holds adds nothing). The
first unit of an entry is its context and is worth a point more, a unit that states a
preference, a decision, a cause or a fix ("never", "prefers", "root cause", "fixed") a little
more; filler ("Perfect!", "Let me check…") less. Units are taken greedily by worth (less a
little per token, and less for each unit already taken from the same entry: breadth over
depth) until the budget is spent; a unit the digest already holds word for word is skipped.
Kept units are rendered in session order, ``…`` marking what was left out.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sync.capture.digest_entries import Entry
from sync.capture.tokens import estimate_tokens

UNIT_CHARS = 320  # a unit longer than this is cut
ENTRY_OVERHEAD = 5  # tokens of "L123 AGENT: " and the line break
DEPTH_PENALTY = 0.4  # each unit already kept from an entry makes its next one worth less
COST_WEIGHT = 0.02  # per token: of two equally telling units, the shorter goes first
NAME_BONUS = 0.5  # per identifier a unit adds to the digest (at most five count)
_LABELS = {
    "request": "USER",
    "correction": "USER",
    "answer": "USER ANSWERED",
    "plan": "PLAN",
    "report": "AGENT",
    "finding": "AGENT",
    "note": "AGENT",
    "subagent": "SUBAGENT",
    "error": "ERROR",
    "verify": "CHECK",
    "setup": "RAN",
    "ran": "RAN",
    "call": "CALLED",
    "commit": "COMMIT",
    "doc": "WROTE",
    "hook": "HOOK",
    "notice": "NOTICE",
    "edited": "FILE",
    "summary": "SUMMARY",
}
_SECTIONS = (
    ("summary", "## Summaries (compaction, the agent's own)"),
    ("main", "## Conversation"),
    ("side", "## Subagent work"),
)
_IDENTIFIER = re.compile(
    r"`[^`\n]{2,80}`"  # code spans
    r"|\b[a-z]+(?:[A-Z][a-z0-9]+)+\b|\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+\b"  # camel / Pascal
    r"|\b[A-Za-z]+_[A-Za-z0-9_]+\b"  # snake_case
    r"|(?:~|\.{1,2})?/?\b[\w.-]+/[\w./-]+"  # paths
    r"|\b[\w-]+\.(?:py|ts|tsx|js|jsx|mjs|json|md|toml|yaml|yml|rs|go|java|kt|rb|php|c|h|cpp"
    r"|cs|swift|sh|sql|css|scss|html|vue|svelte|lock|cfg|ini|txt|env)\b"  # file names
    r"|(?<![\w-])--?[a-z][\w-]+"  # flags
    r"|\b[A-Z]+\d+[A-Z0-9]*\b|\b[A-Z]{2,}[_-]?[A-Z0-9]+\b"  # error codes (TS2307, E2E), CONSTANTS
    r"|#[0-9a-fA-F]{6}\b|\bv?\d+\.\d+(?:\.\d+)?\b"  # colours, versions
)
_FILLER = re.compile(
    r"^\W*(?:perfect|done|great|excellent|good|nice|awesome|all set|got it|sure|yes|ok(?:ay)?"
    r"|now (?:let me|i'?ll|you can)|let me|i'?ll|here'?s|summary|you'?re (?:absolutely )?right)\b",
    re.I,
)
_CUE = re.compile(
    r"\b(?:prefers?|wants?|never|always|must|should(?:n'?t)?|don'?t|do not|only|instead|because"
    r"|root cause|turns? out|decided|decision|fix(?:ed|es)?|broke|breaks|fail(?:s|ed)?|error"
    r"|works?|required?|needs? to|avoid|gotcha|caveat|warning|important|not needed|unresolved"
    r"|todo|left open|still)\b",
    re.I,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*(\[\"'])")
_DECORATION = re.compile(r"^\s*(?:```\w*|\|?\s*:?-{3,}.*|[-=*_]{3,})\s*$")


@dataclass(frozen=True)
class Unit:
    """A line or sentence of an entry, with its worth and cost."""

    entry: int
    pos: int
    text: str
    newline: bool  # starts a new line of the entry (else it continues the previous one)
    value: float  # without the bonus for the names it mentions
    cost: int
    curated: bool = False  # a summary the agent wrote to be dense: depth costs it less
    names: frozenset[str] = frozenset()  # the identifiers it mentions, lowercased


def _pieces(text: str) -> list[tuple[str, bool]]:
    """(piece, starts a line) for the lines of ``text``; long lines split into sentences."""
    out: list[tuple[str, bool]] = []
    for line in text.replace("**", "").splitlines():
        if not line.strip() or _DECORATION.match(line):
            continue
        line = line.rstrip()
        parts = _SENTENCE.split(line) if len(line) > 200 else [line]
        for n, part in enumerate(parts):
            if len(part) > UNIT_CHARS:
                part = part[: UNIT_CHARS - 1].rstrip() + "…"
            out.append((part, n == 0))
    return out


def split_units(index: int, entry: Entry) -> list[Unit]:
    """The units of one entry, each valued (see the module docstring)."""
    units = []
    for pos, (text, newline) in enumerate(_pieces(entry.text)):
        names = frozenset(n.strip("`").lower() for n in _IDENTIFIER.findall(text))
        bonus = (1.0 if pos == 0 else 0.0) + (0.75 if _CUE.search(text) else 0.0)
        if _FILLER.match(text) and not names:
            bonus -= 3.0
        cost = estimate_tokens(text) + 1
        curated = entry.kind == "summary"
        units.append(Unit(index, pos, text, newline, entry.score + bonus, cost, curated, names))
    return units


def _worth(unit: Unit, covered: set[str], depth: float) -> float:
    """A unit's worth now: its value, a half point per name not yet in the digest (five at
    most), less its cost and its entry's depth."""
    fresh = min(len(unit.names - covered), 5) * NAME_BONUS
    return unit.value + fresh - COST_WEIGHT * unit.cost - depth


def choose_units(units: Sequence[Unit], room: int) -> set[int]:
    """Indexes of the units kept, greedily by worth (``_worth``: names already in the digest
    add nothing, each further unit of an entry is worth a little less); an entry's first unit
    comes with its others, and a unit the digest already holds word for word is not repeated.
    Worth only falls as units are taken, so a lazy queue finds the best next one."""
    chosen: set[int] = set()
    first = {u.entry: i for i, u in reversed(list(enumerate(units)))}
    taken: dict[int, int] = {}  # entry -> units kept
    penalty = {u.entry: DEPTH_PENALTY * (0.25 if u.curated else 1.0) for u in units}
    covered: set[str] = set()
    seen: set[str] = set()
    heap = [(-_worth(u, covered, 0.0), i) for i, u in enumerate(units)]
    heapq.heapify(heap)
    used = 0
    while heap:
        neg, i = heapq.heappop(heap)
        unit = units[i]
        worth = _worth(unit, covered, penalty[unit.entry] * taken.get(unit.entry, 0))
        if worth < -neg - 1e-9:  # the digest gained its names or its entry's units since
            heapq.heappush(heap, (-worth, i))
            continue
        key = " ".join(unit.text.lower().split())
        if key in seen and unit.pos != 0:
            continue
        lead = first[unit.entry]
        need = [] if i == lead or lead in chosen else [lead]
        cost = unit.cost + sum(units[j].cost for j in need)
        if lead not in chosen:
            cost += ENTRY_OVERHEAD
        if used + cost <= room:
            for j in (i, *need):
                chosen.add(j)
                covered.update(units[j].names)
                seen.add(" ".join(units[j].text.lower().split()))
            taken[unit.entry] = taken.get(unit.entry, 0) + 1 + len(need)
            used += cost
    return chosen


def render_units(entries: Sequence[Entry], units: Sequence[Unit], chosen: set[int]) -> str:
    """The kept units by section, entry by entry in session order, ``…`` where some went."""
    by_entry: dict[int, list[Unit]] = {}
    total: dict[int, int] = {}
    for unit in units:
        total[unit.entry] = total.get(unit.entry, 0) + 1
    for i in sorted(chosen):
        by_entry.setdefault(units[i].entry, []).append(units[i])
    out: list[str] = []
    for section, heading in _SECTIONS:
        rows = [i for i, e in enumerate(entries) if e.section == section]
        if not any(i in by_entry for i in rows):
            continue
        out.append(f"\n{heading}")
        gap = False
        for i in rows:
            if i not in by_entry:
                gap = True
                continue
            if gap:
                out.append("…")
                gap = False
            out.append(_entry_text(entries[i], by_entry[i], total[i]))
        if gap:
            out.append("…")
    return "\n".join(out)


def _entry_text(entry: Entry, kept: list[Unit], total: int) -> str:
    where = f"L{entry.line} " if entry.line is not None else ""
    parts: list[str] = [f"{where}{_LABELS.get(entry.kind, entry.kind.upper())}: "]
    previous = -1
    for n, unit in enumerate(kept):
        skipped = unit.pos != previous + 1
        if n and (unit.newline or skipped):
            parts.append("\n    " + ("… " if skipped else ""))
        elif n:
            parts.append(" ")
        parts.append(unit.text.strip() if unit.newline else unit.text)
        previous = unit.pos
    if previous < total - 1:
        parts.append(" …")
    return "".join(parts)
