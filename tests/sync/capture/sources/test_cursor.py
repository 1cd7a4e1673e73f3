"""Cursor adapter: modern and legacy ``state.vscdb`` conversations, and Agent CLI transcripts."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from sync.capture.sources import adapter
from sync.capture.sources.base import SourceError, SourceItem
from sync.capture.sources.cursor import CursorAdapter
from tests.conftest import SHARED_DATA

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "sources" / "cursor"
SESSION = "7f3c2a10-0000-4000-8000-000000000001"
T0 = 1767225600000  # 2026-01-01T00:00:00Z in epoch ms


def make_db(path: Path, items: dict[str, object], kv: dict[str, object] | None = None) -> Path:
    """A ``state.vscdb`` with ``ItemTable`` (and ``cursorDiskKV`` when ``kv`` is given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    tables = ["ItemTable"] + (["cursorDiskKV"] if kv is not None else [])
    for table in tables:
        conn.execute(f"CREATE TABLE {table} (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    for table, rows in (("ItemTable", items), ("cursorDiskKV", kv or {})):
        for key, value in rows.items():
            raw = value if isinstance(value, str | bytes) else json.dumps(value)
            conn.execute(f"INSERT INTO {table} VALUES (?, ?)", (key, raw))
    conn.commit()
    conn.close()
    return path


def lexical(text: str) -> str:
    node = {"type": "text", "text": text, "version": 1}
    para = {"type": "paragraph", "children": [node]}
    return json.dumps({"root": {"type": "root", "children": [para]}})


def modern_rows() -> dict[str, object]:
    bubbles: dict[str, object] = {
        "b1": {"type": 1, "text": "Make uploads retry on 503", "createdAt": "2026-01-01T00:01:00Z"},
        "b2": {
            "type": 2,
            "text": "I'll look at the HTTP client.",
            "thinking": {"text": "Check the client first."},
            "createdAt": "2026-01-01T00:01:05.250Z",
        },
        "b3": "{not json",
        "b4": {
            "type": 2,
            "text": "",
            "toolFormerData": {
                "name": "run_terminal_cmd",
                "rawArgs": '{"command": "pytest -q"}',
                "result": {"output": "2 passed"},
                "status": "completed",
            },
        },
        "b5": {
            "type": 2,
            "text": "",
            "toolFormerData": {"name": "edit_file", "rawArgs": "{}", "status": "error"},
        },
        "b6": {"type": 1, "text": "", "richText": lexical("Thanks, merged")},
    }
    headers = [{"bubbleId": b, "type": 1 if b in ("b1", "b6") else 2} for b in bubbles]
    headers.insert(4, {"bubbleId": "gone", "type": 2})
    kv: dict[str, object] = {f"bubbleId:c-modern:{b}": v for b, v in bubbles.items()}
    kv["composerData:c-modern"] = {
        "_v": 10,
        "composerId": "c-modern",
        "name": "Retry uploads",
        "createdAt": T0,
        "lastUpdatedAt": T0 + 300_000,
        "modelConfig": {"modelName": "claude-4-sonnet"},
        "fullConversationHeadersOnly": headers,
    }
    kv["composerData:c-draft"] = {"composerId": "c-draft", "fullConversationHeadersOnly": []}
    kv["composerData:c-embedded"] = {
        "composerId": "c-embedded",
        "conversation": [{"type": 1, "text": "hi"}, {"type": 2, "text": "hello"}],
    }
    kv["bubbleId:c-modern-x:b1"] = {"type": 1, "text": "another composer"}
    return kv


def legacy_items() -> dict[str, object]:
    composers = {
        "allComposers": [
            {
                "composerId": "c-old",
                "name": "Fix CI",
                "createdAt": T0,
                "lastUpdatedAt": T0 + 60_000,
                "conversation": [
                    {"type": 1, "bubbleId": "x1", "text": "Why is CI red?"},
                    {"type": 2, "bubbleId": "x2", "text": "The lint step fails on E501."},
                ],
            },
            {"composerId": "c-empty", "conversation": []},
        ],
        "composerDataVersion": 0,
    }
    chats = {
        "tabs": [
            {
                "tabId": "t-1",
                "chatTitle": "Docker question",
                "lastSendTime": T0 + 120_000,
                "bubbles": [
                    {"type": "user", "id": "u1", "text": "How do I slim the image?"},
                    {
                        "type": "ai",
                        "id": "a1",
                        "text": "Use a multi-stage build.",
                        "modelType": "gpt-4",
                    },
                    {"type": "user", "id": "u2", "text": ""},
                ],
            }
        ]
    }
    return {
        "composer.composerData": composers,
        "workbench.panel.aichat.view.aichat.chatdata": chats,
    }


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    """A Cursor ``User`` folder: modern global DB, its workspace index, and a legacy workspace."""
    user = tmp_path / "Cursor" / "User"
    make_db(user / "globalStorage" / "state.vscdb", {"other.key": "{}"}, modern_rows())
    index = {"allComposers": [{"composerId": "c-modern", "lastUpdatedAt": T0}]}
    ws = user / "workspaceStorage" / "ws-modern"
    make_db(ws / "state.vscdb", {"composer.composerData": index})
    (ws / "workspace.json").write_text(json.dumps({"folder": "file:///home/dev/shop"}))
    old = user / "workspaceStorage" / "ws-legacy"
    make_db(old / "state.vscdb", legacy_items())
    (old / "workspace.json").write_text(json.dumps({"folder": "file:///home/dev/legacy%20app"}))
    return user


def by_locator(root: Path) -> dict[str, SourceItem]:
    return {item.locator: item for item in CursorAdapter().discover(root)}


def test_registry_returns_cursor_adapter() -> None:
    assert isinstance(adapter("cursor"), CursorAdapter)


def test_discover_yields_one_item_per_conversation(user_dir: Path) -> None:
    items = by_locator(user_dir)
    assert set(items) == {"c-modern", "c-embedded", "c-old", "t-1"}  # drafts and index skipped
    modern = items["c-modern"]
    db = user_dir / "globalStorage" / "state.vscdb"
    assert modern.key == f"cursor:{db}#c-modern"
    assert modern.path == db and modern.session_id == "c-modern" and modern.agent == "cursor"
    assert modern.mtime_ns == (T0 + 300_000) * 1_000_000
    assert items["t-1"].mtime_ns == (T0 + 120_000) * 1_000_000
    assert items["c-embedded"].mtime_ns == db.stat().st_mtime_ns  # no lastUpdatedAt
    assert all(item.size > 0 for item in items.values())


def test_modern_composer_parses_bubbles_in_header_order(user_dir: Path) -> None:
    ad = CursorAdapter()
    t = ad.parse(by_locator(user_dir)["c-modern"])
    assert (t.agent, t.session_id, t.title) == ("cursor", "c-modern", "Retry uploads")
    assert (t.started, t.ended) == ("2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z")
    assert (t.cwd, t.project) == ("/home/dev/shop", "shop")  # from the workspace index
    assert [m.role for m in t.messages] == ["user", "assistant", "assistant", "assistant", "user"]
    user, reply, run, edit, thanks = t.messages
    assert user.text == "Make uploads retry on 503" and user.time == "2026-01-01T00:01:00Z"
    assert user.line == 1 and user.model is None
    assert reply.thinking == "Check the client first." and reply.time == "2026-01-01T00:01:05Z"
    assert reply.model == "claude-4-sonnet"
    assert run.text == "" and len(run.tool_calls) == 1
    call = run.tool_calls[0]
    assert (call.name, call.input) == ("run_terminal_cmd", '{"command": "pytest -q"}')
    assert json.loads(call.output) == {"output": "2 passed"} and call.is_error is False
    assert edit.tool_calls[0].name == "edit_file" and edit.tool_calls[0].is_error is True
    assert thanks.text == "Thanks, merged"  # from richText
    assert t.models == ("claude-4-sonnet",)


def test_corrupt_and_missing_bubbles_are_issues(user_dir: Path) -> None:
    t = CursorAdapter().parse(by_locator(user_dir)["c-modern"])
    db = str(user_dir / "globalStorage" / "state.vscdb")
    assert [(i.path, i.line) for i in t.issues] == [(db, 3), (db, 5)]
    assert t.issues[0].reason == "bubbleId:c-modern:b3: invalid JSON"
    assert t.issues[1].reason == "bubbleId:c-modern:gone: row missing"
    assert len(t.messages) == 5  # the rest still parses


def test_embedded_modern_conversation(user_dir: Path) -> None:
    t = CursorAdapter().parse(by_locator(user_dir)["c-embedded"])
    assert [(m.role, m.text) for m in t.messages] == [("user", "hi"), ("assistant", "hello")]


def test_legacy_composer_and_chat_tab(user_dir: Path) -> None:
    items = by_locator(user_dir)
    ad = CursorAdapter()
    old = ad.parse(items["c-old"])
    assert old.title == "Fix CI" and old.cwd == "/home/dev/legacy app"
    assert [(m.role, m.line) for m in old.messages] == [("user", 1), ("assistant", 2)]
    assert old.messages[1].text == "The lint step fails on E501."
    assert (old.started, old.ended) == ("2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z")
    chat = ad.parse(items["t-1"])
    assert chat.title == "Docker question" and chat.ended == "2026-01-01T00:02:00Z"
    assert [m.role for m in chat.messages] == ["user", "assistant"]  # empty draft bubble dropped
    assert chat.messages[1].model == "gpt-4" and chat.models == ("gpt-4",)
    assert chat.issues == ()


def test_item_bytes_is_canonical_rows(user_dir: Path) -> None:
    ad = CursorAdapter()
    item = by_locator(user_dir)["c-modern"]
    raw = ad.item_bytes(item)
    assert raw == ad.item_bytes(item)
    doc = json.loads(raw)
    assert doc["record"]["composerId"] == "c-modern"
    assert [key.rsplit(":", 1)[1] for key, _ in doc["rows"]] == [
        "b1",
        "b2",
        "b3",
        "b4",
        "gone",
        "b5",
        "b6",
    ]
    assert doc["rows"][2][1] == "{not json" and doc["rows"][4][1] is None
    conn = sqlite3.connect(item.path)
    conn.execute(
        "UPDATE cursorDiskKV SET value = ? WHERE key = ?",
        ('{"type": 1, "text": "x"}', "bubbleId:c-modern:b1"),
    )
    conn.commit()
    conn.close()
    assert ad.item_bytes(item) != raw


def test_databases_are_never_written(user_dir: Path) -> None:
    dbs = sorted(user_dir.rglob("*.vscdb"))
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in dbs}
    ad = CursorAdapter()
    for item in ad.discover(user_dir):
        ad.parse(item)
        ad.item_bytes(item)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in dbs} == before
    assert (
        sorted(p.name for p in user_dir.rglob("*") if p.is_file() and "vscdb" in p.name)
        == ["state.vscdb"] * 3
    )  # no journal, WAL or shm file left behind


