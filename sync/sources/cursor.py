"""Cursor: the IDE's ``state.vscdb`` chat stores and the Agent CLI's JSONL transcripts.

Choices, kept here so that tests and readers agree:

* One item per conversation inside a database: legacy ``ItemTable`` composers
  (``composer.composerData`` → ``allComposers[].conversation``) and chat tabs
  (``workbench.panel.aichat.view.aichat.chatdata`` → ``tabs[].bubbles``), and modern
  ``cursorDiskKV`` composers (``composerData:<id>`` plus ``bubbleId:<id>:<bubble>`` rows, read in
  ``fullConversationHeadersOnly`` order). Composers without any bubble (drafts, or a modern
  workspace index entry whose rows live in the global database) are not items.
* Databases are opened read-only (``mode=ro``), or ``immutable=1`` when the app holds a lock.
* A corrupt or missing bubble row is a ``ParseIssue`` (line = its 1-based place in the
  conversation, the row key in the reason); a corrupt composer record is a ``SourceError``.
* One item per Agent CLI transcript (``agent-transcripts/**/*.jsonl``): one message per line;
  ``tool_result`` blocks attach to the pending call with the same id, else the same name, else
  the oldest; ``<user_query>`` wrappers are unwrapped and injected context blocks dropped.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sync.sources.base import Message, ParseIssue, SourceError, SourceItem, ToolCall, Transcript

LEGACY_COMPOSERS = "composer.composerData"
LEGACY_CHATS = "workbench.panel.aichat.view.aichat.chatdata"
_DB_GLOBS = ("state.vscdb", "globalStorage/state.vscdb", "workspaceStorage/*/state.vscdb")
_TRANSCRIPT_DIRS = ("agent-transcripts", "projects/*/agent-transcripts")
_INJECTED = re.compile(
    r"<(user_info|system_reminder|system-reminder|rules|user_rules|additional_data|git_status|"
    r"project_layout|open_and_recently_viewed_files|attached_files|environment_context)>"
    r".*?</\1>",
    re.S,
)
_QUERY_TAG = re.compile(r"</?user_query>")


def iso_time(value: object) -> str | None:
    """ISO-8601 UTC with a trailing Z from epoch milliseconds or an ISO string; None if neither."""
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            when = dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
        elif isinstance(value, str) and value:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def _text(value: object) -> str:
    """A row value (TEXT or BLOB) as text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else ""


def _loads(raw: str | None) -> Any:
    """Decoded JSON, or None when it is not valid JSON."""
    try:
        return json.loads(raw) if raw is not None else None
    except ValueError:
        return None


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _as_text(value: object) -> str:
    """Tool arguments or results as text (JSON when structured)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _clean_user(text: str) -> str:
    """User text without injected context blocks or the CLI's ``<user_query>`` wrapper."""
    return _QUERY_TAG.sub("", _INJECTED.sub("", text)).strip()


