"""The language model behind DSPy extraction and answers: its settings, and its failures.

The composition root builds an ``LMConfig`` from settings and calls ``make_lm``; nothing here
reads a settings file. DSPy is imported only inside functions. ``lm_failure`` turns DSPy's
exceptions into memsync's tree so that callers see RetryableError / PermanentError /
ConfigError with one clear line, never a provider traceback.

Models: a LiteLLM name (``openai/gpt-4o-mini``), any OpenAI-compatible server (a bare model
name with ``api_base``: Ollama, llama.cpp, LM Studio, vLLM), or a coding agent's own CLI in
headless mode, which needs no key handling by memsync: ``cli:claude`` runs
``claude -p --output-format json`` and ``cli:codex`` runs ``codex exec --json`` (read-only
sandbox), the prompt on stdin, in an empty folder. Their output is parsed tolerantly
(``parse_claude_output``, ``parse_codex_output``); a missing executable, a login problem, a
rate limit or a timeout become the same errors as a provider's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sync.errors import ConfigError, MemsyncError, PermanentError, RetryableError

if TYPE_CHECKING:
    import dspy

# The variable LiteLLM reads for each provider prefix of ``model`` ("openai/gpt-4o-mini").
KEY_ENV_BY_PROVIDER = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "fireworks_ai": "FIREWORKS_AI_API_KEY",
    "xai": "XAI_API_KEY",
    "cohere": "COHERE_API_KEY",
}
# Providers that run on this machine and take no key.
KEYLESS_PROVIDERS = frozenset({"ollama", "ollama_chat", "lm_studio", "hosted_vllm", "llamafile"})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
# DSPy refuses an OpenAI-compatible call without some key, even to a local server.
LOCAL_PLACEHOLDER_KEY = "not-needed"


CLI_MODELS = {
    "cli:claude": ("claude", ("-p", "--output-format", "json", "--max-turns", "1")),
    "cli:codex": (
        "codex",
        ("exec", "--json", "--sandbox", "read-only", "--skip-git-repo-check", "-"),
    ),
}
CLI_ENV_MARK = "MEMSYNC_LM_SUBPROCESS"  # set for the CLI: hooks can tell memsync's own calls


@dataclass(frozen=True)
class LMConfig:
    """Which model to call and how; ``api_key_env`` names the variable holding the key."""

    model: str  # "<provider>/<model>", a bare name served at api_base, or "cli:claude|codex"
    api_base: str | None = None  # an OpenAI-compatible endpoint, e.g. "http://127.0.0.1:8080/v1"
    api_key_env: str | None = None  # default: the provider's usual variable (OPENAI_API_KEY…)
    temperature: float = 0.0
    max_tokens: int = 2048
    timeout_s: float = 60.0
    num_retries: int = 2  # DSPy's own backoff for transient failures, per call
    command: str | None = None  # the CLI's executable for cli:* models (default: on PATH)

    @property
    def provider(self) -> str:
        """The LiteLLM provider prefix; a bare model name means OpenAI(-compatible)."""
        return self.model.split("/", 1)[0] if "/" in self.model else "openai"

    @property
    def litellm_model(self) -> str:
        """The name LiteLLM gets: a bare name at an ``api_base`` is an OpenAI-compatible one."""
        model = self.model.strip()
        return f"openai/{model}" if "/" not in model and self.api_base else model

    @property
    def key_env(self) -> str | None:
        """The environment variable the key is read from, if this provider uses one."""
        return self.api_key_env or KEY_ENV_BY_PROVIDER.get(self.provider)


def is_local(api_base: str | None) -> bool:
    """True when the endpoint is on this machine (such servers need no key)."""
    if not api_base:
        return False
    host = (urlsplit(api_base).hostname or "").lower()
    return host in LOCAL_HOSTS or host.startswith("127.") or host.endswith(".localhost")


def resolve_api_key(config: LMConfig) -> str | None:
    """The key to pass, a placeholder for a local server, or None to let LiteLLM look."""
    env = config.key_env
    key = os.environ.get(env, "").strip() if env else ""
    if key:
        return key
    if is_local(config.api_base):
        return LOCAL_PLACEHOLDER_KEY
    if config.provider in KEYLESS_PROVIDERS:
        return None
    if env:
        raise ConfigError(
            f"the language model {config.model!r} needs an API key: set the environment "
            f"variable {env} (or set api_key_env to the variable that holds it, or point "
            "api_base at a local server)"
        )
    return None  # an unknown provider: LiteLLM finds (or misses) its credentials itself


def validate(config: LMConfig) -> None:
    """Fail fast on settings no call could succeed with."""
    model = config.model.strip()
    if model.startswith("cli:"):
        if model not in CLI_MODELS:
            raise ConfigError(f"LM model {model!r}: the CLIs are {', '.join(CLI_MODELS)}")
    elif not model or model.endswith("/") or ("/" not in model and not config.api_base):
        raise ConfigError(
            f"LM model {config.model!r} is not '<provider>/<model>' (or a model name served "
            "at api_base, or cli:claude / cli:codex)"
        )
    if config.temperature < 0:
        raise ConfigError(f"LM temperature must be >= 0, got {config.temperature}")
    if config.max_tokens <= 0:
        raise ConfigError(f"LM max_tokens must be > 0, got {config.max_tokens}")
    if config.timeout_s <= 0:
        raise ConfigError(f"LM timeout_s must be > 0, got {config.timeout_s}")
    if config.num_retries < 0:
        raise ConfigError(f"LM num_retries must be >= 0, got {config.num_retries}")


def make_lm(config: LMConfig) -> dspy.LM:
    """A ``dspy.LM`` for ``config``; ConfigError names the missing key variable.

    Responses are not cached on disk (``cache=False``): a dry run must write nothing. DSPy
    would fetch LiteLLM's model price map from GitHub on first call; unless the user set
    ``LITELLM_LOCAL_MODEL_COST_MAP`` we use the bundled copy, so a local model stays offline.
    """
    validate(config)
    if config.model.strip() in CLI_MODELS:
        return make_cli_lm(config)
    key = resolve_api_key(config)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import dspy
    from dspy.utils.exceptions import LMConfigurationError

    kwargs: dict[str, object] = {"timeout": config.timeout_s}
    if config.api_base:
        kwargs["api_base"] = config.api_base
    if key is not None:
        kwargs["api_key"] = key
    try:
        return dspy.LM(
            config.litellm_model,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            cache=False,
            num_retries=config.num_retries,
            **kwargs,
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"LM {config.model!r}: {exc}") from None
    except LMConfigurationError as exc:
        raise ConfigError(f"LM {config.model!r}: {_first_line(exc)}") from None


def model_name(lm: object) -> str:
    """The model identifier of a DSPy LM (``"dummy"`` for DummyLM)."""
    return str(getattr(lm, "model", type(lm).__name__))


def lm_failure(exc: Exception, what: str) -> MemsyncError:
    """memsync's error for a DSPy failure while doing ``what`` (one line, no traceback).

    Rate limits, timeouts, server and transport errors are retryable; a missing or rejected
    key is a ConfigError (every item would fail the same way); unparsable output, an
    oversized prompt and other rejected requests are permanent for the same input.
    """
    from dspy.utils import exceptions as ex

    message = f"{what}: {_first_line(exc)}"
    if isinstance(exc, ex.AdapterParseError):
        return PermanentError(f"{what}: the model's output could not be parsed")
    if isinstance(exc, ex.LMAuthError | ex.LMConfigurationError):
        return ConfigError(f"{message} (check the LM model, api_base and API key settings)")
    if isinstance(exc, ex.ContextWindowExceededError):
        return PermanentError(f"{message} (lower the extraction window size)")
    if ex.is_retryable_lm_error(exc) or isinstance(exc, ex.LMUnexpectedError):
        return RetryableError(message)
    return PermanentError(message)


def _first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message, bounded (provider errors can be pages)."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


# -- the coding agents' CLIs as language models ------------------------------------------------


class CliFailure(Exception):
    """A CLI call that failed; ``kind`` is auth | rate | timeout | missing | output | server."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


