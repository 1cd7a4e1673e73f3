"""Cursor: the IDE's ``*.vscdb`` chat stores (and, via ``cursor_cli``, the Agent CLI's JSONL).

Choices, kept here so that tests and readers agree:

* One item per conversation inside a database: legacy ``ItemTable`` composers
  (``composer.composerData`` → ``allComposers[].conversation``) and chat tabs
  (``workbench.panel.aichat.view.aichat.chatdata`` → ``tabs[].bubbles``), and modern
  ``cursorDiskKV`` composers (``composerData:<id>`` plus ``bubbleId:<id>:<bubble>`` rows, read in
  ``fullConversationHeadersOnly`` order). Composers without any bubble (drafts, or a modern
  workspace index entry whose rows live in the global database) are not items.
* Any ``*.vscdb`` (``state.vscdb``, or a renamed copy such as ``state.chatkeys.vscdb``) at the
  root, in ``globalStorage/`` or in ``workspaceStorage/*/`` is read when it has those tables; a
  database that cannot be read yields nothing and is recorded in ``problems``.
* Databases are opened read-only (``mode=ro``), or ``immutable=1`` when the app holds a lock.
* A corrupt or missing bubble row is a ``ParseIssue`` (line = its 1-based place in the
  conversation, the row key in the reason); a corrupt composer record is a ``SourceError``.
* Agent CLI transcripts (``agent-transcripts/**/*.jsonl``) are items too: see ``cursor_cli``.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sync.capture.sources import cursor_cli
from sync.capture.sources.base import ItemHead, ParseIssue, SourceError, SourceItem, Transcript
from sync.capture.sources.common import (
    MessageDraft,
    PendingCall,
    as_text,
    connect_readonly,
    iso_utc,
    json_or_none,
    project_name,
    read_source,
    row_text,
)

LEGACY_COMPOSERS = "composer.composerData"
LEGACY_CHATS = "workbench.panel.aichat.view.aichat.chatdata"
DB_SUFFIX = ".vscdb"
_DB_GLOBS = (f"*{DB_SUFFIX}", f"globalStorage/*{DB_SUFFIX}", f"workspaceStorage/*/*{DB_SUFFIX}")


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _range(prefix: str) -> tuple[str, str]:
    """Key bounds that select ``prefix*`` through the table's unique-key index."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _item_value(conn: sqlite3.Connection, key: str) -> Any:
    """The decoded ``ItemTable`` value under ``key`` (None when absent or corrupt)."""
    row = conn.execute("SELECT value FROM ItemTable WHERE key = ?", (key,)).fetchone()
    return json_or_none(row_text(row[0])) if row else None


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


