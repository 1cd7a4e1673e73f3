"""Lexical side of hybrid search: text -> sparse BM25 term weights, and the fusion of a
cosine with a BM25 score into one relevance.

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
