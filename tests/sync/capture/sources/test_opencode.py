"""OpenCode adapter: the ``opencode.db`` SQLite store and the older ``storage/`` JSON tree."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from sync.capture.sources import adapter
from sync.capture.sources.base import SourceError, SourceItem, Transcript
from sync.capture.sources.opencode import OpenCodeAdapter
from tests.conftest import SHARED_DATA

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "sources" / "opencode"
STORAGE = FIXTURES / "storage"
T0 = 1767225600000  # 2026-01-01T00:00:00Z in epoch ms
SCHEMA = """
CREATE TABLE session (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, parent_id TEXT,
  slug TEXT, directory TEXT NOT NULL, title TEXT NOT NULL, version TEXT NOT NULL,
  share_url TEXT, summary_additions INTEGER, summary_deletions INTEGER, summary_files INTEGER,
  summary_diffs TEXT, revert TEXT, permission TEXT, time_created INTEGER NOT NULL,
  time_updated INTEGER NOT NULL, time_compacting INTEGER, time_archived INTEGER);
CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT NOT NULL,
  time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE part (id TEXT PRIMARY KEY, message_id TEXT NOT NULL, session_id TEXT NOT NULL,
  time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL);
"""


def build_db(path: Path) -> Path:
    """An ``opencode.db`` holding the storage fixture's sessions, as OpenCode ≥1.2 stores them."""
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    for file in sorted((STORAGE / "session").glob("*/*.json")):
        s = json.loads(file.read_text())
        conn.execute(
            "INSERT INTO session (id, project_id, parent_id, directory, title, version,"
            " time_created, time_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (s["id"], s["projectID"], s.get("parentID"), s["directory"], s["title"],
             s["version"], s["time"]["created"], s["time"]["updated"]),
        )  # fmt: skip
        for mfile in sorted((STORAGE / "message" / s["id"]).glob("*.json")):
            try:
                m = json.loads(mfile.read_text())
            except ValueError:
                continue  # the corrupt file: the database gets a corrupt part row instead
            mid, created = m.pop("id"), m["time"]["created"]
            m.pop("sessionID")
            row = (mid, s["id"], created, created, json.dumps(m))
            conn.execute("INSERT INTO message VALUES (?, ?, ?, ?, ?)", row)
            for pfile in sorted((STORAGE / "part" / mid).glob("*.json")):
                try:
                    p = json.loads(pfile.read_text())
                except ValueError:
                    continue
                pid = p.pop("id")
                p.pop("messageID"), p.pop("sessionID")
                row = (pid, mid, s["id"], created, created, json.dumps(p))
                conn.execute("INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)", row)
    conn.execute(
        "INSERT INTO part VALUES ('prt_004009', 'msg_004', 'ses_main', ?, ?, '{broken')",
        (T0 + 31000, T0 + 31000),
    )
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "opencode.db")


def sessions(root: Path) -> dict[str, tuple[SourceItem, Transcript]]:
    ad = OpenCodeAdapter()
    return {i.session_id: (i, ad.parse(i)) for i in ad.discover(root)}


def assert_main_session(t: Transcript) -> None:
    """What both storage formats must yield for the fixture's main session."""
    assert (t.agent, t.session_id, t.title) == ("opencode", "ses_main", "Add upload retries")
    assert (t.cwd, t.project) == ("/home/dev/shop", "shop")
    assert (t.started, t.ended) == ("2026-01-01T00:00:00Z", "2026-01-01T00:01:30Z")
    assert [m.role for m in t.messages] == ["user", "assistant", "user", "assistant"]
    ask, work, follow, done = t.messages
    assert ask.text == "Make uploads retry on 503\n\n[file: upload.py]"  # synthetic part dropped
    assert ask.time == "2026-01-01T00:00:01Z" and ask.model is None and ask.line == 1
    assert work.thinking == "The client lacks a retry loop."
    assert work.text == "Added a retry with backoff." and work.model == "claude-sonnet-4"
    bash, edit = work.tool_calls
    assert (bash.name, json.loads(bash.input), bash.output, bash.is_error) == (
        "bash",
        {"command": "pytest -q"},
        "1 failed",
        False,
    )
    assert (edit.name, edit.output, edit.is_error) == (
        "edit",
        "File upload.py has not been read yet",
        True,
    )
    assert follow.text == "Use three attempts"
    assert done.text == "Done: three attempts, exponential backoff." and done.model == "gpt-5"
    assert t.models == ("claude-sonnet-4", "gpt-5")
    assert t.meta == {}


