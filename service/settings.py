"""Settings: the one place configuration is read (defaults < global < project < env)."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sync.dedup import (
    DEFAULT_NOOP_THRESHOLD,
    DEFAULT_UNCERTAIN_BAND,
    DEFAULT_UPDATE_THRESHOLD,
)
from sync.errors import ConfigError
from sync.models import KIND_RE, KINDS
from sync.recall.scoring import DEFAULT_KIND_WEIGHTS, DEFAULT_MIN_SCORE
from sync.store import DEFAULT_MAX_FILE_BYTES, STORE_DIRNAME, StoreLayout, find_store


@dataclass(frozen=True)
class Settings:
    model: str = "all-MiniLM-L6-v2"
    # which runtime encodes: auto (ONNX Runtime, torch when the graph cannot be had), onnx, torch
    model_backend: str = "auto"
    model_cache_dir: str = ""  # the exported ONNX graphs (default: inside the environment)
    batch_size: int = 64
    collection: str = "memsync"
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    qdrant_url: str = ""
    qdrant_api_key: str = ""
    qdrant_mode: str = "edge"  # edge | local | memory; ignored when qdrant_url is set
    qdrant_timeout_s: float = 10.0
    retry_max_attempts: int = 5
    retry_base_delay_s: float = 60.0
    retry_max_delay_s: float = 6 * 3600.0
    dedup_noop_threshold: float = DEFAULT_NOOP_THRESHOLD
    dedup_update_threshold: float = DEFAULT_UPDATE_THRESHOLD
    dedup_uncertain_band: float = DEFAULT_UNCERTAIN_BAND  # an LM (if set) rules within it
    dedup_neighbours: int = 5
    service_host: str = "127.0.0.1"
    service_port: int = 8765
    service_sync_interval_min: float = 10.0  # background sync; 0 turns it off
    # capture: where each agent keeps its sessions (empty: the platform's default places)
    sources_agents: tuple[str, ...] = ("claude", "codex", "cursor", "opencode", "openclaw")
    sources_claude: tuple[str, ...] = ()
    sources_codex: tuple[str, ...] = ()
    sources_cursor: tuple[str, ...] = ()
    sources_opencode: tuple[str, ...] = ()
    sources_openclaw: tuple[str, ...] = ()
    sources_insights: str = ""  # default: <project>/insights.json
    sources_campaigns: str = ""  # default: <project>/campaigns/
    sources_window: str = "30d"  # sessions changed within this window (7d, 24h, all)
    sources_projects: str = "auto"  # auto: a project store takes its own sessions, ~/.memsync all
    digest_budget: int = 6000  # tokens of a session digest (`memsync digest`, LM extraction)
    # a language model for extraction and answers (DSPy); empty = offline extraction only
    llm_model: str = ""  # e.g. "openai/gpt-4o-mini"
    llm_api_base: str = ""  # an OpenAI-compatible endpoint
    llm_api_key_env: str = ""  # the variable holding the key (default per provider)
    llm_timeout_s: float = 60.0  # cli:* models get 300 unless it is set
    llm_command: str = ""  # the executable for cli:claude / cli:codex (default: on PATH)
    # maintenance: merge near-duplicates, archive what decayed (never deletes)
    maintain_duplicate_threshold: float = DEFAULT_UPDATE_THRESHOLD  # the judge's merge score
    maintain_decay_period_days: float = 180.0
    maintain_confidence_floor: float = 0.1
    maintain_archive_threshold: float = 0.2
    maintain_grace_period_days: float = 30.0
    maintain_interval_min: float = 60.0  # the service's schedule; 0 turns it off
    # `memsync audit`: detection and the limits that make it exit 5 (for CI)
    audit_near_threshold: float = 0.92
    audit_min_words: int = 8
    audit_min_summary_words: int = 25
    audit_max_exact_duplicate_rate: float = 0.05
    audit_max_near_duplicate_rate: float = 0.10
    audit_max_low_information: int = 10
    audit_max_noise_rate: float = 0.2
    audit_max_secrets: int = 0
    audit_max_index_drift: int = 0
    audit_max_dead_letters: int = 0
    audit_max_stale_rate: float = 0.5
    audit_max_unreadable: int = 0
    daily_timezone: str = ""  # IANA zone the daily logs' days are cut in (default: the system's)
    # `memsync ask`: the relevance floor (0 shows everything) and the weight of each kind
    ask_min_score: float = DEFAULT_MIN_SCORE
    ask_kind_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_KIND_WEIGHTS)
    )
    kinds_custom: tuple[str, ...] = ()  # memory kinds beyond the built-in ones
    # the agents' hooks: the brief at session start, the memories recalled for a prompt
    hooks_brief_tokens: int = 1500
    hooks_prompt_tokens: int = 800
    hooks_prompt_k: int = 5


# config.toml spells settings as sections: [qdrant] url = ... -> qdrant_url
_SECTIONS = (
    "qdrant", "retry", "dedup", "service", "sources", "digest", "llm", "maintain", "daily", "audit",
    "ask", "kinds", "hooks",
)  # fmt: skip
# [model] name = ... is `model`; its other keys are model_<key>
_MODEL_SECTION = {"name": "model", "backend": "model_backend", "cache_dir": "model_cache_dir"}
BACKENDS = ("auto", "onnx", "torch")
_ENV = {
    "MEMSYNC_MODEL": "model",
    "MEMSYNC_MODEL_BACKEND": "model_backend",
    "MEMSYNC_MODEL_CACHE": "model_cache_dir",
    "MEMSYNC_BATCH_SIZE": "batch_size",
    "MEMSYNC_COLLECTION": "collection",
    "MEMSYNC_QDRANT_URL": "qdrant_url",
    "MEMSYNC_QDRANT_API_KEY": "qdrant_api_key",
    "MEMSYNC_QDRANT_MODE": "qdrant_mode",
    "MEMSYNC_LLM_MODEL": "llm_model",
    "MEMSYNC_LLM_API_BASE": "llm_api_base",
    "MEMSYNC_TIMEZONE": "daily_timezone",
}


def locate_store(cwd: Path, env: Mapping[str, str]) -> StoreLayout:
    """``MEMSYNC_DIR`` if set, else the nearest ``.memsync/`` upwards, else ``~/.memsync``."""
    explicit = env.get("MEMSYNC_DIR")
    if explicit:
        root = Path(explicit).expanduser()
        if root.name != STORE_DIRNAME and (root / STORE_DIRNAME).is_dir():
            root = root / STORE_DIRNAME
        if not root.is_dir():
            raise ConfigError(
                f"MEMSYNC_DIR={explicit}: no such store; run `memsync init` there "
                "or unset MEMSYNC_DIR"
            )
        return StoreLayout(root)
    return find_store(cwd, home=Path(env.get("HOME", "~")).expanduser())


def load_settings(layout: StoreLayout | None, env: Mapping[str, str]) -> Settings:
    """Merge the global config, the store's config and the environment; validate all of it."""
    values: dict[str, Any] = {}
    home = Path(env.get("HOME", "~")).expanduser()
    for path in (home / STORE_DIRNAME / "config.toml", layout.config_path if layout else None):
        if path is not None and path.is_file():
            values.update(_read_toml(path))
    for var, name in _ENV.items():
        if env.get(var):
            values[name] = _coerce(name, env[var], var)
    settings = Settings(**values)
    _validate(settings)
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    text = ""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        hint = ""
        if "[model]" in text and re.search(r"^\s*model\s*=", text, re.MULTILINE):
            hint = "; a [model] section and a top-level `model = ...` clash: write `name = ...`"
        raise ConfigError(f"{path}: not valid TOML ({exc}){hint}") from None
    flat: dict[str, Any] = {}
    problems = []
    for key, value in data.items():
        if key == "model" and isinstance(value, dict):
            flat.update({_MODEL_SECTION.get(k, f"model_{k}"): v for k, v in value.items()})
        elif key in _SECTIONS and isinstance(value, dict):
            flat.update({f"{key}_{k}": v for k, v in value.items()})
        elif isinstance(value, dict):
            close = difflib.get_close_matches(key, _SECTIONS, n=1, cutoff=0.6)
            hint = f"did you mean `[{close[0]}]`?" if close else f"sections: {', '.join(_SECTIONS)}"
            problems.append(f"unknown section `[{key}]`; {hint}")
        else:
            flat[key] = value
    known = {f.name for f in fields(Settings)}
    problems += [_unknown_setting(key, known) for key in flat if key not in known]
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    for key, value in flat.items():
        flat[key] = _coerce(key, value, f"{path}: {toml_name(key)}")
    return flat


