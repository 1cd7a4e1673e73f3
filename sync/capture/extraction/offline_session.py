"""Offline rules over a session's tool calls: learnings (an error, then its fix) and the summary."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass

from sync.capture.extraction.base import Candidate
from sync.capture.extraction.offline_text import (
    EVIDENCE_MAX,
    clean_title,
    clip,
    command_head,
    command_of,
    ext_tag,
    failure,
    is_edit,
    normalized,
    paths_of,
    project_name,
    prose,
    sentences,
    tags_for,
)
from sync.capture.sources.base import Message, ToolCall, Transcript

WINDOW = 8  # messages after a failure in which a retry or an explanation counts as its fix

_STRONG_EXPLAIN = re.compile(
    r"(?<!what\s)(?<!where\s)(?<!how\s)\b(?:the\s+(?:issue|problem|error|bug|cause|failure)"
    r"\s+(?:is|was|seems\s+to\s+be|here|comes\s+from)|root\s+cause|fixed\s+(?:it\s+|this\s+)?by|the\s+fix\s+(?:is|was)"
    r"|turns\s+out|(?:this|that|it)\s+(?:is|was)\s+(?:because|due\s+to|caused\s+by)"
    r"|(?:failed|fails|failing|errored)\s+because|caused\s+by|the\s+reason\s+(?:is|was)"
    r"|i\s+see\s+the\s+(?:issue|problem)|that'?s\s+why|(?:was|is|were|are)\s+missing"
    r"|forgot\s+to)\b",
    re.I,
)
_BOILERPLATE = re.compile(
    r"^(?:(?:now|ok(?:ay)?|great|perfect|good|alright|first|next|then)[,!.]?\s+)*"
    r"(?:let\s+me|i'?ll|i\s+will|i'?m\s+going\s+to|i\s+need\s+to|now\s+i)\b",
    re.I,
)
_WEAK_EXPLAIN = re.compile(r"\bbecause\b", re.I)
_EXPLAIN_PREFIX = re.compile(
    r"^(?:(?:ah|oh|ok(?:ay)?|great|good|now|perfect)[,!.]?\s+)*(?:(?:now\s+)?i\s+see(?:\s+the"
    r"\s+(?:issue|problem))?|got\s+it|found\s+it)\s*(?:now)?[\s!.:,—–-]*",
    re.I,
)
_LOCATION = re.compile(r"^[\w./@~-]+(?:\(\d+,\d+\)|:\d+(?::\d+)?)[:\s]+")
_PATHS = re.compile(r"(?<![\w@])[~.]{0,2}/?(?:[\w.@-]+/){2,}([\w.@-]+)")
_NOISE_WORD = re.compile(r"(?=[a-f]*\d)[0-9a-f]+$|redacted")  # hashes, redaction marks
_TOKEN = re.compile(r"[\w./-]{2,}")
_STOP = frozenset(
    re.findall(
        r"\S+",
        """about above after again against also always among another answer anything around
        because been before being below between both cannot change could code create does doing
        done each either else even every file files first found from further give going good
        have having here into itself just keep know last later like look made make many maybe
        more most much must need needs never next none nothing okay once only other ought ours
        over please right same seem seems should show since some something still such sure take
        than thanks that their them then there these they thing things think this those though
        through today together under until upon used using very want wants well were what when
        where which while will with within without work works would write your yours really
        actually able lets let's don't doesn't it's i'm you're we're that's there's what's isn't
        aren't can't won't didn't instead whether already currently following try trying help
        called tell says read stop current prints examine analyze documented check shows add""",
    )
)


@dataclass(frozen=True)
class SessionCall:
    """A tool call with where it sits, the command it ran and its error line ("" if none)."""

    index: int  # message index
    call: ToolCall
    command: str
    error: str

    @property
    def failed(self) -> bool:
        return bool(self.error)


def session_calls(t: Transcript) -> list[SessionCall]:
    """Every tool call of ``t`` in order, each parsed once."""
    return [
        SessionCall(i, c, command_of(c), failure(c))
        for i, m in enumerate(t.messages)
        for c in m.tool_calls
    ]


def _similar(a: SessionCall, b: SessionCall) -> bool:
    """Whether ``b`` retries ``a``: the same tool, and the same command head or input words."""
    if a.call.name != b.call.name:
        return False
    if a.command and b.command and command_head(a.command) == command_head(b.command):
        return True
    ta, tb = set(_TOKEN.findall(a.call.input[:2000])), set(_TOKEN.findall(b.call.input[:2000]))
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) >= 0.4


def _explanation(messages: tuple[Message, ...], start: int, stop: int) -> tuple[str, int, bool]:
    """The first sentence in ``messages[start:stop]`` explaining a failure: (text, at, strong)."""
    weak: tuple[str, int, bool] = ("", -1, False)
    for index in range(start, min(stop, len(messages))):
        msg = messages[index]
        if msg.role not in ("assistant", "user"):
            continue
        for sentence in sentences(msg.text or msg.thinking):
            if not 25 <= len(sentence) <= 400 or sentence.endswith("?"):
                continue
            if _BOILERPLATE.search(sentence):
                continue
            if _STRONG_EXPLAIN.search(sentence):
                return sentence, index, True
            if not weak[0] and _WEAK_EXPLAIN.search(sentence):
                weak = (sentence, index, False)
    return weak


def _learning_title(explanation: str, what: str, error: str) -> str:
    """The explanation when there is one, else "Fix <command>: <error without paths>"."""
    if explanation:
        rest = _EXPLAIN_PREFIX.sub("", explanation)
        title = clean_title(rest if len(rest) >= 12 else explanation)
        if len(title) >= 12:
            return title
    short = _PATHS.sub(r"\1", _LOCATION.sub("", error))
    program = what.split(" ", 1)[0]
    short = short[len(program) + 2 :] if short.startswith(f"{program}: ") else short
    return clean_title(f"Fix {what}: {short}")


def _learning(
    t: Transcript, calls: list[SessionCall], k: int, tags: tuple[str, ...]
) -> Candidate | None:
    """A learning for failed call ``calls[k]``, or None when nothing in its wake fixed it."""
    bad = calls[k]
    error = bad.error
    last = bad.index + WINDOW
    wake = list(
        itertools.takewhile(lambda c: c.index <= last, itertools.islice(calls, k + 1, None))
    )
    retry = next((c for c in wake if not c.failed and _similar(bad, c)), None)
    stop = retry.index + 2 if retry else last + 1
    edits = [p for c in wake if c.index < stop and is_edit(c.call) for p in paths_of(c.call)]
    explanation, where, strong = _explanation(t.messages, bad.index + 1, stop)
    if not retry and not strong:
        return None
    what = command_head(bad.command) or bad.call.name
    lines = [f"Error: {error}", f"Failed: `{clip(bad.command or what, 160)}` ({bad.call.name})"]
    if explanation:
        lines.append(f"Cause: {explanation}")
    if retry:
        lines.append(f"Fixed by: `{clip(retry.command or retry.call.name, 160)}`")
    if edits:
        lines.append("Changed: " + ", ".join(dict.fromkeys(edits)))
    ends = [bad.index, where, retry.index if retry else -1]
    end_msg = t.messages[max(ends)]
    extra = tuple(filter(None, (ext_tag(p) for p in edits)))
    return Candidate(
        kind="learning",
        title=_learning_title(explanation, what, error),
        body="\n".join(lines),
        confidence=0.8 if retry and strong else 0.7 if explanation else 0.6,
        tags=tags_for(tags, f"{what} {error} {explanation}", extra),
        evidence=clip(explanation or error, EVIDENCE_MAX),
        line_start=t.messages[bad.index].line,
        line_end=end_msg.end_line if end_msg.end_line is not None else end_msg.line,
    )


def find_learnings(
    t: Transcript, calls: list[SessionCall], tags: tuple[str, ...]
) -> list[tuple[int, Candidate]]:
    """(position, learning) for each failed tool call that was fixed soon after."""
    out: list[tuple[int, Candidate]] = []
    seen: set[str] = set()
    for k, c in enumerate(calls):
        if not c.failed:
            continue
        error = c.error
        key = normalized(re.sub(r"\d+", "", error))[:80]
        if key in seen:
            continue
        cand = _learning(t, calls, k, tags)
        if cand is not None:
            seen.add(key)
            out.append((k, cand))
    return out


def _relative(path: str, cwd: str | None) -> str:
    """``path`` relative to the session's cwd when it lies under it (either separator)."""
    root = (cwd or "").rstrip("/\\")
    if root and len(path) > len(root) + 1 and path.startswith(root) and path[len(root)] in "/\\":
        return path[len(root) + 1 :]
    return path


