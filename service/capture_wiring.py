"""Capture settings -> the core's CaptureOptions/CaptureDeps (the composition root's share)."""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.settings import Settings
from sync.capture.extraction.base import Extractor
from sync.capture.pipeline import CaptureDeps, CaptureOptions, peek_cwd
from sync.capture.project import ProjectScope, project_scope
from sync.capture.select import SCOPES, parse_window
from sync.capture.sources import adapter
from sync.capture.sources.base import AGENTS
from sync.dedup import DedupThresholds, Referee
from sync.errors import UsageError
from sync.index.engine import SyncDeps
from sync.llm import LMConfig
from sync.retry import parse_moment
from sync.store import STORE_DIRNAME, StoreLayout

if TYPE_CHECKING:
    from sync.care.maintain_run import Merger

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def is_global_store(layout: StoreLayout, home: Path) -> bool:
    """Whether ``layout`` is the global store (``~/.memsync``)."""
    return layout.root.resolve() == (home / STORE_DIRNAME).resolve()


def store_scope(settings: Settings, layout: StoreLayout, home: Path) -> ProjectScope | None:
    """The project whose sessions this store captures; None: every project (the global store,
    or ``[sources] projects = "all"``)."""
    mode = settings.sources_projects
    if mode == "all" or (mode == "auto" and is_global_store(layout, home)):
        return None
    return project_scope(layout.root.parent)


def capture_options(
    settings: Settings,
    request: Mapping[str, Any],
    now: dt.datetime,
    *,
    layout: StoreLayout,
    home: Path | None = None,
) -> CaptureOptions:
    """Validate the capture part of a sync request (CLI flags or the API body); the store
    decides which project's sessions it takes (``all_projects`` takes every one)."""
    scope = request.get("scope") or "all"
    if scope not in SCOPES:
        raise UsageError(f"scope {scope!r}: expected one of {', '.join(SCOPES)}")
    agents = tuple(_list(request.get("agent"))) or settings.sources_agents
    unknown = sorted(set(agents) - set(AGENTS))
    if unknown:
        raise UsageError(f"agent {', '.join(unknown)}: expected some of {', '.join(AGENTS)}")
    window = request.get("window") or settings.sources_window
    try:
        since = parse_window(window, now)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if request.get("since"):
        since = _instant(str(request["since"]), "since")
    until = _instant(str(request["until"]), "until") if request.get("until") else None
    max_sessions = request.get("max_sessions")
    if max_sessions is not None and int(max_sessions) < 1:
        raise UsageError("--max-sessions must be at least 1")
    content_type = request.get("content_type")
    if content_type is not None and not re.match(r"^[a-z][a-z0-9-]{0,40}$", str(content_type)):
        raise UsageError(f"content type {content_type!r}: lowercase letters, digits and '-'")
    project = None
    if not request.get("all_projects"):
        project = store_scope(settings, layout, home or user_home())
    return CaptureOptions(
        project=project,
        tag_project=project is None,
        scope=scope,
        agents=tuple(a for a in AGENTS if a in agents),
        since=since,
        until=until,
        max_sessions=int(max_sessions) if max_sessions is not None else None,
        extract=not request.get("no_extract", False),
        force=bool(request.get("force", False)),
        retry_now=bool(request.get("retry_now", False)),
        tags=tuple(_list(request.get("tags"))),
        exclude=tuple(request.get("exclude") or ()),
        content_type=content_type,
        dry_run=bool(request.get("dry_run", False)),
        sessions=tuple(request.get("sessions") or ()),
    )


def capture_deps(settings: Settings, layout: StoreLayout, sync: SyncDeps) -> CaptureDeps:
    insights, campaigns = knowledge_paths(settings, layout)
    return CaptureDeps(
        sync=sync,
        extractor=functools.cache(lambda: make_extractor(settings)),
        thresholds=DedupThresholds(
            settings.dedup_noop_threshold,
            settings.dedup_update_threshold,
            settings.dedup_uncertain_band,
        ),
        roots=source_roots(settings, user_home()),
        insights=insights,
        campaigns=campaigns,
        neighbours_k=settings.dedup_neighbours,
        referee=make_referee(settings),
    )


def user_home() -> Path:
    """Where the agents keep their sessions by default (``$HOME``)."""
    return Path(os.environ.get("HOME", "~")).expanduser()


def knowledge_paths(settings: Settings, layout: StoreLayout) -> tuple[Path, Path]:
    """The /sync-memory skill's files, relative to the project (the folder with .memsync)."""
    project = layout.root.parent
    return (
        project / Path(settings.sources_insights or "insights.json").expanduser(),
        project / Path(settings.sources_campaigns or "campaigns").expanduser(),
    )


