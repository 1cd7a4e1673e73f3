"""What a user message is (pure): thanks, a confirmation, a finding, a rule, a bug report,
a preference, or a task; and, for bug reports, the problem as one line and as a title.

A pasted log (error lines with locations, codes or exception names; stack frames; shell
prompts) is told apart from the user's own words, so that "error" in a sentence of theirs
does not make it a bug report, and their words around a paste are still read.
"""

from __future__ import annotations

import re

from sync.capture.calls import error_lines
from sync.capture.extraction.offline_text import clip, gist, polite, prose, sentences
from sync.redact import MARK

_ACK = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|yes|yep|yeah|yo|sure|thanks?(?: you)?|ty|great|nice|cool|wow|continue"
    r"|go on|go ahead|do it|proceed|perfect|good|lgtm|k|alright|hi|hello|hey|done|next|sleep"
    r"|/\w*)\W*)+$",
    re.I,
)
CLAUSE = re.compile(r".*(?:[,;:]\s|\s[—–-]\s)", re.S)
_LOG_SHAPE = re.compile(
    r"\w+(?:Error|Exception)\b|^\W*(?:error|fatal|warning|err!)\b|\b[A-Z]{1,4}\d{3,5}\b|:\d+:\d+"
    r"|\(\d+,\d+\)|Traceback|^\s*at |\bERR!",
    re.I,
)
_FLATTERY = re.compile(
    r"\b(?:you(?:'re| are) (?:a |the )?(?:monster|genius|amazing|awesome|best|great|legend)"
    r"|good job|well done|nice work|great work|love (?:it|this)|thank)",
    re.I,
)
_CONFIRM = re.compile(
    r"^\W*(?:[\w']+\W+){0,3}?(?:that'?s it\b|that (?:worked|did it|fixed it)|(?:it|this|now it"
    r"|everything|now everything|that) works\b|works now|now (?:\w+ ){0,2}(?:renders|works|looks)"
    r" (?:the same|right|good|correct|fine)|fixed\W*$|(?:is|are|looks?) (?:right|correct|fixed|good"
    r"|fine) now\b|now (?:it|this|that) (?:works|is (?:right|correct|fixed)))",
    re.I,
)
RULE = re.compile(
    r"\b(?:always|never|must(?:n'?t| not)?|at all times|under no circumstances)\b"
    r"|(?:^|[.!,]\s*)no \w+(?: \w+)?!|\bevery (?:time|line|component|file|commit)\b",
    re.I,
)
FINDING = re.compile(
    r"\b(?:it'?s actually|it was actually|was actually|turns out|the (?:real )?(?:problem|issue"
    r"|cause|culprit) (?:is|was)|is caused by|was caused by|that'?s what (?:caused|broke|did))\b",
    re.I,
)
BUG = re.compile(
    r"\b(?:doesn'?t (?:work|update|change|show|render|load|adhere|respect|fit)|does not work"
    r"|not (?:working|updat\w*|chang\w*|showing|rendering|loading)|isn'?t working|broken|broke"
    r"|crash\w*|explod\w*|blew up|bug|regression|still (?:looks|shows|fails|broken|the same)"
    r"|(?:wrong|weird|off) (?:color|colour|output|result)|no data|nothing (?:shows|happens)"
    r"|artifacts?|glitch\w*|hangs?|freez\w*|(?:got|get|getting|see|seeing|throws?|threw)"
    r" (?:an? |this )?(?:error|exception|crash)|fails? (?:to|when|with|on)|not (?:everything|all)"
    r" \w+|(?:doesn'?t|don'?t) (?:\w+ )?(?:work|update)s? correctly)",
    re.I,
)
PREFER = re.compile(
    r"\b(?:should(?:n'?t)? (?:be\b(?! (?:good|fine|ok|done|ready|able|working))|use|have|return"
    r"|stay|keep|not|only|always|never|look|go|live|read|know)|(?:should|need|needs) (?:explicit"
    r"|separate|dedicated|its own|their own)|i (?:would |'d )?(?:only )?(?:want|prefer|like)"
    r"|i'?d rather|prefer|instead of"
    r"|rather than|no need|not needed|isn'?t needed|needs? to be|has to be|make sure"
    r"|let'?s (?:use|keep|go with|not|stick)|could we|can we have|same as"
    r"|use \S+ (?:not|instead)|(?:is|are) actually|why (?:are|do|does|would) we (?:use|need|have)"
    r"|don'?t (?:use|add|modify|change|touch|create|commit|push|mock))\b"
    r"|(?:\bis|\bare|=|->|\bto) #?(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6}\b"
    r"|#?\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6} (?:is|for)\b",
    re.I,
)
SPEC = re.compile(  # how the product should behave, or a correction of what the agent did
    r"\bby default\b|\bwhy did you\b|\b(?:don'?t|do not|stop) doing that\b|\bdon'?t do that\b"
    r"|\bkeep the (?:one|ones|same|\w+) (?:i|we) (?:gave|chose|set|had)\b"
    r"|\b(?:have|make) it (?:answer|say|show|display|return|reply|print)\b"
    r"|(?:^|[.!]\s+)when [^.,]{3,80}, (?:(?:then|always|just)\s+)?(?:display|show|print|answer"
    r"|return|reply|open|jump|go|keep|use|put|add)\b",
    re.I,
)
CHANGE = re.compile(  # a directive that says how something should be: the user's choice
    r"^(?:(?:ok(?:ay)?|now|also|and|please|alright)[,\s]+)*(?:change|rename|replace|make|switch"
    r"|move|use|set|turn|keep)\b.{3,120}?\b(?:to|with|into|instead|like|as|same|brighter|dimmer"
    r"|darker|lighter|smaller|bigger|less|more)\b",
    re.I,
)
REASON = re.compile(
    r"\b(?:because|since|so (?:that|the user|users|people|we|it|they)|that way|otherwise"
    r"|in order to|to (?:avoid|keep|make sure|prevent|allow)|so i can|so we can|reason"
    r"|which (?:means|avoids|keeps|lets|makes)|as (?:in|with|before)|same as|to match"
    r"|consistent with)\b",
    re.I,
)
_FRAME = re.compile(
    r"^\s*(?:at |\(anonymous\)|\S+ @ \S+:\d+|[~^]+\s*$|\d+\s{2,}|[➜❯$%]\s|\S+@\S+[:$#]\s"
    r"|debugger (?:attached|listening)|waiting for the debugger)",
    re.I,
)
_TELLING_ERROR = re.compile(
    r"\b(?:[A-Z]{1,4}\d{3,5}|\w+(?:Error|Exception)|not found|cannot|can'?t|missing|undefined"
    r"|is not|no such|failed|invalid)\b",
    re.I,
)


