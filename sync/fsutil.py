"""Safe file system primitives: confined paths and atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath

from sync.errors import UnsafePathError, storage_error

TMP_SUFFIX = ".tmp"  # atomic writes' temporary files: .<name>.<random>.tmp


def confined(base: Path, rel: str) -> Path:
    """``base / rel``, refusing absolute paths, ``..`` and symlinks that lead outside ``base``."""
    pure = PurePosixPath(rel.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise UnsafePathError(f"{rel!r}: path must be relative and stay inside {base}")
    target = base.joinpath(*pure.parts)
    try:
        resolved_base = base.resolve()
        resolved = target.resolve()
    except (RuntimeError, OSError) as exc:  # a symbolic link loop (RuntimeError until 3.13)
        raise UnsafePathError(f"{rel!r}: cannot be resolved ({exc})") from None
    if resolved != resolved_base and resolved_base not in resolved.parents:
        raise UnsafePathError(f"{rel!r}: resolves outside {base}")
    return target


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, fsync, rename, fsync the folder. A full
    or failing disk raises StorageError; the old file is then still whole, no temporary left."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    except OSError as exc:
        raise storage_error(exc, path) or exc from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and (full := storage_error(exc, path)) is not None:
            raise full from None
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


SEAL_READ_BYTES = 64 * 1024


def tree_seal(folder: Path, skip: tuple[str, ...] = ()) -> str | None:
    """A signature of the files under ``folder``: names and sizes, and the bytes of the small
    ones (an index's metadata; its big memory-mapped files are preallocated, and opening it
    rewrites files without changing them, so modification times would not do). None when
    the folder does not exist."""
    if not folder.is_dir():
        return None
    parts = []
    for root, _, files in os.walk(folder):
        for name in files:
            if name in skip:
                continue
            path = os.path.join(root, name)
            try:
                size = os.stat(path).st_size
                digest = ""
                if size <= SEAL_READ_BYTES:
                    with open(path, "rb") as fh:
                        digest = hashlib.blake2b(fh.read(), digest_size=8).hexdigest()
            except FileNotFoundError:
                continue
            parts.append(f"{os.path.relpath(path, folder)}\0{size}\0{digest}")
    parts.sort()
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()
