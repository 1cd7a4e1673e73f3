"""A session's summary that recaps (pure): what was asked, what was done (each file changed
with one line on it, what was installed, verified and committed), what was decided or fixed,
what was left open, the agent's own account (its last compaction summary and its final
report) when it gave one, and, in the room left, each request with what the agent answered.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from sync.capture.extraction.base import Candidate
from sync.capture.extraction.file_notes import quoted_notes, written_notes
from sync.capture.extraction.offline_text import (
    NARRATION,
    base_name,
    clean_title,
    clip,
    ext_tag,
    names,
    polite,
    project_name,
    prose,
    sentences,
    tags_for,
    telling,
)
from sync.capture.extraction.timeline import Timeline
from sync.capture.extraction.user_text import classify, is_paste
from sync.capture.sources.base import Transcript
from sync.lexical import UNSPACED, unspaced_words

MAX_FILES = 6  # files listed with a line each; the rest by name only
MAX_ASKS = 3
HEADS_CHARS = 900  # what new files' opening notes take of "Done", all together
MIN_WORDS = 8  # a summary with fewer words of recap says nothing
ACCOUNT_MAX = 1_600  # the agent's own account at most: the rest tells request by request
ANSWER_CHARS = 600  # a lone question answered at this length (a plan, an explanation) is recapped
TURN_LINE = (140, 320)  # a request's line, at least and at most (characters)
_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z_]+[^\]]*\]")
_NOTE_LINE = re.compile(r"^[\s\-*+•#>\d.)]*")
_DIFF_START = re.compile(
    r"^(?:=== DIFF:|diff --git |@@ -\d|--- a/|\+\+\+ b/)", re.M
)  # a pasted diff
_HELP = re.compile(r"^(?:I'?ll|I will|Let me) help you (?:to )?", re.I)


def asked(tl: Timeline) -> tuple[str, list[str]]:
    """The first request (a few sentences) and later asks that were tasks or changes."""
    users = [t.user for t in tl.main() if t.user is not None]
    if not users:
        return "", []
    first = clip(polite(" ".join(prose(_DIFF_START.split(users[0].text, 1)[0]).split())), 400)
    later: list[str] = []
    for user in users[1:]:
        if classify(user.text, False) != "task" or is_paste(user.text):
            continue  # rules, preferences and bugs are told under what was decided and fixed
        line = next(iter(sentences(user.text)), "")
        if len(line) >= 12 and line not in later:
            later.append(clip(polite(line), 90))
    return first, later[:MAX_ASKS]


def _notes(tl: Timeline, texts: Sequence[str]) -> dict[str, str]:
    """Each changed file with the first line of the agent's writing that names it (by its
    path, else by a name no other changed file shares); the files the agent wrote about most,
    then the most changed, first."""
    counts: Counter[str] = Counter()
    changed: dict[str, str] = {}  # the line an edit added, when the agent says nothing
    for _, act in tl.acts():
        if act.facts.kind in ("edit", "run") and act.applied:
            for path in act.facts.files:
                counts[tl.relative(path)] += 1
                if act.facts.kind == "edit" and len(act.facts.summary) > 12:
                    changed[tl.relative(path)] = f"`{clip(act.facts.summary, 70)}`"  # the last
    bases = Counter(base_name(p) for p in counts)
    keys = {p: _name_pattern(p, unique=bases[base_name(p)] == 1) for p in counts}
    found: dict[str, str] = {}
    told: Counter[str] = Counter()
    for text in texts:
        for line in text.splitlines():
            bare = _NOTE_LINE.sub("", line).replace("**", "").replace("`", "").strip()
            told.update(p for p, key in keys.items() if key.search(bare))
            if len(bare) < 25 or NARRATION.match(bare) or bare.endswith(("?", ":")):
                continue
            for path, key in keys.items():
                if path not in found and key.search(bare):
                    said = bare.replace(path, "").replace(base_name(path), "")
                    if len(re.findall(r"[^\W\d_]{3,}", said)) >= 3:
                        found[path] = clip(polite(bare), 80)
    ranked = sorted(counts, key=lambda p: (-min(told[p], 3), -counts[p]))
    return {p: found.get(p, "") or changed.get(p, "") for p in ranked}


def _name_pattern(path: str, unique: bool) -> re.Pattern[str]:
    """How the agent's writing names a file: its path, or its name when no other changed
    file shares it (``todo.ts`` is not found inside ``AddTodo.tsx``)."""
    names = [re.escape(path)] + ([re.escape(base_name(path))] if unique else [])
    return re.compile(rf"(?<![\w.-])(?:[\w.-]*/)*(?:{'|'.join(names)})(?![\w-])", re.I)


def done_lines(tl: Timeline, texts: Sequence[str]) -> list[str]:
    """Each changed file with a line on it (and what a new file's opening note says it is
    for), the new files of a change the user sent for review, then what was installed,
    verified and committed."""
    notes = _notes(tl, texts)
    listed = list(notes.items())
    heads = written_notes(tl)
    quoted = {
        p: n
        for p, n in quoted_notes(t.user.text for t in tl.main() if t.user is not None).items()
        if p not in notes
    }
    width = HEADS_CHARS // max(
        len([p for p, _ in listed[:MAX_FILES] if p in heads]) + len(quoted), 1
    )
    lines = []
    for path, note in listed[:MAX_FILES]:
        head = clip(heads.get(path, ""), width)
        said = " ".join(x.rstrip(".") + "." for x in (note, head) if x and x != f"`{head}`")
        lines.append(f"- {path} — {said}" if said else f"- {path}")
    lines += [f"- {p} (new, in the change reviewed) — {clip(n, width)}" for p, n in quoted.items()]
    rest = [p for p, _ in listed[MAX_FILES:]]
    names = Counter(base_name(p) for p in rest)
    if rest:
        shown = [base_name(p) if names[base_name(p)] == 1 else p for p in rest]
        lines.append(clip("- also changed: " + ", ".join(shown), 280))
    installs, checks, commits = [], [], []
    for _, act in tl.acts():
        f = act.facts
        if f.kind != "run" or act.failed:
            continue
        if f.installs:
            installs.append(f"`{clip(f.summary, 100)}`")
        elif f.verifies:
            checks.append(f"`{clip(f.summary, 100)}`")
        elif f.report:
            commits.append(f.report)
    for label, items in (("Installed", installs), ("Verified", checks), ("Committed", commits)):
        unique = list(dict.fromkeys(items))
        if unique:
            lines.append(
                f"- {label}: " + "; ".join(unique[-3:] if label == "Verified" else unique[:4])
            )
    return lines


def _account(tl: Timeline, limit: int) -> tuple[str, str]:
    """The agent's own words: (heading, text) from its last compaction summary and report."""
    reports = [t.report for t in tl.main() if t.report is not None]
    finals = reports[-1:]
    if reports and len(reports[-1].text) < 300:
        longest = max(reports[-3:], key=lambda s: len(s.text))
        finals = [r for r in reports[-3:] if r is longest or r is reports[-1]]
    parts: list[str] = []
    if tl.summaries:
        parts += telling(tl.summaries[-1].text, limit * 2 // 3 if finals else limit)
    for final in finals:
        parts += telling(final.text, (limit - sum(len(p) + 3 for p in parts)) // len(finals))
    heading = "The agent's summary and final report" if tl.summaries else "The agent's final report"
    return heading, "\n".join(f"- {p}" for p in parts if p)


def _also(rest: Sequence[Candidate], room: int) -> list[str]:
    """One line for each memory that did not fit on its own, best first, within ``room``: what
    it states (its first line, or its title when that says more; an issue's error)."""
    out: list[str] = []
    for c in rest:
        rows = {r.split(": ", 1)[0]: r.split(": ", 1)[-1] for r in c.body.splitlines()}
        first = c.body.split("\n", 1)[0].split(": ", 1)[-1] if c.body else ""
        said = first if len(first) > len(c.title) else c.title
        if c.kind == "issue" and rows.get("Error"):
            said = f"{rows.get('Open', c.title)} — {rows['Error']}"
        line = f"- {c.kind}: {clip(said, 150)}"
        if sum(len(x) + 1 for x in out) + len(line) > room:
            break
        out.append(line)
    return out


def session_recap(
    t: Transcript,
    tl: Timeline,
    chosen: Sequence[Candidate],
    rest: Sequence[Candidate],
    tags: tuple[str, ...],
    limit: int,
) -> Candidate | None:
    """The summary of a non-trivial session within about ``limit`` characters: the memories
    kept on their own are named, the ones that did not fit are told in a line each."""
    users = [s for s in tl.main() if s.user is not None]
    answered = any(t.report is not None and len(t.report.text) >= ANSWER_CHARS for t in users)
    if len(users) < 2 and not answered and not any(True for _ in tl.acts()):
        return None  # a lone question with a short reply: nothing to recap
    first, later = asked(tl)
    texts = [*(s.text for s in tl.summaries), *report_texts(tl)]
    sections = [("Asked", [first, *(f"- then: {a}" for a in later)] if first else [])]
    sections.append(("Done", done_lines(tl, texts)))
    settled = [c.title for c in chosen if c.kind in ("decision", "convention", "learning")]
    sections.append(("Decided and fixed", [f"- {s}" for s in settled[:10]]))
    sections.append(("Left open", [f"- {c.title}" for c in chosen if c.kind == "issue"]))
    used = sum(len(line) + 1 for _, lines in sections for line in lines)
    account_room = 450 if len(rest) >= 6 else max(min(900, (limit - used) // 2), 400)
    sections.append(("Also decided, fixed or open", _also(rest, limit - used - account_room)))
    used = sum(len(line) + 1 for _, lines in sections for line in lines)
    heading, account = _account(tl, max(min(limit - used, ACCOUNT_MAX), 400))
    sections.append((heading, [account] if account else []))
    used += len(account) + 1
    sections.append(("Request by request", request_lines(tl, limit - used)))
    body = "\n\n".join(f"## {name}\n" + "\n".join(lines) for name, lines in sections if lines)
    if _recap_words(body) < MIN_WORDS:
        return None  # nothing readable to recap (a sanitized or empty session)
    date = (t.started or "undated")[:10]
    said = list(sentences(first)) if first else []
    # the title tells the ask, not the greeting before it ("Hi! I have some dotfiles …")
    topic = next((x for x in said if classify(x, False) != "ack"), said[0] if said else "")
    topic = topic or first or "session"
    files = [tl.relative(p) for _, a in tl.acts() for p in a.facts.files]
    extra = tuple(dict.fromkeys(filter(None, (ext_tag(p) for p in files))))
    start, end = _span(tl)
    return Candidate(
        kind="summary",
        title=clean_title(f"{project_name(t) or 'session'} {date}: {polite(topic)}"),
        body=body,
        confidence=0.6 if account else 0.5,
        tags=tags_for(tags, f"{first} {' '.join(later)}", extra[:2]),
        line_start=start,
        line_end=end,
    )


def request_lines(tl: Timeline, room: int) -> list[str]:
    """Each request (a user message that is not a mere ack) with what the agent answered to
    it: the telling sentences of its report (a list's lead-in counts: "update app.routes.ts
    to remove folder routes:") and the files it changed, within ``room`` characters; when
    there is not room for all, the answers that name the most come first, told in order."""
    rows: list[tuple[int, str, str, str]] = []  # (names told, request, answer, files)
    for turn in tl.main():
        if turn.user is None or turn.report is None or is_paste(turn.user.text):
            continue
        if classify(turn.user.text, False) == "ack":
            continue
        ask = next(iter(sentences(turn.user.text)), "")
        answer = _answer(turn.report.text)
        files = list(dict.fromkeys(base_name(tl.relative(p)) for p, _ in turn.edits()))
        changed = f" (changed {', '.join(files[:4])})" if files else ""
        if len(ask) >= 8 and len(answer) >= 20:
            rows.append((len(names(answer)) + len(files), clip(polite(ask), 70), answer, changed))
    if len(rows) < 2 or room < TURN_LINE[0]:
        return []  # one request: the agent's account already tells its answer
    width = min(TURN_LINE[1], max(TURN_LINE[0], room // len(rows)))
    fits = max(1, room // width)
    best = set(sorted(range(len(rows)), key=lambda i: (-rows[i][0], i))[:fits])
    return [
        f"- {ask} → {clip(answer, max(width - len(ask) - len(changed) - 5, 60))}{changed}"
        for i, (_, ask, answer, changed) in enumerate(rows)
        if i in best
    ]


def _answer(text: str) -> str:
    """The telling sentences of a turn's report, a list's lead-in kept without its colon and
    "I'll help you …" read as what was done."""
    said = []
    for s in sentences(text, lax=True):
        s = _HELP.sub("", s).rstrip(" :")
        if len(s) >= 12 and not NARRATION.match(s) and not s.endswith("?") and s not in said:
            said.append(s)
    ranked = sorted(range(len(said)), key=lambda i: (-len(names(said[i])), i))[:3]
    return " ".join(polite(said[i]).rstrip(".") + "." for i in sorted(ranked))


def report_texts(tl: Timeline) -> list[str]:
    """What the agent wrote (reports first), and its subagents' reports."""
    reports = [t.report for t in tl.turns if t.report is not None]
    texts = [r.text for r in reports]
    texts += [s.text for t in tl.turns for s in t.says() if s not in reports]
    return texts + [a.facts.report for _, a in tl.acts() if a.facts.kind == "subagent"]


def _recap_words(body: str) -> int:
    """Words of ``body`` outside headings and placeholders (``[REDACTED_MESSAGE …]``)."""
    text = "\n".join(line for line in body.splitlines() if not line.startswith("#"))
    text = _PLACEHOLDER.sub(" ", text)
    return len(re.findall(r"[^\W\d_]{2,}", UNSPACED.sub(" ", text))) + unspaced_words(text)


def _span(tl: Timeline) -> tuple[int | None, int | None]:
    lines = [e.line for t in tl.main() for e in ((t.user,) if t.user else ()) + t.events if e.line]
    return (min(lines), max(lines)) if lines else (None, None)