def _listing(items: list[str], limit: int, fmt: str = "- {}") -> list[str]:
    lines = [fmt.format(i) for i in items[:limit]]
    if len(items) > limit:
        lines.append(f"- (+{len(items) - limit} more)")
    return lines


def _topics(users: list[Message], files: list[str]) -> list[str]:
    """The most frequent content words of the user's messages (and edited file names)."""
    counts: Counter[str] = Counter()
    for msg in users:
        counts.update(
            w
            for w in re.findall(r"[a-z][a-z0-9_-]{3,}", prose(msg.text[:5000]).lower())
            if w not in _STOP and not _NOISE_WORD.match(w)
        )
    for path in files:
        stem = path.rsplit("/", 1)[-1].split(".", 1)[0].lower()
        if len(stem) >= 4 and stem not in _STOP:
            counts[stem] += 1
    return [w for w, _ in counts.most_common(5)]


def _summary_title(date: str, project: str, topics: list[str]) -> str:
    for n in range(min(3, len(topics)), -1, -1):
        title = f"Session {date}: {project}" + (f" — {', '.join(topics[:n])}" if n else "")
        if len(title) <= 80:
            return title
    return clean_title(f"Session {date}: {project}")


def _first_request(msg: Message) -> str:
    return next(iter(sentences(msg.text)), "") or clip(msg.text, 160)


