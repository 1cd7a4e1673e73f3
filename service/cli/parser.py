"""The `memsync` argument parser: every command, its flags and their help."""

from __future__ import annotations

import argparse
from pathlib import Path

from service.cli import audit, daily


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
    parser = argparse.ArgumentParser(
        prog="memsync",
        description="Long-term memory for coding agents: markdown memories mirrored into Qdrant.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", parents=[common], help="create .memsync/ in this directory")
    p.add_argument("--path", type=Path, default=None, help="project folder (default: here)")

    p = sub.add_parser(
        "sync", parents=[common], help="capture agent sessions, then index the memories"
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
    p.add_argument("--report", type=Path, help="also write the report (JSON + .md) here")
    p.add_argument("--ignore-lock", action="store_true", help="skip the writer lock (debugging)")
    p.add_argument("--all-items", action="store_true", help="list unchanged items too")

    p = sub.add_parser("add", parents=[common], help="add a memory unless it is a duplicate")
    p.add_argument("--kind", required=True, help="decision, learning, insight, ...")
    p.add_argument("--title", required=True)
    p.add_argument("--body", help="markdown body; '-' reads standard input")
    p.add_argument("--body-file", type=Path, help="read the body from a file")
    p.add_argument("--tags", default="", help="comma-separated tags")
    p.add_argument("--confidence", type=float, default=0.7)
    p.add_argument("--dry-run", action="store_true", help="decide and show; write nothing")

    p = sub.add_parser("ask", parents=[common], help="semantic search over memories")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=5, help="how many memories (default 5)")
    p.add_argument("--kind", action="append", default=[], help="only this kind (repeatable)")
    p.add_argument("--tag", action="append", default=[], help="only with this tag (repeatable)")
    p.add_argument("--include-archived", action="store_true")
    p.add_argument(
        "--mode",
        choices=("hybrid", "dense", "lexical"),
        default="hybrid",
        help="hybrid (default): embeddings and BM25 fused; or one of them alone",
    )
    p.add_argument("--no-answer", action="store_true", help="skip the LM's cited answer")

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

    daily.add_parsers(sub, common)
    audit.add_parsers(sub, common)

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
