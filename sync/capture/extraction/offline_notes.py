"""Offline rules over what the agent wrote down (pure): the sections of its compaction
summaries and reports, its findings, and the rules hooks enforced.

- Sections of a compaction summary or an end-of-turn report named for decisions, preferences
  or conventions, errors and fixes, findings, or what is still open ("Key Decisions Made",
  "User Preferences", "Errors and fixes", "Pending Tasks") give one memory per item: the agent
  already distilled them. What is open is taken only from the last summary or report.
- A sentence stating a finding ("root cause", "turns out", "X is not needed", "the problem
  was") gives a learning, with the files the turn then changed.
- Hook feedback that blocked the agent ("Cannot exit with unstaged changes") gives a
  convention: what the hook enforces, and what the agent did about it.
- A notice of the agent harness that says what failed and what to do ("No API key found for
  provider X … Configure auth … or copy auth-profiles.json") gives a learning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from sync.capture.extraction.found import Found, found
from sync.capture.extraction.offline_errors import CAUSE, printed_error, unhedged
from sync.capture.extraction.offline_text import NARRATION, base_name, clip, polite, sentences
from sync.capture.extraction.timeline import Said, Timeline, Turn

_HEADING = re.compile(
    r"^\s*(?:#{1,6}\s+(?P<a>.+?)|\*\*(?P<b>[^*]{3,60})\*\*:?|(?P<c>[A-Z][\w /&'()-]{2,50}):)\s*$"
)
_ITEM = re.compile(r"^(?P<indent>\s{0,3})(?:[-*+•]|\d{1,2}[.)])\s+(?P<text>.+)$")
_SECTIONS = (
    ("issue", r"known issues?|open (?:issues?|questions?|problems?)|unresolved|pending|todo"
     r"|remaining|blockers?|not (?:yet )?(?:done|fixed)|left open|still broken"),
    ("convention", r"preferences?|conventions?|rules?|guidelines?|constraints?|requirements?"
     r"|standards?|instructions?|user feedback"),
    ("decision", r"decisions?|decided|choices?|chosen|trade-?offs?|adaptations?"),
    ("learning", r"errors?|fix(?:es)?|bugs?|lessons?|learn(?:ed|ings?)|gotchas?|pitfalls?"
     r"|findings?|discover(?:ed|ies)|root cause|insights?|problem solving|caveats?"
     r"|differences?|discrepanc\w*|mismatch\w*"),
)  # fmt: skip
_SECTION_RES = tuple((kind, re.compile(rf"\b(?:{rx})\b", re.I)) for kind, rx in _SECTIONS)
_INSIGHT = re.compile(
    r"\b(?:root cause|lessons?|learn\w*|gotchas?|pitfalls?|findings?|insights?|caveats?"
    r"|discover\w*|why|differences?|discrepanc\w*|mismatch\w*)\b",
    re.I,
)
_LEAD = re.compile(r"^\*\*(?P<lead>[^*]{3,80})\*\*\s*[-—–:]?\s*(?P<rest>.*)$")
_FINDING = re.compile(
    r"\b(?:root cause|turns? out|the (?:real )?(?:issue|problem|bug|culprit|cause) (?:is|was)"
    r"|(?:is|are)(?: not|n'?t) (?:needed|necessary|required|used)|no longer (?:needed|used)"
    r"|also maps|(?:was|is|were) caused by|that'?s why|i found (?:that|the)|it was actually"
    r"|the reason (?:is|was)|known (?:issue|bug|limitation)|does(?: not|n'?t) support"
    r"|only works (?:when|if|with))\b",
    re.I,
)
_BLOCK = re.compile(
    r"\b(?:cannot|can'?t|must|not allowed|refus\w*|blocked|required|either|before stopping)\b",
    re.I,
)
_LISTED = re.compile(r"^\s{2,}(\S{3,80})\s*$")
MAX_ITEM = 360


def _kind(heading: str) -> str | None:
    return next((kind for kind, rx in _SECTION_RES if rx.search(heading)), None)


def sections(text: str) -> Iterator[tuple[str, str, list[str]]]:
    """(kind, heading, items) for each section of ``text`` named for a memory kind; an item
    is a top-level list entry with its indented continuation. A bold line inside a section
    ("**The Problem:**") is part of it unless it names a kind of its own."""
    kind: str | None = None
    heading, items = "", list[str]()
    for line in text.splitlines():
        head = _HEADING.match(line)
        if head:
            name = next(g for g in head.groups() if g)
            named = _kind(name)
            if head.group("a") or named:
                if kind and items:
                    yield kind, heading, items
                kind, heading, items = named, name, []
            continue
        item = _ITEM.match(line)
        if item and kind:
            items.append(item.group("text").strip())
        elif items and line.strip() and line[:1].isspace():
            items[-1] += " " + line.strip().lstrip("-*+• ")
    if kind and items:
        yield kind, heading, items


def _stop(text: str) -> str:
    text = text.strip()
    return text if text[-1:] in ".!?:" else text + "."


def _prose_item(item: str) -> bool:
    """A list item that states something (not a code signature or a bare path)."""
    flat = item.replace("**", "").replace("`", "")
    words = re.findall(r"[^\W\d_]{2,}", flat)
    code = len(re.findall(r"[(){}<>;=|/]", flat))
    return len(words) >= 3 and code <= len(words) // 2


def _title(item: str) -> str:
    """An item's title: its bold lead, or its first sentence."""
    lead = _LEAD.match(item)
    if lead and len(lead.group("lead").split()) >= 2:
        return lead.group("lead")
    flat = item.replace("**", "")
    return next(iter(sentences(flat)), flat)


