"""The duplicate judge's pure parts: what it reads of a memory, its verdicts, decide_dedup."""

from __future__ import annotations

import datetime as dt

import pytest

from sync.dedup import (
    DedupThresholds,
    Judgement,
    Neighbour,
    decide_dedup,
    judge,
    judge_text,
    merge_memories,
)
from sync.lexical import key_terms, substance, term_agreement
from sync.models import Memory

T = DedupThresholds()

# shapes memsync writes: the offline extractor's learning and decision, an agent's `add`
TS2307 = Memory(
    "l1",
    "learning",
    "Fix npx tsc: error TS2307: Cannot find module '@testing-library/react'",
    "Error: src/hooks/useTodos.test.ts(1,32): error TS2307: Cannot find module "
    "'@testing-library/react' or its corresponding type declarations.\n"
    "Failed: `npx tsc --noEmit --skipLibCheck` (bash)\n"
    "Fixed by: `npx tsc --noEmit --skipLibCheck`\n"
    "Changed: src/hooks/useTodos.test.ts",
)
TS2322 = Memory(
    "l2",
    "learning",
    "Fix npx tsc: error TS2322: Type 'string' is not assignable to type 'TodoStatus'",
    "Error: src/components/TodoItem.tsx(23,9): error TS2322: Type 'string' is not "
    "assignable to type 'TodoStatus'.\n"
    "Failed: `npx tsc --noEmit --skipLibCheck` (bash)\n"
    "Fixed by: `npx tsc --noEmit --skipLibCheck`\n"
    "Changed: src/components/TodoItem.tsx",
)
DECISION = Memory(
    "d1",
    "decision",
    "Use pnpm instead of npm for the workspace installs",
    "> Let's use pnpm instead of npm for the workspace installs, since npm keeps hoisting "
    "the wrong React version.\n\nContext: the user asked: why does storybook pick up react 17?",
)


def test_the_judged_text_leaves_the_template_out() -> None:
    text = judge_text(TS2307)
    assert text.startswith("error TS2307: Cannot find module '@testing-library/react'")
    for scaffold in ("Fix npx tsc", "Error:", "Failed:", "Fixed by", "--noEmit", "Changed"):
        assert scaffold not in text, scaffold
    decision = judge_text(DECISION)
    assert "Context" not in decision and "the user asked" not in decision
    assert "> " not in decision and "hoisting the wrong React version" in decision


def test_a_fix_that_differs_from_the_failed_command_is_kept() -> None:
    body = "Error: boom\nFailed: `cargo build` (bash)\nFixed by: `cargo add tokio && cargo build`"
    assert "cargo add tokio" in substance("Fix cargo build: boom", body)
    merged = "Keep WAL on.\n\n**Update (2026-11-20):** Checkpoint it after each sync."
    assert "**Update" not in substance("WAL", merged)


def test_key_terms_are_the_distinctive_tokens() -> None:
    terms = key_terms(TS2307.title, TS2307.body)
    assert terms["ts2307"] == "code" and terms["@testing-library/react"] == "path"
    assert "src/hooks/usetodos.test.ts" in terms
    assert not any("noemit" in t for t in terms)  # the failed command is circumstance
    terms = key_terms("Pin Node to 20.11", "Use `useSimpleTodos` in page.tsx, not 10,000 rows.")
    assert terms["20.11"] == "version" and terms["usesimpletodos"] in ("ident", "quoted")
    assert terms["page.tsx"] == "path" and terms["10000"] == "number"


def test_term_agreement_is_the_share_of_the_smaller_side() -> None:
    assert term_agreement({"a": "ident"}, {}) is None
    assert term_agreement({"a": "ident", "b": "path"}, {"a": "ident"}) == 1.0
    assert term_agreement({"a": "ident", "b": "path"}, {"a": "ident", "c": "path"}) == 0.5


def test_distinct_errors_in_one_template_are_never_merged() -> None:
    judged = judge(TS2322, TS2307, 0.99, T)  # even if the texts embedded alike
    assert judged.verdict == "distinct" and "other error codes" in judged.reason


def test_distinct_numbers_with_nothing_else_in_common_clash() -> None:
    a = Memory("a", "decision", "Use queue system number 17", "We decided on queue system 17.")
    b = Memory("b", "decision", "Use queue system number 18", "We decided on queue system 18.")
    assert judge(b, a, 0.97, T).verdict == "distinct"


