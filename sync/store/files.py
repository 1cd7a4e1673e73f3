"""Memory files: safe names, atomic writes, reads that name the file on failure."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

from sync.errors import MemsyncError
from sync.fsutil import atomic_write_bytes, confined
from sync.models import Memory, kind_folder
from sync.redact import redact, redact_memory
from sync.store.layout import DEFAULT_MAX_FILE_BYTES
from sync.store.markdown import decode_text, parse_memory, render_memory

__all__ = ["DEFAULT_MAX_FILE_BYTES"]  # and the functions below; the limit lives with the layout

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
    slug = slugify(redact(memory.title)[0])
    stem = f"{day}/{slug}" if memory.kind == "summary" else f"{day}-{slug}"
    return unique_rel_path(f"{folder}/{stem}.md", taken)


def unique_rel_path(rel: str, taken: Callable[[str], bool]) -> str:
    """``rel``, or ``rel`` with ``-2``, ``-3``… before ``.md`` if taken."""
    stem, n = rel.removesuffix(".md"), 2
    while taken(rel):
        rel, n = f"{stem}-{n}.md", n + 1
    return rel


def write_memory(memory_dir: Path, rel: str, memory: Memory) -> Path:
    """Atomically write a memory inside memory/ (secrets redacted: memsync never writes one);
    refuses any path that would leave it."""
    path = confined(memory_dir, rel)
    atomic_write_bytes(path, render_memory(redact_memory(memory)[0]).encode("utf-8"))
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