def session_summary(
    t: Transcript, parsed: list[SessionCall], tags: tuple[str, ...]
) -> Candidate | None:
    """One summary of a non-trivial session: topics, files, commands, errors, models, counts."""
    users = [m for m in t.messages if m.role == "user"]
    calls = [c for m in t.messages for c in m.tool_calls]
    if len(users) < 2 and not calls:
        return None
    edited = {_relative(p, t.cwd) for c in calls if is_edit(c) for p in paths_of(c)}
    files = list(dict.fromkeys(_relative(p, t.cwd) for c in calls for p in paths_of(c)))
    commands = list(dict.fromkeys(clip(c.command, 120) for c in parsed if c.command))
    errors = list(dict.fromkeys(c.error for c in parsed if c.error))
    requests = list(dict.fromkeys(r for r in map(_first_request, users[:5]) if r))[:3]
    topics = _topics(users, [p for p in files if p in edited])
    sections = [("Topics", _listing([clip(r, 160) for r in requests], 3))]
    if topics:
        sections[0][1].append("- Key terms: " + ", ".join(topics))
    marked = [f"{p} (edited)" if p in edited else p for p in files]
    sections += [
        ("Files touched", _listing(marked, 20)),
        ("Commands run", _listing(commands, 15, "- `{}`")),
        ("Errors seen", _listing(errors, 8)),
    ]
    if t.models:
        sections.append(("Models", [" → ".join(t.models)]))
    roles = Counter(m.role for m in t.messages)
    counts = ", ".join(f"{role} {n}" for role, n in sorted(roles.items()))
    sections.append(("Messages", [f"{counts}, tool calls {len(calls)}"]))
    body = "\n\n".join(f"## {name}\n" + "\n".join(lines) for name, lines in sections if lines)
    date = (t.started or next((m.time for m in t.messages if m.time), None) or "undated")[:10]
    lines_known = [m for m in t.messages if m.line is not None]
    first, final = (lines_known[0], lines_known[-1]) if lines_known else (None, None)
    extra = tuple(dict.fromkeys(filter(None, (ext_tag(p) for p in files))))
    return Candidate(
        kind="summary",
        title=_summary_title(date, project_name(t) or "unknown project", topics),
        body=body,
        confidence=0.5,
        tags=tags_for(tags, " ".join(commands[:30]) + " " + " ".join(requests), extra[:2]),
        evidence=clip(requests[0] if requests else (commands or [""])[0], EVIDENCE_MAX),
        line_start=first.line if first else None,
        line_end=(final.end_line or final.line) if final else None,
    )
