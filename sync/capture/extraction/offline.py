"""The deterministic offline extractor: decisions, learnings and a session summary by rules.

No model call: phrasing cues find decisions ("decided to", "let's go with", "use X, not Y"),
failed tool calls followed by a fix find learnings, and the session's tools, files and
commands make the summary. The same transcript always gives the same candidates, and the
work is linear in the transcript's size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sync.capture.extraction.base import Candidate
from sync.capture.extraction.offline_session import find_learnings, session_calls, session_summary
from sync.capture.extraction.offline_text import (
    EVIDENCE_MAX,
    base_tags,
    clean_title,
    clip,
    normalized,
    sentences,
    tags_for,
)
from sync.capture.sources.base import Message, Transcript

MAX_DECISIONS = 12
MAX_LEARNINGS = 12

_I = re.I


@dataclass(frozen=True)
class _Cue:
    """A phrasing that marks a decision; the title starts at group ``t`` (or the sentence)."""

    pattern: re.Pattern[str]
    confidence: float
    needs_reason: bool = False
    user_only: bool = False
    clause: bool = False  # the title is the whole clause around the cue


_CUES = (
    _Cue(re.compile(r"\b(?:decided|agreed)\s+(?:to|on|that)\s+(?P<t>)", _I), 0.8),
    _Cue(re.compile(r"\bthe\s+decision\s+(?:is|was)\s+(?:to\s+)?(?P<t>)", _I), 0.8),
    _Cue(re.compile(r"^decision:\s*(?P<t>)", _I), 0.8),
    _Cue(
        re.compile(
            r"\b(?:going\s+forward|from\s+now\s+on|in\s+(?:the\s+)?future|as\s+a\s+rule)\b"
            r"[,:]?\s*(?:(?:we|you)\s+)?(?:should\s+)?(?P<t>)",
            _I,
        ),
        0.8,
    ),
    _Cue(
        re.compile(
            r"\blet'?s\s+(?P<t>(?:go|stick)\s+with|switch\s+to|standardi[sz]e\s+on|use|keep)\b",
            _I,
        ),
        0.7,
    ),
    _Cue(
        re.compile(
            r"\b(?:we|i|you)(?:'ll|\s+will|\s+should|'d\s+better|\s+are\s+going\s+to)\s+"
            r"(?P<t>(?:use|go\s+with|stick\s+with|keep|switch\s+to|move\s+to|migrate\s+to"
            r"|adopt|prefer)\b)",
            _I,
        ),
        0.6,
        needs_reason=True,
    ),
    _Cue(
        re.compile(
            r"\b(?P<t>(?:switch(?:ed|ing)?|mov(?:e|ed|ing)|migrat(?:e|ed|ing)|replac(?:e|ed|ing))"
            r"\b.{2,80}?\b(?:instead\s+of|rather\s+than|in\s+favou?r\s+of)\b)",
            _I,
        ),
        0.7,
    ),
    _Cue(re.compile(r"\b(?P<t>switch(?:ed|ing)?\s+from\b.{2,60}?\bto\b)", _I), 0.7),
    _Cue(
        re.compile(
            r"\b(?P<t>(?:chose|choose|chosen|picked|opted\s+for|opt\s+for|went\s+with)\b"
            r".{2,80}?\b(?:over|instead\s+of|rather\s+than)\b)",
            _I,
        ),
        0.7,
    ),
    _Cue(
        re.compile(
            r"\b(?P<t>prefer(?:s|red)?\b.{2,80}?\b(?:over|instead\s+of|rather\s+than)\b)", _I
        ),
        0.6,
    ),
    _Cue(re.compile(r"\b(?:i|we)\s+(?P<t>prefer)\b", _I), 0.6, user_only=True),
    _Cue(
        re.compile(
            r"^(?:(?:please|and|also|so|ok(?:ay)?|note|remember)[,:]?\s+)*"
            r"(?:make\s+sure\s+(?:to\s+|you\s+)?)?(?P<t>(?:always|never)\b)",
            _I,
        ),
        0.7,
        user_only=True,
    ),
    _Cue(
        re.compile(
            r"^(?:please\s+)?(?P<t>(?:use|prefer)\s+\S.{1,50}?,?\s+(?:not|instead\s+of"
            r"|rather\s+than)\s+\S)",
            _I,
        ),
        0.7,
        user_only=True,
    ),
    _Cue(
        re.compile(
            r"^(?:please\s+)?(?P<t>(?:don'?t|do\s+not)\s+(?:ever\s+)?(?:use|commit|push|add"
            r"|modify|change|touch|edit|run|install|create|delete|remove|rename|mock)\b)",
            _I,
        ),
        0.6,
        user_only=True,
    ),
    _Cue(
        re.compile(
            r"(?:^|[:;]\s|\s[—–-]\s|\bto\s)\s*(?P<t>(?:use[sd]?|using|take|keep|call|return)\b"
            r".{2,80}?\b(?:instead\s+of|rather\s+than)\b)",
            _I,
        ),
        0.6,
    ),
    _Cue(re.compile(r"\b(?:should|must)\s+(?:always|never)\b", _I), 0.6, clause=True),
)

_REASON = re.compile(
    r"\b(?:because|since|so\s+that|due\s+to|in\s+order\s+to|to\s+avoid|as\s+(?:it|this|that)"
    r"|which\s+(?:means|avoids|keeps|makes|lets)|otherwise|the\s+reason)\b",
    _I,
)
_REASON_NEXT = re.compile(
    r"^(?:(?:this|that|it)(?:'s|\s+is|\s+was)?\s+(?:because|since|so|avoids|keeps|means)"
    r"|because|since|the\s+reason|that\s+way|this\s+way)\b",
    _I,
)
_BOILERPLATE = re.compile(
    r"^(?:(?:now|ok(?:ay)?|great|perfect|good|alright|first|next|then)[,!.]?\s+)*"
    r"(?:let\s+me|i'?ll|i\s+will|i'?m\s+going\s+to|i\s+am\s+going\s+to|i\s+need\s+to|now\s+i)\b",
    _I,
)
_QUESTION = re.compile(
    r"\?\s*$|\b(?:should\s+(?:i|we)|shall\s+(?:i|we)|would\s+you|do\s+you\s+want|could\s+you"
    r"|can\s+you|want\s+me\s+to)\b",
    _I,
)
_CONDITIONAL = re.compile(r"\b(?:if|whether|unless|when|once)\b", _I)
_CLAUSE_START = re.compile(r".*(?:[,;:]\s|\s[—–-]\s|\b(?:but|and|so)\s)", re.S)
_WEAK_START = re.compile(r"^(?:that|this|it|which|there|these|those|they)\b", _I)
_PLEASE = re.compile(r"^(?:please|just)[,\s]+", _I)
_VERB_FORMS = {
    "switched": "switch", "switching": "switch", "moved": "move", "moving": "move",
    "migrated": "migrate", "migrating": "migrate", "replaced": "replace", "replacing": "replace",
    "chose": "choose", "chosen": "choose", "picked": "pick", "opted": "opt", "went": "go",
    "preferred": "prefer", "prefers": "prefer",
}  # fmt: skip


@dataclass(frozen=True)
class _Found:
    """A candidate and where it was found, for ordering and keeping the strongest."""

    position: int
    candidate: Candidate


def _title(sentence: str, start: int | None) -> str:
    """The clause from the cue on, with the verb in the imperative; the sentence if too short."""
    clause = _PLEASE.sub("", sentence[start:] if start is not None else sentence)
    words = clause.split(" ", 1)
    if words and words[0].lower() in _VERB_FORMS:
        clause = " ".join([_VERB_FORMS[words[0].lower()], *words[1:]])
    if len(clause.strip()) < 12:
        clause = sentence
    if len(clause) > 80:
        reason = _REASON.search(clause, 15)
        if reason and reason.start() <= 80:
            clause = clause[: reason.start()]
    return clean_title(clause)


def _title_start(sentence: str, cue: _Cue, m: re.Match[str]) -> int | None:
    """Where the title starts: the cue's group, the start of its clause, or the sentence."""
    if cue.clause:
        before = _CLAUSE_START.match(sentence, 0, m.start())
        return before.end() if before else None
    return m.start("t") if "t" in m.groupdict() else None


