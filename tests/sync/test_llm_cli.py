"""The coding agents' CLIs as language models (`cli:claude`, `cli:codex`), against stub
executables that speak the documented output formats: `claude -p --output-format json` prints
one result object, `codex exec --json` prints JSONL events. Plus OpenAI-compatible URLs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from sync.capture.extraction.dspy_extract import DspyExtractor
from sync.capture.sources.base import Message, ToolCall, Transcript
from sync.errors import ConfigError, PermanentError, RetryableError
from sync.llm import (
    CLI_ENV_MARK,
    CliFailure,
    LMConfig,
    make_lm,
    parse_claude_output,
    parse_codex_output,
    render_prompt,
    validate,
)

pytest.importorskip("dspy")

CANDIDATES = [
    {
        "kind": "learning",
        "title": "Build with the lockfile's compiler",
        "body": "The build failed: the lockfile pins an old compiler; upgrading it fixed it.",
        "confidence": 0.8,
        "tags": ["build"],
        "evidence": "root cause: the lockfile pins an old compiler",
        "line_start": 2,
        "line_end": 2,
    }
]
# What DSPy's ChatAdapter expects back, for the extraction and for the summary signature.
EXTRACT_ANSWER = (
    "[[ ## reasoning ## ]]\nThe agent found a root cause.\n\n"
    f"[[ ## candidates ## ]]\n{json.dumps(CANDIDATES)}\n\n"
    "[[ ## notes ## ]]\nFixed the build by upgrading the compiler.\n\n[[ ## completed ## ]]"
)
SUMMARY_ANSWER = (
    "[[ ## reasoning ## ]]\nOne fix.\n\n[[ ## title ## ]]\nFix the build\n\n"
    "[[ ## summary ## ]]\nThe build failed on an old compiler; it was upgraded.\n\n"
    "[[ ## completed ## ]]"
)

STUB = r"""#!{python}
import json, os, sys, time
prompt = sys.stdin.read()
log = os.environ.get("STUB_LOG")
if log:
    with open(log, "a") as fh:
        fh.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd(), "prompt": prompt,
                              "mark": os.environ.get("{mark}")}}) + "\n")
mode = os.environ.get("STUB_MODE", "ok")
if mode == "sleep":
    time.sleep(10)
if mode == "crash":
    print("fatal: something broke", file=sys.stderr)
    sys.exit(3)
if mode == "garbage":
    print("Welcome to the CLI!")
    sys.exit(0)
answer = {extract!r} if "transcript_window ##" in prompt else {summary!r}
{body}
"""
CLAUDE_BODY = r"""
if mode == "auth":
    print(json.dumps({"type": "result", "subtype": "success", "is_error": True,
                      "result": "Invalid API key · Please run /login"}))
elif mode == "rate":
    print(json.dumps({"type": "result", "subtype": "success", "is_error": True,
                      "result": "API Error: 429 rate_limit_error"}))
else:
    print("warning: a newer version is available")  # chatter before the JSON is tolerated
    print(json.dumps({"type": "result", "subtype": "success", "is_error": False,
                      "duration_ms": 12, "num_turns": 1, "result": answer,
                      "session_id": "s", "total_cost_usd": 0.0, "usage": {}}))
"""
CODEX_BODY = r"""
events = [{"type": "thread.started", "thread_id": "t1"}, {"type": "turn.started"}]
if mode == "auth":
    events.append({"type": "turn.failed", "error": {"message": "401 Unauthorized: please log in"}})
else:
    events += [
        {"type": "item.completed", "item": {"id": "i0", "type": "reasoning", "text": "thinking"}},
        {"type": "item.completed", "item": {"id": "i1", "type": "agent_message", "text": answer}},
        {"type": "turn.completed", "usage": {"input_tokens": 1, "output_tokens": 1}},
    ]
for event in events:
    print(json.dumps(event))
