"""Offline rules over failed tool calls (pure): learnings and what was left open.

A failed command (or one the agent says did not work) opens an episode that runs until the
same program passes or the turn ends. What it becomes:

- fixed by changes (edits, patches, files written) and then passing: a learning, problem ->
  cause (the agent's explanation in the episode) -> fix (the files changed and how);
- passing only once run differently (flags, piped answers, the environment it needs): a
  learning on how to run it;
- passing when run again unchanged after a setup step (``docker context use default``): a
  learning fixed by that step; with nothing changed or set up between: a rerun, nothing learned;
- never passing again before the session ends: an issue (left open).

What a command is (a look, a setup step, run differently) is told by ``commands``. Look-ups
(ls, grep, cat), agent-tool hiccups (edit before read, a rejected call) and wrong
path guesses are not errors of the project and make nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from sync.capture.calls import error_lines
from sync.capture.extraction.commands import added_words, is_lookup, is_setup, runs_differently
from sync.capture.extraction.found import Found, found
from sync.capture.extraction.offline_text import (
    NARRATION,
    base_name,
    clip,
    env_setting,
    gist,
    polite,
    sentences,
)
from sync.capture.extraction.timeline import Act, Said, Timeline, Turn
from sync.capture.extraction.user_text import classify

CAUSE = re.compile(
    r"\b(?:because|due to|caused by|root cause|the (?:issue|problem|error|bug|cause|reason)"
    r"(?: here)? (?:is|was|seems)|turns? out|this means|which means|is missing|was missing"
    r"|are missing|isn'?t (?:installed|exported|defined|available|set)|not (?:installed|exported"
    r"|defined|found|available|supported)|doesn'?t exist|does not exist|wrong|expects?|requires?"
    r"|conflict|mismatch|only (?:has|supports|accepts)|we haven'?t|haven'?t been"
    r"|(?:don'?t|doesn'?t|do not|does not) (?:exist|have|match|support|work)|the error occurs)\b",
    re.I,
)
_SEEN = re.compile(
    r"^(?:(?:ah|oh|ok(?:ay)?|so|now)[,!.]?\s+)*(?:(?:i (?:notice|see|can see|found)|it (?:seems"
    r"|looks like)|looks like)(?: that)?[,:]?|(?:looking at|after checking|checking) [^,]{1,60},)"
    r"\s+",
    re.I,
)
_FIX_SAY = re.compile(
    r"(?i)\b(?:fix(?:ed)? (?:it |this |that )?by|the fix (?:is|was)|instead|switch(?:ed)? to"
    r"|by (?:using|adding|removing|importing|moving|renaming|setting)|workaround)\b"
)
_PROBE_FAIL = re.compile(
    r"(?i)no such file or directory|cannot access|not a directory|is a directory|cannot stat"
)
_LOOKUP_TOOL = re.compile(
    r"(?i)(?:read|view|cat|open|glob|grep|find|search|ls|list|get|fetch|web|browse|todo)"
)  # tools that only look (Read, Glob, WebFetch, list_mcp_resources, get_file_contents)
_UNSET = re.compile(
    r"(?i)api[_ -]?key|(?:auth|access|api|bot|bearer)[_ -]?token|credential|not configured"
    r"|token (?:is )?(?:missing|not set|required|invalid|expired)|unauthori[sz]ed|\b401\b"
)  # a tool the harness was never given what it needs for ("Unexpected token <" is not it)
_MISSING = re.compile(r"(?i)not found|does ?n[o']t exist|no such|\b404\b|no (?:matches|results)")
_TOOL_PREFIX = re.compile(r"^npm (?:error|ERR!)\s+")  # npm's prefix on every line it prints
_INLINE_SCRIPT = re.compile(r"\s-(?:e|c)\s+['\"]|\s--eval\b")
_DECIDES = re.compile(
    r"\b(?:decided|chose|choose|going with|went with|switch(?:ed)? to|we'?ll use)\b", re.I
)
_SPECIFIC_ERROR = re.compile(r"\w+(?:Error|Exception)\b|\b[A-Z]{1,4}\d{3,5}\b")
_NAMED_ERROR = re.compile(r"\w+(?:Error|Exception)\b|\b[A-Z]{1,4}\d{3,5}\b|\berror\b", re.I)
_LET_ME = re.compile(r"^(?:let me|i'?ll|i will|let'?s)\s+", re.I)


@dataclass
class _Episode:
    """A failure and what followed it in its turn."""

    turn: Turn
    act: Act
    retries: list[Act] = field(default_factory=list)
    passed: Act | None = None
    fixes: list[tuple[str, str]] = field(default_factory=list)
    says: list[Said] = field(default_factory=list)
    steps: list[Act] = field(default_factory=list)  # other commands that ran and passed


def _episode(turn: Turn, act: Act) -> _Episode:
    ep = _Episode(turn, act)
    started = False
    for event in turn.events:
        if event is act:
            started = True
            continue
        if not started:
            continue
        if isinstance(event, Said):
            ep.says.append(event)
        elif event.key == act.key and event.facts.kind == act.facts.kind:
            if not event.failed:
                ep.passed = event
                break
            ep.retries.append(event)
        elif event.facts.kind in ("edit", "run") and event.applied and event.facts.files:
            for path in event.facts.files:
                if all(path != p for p, _ in ep.fixes):
                    ep.fixes.append((path, event.facts.summary))
        elif is_setup(event):
            ep.steps.append(event)
    return ep


def unhedged(sentence: str) -> str:
    """``sentence`` without "I notice that", "Looking at the code," and the like."""
    out = _SEEN.sub("", sentence)
    return out[:1].upper() + out[1:] if out is not sentence else sentence


def cause_of(says: Sequence[Said], limit: int = 3) -> str:
    """The agent's explanation among ``says``: a sentence with a causal cue ("because", "is
    missing", "don't exist"), "I notice that" and the like cut off."""
    for said in says[:limit]:
        for sentence in sentences(said.text):
            sentence = unhedged(sentence)
            if not 20 <= len(sentence) <= 320 or sentence.endswith("?"):
                continue
            if CAUSE.search(sentence) and not NARRATION.match(sentence):
                out = polite(sentence)
                return out[:1].upper() + out[1:]
    return ""


