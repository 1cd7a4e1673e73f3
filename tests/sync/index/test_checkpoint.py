from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from sync.errors import CheckpointError
from sync.index.checkpoint import (
    Checkpoint,
    IndexedEntry,
    Journal,
    load_checkpoint,
    save_checkpoint,
)


def entry(mid: str) -> IndexedEntry:
    return IndexedEntry(mid, f"p-{mid}", "h", "r", 1, 2, 3, "model", "decision", 10)


def test_journal_replays_after_a_crash_and_ignores_a_torn_last_line(tmp_path: Path) -> None:
    cp_path, j_path = tmp_path / "state.json", tmp_path / "journal.jsonl"
    save_checkpoint(Checkpoint(entries={"a.md": entry("a")}), cp_path, j_path)
    journal = Journal(j_path)
    journal.record({"op": "indexed", "path": "b.md", "entry": asdict(entry("b")), "replaces": None})
    journal.record({"op": "deleted", "path": "a.md"})
    journal.commit()
    journal.close()
    with j_path.open("a") as fh:
        fh.write('{"op": "indexed", "path": "c.md", "ent')  # killed mid-write
    loaded = load_checkpoint(cp_path, j_path)
    assert set(loaded.entries) == {"b.md"}
    save_checkpoint(loaded, cp_path, j_path)
    assert not j_path.exists()
    assert set(load_checkpoint(cp_path, j_path).entries) == {"b.md"}


def test_bad_journal_line_in_the_middle_is_reported_not_fatal(tmp_path: Path) -> None:
    j_path = tmp_path / "journal.jsonl"
    good = json.dumps({"op": "indexed", "path": "b.md", "entry": asdict(entry("b"))})
    j_path.write_text("garbage\n" + good + "\n")
    loaded = load_checkpoint(tmp_path / "missing.json", j_path)
    assert set(loaded.entries) == {"b.md"}
    assert "journal.jsonl:1" in loaded.warnings[0]


def test_corrupt_checkpoint_gives_the_fix(tmp_path: Path) -> None:
    cp_path = tmp_path / "state.json"
    cp_path.write_text("{not json")
    with pytest.raises(CheckpointError, match="--force"):
        load_checkpoint(cp_path, tmp_path / "j")