class CursorAdapter:
    """Reads Cursor IDE databases and Cursor Agent CLI transcripts."""

    agent = "cursor"

    def __init__(self) -> None:
        self._folders: dict[Path, dict[str, str]] = {}
        self.problems: list[ParseIssue] = []  # what the last discover() could not read

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
        self.problems = []
        if root.is_file():
            if root.suffix == DB_SUFFIX:
                return self._db_items(root)
            return cursor_cli.file_items([root])
        return self._discover_folder(root)

    def _discover_folder(self, root: Path) -> Iterator[SourceItem]:
        """The databases first (root, global, workspaces), then the CLI transcripts."""
        for pattern in _DB_GLOBS:
            for db in sorted(root.glob(pattern)):
                yield from self._db_items(db)
        yield from cursor_cli.transcript_items(root, self.problems)

    def item_bytes(self, item: SourceItem) -> bytes:
        """The file's bytes, or a canonical JSON of the conversation's database rows."""
        if not item.locator:
            return read_source(item.path)
        conv = self._load(item.path, item.locator)
        doc = {"kind": conv.kind, "record": conv.record, "rows": [list(r) for r in conv.rows]}
        return json.dumps(doc, sort_keys=True, ensure_ascii=False).encode("utf-8")

    def peek(self, item: SourceItem) -> ItemHead:
        """The workspace folder Cursor recorded for a conversation; none for CLI transcripts."""
        if not item.locator:
            return ItemHead()
        return ItemHead(self._folder(item.path, item.locator), None)

    def parse(self, item: SourceItem) -> Transcript:
        """The normalized transcript of one database conversation or one transcript file."""
        if not item.locator:
            return cursor_cli.parse_transcript(item)
        conv = self._load(item.path, item.locator)
        rec, path = conv.record, str(item.path)
        issues: list[ParseIssue] = []
        if conv.kind == "modern" and conv.rows:
            model = (rec.get("modelConfig") or {}).get("modelName")
            drafts = _modern_drafts(path, conv.rows, model, issues)
        else:
            bubbles = _entries(rec, "bubbles" if conv.kind == "chat" else "conversation")
            drafts = [_legacy_draft(b, n) for n, b in enumerate(bubbles, 1)]
        messages = tuple(m for d in drafts if d and (m := cursor_cli.freeze(d)))
        cwd = self._folder(item.path, item.locator)
        return Transcript(
            agent=self.agent,
            session_id=item.locator,
            path=path,
            messages=messages,
            cwd=cwd,
            project=project_name(cwd),
            title=next((t for t in (rec.get("name"), rec.get("chatTitle")) if _is_text(t)), None),
            started=iso_utc(rec.get("createdAt")),
            ended=iso_utc(rec.get("lastUpdatedAt") or rec.get("lastSendTime")),
            models=tuple(dict.fromkeys(m.model for m in messages if m.model)),
            issues=tuple(issues),
            meta={"format": conv.kind},
        )

    def _db_items(self, db: Path) -> Iterator[SourceItem]:
        """One item per non-empty conversation in one database; an unreadable one is a problem."""
        try:
            found, file_mtime = _index(db), db.stat().st_mtime_ns
        except (SourceError, OSError) as exc:
            reason = exc.reason if isinstance(exc, SourceError) else f"cannot stat: {exc}"
            self.problems.append(ParseIssue(str(db), None, reason))
            return
        seen: set[str] = set()
        for locator, size, stamp in found:
            if locator in seen:
                continue
            seen.add(locator)
            ms = stamp if isinstance(stamp, int | float) and not isinstance(stamp, bool) else 0
            mtime = int(ms * 1_000_000) if ms > 0 else file_mtime
            key = f"cursor:{db}#{locator}"
            yield SourceItem(self.agent, key, db, locator, size, mtime, locator)

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

    def _folder(self, db: Path, locator: str) -> str | None:
        """The workspace folder a conversation belongs to, when Cursor recorded it."""
        own = _workspace_folder(db.parent)
        if own or db.parent.name != "globalStorage":
            return own
        user = db.parent.parent
        if user not in self._folders:
            self._folders[user] = _composer_folders(user)
        return self._folders[user].get(locator)


def _index(db: Path) -> list[tuple[str, int, object]]:
    """(conversation id, size, last update) of every conversation in a database that has
    Cursor's tables (none for any other ``*.vscdb``); SourceError when it cannot be read."""
    conn = connect_readonly(db)
    try:
        tables = _tables(conn)
        found = _modern_index(conn) if "cursorDiskKV" in tables else []
        return found + (_legacy_index(conn) if "ItemTable" in tables else [])
    except sqlite3.Error as exc:
        raise SourceError(str(db), f"cannot list conversations: {exc}") from exc
    finally:
        conn.close()


def _modern_drafts(
    path: str, rows: tuple[tuple[str, str | None], ...], model: str | None, issues: list[ParseIssue]
) -> list[MessageDraft | None]:
    """Drafts from modern bubble rows; corrupt or missing rows become issues."""
    drafts: list[MessageDraft | None] = []
    for n, (key, raw) in enumerate(rows, 1):
        bubble = json_or_none(raw)
        if not isinstance(bubble, dict):
            what = "row missing" if raw is None else "invalid JSON"
            issues.append(ParseIssue(path, n, f"{key}: {what}"))
            continue
        drafts.append(_modern_draft(bubble, n, model))
    return drafts


