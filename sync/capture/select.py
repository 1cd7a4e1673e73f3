"""Which source items a capture run reads: pure decisions over stat data and the checkpoint."""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sync.capture.project import ProjectScope
from sync.capture.sources.base import SourceItem
from sync.index.checkpoint import Checkpoint
from sync.retry import RetryPolicy

SCOPES = ("all", "sessions", "insights", "campaigns", "memories")
KNOWLEDGE = ("insights", "campaigns")


@dataclass(frozen=True)
class Selection:
    """An item and what the run does with it: ``read`` it, or skip it and why."""

    item: SourceItem
    action: str  # read | unchanged | skip
    reason: str
    # a skip's reason in one word, counted in the report: window | until | excluded |
    # retry_wait | dead_letter | max_sessions | other_project
    code: str = ""


def in_scope(agent: str, scope: str) -> bool:
    """Whether items of ``agent`` belong to a run of ``scope``."""
    if scope in ("all",):
        return True
    if scope == "sessions":
        return agent not in KNOWLEDGE
    return agent == scope


def select_items(
    items: Sequence[SourceItem],
    checkpoint: Checkpoint,
    *,
    since: dt.datetime | None,
    until: dt.datetime | None,
    exclude: Sequence[str],
    force: bool,
    retry_now: bool,
    max_items: int | None,
    now: dt.datetime,
    extract: bool = True,
    project: ProjectScope | None = None,
    cwd_of: Callable[[SourceItem], str | None] | None = None,
) -> list[Selection]:
    """Read what changed since the last capture (stat first, newest first); skip the rest.

    With a ``project``, a session whose working directory (``cwd_of``, asked only for items
    that pass the stat checks) is outside it is skipped as ``other_project``."""
    out: list[Selection] = []
    reads = 0
    for item in sorted(items, key=lambda i: (-i.mtime_ns, i.key)):
        skip = _skip_reason(item, checkpoint, since, until, exclude, retry_now, now)
        if skip is not None:
            out.append(Selection(item, "skip", skip[1], skip[0]))
            continue
        if project is not None and item.agent not in KNOWLEDGE:
            cwd = cwd_of(item) if cwd_of is not None else None
            if not project.contains(cwd):
                where = f"ran in {cwd}" if cwd else "no working directory recorded"
                why = f"other project ({where}); --all-projects captures it"
                out.append(Selection(item, "skip", why, "other_project"))
                continue
        entry = checkpoint.sources.get(item.key)
        same_stat = entry is not None and (entry.size, entry.mtime_ns) == (item.size, item.mtime_ns)
        if not force and entry and same_stat and (entry.extracted or not extract):
            out.append(Selection(item, "unchanged", "unchanged since the last capture"))
            continue
        if max_items is not None and reads >= max_items:
            out.append(Selection(item, "skip", f"over --max-sessions {max_items}", "max_sessions"))
            continue
        reads += 1
        why = "new" if entry is None else "changed" if not same_stat else "not extracted yet"
        out.append(Selection(item, "read", why))
    return out


def _skip_reason(
    item: SourceItem,
    checkpoint: Checkpoint,
    since: dt.datetime | None,
    until: dt.datetime | None,
    exclude: Sequence[str],
    retry_now: bool,
    now: dt.datetime,
) -> tuple[str, str] | None:
    """(code, reason) when the item is skipped, else None."""
    moment = dt.datetime.fromtimestamp(item.mtime_ns / 1e9, dt.UTC)
    if since is not None and moment < since:
        return "window", f"last changed {moment:%Y-%m-%d %H:%M}, before the window"
    if until is not None and moment > until:
        return "until", f"last changed {moment:%Y-%m-%d %H:%M}, after --until"
    for pattern in exclude:
        if fnmatch.fnmatch(str(item.path), pattern) or fnmatch.fnmatch(item.key, pattern):
            return "excluded", f"excluded by {pattern!r}"
    retry = checkpoint.source_retry.get(item.key)
    changed = retry is not None and retry.raw_hash != stat_key(item)
    if retry is not None and not retry_now and not changed:  # an edit retries at once
        if retry.dead:
            return "dead_letter", f"dead-lettered after {retry.attempts} attempts: {retry.error}"
        if not RetryPolicy.is_due(retry, now):
            return "retry_wait", f"in the retry queue until {retry.next_attempt}: {retry.error}"
    return None


def parse_window(text: str, now: dt.datetime) -> dt.datetime | None:
    """``7d`` / ``24h`` / ``90m`` / ``all`` -> the start of the window (None for all)."""
    value = text.strip().lower()
    if value == "all":
        return None
    units = {"d": 86400, "h": 3600, "m": 60, "w": 7 * 86400}
    if len(value) < 2 or value[-1] not in units or not value[:-1].isdigit():
        raise ValueError(f"window {text!r}: use a number with d, h, m or w (7d, 24h), or all")
    return now - dt.timedelta(seconds=int(value[:-1]) * units[value[-1]])


def stat_key(item: SourceItem) -> str:
    """What a failed item's retry entry remembers: any change to it retries at once."""
    return f"{item.size}:{item.mtime_ns}"