def _range(prefix: str) -> tuple[str, str]:
    """Key bounds that select ``prefix*`` through the table's unique-key index."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _item_value(conn: sqlite3.Connection, key: str) -> Any:
    """The decoded ``ItemTable`` value under ``key`` (None when absent or corrupt)."""
    row = conn.execute("SELECT value FROM ItemTable WHERE key = ?", (key,)).fetchone()
    return _loads(_text(row[0])) if row else None


def _entries(value: Any, list_key: str) -> list[dict[str, Any]]:
    """The dict entries of ``value[list_key]``."""
    items = value.get(list_key) if isinstance(value, dict) else None
    return [e for e in items if isinstance(e, dict)] if isinstance(items, list) else []


@dataclass(frozen=True)
class _Conversation:
    """The rows one database conversation is made of."""

    kind: str  # "modern" | "composer" | "chat"
    record: dict[str, Any]
    rows: tuple[tuple[str, str | None], ...] = ()  # modern bubbles: (row key, raw JSON)


@dataclass
class _Draft:
    """A message being assembled (tool results arrive on later lines)."""

    role: str
    line: int
    model: str | None = None
    time: str | None = None
    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)

    def freeze(self) -> Message | None:
        text, thinking = "\n\n".join(self.text).strip(), "\n\n".join(self.thinking).strip()
        if self.role == "user":
            text = _clean_user(text)
        if not (text or thinking or self.tools):
            return None
        calls = tuple(
            ToolCall(t["name"], t["input"], t.get("output", ""), t.get("error", False))
            for t in self.tools
        )
        return Message(self.role, text, thinking, calls, self.time, self.model, self.line)


class CursorAdapter:
    """Reads Cursor IDE databases and Cursor Agent CLI transcripts."""

    agent = "cursor"

    def __init__(self) -> None:
        self._folders: dict[Path, dict[str, str]] = {}

    def default_roots(self, home: Path) -> list[Path]:
        """The IDE's user-data folder for this platform, and the CLI's ``~/.cursor``."""
        if sys.platform == "darwin":
            user = home / "Library" / "Application Support" / "Cursor" / "User"
        elif sys.platform.startswith("win"):
            user = home / "AppData" / "Roaming" / "Cursor" / "User"
        else:
            user = home / ".config" / "Cursor" / "User"
        return [user, home / ".cursor"]

    def discover(self, root: Path) -> Iterator[SourceItem]:
        """Every conversation in the databases and every transcript file under ``root``."""
        if root.is_file():
            yield from self._db_items(root) if root.suffix == ".vscdb" else self._files([root])
            return
        for pattern in _DB_GLOBS:
            for db in sorted(root.glob(pattern)):
                yield from self._db_items(db)
        files = [] if root.name == "agent-transcripts" else sorted(root.glob("*.jsonl"))
        dirs = [root] if root.name == "agent-transcripts" else []
        dirs += [d for pattern in _TRANSCRIPT_DIRS for d in sorted(root.glob(pattern))]
        files += [f for d in dirs for f in sorted(d.rglob("*.jsonl"))]
        yield from self._files(list(dict.fromkeys(files)))

    def item_bytes(self, item: SourceItem) -> bytes:
        """The file's bytes, or a canonical JSON of the conversation's database rows."""
        if not item.locator:
            try:
                return item.path.read_bytes()
            except OSError as exc:
                raise SourceError(str(item.path), f"cannot read: {exc}") from exc
        conv = self._load(item.path, item.locator)
        doc = {"kind": conv.kind, "record": conv.record, "rows": [list(r) for r in conv.rows]}
        return json.dumps(doc, sort_keys=True, ensure_ascii=False).encode("utf-8")

    def parse(self, item: SourceItem) -> Transcript:
        """The normalized transcript of one database conversation or one transcript file."""
        if not item.locator:
            return self._parse_file(item)
        conv = self._load(item.path, item.locator)
        rec, path = conv.record, str(item.path)
        issues: list[ParseIssue] = []
        if conv.kind == "modern" and conv.rows:
            model = (rec.get("modelConfig") or {}).get("modelName")
            drafts = self._modern(path, conv.rows, model, issues)
        else:
            bubbles = _entries(rec, "bubbles" if conv.kind == "chat" else "conversation")
            drafts = [_legacy_draft(b, n) for n, b in enumerate(bubbles, 1)]
        messages = tuple(m for d in drafts if d and (m := d.freeze()))
        cwd = self._folder(item.path, item.locator)
        return Transcript(
            agent=self.agent,
            session_id=item.locator,
            path=path,
            messages=messages,
            cwd=cwd,
            project=Path(cwd).name if cwd else None,
            title=next((t for t in (rec.get("name"), rec.get("chatTitle")) if _is_text(t)), None),
            started=iso_time(rec.get("createdAt")),
            ended=iso_time(rec.get("lastUpdatedAt") or rec.get("lastSendTime")),
            models=tuple(dict.fromkeys(m.model for m in messages if m.model)),
            issues=tuple(issues),
            meta={"format": conv.kind},
        )

    def _db_items(self, db: Path) -> Iterator[SourceItem]:
        """One item per non-empty conversation in one ``state.vscdb``."""
        try:
            conn = connect_readonly(db)
            file_mtime = db.stat().st_mtime_ns
        except (SourceError, OSError):
            return  # not a readable database: nothing to offer
        try:
            found: list[tuple[str, int, object]] = []
            tables = _tables(conn)
            if "cursorDiskKV" in tables:
                found += _modern_index(conn)
            if "ItemTable" in tables:
                found += _legacy_index(conn)
        finally:
            conn.close()
        seen: set[str] = set()
        for locator, size, stamp in found:
            if locator in seen:
                continue
            seen.add(locator)
            ms = stamp if isinstance(stamp, int | float) and not isinstance(stamp, bool) else 0
            mtime = int(ms * 1_000_000) if ms > 0 else file_mtime
            key = f"cursor:{db}#{locator}"
            yield SourceItem(self.agent, key, db, locator, size, mtime, locator)

    def _files(self, files: list[Path]) -> Iterator[SourceItem]:
        for path in files:
            try:
                st = path.stat()
            except OSError:
                continue
            yield SourceItem(
                self.agent, f"cursor:{path}", path, path.stem, st.st_size, st.st_mtime_ns
            )

    def _load(self, db: Path, locator: str) -> _Conversation:
        """The rows of one conversation, found by its composer or tab id."""
        conn = connect_readonly(db)
        try:
            tables = _tables(conn)
            if "cursorDiskKV" in tables:
                conv = _load_modern(conn, db, locator)
                if conv:
                    return conv
            if "ItemTable" in tables:
                for key, kind, list_key, id_key in (
                    (LEGACY_COMPOSERS, "composer", "allComposers", "composerId"),
                    (LEGACY_CHATS, "chat", "tabs", "tabId"),
                ):
                    for entry in _entries(_item_value(conn, key), list_key):
                        if entry.get(id_key) == locator:
                            return _Conversation(kind, entry)
        except sqlite3.Error as exc:
            raise SourceError(str(db), f"cannot read {locator}: {exc}") from exc
        finally:
            conn.close()
        raise SourceError(str(db), f"conversation {locator} not found")

    def _modern(
        self,
        path: str,
        rows: tuple[tuple[str, str | None], ...],
        model: str | None,
        issues: list[ParseIssue],
    ) -> list[_Draft | None]:
        """Drafts from modern bubble rows; corrupt or missing rows become issues."""
        drafts: list[_Draft | None] = []
        for n, (key, raw) in enumerate(rows, 1):
            bubble = _loads(raw)
            if not isinstance(bubble, dict):
                what = "row missing" if raw is None else "invalid JSON"
                issues.append(ParseIssue(path, n, f"{key}: {what}"))
                continue
            drafts.append(_modern_draft(bubble, n, model))
        return drafts

    def _folder(self, db: Path, locator: str) -> str | None:
        """The workspace folder a conversation belongs to, when Cursor recorded it."""
        own = _workspace_folder(db.parent)
        if own or db.parent.name != "globalStorage":
            return own
        user = db.parent.parent
        if user not in self._folders:
            self._folders[user] = _composer_folders(user)
        return self._folders[user].get(locator)

    def _parse_file(self, item: SourceItem) -> Transcript:
        """A CLI transcript: ``{role, message: {content: [blocks]}}`` per line."""
        path = str(item.path)
        try:
            data = item.path.read_bytes()
            mtime = item.path.stat().st_mtime_ns
        except OSError as exc:
            raise SourceError(path, f"cannot read: {exc}") from exc
        lines = data.split(b"\n")
        drafts: list[_Draft] = []
        pending: list[dict[str, Any]] = []
        issues: list[ParseIssue] = []
        for n, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            rec = _loads(raw.decode("utf-8", errors="replace"))
            if not isinstance(rec, dict):
                last = n == len(lines) and not data.endswith(b"\n")
                why = "truncated last line" if last and rec is None else "not a JSON object"
                issues.append(ParseIssue(path, n, why))
                continue
            if rec.get("role") not in ("user", "assistant"):
                continue  # turn markers and other non-conversation records
            content = (rec.get("message") or {}).get("content")
            if isinstance(content, str):
                content = [{"type": "text", "text": content}]
            if not isinstance(content, list):
                issues.append(ParseIssue(path, n, "message.content is missing"))
                continue
            model = rec.get("model") if isinstance(rec.get("model"), str) else None
            draft = _Draft(rec["role"], n, model=model if rec["role"] == "assistant" else None)
            _blocks(draft, content, pending, drafts)
            drafts.append(draft)
        messages = tuple(m for d in drafts if (m := d.freeze()))
        meta = {"format": "agent-cli"}
        if item.path.parent.name == "subagents":
            meta["parent_session"] = item.path.parent.parent.name
        return Transcript(
            agent=self.agent,
            session_id=item.session_id,
            path=path,
            messages=messages,
            ended=iso_time(mtime / 1_000_000),
            models=tuple(dict.fromkeys(m.model for m in messages if m.model)),
            issues=tuple(issues),
            meta=meta,
        )


def _modern_index(conn: sqlite3.Connection) -> list[tuple[str, int, object]]:
    """(composer id, record size, lastUpdatedAt) of every modern composer with bubbles."""
    low, high = _range("composerData:")
    found: list[tuple[str, int, object]] = []
    sql = "SELECT key, value FROM cursorDiskKV WHERE key >= ? AND key < ?"
    for key, value in conn.execute(sql, (low, high)):
        raw = _text(value)
        rec = _loads(raw)
        if isinstance(rec, dict):
            if not (rec.get("fullConversationHeadersOnly") or rec.get("conversation")):
                continue
            found.append((key[len(low) :], len(raw.encode()), rec.get("lastUpdatedAt")))
        elif value is not None:
            found.append((key[len(low) :], len(raw.encode()), None))  # corrupt: parse says so
    return found


def _legacy_index(conn: sqlite3.Connection) -> list[tuple[str, int, object]]:
    """(id, size, last update) of every legacy composer and chat tab that has bubbles."""
    found: list[tuple[str, int, object]] = []
    for key, list_key, id_key, body, stamp in (
        (LEGACY_COMPOSERS, "allComposers", "composerId", "conversation", "lastUpdatedAt"),
        (LEGACY_CHATS, "tabs", "tabId", "bubbles", "lastSendTime"),
    ):
        for entry in _entries(_item_value(conn, key), list_key):
            if isinstance(entry.get(id_key), str) and entry.get(body):
                size = len(json.dumps(entry, sort_keys=True, ensure_ascii=False).encode())
                found.append((entry[id_key], size, entry.get(stamp)))
    return found


def _load_modern(conn: sqlite3.Connection, db: Path, cid: str) -> _Conversation | None:
    """A modern composer and its bubble rows in conversation order; None when absent."""
    row = conn.execute("SELECT value FROM cursorDiskKV WHERE key = ?", (f"composerData:{cid}",))
    found = row.fetchone()
    if not found:
        return None
    rec = _loads(_text(found[0]))
    if not isinstance(rec, dict):
        raise SourceError(str(db), f"composerData:{cid}: invalid JSON")
    headers = rec.get("fullConversationHeadersOnly")
    if not isinstance(headers, list) or not headers:
        return _Conversation("modern", rec)  # bubbles embedded in ``conversation``
    low, high = _range(f"bubbleId:{cid}:")
    sql = "SELECT key, value FROM cursorDiskKV WHERE key >= ? AND key < ?"
    stored = {k: _text(v) for k, v in conn.execute(sql, (low, high)) if v is not None}
    ids = [h.get("bubbleId") for h in headers if isinstance(h, dict)]
    rows = tuple((f"{low}{b}", stored.get(f"{low}{b}")) for b in ids if isinstance(b, str))
    return _Conversation("modern", rec, rows)


def _legacy_draft(bubble: dict[str, Any], n: int) -> _Draft | None:
    """A legacy composer (type 1/2) or chat-tab (type user/ai) bubble."""
    roles: dict[object, str] = {1: "user", 2: "assistant", "user": "user", "ai": "assistant"}
    kind = bubble.get("type")
    role = roles.get(kind) if isinstance(kind, int | str) else None
    if role is None:
        return None
    draft = _Draft(role, n, model=bubble.get("modelType") if role == "assistant" else None)
    text = bubble.get("text") or bubble.get("rawText") or ""
    draft.text.append(text if isinstance(text, str) else "")
    return draft


def _modern_draft(bubble: dict[str, Any], n: int, model: str | None) -> _Draft | None:
    """A modern bubble: text (or its rich text), thinking, and one ``toolFormerData`` call."""
    kind = bubble.get("type")
    role = {1: "user", 2: "assistant"}.get(kind) if isinstance(kind, int) else None
    if role is None:
        return None
    info = bubble.get("modelInfo")
    info = info if isinstance(info, dict) else {}
    own_model = (info.get("modelName") or model) if role == "assistant" else None
    draft = _Draft(role, n, model=own_model, time=iso_time(bubble.get("createdAt")))
    text = bubble.get("text")
    draft.text.append(text if isinstance(text, str) and text else _rich_text(bubble))
    thinking = bubble.get("thinking")
    if isinstance(thinking, dict) and isinstance(thinking.get("text"), str):
        draft.thinking.append(thinking["text"])
    tool = bubble.get("toolFormerData")
    if isinstance(tool, dict) and tool.get("name"):
        draft.tools.append(
            {
                "name": str(tool["name"]),
                "input": _as_text(tool.get("rawArgs")),
                "output": _as_text(tool.get("result")),
                "error": tool.get("status") == "error",
            }
        )
    return draft


def _rich_text(bubble: dict[str, Any]) -> str:
    """The text nodes of a Lexical ``richText`` document, for bubbles without ``text``."""
    doc = _loads(bubble.get("richText")) if isinstance(bubble.get("richText"), str) else None
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text" and isinstance(node.get("text"), str):
                out.append(node["text"])
            elif node.get("type") in ("linebreak", "paragraph") and out:
                out.append("\n")
            for child in node.get("children") or []:
                walk(child)

    walk(doc.get("root") if isinstance(doc, dict) else None)
    return "".join(out)


def _blocks(
    draft: _Draft, content: list[Any], pending: list[dict[str, Any]], drafts: list[_Draft]
) -> None:
    """Adds a CLI line's blocks to ``draft``; tool results go to their pending call."""
    for block in content:
        if not isinstance(block, dict):
            continue
        kind, text = block.get("type"), block.get("text")
        if kind == "thinking":
            draft.thinking.append(str(block.get("thinking") or text or ""))
        elif kind in ("tool_use", "tool_call"):
            call = {"id": block.get("id"), "name": str(block.get("name") or "tool")}
            call["input"] = _as_text(block.get("input"))
            draft.tools.append(call)
            pending.append(call)
        elif kind in ("tool_result", "tool-result"):
            _attach(block, pending, drafts, draft.line)
        elif isinstance(text, str):  # text, and unknown blocks that carry visible text
            draft.text.append(text)


