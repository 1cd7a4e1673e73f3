"""The duplicate judge: is a memory the same fact as another, an update of it, or distinct?

`memsync add`, capture and maintain all judge through :func:`judge`. It compares what the two
memories say, not their template: the cosine of their substantive texts
(:func:`sync.lexical.substance`) moved by how far their key terms agree (error codes, paths,
identifiers, versions), and only memories of one kind merge. Two memories whose error codes
differ are never merged. A score near the merge threshold is uncertain: a :class:`Referee`
(an LM, when one is configured) rules on it. :func:`decide_dedup` turns the judgements of a
candidate's neighbours into add / update / no-op. Pure, except for the referee it is handed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from sync.hashing import normalized_text, text_fingerprint
from sync.lexical import STRONG_TERMS, key_terms, substance, term_agreement
from sync.models import Memory
from sync.ports import Encoder

# Chosen on labelled pairs of real memory shapes (scripts/eval_judge.py, docs/benchmarks.md).
DEFAULT_NOOP_THRESHOLD = 0.92  # substantive cosine at which a candidate adding nothing is dropped
DEFAULT_UPDATE_THRESHOLD = 0.78  # judge score at which two memories are one (merged)
DEFAULT_UNCERTAIN_BAND = 0.08  # |score - update threshold| below this: a referee may rule
JUDGE_FLOOR = 0.45  # index cosine below which a neighbour is not worth judging
TERM_WEIGHT = 0.4  # how far key-term agreement moves the score ...
TERM_PIVOT = 0.5  # ... around this agreement (half the smaller side's terms shared)
NO_TERMS = 0.04  # taken off when a side has no key term: no evidence beyond the wording

VERDICTS = ("same", "update", "distinct")


@dataclass(frozen=True)
class DedupThresholds:
    noop: float = DEFAULT_NOOP_THRESHOLD
    update: float = DEFAULT_UPDATE_THRESHOLD
    band: float = DEFAULT_UNCERTAIN_BAND

    def __post_init__(self) -> None:
        if not 0.0 < self.update <= 1.0 or not 0.0 < self.noop <= 1.0:
            raise ValueError(
                f"dedup thresholds need 0 < update ({self.update}) <= 1 and "
                f"0 < noop ({self.noop}) <= 1"
            )
        if not 0.0 <= self.band < 0.5:
            raise ValueError(f"dedup uncertain band {self.band}: choose 0 <= band < 0.5")


@dataclass(frozen=True)
class Judgement:
    """What the judge found comparing a candidate with one existing memory."""

    verdict: str  # same: nothing new | update: the same subject, merge | distinct
    score: float  # substantive cosine moved by key-term agreement, within [0, 1]
    similarity: float  # cosine of the substantive texts
    agreement: float | None  # share of key terms in common (None: a side has none)
    novel: tuple[str, ...] = ()  # the candidate's key terms the other lacks
    reason: str = ""
    uncertain: bool = False  # close to the threshold: a referee may rule
    referee: str | None = None  # the referee's verdict, when one ruled

    @property
    def merges(self) -> bool:
        return self.verdict != "distinct"


class Referee(Protocol):
    """Rules on an uncertain pair: "same", "update" or "distinct"; None to abstain."""

    def __call__(self, candidate: Memory, existing: Memory) -> str | None: ...


@dataclass(frozen=True)
class Neighbour:
    """An existing memory near the candidate, with the judge's view of the pair."""

    memory_id: str
    path: str
    title: str
    kind: str
    score: float  # index cosine (the full embedded text)
    fingerprint: str = ""
    judgement: Judgement | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.memory_id,
            "path": self.path,
            "title": self.title,
            "kind": self.kind,
            "score": round(self.score, 4),
        }
        if self.judgement is not None:
            out["judge"] = {
                "verdict": self.judgement.verdict,
                "score": round(self.judgement.score, 4),
                "similarity": round(self.judgement.similarity, 4),
            }
        return out


@dataclass(frozen=True)
class DedupDecision:
    action: str  # add | update | noop
    reason: str
    score: float = 0.0
    target: Neighbour | None = None


def judge_text(memory: Memory) -> str:
    """The text the judge embeds: what the memory says, without its template."""
    return substance(memory.title, memory.body)


def judge(
    candidate: Memory,
    existing: Memory,
    similarity: float,
    thresholds: DedupThresholds,
    referee: Referee | None = None,
) -> Judgement:
    """Judge ``candidate`` against ``existing``; ``similarity`` is the cosine of their
    :func:`judge_text` vectors. The referee, if any, rules only on an uncertain score."""
    similarity = min(similarity, 1.0)
    if text_fingerprint(candidate.title, candidate.body) == text_fingerprint(
        existing.title, existing.body
    ):
        return Judgement("same", 1.0, 1.0, 1.0, (), "the same text")
    terms_c = key_terms(candidate.title, candidate.body)
    terms_e = key_terms(existing.title, existing.body)
    agreement = term_agreement(terms_c, terms_e)
    moved = TERM_WEIGHT * (agreement - TERM_PIVOT) if agreement is not None else -NO_TERMS
    score = max(0.0, min(similarity + moved, 1.0))
    novel = tuple(t for t, k in terms_c.items() if t not in terms_e and k != "acronym")
    clash = _clash(terms_c, terms_e)
    same_kind = candidate.kind == existing.kind
    verdict, reason = _verdict(score, similarity, novel, same_kind, clash, thresholds)
    judged = Judgement(verdict, score, similarity, agreement, novel, reason)
    uncertain = same_kind and not clash and abs(score - thresholds.update) < thresholds.band
    if referee is None or not uncertain or verdict == "same":
        return judged
    ruling = referee(candidate, existing)
    if ruling not in VERDICTS:
        return replace(judged, uncertain=True)
    verdict = "update" if ruling == "same" and novel else str(ruling)  # keep what is new
    return replace(
        judged, verdict=verdict, uncertain=True, referee=ruling, reason=f"{reason}; LM: {ruling}"
    )