def _is_error(line: str) -> bool:
    """A pasted error line: an error with a location, a code or an exception name."""
    return bool(error_lines(line, 1)) and bool(_LOG_SHAPE.search(line))


def _is_log(line: str) -> bool:
    """A pasted log line: an error line, a stack frame, a shell prompt."""
    return bool(_FRAME.match(line)) or _is_error(line)


def own_words(text: str) -> str:
    """The user's own prose in a message: pasted error lines and stack frames left out."""
    kept = [ln for ln in prose(text).splitlines() if not _is_log(ln)]
    return " ".join(" ".join(kept).split())


def _is_diff(text: str) -> bool:
    """A pasted diff: several lines that add or remove (``+ 8 - text``, ``-old``)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    changed = sum(bool(re.match(r"\s*[+-](?:\s?\d+\s|\S)", ln)) for ln in lines)
    return changed >= 3 and changed * 4 >= len(lines)


def classify(text: str, first: bool) -> str:
    """What a user message is: ack | confirm | finding | rule | bug | prefer | task."""
    if _is_diff(text):
        return "task"  # reviews a diff: no memory of its own
    flat = own_words(text)
    logged = any(_is_error(ln) for ln in text.splitlines())
    if not flat and logged:
        return "bug"  # a paste and nothing else
    if not flat or _ACK.match(flat) or (_FLATTERY.search(flat) and len(flat) < 80):
        return "ack"
    if MARK in text:
        return "task"  # hands over a credential: never a memory of its own
    checks = (
        ("confirm", not first and bool(_CONFIRM.match(flat))),
        ("finding", not first and bool(FINDING.search(flat))),
        ("rule", bool(RULE.search(flat)) and len(flat) < 600),
        ("bug", logged or (not first and bool(BUG.search(flat)))),
        (
            "prefer",
            not first
            and bool(PREFER.search(flat) or CHANGE.match(flat) or SPEC.search(flat))
            and len(flat) < 600,
        ),
    )
    return next((kind for kind, hit in checks if hit), "task")


def is_paste(text: str) -> bool:
    """Whether a user message is a pasted log (several lines, error lines among them)."""
    return len(text.strip().splitlines()) >= 3 and bool(error_lines(text, 1))


def _weight(line: str) -> int:
    code = bool(re.search(r"\b[A-Z]{1,4}\d{3,5}\b|\w*Error:", line))
    return 2 * code + len(_TELLING_ERROR.findall(line))


def problem_of(text: str) -> str:
    """A bug report as one line: the user's words, or for a pasted log its first line and its
    most telling error lines (stack frames and source excerpts left out)."""
    if not is_paste(text):
        first = next(iter(sentences(own_words(text))), "")
        errors = [e for e in error_lines(text, 2) if e not in first]
        return polite(" ".join([first, *errors]).strip()) or clip(text, 200)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not _FRAME.match(ln)]
    telling = sorted(
        (ln for ln in lines[1:] if _TELLING_ERROR.search(ln)), key=lambda ln: -_weight(ln)
    )
    picked = [lines[0], *(ln for ln in lines[1:] if ln in telling[:2])] if lines else []
    return " ".join(clip(ln, 160) for ln in dict.fromkeys(picked))


def same_problem(a: str, b: str) -> bool:
    """Whether two reports are about the same error (their headlines share most words)."""
    wa, wb = (set(re.findall(r"[a-z0-9]{3,}", headline(x).lower())) for x in (a, b))
    return bool(wa and wb) and len(wa & wb) / len(wa | wb) >= 0.6


def headline(text: str) -> str:
    """A title for a reported problem: its most telling error line as a phrase, or the
    user's first words."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not _FRAME.match(ln)]
    telling = [ln for ln in lines if _TELLING_ERROR.search(ln) and error_lines(ln, 1)]
    if telling:
        return gist(max(telling, key=_weight), 80, cut=False)
    return polite(next(iter(sentences(text)), text))