_LABEL = {"decision": "Decision", "convention": "Rule", "learning": "Finding", "issue": "Open"}


def _from_section(
    kind: str, heading: str, items: list[str], said: Said, tags: tuple[str, ...]
) -> Iterator[Found]:
    items = [i for i in items if _prose_item(i)]
    if kind == "learning" and items:  # one account: its steps belong together
        joined = " ".join(_stop(i.replace("**", "")) for i in items)
        causal = next((x for i in items for x in sentences(i) if CAUSE.search(x)), "")
        title = causal or (heading if len(heading.split()) >= 4 else _title(items[0]))
        span = (said.line, said.line)
        item_found = found(kind, title, [(_LABEL[kind], joined)], score=6.0, pos=said.pos,
                           span=span, tags=tags, limit=MAX_ITEM + 200)  # fmt: skip
        if item_found is not None:
            yield item_found
        return
    if kind == "decision" and said.role != "summary" and len(items) > 1:
        item_found = _account_choices(heading, items, said, tags)
        if item_found is not None:
            yield item_found
        return
    short = [i for i in items if len(i) < 60]
    for n, item in enumerate(items):
        if len(item) < 60 and len(short) > 1:
            continue
        title = _title(item)
        lines = [(_LABEL[kind], polite(item.replace("**", "")))]
        item_found = found(kind, title, lines, score=6.0, pos=said.pos + n / 100,
                           span=(said.line, said.line), tags=tags, limit=MAX_ITEM)  # fmt: skip
        if item_found is not None:
            yield item_found
    if len(short) > 1:
        joined = "; ".join(s.replace("**", "") for s in short)
        title = f"{heading.strip(' :*#')}: {short[0].replace('**', '')}"
        item_found = found(kind, title, [(_LABEL[kind], joined)], score=6.0, pos=said.pos,
                           span=(said.line, said.line), tags=tags, limit=MAX_ITEM)  # fmt: skip
        if item_found is not None:
            yield item_found


_CODE_SPAN = re.compile(r"`([^`\n]{3,60})`")


def _related(text: str, items: Sequence[str], limit: int = 3) -> list[str]:
    """Other lines of ``text`` naming what ``items`` name in code spans (``factorial()``):
    where the agent's account says more about the same things."""
    names = {n.rstrip("()").split("<")[0] for i in items for n in _CODE_SPAN.findall(i)}
    names = {n for n in names if len(n) >= 3}
    out: list[str] = []
    for raw in text.splitlines():
        bare = raw.strip().lstrip("-*+•0123456789.) ").strip()
        if not bare or any(bare in i or i in bare for i in items):
            continue
        if any(f"`{n}" in bare for n in names) and bare not in out:
            out.append(bare.replace("**", ""))
    return out[:limit]


def _account_choices(
    heading: str, items: list[str], said: Said, tags: tuple[str, ...]
) -> Found | None:
    """The choices an agent's report lists under one heading ("Key Adaptations"), as one
    decision, with the report's other lines on the same names."""
    flat = [_stop(i.replace("**", "")) for i in items]
    title = f"{heading.strip(' :*#')}: {flat[0].rstrip('.')}"
    lines = [("Decision", " ".join(flat)), ("Related", " ".join(_stop(r) for r in
             _related(said.text, items)))]  # fmt: skip
    return found("decision", title, lines, score=6.0, pos=said.pos, span=(said.line, said.line),
                 tags=tags, limit=MAX_ITEM + 200)  # fmt: skip


