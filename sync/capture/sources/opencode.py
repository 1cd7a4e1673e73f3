"""OpenCode: ``opencode.db`` (SQLite, OpenCode ≥ 1.2) or the older ``storage/`` JSON tree.

Choices, kept here so that tests and readers agree:

* When ``opencode.db`` exists, one item per ``session`` row (a ``storage/`` tree beside it is
  what the migration copied in, and is not read); else one item per
  ``storage/session/<projectID>/<sessionID>.json``, with its ``message/<sessionID>/*.json`` and
  ``part/<messageID>/*.json`` files (the oldest layout keeps parts flat in ``part/*.json``).
* Messages in creation order, parts in id (file name) order. ``text`` parts are text (``synthetic``
  and ``ignored`` ones are injected context, dropped), ``reasoning`` is thinking, ``tool`` is a
  ``ToolCall`` (error when ``state.status`` is ``error``), ``file`` adds ``[file: name]`` to the
  text; step-start/step-finish, patch, snapshot, compaction and other bookkeeping parts are dropped.
* A subsession (``parentID`` set) is an item of its own; ``meta["parent_session"]`` names it.
* A corrupt message or part (file or row) is a ``ParseIssue``; an unreadable session raises.
  An unreadable ``opencode.db`` gives no item in ``discover``: it goes to ``problems``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.capture.sources.base import (
    ItemHead,
    Message,
    ParseIssue,
    SourceError,
    SourceItem,
    ToolCall,
    Transcript,
)
from sync.capture.sources.common import (
    as_text,
    connect_readonly,
    iso_utc,
    json_or_none,
    project_name,
    row_text,
)

DB_NAME = "opencode.db"
_SKIPPED_TEXT = ("synthetic", "ignored")


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def _read_json(path: Path) -> Any:
    """A JSON file's value; None when it cannot be read or is not JSON."""
    try:
        return json_or_none(_read(path))
    except OSError:
        return None


@dataclass(frozen=True)
class _Record:
    """One message or part as stored: its raw JSON plus the ids its location implies."""

    path: str  # where an issue points: the JSON file, or the database
    ref: str  # stable name inside the session: a relative file path or "<table>/<id>"
    raw: str
    defaults: dict[str, Any]  # ids known from the file layout or the row's columns


@dataclass(frozen=True)
class _Session:
    """Everything one session is made of."""

    record: dict[str, Any]  # session JSON (storage) or the ``session`` row
    messages: tuple[_Record, ...]
    parts: tuple[_Record, ...]


