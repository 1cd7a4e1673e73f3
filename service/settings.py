"""Settings: the one place configuration is read (defaults < global < project < env)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sync.dedup import DEFAULT_NOOP_THRESHOLD, DEFAULT_UPDATE_THRESHOLD
from sync.errors import ConfigError
from sync.store import DEFAULT_MAX_FILE_BYTES, STORE_DIRNAME, StoreLayout, find_store


@dataclass(frozen=True)
class Settings:
    model: str = "all-MiniLM-L6-v2"
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
    # a language model for extraction and answers (DSPy); empty = offline extraction only
    llm_model: str = ""  # e.g. "openai/gpt-4o-mini"
    llm_api_base: str = ""  # an OpenAI-compatible endpoint
    llm_api_key_env: str = ""  # the variable holding the key (default per provider)
    llm_timeout_s: float = 60.0
    # maintenance: merge near-duplicates, archive what decayed (never deletes)
    maintain_duplicate_threshold: float = 0.92
    maintain_decay_period_days: float = 180.0
    maintain_confidence_floor: float = 0.1
    maintain_archive_threshold: float = 0.2
    maintain_grace_period_days: float = 30.0
    maintain_interval_min: float = 60.0  # the service's schedule; 0 turns it off
    # `memsync audit`: detection and the limits that make it exit 5 (for CI)
    audit_near_threshold: float = 0.92
    audit_min_words: int = 8
    audit_max_exact_duplicate_rate: float = 0.05
    audit_max_near_duplicate_rate: float = 0.10
    audit_max_low_information: int = 10
    audit_max_secrets: int = 0
    audit_max_index_drift: int = 0
    audit_max_dead_letters: int = 0
    audit_max_stale_rate: float = 0.5
    audit_max_unreadable: int = 0
    daily_timezone: str = ""  # IANA zone the daily logs' days are cut in (default: the system's)


# config.toml spells settings as sections: [qdrant] url = ... -> qdrant_url
_SECTIONS = ("qdrant", "retry", "dedup", "service", "sources", "llm", "maintain", "daily", "audit")
_ENV = {
    "MEMSYNC_MODEL": "model",
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
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECTIONS and isinstance(value, dict):
            flat.update({f"{key}_{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    known = {f.name: f for f in fields(Settings)}
    for key, value in flat.items():
        if key not in known:
            raise ConfigError(f"{path}: unknown setting {key!r}; known: {', '.join(sorted(known))}")
        flat[key] = _coerce(key, value, f"{path}: {key}")
    return flat


def _coerce(name: str, value: Any, where: str) -> Any:
    kind = type(getattr(Settings(), name))
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
    if s.qdrant_mode not in ("edge", "local", "memory"):
        raise ConfigError(
            f"qdrant mode {s.qdrant_mode!r}: use 'edge' (embedded engine, the default), "
            "'local' (qdrant-client local mode) or 'memory'; for a server set qdrant url / "
            "MEMSYNC_QDRANT_URL"
        )
    if s.qdrant_url and not s.qdrant_url.startswith(("http://", "https://")):
        raise ConfigError(f"qdrant url {s.qdrant_url!r}: must start with http:// or https://")
    if not 0 < s.dedup_update_threshold <= s.dedup_noop_threshold <= 1:
        raise ConfigError(
            "dedup thresholds: need 0 < update_threshold <= noop_threshold <= 1 "
            f"(got {s.dedup_update_threshold} and {s.dedup_noop_threshold})"
        )
    if s.retry_max_attempts < 1:
        raise ConfigError("retry max_attempts must be at least 1")
    unknown = sorted(set(s.sources_agents) - set(Settings().sources_agents))
    if unknown:
        raise ConfigError(
            f"sources agents: unknown {', '.join(unknown)}; "
            f"known: {', '.join(Settings().sources_agents)}"
        )
    if s.llm_model and "/" not in s.llm_model:
        raise ConfigError(
            f"llm model {s.llm_model!r}: name the provider too, e.g. 'openai/gpt-4o-mini'"
        )
    if not 0 < s.maintain_duplicate_threshold <= 1:
        raise ConfigError("maintain duplicate_threshold: choose a cosine in (0, 1], e.g. 0.92")
    if s.maintain_decay_period_days <= 0 or s.maintain_grace_period_days < 0:
        raise ConfigError("maintain decay_period_days must be > 0 and grace_period_days >= 0")
    if not 0 <= s.maintain_confidence_floor <= 1 or not 0 <= s.maintain_archive_threshold <= 1:
        raise ConfigError("maintain confidence_floor and archive_threshold are between 0 and 1")
    if not s.collection.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"collection {s.collection!r}: letters, digits, '-' and '_' only")


DEFAULT_CONFIG = """\
# memsync settings for this store. Environment variables (MEMSYNC_*) override them.
# model = "all-MiniLM-L6-v2"     # or a local sentence-transformers folder; never downloaded
# batch_size = 64
# collection = "memsync"         # collection name prefix (one collection per encoder)

[qdrant]
# url = "http://127.0.0.1:6333"  # a Qdrant server; unset = embedded under .memsync/qdrant
# mode = "edge"                  # embedded: "edge" (default), "local" (qdrant-client), "memory"

[retry]
# max_attempts = 5
# base_delay_s = 60

[dedup]
# noop_threshold = 0.98
# update_threshold = 0.70

[service]
# host = "127.0.0.1"             # any other address requires MEMSYNC_API_TOKEN
# port = 8765
# sync_interval_min = 10         # background sync while `memsync serve` runs; 0 = off

[sources]
# agents = ["claude", "codex", "cursor", "opencode", "openclaw"]
# claude = ["~/.claude/projects"]  # override where an agent keeps its sessions
# insights = "insights.json"     # relative to the project (the folder holding .memsync)
# campaigns = "campaigns"
# window = "30d"                 # `memsync sync` captures sessions changed within it

[maintain]
# duplicate_threshold = 0.92     # same-kind memories this similar merge (highest confidence kept)
# decay_period_days = 180        # effective = max(confidence * (1 - idle_days / 180), floor)
# confidence_floor = 0.1
# archive_threshold = 0.2        # below it a memory is archived (never deleted) ...
# grace_period_days = 30         # ... unless created or read within this many days
# interval_min = 60              # the service runs maintain this often; 0 = off

[audit]
# near_threshold = 0.92          # same-kind memories this similar count as near-duplicates
# min_words = 8                  # shorter bodies count as low-information
# max_exact_duplicate_rate = 0.05  # limits: above any of them `memsync audit` exits 5
# max_near_duplicate_rate = 0.10
# max_low_information = 10
# max_secrets = 0
# max_index_drift = 0
# max_dead_letters = 0
# max_stale_rate = 0.5
# max_unreadable = 0

[daily]
# timezone = "Europe/Paris"      # days of memory/daily/YYYY-MM-DD.md (default: the system's)

[llm]
# model = "openai/gpt-4o-mini"   # DSPy extraction and answers; unset = offline extraction
# api_base = "http://127.0.0.1:8080/v1"
# api_key_env = "OPENAI_API_KEY"
"""