def _attach(
    block: dict[str, Any], pending: list[dict[str, Any]], drafts: list[_Draft], line: int
) -> None:
    """Pairs a tool result with its call (by id, then name, then oldest pending)."""
    content = block.get("content")
    if isinstance(content, list):
        parts = [c.get("text", "") for c in content if isinstance(c, dict)]
        content = "\n".join(p for p in parts if isinstance(p, str))
    output = _as_text(content)
    call = next((c for c in pending if c["id"] and c["id"] == block.get("tool_use_id")), None)
    call = call or next((c for c in pending if c["name"] == block.get("name")), None)
    call = call or (pending[0] if pending else None)
    if call is None:
        drafts.append(_Draft("tool", line, text=[output]))
        return
    pending.remove(call)
    call["output"], call["error"] = output, bool(block.get("is_error"))


def _workspace_folder(folder: Path) -> str | None:
    """The project folder recorded in a workspace's ``workspace.json``."""
    try:
        doc = json.loads((folder / "workspace.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    uri = doc.get("folder") if isinstance(doc, dict) else None
    if not isinstance(uri, str) or not uri.startswith("file:"):
        return None
    return unquote(urlparse(uri).path)


def _composer_folders(user: Path) -> dict[str, str]:
    """Composer id → workspace folder, from each workspace's composer index."""
    folders: dict[str, str] = {}
    for db in sorted(user.glob("workspaceStorage/*/state.vscdb")):
        folder = _workspace_folder(db.parent)
        if not folder:
            continue
        try:
            conn = connect_readonly(db)
        except SourceError:
            continue
        try:
            for entry in _entries(_item_value(conn, LEGACY_COMPOSERS), "allComposers"):
                if isinstance(entry.get("composerId"), str):
                    folders[entry["composerId"]] = folder
        except sqlite3.Error:
            pass
        finally:
            conn.close()
    return folders
