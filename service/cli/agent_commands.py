"""The coding agents' commands: `memsync mcp` (the MCP server on stdio), `memsync hook EVENT`
(the agents' lifecycle hooks) and `memsync connect AGENT` (register memsync with an agent).

Imports stay light here: `mcp` and `hook` run every time an agent starts or is prompted, so
what they need is imported when they run."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.agents.names import AGENTS, SCOPES

if TYPE_CHECKING:
    from service.cli.common import Result


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """The `mcp`, `hook` and `connect` commands."""
    p = sub.add_parser(
        "mcp",
        help="serve this project's memory to a coding agent as MCP tools (stdio)",
        description="The MCP server an agent starts: memory_search, memory_get, memory_add, "
        "memory_recent, memory_archive, memory_status, memory_pending_sessions, "
        "memory_session_digest, memory_session_done. Calls go through a running "
        "`memsync serve` when there is one.",
    )
    p.add_argument(
        "--project",
        type=Path,
        metavar="DIR",
        help="the project whose store to serve (default: the working directory's)",
    )
    p = sub.add_parser(
        "hook",
        help="a coding agent's lifecycle hook: reads the event's JSON on stdin",
        description="SessionStart prints a brief of this project's memory; UserPromptSubmit "
        "the memories relevant to the prompt (nothing when none is); SessionEnd and "
        "PreCompact hand the transcript to capture without waiting. Always exits 0; errors "
        "go to .memsync/state/hooks.log.",
    )
    p.add_argument("event", metavar="EVENT", help="SessionStart, UserPromptSubmit, SessionEnd, ...")
    p = sub.add_parser(
        "connect",
        parents=[common],
        help="register memsync with a coding agent: MCP server, hooks, skills, rules",
        description="Merge memsync into the agent's own files, keeping every other entry: "
        "its MCP server, its hooks (Claude Code, Codex), the skills and a short rules section "
        "(AGENTS.md, .cursor/rules/memsync.mdc). Files are backed up before they change; "
        "--remove restores them.",
    )
    p.add_argument("agent", choices=AGENTS, metavar="AGENT", help=", ".join(AGENTS))
    p.add_argument(
        "--scope",
        choices=SCOPES,
        default="project",
        help="project (default: this project's files) or user (every project)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the diff; change nothing")
    p.add_argument("--remove", action="store_true", help="take memsync out again")


def cmd_mcp(args: argparse.Namespace) -> Result:
    from service.agents.mcp_server import run_stdio
    from service.agents.ops import StoreRouter

    folder = args.project.expanduser().absolute() if args.project else None
    run_stdio(StoreRouter(folder))
    return {}, "", 0


def cmd_hook(args: argparse.Namespace) -> Result:
    from service.agents.hooks import main_hook

    return {}, "", main_hook(args.event)


def cmd_connect(args: argparse.Namespace) -> Result:
    from service.agents import connect

    env = dict(os.environ)
    home = Path(env.get("HOME", "~")).expanduser()
    project = _project(env) if args.scope == "project" else None
    command = connect.memsync_command()
    changes = connect.plan(
        args.agent, args.scope, project=project, home=home, env=env, command=command,
        remove=args.remove,
    )  # fmt: skip
    base, prefix = (project, "") if project else (home, "~/")
    data: dict[str, Any] = {
        "agent": args.agent,
        "scope": args.scope,
        "project": str(project) if project else None,
        "command": command,
        "dry_run": args.dry_run,
        "remove": args.remove,
        "changes": [{"path": str(c.path), "what": c.what, "action": c.action} for c in changes],
    }
    text = connect.summary(
        args.agent, args.scope, changes, remove=args.remove, dry_run=args.dry_run, base=base,
        prefix=prefix,
    )  # fmt: skip
    if args.dry_run:
        data["diff"] = connect.diff(changes, base, prefix)
        text = f"{data['diff']}\n{text}" if data["diff"] else text
    else:
        connect.apply(changes, args.agent, remove=args.remove, home=home, env=env)
    return data, text, 0


def _project(env: dict[str, str]) -> Path:
    """The project of the store found from here (MEMSYNC_DIR, or .memsync/ upwards)."""
    from service.settings import locate_store
    from sync.errors import StoreNotFoundError, UsageError
    from sync.store import find_store

    try:
        layout = locate_store(Path.cwd(), env) if env.get("MEMSYNC_DIR") else find_store(Path.cwd())
    except StoreNotFoundError:
        raise UsageError(
            f"no memsync store in {Path.cwd()} or above: run `memsync init` in the project "
            "first, or connect for every project with --scope user"
        ) from None
    return layout.root.parent.resolve()