class OpenCodeAdapter:
    """Reads OpenCode's SQLite database or its JSON storage tree."""

    agent = "opencode"

    def __init__(self) -> None:
        self.problems: list[ParseIssue] = []  # what the last discover() could not read

    def default_roots(self, home: Path) -> list[Path]:
        """OpenCode's data folder: ``$XDG_DATA_HOME/opencode``, else ``~/.local/share/opencode``."""
        xdg = os.environ.get("XDG_DATA_HOME")
        roots = [Path(xdg) / "opencode"] if xdg else []
        roots.append(home / ".local" / "share" / "opencode")
        if sys.platform == "darwin":
            roots.append(home / "Library" / "Application Support" / "opencode")
        elif sys.platform.startswith("win"):
            roots.append(home / "AppData" / "Local" / "opencode")
        return list(dict.fromkeys(roots))

    def discover(self, root: Path) -> Iterator[SourceItem]:
        """Every session under ``root`` (the data folder, its ``storage/``, or the database)."""
        self.problems = []
        db = root if root.is_file() else root / DB_NAME
        return self._db_items(db) if db.is_file() else self._storage_items(root)

    def _storage_items(self, root: Path) -> Iterator[SourceItem]:
        """One item per session JSON file of a ``storage/`` tree, fingerprinted by all its files."""
        storage = root / "storage" if (root / "storage").is_dir() else root
        flat = _flat_parts(storage)
        for path in sorted(storage.glob("session/*/*.json")):
            record = _read_json(path)
            sid = record.get("id") if isinstance(record, dict) else None
            sid = sid if isinstance(sid, str) else path.stem
            files = [path, *_session_files(storage, sid, flat)]
            try:
                stats = [f.stat() for f in files]
            except OSError:
                continue
            mtime = max(s.st_mtime_ns for s in stats)
            size = sum(s.st_size for s in stats)
            yield SourceItem(self.agent, f"opencode:{path}", path, sid, size, mtime)

    def item_bytes(self, item: SourceItem) -> bytes:
        """A canonical JSON of the session's rows or files."""
        loaded = self._load(item)
        doc = {
            "session": loaded.record,
            "messages": [[r.ref, r.raw] for r in loaded.messages],
            "parts": [[r.ref, r.raw] for r in loaded.parts],
        }
        return json.dumps(doc, sort_keys=True, ensure_ascii=False).encode("utf-8")

    def peek(self, item: SourceItem) -> ItemHead:
        """The session's ``directory`` and creation time, from its row or JSON file alone."""
        try:
            record = _session_row(item.path, item.locator) if item.locator else None
        except SourceError:
            return ItemHead()
        if not item.locator:
            data = _read_json(item.path)
            record = data if isinstance(data, dict) else {}
        rec = _session_view(record or {})
        cwd = rec.get("directory")
        started = iso_utc((rec.get("time") or {}).get("created"))
        return ItemHead(cwd if isinstance(cwd, str) and cwd else None, started)

    def parse(self, item: SourceItem) -> Transcript:
        """The normalized transcript of one session."""
        loaded = self._load(item)
        issues: list[ParseIssue] = []
        messages = _decode(loaded.messages, issues)
        by_message: dict[str, list[dict[str, Any]]] = {}
        for part in _decode(loaded.parts, issues):
            by_message.setdefault(str(part.get("messageID")), []).append(part)
        messages.sort(key=lambda m: (_created(m), str(m.get("id"))))
        out = []
        for n, data in enumerate(messages, 1):
            message = _message(data, by_message.get(str(data.get("id")), []), n)
            if message:
                out.append(message)
        rec = _session_view(loaded.record)
        cwd = rec.get("directory") if isinstance(rec.get("directory"), str) else None
        meta = {"parent_session": rec["parentID"]} if rec.get("parentID") else {}
        return Transcript(
            agent=self.agent,
            session_id=item.session_id,
            path=str(item.path),
            messages=tuple(out),
            cwd=cwd,
            project=project_name(cwd),
            title=rec["title"] if isinstance(rec.get("title"), str) and rec["title"] else None,
            started=iso_utc((rec.get("time") or {}).get("created")),
            ended=iso_utc((rec.get("time") or {}).get("updated")),
            models=tuple(dict.fromkeys(m.model for m in out if m.model)),
            issues=tuple(issues),
            meta=meta,
        )

    def _db_items(self, db: Path) -> Iterator[SourceItem]:
        """One item per ``session`` row; an unreadable database is a problem, not an error."""
        try:
            rows, file_mtime = _session_rows(db), db.stat().st_mtime_ns
        except (SourceError, OSError) as exc:
            reason = exc.reason if isinstance(exc, SourceError) else f"cannot stat: {exc}"
            self.problems.append(ParseIssue(str(db), None, reason))
            return
        for row in rows:
            sid = str(row["id"])
            size = len(json.dumps(row, sort_keys=True, default=str).encode())
            updated = row.get("time_updated")
            ms = updated if isinstance(updated, int | float) else 0
            mtime = int(ms * 1_000_000) if ms > 0 else file_mtime
            yield SourceItem(self.agent, f"opencode:{db}#{sid}", db, sid, size, mtime, sid)

    def _load(self, item: SourceItem) -> _Session:
        return _load_db(item.path, item.locator) if item.locator else _load_storage(item.path)


