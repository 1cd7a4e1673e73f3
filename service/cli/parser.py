"""The `memsync` argument parser: every command, its flags and their help.

Imports nothing but argparse: `memsync --help` and every command start by building it, so
what a command needs is imported by the command itself (service.cli.main)."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from service import __version__
from service.cli import agent_commands
from sync.models import KINDS

SYNC_DESCRIPTION = """\
Capture new or changed agent sessions (Claude Code, Codex, Cursor, OpenCode, OpenClaw) and
the project's knowledge files into memories, then index the memory folder.

Project knowledge files are notes the project keeps outside agent sessions, in the project
folder (the one holding .memsync/); memsync reads them, never changes them:
  insights.json  a JSON list of findings, e.g.
                 [{"insight": "Batching uploads halved the S3 bill", "tags": ["perf"]}];
                 each entry becomes an insight memory
  campaigns/     .md, .txt or .json files, one topic each (a release, a migration, an
                 experiment write-up): each becomes an insight, or a decision when the
                 file name says strategy or decision; its first line is the title
Each such memory records a content type (--content-type overrides it): insights.json
entries are "performance-insight", campaign files "campaign-learning", either "guideline"
when the entry's category or the file name says so. Other places: [sources] insights and
campaigns in config.toml. --scope sessions|insights|campaigns|memories limits the reading.
"""

KIND_HELP = f"one of {', '.join(KINDS)} (or a kind from `[kinds] custom` in config.toml)"


class Parser(argparse.ArgumentParser):
    """An argument parser whose unknown flags are reported by the subcommand they were given
    to, with its usage and the closest flag it has (``sync --dryrun``: did you mean
    ``--dry-run``?), instead of by the top-level parser."""

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            chosen = _chosen(self, parsed)
            flags = [o for a in chosen._actions for o in a.option_strings]
            hints = [
                f"did you mean {close[0]}?"
                for extra in extras
                if extra.startswith("-")
                and (close := difflib.get_close_matches(extra.split("=")[0], flags, n=1))
            ]
            chosen.error("; ".join([f"unrecognized arguments: {' '.join(extras)}", *hints]))
        return parsed


def _chosen(parser: argparse.ArgumentParser, parsed: argparse.Namespace) -> Any:
    """The deepest subcommand parser the arguments selected."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            name = getattr(parsed, action.dest, None)
            if name in action.choices:
                return _chosen(action.choices[name], parsed)
    return parser