def test_locked_database_is_read_as_immutable(user_dir: Path) -> None:
    db = user_dir / "workspaceStorage" / "ws-legacy" / "state.vscdb"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # what a running Cursor can do
    try:
        items = list(CursorAdapter().discover(db))
        assert {i.locator for i in items} == {"c-old", "t-1"}
        assert len(CursorAdapter().parse(items[0]).messages) == 2
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_corrupt_composer_record_raises_source_error(tmp_path: Path) -> None:
    db = make_db(tmp_path / "state.vscdb", {}, {"composerData:bad": "{oops"})
    items = list(CursorAdapter().discover(tmp_path))
    assert [i.locator for i in items] == ["bad"]
    with pytest.raises(SourceError, match="composerData:bad: invalid JSON"):
        CursorAdapter().parse(items[0])
    assert items[0].path == db


def test_unreadable_database(tmp_path: Path) -> None:
    db = tmp_path / "state.vscdb"
    db.write_bytes(b"this is not sqlite at all" * 100)
    assert list(CursorAdapter().discover(tmp_path)) == []
    item = SourceItem("cursor", f"cursor:{db}#x", db, "x", 1, 1, "x")
    with pytest.raises(SourceError) as err:
        CursorAdapter().parse(item)
    assert err.value.path == str(db)


