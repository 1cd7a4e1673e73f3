"""Where each coding agent reads its MCP servers, hooks, skills and rules, and what memsync
writes there (`memsync connect AGENT`). Paths and formats follow each agent's documentation:

- Claude Code: MCP in .mcp.json (project) or ~/.claude.json (user); hooks in
  .claude/settings.json or ~/.claude/settings.json; skills in .claude/skills/.
- Codex: MCP in .codex/config.toml (a trusted project) or ~/.codex/config.toml
  (``[mcp_servers.memsync]``, $CODEX_HOME honoured); hooks in .codex/hooks.json (the same JSON
  as Claude Code's; Codex has no SessionEnd); skills in .agents/skills/; rules in AGENTS.md
  (~/.codex/AGENTS.md for the user).
- Cursor: MCP in .cursor/mcp.json or ~/.cursor/mcp.json; skills in .cursor/skills/; rules in
  .cursor/rules/memsync.mdc (Cursor keeps user rules in its settings, not in a file).
- OpenCode: MCP in opencode.json or ~/.config/opencode/opencode.json (``mcp.memsync``, local);
  skills in .opencode/skills/; rules in AGENTS.md (~/.config/opencode/AGENTS.md).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from service.agents.config_files import (
    Edit,
    JsonEntry,
    JsonHooks,
    MarkdownBlock,
    OpenCodeEntry,
    OwnedFile,
    TomlTable,
)
from service.agents.skills import SKILLS, skill_text

# (event, timeout in seconds): SessionStart and UserPromptSubmit sit in the agent's way
CLAUDE_HOOKS = (("SessionStart", 15), ("UserPromptSubmit", 30), ("SessionEnd", 10),
                ("PreCompact", 10))  # fmt: skip
CODEX_HOOKS = (("SessionStart", 15), ("UserPromptSubmit", 30), ("PreCompact", 10))

RULES = """\
## Project memory (memsync)

This project keeps a long-term memory with memsync: decisions, learnings, conventions and open
issues from earlier sessions, as markdown under `.memsync/memory/`.

- Before starting a task, or changing an area with history, search it: the `memory_search`
  tool of the `memsync` MCP server, or `memsync ask "<question>"`. Results under the relevance
  floor are withheld: nothing back means memory has nothing on it.
- Record what a developer returning later would want back, one fact per memory: a decision
  (what and why), a learning (an error, its cause and fix), a convention the user stated, an
  issue left open. Use `memory_add` (or `memsync add --kind K --title T --body B`);
  duplicates are caught by meaning.
- When a memory disagrees with the code, trust the code and say so; retire what no longer
  holds with `memory_archive`. Never record secrets.
"""
CURSOR_RULE = (
    "---\ndescription: Project memory (memsync): search it before a task, record durable "
    "decisions and learnings\nalwaysApply: true\n---\n\n" + RULES
)


def agent_home(agent: str, home: Path, env: Mapping[str, str]) -> Path:
    """Where the agent keeps its user configuration."""
    if agent == "codex":
        return Path(env["CODEX_HOME"]).expanduser() if env.get("CODEX_HOME") else home / ".codex"
    if agent == "opencode":
        config = env.get("XDG_CONFIG_HOME")
        return (Path(config).expanduser() if config else home / ".config") / "opencode"
    return home / f".{agent}"


def target_edits(
    agent: str,
    scope: str,
    *,
    project: Path | None,
    home: Path,
    env: Mapping[str, str],
    command: list[str],
) -> list[Edit]:
    """Every file memsync writes for ``agent`` at ``scope``, with what goes in it."""
    user = scope == "user"
    if not user and project is None:
        raise ValueError("a project scope needs the project folder")
    base = agent_home(agent, home, env) if user else project
    assert base is not None
    args = [*command[1:], "mcp"] if user else [*command[1:], "mcp", "--project", str(project)]
    edits: list[Edit] = []
    entry: dict[str, Any]
    if agent == "claude":
        mcp_file = home / ".claude.json" if user else base / ".mcp.json"
        entry = {"type": "stdio", "command": command[0], "args": args, "env": {}}
        edits.append(JsonEntry(mcp_file, ("mcpServers", "memsync"), entry))
        folder = base if user else base / ".claude"
        edits.append(JsonHooks(folder / "settings.json", _hooks(command, CLAUDE_HOOKS)))
        skills = folder / "skills"
    elif agent == "codex":
        folder = base if user else base / ".codex"
        values = (("command", command[0]), ("args", args))
        edits.append(TomlTable(folder / "config.toml", "memsync", values))
        edits.append(JsonHooks(folder / "hooks.json", _hooks(command, CODEX_HOOKS)))
        edits.append(MarkdownBlock(folder / "AGENTS.md" if user else base / "AGENTS.md", RULES))
        skills = (home if user else base) / ".agents" / "skills"
    elif agent == "cursor":
        folder = base if user else base / ".cursor"
        entry = {"command": command[0], "args": args, "env": {}}
        edits.append(JsonEntry(folder / "mcp.json", ("mcpServers", "memsync"), entry))
        if not user:
            edits.append(OwnedFile(folder / "rules" / "memsync.mdc", CURSOR_RULE, "rules"))
        skills = folder / "skills"
    elif agent == "opencode":
        entry = {"type": "local", "command": [command[0], *args], "enabled": True}
        edits.append(OpenCodeEntry(_opencode_config(base), ("mcp", "memsync"), entry))
        edits.append(MarkdownBlock(base / "AGENTS.md", RULES))
        skills = base / "skills" if user else base / ".opencode" / "skills"
    else:
        raise ValueError(f"unknown agent {agent!r}")
    for name in SKILLS:
        edits.append(OwnedFile(skills / name / "SKILL.md", skill_text(name), f"skill /{name}"))
    return edits


def _hooks(
    command: list[str], events: tuple[tuple[str, int], ...]
) -> tuple[tuple[str, str, int], ...]:
    line = shlex.join(command)
    return tuple((event, f"{line} hook {event}", timeout) for event, timeout in events)


def _opencode_config(folder: Path) -> Path:
    """opencode.json, or an existing opencode.jsonc (merged only if it is plain JSON)."""
    plain, commented = folder / "opencode.json", folder / "opencode.jsonc"
    return commented if commented.exists() and not plain.exists() else plain


def notes(agent: str, scope: str) -> list[str]:
    """What the user should know after connecting."""
    out = {
        "claude": ["Claude Code asks once to approve a project's .mcp.json server; the hooks "
                   "run from the next session on."] if scope == "project" else [],
        "codex": ["Codex reads a project's .codex/ only when the project is trusted; hooks "
                  "may need approval in Codex's hooks settings."] if scope == "project" else [],
        "cursor": [] if scope == "project" else ["Cursor keeps user rules in its settings: "
                                                 "the rules file is written per project."],
        "opencode": [],
    }  # fmt: skip
    return [*out[agent], "Restart the agent (or reload its MCP servers) to pick this up."]