def curated_found(tl: Timeline, tags: tuple[str, ...]) -> Iterator[Found]:
    """Memories from the named sections of summaries and end-of-turn reports. A report's
    "fixes applied" list says what was done (the summary recaps that); its findings, decisions
    and rules are kept."""
    reports = [t.report for t in tl.main() if t.report is not None]
    last = {tl.summaries[-1].pos if tl.summaries else -1, reports[-1].pos if reports else -1}
    delegated = [
        Said(a.pos, a.line, "agent", a.facts.report)
        for _, a in tl.acts()
        if a.facts.kind == "subagent" and a.facts.report
    ]
    for said in [*tl.summaries, *reports, *delegated]:
        for kind, heading, items in sections(said.text):
            if kind == "issue" and said.pos not in last:
                continue  # what was open then may have been done since
            if kind == "learning" and said.role != "summary" and not _INSIGHT.search(heading):
                continue
            yield from _from_section(kind, heading, items, said, tags)


def _after(turn: Turn, said: Said) -> list[str]:
    files: list[str] = []
    for act in turn.acts():
        if act.pos > said.pos and act.facts.kind == "edit" and act.applied:
            files += [f for f in act.facts.files if f not in files]
    return files


def finding_found(tl: Timeline, tags: tuple[str, ...]) -> Iterator[Found]:
    """Learnings from the agent's findings ("root cause", "X is not needed")."""
    for turn in tl.turns:
        for said in turn.says():
            parts = list(sentences(said.text))
            for i, sentence in enumerate(parts):
                if not _FINDING.search(sentence) or NARRATION.match(sentence):
                    continue
                if sentence.endswith("?") or not 30 <= len(sentence) <= 300:
                    continue
                detail = parts[i + 1] if i + 1 < len(parts) and len(parts[i + 1]) < 240 else ""
                files = ", ".join(tl.relative(f) for f in _after(turn, said)[:3])
                sentence = unhedged(sentence)
                lines = [("Finding", polite(sentence)), ("Detail", polite(detail)),
                         ("Fix", f"changed {files}" if files else "")]  # fmt: skip
                item = found("learning", polite(sentence), lines, score=4.5, pos=said.pos + i / 100,
                             span=(said.line, said.line), tags=tags)  # fmt: skip
                if item is not None:
                    yield item


_NOTICE_FAIL = re.compile(
    r"\b(?:fail\w*|errors?|no \S+(?: \S+){0,3} found|not found|missing|denied|unauthori[sz]ed"
    r"|invalid|could not|cannot|can'?t)\b",
    re.I,
)
_REMEDY = re.compile(
    r"^(?:please\s+)?(?:configure|run|set|add|install|copy|use|check|log\s?in|export|create"
    r"|enable|restart|update|upgrade)\b",
    re.I,
)


def notice_found(tl: Timeline, tags: tuple[str, ...]) -> Iterator[Found]:
    """Learnings from the agent harness's own notices that say what failed and what to do
    about it ("No API key found for provider X … Configure auth … or copy auth-profiles.json");
    a notice with no remedy teaches nothing."""
    seen: set[str] = set()
    for said in tl.notices:
        parts = list(sentences(said.text))
        fail = next((i for i, p in enumerate(parts) if _NOTICE_FAIL.search(p)), None)
        remedy = [p for p in parts if _REMEDY.match(p)]
        if fail is None or not remedy or parts[fail] in seen:
            continue
        seen.add(parts[fail])
        problem = parts[fail]
        head = problem.rsplit(": ", 1)[-1] if len(problem.rsplit(": ", 1)[-1]) >= 20 else problem
        detail = next((p for p in parts[fail + 1 :] if p not in remedy), "")
        lines = [("Problem", problem), ("Detail", detail), ("Fix", " ".join(remedy[:2]))]
        item = found("learning", head, lines, score=5.5, pos=said.pos, span=(said.line, said.line),
                     tags=tags, limit=300)  # fmt: skip
        if item is not None:
            yield item


_ERROR_WORD = re.compile(r"^(?:error:\s*)+", re.I)
_NODE_CODE = re.compile(r"^\s*code: '?([A-Z][A-Z0-9_]{3,})'?,?\s*$", re.M)
_HOOK_HEAD = re.compile(
    r"\A(?P<event>\S+) hook `(?P<command>[^`]+)` failed with status (?P<code>-?\d+)"
    r"(?: \((?P<times>\d+) times\))?:"
)


def hook_error_found(tl: Timeline, tags: tuple[str, ...]) -> Iterator[Found]:
    """An issue for each hook command that failed: the harness goes on past it, so the hook
    does nothing until someone fixes it (a script moved away, a missing interpreter)."""
    for said in tl.hook_errors:
        head, _, output = said.text.partition("\n")
        m = _HOOK_HEAD.match(head)
        if m is None:
            continue
        error = _ERROR_WORD.sub("", printed_error(output, 160))
        code = _NODE_CODE.search(output)  # node tells the kind apart: code: 'MODULE_NOT_FOUND'
        if code and code[1] not in error:
            error = f"{error} ({code[1]})"
        times = f"{m['times']} times" if m["times"] else "once"
        lines = [
            ("Open", f"the {m['event']} hook `{m['command']}` failed {times} (status "
                     f"{m['code']}) and nothing in the session fixed it"),
            ("Error", error),
        ]  # fmt: skip
        path = m["command"].split()[-1]
        script = base_name(path)
        named = error.replace(path, script).replace("'", "")
        yield from _of_said("issue", f"The {script} hook fails: {named}", lines, said, tags)