_AUTH = re.compile(
    r"log ?in|authenticat|api key|unauthori[sz]ed|\b40[13]\b|credit balance|subscription", re.I
)
_RATE = re.compile(r"rate.?limit|\b429\b|usage limit|overloaded|quota|too many requests", re.I)


def _failure(message: str) -> CliFailure:
    """The kind of a failure the CLI reported in words."""
    text = " ".join(message.split())[:500] or "failed without a message"
    kind = "auth" if _AUTH.search(text) else "rate" if _RATE.search(text) else "server"
    return CliFailure(kind, text)


def _json_lines(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects of ``stdout``: one per line, or one document (an object or a list)."""
    found: list[dict[str, Any]] = []
    for text in [stdout, *stdout.splitlines()]:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        items = value if isinstance(value, list) else [value]
        found += [v for v in items if isinstance(v, dict)]
        if text is stdout and found:
            return found
    return found


def parse_claude_output(stdout: str) -> str:
    """The answer of ``claude -p --output-format json`` (one result object; a stream-json
    transcript or a JSON array of messages also work): ``result`` unless ``is_error``."""
    records = _json_lines(stdout)
    results = [r for r in records if r.get("type") == "result" or "result" in r]
    if not results:
        first = stdout.strip().splitlines()[0][:200] if stdout.strip() else "nothing"
        raise CliFailure("output", f"claude printed no JSON result (it printed: {first})")
    final = results[-1]
    subtype = str(final.get("subtype") or "")
    if final.get("is_error") is True or subtype.startswith("error"):
        raise _failure(str(final.get("result") or final.get("error") or subtype))
    return str(final.get("result") or "")


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_codex_output(stdout: str) -> str:
    """The last agent message of ``codex exec --json`` (``item.completed`` events; the older
    ``{"msg": {...}}`` events too); ``turn.failed`` / ``error`` events raise."""
    answer = ""
    for event in _json_lines(stdout):
        kind = event.get("type")
        legacy, item, error = (_object(event.get(k)) for k in ("msg", "item", "error"))
        if kind in ("turn.failed", "error") or legacy.get("type") in ("error", "stream_error"):
            raise _failure(
                str(error.get("message") or event.get("message") or legacy.get("message") or "")
            )
        if kind == "item.completed" and item.get("type", item.get("item_type")) in (
            "agent_message",
            "assistant_message",
        ):
            answer = str(item.get("text") or "")
        elif legacy.get("type") == "agent_message":
            answer = str(legacy.get("message") or "")
        elif legacy.get("type") == "task_complete" and legacy.get("last_agent_message"):
            answer = str(legacy["last_agent_message"])
    if not answer:
        raise CliFailure("output", "codex printed no agent message (is this `codex exec --json`?)")
    return answer


def render_prompt(system: str, messages: list[tuple[str, str]]) -> str:
    """A chat request as one prompt: the instructions, then each turn under its role."""
    parts = [system.strip()] if system.strip() else []
    parts += [f"## {role}\n\n{text.strip()}" for role, text in messages if text.strip()]
    return "\n\n".join(parts) + "\n"


def run_cli(config: LMConfig, prompt: str) -> str:
    """Run the configured CLI on ``prompt`` (stdin) in an empty folder; its answer, or
    CliFailure."""
    name, args = CLI_MODELS[config.model.strip()]
    executable = config.command or shutil.which(name) or name
    env = {**os.environ, CLI_ENV_MARK: "1"}
    with tempfile.TemporaryDirectory(prefix="memsync-lm-") as folder:
        try:
            done = subprocess.run(
                [executable, *args],
                input=prompt,
                capture_output=True,
                text=True,
                timeout=config.timeout_s,
                cwd=folder,
                env=env,
            )
        except FileNotFoundError:
            raise CliFailure(
                "missing",
                f"{executable!r} was not found: install it, or set [llm] command to its path",
            ) from None
        except subprocess.TimeoutExpired:
            raise CliFailure(
                "timeout", f"{name} did not answer within {config.timeout_s:g} s"
            ) from None
        except OSError as exc:
            raise CliFailure("missing", f"{executable!r} cannot run: {exc}") from None
    parse = parse_claude_output if name == "claude" else parse_codex_output
    try:
        return parse(done.stdout)
    except CliFailure as exc:
        if done.returncode == 0 or exc.kind != "output":
            raise
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise _failure(f"{name} exited {done.returncode}: {' '.join(tail)}") from None


def make_cli_lm(config: LMConfig) -> dspy.LM:
    """A ``dspy.LM`` whose engine runs the coding agent's CLI (no cache, no key)."""
    import dspy
    from dspy import lm15

    errors = {
        "auth": lm15.AuthError,
        "rate": lm15.RateLimitError,
        "timeout": lm15.TimeoutError,
        "missing": lm15.ConfigurationError,
        "output": lm15.InvalidRequestError,
        "server": lm15.ServerError,
    }

    class CliEngine:
        """One request → one CLI run (DSPy owns retries)."""

        def complete(self, request: Any) -> Any:
            system = (
                request.system
                if isinstance(request.system, str)
                else "".join(str(getattr(p, "text", "")) for p in request.system or ())
            )
            turns = [(str(m.role), str(m.text or "")) for m in request.messages]
            try:
                text = run_cli(config, render_prompt(system or "", turns))
            except CliFailure as exc:
                raise errors[exc.kind](str(exc), provider=config.model) from None
            return lm15.Response(
                id=None,
                model=config.model,
                message=lm15.Message.assistant([lm15.TextPart(text)]),
                finish_reason="stop",
                usage=lm15.Usage(input_tokens=0, output_tokens=0, total_tokens=0),
            )

        def stream(self, request: Any) -> Any:
            return lm15.response_to_events(self.complete(request))

        def close(self) -> None:
            pass

    return dspy.LM(
        config.model.replace(":", "/"),
        engine=CliEngine(),
        cache=False,
        num_retries=config.num_retries,
    )