def _match(sentence: str, role: str) -> tuple[_Cue, re.Match[str]] | None:
    for cue in _CUES:
        if cue.user_only and role != "user":
            continue
        m = cue.pattern.search(sentence)
        if m is None:
            continue
        clause = _CLAUSE_START.match(sentence, 0, m.start())
        if _CONDITIONAL.search(sentence, clause.end() if clause else 0, m.start()):
            continue
        return cue, m
    return None


def _decision(
    sentence: str, following: str, msg: Message, context: str, tags: tuple[str, ...]
) -> Candidate | None:
    """A decision candidate for ``sentence``, or None when it is not one."""
    if not 20 <= len(sentence) <= 400 or _QUESTION.search(sentence):
        return None
    found = _match(sentence, msg.role)
    if found is None:
        return None
    cue, m = found
    quote = sentence
    reason = bool(_REASON.search(sentence))
    if not reason and following and _REASON_NEXT.search(following):
        quote, reason = f"{sentence} {following}", True
    if (cue.needs_reason and not reason) or (not reason and _BOILERPLATE.search(sentence)):
        return None
    title = _title(sentence, _title_start(sentence, cue, m))
    if len(title) < 12 or title.count(" ") < 2 or _WEAK_START.search(title):
        return None
    body = f"> {quote}"
    if context and msg.role != "user":
        body += f"\n\nContext: the user asked: {clip(context, 200)}"
    return Candidate(
        kind="decision",
        title=title,
        body=body,
        confidence=0.8 if reason else cue.confidence,
        tags=tags_for(tags, quote),
        evidence=clip(sentence, EVIDENCE_MAX),
        line_start=msg.line,
        line_end=msg.end_line if msg.end_line is not None else msg.line,
    )


