"""Answers with citations over scripted DummyLM outputs; an optional live endpoint test."""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from sync.errors import ConfigError, PermanentError, RetryableError, UsageError
from sync.llm import LOCAL_PLACEHOLDER_KEY, LMConfig, make_lm
from sync.recall.answer import (
    DONT_KNOW,
    answer_question,
    answer_signature,
    format_memories,
    map_citations,
)

dspy = pytest.importorskip("dspy")
from dspy.utils import DummyLM  # noqa: E402

HITS: list[dict[str, Any]] = [
    {
        "id": "dec-edge",
        "path": "decisions/20261121/use-edge.md",
        "title": "Use the edge shard",
        "snippet": "We embed qdrant-edge:\n it reopens 100k points in 0.2 s.",
        "score": 0.91,
    },
    {
        "id": "lrn-litellm",
        "path": "learnings/20261120/pin-litellm.md",
        "title": "Pin litellm",
        "snippet": "Newer litellm makes pip backtrack through 850 MB.",
        "score": 0.55,
    },
    {
        "id": "ins-measure",
        "path": "insights/measure.md",
        "title": "",
        "snippet": "x" * 900,
        "score": 0.2,
    },
]


def test_citations_map_to_hit_ids_and_out_of_range_is_dropped() -> None:
    lm = DummyLM(
        [
            {
                "reasoning": "r",
                "answer": " The edge shard [1],\n pinned deps [2]. ",
                "citations": [2, 1, 9, 0, 2],
            }
        ]
    )
    out = answer_question("Which index do we embed?", HITS, lm)
    assert out["answer"] == "The edge shard [1], pinned deps [2]."
    assert out["citations"] == [
        {
            "n": 2,
            "id": "lrn-litellm",
            "path": "learnings/20261120/pin-litellm.md",
            "title": "Pin litellm",
        },
        {
            "n": 1,
            "id": "dec-edge",
            "path": "decisions/20261121/use-edge.md",
            "title": "Use the edge shard",
        },
    ]
    assert out["model"] == "dummy"
    prompt = lm.history[0]["messages"][-1]["content"]
    assert "Which index do we embed?" in prompt
    assert (
        "[1] Use the edge shard (decisions/20261121/use-edge.md): We embed qdrant-edge: it"
        in prompt
    )
    assert "[3] (untitled) (insights/measure.md): " in prompt


def test_format_and_map_are_plain_functions() -> None:
    listed = format_memories(HITS).splitlines()
    assert len(listed) == 3
    assert listed[2].endswith("x" * 499 + "…")
    assert map_citations(["[3]", "two", 3, -1], HITS) == [
        {"n": 3, "id": "ins-measure", "path": "insights/measure.md", "title": ""}
    ]


def test_no_hits_means_no_call() -> None:
    lm = DummyLM([])
    assert answer_question("anything?", [], lm) == {
        "answer": DONT_KNOW,
        "citations": [],
        "model": "dummy",
    }
    assert lm.history == []


def test_instructions_tell_the_model_to_say_it_does_not_know() -> None:
    assert DONT_KNOW in answer_signature().instructions


def test_dont_know_answer_passes_through() -> None:
    lm = DummyLM([{"reasoning": "nothing relevant", "answer": DONT_KNOW, "citations": []}])
    out = answer_question("What is the capital of France?", HITS, lm)
    assert (out["answer"], out["citations"]) == (DONT_KNOW, [])


def test_blank_question_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        answer_question("  ", HITS, DummyLM([]))


def test_unparsable_output_is_permanent() -> None:
    bad = {"reasoning": "r", "answer": "edge", "citations": "the first one"}
    with pytest.raises(PermanentError, match="could not be parsed"):
        answer_question("Which index?", HITS, DummyLM([bad, bad]))  # chat, then JSON retry


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
        ("LMServerError", RetryableError),
        ("LMAuthError", ConfigError),
    ],
)
def test_lm_errors(exc: str, expected: type[Exception]) -> None:
    from dspy.utils import exceptions

    with pytest.raises(expected, match=r"answering from memory: \[dummy\] down"):
        answer_question(
            "Which index?", HITS, FailingLM(getattr(exceptions, exc)("down", model="dummy"))
        )


class FakeOpenAI(http.server.BaseHTTPRequestHandler):
    """A loopback OpenAI-compatible chat endpoint answering in DSPy's chat format."""

    requests: ClassVar[list[tuple[str, str | None, dict[str, Any]]]] = []
    delay_s: ClassVar[float] = 0.0
    url: ClassVar[str] = ""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append((self.path, self.headers.get("Authorization"), body))
        time.sleep(self.delay_s)
        content = (
            "[[ ## reasoning ## ]]\nMemory 1 says so.\n\n[[ ## answer ## ]]\nThe edge shard.\n\n"
            "[[ ## citations ## ]]\n[1]\n\n[[ ## completed ## ]]"
        )
        message = {"role": "assistant", "content": content}
        data = json.dumps(
            {
                "id": "c1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        ).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout test)
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeOpenAI]]:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    handler = type("Handler", (FakeOpenAI,), {"requests": [], "delay_s": 0.0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler
    server.shutdown()
    server.server_close()


def test_make_lm_talks_to_a_local_endpoint_without_a_key(endpoint: Any) -> None:
    lm = make_lm(LMConfig(model="openai/tiny", api_base=endpoint.url, max_tokens=200))
    out = answer_question("Which index do we embed?", HITS, lm)
    assert out == {
        "answer": "The edge shard.",
        "citations": [
            {
                "n": 1,
                "id": "dec-edge",
                "path": "decisions/20261121/use-edge.md",
                "title": "Use the edge shard",
            }
        ],
        "model": "openai/tiny",
    }
    ((path, auth, body),) = endpoint.requests
    assert path == "/v1/chat/completions"
    assert auth == f"Bearer {LOCAL_PLACEHOLDER_KEY}"
    assert (body["model"], body["temperature"]) == ("tiny", 0.0)


def test_a_slow_endpoint_is_retryable(endpoint: Any) -> None:
    endpoint.delay_s = 1.0
    lm = make_lm(LMConfig(model="openai/tiny", api_base=endpoint.url, timeout_s=0.2, num_retries=0))
    with pytest.raises(RetryableError, match="timed out"):
        answer_question("Which index do we embed?", HITS, lm)


@pytest.mark.skipif(
    not os.environ.get("MEMSYNC_TEST_LLM_URL"), reason="MEMSYNC_TEST_LLM_URL not set"
)
def test_live_endpoint_answers() -> None:
    lm = make_lm(
        LMConfig(
            model=os.environ.get("MEMSYNC_TEST_LLM_MODEL", "openai/local"),
            api_base=os.environ["MEMSYNC_TEST_LLM_URL"],
            timeout_s=120,
        )
    )
    try:
        out = answer_question("Which vector index does memsync embed?", HITS, lm)
    except PermanentError as exc:  # a small model may not manage the format at all
        pytest.skip(f"the endpoint's model could not produce parsable output: {exc}")
    assert out["answer"]
    assert all(1 <= c["n"] <= len(HITS) for c in out["citations"])
    assert out["model"] == lm.model