def toml_name(name: str) -> str:
    """How config.toml spells a setting: ``dedup_noop_threshold`` -> ``[dedup] noop_threshold``."""
    model_keys = {flat: key for key, flat in _MODEL_SECTION.items() if flat != "model"}
    if name in model_keys:
        return f"[model] {model_keys[name]}"
    section, _, rest = name.partition("_")
    return f"[{section}] {rest}" if section in _SECTIONS and rest else name


def _unknown_setting(key: str, known: set[str]) -> str:
    """The unknown key as written in config.toml, with the closest known one."""
    spelled = {toml_name(k): k for k in known}
    close = difflib.get_close_matches(toml_name(key), list(spelled), n=1, cutoff=0.6)
    if close:
        hint = f"did you mean `{close[0]}`?"
    else:
        hint = "see the commented config.toml that `memsync init` writes for every setting"
    return f"unknown setting `{toml_name(key)}`; {hint}"


def _coerce(name: str, value: Any, where: str) -> Any:
    kind = type(getattr(Settings(), name))
    if kind is dict:  # a TOML inline table of numbers: {summary = 0.85}
        if isinstance(value, dict) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
        ):
            return {str(k): float(v) for k, v in value.items()}
        raise ConfigError(f"{where}: expected a table of numbers, e.g. {{summary = 0.85}}")
    if kind is tuple:  # a TOML array of strings, or a comma-separated string (environment)
        items = value.split(",") if isinstance(value, str) else value
        if isinstance(items, list | tuple) and all(isinstance(i, str) for i in items):
            return tuple(i.strip() for i in items if i.strip())
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    try:
        if kind is float and not isinstance(value, bool):
            return float(value)
        if kind is int and not isinstance(value, bool):
            return int(value)
        if kind is str:
            return str(value)
    except (TypeError, ValueError):
        pass
    raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}")


