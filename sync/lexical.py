"""Lexical side of hybrid search (text -> sparse BM25 term weights, and the fusion of a cosine
with a BM25 score into one relevance) and of the duplicate judge (a memory's substance without
its template, and its key terms).

Term weights are BM25's saturated term frequency; the index multiplies in the inverse
document frequency at query time (Qdrant's IDF modifier on the sparse vector), so the
collection statistics never have to be stored here. Term ids are a stable hash of the
token: the same text gives the same vector on every backend and every run.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import xxhash

SPARSE_NAME = "lexical"  # the sparse vector's name in every collection
K1 = 1.2
B = 0.75
# memories are short: a typical title + body is 30-80 tokens (docs/benchmarks.md)
AVG_DOC_TOKENS = 48.0
# Fusion constants, chosen by a sweep on both labelled sets (docs/benchmarks.md, issue 16):
# term matches close up to 40% of the gap between the cosine and 1, saturating with BM25.
LEXICAL_BOOST = 0.4
LEXICAL_SCALE = 30.0

# identifiers keep their dots, dashes and underscores ("qdrant-edge", "foo.py", "max_tokens")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[._\-/][A-Za-z0-9]+)*")
_SEP = re.compile(r"[._\-/]")
# characters of scripts written without spaces between words (Chinese, Japanese)
UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_STOP_WORDS = """
    a an and are as at be been but by can could did do does for from had has have he her his
    how i if in into is it its me my no not of on or our she so than that the their them
    then there these they this to too up us was we were what when where which who why will
    with would you your yes ok just also about after all any because before being both each
    few more most other over same should some such only own very s t don now
"""
_STOP = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class SparseVec:
    """Sorted unique term ids with their weights."""

    indices: tuple[int, ...]
    values: tuple[float, ...]

    def __bool__(self) -> bool:
        return bool(self.indices)


def tokens(text: str) -> list[str]:
    """Lowercased terms: whole identifiers plus their parts, stop words dropped, stemmed."""
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        word = match.group(0)
        lower = word.lower()
        parts = [] if lower.isalnum() else _SEP.split(lower)
        if _CAMEL.search(word):
            parts += [p.lower() for piece in _SEP.split(word) for p in _CAMEL.split(piece)]
        for term in dict.fromkeys((lower, *parts)):
            if (len(term) < 2 and not term.isdigit()) or term in _STOP:
                continue
            out.append(stem(term))
    return out


def unspaced_words(text: str) -> int:
    """Words of ``text`` in scripts written without spaces, two characters a word."""
    return len(UNSPACED.findall(text)) // 2


def stem(word: str) -> str:
    """A light English suffix stripper (plural, -ing, -ed, -ly, final -e); identifiers and
    short words are left alone. Crude, but the same on both sides of the match."""
    if not word.isalpha() or len(word) <= 4:
        return word
    if word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "edly", "ed", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = _undouble(word[: -len(suffix)])
            break
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def _undouble(word: str) -> str:
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        return word[:-1]
    return word


def term_id(term: str) -> int:
    """A stable 31-bit id for a term (sparse indices are unsigned 32-bit in Qdrant)."""
    return xxhash.xxh32_intdigest(term.encode("utf-8")) & 0x7FFFFFFF


def document_vector(text: str) -> SparseVec:
    """BM25 term-frequency weights of a memory's text (IDF is applied by the index)."""
    counts = Counter(term_id(t) for t in tokens(text))
    length = sum(counts.values())
    norm = K1 * (1 - B + B * length / AVG_DOC_TOKENS)
    return _sparse((tid, tf * (K1 + 1) / (tf + norm)) for tid, tf in counts.items())


def query_vector(text: str) -> SparseVec:
    """One unit weight per distinct query term."""
    return _sparse((tid, 1.0) for tid in {term_id(t) for t in tokens(text)})