def test_unreadable_database_among_good_ones_is_a_problem(user_dir: Path) -> None:
    bad = user_dir / "workspaceStorage" / "ws-broken" / "state.vscdb"
    bad.parent.mkdir()
    bad.write_bytes(b"this is not sqlite at all" * 100)
    ad = CursorAdapter()
    assert {i.locator for i in ad.discover(user_dir)} == {"c-modern", "c-embedded", "c-old", "t-1"}
    (problem,) = ad.problems
    assert (problem.path, problem.line) == (str(bad), None)
    assert problem.reason.startswith("cannot open the database read-only")
    bad.unlink()
    assert len(list(ad.discover(user_dir))) == 4 and ad.problems == []  # reset on each call


def test_any_vscdb_with_cursor_tables_is_read(tmp_path: Path) -> None:
    make_db(tmp_path / "state.chatkeys.vscdb", legacy_items())
    other = sqlite3.connect(tmp_path / "other.vscdb")  # a VS Code store without Cursor's tables
    other.execute("CREATE TABLE unrelated (key TEXT, value BLOB)")
    other.commit()
    other.close()
    ad = CursorAdapter()
    items = list(ad.discover(tmp_path))
    assert sorted(i.locator for i in items) == ["c-old", "t-1"]
    assert {i.path.name for i in items} == {"state.chatkeys.vscdb"} and ad.problems == []


