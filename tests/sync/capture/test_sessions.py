"""The sessions an agent distils (pure status and lookup, the distilled record) and telling a
transcript's agent from its path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sync.capture.sessions import (
    DistilledMark,
    distilled_path,
    find_session,
    load_marks,
    mark_distilled,
    session_status,
)
from sync.capture.sources.base import SourceItem
from sync.capture.sources.sniff import session_id_in, sniff_agent, sniff_items
from sync.errors import UsageError
from sync.index.checkpoint import SourceEntry
from sync.store import StoreLayout

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sources"
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def item(session: str, size: int = 100, agent: str = "claude") -> SourceItem:
    return SourceItem(
        agent, f"{agent}:/s/{session}.jsonl", Path(f"/s/{session}.jsonl"), session, size, 1
    )


def entry(size: int, extractor: str) -> SourceEntry:
    return SourceEntry("k", "claude", size, 1, "h", ("m1",), 1, "t", True, extractor)


def test_status_distilled_extracted_pending() -> None:
    it = item("a", size=100)
    mark = DistilledMark(it.key, "claude", "a", 100, 1, "t")
    assert session_status(it, None, mark) == "distilled"
    assert session_status(item("a", size=120), None, mark) == "pending"  # it grew
    assert session_status(it, entry(100, "dspy"), None) == "extracted"
    assert session_status(it, entry(100, "offline"), None) == "pending"  # the rules only
    assert session_status(item("a", size=150), entry(100, "dspy"), None) == "pending"


def test_find_session_by_key_id_or_unique_prefix() -> None:
    items = [item("abcd-1111"), item("abcd-2222"), item("ffff-0000", agent="codex")]
    assert find_session("abcd-1111", items) is items[0]
    assert find_session("codex:/s/ffff-0000.jsonl", items) is items[2]
    assert find_session("ffff", items) is items[2]
    with pytest.raises(UsageError, match="names 2 sessions"):
        find_session("abcd", items)
    with pytest.raises(UsageError, match="no session 'ab'"):
        find_session("ab", items)  # a prefix shorter than four characters is no prefix


def test_distilled_record_survives_corruption_and_merges(tmp_path: Path) -> None:
    layout = StoreLayout(tmp_path / ".memsync")
    assert load_marks(layout) == {}
    mark_distilled(layout, [item("a")], NOW)
    mark_distilled(layout, [item("b"), item("a", size=300)], NOW)
    marks = load_marks(layout)
    assert {k: m.size for k, m in marks.items()} == {
        "claude:/s/a.jsonl": 300,
        "claude:/s/b.jsonl": 100,
    }
    distilled_path(layout).write_text("{not json", encoding="utf-8")
    assert load_marks(layout) == {}  # unreadable: nothing distilled, rewritten on --done
    mark_distilled(layout, [item("c")], NOW)
    assert list(load_marks(layout)) == ["claude:/s/c.jsonl"]


@pytest.mark.parametrize(
    ("relative", "agent"),
    [
        ("claude/projects/-home-dev-demo/5f1c2d3e-0000-4000-8000-000000000001.jsonl", "claude"),
        ("codex/sessions/rollout-2025-05-01-0196c0de-1111-7222-8333-444455556666.jsonl", "codex"),
        ("openclaw/agents/main/sessions/7f3c9a12-5b6d-4e8f-9a01-23456789abcd.jsonl", "openclaw"),
        ("opencode/storage/session/prj_shop/ses_main.json", "opencode"),
    ],
)
def test_a_transcript_path_names_its_agent_and_session(relative: str, agent: str) -> None:
    path = FIXTURES / relative
    assert sniff_agent(path) == agent
    (found,) = sniff_items(path)
    assert (found.agent, found.path) == (agent, path.absolute())


def test_sniffing_refuses_what_is_no_transcript(tmp_path: Path) -> None:
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"hello": "world"}\n', encoding="utf-8")
    with pytest.raises(UsageError, match="not a transcript memsync reads"):
        sniff_agent(notes)
    with pytest.raises(UsageError, match="no such file"):
        sniff_items(tmp_path / "missing.jsonl")
    claude = FIXTURES / "claude/projects/-home-dev-demo/5f1c2d3e-0000-4000-8000-000000000001.jsonl"
    assert session_id_in(claude) == "5f1c2d3e-0000-4000-8000-000000000001"
