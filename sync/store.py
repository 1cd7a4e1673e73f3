"""The on-disk store: layout, discovery, scanning memory files, writing them safely."""

from __future__ import annotations

import os
import re
import stat as stat_mod
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.checkpoint import IndexedEntry
from sync.errors import MemoryFileError, MemsyncError, StoreNotFoundError, UnsafePathError
from sync.fsutil import atomic_write_bytes, confined
from sync.hashing import content_hash, raw_hash
from sync.markdown import decode_text, parse_memory, render_memory
from sync.models import ARCHIVE_FOLDER, KIND_FOLDERS, Memory, ScannedFile, kind_folder

STORE_DIRNAME = ".memsync"
RACY_MARGIN_NS = 2_000_000_000  # a stat within 2 s of the last read may hide a same-size edit
DEFAULT_MAX_FILE_BYTES = 1024 * 1024

_STORE_GITIGNORE = (
    "# derived data, rebuilt by `memsync sync`\n"
    "state/\nreports/\nqdrant/\nqdrant-edge/\nservice.json\n"
)


@dataclass(frozen=True)
class StoreLayout:
    """Paths of one store (the ``.memsync`` folder)."""

    root: Path

    @property
    def memory_dir(self) -> Path:
        return self.root / "memory"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def qdrant_dir(self) -> Path:
        return self.root / "qdrant"

    @property
    def qdrant_edge_dir(self) -> Path:
        return self.root / "qdrant-edge"

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    @property
    def service_path(self) -> Path:
        """Where a running `memsync serve` advertises its address."""
        return self.root / "service.json"

    @property
    def checkpoint_path(self) -> Path:
        return self.state_dir / "sync-state.json"

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "sync-journal.jsonl"

    @property
    def lock_path(self) -> Path:
        return self.state_dir / "sync.lock"


def find_store(start: Path, home: Path | None = None) -> StoreLayout:
    """The nearest ``.memsync/`` from ``start`` upwards, else ``~/.memsync`` if it exists."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / STORE_DIRNAME
        if candidate.is_dir():
            return StoreLayout(candidate)
    if home is not None and (home / STORE_DIRNAME).is_dir():
        return StoreLayout(home / STORE_DIRNAME)
    raise StoreNotFoundError(
        f"no {STORE_DIRNAME}/ store in {start} or any parent; run `memsync init` in your "
        "project, or set MEMSYNC_DIR"
    )


def init_store(root: Path) -> tuple[StoreLayout, bool]:
    """Create the store folders; returns the layout and whether anything was created."""
    layout = StoreLayout(root)
    created = not root.exists()
    for folder in (*KIND_FOLDERS.values(), ARCHIVE_FOLDER):
        path = layout.memory_dir / folder
        created |= not path.exists()
        path.mkdir(parents=True, exist_ok=True)
    for path in (layout.state_dir, layout.reports_dir):
        path.mkdir(parents=True, exist_ok=True)
    gitignore = root / ".gitignore"
    if not gitignore.exists():
        atomic_write_bytes(gitignore, _STORE_GITIGNORE.encode())
    return layout, created


def scan(
    memory_dir: Path,
    known: Mapping[str, IndexedEntry],
    *,
    now_ns: int,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    only: Iterable[str] | None = None,
) -> list[ScannedFile]:
    """Observe every ``*.md`` under memory/: stat first, read and hash only what may differ."""
    if only is not None:
        for rel in only:
            confined(memory_dir, rel)  # paths given by a caller, not found by the walk
    rel_paths = sorted(set(only)) if only is not None else _walk(memory_dir)
    return [_observe(memory_dir, rel, known.get(rel), now_ns, max_bytes) for rel in rel_paths]


def _walk(memory_dir: Path) -> list[str]:
    found: list[str] = []
    if not memory_dir.is_dir():
        return found
    for folder, dirs, files in os.walk(memory_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel_folder = os.path.relpath(folder, memory_dir)
        for name in files:
            if name.endswith(".md") and not name.startswith("."):
                rel = name if rel_folder == "." else f"{rel_folder}/{name}"
                found.append(rel.replace(os.sep, "/"))
    found.sort()
    return found


def _observe(
    memory_dir: Path, rel: str, entry: IndexedEntry | None, now_ns: int, max_bytes: int
) -> ScannedFile:
    archived = rel.startswith(ARCHIVE_FOLDER + "/")
    path = os.path.join(memory_dir, rel)
    try:
        st = os.lstat(path)
        if stat_mod.S_ISLNK(st.st_mode):  # walked paths can only leave the store via a link
            confined(memory_dir, rel)
            st = os.stat(path)
    except UnsafePathError as exc:
        return ScannedFile(rel, 0, 0, archived, error=f"{exc} (symbolic link leaving the store?)")
    except FileNotFoundError:
        return ScannedFile(rel, 0, 0, archived, error="file vanished while scanning")
    except OSError as exc:
        return ScannedFile(rel, 0, 0, archived, error=f"cannot stat: {exc.strerror}")

    def seen(**fields: Any) -> ScannedFile:
        return ScannedFile(rel, st.st_mtime_ns, st.st_size, archived, seen_ns=now_ns, **fields)

    if not stat_mod.S_ISREG(st.st_mode):
        return seen(error="not a regular file")
    same_stat = entry is not None and (entry.mtime_ns, entry.size) == (st.st_mtime_ns, st.st_size)
    if entry is not None and same_stat and st.st_mtime_ns < entry.seen_ns - RACY_MARGIN_NS:
        return seen(stat_unchanged=True, raw_hash=entry.raw_hash, content_hash=entry.content_hash)
    if st.st_size > max_bytes:
        return seen(
            error=f"file is {st.st_size} bytes; the limit is {max_bytes} (setting max_file_bytes)"
        )
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return seen(error=f"cannot read: {exc.strerror}")
    digest = raw_hash(data)
    if entry is not None and entry.raw_hash == digest:
        # same bytes: record the new stat only if it differs or can be trusted next time
        still_racy = st.st_mtime_ns >= now_ns - RACY_MARGIN_NS
        return seen(
            raw_hash=digest,
            content_hash=entry.content_hash,
            stat_unchanged=same_stat and still_racy,
        )
    try:
        memory = parse_memory(decode_text(data, rel), rel)
    except MemoryFileError as exc:
        return seen(raw_hash=digest, error=exc.reason)
    return seen(raw_hash=digest, content_hash=content_hash(memory), memory=memory)


_SLUG_DROP = re.compile(r"[^a-z0-9]+")


def slugify(title: str, max_len: int = 60) -> str:
    """A file-name-safe slug: ASCII letters, digits and dashes only, never empty."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = _SLUG_DROP.sub("-", ascii_title.lower()).strip("-")[:max_len].strip("-")
    return slug or "memory"