def _sparse(pairs: Iterable[tuple[int, float]]) -> SparseVec:
    ordered = sorted(pairs)
    return SparseVec(tuple(i for i, _ in ordered), tuple(round(v, 6) for _, v in ordered))


def relevance(cosine: float, bm25: float) -> float:
    """One score from both signals: the cosine, raised toward 1 by BM25 term matches.

    Unlike a rank fusion it is absolute (an unrelated question scores low however the
    results rank among themselves), so a floor can say "no strong match"."""
    cos = max(-1.0, min(cosine, 1.0))
    lexical = 1.0 - math.exp(-max(bm25, 0.0) / LEXICAL_SCALE)
    return cos + LEXICAL_BOOST * (1.0 - cos) * lexical


# -- the duplicate judge's view of a memory ------------------------------------------------------

# a template's labelled line: "Error: ...", "Fixed by: ...", "- **Cause:** ..."
_LABEL = re.compile(
    r"^(?:[-*]\s+)?\**(?P<label>[A-Za-z][A-Za-z ]{1,18}?)\**\s*:\s*\**\s*(?P<rest>.*)$"
)
# lines about the circumstances (the question asked, the command that failed), not the fact
CIRCUMSTANCE = frozenset({"context", "failed", "tags", "source", "session", "evidence", "asked"})
# labels whose line is the fact itself: the label goes, the text stays
SCAFFOLD = frozenset(
    {
        "error", "cause", "root cause", "fixed by", "fix", "fixed", "solution", "changed",
        "files", "problem", "symptom", "reason", "why", "because", "decision", "choice",
        "outcome", "result", "finding", "convention", "rule", "preference", "open", "status",
        "note", "update", "learning", "insight", "verified", "done", "left open",
    }
)  # fmt: skip
_MERGED = re.compile(r"\*\*Update \(\d{4}-\d{2}-\d{2}\):\*\*\s*")
_FIX_TITLE = re.compile(r"^Fix [^:]{1,60}:\s+")  # the offline extractor's raw-error title
_LOCATION = re.compile(r"(?:-->\s*)?[\w./@-]+(?:\(\d+,\d+\)|:\d+(?::\d+)?):?(?:\s|$)")
_ERROR_HEAD = re.compile(r"^(?:error:\s*)+", re.IGNORECASE)
_TICKS = re.compile(r"`([^`]*)`")
_TOOL_NOTE = re.compile(r"\s*\(\w+\)\s*$")
_WORDS = re.compile(r"[\W_]+")

STRONG_TERMS = frozenset({"code", "version", "hex", "path", "flag", "ident", "quoted"})
_TERM_CLASSES = (  # earlier classes claim their span first
    ("code", r"\b(?:[A-Z]{1,4}\d{3,5}|E\d{4}|ERR_[A-Z_]+|E[A-Z]{4,}"
     r"|[A-Z][A-Za-z]+(?:Error|Exception|Warning))\b"),
    ("version", r"(?<![\w.])v?\d+(?:\.\d+)+(?![\w.])"),
    ("hex", r"(?<![\w&])#(?:[0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})\b"),
    ("path", r"(?<!\w)(?:~|\.{1,2})?[\w@.-]*/[\w@./*-]*\w|\b[\w-]+\.(?:tsx?|jsx?|mjs|py|rs|go"
     r"|md|json|toml|ya?ml|lock|html|s?css|exs?|swift|sh|sql|java|kt|rb|c|h|cpp)\b"),
    ("flag", r"(?<![\w-])--?[a-z][\w-]+"),
    ("ident", r"\b[a-z]+[A-Z]\w*|\b[A-Z][a-z]+[A-Z]\w*|\b[A-Za-z]\w*_\w+\b"
     r"|\b[A-Za-z]\w*\.[A-Za-z]\w*|\b\w+\(\)"),
    ("quoted", r"(?<!\w)'([^'\n]{2,40})'(?!\w)|\"([^\"\n]{2,40})\"|`([^`\n]{2,40})`"),
    ("acronym", r"\b[A-Z]{2,}s?\b"),
    ("number", r"(?<![\w.#,])(?:\d{1,3}(?:,\d{3})+|\d+)(?![\w.])"),
)  # fmt: skip
_TERM_RES = tuple((kind, re.compile(rx)) for kind, rx in _TERM_CLASSES)