def _fix_said(says: Sequence[Said]) -> str:
    for said in says[:4]:
        for sentence in sentences(said.text):
            if _FIX_SAY.search(sentence) and len(sentence) <= 240 and not sentence.endswith("?"):
                return polite(sentence)
    return ""


def main_error(error: str) -> str:
    """The part of a call's error lines that names the error: one with an error code or an
    exception name first, then one saying "error"; a runner's "(runs …)" note left out."""
    parts = [
        _TOOL_PREFIX.sub("", p.strip())
        for p in error.split("; ")
        if p.strip() and not p.startswith("(runs")
    ]
    for pattern in (_SPECIFIC_ERROR, _NAMED_ERROR):
        named = [p for p in parts if pattern.search(p) and len(p.split()) >= 3]
        if named:  # one that says what went wrong ("EACCES: permission denied") before a code
            return min(named, key=lambda p: ": " not in p)
    return parts[0] if parts else error


def printed_error(printed: str, limit: int) -> str:
    """The error in what a command or hook printed: its main error line, else its start."""
    return main_error("; ".join(error_lines(printed, 3))) or clip(printed.strip(), limit)


ISSUE_LINE_CHARS = 400  # an open failure's error lines: the hint that ends them tells the remedy
LAST_TURN_BONUS = 1.0  # what the session ended on is what its developer comes back to


def _issue(ep: _Episode, tags: tuple[str, ...], at_end: bool, tried: Sequence[Act]) -> Found | None:
    """``tried``: the other commands that failed the same way later (what not to try again)."""
    act = ep.act
    command = act.facts.summary
    tool = act.facts.kind == "other"  # a harness or MCP tool (gateway, message, execute_sql)
    if act.facts.kind not in ("run", "other") or _PROBE_FAIL.search(act.error):
        return None
    error = main_error(act.error)
    if not tool and (is_lookup(command) or _INLINE_SCRIPT.search(command)):
        return None
    looks = _LOOKUP_TOOL.match(act.facts.name.rsplit("__", 1)[-1])
    if tool and ((looks and not _UNSET.search(act.error)) or _MISSING.search(error)):
        return None  # a read, search or fetch that found nothing or failed on its own (a
        # site's 403, a directory read): no issue of the project; one never set up is
    if len(error.split()) < 2:
        return None
    what = act.facts.name if tool else act.facts.program or command.split(" ", 1)[0]
    called = f"the {what} tool ({command})" if tool and command else f"`{command}`"
    last = cause_of(ep.says, 2)
    lines = [
        ("Open", f"{called} failed and did not pass again before the session ended"),
        ("Error", act.error),
        ("Last word", last if last != act.error else ""),
        ("Tried", "; ".join(f"`{clip(a.facts.summary, 80)}`" for a in tried[:3])),
    ]
    score = 5.5 + (0.5 if act.facts.verifies else 0.0) + (LAST_TURN_BONUS if at_end else 0.0)
    noun = "tool" if tool else "command"
    return found(
        "issue",
        f"The {what} {noun} still fails with {gist(error, 58 - len(what), cut=False)}",
        lines,
        score=score,
        pos=act.pos,
        span=(act.line, ep.says[-1].line if ep.says else act.line),
        tags=tags,
        confidence=0.6,
        limit=ISSUE_LINE_CHARS,
    )