def test_registry_returns_opencode_adapter() -> None:
    assert isinstance(adapter("opencode"), OpenCodeAdapter)


def test_storage_tree_sessions() -> None:
    found = sessions(FIXTURES)  # the data folder: storage/ is found inside it
    assert set(found) == {"ses_main", "ses_child"}
    item, t = found["ses_main"]
    path = STORAGE / "session" / "prj_shop" / "ses_main.json"
    assert (item.key, item.path, item.locator) == (f"opencode:{path}", path, "")
    files = [path, *(STORAGE / "message" / "ses_main").glob("*.json")]
    files += [
        p for m in ("001", "002", "003", "004") for p in (STORAGE / "part").glob(f"msg_{m}/*")
    ]
    assert item.size == sum(f.stat().st_size for f in files)
    assert item.mtime_ns == max(f.stat().st_mtime_ns for f in files)
    assert_main_session(t)
    assert [(Path(i.path).relative_to(STORAGE).as_posix(), i.line, i.reason) for i in t.issues] == [
        ("message/ses_main/msg_005.json", None, "invalid JSON"),
        ("part/msg_004/prt_004002.json", None, "invalid JSON"),
    ]


def test_subsession_is_its_own_item() -> None:
    _, child = sessions(STORAGE)["ses_child"]  # storage/ itself works as a root too
    assert child.meta == {"parent_session": "ses_main"}
    assert [m.role for m in child.messages] == ["user", "assistant"]
    grep = child.messages[1].tool_calls[0]
    assert grep.name == "grep" and grep.output == "shop/cart.py:12\nshop/admin.py:40"
    assert child.issues == ()


def test_storage_mtime_follows_the_newest_part(tmp_path: Path) -> None:
    root = tmp_path / "opencode"
    shutil.copytree(FIXTURES, root)
    before = sessions(root)["ses_main"][0]
    part = root / "storage" / "part" / "msg_003" / "prt_003001.json"
    part.write_text(json.dumps({"id": "prt_003001", "type": "text", "text": "Use four attempts"}))
    later = before.mtime_ns + 5_000_000_000
    os.utime(part, ns=(later, later))
    item, t = sessions(root)["ses_main"]
    assert item.mtime_ns == later and item.size != before.size
    assert t.messages[2].text == "Use four attempts"  # messageID from the folder name
    ad = OpenCodeAdapter()
    assert b"Use four attempts" in ad.item_bytes(item)
    assert ad.item_bytes(item) == ad.item_bytes(item)


def test_database_sessions(db: Path) -> None:
    found = sessions(db.parent)
    assert set(found) == {"ses_main", "ses_child"}
    item, t = found["ses_main"]
    assert (item.key, item.path, item.locator) == (f"opencode:{db}#ses_main", db, "ses_main")
    assert item.mtime_ns == (T0 + 90000) * 1_000_000
    assert_main_session(t)
    assert [(i.path, i.line, i.reason) for i in t.issues] == [
        (str(db), None, "part/prt_004009: invalid JSON")
    ]
    _, child = found["ses_child"]
    assert child.meta == {"parent_session": "ses_main"} and len(child.messages) == 2


def test_database_wins_over_a_leftover_storage_tree(db: Path) -> None:
    shutil.copytree(STORAGE, db.parent / "storage")
    assert {i.locator for i in OpenCodeAdapter().discover(db.parent)} == {"ses_main", "ses_child"}


