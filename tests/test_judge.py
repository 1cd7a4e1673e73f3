"""The duplicate judge through `memsync add` and maintain, on the shapes memsync writes, with
the real model and embedded Qdrant; the LM referee with DSPy's DummyLM."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sync.capture.add import add_memory, new_candidate
from sync.capture.extraction.dspy_judge import DspyReferee
from sync.dedup import DedupThresholds, judge
from sync.errors import ConfigError
from sync.index.engine import SyncDeps
from sync.models import Memory
from sync.store import StoreLayout

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
T = DedupThresholds()


def candidate(title: str, body: str, kind: str = "learning") -> Memory:
    return new_candidate(
        kind=kind, title=title, body=body, tags=(), confidence=0.7, source={"agent": "t"}, now=NOW
    )


def tsc_error(code: str, where: str, message: str) -> Memory:
    """A learning as the offline extractor writes it after `npx tsc` failed."""
    return candidate(
        f"Fix npx tsc: error {code}: {message}",
        f"Error: {where}(12,9): error {code}: {message}.\n"
        "Failed: `npx tsc --noEmit --skipLibCheck` (bash)\n"
        "Fixed by: `npx tsc --noEmit --skipLibCheck`\n"
        f"Changed: {where}",
    )


def test_four_typescript_errors_in_one_template_stay_four_memories(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    errors = [
        tsc_error("TS2307", "src/test.ts", "Cannot find module '@testing-library/react'"),
        tsc_error("TS2322", "src/Item.tsx", "Type 'string' is not assignable to type 'Status'"),
        tsc_error(
            "TS2345", "src/hooks.ts", "Argument of type 'Todo | undefined' is not assignable"
        ),
        tsc_error("TS7006", "src/app/page.tsx", "Parameter 'todo' implicitly has an 'any' type"),
    ]
    results = [add_memory(layout, e, make_deps(), T) for e in errors]
    assert [r["action"] for r in results] == ["add"] * 4, [r["reason"] for r in results]
    assert len(list(layout.memory_dir.rglob("*.md"))) == 4
    # the full embedded texts look alike; the judge looked past the template
    assert max(n["score"] for n in results[-1]["nearest"]) > 0.7
    assert all(n["judge"]["verdict"] == "distinct" for n in results[-1]["nearest"])


def test_a_paraphrase_merges_and_an_unrelated_learning_does_not(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    jwt = "JWT access tokens expire after 15 minutes and refresh tokens rotate"
    first = add_memory(layout, candidate(jwt, f"{jwt} on every use.", "decision"), make_deps(), T)
    same = candidate(
        "Use short-lived JWT access tokens with rotating refresh tokens",
        "Short-lived JWT access tokens; refresh tokens are rotated each time they are used.",
        "decision",
    )
    merged = add_memory(layout, same, make_deps(), T)
    assert merged["action"] in ("update", "noop") and merged["id"] == first["id"]

    dialyzer = candidate(
        "Fix mix dialyzer: The pattern can never match the type",
        "Error: lib/ledger/import.ex:41:pattern_match The pattern can never match the type.\n"
        "Failed: `mix dialyzer` (bash)\nFixed by: `mix dialyzer`\nChanged: lib/ledger/import.ex",
    )
    llmchain = candidate(
        "Fix python summarize.py: LangChainDeprecationWarning: The class LLMChain was deprecated",
        "Error: LangChainDeprecationWarning: The class `LLMChain` was deprecated in LangChain "
        "0.1.17.\nFailed: `python summarize.py` (bash)\nFixed by: `python summarize.py`\n"
        "Changed: summarize.py",
    )
    assert add_memory(layout, dialyzer, make_deps(), T)["action"] == "add"
    assert add_memory(layout, llmchain, make_deps(), T)["action"] == "add"


def test_the_lm_rules_on_an_uncertain_pair(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    from dspy.utils import DummyLM

    wide = DedupThresholds(band=0.45)  # every near pair is uncertain: the LM is asked
    first = candidate("Squash-merge feature branches", "One commit per pull request.", "decision")
    add_memory(layout, first, make_deps(), wide)
    again = candidate(
        "Main gets one commit per pull request", "Feature branches are squash-merged.", "decision"
    )
    says_distinct = DspyReferee(lambda: DummyLM([{"verdict": "distinct"}] * 3))
    kept_apart = add_memory(layout, again, make_deps(), wide, dry_run=True, referee=says_distinct)
    assert kept_apart["action"] == "add"
    ruled = [n["judge"] for n in kept_apart["nearest"] if "judge" in n]
    assert ruled and ruled[0]["verdict"] == "distinct"
    says_update = DspyReferee(lambda: DummyLM([{"verdict": "update"}] * 3))
    merged = add_memory(layout, again, make_deps(), wide, referee=says_update)
    assert merged["action"] == "update"


def test_an_unusable_or_failing_lm_abstains(capsys: Any) -> None:
    from dspy.utils import DummyLM

    a = Memory("a", "decision", "Squash-merge feature branches", "One commit per pull request.")
    b = Memory("b", "decision", "Squash when merging", "Main gets one commit per pull request.")
    garbled = DspyReferee(lambda: DummyLM([{"unrelated": "x"}] * 4))
    judged = judge(b, a, 0.84, T, garbled)
    assert judged.verdict == "update" and judged.uncertain and judged.referee is None

    def unusable_key() -> Any:
        raise ConfigError("llm: the key in OPENAI_API_KEY was rejected")

    failing = DspyReferee(unusable_key)  # the LM is built on the first question only
    assert judge(b, a, 0.84, T, failing).verdict == "update"
    assert "LM duplicate ruling failed" in capsys.readouterr().err


def test_make_referee_only_with_an_lm() -> None:
    from service.capture_wiring import make_referee
    from service.settings import Settings

    assert make_referee(Settings()) is None
    assert isinstance(make_referee(Settings(llm_model="openai/gpt-4o-mini")), DspyReferee)
