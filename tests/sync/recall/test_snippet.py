"""Ask's snippets and score: pure functions, no model."""

from __future__ import annotations

from sync.lexical import relevance
from sync.models import kind_problem
from sync.recall.snippet import snippet

SUMMARY = """## Topics
- Fix the flaky test in the queue worker
- Add retries to the job runner

## Files touched
- src/queue/worker.py (edited)
- tests/test_worker.py (edited)
"""


def test_snippet_keeps_the_matching_lines_under_their_headings() -> None:
    text = snippet(SUMMARY, "why was the worker test flaky?", "Session: queue fixes")
    assert text.splitlines() == [
        "## Topics",
        "- Fix the flaky test in the queue worker",
        "## Files touched",
        "- tests/test_worker.py (edited)",
    ]


def test_snippet_without_a_match_opens_the_memory_and_drops_a_repeated_title() -> None:
    body = "# Use PostgreSQL\n\nSKIP LOCKED gives a transactional queue.\nNo Redis to run."
    assert snippet(body, "kubernetes", "Use PostgreSQL") == (
        "SKIP LOCKED gives a transactional queue.\nNo Redis to run."
    )
    assert snippet("", "anything") == ""


def test_relevance_is_the_cosine_raised_by_term_matches() -> None:
    assert relevance(0.5, 0.0) == 0.5
    assert 0.5 < relevance(0.5, 10.0) < relevance(0.5, 40.0) < 0.5 + 0.4 * 0.5
    assert relevance(0.9, 1e9) <= 1.0
    assert relevance(1.2, 0.0) == 1.0  # float noise above 1 is clamped


def test_kind_problem_names_the_closest_kind_and_the_choices() -> None:
    assert kind_problem("decision") is None and kind_problem("runbook", ["runbook"]) is None
    typo = kind_problem("decison")
    assert typo is not None and "did you mean 'decision'?" in typo and "convention" in typo
    plural = kind_problem("learnings")
    assert plural is not None and "did you mean 'learning'?" in plural
