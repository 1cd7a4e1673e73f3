"""The language model behind DSPy extraction and answers: its settings, and its failures.

The composition root builds an ``LMConfig`` from settings and calls ``make_lm``; nothing here
reads a settings file. DSPy is imported only inside functions. ``lm_failure`` turns DSPy's
exceptions into memsync's tree so that callers see RetryableError / PermanentError /
ConfigError with one clear line, never a provider traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING
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


@dataclass(frozen=True)
class LMConfig:
    """Which model to call and how; ``api_key_env`` names the variable holding the key."""

    model: str  # LiteLLM form "<provider>/<model>", e.g. "openai/gpt-4o-mini"
    api_base: str | None = None  # an OpenAI-compatible endpoint, e.g. "http://127.0.0.1:8080/v1"
    api_key_env: str | None = None  # default: the provider's usual variable (OPENAI_API_KEY…)
    temperature: float = 0.0
    max_tokens: int = 1024
    timeout_s: float = 60.0
    num_retries: int = 2  # DSPy's own backoff for transient failures, per call

    @property
    def provider(self) -> str:
        """The LiteLLM provider prefix; a bare model name means OpenAI."""
        return self.model.split("/", 1)[0] if "/" in self.model else "openai"

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
    if not model or model.endswith("/"):
        raise ConfigError(f"LM model {config.model!r} is not '<provider>/<model>'")
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
            config.model.strip(),
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