def test_cli_transcripts() -> None:
    items = list(CursorAdapter().discover(FIXTURES))
    assert [i.session_id for i in items] == [SESSION, "b21e0d44-0000-4000-8000-000000000002"]
    main = items[0]
    assert main.locator == "" and main.key == f"cursor:{main.path}"
    assert main.size == main.path.stat().st_size
    t = CursorAdapter().parse(main)
    assert [(m.role, m.line) for m in t.messages] == [
        ("user", 1),
        ("assistant", 2),
        ("assistant", 6),
        ("assistant", 8),
        ("user", 9),
    ]
    ask, run, read, decided, thanks = t.messages
    assert ask.text == "Add a retry to the uploader in shop/upload.py"  # context dropped
    assert run.thinking == "First run the tests to see what fails."
    shell = run.tool_calls[0]
    assert (shell.name, shell.output, shell.is_error) == (
        "Shell",
        "1 failed: test_upload_retries",
        True,
    )
    assert json.loads(shell.input) == {"command": "pytest -q tests/test_upload.py"}
    assert read.tool_calls[0].name == "Read" and read.tool_calls[0].output.startswith("def upload")
    assert decided.model == "gpt-5" and t.models == ("gpt-5",)
    assert thanks.text == "thanks, ship it"
    assert [(i.line, i.reason) for i in t.issues] == [
        (5, "not a JSON object"),
        (10, "truncated last line"),
    ]
    assert t.ended is not None and t.ended.endswith("Z")
    child = CursorAdapter().parse(items[1])
    assert child.meta["parent_session"] == SESSION and len(child.messages) == 2
    assert CursorAdapter().item_bytes(main) == main.path.read_bytes()


def test_default_roots(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    assert CursorAdapter().default_roots(tmp_path) == [
        tmp_path / ".config" / "Cursor" / "User",
        tmp_path / ".cursor",
    ]
    monkeypatch.setattr(sys, "platform", "darwin")
    roots = CursorAdapter().default_roots(tmp_path)
    assert roots[0] == tmp_path / "Library" / "Application Support" / "Cursor" / "User"
    monkeypatch.setattr(sys, "platform", "win32")
    assert CursorAdapter().default_roots(tmp_path)[0].parts[-4:] == (
        "AppData",
        "Roaming",
        "Cursor",
        "User",
    )


REAL_DB = SHARED_DATA / "cursor" / "slevin48_cursor-history_legacy_workspace"
CLI = SHARED_DATA / "schema_fixtures" / "jazzyalex_agent-sessions" / "cursor_agent_cli"
CLI_MORE = SHARED_DATA / "schema_fixtures" / "jazzyalex_agent-sessions" / "cursor"


def test_real_legacy_workspace_database() -> None:
    db = REAL_DB / "state.chatkeys.vscdb"
    if not db.exists():
        pytest.skip("shared Cursor data is absent")
    before = (db.stat().st_mtime_ns, db.stat().st_size)
    ad = CursorAdapter()
    items = list(ad.discover(db))
    transcripts = [ad.parse(item) for item in items]  # no SourceError
    formats = [t.meta["format"] for t in transcripts]
    assert (formats.count("composer"), formats.count("chat")) == (26, 5)
    assert all(t.messages and not t.issues for t in transcripts)
    assert sum(len(t.messages) for t in transcripts) == 126
    chats = [t for t in transcripts if t.meta["format"] == "chat"]
    assert all(t.title and t.ended and t.models == ("claude-3.5-sonnet",) for t in chats)
    assert all(t.messages[0].role == "user" for t in transcripts)
    assert (db.stat().st_mtime_ns, db.stat().st_size) == before


def test_real_cli_transcripts() -> None:
    if not CLI.exists():
        pytest.skip("shared Cursor CLI fixtures are absent")
    ad = CursorAdapter()
    found = {i.path.name: ad.parse(i) for i in ad.discover(CLI)}
    assert set(found) == {"test-session.jsonl", "subagent-session.jsonl"}  # store.db is not one
    main = found["test-session.jsonl"]
    assert [m.role for m in main.messages] == ["user", "assistant", "assistant"] * 2
    assert [c.name for m in main.messages for c in m.tool_calls] == ["Shell", "Shell"]
    assert not any("<user_query>" in m.text for m in main.messages) and main.issues == ()
    assert len(found["subagent-session.jsonl"].messages) == 3


def test_real_schema_drift_transcripts() -> None:
    if not CLI_MORE.exists():
        pytest.skip("shared Cursor schema fixtures are absent")
    ad = CursorAdapter()
    found = {i.path.stem: ad.parse(i) for i in ad.discover(CLI_MORE)}
    assert {k: len(t.messages) for k, t in found.items()} == {
        "large": 8,
        "schema_drift": 3,
        "small": 4,
    }
    calls = [c for m in found["large"].messages for c in m.tool_calls]
    assert [(c.name, bool(c.output)) for c in calls] == [("Bash", True), ("Read", True)]
    drift = [c for m in found["schema_drift"].messages for c in m.tool_calls]
    assert drift[0].name == "read_file" and "Example.swift" in drift[0].output
    assert all(not t.issues for t in found.values())