def test_verdicts_follow_score_kind_and_novelty() -> None:
    a = Memory("a", "decision", "Use JWT access tokens", "Access tokens expire after 15 minutes.")
    same = Memory("b", "decision", "Short JWT access tokens", "Access tokens last 15 minutes.")
    assert judge(same, a, 0.95, T).verdict == "same"
    more = Memory("c", "decision", "JWT tokens", "Access tokens last 15 minutes; use `jose`.")
    assert judge(more, a, 0.95, T).verdict == "update"  # adds a key term: merged, not dropped
    assert judge(same, a, 0.80, T).verdict == "update"
    assert judge(same, a, 0.50, T).verdict == "distinct"  # 0.5 + 0.4 * (1.0 - 0.5) < 0.78
    other_kind = Memory("d", "learning", same.title, same.body + " More.")
    assert judge(other_kind, a, 0.85, T).verdict == "distinct"
    assert judge(a, a, 0.2, T).verdict == "same"  # the same text, whatever the vectors say


def test_a_referee_rules_only_on_the_uncertain_band() -> None:
    asked: list[str] = []

    def referee(candidate: Memory, existing: Memory) -> str | None:
        asked.append(candidate.id)
        return "distinct"

    a = Memory("a", "decision", "Squash-merge feature branches", "One commit per pull request.")
    b = Memory("b", "decision", "Squash when merging", "Main gets one commit per pull request.")
    ruled = judge(b, a, 0.84, T, referee)  # no key terms: scored 0.84 - 0.04
    assert ruled.verdict == "distinct" and ruled.uncertain and ruled.referee == "distinct"
    assert judge(b, a, 0.95, T, referee).verdict == "same"  # sure: not asked
    assert judge(b, a, 0.40, T, referee).verdict == "distinct"
    assert asked == ["b"]
    abstains = judge(b, a, 0.84, T, lambda c, e: None)
    assert abstains.verdict == "update" and abstains.referee is None


def neighbour(verdict: str, score: float, kind: str = "decision", fp: str = "x") -> Neighbour:
    j = Judgement(verdict, score, score, None, (), f"{verdict} {score}")
    return Neighbour(f"m{score}", f"decisions/m{score}.md", "T", kind, score, fp, j)


def test_decide_dedup_picks_noop_then_update_then_add() -> None:
    assert decide_dedup("decision", "fp", [], T).action == "add"
    exact = decide_dedup("decision", "fp", [neighbour("distinct", 0.2, fp="fp")], T)
    assert exact.action == "noop" and "exact duplicate" in exact.reason
    found = decide_dedup("decision", "fp", [neighbour("update", 0.9), neighbour("same", 0.95)], T)
    assert found.action == "noop" and found.target and found.target.memory_id == "m0.95"
    upd = decide_dedup("decision", "fp", [neighbour("update", 0.8), neighbour("update", 0.85)], T)
    assert upd.action == "update" and upd.target and upd.target.memory_id == "m0.85"
    assert decide_dedup("decision", "fp", [neighbour("distinct", 0.7)], T).action == "add"
    unjudged = Neighbour("m", "d/m.md", "T", "decision", 0.99, "other")
    assert decide_dedup("decision", "fp", [unjudged], T).action == "add"


def test_invalid_thresholds_are_refused() -> None:
    with pytest.raises(ValueError):
        DedupThresholds(noop=1.5)
    with pytest.raises(ValueError):
        DedupThresholds(band=0.7)


def test_merge_keeps_identity_and_adds_only_what_is_new() -> None:
    now = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    old = Memory(
        "m1",
        "decision",
        "Queue",
        "Use Postgres.",
        ("db",),
        0.6,
        {"agent": "a"},
        "2026-01-01",
        "2026-01-01",
    )
    new = Memory(
        "m9", "decision", "Queue again", "Use SKIP LOCKED.", ("queue",), 0.8, {"agent": "b"}
    )
    merged = merge_memories(old, new, now)
    assert (merged.id, merged.title, merged.created) == ("m1", "Queue", "2026-01-01")
    assert "Use Postgres." in merged.body and "Use SKIP LOCKED." in merged.body
    assert merged.tags == ("db", "queue") and merged.confidence == 0.8
    assert merged.extra["merged_sources"] == [{"agent": "b"}]
    same = merge_memories(old, Memory("m9", "decision", "Q", "use postgres"), now)
    assert same.body == "Use Postgres."