def build_parser() -> argparse.ArgumentParser:
    # --json before the command (`memsync --json sync`) or after it: a subcommand's flag is
    # SUPPRESSed when absent, so it never resets the one given before the command
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document on stdout",
    )
    parser = Parser(
        prog="memsync",
        description="Long-term memory for coding agents: markdown memories mirrored into Qdrant.",
    )
    parser.add_argument("--version", action="version", version=f"memsync {__version__}")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=argparse.ArgumentParser
    )

    p = sub.add_parser("init", parents=[common], help="create .memsync/ in this directory")
    p.add_argument("--path", type=Path, default=None, help="project folder (default: here)")
    p.add_argument(
        "--global",
        dest="global_store",
        action="store_true",
        help="create the global store ~/.memsync (captures every project, tags each memory)",
    )

    p = sub.add_parser(
        "sync",
        parents=[common],
        help="capture agent sessions, then index the memories",
        description=SYNC_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dry-run", action="store_true", help="show what would happen; write nothing")
    p.add_argument("--force", action="store_true", help="re-read every session, re-embed all")
    p.add_argument(
        "--scope",
        choices=("all", "sessions", "insights", "campaigns", "memories"),
        default="all",
        help="what to capture (memories: only index the memory folder)",
    )
    p.add_argument("--agent", help="comma-separated: claude,codex,cursor,opencode,openclaw")
    p.add_argument("--window", help="sessions changed within 7d, 24h, ... or all (default 30d)")
    p.add_argument("--since", help="sessions changed since this ISO-8601 time")
    p.add_argument("--until", help="sessions changed until this ISO-8601 time")
    p.add_argument("--max-sessions", type=int, help="read at most N changed sessions")
    p.add_argument("--run-id", help="name this run (letters, digits, '-', '_')")
    p.add_argument("--no-extract", action="store_true", help="track sessions, extract nothing")
    p.add_argument("--tags", help="comma-separated tags added to every memory of the run")
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="skip sources (path) or memories (kind, type, text) matching it",
    )
    p.add_argument("--content-type", help="content type for every memory of the run")
    p.add_argument(
        "--all-projects",
        action="store_true",
        help="capture every project's sessions this run (default: this project's only)",
    )
    p.add_argument(
        "--session",
        action="append",
        default=[],
        metavar="ID",
        help="capture only this session (an id from `memsync sessions`, or a transcript "
        "path; repeatable), then index",
    )
    p.add_argument("--report", type=Path, help="also write the report (JSON + .md) here")
    p.add_argument("--ignore-lock", action="store_true", help="skip the writer lock (debugging)")
    p.add_argument("--all-items", action="store_true", help="list unchanged items too")

    p = sub.add_parser("add", parents=[common], help="add a memory unless it is a duplicate")
    p.add_argument("--kind", required=True, help=KIND_HELP)
    p.add_argument("--title", required=True)
    p.add_argument("--body", help="markdown body; '-' reads standard input")
    p.add_argument("--body-file", type=Path, help="read the body from a file")
    p.add_argument("--tags", default="", help="comma-separated tags")
    p.add_argument("--confidence", type=float, default=0.7)
    p.add_argument("--dry-run", action="store_true", help="decide and show; write nothing")
    p.add_argument(
        "--session",
        metavar="ID",
        help="distilled from this session (an id from `memsync sessions`, or a transcript "
        "path): its provenance and date go with the memory",
    )

    p = sub.add_parser("ask", parents=[common], help="semantic search over memories")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=5, help="how many memories (default 5)")
    p.add_argument(
        "--kind", action="append", default=[], help=f"only this kind (repeatable): {KIND_HELP}"
    )
    p.add_argument("--tag", action="append", default=[], help="only with this tag (repeatable)")
    p.add_argument("--include-archived", action="store_true")
    p.add_argument(
        "--mode",
        choices=("hybrid", "dense", "lexical"),
        default="hybrid",
        help="hybrid (default): embeddings and BM25 fused; or one of them alone",
    )
    p.add_argument(
        "--min-score",
        type=float,
        metavar="F",
        help="withhold results scoring below F (default: [ask] min_score, 0.35; 0 shows all)",
    )
    p.add_argument("--no-answer", action="store_true", help="skip the LM's cited answer")

    p = sub.add_parser(
        "sessions", parents=[common], help="this project's sessions for the agent to distil"
    )
    p.add_argument("--pending", action="store_true", help="only sessions not distilled yet")
    p.add_argument("--limit", type=int, help="at most N sessions (newest first)")
    p.add_argument("--all-projects", action="store_true", help="every project's sessions")
    p.add_argument(
        "--done",
        nargs="+",
        metavar="ID",
        help="mark these sessions distilled (offered again only if they grow)",
    )

    p = sub.add_parser("digest", parents=[common], help="a session's compact digest")
    p.add_argument("session", metavar="SESSION", help="an id from `memsync sessions`, or a path")
    p.add_argument("--budget", type=int, help="at most N tokens (default [digest] budget, 6000)")
    p.add_argument("--no-hints", action="store_true", help="leave out the offline candidates")

    sub.add_parser("status", parents=[common], help="store, index, retry queue, dead letters")
    sub.add_parser("sources", parents=[common], help="detected agents, their paths and sessions")

    p = sub.add_parser(
        "maintain", parents=[common], help="merge near-duplicates, archive decayed memories"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="show every merge and archive; write nothing"
    )
    p.add_argument("--undo", metavar="RUN_ID", help="reverse a maintenance run from its report")

    p = sub.add_parser("restore", parents=[common], help="bring an archived memory back")
    p.add_argument("memory_id", metavar="ID")
    p = sub.add_parser(
        "archive", parents=[common], help="retire a memory that no longer holds (never deleted)"
    )
    p.add_argument("memory_id", metavar="ID")
    p.add_argument("--reason", required=True, help="why it no longer holds (kept with it)")

    add_daily_parsers(sub, common)
    add_audit_parsers(sub, common)
    agent_commands.add_parsers(sub, common)

    p = sub.add_parser("serve", parents=[common], help="run the HTTP API (FastAPI) for this store")
    p.add_argument("--host", help="address to bind (default 127.0.0.1; others need a token)")
    p.add_argument("--port", type=int, help="port (default 8765; 0 picks a free one)")
    p.add_argument(
        "--sync-every",
        type=float,
        metavar="MINUTES",
        help="background sync interval (default 10; 0 turns it off)",
    )

    p = sub.add_parser("skill", parents=[common], help="Claude Code skills (/sync-memory, ...)")
    skill_sub = p.add_subparsers(dest="skill_command", required=True, metavar="ACTION")
    p = skill_sub.add_parser(
        "install", parents=[common], help="install the sync-memory and ask-memory skills"
    )
    p.add_argument("--path", type=Path, help="skills folder (default: ~/.claude/skills)")
    p.add_argument("--force", action="store_true", help="replace skills edited by hand")

    p = sub.add_parser("model", parents=[common], help="the embedding model's ONNX graph")
    model_sub = p.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    p = model_sub.add_parser(
        "prepare",
        parents=[common],
        help="export and verify the ONNX graph of the configured model (install does it; "
        "otherwise the first command that embeds)",
    )
    p.add_argument("--force", action="store_true", help="export again even if one is cached")

    p = sub.add_parser("index", parents=[common], help="manage the vector index")
    index_sub = p.add_subparsers(dest="index_command", required=True, metavar="ACTION")
    index_sub.add_parser(
        "migrate",
        parents=[common],
        help="move the index to the configured backend (e.g. local mode -> edge), reusing "
        "the stored vectors",
    )

    p = sub.add_parser("retry", parents=[common], help="retry queued items now, or drop them")
    p.add_argument(
        "--drop",
        nargs="*",
        metavar="PATH",
        help="forget these queued paths (no PATH: every dead letter)",
    )
    return parser


