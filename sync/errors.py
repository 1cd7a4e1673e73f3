"""One exception root for memsync.

MemsyncError
├── ConfigError            bad configuration; the message says how to fix it
├── UsageError             a request that cannot be carried out as given
├── StoreNotFoundError     no .memsync/ found from here upwards (run `memsync init`)
├── LockBusyError          another writer holds the store lock (exit code 4)
├── UnsafePathError        a path would land outside the store
├── MemoryFileError        a memory file cannot be read or parsed (permanent for that content)
├── CheckpointError        the checkpoint cannot be read
├── StorageError           the disk is full or failing: the run stops (exit 1), nothing torn
└── ItemError              one item failed during a run
    ├── RetryableError     worth trying again later (index unreachable, timeout, encoder hiccup)
    └── PermanentError     will fail again until its input changes
"""

from __future__ import annotations


class MemsyncError(Exception):
    """Root of every error memsync raises on purpose."""


class ConfigError(MemsyncError):
    """Configuration is invalid; the message names the setting and the fix."""


class UsageError(MemsyncError):
    """A command or request that cannot be carried out as given."""


class StoreNotFoundError(MemsyncError):
    """No store was found from the working directory upwards."""


class LockBusyError(MemsyncError):
    """Another process holds the writer lock of this store."""


class UnsafePathError(MemsyncError):
    """A path resolved outside the store."""


class MemoryFileError(MemsyncError):
    """A memory file could not be read or parsed."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class CheckpointError(MemsyncError):
    """The checkpoint file is unreadable."""


class StorageError(MemsyncError):
    """A write failed for lack of space or an I/O fault; not one item's problem, the run's."""


# errno values that say "the disk", not "this item": no space, quota, too large, I/O, read-only
STORAGE_ERRNOS = frozenset({28, 122, 27, 5, 30})


def storage_error(exc: OSError, path: object) -> StorageError | None:
    """The StorageError an OSError from writing ``path`` amounts to, or None."""
    if exc.errno not in STORAGE_ERRNOS:
        return None
    return StorageError(
        f"cannot write {path}: {exc.strerror or exc} — free some disk space (or fix the disk) "
        "and run the command again; nothing already stored was lost"
    )


class ItemError(MemsyncError):
    """One item of a run failed."""


class RetryableError(ItemError):
    """A failure that may go away by itself (network, timeout, resource)."""


class PermanentError(ItemError):
    """A failure that repeats until the input changes."""