def _verdict(
    score: float,
    similarity: float,
    novel: tuple[str, ...],
    same_kind: bool,
    clash: str,
    t: DedupThresholds,
) -> tuple[str, str]:
    how = f"judge score {score:.3f} (substance cosine {similarity:.3f})"
    if similarity >= t.noop and not novel:
        return "same", f"{how}; says nothing new"
    if not same_kind:
        return "distinct", f"{how}; another kind"
    if clash:
        return "distinct", f"{how}; {clash}"
    if score >= t.update:
        return "update", f"{how} >= {t.update}: the same subject"
    return "distinct", f"{how} < {t.update}"


def _clash(terms_c: dict[str, str], terms_e: dict[str, str]) -> str:
    """Why two memories cannot be one fact, whatever their wording ("" when they can):
    disjoint error codes; or numbers changed on both sides with no strong term in common
    ("queue 17" vs "queue 18"; "pin Node 20.11, 21 broke" vs "move it to 22" still shares
    20.11)."""
    codes_c = {x for x, k in terms_c.items() if k == "code"}
    codes_e = {x for x, k in terms_e.items() if k == "code"}
    if codes_c and codes_e and not codes_c & codes_e:
        return f"other error codes ({', '.join(sorted(codes_e)[:3])})"
    numbers_c = {x for x, k in terms_c.items() if k == "number"}
    numbers_e = {x for x, k in terms_e.items() if k == "number"}
    if numbers_c - numbers_e and numbers_e - numbers_c:
        shared = [x for x in terms_c.keys() & terms_e.keys() if terms_c[x] in STRONG_TERMS]
        if not shared:
            return f"other numbers ({', '.join(sorted(numbers_e - numbers_c)[:3])})"
    return ""


class JudgeVectors:
    """Vectors of the judge's texts, each distinct text embedded once (one per run)."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self._vectors: dict[str, Sequence[float]] = {}

    def add(self, memories: Sequence[Memory]) -> None:
        """Embed, in one batch, the texts not seen yet."""
        texts = [
            t for t in dict.fromkeys(judge_text(m) for m in memories) if t not in self._vectors
        ]
        if texts:
            self._vectors.update(zip(texts, self.encoder.encode(texts), strict=True))

    def similarity(self, a: Memory, b: Memory) -> float:
        """Cosine of the two memories' judge texts (unit vectors: their dot product)."""
        self.add([a, b])
        va, vb = self._vectors[judge_text(a)], self._vectors[judge_text(b)]
        return min(float(sum(float(x) * float(y) for x, y in zip(va, vb, strict=True))), 1.0)


def decide_dedup(
    kind: str, fingerprint: str, neighbours: Sequence[Neighbour], thresholds: DedupThresholds
) -> DedupDecision:
    """No-op for an exact duplicate or a candidate that says nothing new, update (merge) into
    the best-judged memory of the same subject, add otherwise. Neighbours without a
    judgement (their file could not be read) count only by fingerprint."""
    for n in neighbours:
        if fingerprint and n.fingerprint == fingerprint:
            return DedupDecision("noop", f"exact duplicate of memory/{n.path}", 1.0, n)
    judged = sorted(
        (n for n in neighbours if n.judgement is not None),
        key=lambda n: (-n.judgement.score, -n.judgement.similarity) if n.judgement else (0, 0),
    )
    for n in judged:
        assert n.judgement is not None
        if n.judgement.verdict == "same":
            why = f"duplicate of memory/{n.path}: {n.judgement.reason}"
            return DedupDecision("noop", why, n.judgement.score, n)
    for n in judged:
        assert n.judgement is not None
        if n.judgement.verdict == "update" and n.kind == kind:
            why = f"same subject as memory/{n.path}: {n.judgement.reason}; merging"
            return DedupDecision("update", why, n.judgement.score, n)
    if not judged:
        return DedupDecision("add", "new memory (no memories yet)" if not neighbours else
                             "new memory (no neighbour could be judged)", 0.0, None)  # fmt: skip
    best = judged[0].judgement
    assert best is not None
    return DedupDecision("add", f"new memory (nearest: {best.reason})", best.score, None)


def merge_memories(existing: Memory, candidate: Memory, now: dt.datetime) -> Memory:
    """The existing memory enriched by the candidate; keeps the id, title, kind and creation."""
    body = existing.body
    if normalized_text(candidate.body) not in normalized_text(existing.body):
        stamp = now.date().isoformat()
        body = f"{existing.body.rstrip()}\n\n**Update ({stamp}):** {candidate.body.strip()}"
    sources = list(existing.extra.get("merged_sources", []))
    if candidate.source:
        sources.append(dict(candidate.source))
    extra = {**existing.extra, **({"merged_sources": sources} if sources else {})}
    return replace(
        existing,
        body=body,
        tags=tuple(dict.fromkeys((*existing.tags, *candidate.tags))),
        confidence=max(existing.confidence, candidate.confidence),
        updated=now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        extra=extra,
    )
