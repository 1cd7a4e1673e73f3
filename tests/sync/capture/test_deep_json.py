"""JSON nested past what the parser takes (a hostile insights file, tool input or distilled
record) fails alone with a clear error or is read as text, never a RecursionError."""

from __future__ import annotations

from pathlib import Path

from sync.capture.calls import classify
from sync.capture.extraction.offline_decide import _options
from sync.capture.knowledge import KnowledgeSource
from sync.capture.sources.base import ToolCall

DEEP = '{"a":' * 5000 + "1" + "}" * 5000


def test_a_deep_insights_file_is_a_problem_naming_it(tmp_path: Path) -> None:
    insights = tmp_path / "insights.json"
    insights.write_text(DEEP, encoding="utf-8")
    source = KnowledgeSource()
    assert list(source.discover(insights, None)) == []
    (problem,) = source.problems
    assert problem.path == str(insights) and "not valid JSON" in problem.reason


def test_deep_tool_input_is_read_as_text() -> None:
    assert classify(ToolCall("Edit", DEEP, "ok")).kind == "edit"
    assert classify(ToolCall("cron", "{}", DEEP)).failed is False
    assert _options(ToolCall("AskUserQuestion", DEEP)) == {}
