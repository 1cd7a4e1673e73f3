"""Helpers the source adapters share: times, project names, JSONL records, read-only SQLite,
session-file discovery and the message drafts adapters fill before freezing them.

No adapter imports another adapter; what two of them need lives here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.capture.sources.base import Message, ParseIssue, SourceError, SourceItem, ToolCall

EPOCH_MS_ABOVE = 1e11  # a number above this is epoch milliseconds (1e11 s is the year 5138)


def iso_utc(value: object) -> str | None:
    """An ISO-8601 string or epoch s/ms as UTC ``YYYY-MM-DDTHH:MM:SSZ``; None when unreadable."""
    moment: dt.datetime
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > EPOCH_MS_ABOVE else value
        try:
            moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str) and value:
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
    else:
        return None
    try:
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except OverflowError:  # 0001-01-01T00:00:00+05:00 has no UTC datetime
        return None


def project_name(cwd: str | None) -> str | None:
    """The last part of a POSIX or Windows working directory; None when there is none."""
    if not cwd:
        return None
    parts = [p for p in re.split(r"[\\/]", cwd) if p]
    return parts[-1] if parts else None


def read_source(path: Path) -> bytes:
    """The whole file; a file that cannot be opened is a ``SourceError``."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(str(path), f"cannot read: {exc.strerror or exc}") from exc


def jsonl_records(
    raw: bytes, path: str, issues: list[ParseIssue], *, bad_json: str = "invalid JSON ({})"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each JSON object line with its 1-based number; bad lines are appended to ``issues``.

    ``bad_json`` words the issue of an undecodable line (``{}`` is the decoder's message); a
    partial last line (no trailing newline) is always "truncated last line".
    """
    lines = raw.split(b"\n")
    complete = raw.endswith(b"\n")
    for number, chunk in enumerate(lines, start=1):
        if not chunk.strip():
            continue
        last = number == len(lines) and not complete
        try:
            record = json.loads(chunk.decode("utf-8-sig" if number == 1 else "utf-8"))
        except UnicodeDecodeError:
            issues.append(ParseIssue(path, number, "not valid UTF-8"))
            continue
        except (json.JSONDecodeError, RecursionError) as exc:
            detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            reason = "truncated last line" if last else bad_json.format(detail)
            issues.append(ParseIssue(path, number, reason))
            continue
        if not isinstance(record, dict):
            issues.append(ParseIssue(path, number, f"not a JSON object ({type(record).__name__})"))
            continue
        yield number, record


HEAD_BYTES = 256 * 1024


def head_records(path: Path, limit: int = HEAD_BYTES) -> Iterator[dict[str, Any]]:
    """The JSON object lines among the first ``limit`` bytes of a JSONL file (a cut last line
    and bad lines are skipped); nothing when the file cannot be read."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(limit)
    except OSError:
        return
    lines = raw.split(b"\n")
    if len(raw) >= limit:
        lines = lines[:-1]  # cut by the limit
    for chunk in lines:
        try:
            record = json.loads(chunk.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            yield record


def json_or_none(raw: str | None) -> Any:
    """Decoded JSON, or None when it is absent or not valid JSON (a corrupt row or file)."""
    try:
        return json.loads(raw) if raw is not None else None
    except (ValueError, RecursionError):
        return None


def row_text(value: object) -> str:
    """A database value (TEXT or BLOB) as text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else ""


def as_text(value: object, *, sort_keys: bool = False) -> str:
    """Tool input or output as text: a string as is, anything structured as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=sort_keys)


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection; ``immutable=1`` when the running app keeps the file locked."""
    uri = path.resolve().as_uri()
    error: Exception | None = None
    for mode in ("mode=ro", "immutable=1"):
        try:  # a short busy wait: a lock held longer means the app is busy, read a snapshot
            conn = sqlite3.connect(f"{uri}?{mode}", uri=True, timeout=0.5)
        except sqlite3.Error as exc:
            error = exc
            continue
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.Error as exc:
            conn.close()
            error = exc
    raise SourceError(str(path), f"cannot open the database read-only: {error}")


def find_files(root: Path, suffix: str, problems: list[ParseIssue]) -> list[Path]:
    """Files named ``*<suffix>`` below ``root``, sorted; unreadable folders go to ``problems``.

    Like ``root.rglob``: symlinked folders are not entered. Unlike it, a folder that cannot be
    listed is reported instead of skipped in silence.
    """

    def unreadable(exc: OSError) -> None:
        where = str(exc.filename or root)
        problems.append(ParseIssue(where, None, f"cannot list folder: {exc.strerror or exc}"))

    if not root.is_dir():
        return []  # a missing root is an agent not installed here, not a problem
    found: list[Path] = []
    for folder, _dirs, files in os.walk(root, onerror=unreadable):
        found += [Path(folder, name) for name in files if name.endswith(suffix)]
    return sorted(found)


def file_item(agent: str, path: Path, session_id: str) -> SourceItem | None:
    """A session file as an item (size and mtime as its fingerprint); None if not a file now."""
    try:
        info = path.stat()
    except OSError:
        return None  # vanished between listing and stat
    if not stat.S_ISREG(info.st_mode):
        return None
    return SourceItem(agent, f"{agent}:{path}", path, session_id, info.st_size, info.st_mtime_ns)


@dataclass
class PendingCall:
    """A tool call still being filled in (its result may come many lines later)."""

    name: str
    input: str = ""
    id: str | None = None
    output: str = ""
    is_error: bool = False
    answered: bool = False


@dataclass
class MessageDraft:
    """A message being assembled from one or more lines or blocks."""

    role: str
    line: int
    time: str | None = None
    model: str | None = None
    end_line: int = 0
    texts: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    calls: list[PendingCall] = field(default_factory=list)
    kind: str = ""

    def freeze(self) -> Message | None:
        """The finished message, or None when nothing visible is left."""
        text = "\n\n".join(t for t in self.texts if t).strip()
        thinking = "\n\n".join(t for t in self.thinking if t).strip()
        if not (text or thinking or self.calls):
            return None
        calls = tuple(ToolCall(c.name, c.input, c.output, c.is_error) for c in self.calls)
        return Message(
            role=self.role,
            text=text,
            thinking=thinking,
            tool_calls=calls,
            time=self.time,
            model=self.model,
            line=self.line,
            end_line=max(self.end_line, self.line),
            kind=self.kind,
        )