def memory_rel_path(memory: Memory, day: str, taken: Callable[[str], bool]) -> str:
    """``<kind-folder>/<YYYYMMDD>-<slug>.md`` (summaries: ``summaries/<YYYYMMDD>/<slug>.md``),
    suffixed ``-2``, ``-3``… while ``taken`` says the name is in use."""
    folder = kind_folder(memory.kind)
    stem = (
        f"{day}/{slugify(memory.title)}"
        if memory.kind == "summary"
        else f"{day}-{slugify(memory.title)}"
    )
    return unique_rel_path(f"{folder}/{stem}.md", taken)


def unique_rel_path(rel: str, taken: Callable[[str], bool]) -> str:
    """``rel``, or ``rel`` with ``-2``, ``-3``… before ``.md`` if taken."""
    stem, n = rel.removesuffix(".md"), 2
    while taken(rel):
        rel, n = f"{stem}-{n}.md", n + 1
    return rel


def write_memory(memory_dir: Path, rel: str, memory: Memory) -> Path:
    """Atomically write a memory inside memory/; refuses any path that would leave it."""
    path = confined(memory_dir, rel)
    atomic_write_bytes(path, render_memory(memory).encode("utf-8"))
    return path


def read_memory(memory_dir: Path, rel: str) -> Memory | None:
    """The memory at ``rel``; None when the file does not exist. A file that exists but
    cannot be read or parsed raises (OSError, MemoryFileError)."""
    try:
        data = confined(memory_dir, rel).read_bytes()
    except FileNotFoundError:
        return None
    return parse_memory(decode_text(data, rel), rel)


def try_read_memory(memory_dir: Path, rel: str) -> Memory | None:
    """The memory at ``rel``, or None when it is missing, unreadable or malformed."""
    try:
        return read_memory(memory_dir, rel)
    except (OSError, MemsyncError):
        return None
