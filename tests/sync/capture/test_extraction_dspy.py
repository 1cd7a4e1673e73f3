"""DSPy extraction against scripted DummyLM answers: the digest and its windows, merge,
cleanup, failures, make_lm."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from typing import Any

import pytest

from sync.capture.digest import build_digest
from sync.capture.extraction.base import Candidate
from sync.capture.extraction.dspy_extract import DspyExtractor, salvage_items
from sync.capture.extraction.windows import (
    EXTRACTED_KINDS,
    Window,
    approx_tokens,
    digest_windows,
    merge_candidates,
    plan_windows,
    to_candidate,
)
from sync.capture.sources.base import Message, ToolCall, Transcript
from sync.errors import ConfigError, PermanentError, RetryableError
from sync.llm import LOCAL_PLACEHOLDER_KEY, LMConfig, make_lm
from tests.conftest import REPO

dspy = pytest.importorskip("dspy")
from dspy.utils import DummyLM  # noqa: E402


def transcript(n: int = 12, words: int = 40, lines: bool = True) -> Transcript:
    """``n`` alternating messages of ``words`` words; message i sits on lines 10i+1..10i+4."""
    messages = tuple(
        Message(
            role="user" if i % 2 == 0 else "assistant",
            text=f"m{i} " + " ".join(f"w{i}x{k}" for k in range(words)),
            line=10 * i + 1 if lines else None,
            end_line=10 * i + 4 if lines else None,
            tool_calls=(ToolCall(name="Bash", input="pytest -q"),) if i == 1 else (),
        )
        for i in range(n)
    )
    return Transcript(
        agent="claude", session_id="s-1", path="/t/s-1.jsonl", messages=messages, project="demo"
    )


def window_answer(cands: list[dict[str, Any]], notes: str = "did things") -> dict[str, Any]:
    return {"reasoning": "r", "candidates": cands, "notes": notes}


SUMMARY = {"reasoning": "r", "title": "Set up the index", "summary": "Chose the edge shard."}


def mem(kind: str = "decision", title: str = "Use the edge shard", **kw: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "title": title,
        "body": kw.pop("body", "We embed Qdrant edge because it reopens fast."),
        "confidence": kw.pop("confidence", 0.7),
        "tags": kw.pop("tags", ["qdrant"]),
        "evidence": kw.pop("evidence", "reopen 0.2 s"),
        **kw,
    }


# -- windows ---------------------------------------------------------------------------------


def test_plan_windows_overlaps_by_budget_and_at_least_one_message() -> None:
    assert plan_windows([100] * 10, 300, 150) == [
        range(0, 3),
        range(2, 5),
        range(4, 7),
        range(6, 9),
        range(8, 10),
    ]
    assert plan_windows([50] * 6, 200, 100) == [range(0, 4), range(2, 6)]
    # a message larger than a window gets a window of its own; the loop always advances
    assert plan_windows([50, 500, 50], 100, 20) == [range(0, 1), range(1, 2), range(2, 3)]
    assert plan_windows([], 100, 20) == []


def test_long_digest_gives_overlapping_windows_with_source_lines() -> None:
    text = build_digest(transcript(n=12, words=40)).text
    windows = digest_windows(text, window_tokens=700, overlap_tokens=250)
    assert len(windows) >= 3
    for a, b in itertools.pairwise(windows):
        assert b.first_line <= a.last_line  # overlap
        assert b.first_line > a.first_line  # progress
    assert (windows[0].first_line, windows[-1].last_line) == (1, 111)
    for w in windows:
        assert approx_tokens(w.text) <= 700
        assert w.text.startswith("# Session digest: claude s-1")  # the header leads each
    joined = "\n".join(w.text for w in windows)
    for i in range(12):  # every message is present under its own source line
        assert f"L{10 * i + 1} {'USER' if i % 2 == 0 else 'AGENT'}: m{i} " in joined
    assert "CHECK: verified: `pytest -q` passed" in windows[0].text


def test_digest_without_line_numbers_is_one_window_spanning_line_one() -> None:
    text = build_digest(transcript(n=3, words=5, lines=False)).text
    (window,) = digest_windows(text, 1500, 200)
    assert (window.first_line, window.last_line) == (1, 1)
    assert "AGENT: m1 " in window.text


def test_extractor_reads_the_digest_not_the_raw_tool_output() -> None:
    t = Transcript(
        agent="claude",
        session_id="s-2",
        path="/t/s-2.jsonl",
        messages=(
            Message(role="user", text="Why does the build fail?", line=1),
            Message(
                role="assistant",
                text="The root cause: the lockfile pins an old compiler.",
                line=2,
                tool_calls=(ToolCall("Bash", '{"command": "cat big.log"}', "x" * 50_000),),
            ),
        ),
    )
    lm = DummyLM([window_answer([], "looked"), SUMMARY])
    DspyExtractor(lm).extract(t)
    prompt = lm.history[0]["messages"][-1]["content"]
    assert "L2 AGENT: The root cause: the lockfile pins an old compiler." in prompt
    assert "x" * 100 not in prompt  # tool output bodies are not sent


# -- normalizing and merging -----------------------------------------------------------------

WINDOW = Window(index=0, first_line=10, last_line=40, text="")


def test_to_candidate_cleans_and_drops() -> None:
    c = to_candidate(mem(confidence=1.7, tags=["Qdrant Edge", "qdrant-edge", ""]), WINDOW)
    assert c is not None
    assert c.confidence == 1.0
    assert c.tags == ("qdrant-edge",)
    assert (c.line_start, c.line_end) == (10, 40)  # no lines cited: the window's span
    low = to_candidate(mem(confidence=-0.3, line_start=35, line_end=99), WINDOW)
    assert low is not None and low.confidence == 0.0
    assert (low.line_start, low.line_end) == (35, 40)  # clamped into the window
    assert to_candidate(mem(kind="opinion"), WINDOW) is None
    assert to_candidate(mem(kind="summary"), WINDOW) is None
    assert to_candidate(mem(title="   "), WINDOW) is None
    assert to_candidate(mem(body=""), WINDOW) is None


def cand(
    title: str, conf: float, tags: tuple[str, ...], span: tuple[int, int], **kw: Any
) -> Candidate:
    return Candidate(
        kind=kw.get("kind", "decision"),
        title=title,
        body=kw.get("body", f"body of {title}"),
        confidence=conf,
        tags=tags,
        line_start=span[0],
        line_end=span[1],
    )


def test_merge_is_deterministic_and_caps_by_confidence() -> None:
    cands = [
        cand("Use the edge shard", 0.6, ("qdrant",), (10, 20)),
        cand("Pin litellm", 0.9, ("deps",), (12, 14), kind="learning"),
        cand("use the EDGE shard!", 0.8, ("edge", "qdrant"), (18, 30)),
        cand("Another title", 0.5, (), (40, 41), body="body of Pin litellm", kind="learning"),
        cand("Use the edge shard", 0.5, ("x",), (1, 2), kind="insight"),  # other kind: kept
    ]
    merged = merge_candidates(cands, max_candidates=10)
    assert [c.title for c in merged] == ["use the EDGE shard!", "Pin litellm", "Use the edge shard"]
    edge = merged[0]
    assert edge.confidence == 0.8
    assert edge.tags == ("qdrant", "edge")
    assert (edge.line_start, edge.line_end) == (10, 30)
    assert (merged[1].line_start, merged[1].line_end) == (12, 41)  # merged by body
    capped = merge_candidates(cands, max_candidates=2)
    assert [c.title for c in capped] == ["use the EDGE shard!", "Pin litellm"]


# -- the extractor over DummyLM --------------------------------------------------------------


def test_duplicates_from_two_windows_merge() -> None:
    t = transcript(n=6, words=40)
    windows = digest_windows(build_digest(t).text, window_tokens=700, overlap_tokens=150)
    assert len(windows) == 2
    second = windows[1]
    lm = DummyLM(
        [
            window_answer([mem(tags=["qdrant"], line_start=1, line_end=11)], "chose edge"),
            window_answer(
                [
                    mem(
                        title="use the edge shard.",
                        confidence=0.9,
                        tags=["Edge", "qdrant"],
                        line_start=second.first_line,
                        line_end=second.last_line,
                    ),
                    mem(kind="learning", title="Pin litellm", body="Newer ones backtrack."),
                ],
                "pinned deps",
            ),
            SUMMARY,
        ]
    )
    out = DspyExtractor(lm, window_tokens=700, overlap_tokens=150).extract(t)
    assert [c.kind for c in out] == ["decision", "learning", "summary"]
    edge = out[0]
    assert edge.title == "use the edge shard."
    assert edge.confidence == 0.9
    assert edge.tags == ("qdrant", "edge")
    assert (edge.line_start, edge.line_end) == (1, second.last_line)
    summary = out[-1]
    assert (summary.title, summary.body) == ("Set up the index", "Chose the edge shard.")
    assert (summary.line_start, summary.line_end) == (1, 51)
    # the window text went to the model with its line numbers; the notes went to the summary
    assert f"L{second.last_line} " in lm.history[1]["messages"][-1]["content"]
    assert "1. chose edge\n2. pinned deps" in lm.history[2]["messages"][-1]["content"]


def test_invalid_kind_dropped_and_confidence_clamped(capsys: pytest.CaptureFixture[str]) -> None:
    t = transcript(n=2, words=5)
    bad = window_answer(
        [
            mem(kind="Decisions", confidence=3.0),
            mem(kind="opinion", title="Tabs are nicer"),
            mem(kind="learning", title="Pin litellm", body="Newer ones backtrack.", confidence=-1),
        ]
    )
    # DSPy's default ChatAdapter fails on the bad kind and retries once with JSONAdapter,
    # which reads the next scripted answer: script the same output twice.
    lm = DummyLM([bad, bad, SUMMARY])
    out = DspyExtractor(lm).extract(t)
    assert [(c.kind, c.title, c.confidence) for c in out[:-1]] == [
        ("decision", "Use the edge shard", 1.0),
        ("learning", "Pin litellm", 0.0),
    ]
    assert out[-1].kind == "summary"
    assert "kept 2 valid candidate(s)" in capsys.readouterr().err


def test_conventions_and_open_issues_come_back_as_their_own_kinds() -> None:
    rule = mem(
        kind="Conventions",
        title="Run npm run check before every commit",
        body="The user wants biome and tsgo clean, with no warnings, before each commit.",
    )
    open_issue = mem(
        kind="issue",
        title="npm run publish still fails on EditorTheme",
        body="The build reports no exported member EditorTheme; unresolved at the end.",
    )
    answer = window_answer([rule, open_issue, mem(kind="opinion")])
    lm = DummyLM([answer, answer, SUMMARY])  # the bad kind makes DSPy retry once
    out = DspyExtractor(lm).extract(transcript(n=2, words=5))
    assert [(c.kind, c.title) for c in out] == [
        ("convention", "Run npm run check before every commit"),
        ("issue", "npm run publish still fails on EditorTheme"),
        ("summary", "Set up the index"),
    ]
    # the model is told what the two kinds mean, so that it can choose them
    prompt = lm.history[0]["messages"][0]["content"]
    assert "convention" in prompt and "issue: a problem still open" in prompt


def test_json_adapter_path_salvages_valid_items() -> None:
    json_adapter = dspy.JSONAdapter()
    lm = DummyLM(
        [window_answer([mem(kind="rumor"), mem(kind="insight", title="Measure first")]), SUMMARY],
        adapter=json_adapter,
    )
    out = DspyExtractor(lm, adapter=json_adapter).extract(transcript(n=2, words=5))
    assert [(c.kind, c.title) for c in out] == [
        ("insight", "Measure first"),
        ("summary", "Set up the index"),
    ]


def test_malformed_window_is_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    t = transcript(n=6, words=40)
    no_fallback = dspy.ChatAdapter(use_json_adapter_fallback=False)
    lm = DummyLM(
        [
            {"reasoning": "r", "candidates": "no list here", "notes": "x"},
            window_answer([mem()], "chose edge"),
            SUMMARY,
        ]
    )
    out = DspyExtractor(lm, window_tokens=700, overlap_tokens=150, adapter=no_fallback).extract(t)
    assert [c.title for c in out] == ["Use the edge shard", "Set up the index"]
    assert "lines 1-31: unparsable model output" in capsys.readouterr().err


def test_every_window_malformed_is_permanent() -> None:
    lm = DummyLM([{"reasoning": "r", "candidates": "nothing", "notes": "x"}])
    extractor = DspyExtractor(lm, adapter=dspy.ChatAdapter(use_json_adapter_fallback=False))
    with pytest.raises(PermanentError, match="could not be parsed for any of 1 window"):
        extractor.extract(transcript(n=2, words=5))


def test_unparsable_summary_falls_back_to_notes() -> None:
    lm = DummyLM([window_answer([], "looked around"), {"reasoning": "r"}])
    extractor = DspyExtractor(lm, adapter=dspy.ChatAdapter(use_json_adapter_fallback=False))
    (summary,) = extractor.extract(transcript(n=2, words=5))
    assert (summary.kind, summary.title, summary.body) == (
        "summary",
        "claude session s-1",
        "looked around",
    )


def test_nothing_found_gives_a_plain_summary_without_a_second_call() -> None:
    lm = DummyLM([window_answer([], "")])
    (summary,) = DspyExtractor(lm).extract(transcript(n=2, words=5))
    assert (summary.kind, summary.title, summary.line_start, summary.line_end) == (
        "summary",
        "claude session s-1",
        1,
        11,
    )
    assert len(lm.history) == 1


def test_empty_transcript_calls_nothing() -> None:
    lm = DummyLM([])
    empty = Transcript(agent="codex", session_id="e", path="/e", messages=())
    assert DspyExtractor(lm).extract(empty) == []
    assert lm.history == []


def test_salvage_reads_both_output_formats() -> None:
    chat = '[[ ## reasoning ## ]]\nthe candidates\n\n[[ ## candidates ## ]]\n[{"kind": "x"}, 3]\n'
    assert salvage_items(chat) == [{"kind": "x"}]
    assert salvage_items('{"reasoning": "r", "candidates": [{"a": 1}]}') == [{"a": 1}]
    assert salvage_items('{"candidates": [{"a": 1}') == []
    assert salvage_items("plain text") == []


class FailingLM(DummyLM):  # type: ignore[misc]
    """Raises a given DSPy error on every call."""

    def __init__(self, exc: Exception) -> None:
        super().__init__([])
        self.exc = exc

    def forward(self, prompt: Any = None, messages: Any = None, **kwargs: Any) -> Any:
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        ("LMTimeoutError", RetryableError),
        ("LMRateLimitError", RetryableError),
        ("LMTransportError", RetryableError),
        ("LMAuthError", ConfigError),
        ("LMInvalidRequestError", PermanentError),
    ],
)
def test_lm_errors_become_memsync_errors(exc: str, expected: type[Exception]) -> None:
    from dspy.utils import exceptions

    error = getattr(exceptions, exc)("it failed", model="dummy")
    with pytest.raises(expected, match=r"/t/s-1.jsonl lines 1-11: \[dummy\] it failed"):
        DspyExtractor(FailingLM(error)).extract(transcript(n=2, words=5))


def test_modules_import_without_dspy() -> None:
    code = (
        "import sys, sync.capture.extraction.dspy_extract, sync.llm, sync.recall.answer;"
        "sys.exit('dspy' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


# -- make_lm ---------------------------------------------------------------------------------


def test_make_lm_names_the_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_lm(LMConfig(model="openai/gpt-4o-mini"))
    monkeypatch.delenv("MEMSYNC_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match="MEMSYNC_TEST_KEY"):
        make_lm(LMConfig(model="anthropic/claude-x", api_key_env="MEMSYNC_TEST_KEY"))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        make_lm(LMConfig(model="anthropic/claude-x"))


def test_make_lm_builds_the_lm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    local = make_lm(LMConfig(model="openai/smollm2", api_base="http://127.0.0.1:8080/v1"))
    assert local.model == "openai/smollm2"
    assert local.kwargs["api_key"] == LOCAL_PLACEHOLDER_KEY
    assert local.kwargs["api_base"] == "http://127.0.0.1:8080/v1"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    remote = make_lm(LMConfig(model="openai/gpt-4o-mini", max_tokens=321, timeout_s=5))
    assert remote.kwargs["api_key"] == "sk-test"
    assert (remote.kwargs["max_tokens"], remote.kwargs["timeout"]) == (321, 5)
    assert make_lm(LMConfig(model="ollama_chat/llama3")).model == "ollama_chat/llama3"


@pytest.mark.parametrize(
    "config",
    [LMConfig(model="openai/"), LMConfig(model=" "), LMConfig(model="x/y", max_tokens=0)],
)
def test_make_lm_rejects_bad_settings(config: LMConfig) -> None:
    with pytest.raises(ConfigError):
        make_lm(config)


# -- optional: a real OpenAI-compatible endpoint ---------------------------------------------


@pytest.mark.skipif(
    not os.environ.get("MEMSYNC_TEST_LLM_URL"), reason="MEMSYNC_TEST_LLM_URL not set"
)
def test_live_endpoint_extracts() -> None:
    lm = make_lm(
        LMConfig(
            model=os.environ.get("MEMSYNC_TEST_LLM_MODEL", "openai/local"),
            api_base=os.environ["MEMSYNC_TEST_LLM_URL"],
            max_tokens=1024,
            timeout_s=120,
        )
    )
    t = Transcript(
        agent="claude",
        session_id="live",
        path="/live.jsonl",
        project="memsync",
        messages=(
            Message(role="user", text="Which vector index should memsync embed?", line=1),
            Message(
                role="assistant",
                text="We decided on qdrant-edge: it reopens 100k points in 0.2 s, versus 9 s "
                "for qdrant-client local mode. Pin it to 0.9.0 since it is pre-1.0.",
                line=2,
            ),
        ),
    )
    try:
        out = DspyExtractor(lm).extract(t)
    except PermanentError as exc:  # a small model may not manage the format at all
        pytest.skip(f"the endpoint's model could not produce parsable output: {exc}")
    assert out and out[-1].kind == "summary"
    assert all(c.kind in EXTRACTED_KINDS for c in out[:-1])
    assert all(1 <= (c.line_start or 0) <= (c.line_end or 0) <= 2 for c in out)