"""


def stub(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(
        STUB.format(
            python=sys.executable,
            mark=CLI_ENV_MARK,
            extract=EXTRACT_ANSWER,
            summary=SUMMARY_ANSWER,
            body=body,
        ),
        encoding="utf-8",
    )
    path.chmod(0o755)
    return path


def transcript() -> Transcript:
    return Transcript(
        agent="claude",
        session_id="s-9",
        path="/t/s-9.jsonl",
        messages=(
            Message(role="user", text="Why does the build fail?", line=1),
            Message(
                role="assistant",
                text="The root cause: the lockfile pins an old compiler. Fixed by upgrading it.",
                line=2,
                tool_calls=(ToolCall("Bash", '{"command": "cat build.log"}', "noise " * 2000),),
            ),
        ),
        project="demo",
    )


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "calls.jsonl"
    monkeypatch.setenv("STUB_LOG", str(path))
    monkeypatch.delenv("STUB_MODE", raising=False)
    return path


def calls(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.parametrize(
    ("model", "name", "body", "argv"),
    [
        (
            "cli:claude",
            "claude",
            CLAUDE_BODY,
            ["-p", "--output-format", "json", "--max-turns", "1"],
        ),
        (
            "cli:codex",
            "codex",
            CODEX_BODY,
            ["exec", "--json", "--sandbox", "read-only", "--skip-git-repo-check", "-"],
        ),
    ],
)
def test_extraction_through_the_cli_reads_the_digest(
    tmp_path: Path, log: Path, model: str, name: str, body: str, argv: list[str]
) -> None:
    lm = make_lm(LMConfig(model, command=str(stub(tmp_path, name, body)), num_retries=0))
    out = DspyExtractor(lm).extract(transcript())
    assert [(c.kind, c.title) for c in out] == [
        ("learning", "Build with the lockfile's compiler"),
        ("summary", "Fix the build"),
    ]
    assert (out[0].line_start, out[0].line_end) == (2, 2)
    first, second = calls(log)
    assert first["argv"] == argv and second["argv"] == argv
    assert first["mark"] == "1"  # hooks can tell memsync's own calls
    assert Path(str(first["cwd"])).name.startswith("memsync-lm-")  # never the project
    prompt = str(first["prompt"])
    assert "L2 AGENT: The root cause: the lockfile pins an old compiler." in prompt
    assert "noise noise" not in prompt  # the digest, not the raw tool output


@pytest.mark.parametrize(
    ("mode", "error", "message"),
    [
        ("auth", ConfigError, "Invalid API key"),
        ("rate", RetryableError, "429"),
        ("crash", RetryableError, "exited 3: fatal: something broke"),
        ("garbage", PermanentError, "claude printed no JSON result"),
    ],
)
def test_claude_failures_become_memsync_errors(
    tmp_path: Path,
    log: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    error: type[Exception],
    message: str,
) -> None:
    monkeypatch.setenv("STUB_MODE", mode)
    lm = make_lm(
        LMConfig("cli:claude", command=str(stub(tmp_path, "claude", CLAUDE_BODY)), num_retries=0)
    )
    with pytest.raises(error, match=message):
        DspyExtractor(lm).extract(transcript())


def test_codex_failure_and_timeout_and_missing_executable(
    tmp_path: Path, log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codex = str(stub(tmp_path, "codex", CODEX_BODY))
    monkeypatch.setenv("STUB_MODE", "auth")
    with pytest.raises(ConfigError, match="401 Unauthorized"):
        DspyExtractor(make_lm(LMConfig("cli:codex", command=codex, num_retries=0))).extract(
            transcript()
        )
    monkeypatch.setenv("STUB_MODE", "sleep")
    slow = make_lm(LMConfig("cli:codex", command=codex, num_retries=0, timeout_s=1))
    with pytest.raises(RetryableError, match="did not answer within 1 s"):
        DspyExtractor(slow).extract(transcript())
    missing = make_lm(LMConfig("cli:claude", command=str(tmp_path / "nope"), num_retries=0))
    with pytest.raises(ConfigError, match="was not found: install it, or set \\[llm\\] command"):
        DspyExtractor(missing).extract(transcript())


def test_parse_claude_output_formats() -> None:
    result = {"type": "result", "subtype": "success", "is_error": False, "result": "hi"}
    assert parse_claude_output(json.dumps(result)) == "hi"
    stream = "\n".join(json.dumps(r) for r in ({"type": "system"}, {"type": "assistant"}, result))
    assert parse_claude_output(stream) == "hi"  # stream-json: the last line is the result
    assert parse_claude_output(json.dumps([{"type": "system"}, result])) == "hi"  # older array
    with pytest.raises(CliFailure, match="error_max_turns") as info:
        parse_claude_output(json.dumps({"type": "result", "subtype": "error_max_turns"}))
    assert info.value.kind == "server"
    with pytest.raises(CliFailure) as info:
        parse_claude_output("")
    assert info.value.kind == "output"


def test_parse_codex_output_formats() -> None:
    events = [
        {"type": "item.completed", "item": {"type": "agent_message", "text": "first"}},
        {"type": "item.completed", "item": {"item_type": "assistant_message", "text": "last"}},
    ]
    assert parse_codex_output("\n".join(json.dumps(e) for e in events)) == "last"
    legacy = [{"id": "0", "msg": {"type": "agent_message", "message": "old format"}}]
    assert parse_codex_output(json.dumps(legacy[0])) == "old format"
    done = {"msg": {"type": "task_complete", "last_agent_message": "final"}}
    assert parse_codex_output(json.dumps(done)) == "final"
    with pytest.raises(CliFailure) as info:
        parse_codex_output(json.dumps({"type": "error", "message": "rate limit reached"}))
    assert info.value.kind == "rate"
    with pytest.raises(CliFailure, match="no agent message"):
        parse_codex_output('{"type": "turn.completed"}')


def test_render_prompt_keeps_roles_in_order() -> None:
    text = render_prompt("Be brief.", [("user", "one"), ("assistant", "two"), ("user", " ")])
    assert text == "Be brief.\n\n## user\n\none\n\n## assistant\n\ntwo\n"


def test_model_names_and_openai_compatible_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    local = LMConfig("llama3.1", api_base="http://127.0.0.1:11434/v1")
    assert local.litellm_model == "openai/llama3.1"
    lm = make_lm(local)  # a local server needs no key
    assert lm.model == "openai/llama3.1"
    with pytest.raises(ConfigError, match="not '<provider>/<model>'"):
        validate(LMConfig("llama3.1"))
    with pytest.raises(ConfigError, match="cli:claude, cli:codex"):
        validate(LMConfig("cli:gemini"))
    assert os.environ.get("OPENAI_API_KEY") is None  # nothing was set for the user
