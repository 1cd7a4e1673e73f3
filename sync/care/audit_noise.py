"""Noise, for `memsync audit`: memories that hold little a person would keep.

Pure checks over a memory's title and body, in the shapes memsync writes (templated learnings,
quoted decisions, session summaries) and the ones people and agents write:

- a raw error line as the title ("Fix git commit: On branch fix/…", "error[E0433]: …"), or a
  title cut off mid-sentence;
- a body that restates the title (nothing said beyond it, template and context aside);
- a learning about a failure with no fix (the "fix" was only the failed command run again);
- a decision with no reason;
- a session summary or daily log with next to no recap in it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sync.lexical import fact_lines, substance, unspaced_words
from sync.models import Memory

RAW_ERROR_TITLE = re.compile(
    r"^Fix [^:]{1,60}: "  # the offline extractor's "Fix <command>: <error line>"
    r"|^(?:error|fatal|warning)\b[^:]{0,20}:|\b(?:Error|Exception|Warning|ERR!|FATAL)(?::|\s*\[)"
    r"|\bTraceback\b|\bOn branch \S|No such file or directory|command not found"
    r"|[\w./-]+\.[A-Za-z]\w*(?::\d+){1,2}|\(\d+,\d+\)",  # file:line (not a model: qwen3.5:9b)
    re.IGNORECASE,
)
TRUNCATED_TITLE = re.compile(r"(?:\.\.\.|…)\s*$")
FIX_LABELS = frozenset({"fixed by", "fix", "fixed", "solution", "changed", "files"})
PROBLEM_LABELS = frozenset({"error", "problem", "symptom", "failed"})
FIX_WORDS = re.compile(
    r"\b(?:fix(?:ed|es)?|solv|resolv|workaround|instead|use[sd]?|add(?:ed|ing)?|set(?:ting)?"
    r"|install|remov|renam|replac|import|enabl|disabl|pin|upgrad|downgrad|must|should"
    r"|needs?|has to|have to|switch|mov(?:e|ed)|delet)",
    re.IGNORECASE,
)
REASON = re.compile(
    r"\b(?:because|since|so\s+that|so\b|due\s+to|in\s+order\s+to|to\s+(?:avoid|keep|make|let"
    r"|stop|prevent|get|ensure|support|match|reduce|handle|represent|simplify)|as\s+(?:it|this"
    r"|that|the|we|they)|which\s+\w+|otherwise|the\s+reason|allow(?:s|ing)?|enabl(?:es|ing)"
    r"|for\s+(?:backwards?\s+)?compatibility|in\s+case"
    r"|given\s+that|gives|lets|keeps|avoids|prevents|makes|means|requires|needs|breaks|broke"
    r"|fails|failed|without|faster|slower|cheaper|safer|simpler|why|reason)\b",
    re.IGNORECASE,
)
LISTING = re.compile(
    r"^(?:`[^`]*`|[\w@~:./\\*-]*[/.\\][\w@~:./\\*-]*(?:\s+\(edited\))?|\(\+\d+ more\)"
    r"|Key terms:.*|(?:(?:assistant|user|system|tool)\s+\d+,?\s*)+.*)$",
    re.IGNORECASE,
)
# sections of a summary that list what was touched, not what happened
LISTING_SECTIONS = re.compile(r"^#+\s*(?:files|commands|errors|models|messages|tools)\b", re.I)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "with",
        "we",
        "our",
        "i",
        "you",
    ]
)
RECAP_KINDS = frozenset({"summary", "daily"})


def noise_reasons(memory: Memory, min_summary_words: int) -> list[str]:
    """Why ``memory`` is noise (empty: it is not)."""
    title = memory.title.strip()
    if memory.kind in RECAP_KINDS:
        words = recap_words(memory.body)
        return (
            [f"near-empty {memory.kind} ({words} words of recap)"]
            if words < min_summary_words
            else []
        )
    reasons = []
    if RAW_ERROR_TITLE.search(title):
        reasons.append("raw error line as the title")
    elif TRUNCATED_TITLE.search(title):
        reasons.append("title cut off")
    lines = fact_lines(title, memory.body)
    if len(_new_words(title, lines)) < 3:
        reasons.append("body restates the title")
    if memory.kind == "learning" and _failure_without_fix(title, memory.body, lines):
        reasons.append("learning without a fix")
    if memory.kind == "decision" and not REASON.search(substance(title, memory.body)):
        reasons.append("decision without a reason")
    return reasons


def recap_words(body: str) -> int:
    """Words of a summary that recap something: headings, file / command / error / model
    listings, key-term and message-count lines left out."""
    count, listing = 0, False
    for raw in body.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            listing = bool(LISTING_SECTIONS.match(line))
            continue
        item = line.lstrip("-*0123456789. ").strip()
        if item and not listing and not LISTING.match(item):
            count += len(_WORD.findall(item.lower())) + unspaced_words(item)
    return count


def _new_words(title: str, lines: Sequence[tuple[str | None, str]]) -> set[str]:
    said = set(_WORD.findall(title.lower()))
    text = " ".join(t for label, t in lines if label not in ("changed", "files"))
    return {w for w in _WORD.findall(text.lower()) if w not in said and w not in _STOP}


def _failure_without_fix(title: str, body: str, lines: Sequence[tuple[str | None, str]]) -> bool:
    """A learning about a failure (an error line, or a raw-error title) that says nothing of
    what fixed it: no fix or changed-files line other than a rerun, no fixing words."""
    failure = any(label in PROBLEM_LABELS for label, _ in fact_lines("", body)) or (
        "\nFailed:" in f"\n{body}" or bool(RAW_ERROR_TITLE.search(title))
    )
    if not failure:
        return False
    if any(label in FIX_LABELS for label, _ in lines):
        return False
    prose = " ".join(t for label, t in lines if label not in PROBLEM_LABELS)
    return not FIX_WORDS.search(prose)


def noisy_memories(
    memories: Sequence[tuple[str, Memory]], min_summary_words: int
) -> dict[str, Any]:
    """Every noisy memory with its reasons, the count per reason and the noise rate."""
    items: list[dict[str, Any]] = []
    per_reason: dict[str, int] = {}
    for path, memory in memories:
        reasons = noise_reasons(memory, min_summary_words)
        if reasons:
            items.append({"path": path, "kind": memory.kind, "reasons": reasons})
            for r in reasons:
                key = r.split(" (", 1)[0]
                per_reason[key] = per_reason.get(key, 0) + 1
    rate = round(len(items) / len(memories), 4) if memories else 0.0
    return {"count": len(items), "rate": rate, "reasons": per_reason, "items": items}