def add_daily_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """The `compare` and `backfill` subcommands."""
    tz_help = "IANA time zone of the days (default: MEMSYNC_TIMEZONE, else the system's)"
    p = sub.add_parser(
        "compare", parents=[common], help="days whose daily log is missing, stale or ok"
    )
    p.add_argument("--tz", help=tz_help)
    p = sub.add_parser(
        "backfill", parents=[common], help="write daily logs (memory/daily/YYYY-MM-DD.md)"
    )
    p.add_argument("date", nargs="?", metavar="DATE", help="the day, YYYY-MM-DD")
    p.add_argument("--all", action="store_true", help="every day that has sessions")
    p.add_argument(
        "--dry-run", action="store_true", help="show what would be written; write nothing"
    )
    p.add_argument("--force", action="store_true", help="regenerate days that already have a file")
    p.add_argument(
        "--preserve", action="store_true", help="with --force: keep your notes below the marker"
    )
    p.add_argument("--summarize", action="store_true", help="add a summary by the [llm] model")
    p.add_argument("--tz", help=tz_help)


def add_audit_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """The `audit` command (``--json`` comes with ``common``)."""
    p = sub.add_parser(
        "audit",
        parents=[common],
        help="health report: duplicates, low-information, noise, secrets, stale memories, "
        "index drift, dead letters (exit 5 when a threshold is crossed, for CI)",
    )
    p.add_argument(
        "--fix",
        action="store_true",
        help="repair index drift (stray or missing points, unsynced edits); memory files "
        "are never touched",
    )
    p.add_argument(
        "--near-threshold",
        type=float,
        metavar="F",
        help="cosine from which two memories of one kind are near duplicates "
        "(default: [audit] near_threshold, 0.92)",
    )
