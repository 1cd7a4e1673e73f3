"""The writer lock: one sync (or add) at a time per store; the same kind of lock guards the
embedded index folder (one process at a time)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from types import TracebackType

from sync.errors import LockBusyError, MemsyncError

POLL_S = 0.05


class WriterLock:
    """An flock on ``state/sync.lock``, removed on release so that nothing is left behind."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, wait_s: float = 0.0) -> WriterLock:
        """Take the lock, waiting up to ``wait_s`` for its holder; LockBusyError after that."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return self._try()
            except LockBusyError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(POLL_S)

    def _try(self) -> WriterLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise MemsyncError(
                f"{self.path.parent} is a file; memsync needs a folder there"
            ) from None
        while True:
            fd = _open(self.path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise LockBusyError(
                    f"another memsync writer holds {self.path}{holder}; wait for it to finish "
                    "(or pass --ignore-lock when debugging)"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # else the previous holder unlinked it between our open and flock
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "since": time.time()}).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except IsADirectoryError:
        raise MemsyncError(
            f"{path} is a folder; memsync keeps a lock file there: remove the folder"
        ) from None
    except OSError as exc:
        raise MemsyncError(f"cannot open the lock file {path}: {exc.strerror}") from None


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 256, 0) or b"{}")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["since"])))
        return f" (pid {int(info['pid'])}, since {since})"
    except (ValueError, KeyError, TypeError, OSError):
        return ""