def _plain(text: str) -> str:
    return " ".join(_WORDS.sub(" ", text.casefold()).split())


def _labelled(body: str) -> list[tuple[str | None, str]]:
    """Body lines as (template label or None, text), quote marks, merge stamps and headings
    removed; an unlabelled line right under a labelled one continues it (multi-line errors)."""
    out: list[tuple[str | None, str]] = []
    current: str | None = None
    for raw in body.splitlines():
        line = _MERGED.sub("", raw).strip().lstrip(">").strip()
        if not line or line.startswith("#"):
            current = None
            continue
        m = _LABEL.match(line)
        label = m.group("label").strip().lower() if m else None
        if m and (label in CIRCUMSTANCE or label in SCAFFOLD):
            current = label
            out.append((label, m.group("rest").strip()))
        else:
            out.append((current, line))
    return out


def _command(text: str) -> str:
    m = _TICKS.search(text)
    return " ".join((m.group(1) if m else _TOOL_NOTE.sub("", text)).split())


def fact_lines(title: str, body: str) -> list[tuple[str | None, str]]:
    """The body's lines that state the fact: no circumstances, no rerun of the failed command
    given as its fix, nothing the title already says."""
    lines = _labelled(body)
    failed = {_command(text) for label, text in lines if label == "failed"}
    head = _plain(_FIX_TITLE.sub("", title))
    out = []
    for label, text in lines:
        if label in CIRCUMSTANCE:
            continue
        if label in ("fixed by", "fix", "fixed") and _command(text) in failed:
            continue
        if label == "error":
            text = _ERROR_HEAD.sub("", _LOCATION.sub("", text))
        plain = _plain(text)
        if plain and plain not in head:
            out.append((label, text))
    return out


def substance(title: str, body: str) -> str:
    """What a memory says, without its template: the title (a raw-error title without its
    "Fix <command>:" head) and the fact lines, labels, quote marks and file lists removed."""
    lines = [t for label, t in fact_lines(title, body) if label not in ("changed", "files")]
    head = _FIX_TITLE.sub("", title.strip())
    return "\n".join([head, *(_TICKS.sub(r"\1", t) for t in lines)]).strip()


def key_terms(title: str, body: str) -> dict[str, str]:
    """Distinctive tokens of what a memory says (error codes, versions, paths, flags,
    identifiers, quoted names; acronyms and numbers as weak ones), lowercased, with their
    class."""
    text = "\n".join([_FIX_TITLE.sub("", title), *(t for _, t in fact_lines(title, body))])
    out: dict[str, str] = {}
    taken: list[tuple[int, int]] = []
    for kind, rx in _TERM_RES:
        for m in rx.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            found = next((g for g in m.groups() if g), "") if rx.groups else m.group(0)
            term = found.strip(".,;:()[]{}'\"` ").lower()
            term = term.replace(",", "") if kind == "number" else term
            if len(term) >= 2 or (kind == "number" and term):
                out.setdefault(term, kind)
                taken.append(m.span())
    return out


def term_agreement(a: dict[str, str], b: dict[str, str]) -> float | None:
    """Share of the smaller side's key terms that the other side has too (weak classes count
    half); None when either side has none."""
    wa = {t: 1.0 if k in STRONG_TERMS else 0.5 for t, k in a.items()}
    wb = {t: 1.0 if k in STRONG_TERMS else 0.5 for t, k in b.items()}
    if not wa or not wb:
        return None
    shared = sum(min(wa[t], wb[t]) for t in wa.keys() & wb.keys())
    return shared / min(sum(wa.values()), sum(wb.values()))