def source_roots(settings: Settings, home: Path) -> dict[str, list[Path]]:
    """Per agent: the configured folders, or the adapter's platform defaults."""
    roots: dict[str, list[Path]] = {}
    for agent in settings.sources_agents:
        configured: Sequence[str] = getattr(settings, f"sources_{agent}")
        if configured:
            roots[agent] = [Path(p).expanduser() for p in configured]
        else:
            roots[agent] = adapter(agent).default_roots(home)
    return roots


def make_extractor(settings: Settings) -> Extractor:
    """DSPy when a language model is configured, the offline rules otherwise."""
    if not settings.llm_model:
        from sync.capture.extraction.offline import OfflineExtractor

        return OfflineExtractor()
    from sync.capture.extraction.dspy_extract import DspyExtractor
    from sync.llm import make_lm

    return DspyExtractor(make_lm(lm_config(settings)), budget=settings.digest_budget)


def make_merger(settings: Settings) -> Merger:
    """How `memsync maintain` merges a group: DSPy when an LM is configured."""
    from sync.care.maintain_run import deterministic_merge  # numpy: only where maintain runs

    if not settings.llm_model:
        return deterministic_merge
    from sync.capture.extraction.dspy_merge import DspyMerger
    from sync.llm import make_lm

    return DspyMerger(make_lm(lm_config(settings)))


def make_referee(settings: Settings) -> Referee | None:
    """Who rules on the duplicate judge's uncertain pairs: the LM when one is configured
    (built on its first question), nobody otherwise."""
    if not settings.llm_model:
        return None
    from sync.capture.extraction.dspy_judge import DspyReferee
    from sync.llm import make_lm

    return DspyReferee(lambda: make_lm(lm_config(settings)))


CLI_TIMEOUT_S = 300.0  # a coding agent's CLI starts itself before it answers


def lm_config(settings: Settings) -> LMConfig:
    """The configured language model (``[llm]``)."""
    timeout = settings.llm_timeout_s
    if settings.llm_model.startswith("cli:") and timeout == Settings().llm_timeout_s:
        timeout = CLI_TIMEOUT_S
    return LMConfig(
        model=settings.llm_model,
        api_base=settings.llm_api_base or None,
        api_key_env=settings.llm_api_key_env or None,
        timeout_s=timeout,
        command=settings.llm_command or None,
    )


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(i).strip() for i in items if str(i).strip()]


def _instant(text: str, name: str) -> dt.datetime:
    moment = parse_moment(text)
    if moment is None:
        raise UsageError(f"--{name} {text!r}: use ISO-8601, e.g. 2026-11-01 or 2026-11-01T12:00Z")
    return moment


def list_sources(settings: Settings, layout: StoreLayout, home: Path) -> dict[str, Any]:
    """Every agent with its folders and session counts (this project's, and how many belong
    to other projects: those are skipped), and the knowledge files."""
    from sync.capture.knowledge import KnowledgeSource
    from sync.index.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    scope = store_scope(settings, layout, home)
    captured: dict[str, int] = {}
    for entry in checkpoint.sources.values():
        captured[entry.agent] = captured.get(entry.agent, 0) + 1
    agents = []
    for agent, roots in source_roots(settings, home).items():
        adapters = {agent: adapter(agent)}
        sessions = others = 0
        problems: list[str] = []
        for root in roots:
            if root.exists():
                for item in adapters[agent].discover(root):
                    mine = scope is None or scope.contains(peek_cwd(adapters, item))
                    sessions, others = sessions + mine, others + (not mine)
                problems += [str(p) for p in adapters[agent].problems]
        agents.append(
            {
                "agent": agent,
                "paths": [{"path": str(r), "exists": r.exists()} for r in roots],
                "sessions": sessions,
                "other_projects": others,
                "captured": captured.get(agent, 0),
                "problems": problems,
            }
        )
    insights, campaigns = knowledge_paths(settings, layout)
    knowledge = KnowledgeSource()
    items = list(knowledge.discover(insights, campaigns))
    return {
        "project": {
            "captures": "every project" if scope is None else "this project",
            "folders": [] if scope is None else list(scope.roots),
        },
        "agents": agents,
        "knowledge": {
            "insights": {
                "path": str(insights),
                "entries": sum(i.agent == "insights" for i in items),
            },
            "campaigns": {
                "path": str(campaigns),
                "files": sum(i.agent == "campaigns" for i in items),
            },
            "problems": [str(p) for p in knowledge.problems],
        },
    }
