from __future__ import annotations

import os
from pathlib import Path

import pytest

from sync.errors import StoreNotFoundError, UnsafePathError
from sync.fsutil import atomic_write_bytes, confined
from sync.models import Memory
from sync.store import find_store, init_store, memory_rel_path, slugify, write_memory


@pytest.mark.parametrize(
    "title",
    [
        "../../etc/passwd",
        "/abs/path",
        "..",
        "a/../../b",
        "\x00x",
        "名前だけ",
        "   ",
        "CON",
        "a" * 500,
    ],
)
def test_hostile_titles_become_safe_file_names(tmp_path: Path, title: str) -> None:
    slug = slugify(title)
    assert slug and "/" not in slug and ".." not in slug and len(slug) <= 60
    layout, _ = init_store(tmp_path / ".memsync")
    memory = Memory(id="x", kind="decision", title=title, body="b")
    rel = memory_rel_path(memory, "20261121", lambda r: False)
    path = write_memory(layout.memory_dir, rel, memory)
    assert layout.memory_dir.resolve() in path.resolve().parents


def test_path_allocation_avoids_collisions() -> None:
    taken = {"decisions/20261121-x.md", "decisions/20261121-x-2.md"}
    memory = Memory(id="x", kind="decision", title="X", body="b")
    assert memory_rel_path(memory, "20261121", taken.__contains__) == "decisions/20261121-x-3.md"
    summary = Memory(id="s", kind="summary", title="Session", body="b")
    assert (
        memory_rel_path(summary, "20261121", taken.__contains__) == "summaries/20261121/session.md"
    )


@pytest.mark.parametrize("rel", ["../x.md", "/etc/x.md", "a/../../x.md", ""])
def test_confined_refuses_escapes(tmp_path: Path, rel: str) -> None:
    with pytest.raises(UnsafePathError):
        confined(tmp_path, rel)


def test_confined_refuses_symlinks_leaving_the_base(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "link").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError):
        confined(base, "link/escape.md")


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "f.txt"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert os.listdir(target.parent) == ["f.txt"]


def test_find_store_walks_upwards_and_explains_when_missing(tmp_path: Path) -> None:
    layout, created = init_store(tmp_path / "proj" / ".memsync")
    assert created and (layout.root / ".gitignore").exists()
    deep = tmp_path / "proj" / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_store(deep).root == layout.root.resolve()
    with pytest.raises(StoreNotFoundError, match="memsync init"):
        find_store(tmp_path / "elsewhere" if (tmp_path / "elsewhere").mkdir() is None else tmp_path)


def test_old_reports_are_pruned_newest_kept(tmp_path: Path) -> None:
    from sync.index.report import prune_reports

    for i in range(5):
        for suffix in (".json", ".md"):
            (tmp_path / f"sync-2026112{i}T000000Z-abcd{suffix}").write_text("{}")
    (tmp_path / "other.txt").write_text("kept")
    assert prune_reports(tmp_path, keep=2) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "other.txt",
        "sync-20261123T000000Z-abcd.json",
        "sync-20261123T000000Z-abcd.md",
        "sync-20261124T000000Z-abcd.json",
        "sync-20261124T000000Z-abcd.md",
    ]
