"""Helpers shared by the source adapters, and the ``problems`` list of file-based adapters."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.capture.sources import adapter
from sync.capture.sources.base import ParseIssue
from sync.capture.sources.common import (
    MessageDraft,
    PendingCall,
    as_text,
    file_item,
    find_files,
    iso_utc,
    jsonl_records,
    project_name,
)

SOURCES = Path(__file__).resolve().parents[4] / "sync" / "capture" / "sources"
ADAPTER_MODULES = {"claude", "codex", "cursor", "opencode", "openclaw"}


def test_iso_utc_reads_iso_strings_epoch_seconds_and_ms() -> None:
    assert iso_utc(1767225600) == "2026-01-01T00:00:00Z"
    assert iso_utc(1767225600000) == "2026-01-01T00:00:00Z"
    assert iso_utc(1767225600.5) == "2026-01-01T00:00:00Z"
    assert iso_utc("2026-01-01T01:00:00+01:00") == "2026-01-01T00:00:00Z"
    assert iso_utc(" 2026-01-01T00:00:00 ") == "2026-01-01T00:00:00Z"  # naive is UTC
    assert [iso_utc(v) for v in (None, "", "soon", True, 1e30, [1])] == [None] * 6


def test_project_name_from_posix_and_windows_paths() -> None:
    assert project_name("/home/dev/shop/") == "shop"
    assert project_name("C:\\Users\\dev\\shop") == "shop"
    assert [project_name(v) for v in (None, "", "/", "\\\\")] == [None] * 4


def test_jsonl_records_report_bad_lines() -> None:
    raw = b'{"a": 1}\n{oops\n[1, 2]\n\xff\xfe\n\n{"b": 2}\n{"c":'
    issues: list[ParseIssue] = []
    records = list(jsonl_records(raw, "f.jsonl", issues))
    assert records == [(1, {"a": 1}), (6, {"b": 2})]
    assert [(i.path, i.line, i.reason) for i in issues] == [
        ("f.jsonl", 2, "invalid JSON (Expecting property name enclosed in double quotes)"),
        ("f.jsonl", 3, "not a JSON object (list)"),
        ("f.jsonl", 4, "not valid UTF-8"),
        ("f.jsonl", 7, "truncated last line"),
    ]
    issues.clear()
    list(jsonl_records(b"{oops\n", "f", issues, bad_json="invalid JSON: {}"))
    assert issues[0].reason.startswith("invalid JSON: Expecting")


def test_as_text_and_draft_freeze() -> None:
    assert (as_text(None), as_text("x"), as_text({"b": 1, "a": "é"})) == (
        "",
        "x",
        '{"b": 1, "a": "é"}',
    )
    assert as_text({"b": 1, "a": 2}, sort_keys=True) == '{"a": 2, "b": 1}'
    draft = MessageDraft("assistant", 3, "2026-01-01T00:00:00Z", "m", end_line=5)
    draft.texts += ["", "done", ""]
    draft.calls.append(PendingCall("bash", "ls", output="a", is_error=True))
    message = draft.freeze()
    assert message is not None
    assert (message.text, message.line, message.end_line, message.model) == ("done", 3, 5, "m")
    assert [(c.name, c.input, c.output, c.is_error) for c in message.tool_calls] == [
        ("bash", "ls", "a", True)
    ]
    assert MessageDraft("user", 1, texts=["", ""]).freeze() is None


def test_file_item_only_for_regular_files(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("{}\n")
    item = file_item("claude", path, "s")
    assert item is not None and (item.key, item.size) == (f"claude:{path}", 3)
    assert file_item("claude", tmp_path, "x") is None
    assert file_item("claude", tmp_path / "gone.jsonl", "x") is None


@pytest.fixture
def locked_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tree whose ``locked/`` folder cannot be listed (as with chmod 000 for a normal user)."""
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "rollout-hidden.jsonl").write_text("{}\n")
    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "rollout-seen.jsonl").write_text("{}\n")
    real = os.scandir

    def scandir(path: str | os.PathLike[str]) -> Iterator[os.DirEntry[str]]:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return tmp_path


def test_find_files_reports_unlistable_folders(locked_folder: Path) -> None:
    problems: list[ParseIssue] = []
    found = find_files(locked_folder, ".jsonl", problems)
    assert [p.name for p in found] == ["rollout-seen.jsonl"]
    assert [(p.path, p.line) for p in problems] == [(str(locked_folder / "locked"), None)]
    assert problems[0].reason == "cannot list folder: Permission denied"
    assert find_files(locked_folder / "absent", ".jsonl", problems) == [] and len(problems) == 1


@pytest.mark.parametrize("agent", ["claude", "codex", "openclaw"])
def test_file_adapters_record_unlistable_folders(agent: str, locked_folder: Path) -> None:
    source = adapter(agent)
    items = list(source.discover(locked_folder))
    assert [i.path.name for i in items] == ["rollout-seen.jsonl"]
    problems = source.problems  # type: ignore[attr-defined]
    assert [p.path for p in problems] == [str(locked_folder / "locked")]
    list(source.discover(locked_folder / "open"))
    assert source.problems == []  # type: ignore[attr-defined]


def test_no_adapter_imports_another() -> None:
    for module in sorted(SOURCES.glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        imported = {
            name.split(".")[-1]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
            for name in [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            if name.startswith("sync.capture.sources.")
        }
        assert not imported & (ADAPTER_MODULES - {module.stem}), module.name
