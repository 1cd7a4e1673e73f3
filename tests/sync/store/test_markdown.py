from __future__ import annotations

import pytest

from sync.errors import MemoryFileError
from sync.hashing import content_hash
from sync.models import Memory
from sync.store.markdown import decode_text, parse_memory, render_memory


def test_render_then_parse_round_trips_every_field() -> None:
    memory = Memory(
        id="mem-1",
        kind="decision",
        title="Use: YAML-looking title # not a comment",
        body="Body with --- inside\n\nand a second paragraph.",
        tags=("db", "queue"),
        confidence=0.9,
        source={"agent": "claude", "session": "abc", "lines": [1, 9]},
        created="2026-11-21T12:00:00Z",
        updated="2026-11-21T12:00:00Z",
        supersedes=("mem-0",),
        extra={"custom": {"nested": True}},
    )
    parsed = parse_memory(render_memory(memory), "decisions/x.md")
    assert parsed == memory
    assert content_hash(parsed) == content_hash(memory)


def test_hand_written_file_without_frontmatter_is_accepted() -> None:
    parsed = parse_memory("# Flaky tests\n\nUse tmp_path, not /tmp.\n", "learnings/flaky.md")
    assert parsed.kind == "learning"  # from the folder
    assert parsed.title == "Flaky tests"  # from the first heading
    assert parsed.id.startswith("path-")  # stable id derived from the path
    assert parse_memory("no heading here", "learnings/flaky.md").title == "flaky"


def test_archived_folder_keeps_the_kind_of_its_subfolder() -> None:
    assert parse_memory("text", "archived/decisions/a.md").kind == "decision"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("---\ntitle: [unclosed\n---\nbody", "invalid YAML frontmatter at line 3"),
        ("---\ntitle: x\nbody without closing fence", "no closing '---'"),
        ("---\n- a list\n---\nbody", "must be a mapping"),
        ("---\nconfidence: 7\n---\nbody", "field 'confidence'"),
        ("---\nconfidence: yes\n---\nbody", "field 'confidence'"),
        ("---\nkind: Not A Kind\n---\nbody", "field 'kind'"),
        ("---\ntags: {a: 1}\n---\nbody", "field 'tags'"),
        ("---\ntitle: {a: 1}\n---\nbody", "field 'title'"),
        ("---\nsource: [1, 2]\n---\nbody", "field 'source'"),
    ],
)
def test_malformed_frontmatter_names_the_file_and_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(MemoryFileError) as err:
        parse_memory(text, "decisions/bad.md")
    assert err.value.path == "decisions/bad.md"
    assert fragment in str(err.value)


def test_alias_bomb_is_rejected() -> None:
    bomb = "---\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 8):
        bomb += f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]\n"
    bomb += "---\nbody"
    with pytest.raises(MemoryFileError, match="too large once its aliases"):
        parse_memory(bomb, "decisions/bomb.md")


def test_binary_and_non_utf8_files_are_refused() -> None:
    with pytest.raises(MemoryFileError, match="binary"):
        decode_text(b"\x89PNG\x00\x00", "decisions/img.md")
    with pytest.raises(MemoryFileError, match="not UTF-8"):
        decode_text(b"caf\xe9", "decisions/latin1.md")


def test_tags_as_comma_string_and_dates_are_normalised() -> None:
    parsed = parse_memory(
        "---\ntags: a, b ,a\ncreated: 2026-11-21T10:00:00Z\nupdated: 2026-11-22\n---\nx", "d/x.md"
    )
    assert parsed.tags == ("a", "b")
    assert parsed.created == "2026-11-21T10:00:00Z"
    assert parsed.updated == "2026-11-22"


def test_frontmatter_is_emitted_by_yaml_not_pasted() -> None:
    memory = Memory(id="x", kind="decision", title="a\n---\nid: injected", body="b")
    parsed = parse_memory(render_memory(memory), "decisions/x.md")
    assert parsed.title == "a\n---\nid: injected"
    assert parsed.id == "x"
