"""The host agent's distillation loop: `memsync sessions` (list, --done) and `memsync digest`.

They read the agents' sessions and write only ``state/distilled.json``, so they run beside a
sync or a running service; memories go in through `memsync add --session`."""

from __future__ import annotations

import argparse
from typing import Any

from service.cli.common import EXIT_OK, Result, open_store
from service.sessions import list_sessions, mark_done, session_digest
from sync.errors import UsageError


def cmd_sessions(args: argparse.Namespace) -> Result:
    layout, settings = open_store()
    if args.done:
        if args.pending or args.limit is not None:
            raise UsageError("--done marks sessions; it takes no --pending or --limit")
        data = mark_done(settings, layout, args.done)
        text = "\n".join(f"distilled {d['agent']} {d['id']}" for d in data["done"])
        return data, text, EXIT_OK
    data = list_sessions(
        settings, layout, pending=args.pending, limit=args.limit, all_projects=args.all_projects
    )
    return data, sessions_text(data), EXIT_OK


def sessions_text(data: dict[str, Any]) -> str:
    c = data["counts"]
    lines = [
        f"{c['pending']} pending, {c['distilled']} distilled, {c['extracted']} extracted "
        f"(newest first)"
    ]
    for s in data["sessions"]:
        when = (s["started"] or s["ended"])[:16].replace("T", " ")
        size = f"{s['size'] / 1024:.0f} KB"
        note = f"  ({s['note']})" if s.get("note") else ""
        lines.append(f"{s['status']:<9} {when}  {s['agent']:<8} {s['id']}  {size:>8}{note}")
    if c["pending"]:
        lines.append("next: `memsync digest ID`, then `memsync add ... --session ID`, then "
                     "`memsync sessions --done ID`")  # fmt: skip
    return "\n".join(lines)


def cmd_digest(args: argparse.Namespace) -> Result:
    layout, settings = open_store()
    data = session_digest(settings, layout, args.session, budget=args.budget)
    if args.no_hints:
        data.pop("hints")
    return data, digest_text(data), EXIT_OK


def digest_text(data: dict[str, Any]) -> str:
    s = data["session"]
    lines = [
        data["digest"].rstrip(),
        "",
        f"(digest ~{data['tokens']} tokens of ~{data['source_tokens']}; session {s['status']}; "
        f"record memories with `memsync add ... --session {s['id']}`, then "
        f"`memsync sessions --done {s['id']}`)",
    ]
    hints = data.get("hints") or []
    if hints:
        lines += [
            "",
            "## Hints (the offline rules' candidates; keep only what the digest bears out)",
        ]
        lines += [f"- {h['kind']}: {h['title']}" for h in hints]
    return "\n".join(lines)