def _modern_index(conn: sqlite3.Connection) -> list[tuple[str, int, object]]:
    """(composer id, record size, lastUpdatedAt) of every modern composer with bubbles."""
    low, high = _range("composerData:")
    found: list[tuple[str, int, object]] = []
    sql = "SELECT key, value FROM cursorDiskKV WHERE key >= ? AND key < ?"
    for key, value in conn.execute(sql, (low, high)):
        raw = row_text(value)
        rec = json_or_none(raw)
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
    rec = json_or_none(row_text(found[0]))
    if not isinstance(rec, dict):
        raise SourceError(str(db), f"composerData:{cid}: invalid JSON")
    headers = rec.get("fullConversationHeadersOnly")
    if not isinstance(headers, list) or not headers:
        return _Conversation("modern", rec)  # bubbles embedded in ``conversation``
    low, high = _range(f"bubbleId:{cid}:")
    sql = "SELECT key, value FROM cursorDiskKV WHERE key >= ? AND key < ?"
    stored = {k: row_text(v) for k, v in conn.execute(sql, (low, high)) if v is not None}
    ids = [h.get("bubbleId") for h in headers if isinstance(h, dict)]
    rows = tuple((f"{low}{b}", stored.get(f"{low}{b}")) for b in ids if isinstance(b, str))
    return _Conversation("modern", rec, rows)


def _legacy_draft(bubble: dict[str, Any], n: int) -> MessageDraft | None:
    """A legacy composer (type 1/2) or chat-tab (type user/ai) bubble."""
    roles: dict[object, str] = {1: "user", 2: "assistant", "user": "user", "ai": "assistant"}
    kind = bubble.get("type")
    role = roles.get(kind) if isinstance(kind, int | str) else None
    if role is None:
        return None
    draft = MessageDraft(role, n, model=bubble.get("modelType") if role == "assistant" else None)
    text = bubble.get("text") or bubble.get("rawText") or ""
    draft.texts.append(text if isinstance(text, str) else "")
    return draft


def _modern_draft(bubble: dict[str, Any], n: int, model: str | None) -> MessageDraft | None:
    """A modern bubble: text (or its rich text), thinking, and one ``toolFormerData`` call."""
    kind = bubble.get("type")
    role = {1: "user", 2: "assistant"}.get(kind) if isinstance(kind, int) else None
    if role is None:
        return None
    info = bubble.get("modelInfo")
    info = info if isinstance(info, dict) else {}
    own_model = (info.get("modelName") or model) if role == "assistant" else None
    draft = MessageDraft(role, n, iso_utc(bubble.get("createdAt")), own_model)
    text = bubble.get("text")
    draft.texts.append(text if isinstance(text, str) and text else _rich_text(bubble))
    thinking = bubble.get("thinking")
    if isinstance(thinking, dict) and isinstance(thinking.get("text"), str):
        draft.thinking.append(thinking["text"])
    tool = bubble.get("toolFormerData")
    if isinstance(tool, dict) and tool.get("name"):
        args, result = as_text(tool.get("rawArgs")), as_text(tool.get("result"))
        failed = tool.get("status") == "error"
        draft.calls.append(PendingCall(str(tool["name"]), args, output=result, is_error=failed))
    return draft


def _rich_text(bubble: dict[str, Any]) -> str:
    """The text nodes of a Lexical ``richText`` document, for bubbles without ``text``."""
    doc = json_or_none(bubble.get("richText")) if isinstance(bubble.get("richText"), str) else None
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
    for db in sorted(user.glob(f"workspaceStorage/*/*{DB_SUFFIX}")):
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