def test_database_item_bytes_and_read_only(db: Path) -> None:
    before = (db.read_bytes(), db.stat().st_mtime_ns)
    ad = OpenCodeAdapter()
    item = next(i for i in ad.discover(db) if i.locator == "ses_main")
    raw = ad.item_bytes(item)
    ad.parse(item)
    doc = json.loads(raw)
    assert doc["session"]["id"] == "ses_main"
    assert [ref for ref, _ in doc["messages"]] == [f"message/msg_00{n}" for n in (1, 2, 3, 4)]
    assert len(doc["parts"]) == 12 and raw == ad.item_bytes(item)
    assert (db.read_bytes(), db.stat().st_mtime_ns) == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["opencode.db"]  # no journal or WAL


def test_locked_database_is_still_read(db: Path) -> None:
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert len(sessions(db)) == 2
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_missing_session_and_bad_database(db: Path, tmp_path: Path) -> None:
    gone = SourceItem("opencode", f"opencode:{db}#nope", db, "nope", 1, 1, "nope")
    with pytest.raises(SourceError, match="session nope not found"):
        OpenCodeAdapter().parse(gone)
    bad = tmp_path / "junk" / "opencode.db"
    bad.parent.mkdir()
    bad.write_bytes(b"not a database" * 64)
    assert list(OpenCodeAdapter().discover(bad.parent)) == []  # a problem, not an error
    corrupt = tmp_path / "s" / "session" / "p" / "ses_x.json"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_text("{")
    (item,) = OpenCodeAdapter().discover(tmp_path / "s")
    assert item.session_id == "ses_x"
    with pytest.raises(SourceError, match="not a JSON object"):
        OpenCodeAdapter().parse(item)


def test_unreadable_database_is_a_problem_not_an_error(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken" / "opencode.db"
    bad.parent.mkdir()
    bad.write_bytes(b"not a database" * 64)
    ad = OpenCodeAdapter()
    roots = [bad.parent, db.parent]  # one bad database among several: the others still read
    found = [i.locator for root in roots for i in ad.discover(root)]
    assert sorted(found) == ["ses_child", "ses_main"]
    assert ad.problems == []  # reset by the last discover(), which read a good database
    assert list(ad.discover(bad)) == []
    (problem,) = ad.problems
    assert (problem.path, problem.line) == (str(bad), None)
    assert problem.reason.startswith("cannot open the database read-only")
    assert list(ad.discover(db)) and ad.problems == []


def test_default_roots(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert OpenCodeAdapter().default_roots(tmp_path) == [tmp_path / ".local/share/opencode"]
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    roots = OpenCodeAdapter().default_roots(tmp_path)
    assert roots == [tmp_path / "xdg" / "opencode", tmp_path / ".local/share/opencode"]


SCHEMA_FIXTURES = SHARED_DATA / "schema_fixtures" / "jazzyalex_agent-sessions" / "opencode"


def test_real_storage_v2_fixture() -> None:
    root = SCHEMA_FIXTURES / "storage_v2"
    if not root.exists():
        pytest.skip("shared OpenCode schema fixtures are absent")
    found = sessions(root)
    assert set(found) == {"s_stage0_small", "s_stage0_large"}
    _, small = found["s_stage0_small"]
    assert [m.role for m in small.messages] == ["user", "assistant"]
    assert small.messages[1].tool_calls[0].name == "bash" and small.cwd == "/tmp/repo"
    _, large = found["s_stage0_large"]
    assert [m.role for m in large.messages] == ["user", "assistant", "user", "assistant"]
    work = large.messages[1]  # synthetic text, step, patch and compaction parts dropped
    assert work.thinking and [c.name for c in work.tool_calls] == ["bash"]
    assert work.text == "[file: error.log]"
    assert all(not t.issues for _, t in found.values())


def test_real_storage_legacy_fixture() -> None:
    root = SCHEMA_FIXTURES / "storage_legacy"
    if not root.exists():
        pytest.skip("shared OpenCode schema fixtures are absent")
    ((item, t),) = sessions(root).values()
    assert item.session_id == "s_stage0_drift" and t.issues == ()
    (reply,) = t.messages  # the user turn has no parts; flat part/*.json files are found
    assert reply.role == "assistant" and reply.model == "gpt-4o-mini"
    assert [c.name for c in reply.tool_calls] == ["bash"] and reply.tool_calls[0].output