def _confirmed(tl: Timeline, turn: Turn) -> Said | None:
    """The user's next message when it says the problem is gone ("the rounding is right now")."""
    main = tl.main()
    if turn not in main:
        return None
    following = main[main.index(turn) + 1 : main.index(turn) + 2]
    user = following[0].user if following else None
    return user if user is not None and classify(user.text, False) == "confirm" else None


def _learning(ep: _Episode, tags: tuple[str, ...], confirmed: Said | None = None) -> Found | None:
    act, passed = ep.act, ep.passed
    if passed is None:
        assert confirmed is not None
        return _user_verified(ep, confirmed, tags)
    added = added_words(act.facts.summary, passed.facts.summary)
    how = not _PROBE_FAIL.search(act.error) and runs_differently(act, passed, added)
    if not ep.fixes and not how and not ep.steps:
        return None  # run again unchanged, a wrong path tried, output filtered: nothing learned
    what = act.facts.program or act.facts.name
    cause = cause_of(ep.says)
    cause = "" if cause == act.error else cause
    problem = f"`{act.facts.summary}` failed: {act.error}"
    if ep.fixes:
        fix = _fix_line(ep)
        phrase = gist(main_error(act.error), 76 - len(what), cut=False)
        title = f"{phrase} ({what})"
        suffix = f"; fixed in {base_name(ep.fixes[0][0])}"
        title = cause if titled(cause) else title + suffix * (len(title + suffix) <= 80)
        score = 5.0 + (1.5 if cause else 0.0)
    elif how:
        fix = f"run it as `{passed.facts.summary}`"
        env = env_setting(passed.facts.summary, act.facts.summary)  # PATH=~/.nvm/…/bin
        title = (
            f"{what} runs only with {env}"
            if env
            else f"{what} worked once run with {' '.join(added)}"
        )
        score = 5.5
    else:  # the same command passed once a setup step ran (docker context use default)
        fix = "ran " + "; then ".join(f"`{a.facts.summary}`" for a in ep.steps[:2]) + " first"
        by = f"; fixed by {ep.steps[0].facts.program}"
        title = f"{gist(main_error(act.error), 76 - len(what) - len(by), cut=False)} ({what}){by}"
        title = cause if titled(cause) else title
        score = 5.0 + (1.0 if cause else 0.0)
    lines = [
        ("Problem", problem),
        ("Cause", cause),
        ("Fix", fix),
        ("Verified", f"`{passed.facts.summary}` then passed" if ep.fixes else ""),
    ]
    return found(
        "learning",
        title,
        lines,
        score=score,
        pos=act.pos,
        span=(act.line, passed.line),
        tags=tags,
        confidence=0.8 if cause else 0.7,
    )


def _user_verified(ep: _Episode, confirmed: Said, tags: tuple[str, ...]) -> Found | None:
    """A failure fixed by changes that the user then said were right (no rerun)."""
    act = ep.act
    cause = cause_of(ep.says)
    what = act.facts.program or act.facts.name
    phrase = gist(main_error(act.error), 76 - len(what), cut=False)
    lines = [
        ("Problem", f"`{act.facts.summary}` failed: {act.error}"),
        ("Cause", "" if cause == act.error else cause),
        ("Fix", _fix_line(ep)),
        ("Verified", f"the user then said: {clip(polite(confirmed.text), 160)}"),
    ]
    title = cause if titled(cause) else f"{phrase} ({what})"
    return found("learning", title, lines, score=5.5 + (1.0 if cause else 0.0), pos=act.pos,
                 span=(act.line, confirmed.line), tags=tags, confidence=0.7)  # fmt: skip


