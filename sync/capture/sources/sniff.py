"""Which agent wrote a transcript given by path, told by its name and first records, and the
session items it holds (a database holds several conversations)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sync.capture.sources import adapter
from sync.capture.sources.base import SourceError, SourceItem
from sync.capture.sources.common import connect_readonly, head_records
from sync.errors import UsageError

_CODEX_TYPES = frozenset({"session_meta", "response_item", "event_msg", "turn_context"})
_CLAUDE_TYPES = frozenset(
    {"user", "assistant", "summary", "queue-operation", "file-history-snapshot", "system"}
)


def sniff_agent(path: Path) -> str:
    """The agent whose transcript ``path`` is; UsageError when it is none of theirs."""
    if path.suffix == ".vscdb":
        return "cursor"
    if path.suffix == ".db":
        return _database_agent(path)
    if path.suffix == ".json":
        return "opencode"  # a storage/session/<project>/<id>.json file
    if path.name.startswith("rollout-"):
        return "codex"
    for record in head_records(path, 64 * 1024):
        kind = record.get("type")
        if "record_type" in record or {"instructions", "git"} <= record.keys():
            return "codex"  # a rollout from before Codex 0.44
        if kind == "session":
            return "openclaw"
        if kind in _CODEX_TYPES or ("payload" in record and "timestamp" in record):
            return "codex"
        if kind in _CLAUDE_TYPES or "sessionId" in record:
            return "claude"
        if "role" in record and "message" in record:
            return "cursor"  # an Agent CLI transcript
    raise UsageError(
        f"{path}: not a transcript memsync reads (Claude Code, Codex, Cursor, OpenCode, OpenClaw)"
    )


def _database_agent(path: Path) -> str:
    try:
        conn = connect_readonly(path)
    except SourceError as exc:
        raise UsageError(str(exc)) from None
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as exc:
        raise UsageError(f"{path}: {exc}") from None
    finally:
        conn.close()
    if {"session", "message", "part"} <= names:
        return "opencode"
    if "cursorDiskKV" in names or "ItemTable" in names:
        return "cursor"
    raise UsageError(f"{path}: a database, but not OpenCode's or Cursor's")


def sniff_items(path: Path) -> list[SourceItem]:
    """The sessions in the transcript or database at ``path``, named as discovery names them
    (a database or a file its adapter reads directly, else the file among its folder's)."""
    path = path.expanduser().absolute()
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    source = adapter(sniff_agent(path))
    found = [i for i in source.discover(path) if i.path == path]
    if not found:
        root = path.parents[2] if path.suffix == ".json" else path.parent  # opencode storage
        found = [i for i in source.discover(root) if i.path == path]
    return found


def session_id_in(path: Path) -> str | None:
    """The session id a JSONL transcript records about itself (Claude ``sessionId``, pi/OpenClaw
    header ``id``, Codex meta ``id``), for matching a labelled id to a renamed file."""
    for record in head_records(path, 64 * 1024):
        wrapped = record.get("payload")
        payload: dict[str, object] = wrapped if isinstance(wrapped, dict) else {}
        for value in (
            record.get("sessionId"),
            record.get("id") if record.get("type") == "session" else None,
            payload.get("id") if record.get("type") == "session_meta" else None,
        ):
            if isinstance(value, str) and value:
                return value
    return None