def find_decisions(t: Transcript, tags: tuple[str, ...]) -> list[_Found]:
    """Every decision stated in a user or assistant message, in transcript order."""
    out: list[_Found] = []
    context = ""
    for index, msg in enumerate(t.messages):
        if msg.role not in ("user", "assistant") or len(msg.text) < 20:
            continue
        said = list(sentences(msg.text))
        for i, sentence in enumerate(said):
            following = said[i + 1] if i + 1 < len(said) else ""
            cand = _decision(sentence, following, msg, context, tags)
            if cand is not None:
                out.append(_Found(index * 1000 + i, cand))
        if msg.role == "user" and said:
            context = said[0]
    return out


def select(found: Iterable[_Found], limit: int) -> list[Candidate]:
    """Drop near-duplicates (keeping the strongest, then the first) and cap at ``limit``."""
    best: dict[str, _Found] = {}
    for item in found:
        key = normalized(item.candidate.title)[:60]
        kept = best.get(key)
        if kept is None or item.candidate.confidence > kept.candidate.confidence:
            best[key] = item
    strongest = sorted(best.values(), key=lambda f: (-f.candidate.confidence, f.position))
    return [f.candidate for f in sorted(strongest[:limit], key=lambda f: f.position)]


class OfflineExtractor:
    """Rules only: decisions, learnings and one summary per non-trivial session."""

    name = "offline"

    def __init__(self, max_decisions: int = MAX_DECISIONS, max_learnings: int = MAX_LEARNINGS):
        self.max_decisions = max_decisions
        self.max_learnings = max_learnings

    def extract(self, transcript: Transcript) -> list[Candidate]:
        """Candidates found in one (already redacted, echo-stripped) transcript."""
        tags = base_tags(transcript)
        decisions = select(find_decisions(transcript, tags), self.max_decisions)
        calls = session_calls(transcript)
        learnings = select(
            (_Found(pos, c) for pos, c in find_learnings(transcript, calls, tags)),
            self.max_learnings,
        )
        summary = session_summary(transcript, calls, tags)
        return [*decisions, *learnings, *([summary] if summary else [])]