def _session_rows(db: Path) -> list[dict[str, Any]]:
    """Every ``session`` row as a dict, oldest first; SourceError when the DB cannot be read."""
    conn = connect_readonly(db)
    try:
        cursor = conn.execute("SELECT * FROM session ORDER BY time_created, id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]
    except sqlite3.Error as exc:
        raise SourceError(str(db), f"cannot list sessions: {exc}") from exc
    finally:
        conn.close()


def _session_row(db: Path, sid: str) -> dict[str, Any]:
    """One ``session`` row (no messages); SourceError when it cannot be read."""
    conn = connect_readonly(db)
    try:
        cursor = conn.execute("SELECT * FROM session WHERE id = ?", (sid,))
        names = [d[0] for d in cursor.description]
        row = cursor.fetchone()
    except sqlite3.Error as exc:
        raise SourceError(str(db), f"cannot read session {sid}: {exc}") from exc
    finally:
        conn.close()
    return dict(zip(names, row, strict=True)) if row else {}


def _load_db(db: Path, sid: str) -> _Session:
    """A session row with its message and part rows."""
    conn = connect_readonly(db)
    try:
        cursor = conn.execute("SELECT * FROM session WHERE id = ?", (sid,))
        names = [d[0] for d in cursor.description]
        row = cursor.fetchone()
        if row is None:
            raise SourceError(str(db), f"session {sid} not found")
        sql = "SELECT id, time_created, data FROM message WHERE session_id = ? ORDER BY id"
        messages = tuple(
            _Record(str(db), f"message/{mid}", row_text(data), {"id": mid, "time_created": created})
            for mid, created, data in conn.execute(sql, (sid,))
        )
        sql = "SELECT id, message_id, data FROM part WHERE session_id = ? ORDER BY message_id, id"
        parts = tuple(
            _Record(str(db), f"part/{pid}", row_text(data), {"id": pid, "messageID": mid})
            for pid, mid, data in conn.execute(sql, (sid,))
        )
    except sqlite3.Error as exc:
        raise SourceError(str(db), f"cannot read session {sid}: {exc}") from exc
    finally:
        conn.close()
    return _Session(dict(zip(names, row, strict=True)), messages, parts)


def _load_storage(path: Path) -> _Session:
    """A session JSON file with its message and part files."""
    try:
        record = json_or_none(_read(path))
    except OSError as exc:
        raise SourceError(str(path), f"cannot read: {exc}") from exc
    if not isinstance(record, dict):
        raise SourceError(str(path), "not a JSON object")
    storage = path.parent.parent.parent
    sid = record["id"] if isinstance(record.get("id"), str) else path.stem
    messages: list[_Record] = []
    parts: list[_Record] = []
    for file in _session_files(storage, sid, _flat_parts(storage)):
        try:
            raw = _read(file)
        except OSError:
            continue  # removed since listing
        ref = file.relative_to(storage).as_posix()
        if ref.startswith("message/"):
            messages.append(_Record(str(file), ref, raw, {"id": file.stem, "sessionID": sid}))
        else:
            owner = file.parent.name if file.parent.name != "part" else None
            parts.append(_Record(str(file), ref, raw, {"id": file.stem, "messageID": owner}))
    return _Session(record, tuple(messages), tuple(parts))


def _flat_parts(storage: Path) -> dict[str, list[Path]]:
    """Message id → part files of the oldest layout, where parts sit directly in ``part/``."""
    found: dict[str, list[Path]] = {}
    for path in sorted((storage / "part").glob("*.json")):
        data = _read_json(path)
        owner = data.get("messageID") if isinstance(data, dict) else None
        if isinstance(owner, str):
            found.setdefault(owner, []).append(path)
    return found


def _session_files(storage: Path, sid: str, flat: dict[str, list[Path]]) -> list[Path]:
    """The message files of a session, then the part files of each of its messages."""
    messages = sorted((storage / "message" / sid).glob("*.json"))
    parts: list[Path] = []
    for path in messages:
        data = _read_json(path)
        mid = data.get("id") if isinstance(data, dict) else None
        for owner in dict.fromkeys(m for m in (mid, path.stem) if isinstance(m, str)):
            parts += sorted((storage / "part" / owner).glob("*.json")) + flat.get(owner, [])
    return messages + parts


def _decode(records: tuple[_Record, ...], issues: list[ParseIssue]) -> list[dict[str, Any]]:
    """The decoded records, with the ids their location implies; corrupt ones become issues."""
    out: list[dict[str, Any]] = []
    for rec in records:
        data = json_or_none(rec.raw)
        if not isinstance(data, dict):
            where = "" if rec.path.endswith(".json") else f"{rec.ref}: "
            issues.append(ParseIssue(rec.path, None, f"{where}invalid JSON"))
            continue
        out.append({**{k: v for k, v in rec.defaults.items() if v is not None}, **data})
    return out


def _created(message: dict[str, Any]) -> float:
    """When a message was created (epoch ms), for ordering."""
    stamp = (message.get("time") or {}).get("created", message.get("time_created"))
    return float(stamp) if isinstance(stamp, int | float) else 0.0


def _session_view(record: dict[str, Any]) -> dict[str, Any]:
    """A ``session`` row in the shape of the session JSON file (which passes through)."""
    if "time_created" not in record:
        return record
    return {
        "title": record.get("title"),
        "directory": record.get("directory"),
        "parentID": record.get("parent_id"),
        "time": {"created": record.get("time_created"), "updated": record.get("time_updated")},
    }


def _message(data: dict[str, Any], parts: list[dict[str, Any]], n: int) -> Message | None:
    """One user or assistant message from its parts; None when nothing in it is conversation."""
    role = data.get("role")
    if role not in ("user", "assistant"):
        return None
    text: list[str] = []
    thinking: list[str] = []
    tools: list[ToolCall] = []
    for part in parts:
        kind = part.get("type")
        if kind == "text" and not any(part.get(flag) for flag in _SKIPPED_TEXT):
            text.append(str(part.get("text") or ""))
        elif kind == "reasoning":
            thinking.append(str(part.get("text") or ""))
        elif kind == "tool":
            tools.append(_tool(part))
        elif kind == "file":
            text.append(f"[file: {part.get('filename') or part.get('url') or '?'}]")
    body, thought = "\n\n".join(t for t in text if t.strip()), "\n\n".join(thinking).strip()
    if not (body.strip() or thought or tools):
        return None
    model = data["model"] if isinstance(data.get("model"), dict) else {}
    model_id = data.get("modelID") or model.get("modelID")
    return Message(
        role=role,
        text=body.strip(),
        thinking=thought,
        tool_calls=tuple(tools),
        time=iso_utc(_created(data) or None),
        model=str(model_id) if model_id and role == "assistant" else None,
        line=n,
    )


def _tool(part: dict[str, Any]) -> ToolCall:
    """A tool part: name, input as JSON, output (or the error), and whether it failed."""
    state = part["state"] if isinstance(part.get("state"), dict) else {}
    args = state.get("input")
    status = state.get("status")
    output = state.get("error") if status == "error" and state.get("error") else state.get("output")
    return ToolCall(
        name=str(part.get("tool") or "tool"),
        input=as_text(args),
        output=as_text(output),
        is_error=status == "error",
    )
