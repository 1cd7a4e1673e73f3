"""Read-only adapters for agent session stores; one module per agent.

Adapters are imported lazily so that listing one agent never imports the others.
"""

from __future__ import annotations

import importlib

from sync.capture.sources.base import AGENTS, SourceAdapter

_MODULES = {
    "claude": ("sync.capture.sources.claude", "ClaudeAdapter"),
    "codex": ("sync.capture.sources.codex", "CodexAdapter"),
    "cursor": ("sync.capture.sources.cursor", "CursorAdapter"),
    "opencode": ("sync.capture.sources.opencode", "OpenCodeAdapter"),
    "openclaw": ("sync.capture.sources.openclaw", "OpenClawAdapter"),
}


def adapter(agent: str) -> SourceAdapter:
    """The adapter for ``agent`` (one of ``AGENTS``)."""
    if agent not in _MODULES:
        raise ValueError(f"unknown agent {agent!r}; expected one of {', '.join(AGENTS)}")
    module_name, class_name = _MODULES[agent]
    cls = getattr(importlib.import_module(module_name), class_name)
    instance: SourceAdapter = cls()
    return instance