def _validate_numbers(s: Settings) -> None:
    if s.max_file_bytes < 1024:
        raise ConfigError(
            f"max_file_bytes={s.max_file_bytes}: must be at least 1024 (1 KiB); the default, "
            f"{DEFAULT_MAX_FILE_BYTES}, suits memories"
        )
    if not 0 <= s.service_port <= 65535:
        raise ConfigError(f"[service] port={s.service_port}: choose 0..65535 (0 picks a free one)")
    for name in ("service_sync_interval_min", "maintain_interval_min", "retry_base_delay_s"):
        if getattr(s, name) < 0:
            raise ConfigError(f"{name}={getattr(s, name)}: must not be negative (0 turns it off)")
    if s.qdrant_timeout_s <= 0 or s.llm_timeout_s <= 0 or s.dedup_neighbours < 1:
        raise ConfigError("timeouts must be positive and [dedup] neighbours at least 1")


def _validate_zone(name: str) -> None:
    import zoneinfo

    if not name:
        return
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"[daily] timezone / MEMSYNC_TIMEZONE {name!r}: not a known IANA time zone; use a "
            "name like 'Europe/Paris' or 'UTC'"
        ) from None


def _validate(s: Settings) -> None:
    _validate_numbers(s)
    _validate_zone(s.daily_timezone)
    if s.batch_size < 1 or s.batch_size > 4096:
        raise ConfigError(f"batch_size={s.batch_size}: choose 1..4096 (64 is fastest on CPU)")
    if s.model_backend not in BACKENDS:
        raise ConfigError(
            f"model backend {s.model_backend!r}: use 'auto' (ONNX Runtime, torch as the "
            "fallback; the default), 'onnx' or 'torch' ([model] backend / MEMSYNC_MODEL_BACKEND)"
        )
    if s.qdrant_mode not in ("edge", "local", "memory"):
        raise ConfigError(
            f"qdrant mode {s.qdrant_mode!r}: use 'edge' (embedded engine, the default), "
            "'local' (qdrant-client local mode) or 'memory'; for a server set qdrant url / "
            "MEMSYNC_QDRANT_URL"
        )
    if s.qdrant_url and not s.qdrant_url.startswith(("http://", "https://")):
        raise ConfigError(f"qdrant url {s.qdrant_url!r}: must start with http:// or https://")
    if not 0 < s.dedup_update_threshold <= 1 or not 0 < s.dedup_noop_threshold <= 1:
        raise ConfigError(
            "dedup thresholds: need update_threshold and noop_threshold in (0, 1] "
            f"(got {s.dedup_update_threshold} and {s.dedup_noop_threshold}); "
            f"the defaults are {DEFAULT_UPDATE_THRESHOLD} and {DEFAULT_NOOP_THRESHOLD}"
        )
    if not 0 <= s.dedup_uncertain_band < 0.5:
        raise ConfigError(f"dedup uncertain_band {s.dedup_uncertain_band}: choose 0 <= band < 0.5")
    if s.retry_max_attempts < 1:
        raise ConfigError("retry max_attempts must be at least 1")
    unknown = sorted(set(s.sources_agents) - set(Settings().sources_agents))
    if unknown:
        raise ConfigError(
            f"sources agents: unknown {', '.join(unknown)}; "
            f"known: {', '.join(Settings().sources_agents)}"
        )
    if s.sources_projects not in ("auto", "this", "all"):
        raise ConfigError(
            f"sources projects {s.sources_projects!r}: use 'auto' (a project store captures its "
            "own sessions, ~/.memsync every project), 'this' or 'all'"
        )
    if s.digest_budget < 300:
        raise ConfigError(f"digest budget={s.digest_budget}: at least 300 tokens (6000 default)")
    _validate_llm(s)
    if not 0 < s.maintain_duplicate_threshold <= 1:
        raise ConfigError(
            "maintain duplicate_threshold: choose a judge score in (0, 1], "
            f"e.g. {DEFAULT_UPDATE_THRESHOLD}"
        )
    if s.maintain_decay_period_days <= 0 or s.maintain_grace_period_days < 0:
        raise ConfigError("maintain decay_period_days must be > 0 and grace_period_days >= 0")
    if not 0 <= s.maintain_confidence_floor <= 1 or not 0 <= s.maintain_archive_threshold <= 1:
        raise ConfigError("maintain confidence_floor and archive_threshold are between 0 and 1")
    if not s.collection.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"collection {s.collection!r}: letters, digits, '-' and '_' only")
    _validate_ask(s)
    if not 100 <= s.hooks_brief_tokens <= 20_000 or not 100 <= s.hooks_prompt_tokens <= 20_000:
        raise ConfigError("[hooks] brief_tokens and prompt_tokens: choose 100..20000 tokens")
    if not 1 <= s.hooks_prompt_k <= 20:
        raise ConfigError(f"[hooks] prompt_k = {s.hooks_prompt_k}: choose 1..20 memories")


