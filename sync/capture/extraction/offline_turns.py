"""Offline rules over what the user said (pure): conventions, decisions and learnings.

Each user message is read (``user_text.classify``) as one of the following; the first
message is the task, and counts only as a rule or a pasted error:

- a rule ("always", "never", "must", "no console logs!") -> a convention, with what it
  corrected and what was done;
- a preference, a correction or a directive that says how something should be ("i think it
  should be X", "use X not Y", "X is actually Y", "change X to Y"), or how the product should
  behave ("by default X", "when X, show Y", "have it answer Z", "… don't do that") -> a
  decision: the choice, its reason (the user's, else the purpose the agent states), what
  was done, and what it corrected; when the agent grants a correction ("You're right -
  let's keep the header colour #014073"), the choice it states is the title;
- a finding ("it was actually the console.logs that did that") -> a learning;
- a bug report (a pasted error, "X doesn't update") the agent then fixed -> a learning:
  problem -> cause -> fix;
- a confirmation ("that's it", "works now") -> a learning: the problem it ends and the fix
  the agent had just proposed;
- a task, a question, thanks or a greeting -> nothing (the summary recaps the asks).

Nothing comes from a message that hands over a credential (a redaction mark in it).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence

from sync.capture.extraction.found import Found, found
from sync.capture.extraction.offline_decide import decision_title
from sync.capture.extraction.offline_errors import cause_of, titled
from sync.capture.extraction.offline_text import (
    NARRATION,
    clip,
    gist_of,
    polite,
    prose,
    sentences,
    telling,
)
from sync.capture.extraction.timeline import Timeline, Turn
from sync.capture.extraction.user_text import (
    BUG,
    CHANGE,
    CLAUSE,
    FINDING,
    PREFER,
    REASON,
    RULE,
    SPEC,
    classify,
    headline,
    own_words,
    problem_of,
    same_problem,
)

CONTEXT_CHARS = 140  # what a correction corrects: a pointer, not a second account
_FIX_VERB = re.compile(
    r"\b(?:add(?:ed|ing|s)?|import(?:ed|ing|s)?|register(?:ed|ing|s)?|creat(?:e|ed|ing)|updat(?:e|ed|ing)"
    r"|chang(?:e|ed|ing)|replac(?:e|ed|ing)|remov(?:e|ed|ing)|us(?:e|es|ed|ing)|includ(?:e|ed|ing)"
    r"|fix(?:ed|es|ing)?|set(?:ting)?|mov(?:e|ed|ing)|renam(?:e|ed|ing)|implement(?:ed|ing|s)?"
    r"|now (?:uses|has|returns|calls))\b",
    re.I,
)
_TASK_VERB = re.compile(
    r"^(?:please\s+)?(?:create|make|add|write|read|open|run|delete|remove|show|copy|commit|push"
    r"|investigate|check|look|try|find|implement|fix|update|build|test|generate|say|think|propose"
    r"|suggest|tell|explain|plan|figure|give|list)\b",
    re.I,
)


_PURPOSE = re.compile(  # the agent stating what a change is for: the reason it gives
    r"\b(?:to ensure|(?:this|that|it) (?:will )?ensures?|ensuring|so that|to keep|to make sure"
    r"|(?:this|that|it) (?:will )?(?:keeps?|makes?|avoids?|prevents?|lets?))\b",
    re.I,
)
_GRANTED = re.compile(  # the agent granting a correction: what follows is the choice
    r"^(?:you'?re (?:right|correct|absolutely right)|good (?:point|catch)|my (?:bad|mistake)"
    r"|sorry(?: about that)?)\W+(?:(?:let'?s|let me|i'?ll|we'?ll|we should)\s+)?",
    re.I,
)


def _reason(*texts: str, purpose: str = "") -> str:
    """The first sentence giving a reason in ``texts``; else the first in ``purpose`` (the
    agent's reply) that says what the change is for."""
    for text in texts:
        for sentence in sentences(text):
            if REASON.search(sentence) and len(sentence) <= 300 and not NARRATION.match(sentence):
                return polite(sentence)
    for sentence in sentences(purpose):
        if _PURPOSE.search(sentence) and len(sentence) <= 300 and not NARRATION.match(sentence):
            return polite(sentence)
    return ""


def _granted(report: str) -> str:
    """The choice the agent states when it grants a correction ("You're right - let's keep
    the header color #014073"), as an imperative clause; "" when it grants none."""
    for said in itertools.islice(sentences(report), 3):  # after "I apologize …" at most
        m = _GRANTED.match(said)
        rest = said[m.end() :].strip() if m else ""
        if len(rest) >= 20:
            return rest[:1].upper() + rest[1:]
    return ""


def _files(turn: Turn, tl: Timeline) -> str:
    edits = turn.edits()
    shown = ", ".join(tl.relative(p) for p, _ in edits[:4])
    return shown + (f" (+{len(edits) - 4} more)" if len(edits) > 4 else "")


def _span(turn: Turn) -> tuple[int | None, int | None]:
    user = turn.user.line if turn.user else None
    report = turn.report
    return user, (report.line if report is not None else user)


def _statement(text: str, pattern: re.Pattern[str]) -> str:
    """The user's sentences from the first one matching ``pattern`` (politely), one line."""
    said = [polite(s) for s in sentences(text)] or [polite(" ".join(prose(text).split()))]
    start = next((i for i, s in enumerate(said) if pattern.search(s)), 0)
    if start and len(said[start]) < 25:  # "don't do that": what it points at comes first
        start -= 1
    return " ".join(s for s in said[start : start + 2] if s)


def _before(turns: Sequence[Turn], i: int) -> str:
    """What the agent last reported before turn ``i`` (what a correction corrects)."""
    for turn in reversed(turns[max(0, i - 2) : i]):
        report = turn.report
        if report is not None:
            return gist_of(report.text, CONTEXT_CHARS)
    return ""


class _Rules:
    def __init__(self, tl: Timeline, tags: tuple[str, ...]) -> None:
        self.tl, self.tags = tl, tags
        self.turns = tl.main()
        self.first = next((i for i, t in enumerate(self.turns) if t.user is not None), -1)

    def run(self) -> Iterator[Found]:
        for i, turn in enumerate(self.turns):
            if turn.user is None:
                continue
            kind = classify(turn.user.text, i == self.first)
            result = getattr(self, f"_{kind}", None)
            item = result(i, turn) if result is not None else None
            if item is not None:
                yield item

    def _done(self, turn: Turn, limit: int = 260) -> str:
        report = turn.report
        said = gist_of(report.text, limit) if report is not None else ""
        files = _files(turn, self.tl)
        return (
            f"{said} (changed {files})"
            if files and said
            else said or (files and f"changed {files}")
        )

    def _rule(self, i: int, turn: Turn) -> Found | None:
        assert turn.user is not None
        words = own_words(turn.user.text)
        rule = _statement(words, RULE)
        bug = _statement(words, BUG) if BUG.search(words) else ""
        lines = [
            ("Rule", rule),
            ("Why", _reason(words) or (bug if bug != rule else "")),
            ("Done", self._done(turn)),
            ("Context", _before(self.turns, i) if i != self.first else ""),
        ]
        return found("convention", rule, lines, score=6.0, pos=turn.user.pos, span=_span(turn),
                     tags=self.tags, confidence=0.8)  # fmt: skip

    def _prefer(self, i: int, turn: Turn) -> Found | None:
        assert turn.user is not None
        if not turn.edits() and turn.report is None:
            return None
        words = own_words(turn.user.text)
        changes = bool(CHANGE.match(words))
        choice = _statement(words, CHANGE if changes else PREFER if PREFER.search(words) else SPEC)
        if not changes and _TASK_VERB.match(choice) and not REASON.search(choice):
            return None
        report = turn.report.text if turn.report is not None else ""
        reason = _reason(turn.user.text, report, purpose=report)
        granted = _granted(report) if SPEC.search(words) else ""
        if granted:  # a correction: the user's "why did you …", the agent's answer the choice
            choice = f"{granted} (the user asked: {choice})"
        elif (asked := list(sentences(choice))) and all(x.endswith("?") for x in asked):
            return None  # only questions ("so it has to be global?"): asked, not decided
        lines = [
            ("Decision", choice),
            ("Reason", "" if reason and reason in choice else reason),
            ("Done", self._done(turn)),
            ("Context", _before(self.turns, i)),
        ]
        score = 5.5 if reason else 4.8
        title = granted or next(filter(None, map(decision_title, sentences(choice))), None)
        title = title or next((x for x in sentences(choice) if not x.endswith("?")), choice)
        return found("decision", title, lines, score=score, pos=turn.user.pos, span=_span(turn),
                     tags=self.tags, confidence=0.7 if reason else 0.6)  # fmt: skip

    def _finding(self, i: int, turn: Turn) -> Found | None:
        assert turn.user is not None
        words = own_words(turn.user.text)
        said = _statement(words, FINDING)
        cue = FINDING.search(said)
        clause = CLAUSE.match(said, 0, cue.start()) if cue else None
        finding = said[clause.end() :] if clause and cue and len(said) - clause.end() > 30 else said
        lines = [
            ("Finding", finding),
            ("Context", _before(self.turns, i)),
            ("Fix", self._done(turn)),
        ]
        return found("learning", finding, lines, score=6.0, pos=turn.user.pos, span=_span(turn),
                     tags=self.tags, confidence=0.8)  # fmt: skip

    def _bug(self, i: int, turn: Turn) -> Found | None:
        """A reported problem the agent answered: a learning when the user went on to other
        things (or confirmed), an issue when the same problem came back last; a report the
        user repeats later is left to the later one."""
        assert turn.user is not None
        if not turn.edits() and turn.report is None:
            return None
        if any(self._confirms(j) for j in range(i + 1, min(i + 4, len(self.turns)))):
            return None  # a confirmation soon after makes the learning
        problem = problem_of(turn.user.text)
        later = [t.user for t in self.turns[i + 1 :] if t.user is not None]
        if any(same_problem(turn.user.text, u.text) for u in later):
            return None
        cause = cause_of(turn.says(), 4)
        fix = self._fix(turn)
        first, tried_before = self._first_report(i, turn.user.text)
        moved_on = any(classify(u.text, False) not in ("ack",) for u in later)
        if not moved_on and not _verified(turn):
            tried = fix or self._done(turn)
            lines = [("Open", problem), ("Earlier", first), ("Tried before", tried_before),
                     ("Cause", cause), ("Tried", tried)]  # fmt: skip
            return found("issue", headline(turn.user.text), lines, score=5.5, pos=turn.user.pos,
                         span=_span(turn), tags=self.tags, confidence=0.6)  # fmt: skip
        if not fix:
            return None
        title = cause if titled(cause) else headline(turn.user.text)
        lines = [("Problem", problem), ("Earlier", first), ("Tried before", tried_before),
                 ("Cause", cause), ("Fix", fix)]  # fmt: skip
        score = 5.0 + (1.0 if cause else 0.0) + (0.5 if turn.edits() else 0.0)
        return found("learning", title, lines, score=score, pos=turn.user.pos, span=_span(turn),
                     tags=self.tags, confidence=0.7)  # fmt: skip

    def _first_report(self, i: int, text: str) -> tuple[str, str]:
        """The first report of the same problem before turn ``i`` and what the agent tried
        then (both "" when this is the first)."""
        for turn in self.turns[:i]:
            user = turn.user
            bug = user is not None and classify(user.text, False) == "bug"
            if user is not None and bug and same_problem(text, user.text):
                earlier = problem_of(user.text)
                tried = self._fix(turn, 240) or self._done(turn, 200)
                return (earlier if earlier != problem_of(text) else ""), tried
        return "", ""

    def _fix(self, turn: Turn, limit: int = 300) -> str:
        """What the agent changed in the turn: its sentences about the change, and the files."""
        said = [
            s for t in turn.says() for s in telling(t.text, 600, _FIX_VERB) if _FIX_VERB.search(s)
        ]
        text = clip(" ".join(dict.fromkeys(said)), limit - 80)
        files = _files(turn, self.tl)
        return (
            f"{text} (changed {files})"
            if files and text
            else text or (files and f"changed {files}")
        )

    def _confirms(self, i: int) -> bool:
        user = self.turns[i].user
        return user is not None and classify(user.text, False) == "confirm"

    def _confirm(self, i: int, turn: Turn) -> Found | None:
        """A confirmation closes the problem the user reported last (within three turns): the
        fix is what the agent did in the turn just before it."""
        assert turn.user is not None
        previous = self.turns[i - 1] if i else None
        reported = next(
            (
                t.user
                for t in reversed(self.turns[max(0, i - 3) : i])
                if t.user is not None and classify(t.user.text, False) == "bug"
            ),
            None,
        )
        if previous is None or previous.report is None or reported is None:
            return None
        problem = problem_of(reported.text)
        files = _files(previous, self.tl)
        said = gist_of(previous.report.text, 300, _FIX_VERB)
        fix = f"{said} (changed {files})" if files else said
        confirmed = polite(next(iter(sentences(turn.user.text)), turn.user.text))
        cause = cause_of(previous.says(), 4)
        title = cause if titled(cause) else headline(reported.text)
        lines = [("Problem", problem), ("Cause", cause), ("Fix", fix), ("Verified", confirmed)]
        span = (reported.line, turn.user.line)
        return found("learning", title, lines, score=7.0, pos=reported.pos, span=span,
                     tags=self.tags, confidence=0.8)  # fmt: skip


def _verified(turn: Turn) -> bool:
    """Whether the turn ran a check that passed after its last change."""
    passed = False
    for act in turn.acts():
        if act.facts.kind == "edit":
            passed = False
        elif act.facts.verifies:
            passed = not act.failed
    return passed


def turn_found(tl: Timeline, tags: tuple[str, ...]) -> Iterator[Found]:
    """Conventions, decisions and learnings from the user's messages (see the module doc)."""
    yield from _Rules(tl, tags).run()
