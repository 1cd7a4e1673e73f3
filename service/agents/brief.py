"""What the hooks put in front of the agent: the brief at session start (the memories of this
project that matter most: conventions, open issues, recent decisions and learnings, each with
its id) and the memories relevant to a prompt. Both fit a token budget and are wrapped in
the recall markers, so that capture never takes them for something the session said."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sync.capture.extraction.echo import RECALL_CLOSE, RECALL_OPEN
from sync.capture.tokens import estimate_tokens
from sync.index.checkpoint import load_checkpoint
from sync.models import ARCHIVE_FOLDER, Memory
from sync.store import StoreLayout

# (kind, heading, at most this many): the order is the order of importance
SECTIONS: tuple[tuple[str, str, int], ...] = (
    ("convention", "Conventions (rules this project follows)", 10),
    ("issue", "Open issues (left broken, open or unverified)", 6),
    ("decision", "Recent decisions", 8),
    ("learning", "Recent learnings", 6),
)
MORE = (
    'More: the memory_search tool (MCP) or `memsync ask "<question>"`; memory_get ID or '
    "`.memsync/memory/` for a memory in full."
)
GIST_CHARS = 180
_MARKUP = re.compile(r"^\s*(?:#+\s+|[-*+]\s+|>\s+|\d+[.)]\s+)")


def session_brief(layout: StoreLayout, budget: int) -> str:
    """The brief for a new session within ``budget`` tokens; "" when memory holds nothing
    of these kinds."""
    from service.memories import recent

    entries = load_checkpoint(layout.checkpoint_path, layout.journal_path).entries
    live = [(p, e) for p, e in sorted(entries.items()) if not p.startswith(f"{ARCHIVE_FOLDER}/")]
    chosen: list[list[Memory]] = []
    for kind, _, cap in SECTIONS:
        of_kind = [(p, e) for p, e in live if e.kind == kind]
        chosen.append([m for _, _, m in recent(layout, of_kind, cap)])
    return render_brief(chosen, budget)


def render_brief(chosen: Sequence[Sequence[Memory]], budget: int) -> str:
    """The sections' memories, most important first, as many as fit in ``budget`` tokens
    (taken in turns: the first of each section, then the second of each, ...)."""
    if not any(chosen):
        return ""
    head = "What this project's memory holds (memsync, newest first):"
    fixed = estimate_tokens("\n".join([RECALL_OPEN, head, MORE, RECALL_CLOSE])) + 20
    heads = [estimate_tokens(f"\n## {title}") for _, title, _ in SECTIONS]
    used = fixed
    kept: list[list[str]] = [[] for _ in SECTIONS]
    turns = max(len(c) for c in chosen)
    for turn in range(turns):
        for section, memories in enumerate(chosen):
            if turn >= len(memories):
                continue
            text = memory_line(memories[turn])
            cost = estimate_tokens(text) + 1 + (heads[section] if not kept[section] else 0)
            if used + cost <= budget:
                kept[section].append(text)
                used += cost
    parts = [RECALL_OPEN, head]
    for (_, title, _), lines in zip(SECTIONS, kept, strict=True):
        if lines:
            parts += ["", f"## {title}", *lines]
    return "\n".join([*parts, "", MORE, RECALL_CLOSE])


def memory_line(memory: Memory) -> str:
    """``- Title: the gist of its body [id]`` on one line."""
    gist = gist_of(memory.body)
    title = memory.title.rstrip(".")
    return f"- {title}: {gist} [{memory.id}]" if gist else f"- {title} [{memory.id}]"


def gist_of(body: str, limit: int = GIST_CHARS) -> str:
    """The body's first lines as one plain line, cut at a word near ``limit`` characters."""
    words: list[str] = []
    for raw in body.splitlines():
        line = _MARKUP.sub("", raw).strip()
        if line:
            words += line.split()
        if sum(len(w) + 1 for w in words) > limit:
            break
    text = " ".join(words)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + " …"


def prompt_recall(found: dict[str, Any], budget: int) -> str:
    """The memories a search found for a prompt, best first, within ``budget`` tokens; ""
    when none reached the relevance floor."""
    results = found.get("results") or []
    if not results:
        return ""
    floor = (found.get("scoring") or {}).get("min_score")
    head = "Memories of this project relevant to the prompt (memsync"
    head += f"; relevance ≥ {floor:.2f}):" if floor else "):"
    tail = "memory_get ID (MCP) or `.memsync/memory/<path>` gives one in full."
    lines = [RECALL_OPEN, head]
    used = estimate_tokens("\n".join([*lines, tail, RECALL_CLOSE])) + 10
    for r in results:
        entry = _result_lines(r)
        cost = estimate_tokens(entry) + 1
        if used + cost > budget:
            continue
        lines.append(entry)
        used += cost
    if len(lines) == 2:
        return ""
    return "\n".join([*lines, tail, RECALL_CLOSE])


def _result_lines(r: dict[str, Any]) -> str:
    title = str(r.get("title") or r.get("path") or "?")
    head = f"- [{r.get('kind')}] {title} (score {float(r.get('score') or 0):.2f}) [{r.get('id')}]"
    snippet = [ln.strip() for ln in str(r.get("snippet") or "").splitlines() if ln.strip()]
    return "\n".join([head, *(f"  {ln[:300]}" for ln in snippet[:4])])
