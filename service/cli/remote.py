"""Commands a running `memsync serve` answers for the CLI: the service owns the store (its
lock, index and model), so while it runs these go to it — read-only ones answered at once,
writing ones run as jobs, one at a time with its other writes — and print the same output
with the same exit codes. Each command module renders the answer with ``present_<command>``.

Adding a command: one line here (the request its arguments make) and its endpoint.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Request = tuple[str, str, dict[str, Any]]  # method, path, JSON body (POST) or query (GET)

ROUTES: dict[str, Callable[[argparse.Namespace], Request]] = {
    "audit": lambda a: ("POST", "/api/audit", {"fix": a.fix, "near_threshold": a.near_threshold}),
    "maintain": lambda a: ("POST", "/api/maintain", {"dry_run": a.dry_run, "undo": a.undo}),
    "restore": lambda a: ("POST", "/api/restore", {"memory_id": a.memory_id}),
    "archive": lambda a: ("POST", "/api/archive", {"memory_id": a.memory_id, "reason": a.reason}),
    "compare": lambda a: ("GET", "/api/compare", {"tz": a.tz} if a.tz else {}),
    "backfill": lambda a: ("POST", "/api/backfill", _backfill(a)),
    "sources": lambda a: ("GET", "/api/sources", {}),
}


def _backfill(args: argparse.Namespace) -> dict[str, Any]:
    from service.cli.daily import backfill_request

    return backfill_request(args)