def _fix_line(ep: _Episode) -> str:
    """What fixed it: the agent's sentence saying so, and the files changed (with the line
    each change added, when that line says something)."""
    said = _LET_ME.sub("", _fix_said(ep.says))
    said = said[:1].upper() + said[1:]
    files = "; ".join(
        f"{p} ({how})" if len(re.findall(r"[A-Za-z]{2,}", how)) >= 2 else p
        for p, how in ep.fixes[:3]
    )
    return f"{said.rstrip('.:')}. Changed {files}" if said else f"Changed {files}"


def titled(cause: str) -> bool:
    """Whether an explanation reads well as a learning's title (short; not a decision)."""
    return 25 <= len(cause) <= 120 and not _DECIDES.search(cause)


def _signature(act: Act) -> str:
    return act.key + " " + " ".join(re.findall(r"[a-z]+", act.error.lower()))[:80]


Handover = Callable[[Timeline, Turn, Sequence[Act], tuple[str, ...]], Found | None]


def error_found(
    tl: Timeline, tags: tuple[str, ...], handover: Handover | None = None
) -> Iterator[Found]:
    """Learnings from failures fixed in their turn; issues from failures never fixed.
    ``handover`` may read a failure never passed again (with its program's later failures) as
    fixed by the user on the agent's word (``offline_handover``)."""
    flat = list(tl.acts())
    main = tl.main()
    seen: set[str] = set()
    for k, (turn, act) in enumerate(flat):
        if not act.failed or act.facts.kind not in ("run", "other"):
            continue
        signature = _signature(act)
        if signature in seen:
            continue
        ep = _episode(turn, act)
        later = [a for _, a in flat[k + 1 :] if a.key == act.key and a.facts.kind == act.facts.kind]
        confirmed = _confirmed(tl, turn) if ep.passed is None and ep.fixes else None
        chain = [act, *(a for a in later if a.failed)]
        told: Found | None = None
        if ep.passed is None and not ep.fixes and all(a.failed for a in later) and handover:
            told = handover(tl, turn, chain, tags)
        result: Found | None = told
        if told is not None:
            seen.update(_signature(a) for a in chain)
        elif ep.passed is not None or confirmed is not None:
            result = _learning(ep, tags, confirmed)
            seen.update(_signature(a) for a in ep.retries if result is not None)
        elif not any(not a.failed for a in later) and not any(a.failed for a in later):
            tried = _same_failure(flat[k + 1 :], act)
            result = _issue(ep, tags, at_end=bool(main) and turn is main[-1], tried=tried)
            seen.update(_signature(a) for a in tried if result is not None)
        else:
            result = None
        if result is not None:
            seen.add(signature)
            yield result


def _same_failure(after: Sequence[tuple[Turn, Act]], act: Act) -> list[Act]:
    """Other commands that failed with ``act``'s error later, none of them ever passing."""
    error = main_error(act.error)
    same = [(i, a) for i, (_, a) in enumerate(after) if a.failed and a.key != act.key
            and main_error(a.error) == error]  # fmt: skip
    return [a for i, a in same if all(b.failed for _, b in after[i + 1 :] if b.key == a.key)]


def errors_seen(tl: Timeline) -> list[tuple[int | None, str]]:
    """(line, "`command` — error") for each distinct failure of the session that was not a
    look-up or a wrong path; the user's pasted errors are read by ``user_text``."""
    out: list[tuple[int | None, str]] = []
    seen: set[str] = set()
    for _, act in tl.acts():
        if not act.failed or act.facts.kind not in ("run", "other"):
            continue
        if _PROBE_FAIL.search(act.error) or is_lookup(act.facts.summary):
            continue
        signature = _signature(act)
        if signature not in seen:
            seen.add(signature)
            what = f"`{act.facts.summary[:120]}`" if act.facts.summary else act.facts.name
            out.append((act.line, f"{what} — {main_error(act.error)[:200]}"))
    for said in tl.hook_errors:  # "PreToolUse:Bash hook `…` failed with status 1 (3 times):"
        head, _, printed = said.text.partition("\n")
        out.append((said.line, f"{head.rstrip(':')} — {printed_error(printed, 200)[:200]}"))
    return sorted(out, key=lambda x: x[0] or 0)