def model_error_found(tl: Timeline, tags: tuple[str, ...]) -> Iterator[Found]:
    """The model or its provider failing ("qwen3.5:9b failed: fetch failed (4 times)"): a
    learning when another model replied after it, an issue when nothing did (a reply of the
    same model says the failure passed)."""
    seen: set[str] = set()
    for said, after in tl.model_errors:
        model, _, error = said.text.partition(" failed: ")
        if not error or said.text in seen:
            continue
        seen.add(said.text)
        if after is not None and (not after or after == model):
            continue  # the same model (or an unnamed one) replied after it: it passed
        worked = after or ""
        if worked:
            lines = [("Problem", said.text), ("Fix", f"the reply came from {worked} instead")]
            once = re.sub(r"\s*\(\d+ times\)$", "", error)  # "fetch failed (4 times)"
            title = f"Model {model} failed ({clip(once, 40)}); {worked} replied instead"
            yield from _of_said("learning", title, lines, said, tags)
        else:
            lines = [("Open", f"the model {model} failed and no other replied"), ("Error", error)]
            yield from _of_said("issue", f"The model {model} fails: {clip(error, 50)}", lines,
                                said, tags)  # fmt: skip


def _of_said(
    kind: str, title: str, lines: list[tuple[str, str]], said: Said, tags: tuple[str, ...]
) -> Iterator[Found]:
    """The memory one harness message makes (a failed hook, a failed model), when it has a
    title worth keeping."""
    item = found(kind, title, lines, score=5.0, pos=said.pos, span=(said.line, said.line),
                 tags=tags, limit=300)  # fmt: skip
    if item is not None:
        yield item


def _hook_rules(text: str) -> tuple[str, list[str], list[str]]:
    """(hook name, the lines saying what it blocks, the things it listed)."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    name = re.sub(r"(?i)\s*feedback:?\s*$", "", first).strip() or "hook"
    rules, listed = [], []
    for line in text.splitlines()[1:]:
        bare = line.strip().lstrip("#>-*0123456789. ").strip()
        if bare.endswith(":") or bare.lower().startswith(("if ", '"')):
            continue
        if _BLOCK.search(bare) and 12 <= len(bare) <= 200:
            rules.append(bare)
        elif _LISTED.match(line) and not _BLOCK.search(line):
            listed.append(line.strip())
    return name, rules, listed


def _sentence(name: str, rule: str) -> str:
    m = re.match(r"(?i)(?:cannot|can'?t)\s+(.+)", rule)
    if m:
        return f"The {name} does not let the agent {m.group(1).rstrip('.')}"
    return f"The {name} requires: {rule.rstrip('.')}"


def hook_found(tl: Timeline, tags: tuple[str, ...]) -> Iterator[Found]:
    """Conventions from hook feedback that blocked the agent, one per hook."""
    by_name: dict[str, tuple[str, list[Said], list[str], list[str]]] = {}
    for said in tl.hooks:
        name, rules, listed = _hook_rules(said.text)
        if not rules:
            continue
        _, seen, kept, items = by_name.setdefault(name.lower(), (name, [], [], []))
        seen.append(said)
        kept += [r for r in rules if r not in kept]
        items += [i for i in listed if i not in items]
    for name, seen, rules, listed in by_name.values():
        done = _reaction(tl, seen)
        lines = [("Rule", " ".join(rules[:5])), ("Listed", ", ".join(listed[:8])), ("Done", done)]
        title = _sentence(name, rules[0])
        item = found("convention", title, lines, score=5.5, pos=seen[0].pos,
                     span=(seen[0].line, seen[-1].line), tags=tags, limit=400)  # fmt: skip
        if item is not None:
            yield item


def _reaction(tl: Timeline, hooks: Sequence[Said]) -> str:
    """The files the agent changed after the hooks spoke."""
    start = hooks[0].pos
    files = [
        tl.relative(f)
        for _, act in tl.acts()
        if act.pos > start and act.facts.kind == "edit" and act.applied
        for f in act.facts.files
    ]
    unique = list(dict.fromkeys(files))[:4]
    return clip("changed " + ", ".join(unique), 200) if unique else ""