def _validate_ask(s: Settings) -> None:
    if not 0.0 <= s.ask_min_score <= 1.0:
        raise ConfigError(f"[ask] min_score = {s.ask_min_score}: choose 0..1 (0 shows everything)")
    for kind, weight in s.ask_kind_weights.items():
        if not 0.0 < weight <= 2.0:
            raise ConfigError(f"[ask] kind_weights: {kind} = {weight}: choose a weight in (0, 2]")
    for kind in s.kinds_custom:
        if not KIND_RE.match(kind):
            raise ConfigError(
                f"[kinds] custom: {kind!r}: lowercase letters, digits, '-' or '_' (max 32)"
            )
        if kind in KINDS:
            raise ConfigError(f"[kinds] custom: {kind!r} is built in already; remove it")


def _validate_llm(s: Settings) -> None:
    """A model names its provider (``openai/gpt-4o-mini``), is a coding agent's CLI
    (``cli:claude``, ``cli:codex``), or is served at ``api_base`` (any OpenAI-compatible URL)."""
    if not s.llm_model:
        return
    if s.llm_model.startswith("cli:"):
        if s.llm_model not in ("cli:claude", "cli:codex"):
            raise ConfigError(
                f"llm model {s.llm_model!r}: the coding-agent CLIs are 'cli:claude' and 'cli:codex'"
            )
        return
    if "/" not in s.llm_model and not s.llm_api_base:
        raise ConfigError(
            f"llm model {s.llm_model!r}: name the provider too, e.g. 'openai/gpt-4o-mini', set "
            "api_base to an OpenAI-compatible server, or use 'cli:claude' / 'cli:codex'"
        )
    if s.llm_api_base and not s.llm_api_base.startswith(("http://", "https://")):
        raise ConfigError(f"llm api_base {s.llm_api_base!r}: must start with http:// or https://")
