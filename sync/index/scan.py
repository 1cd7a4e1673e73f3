"""Scanning memory/: stat first, read and hash only what may have changed since the
checkpoint saw it."""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sync.errors import MemoryFileError, UnsafePathError
from sync.fsutil import TMP_SUFFIX, confined
from sync.hashing import content_hash, raw_hash
from sync.index.checkpoint import IndexedEntry
from sync.models import ARCHIVE_FOLDER, ScannedFile
from sync.redact import redact_memory
from sync.store.files import DEFAULT_MAX_FILE_BYTES
from sync.store.markdown import decode_text, parse_memory

RACY_MARGIN_NS = 2_000_000_000  # a stat within 2 s of the last read may hide a same-size edit


def scan(
    memory_dir: Path,
    known: Mapping[str, IndexedEntry],
    *,
    now_ns: int,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    only: Iterable[str] | None = None,
    leftovers: list[Path] | None = None,
) -> list[ScannedFile]:
    """Observe every ``*.md`` under memory/: stat first, read and hash only what may differ.
    ``leftovers`` collects the temporary files of atomic writes a killed process left."""
    if only is not None:
        for rel in only:
            confined(memory_dir, rel)  # paths given by a caller, not found by the walk
    rel_paths = sorted(set(only)) if only is not None else _walk(memory_dir, leftovers)
    return [_isolated(memory_dir, rel, known.get(rel), now_ns, max_bytes) for rel in rel_paths]


def overlay_files(
    scanned: Sequence[ScannedFile],
    overlay: Mapping[str, bytes],
    known: Mapping[str, IndexedEntry],
    now_ns: int,
) -> list[ScannedFile]:
    """``scanned`` as it would be after writing ``overlay`` (path -> file bytes): what a dry
    run plans for the files its capture would write."""
    out = {sf.path: sf for sf in scanned}
    for rel, data in overlay.items():
        out[rel] = _from_bytes(rel, data, known.get(rel), now_ns, len(data), now_ns, False)
    return [out[rel] for rel in sorted(out)]


def _isolated(
    memory_dir: Path, rel: str, entry: IndexedEntry | None, now_ns: int, max_bytes: int
) -> ScannedFile:
    """One file's observation; whatever goes wrong with it is that file's error alone."""
    try:
        return _observe(memory_dir, rel, entry, now_ns, max_bytes)
    except Exception as exc:  # boundary: per item
        archived = rel.startswith(ARCHIVE_FOLDER + "/")
        return ScannedFile(
            rel, 0, 0, archived, error=f"cannot be read: {type(exc).__name__}: {exc}"
        )


def _walk(memory_dir: Path, leftovers: list[Path] | None) -> list[str]:
    found: list[str] = []
    if not memory_dir.is_dir():
        return found
    for folder, dirs, files in os.walk(memory_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel_folder = os.path.relpath(folder, memory_dir)
        for name in files:
            if leftovers is not None and name.startswith(".") and name.endswith(TMP_SUFFIX):
                leftovers.append(Path(folder, name))
            elif name.endswith(".md") and not name.startswith("."):
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
    return _from_bytes(rel, data, entry, st.st_mtime_ns, st.st_size, now_ns, same_stat)


def _from_bytes(
    rel: str,
    data: bytes,
    entry: IndexedEntry | None,
    mtime_ns: int,
    size: int,
    now_ns: int,
    same_stat: bool,
) -> ScannedFile:
    """What a file's bytes say: unchanged since the checkpoint, or parsed (or why not)."""
    archived = rel.startswith(ARCHIVE_FOLDER + "/")

    def seen(**fields: Any) -> ScannedFile:
        return ScannedFile(rel, mtime_ns, size, archived, seen_ns=now_ns, **fields)

    digest = raw_hash(data)
    if entry is not None and entry.raw_hash == digest:
        # same bytes: record the new stat only if it differs or can be trusted next time
        still_racy = mtime_ns >= now_ns - RACY_MARGIN_NS
        return seen(
            raw_hash=digest,
            content_hash=entry.content_hash,
            stat_unchanged=same_stat and still_racy,
        )
    try:
        memory = parse_memory(decode_text(data, rel), rel)
    except MemoryFileError as exc:
        return seen(raw_hash=digest, error=exc.reason)
    # the file stays as its author wrote it; what is hashed, embedded and recorded is not
    memory, secrets = redact_memory(memory)
    return seen(raw_hash=digest, content_hash=content_hash(memory), memory=memory, secrets=secrets)
