"""Decisions stated in so many words, with their reason (pure): "we decided to", "I chose X
over Y because", "switched from X to Y", "use X instead of Y, since". A decision needs a reason
in its sentence or the next one ("This keeps …", "because …"); questions, conditionals ("if we
decided …") and narration ("Let me …") are not decisions. The user's preferences and
corrections in their own words are read by ``offline_turns``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from sync.capture.extraction.found import Found, found
from sync.capture.extraction.offline_text import clean_title, gist_of, polite, sentences
from sync.capture.extraction.timeline import Act, Said, Timeline
from sync.capture.sources.base import ToolCall

_I = re.I


@dataclass(frozen=True)
class _Cue:
    """A phrasing that marks a decision; the title starts at group ``t`` (or the sentence)."""

    pattern: re.Pattern[str]
    confidence: float
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


def _match(sentence: str) -> tuple[_Cue, re.Match[str]] | None:
    for cue in _CUES:
        m = cue.pattern.search(sentence)
        if m is None:
            continue
        clause = _CLAUSE_START.match(sentence, 0, m.start())
        if _CONDITIONAL.search(sentence, clause.end() if clause else 0, m.start()):
            continue
        return cue, m
    return None


def decision_title(sentence: str) -> str | None:
    """The imperative title a stated decision gets ("Use X instead of Y"), or None when
    ``sentence`` states no decision in so many words."""
    hit = _match(sentence)
    if hit is None:
        return None
    title = _title(sentence, _title_start(sentence, *hit))
    return title if len(title) >= 12 and not _WEAK_START.search(title) else None


def _decision(sentence: str, following: str, said: Said, tags: tuple[str, ...]) -> Found | None:
    """A decision for ``sentence``, or None when it is not one (or gives no reason)."""
    if not 20 <= len(sentence) <= 400 or _QUESTION.search(sentence):
        return None
    hit = _match(sentence)
    if hit is None:
        return None
    cue, m = hit
    reason = sentence if _REASON.search(sentence) else ""
    if not reason and following and _REASON_NEXT.search(following):
        reason = following
    if not reason or _BOILERPLATE.search(sentence):
        return None
    title = _title(sentence, _title_start(sentence, cue, m))
    if len(title) < 12 or title.count(" ") < 2 or _WEAK_START.search(title):
        return None
    lines = [
        ("Decision", polite(sentence)),
        ("Reason", polite(reason) if reason != sentence else ""),
    ]
    score = 3.5 + 2 * cue.confidence
    return found("decision", title, lines, score=score, pos=said.pos, span=(said.line, said.line),
                 tags=tags, confidence=0.8)  # fmt: skip


def stated_decisions(tl: Timeline, tags: tuple[str, ...]) -> Iterator[Found]:
    """Every decision stated in so many words, with a reason, by the agent or the user (the
    first message included: "we decided to use X because Y" is no task), in session order."""
    for turn in tl.turns:
        users = [turn.user] if turn.user is not None and not turn.side else []
        for said in [*users, *turn.says()]:
            if len(said.text) < 20:
                continue
            parts = list(sentences(said.text))
            for i, sentence in enumerate(parts):
                following = parts[i + 1] if i + 1 < len(parts) else ""
                item = _decision(sentence, following, said, tags)
                if item is not None:
                    yield item


_ANSWER_PAIR = re.compile(r'"([^"]{3,300})"\s*=\s*"([^"]{1,300})"')
_REJECTED = re.compile(r"(?i)doesn'?t want to proceed|rejected|not approved")
_FEEDBACK = re.compile(
    r"(?is)(?:the user said|user feedback|with (?:the following )?feedback)\s*:\s*(.+)"
)


def _options(call: ToolCall | None) -> dict[str, str]:
    """Each offered option's label and description, from a question tool's input."""
    try:
        args = json.loads(call.input) if call is not None else {}
    except (ValueError, RecursionError):
        return {}
    questions = args.get("questions") if isinstance(args, dict) else None
    out: dict[str, str] = {}
    for q in questions if isinstance(questions, list) else []:
        for o in q.get("options") or [] if isinstance(q, dict) else []:
            if isinstance(o, dict) and o.get("label"):
                out[str(o["label"]).strip().lower()] = str(o.get("description") or "")
    return out


def _answered(act: Act, tags: tuple[str, ...]) -> Iterator[Found]:
    """A question the user answered through a tool: what was chosen, and the option's why."""
    answer = act.facts.report
    options = _options(act.call)
    pairs = _ANSWER_PAIR.findall(answer) or [(act.facts.summary, answer)]
    for n, (question, choice) in enumerate(pairs):
        choice = choice.strip().rstrip(".")
        why = options.get(choice.lower(), "")
        lines = [("Decision", f'asked "{question}", the user chose "{choice}"'), ("Reason", why)]
        title = f"{choice} (chosen for: {question})"
        item = found("decision", title, lines, score=6.0, pos=act.pos + n / 100,
                     span=(act.line, act.line), tags=tags, confidence=0.8)  # fmt: skip
        if item is not None:
            yield item


def _planned(act: Act, tags: tuple[str, ...]) -> Found | None:
    """A plan the user approved (its gist), or the feedback the user gave on rejecting it."""
    plan, outcome = act.facts.report, act.call.output if act.call is not None else ""
    head = next(iter(sentences(plan, lax=True)), "")
    if _REJECTED.search(outcome):
        feedback = _FEEDBACK.search(outcome)
        if feedback is None:
            return None
        said = polite(" ".join(feedback.group(1).split()))
        lines = [("Decision", said), ("Context", f"on the plan: {head}")]
        return found("decision", said, lines, score=6.0, pos=act.pos, span=(act.line, act.line),
                     tags=tags, confidence=0.8)  # fmt: skip
    if not plan.strip() or "approv" not in outcome.lower():
        return None
    lines = [("Decision", f"the user approved the plan: {gist_of(plan, 400)}")]
    return found("decision", f"Plan approved: {head}", lines, score=5.5, pos=act.pos,
                 span=(act.line, act.line), tags=tags, confidence=0.8)  # fmt: skip


def tool_answers(tl: Timeline, tags: tuple[str, ...]) -> Iterator[Found]:
    """Choices the user made through tools: answered questions, approved or corrected plans."""
    for _, act in tl.acts():
        if act.facts.kind == "ask" and act.facts.report and not _REJECTED.search(act.facts.report):
            yield from _answered(act, tags)
        elif act.facts.kind == "plan":
            item = _planned(act, tags)
            if item is not None:
                yield item
