"""A failure the agent could not fix itself, fixed by the user as it told them (pure).

Agents often hit what only the user can do: ``sudo`` needs a password the agent's shell cannot
read, a login opens a browser, a permission must be granted. The agent says what to run and
where ("open Terminal.app and run `sudo npm i -g …`"), the user does it, and a later check of
the agent passes (``claude --version``). Nothing passed in the failure's own turn and no edit
fixed it, so the usual episode rules see no fix; yet this is the learning a developer wants
back: the problem, why, what the user ran, and the check that proved it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from sync.capture.extraction.found import Found, found
from sync.capture.extraction.offline_errors import cause_of, main_error, titled
from sync.capture.extraction.offline_text import clip, gist, polite, sentences
from sync.capture.extraction.timeline import Act, Said, Timeline, Turn

_FENCE = re.compile(r"```[\w+-]*\n(.+?)\n```", re.S)
_TICKED = re.compile(r"`([^`\n]{6,160})`")
_SUBJECT = re.compile(r"[@\w][\w@./:+-]{3,}")
_GENERIC = frozenset(
    {"sudo", "install", "npm", "pip", "brew", "apt", "apt-get", "yarn", "pnpm", "uv", "cargo",
     "--global", "global", "run", "exec", "python", "python3", "node", "bash", "2>/dev/null",
     "/dev/null", "true", "echo"}
)  # fmt: skip


def handed_over(
    tl: Timeline, turn: Turn, chain: Sequence[Act], tags: tuple[str, ...]
) -> Found | None:
    """A learning when the failures in ``chain`` (one program's, in order; none passed again)
    are followed, in a later turn the user opened, by a passing command on the same subject
    (a package, a path, a binary the failed command named), with the agent's advice between."""
    first, last = chain[0], chain[-1]
    subject = _subject(first.facts.summary)
    if first.facts.kind != "run" or not subject:
        return None
    main = tl.main()
    if turn not in main:
        return None
    later = main[main.index(turn) + 1 :]
    check = next(
        (
            (t, a)
            for t in later
            for a in t.acts()
            if a.pos > last.pos and not a.failed and a.facts.kind == "run"
            and subject & (_subject(a.facts.summary) | _subject(_head(a)))
        ),
        None,
    )  # fmt: skip
    if check is None:
        return None
    check_turn, passed = check
    between = main[main.index(turn) : main.index(check_turn) + 1]
    if any(last.pos < a.pos < passed.pos and a.applied for t in between for a in t.acts()
           if a.facts.kind == "edit"):  # fmt: skip
        return None  # the agent changed files in between: its own fix, not the user's
    says = [s for t in between[:-1] for s in t.says() if s.pos > last.pos]
    advice = _advice(says, subject)
    if not advice:
        return None
    what = first.facts.program or first.facts.name
    cause = cause_of([s for t in (turn,) for s in t.says() if s.pos > first.pos])
    phrase = gist(main_error(first.error), 70 - len(what), cut=False)
    title = cause if titled(cause) else f"{phrase} ({what})"
    then = "; ".join(f"`{a.facts.summary}` failed: {main_error(a.error)}" for a in chain[1:])
    lines = [
        ("Problem", f"`{first.facts.summary}` failed: {first.error}"),
        ("Then", then),
        ("Cause", "" if cause == first.error else cause),
        ("Fix", f"the user ran it as the agent said: {advice}"),
        ("Verified", f"`{passed.facts.summary}` then passed" + _printed(passed)),
    ]  # fmt: skip
    return found(
        "learning",
        title,
        lines,
        score=6.0,
        pos=first.pos,
        span=(first.line, passed.line),
        tags=tags,
        confidence=0.7,
    )


@lru_cache(maxsize=4096)
def _subject(command: str) -> frozenset[str]:
    """The specific words of a command: packages, paths, names (not sudo, install, flags)."""
    return frozenset(
        w.lower().rstrip(".,;:")
        for w in _SUBJECT.findall(command)
        if w.lower() not in _GENERIC and not w.startswith("-") and not w.isdigit()
    )


def _advice(says: Sequence[Said], subject: frozenset[str]) -> str:
    """What the agent told the user to do last before the check: its sentences and the
    command it gave (in a code block or backticks) on the failed command's subject; "" when
    it gave none."""
    for said in reversed(says):
        given = _FENCE.findall(said.text) or _TICKED.findall(said.text)
        commands = [c for c in given if subject & _subject(c)]
        if not commands:
            continue
        told = [s for s in sentences(said.text) if len(s) >= 12 and not s.endswith("?")][:2]
        command = " ".join(commands[0].split())
        text = " ".join(polite(s).rstrip(".:") + "." for s in told)
        if command in text:  # the sentence that led it in says it: set it off there
            return clip(text.replace(command, f"`{command}`", 1), 300)
        return clip(f"{text} `{command}`", 300)
    return ""


def _head(act: Act) -> str:
    """The start of what a command printed (a version, a path it names)."""
    return act.call.output[:2000] if act.call is not None else ""


def _printed(act: Act) -> str:
    out = act.call.output.strip() if act.call is not None else ""
    first = out.splitlines()[0] if out else ""
    return f" (printed {clip(first, 80)})" if first else ""
