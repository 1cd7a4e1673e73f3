"""Guards of the embedded edge index's folder: one owner process at a time (an flock on
``<root>/.owner.lock``, shared by the EdgeIndex objects of one process), and room on the disk
before anything is written (its files are memory-mapped)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from sync.errors import LockBusyError, StorageError
from sync.lock import WriterLock

OWNER_FILE = ".owner.lock"
# The shard's files are memory-mapped: a page the disk cannot hold kills the process with
# SIGBUS instead of raising, so writes stop while this much space is still free.
MIN_FREE_BYTES = 64 * 1024 * 1024
_STORAGE_FAULTS = (
    "No space left",
    "os error 28",
    "os error 27",
    "FileTooLarge",
    "os error 122",
    "Input/output error",
    "os error 5)",
    "Read-only file system",
    "os error 30",
)


def storage_fault(message: str) -> bool:
    """Whether an engine error says the disk is full or failing (not the item's fault)."""
    return any(f in message for f in _STORAGE_FAULTS)


def ensure_room(root: Path, min_free: int = MIN_FREE_BYTES) -> None:
    """Refuse to write when the disk holding ``root`` is nearly full (StorageError)."""
    folder = root if root.exists() else root.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < min_free:
        raise StorageError(
            f"only {free // 2**20} MiB free on the disk of {root}; the embedded index needs "
            f"{min_free // 2**20} MiB to write safely: free some space and run the command "
            "again (nothing already stored was lost)"
        )


# this process's hold on each index folder: several EdgeIndex objects may share it
_owners: dict[Path, tuple[WriterLock, int]] = {}
_owners_lock = threading.Lock()


def take_owner(root: Path, wait_s: float) -> None:
    """Own ``root`` (waiting up to ``wait_s``), or LockBusyError before any file is opened."""
    with _owners_lock:
        held = _owners.get(root)
        if held is not None:
            _owners[root] = (held[0], held[1] + 1)
            return
        lock = WriterLock(root / OWNER_FILE)
        try:
            lock.acquire(wait_s)
        except LockBusyError:
            raise LockBusyError(
                f"the embedded index {root} is in use by another memsync process (a running "
                "sync, `memsync serve`, or another command); nothing was opened: wait for it, "
                "or run `memsync serve` so that every command goes through one owner"
            ) from None
        _owners[root] = (lock, 1)


def drop_owner(root: Path) -> None:
    """Give back one hold on ``root``; the lock goes with the last."""
    with _owners_lock:
        held = _owners.pop(root, None)
        if held is None:
            return
        if held[1] > 1:
            _owners[root] = (held[0], held[1] - 1)
        else:
            held[0].release()
