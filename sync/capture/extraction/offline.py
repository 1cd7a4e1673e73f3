"""The deterministic offline extractor: what `memsync sync` keeps when no LM is configured.

No model call. The session is read as turns (``timeline``); rules then propose memories:

- learnings as problem -> cause -> fix, where the fix is the change that made the error go
  away (``offline_errors``), the user's bug reports the agent fixed, confirmed fixes and the
  user's findings (``offline_turns``), the agent's findings and its summaries' "errors and
  fixes" (``offline_notes``);
- decisions as choice -> reason: the user's preferences and corrections (``offline_turns``),
  choices stated with their reasons and answers given through tools (questions, plans:
  ``offline_decide``), the decisions the agent's summaries list (``offline_notes``);
- conventions: the user's rules ("always", "never", "must"), the preferences summaries list,
  what hooks enforce;
- learnings from the harness's notices that say what failed and how to fix it;
- issues: errors never fixed before the session ended, what summaries list as still open,
  hook commands that failed (the harness goes on past them);
- one summary that recaps the session (``offline_recap``).

The best are kept within a budget of characters per session (memory files included), the
rest dropped; the same transcript always gives the same memories.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sync.capture.extraction.base import Candidate
from sync.capture.extraction.found import Found
from sync.capture.extraction.offline_decide import stated_decisions, tool_answers
from sync.capture.extraction.offline_errors import error_found
from sync.capture.extraction.offline_handover import handed_over
from sync.capture.extraction.offline_notes import (
    curated_found,
    finding_found,
    hook_error_found,
    hook_found,
    model_error_found,
    notice_found,
)
from sync.capture.extraction.offline_recap import session_recap
from sync.capture.extraction.offline_refused import refused_found
from sync.capture.extraction.offline_text import base_tags, normalized
from sync.capture.extraction.offline_turns import turn_found
from sync.capture.extraction.timeline import Timeline, build_timeline
from sync.capture.sources.base import Transcript

SESSION_CHARS = 11_500  # what one session's memory files take at most, frontmatter included
FILE_OVERHEAD = 480  # a memory file's frontmatter (id, source, dates, tags), about
SUMMARY_CHARS = 4_200  # the summary's body at most
MIN_SUMMARY = 3_600  # room the summary always keeps (it holds what did not fit on its own)
MAX_MEMORIES = 12  # besides the summary
MIN_SCORE = 4.5  # below this a candidate is too weak to keep at all
_WORDS = re.compile(r"[a-z0-9_]{3,}")


def candidates(tl: Timeline, tags: tuple[str, ...]) -> list[Found]:
    """Everything the rules propose for a session, unranked."""
    return [
        *error_found(tl, tags, handed_over),
        *turn_found(tl, tags),
        *curated_found(tl, tags),
        *finding_found(tl, tags),
        *hook_found(tl, tags),
        *hook_error_found(tl, tags),
        *notice_found(tl, tags),
        *model_error_found(tl, tags),
        *refused_found(tl, tags),
        *stated_decisions(tl, tags),
        *tool_answers(tl, tags),
    ]


def cost(c: Candidate) -> int:
    """Characters the candidate's memory file takes, about."""
    return FILE_OVERHEAD + 2 * len(c.title) + len(c.body) + sum(len(t) + 3 for t in c.tags)


def _words(c: Candidate) -> set[str]:
    return set(_WORDS.findall(f"{c.title} {c.body}".lower()))


def _lead(c: Candidate) -> str:
    """The first line of a body without its label: what the memory states."""
    return normalized(c.body.split("\n", 1)[0].split(": ", 1)[-1])


def _repeats(item: Found, kept: Sequence[Found]) -> bool:
    """Whether ``item`` says what a kept one says: the same title, the same statement, or
    mostly the same words."""
    key = normalized(item.candidate.title)[:60]
    lead = _lead(item.candidate)
    words = _words(item.candidate)
    for other in kept:
        if normalized(other.candidate.title)[:60] == key:
            return True
        if len(lead) > 30 and lead == _lead(other.candidate):
            return True
        theirs = _words(other.candidate)
        if words and theirs and len(words & theirs) / len(words | theirs) >= 0.6:
            return True
    return False


def choose(
    found: Iterable[Found], room: int, limit: int = MAX_MEMORIES
) -> tuple[list[Candidate], list[Candidate]]:
    """The best candidates (by worth, then position) that fit ``room`` characters, without
    repeats, in session order; and the others worth mentioning, best first."""
    kept: list[Found] = []
    rest: list[Found] = []
    used = 0
    for item in sorted(found, key=lambda f: (-f.score, f.pos)):
        if item.score < MIN_SCORE or _repeats(item, kept + rest):
            continue
        size = cost(item.candidate)
        if used + size > room or len(kept) >= limit:
            rest.append(item)
            continue
        kept.append(item)
        used += size
    return [f.candidate for f in sorted(kept, key=lambda f: f.pos)], [f.candidate for f in rest]


@dataclass(frozen=True)
class Reading:
    """What the rules make of one session: its turns, the memories kept on their own, the
    others worth a line, and the summary."""

    timeline: Timeline
    kept: list[Candidate]
    rest: list[Candidate]
    summary: Candidate | None

    def all(self) -> list[Candidate]:
        """Every memory found, kept or not, in session order (the summary left out)."""
        return sorted([*self.kept, *self.rest], key=lambda c: c.line_start or 0)


def read_session(
    transcript: Transcript, budget: int = SESSION_CHARS, limit: int = MAX_MEMORIES
) -> Reading:
    """The rules over one (already redacted, echo-stripped) transcript, within ``budget``."""
    tl = build_timeline(transcript)
    tags = base_tags(transcript)
    room = budget - FILE_OVERHEAD - MIN_SUMMARY
    kept, rest = choose(candidates(tl, tags), room, limit)
    left = budget - sum(cost(c) for c in kept) - FILE_OVERHEAD
    summary = session_recap(transcript, tl, kept, rest, tags, min(SUMMARY_CHARS, left))
    return Reading(tl, kept, rest, summary)


class OfflineExtractor:
    """Rules only: learnings, decisions, conventions, issues and one summary per session."""

    name = "offline"

    def __init__(self, budget: int = SESSION_CHARS, max_memories: int = MAX_MEMORIES) -> None:
        self.budget = budget
        self.max_memories = max_memories

    def extract(self, transcript: Transcript) -> list[Candidate]:
        """Candidates found in one (already redacted, echo-stripped) transcript."""
        reading = read_session(transcript, self.budget, self.max_memories)
        return [*reading.kept, *([reading.summary] if reading.summary else [])]
