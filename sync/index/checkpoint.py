"""The checkpoint (state/sync-state.json) and its append-only journal.

The executor appends one journal line per finished item (fsynced per batch, after the index
acknowledged the write); at the end of a run the journal is folded into the checkpoint, which
is replaced atomically. After a crash, loading replays whatever the journal holds, so no
finished item is lost and none is redone more than idempotently.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from sync.errors import CheckpointError, storage_error
from sync.fsutil import atomic_write_bytes
from sync.models import EncoderIdentity
from sync.retry import RetryEntry

VERSION = 1


@dataclass(frozen=True)
class IndexedEntry:
    """A memory file whose current content is in the index."""

    id: str
    point_id: str
    content_hash: str
    raw_hash: str
    mtime_ns: int
    size: int
    seen_ns: int  # when the file was last read: a stat newer than this is not trusted
    model: str
    kind: str
    bytes: int = 0
    title: str = ""  # a catalog for listing without reading every file
    tags: tuple[str, ...] = ()
    text_hash: str = ""  # hash of the embedded text: unchanged -> the stored vector is reused


@dataclass(frozen=True)
class SourceEntry:
    """A captured source item (a session file, a database conversation, an insights entry)."""

    key: str
    agent: str
    size: int
    mtime_ns: int
    content_hash: str
    memories: tuple[str, ...]  # ids written or updated from it
    candidates: int
    processed: str  # ISO time of the capture
    extracted: bool = True  # False: tracked with --no-extract; a normal capture extracts it
    extractor: str = ""  # which extractor ran ("offline", "dspy"); "" when not recorded


@dataclass
class Checkpoint:
    """What is known to be durably indexed, and what is waiting to be retried."""

    encoder: EncoderIdentity | None = None
    collection: str | None = None
    index_id: str | None = None  # which index the entries are in (edge, local, server:<url>)
    entries: dict[str, IndexedEntry] = field(default_factory=dict)
    retry: dict[str, RetryEntry] = field(default_factory=dict)
    ignored: dict[str, str | None] = field(default_factory=dict)  # path -> raw hash dropped
    stale_collections: list[str] = field(default_factory=list)
    last_run: dict[str, Any] | None = None
    sources: dict[str, SourceEntry] = field(default_factory=dict)
    source_retry: dict[str, RetryEntry] = field(default_factory=dict)
    index_seal: str | None = None  # the index files as the last run left them (verify.py)
    passages: int = 0  # the passage-vector scheme the entries were indexed with (0: none)
    warnings: list[str] = field(default_factory=list)  # not stored: what loading noticed

    @property
    def effective_index_id(self) -> str:
        """Stores written before the index was recorded used the embedded local mode."""
        return self.index_id or "local"

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "encoder": self.encoder.as_dict() if self.encoder else None,
            "collection": self.collection,
            "index": self.index_id,
            # vars(): flat frozen dataclasses; asdict's deep copy costs 0.5 s per 10,000
            "memories": {path: vars(e) for path, e in sorted(self.entries.items())},
            "retry_queue": {path: vars(r) for path, r in sorted(self.retry.items())},
            "ignored": dict(sorted(self.ignored.items())),
            "stale_collections": self.stale_collections,
            "last_run": self.last_run,
            "sources": {k: vars(e) for k, e in sorted(self.sources.items())},
            "source_retry_queue": {k: vars(r) for k, r in sorted(self.source_retry.items())},
            "index_seal": self.index_seal,
            "passages": self.passages,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        for key, kind in _SECTIONS.items():
            if key in data and not isinstance(data[key], kind):
                found = "null" if data[key] is None else type(data[key]).__name__
                raise ValueError(f"{key!r} must be {_KIND_NAMES[kind]}, found {found}")
        encoder = data.get("encoder")
        return cls(
            encoder=EncoderIdentity(**encoder) if encoder else None,
            collection=data.get("collection"),
            index_id=data.get("index"),
            entries={p: _entry(e) for p, e in data.get("memories", {}).items()},
            retry={p: RetryEntry(**r) for p, r in data.get("retry_queue", {}).items()},
            ignored=dict(data.get("ignored", {})),
            stale_collections=list(data.get("stale_collections", [])),
            last_run=data.get("last_run"),
            sources={k: _source(e) for k, e in data.get("sources", {}).items()},
            source_retry={
                k: RetryEntry(**r) for k, r in data.get("source_retry_queue", {}).items()
            },
            index_seal=data.get("index_seal") if isinstance(data.get("index_seal"), str) else None,
            passages=data["passages"] if isinstance(data.get("passages"), int) else 0,
        )


_SECTIONS: dict[str, type] = {
    "memories": dict,
    "retry_queue": dict,
    "ignored": dict,
    "stale_collections": list,
    "sources": dict,
    "source_retry_queue": dict,
}
_KIND_NAMES: dict[type, str] = {dict: "an object", list: "a list"}


def _source(data: dict[str, Any]) -> SourceEntry:
    return SourceEntry(**{**data, "memories": tuple(data.get("memories", ()))})


def _entry(data: dict[str, Any]) -> IndexedEntry:
    return IndexedEntry(**{**data, "tags": tuple(data.get("tags", ()))})


def load_checkpoint(checkpoint_path: Path, journal_path: Path) -> Checkpoint:
    """Read the checkpoint and replay the journal left by an interrupted run."""
    checkpoint = Checkpoint()
    if checkpoint_path.exists():
        try:
            data = json.loads(checkpoint_path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            if data.get("version") != VERSION:
                raise ValueError(f"unsupported layout (version {data.get('version')!r})")
            checkpoint = Checkpoint.from_json(data)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CheckpointError(
                f"{checkpoint_path}: cannot read the checkpoint ({exc}). It is derived data: "
                "move it aside and run `memsync sync --force` to rebuild it from the markdown."
            ) from None
    if journal_path.exists():
        replay_journal(checkpoint, journal_path)
    return checkpoint


def replay_journal(checkpoint: Checkpoint, journal_path: Path) -> int:
    """Apply every complete journal line; a torn last line (a crash mid-write) is ignored."""
    applied = 0
    with journal_path.open("r", encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.endswith("\n"):
                break  # torn write: the item was not acknowledged as done
            try:
                apply_op(checkpoint, json.loads(line))
                applied += 1
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                checkpoint.warnings.append(
                    f"{journal_path}:{lineno}: skipped bad journal line ({exc})"
                )
    return applied


def apply_op(checkpoint: Checkpoint, op: dict[str, Any]) -> None:
    """Fold one journal record into the checkpoint. Every op is idempotent."""
    kind, path = op["op"], str(op.get("path", ""))
    if kind == "indexed":
        entry = _entry(op["entry"])
        if op.get("replaces"):
            checkpoint.entries.pop(op["replaces"], None)
        checkpoint.entries[path] = entry
        checkpoint.retry.pop(path, None)
        checkpoint.ignored.pop(path, None)
    elif kind == "touched":
        old = checkpoint.entries.get(path)
        if old is not None:
            checkpoint.entries[path] = replace(old, **op["stat"])
    elif kind == "deleted":
        checkpoint.entries.pop(path, None)
        checkpoint.retry.pop(path, None)
        checkpoint.ignored.pop(path, None)
    elif kind == "failed":
        checkpoint.retry[path] = RetryEntry(**op["retry"])
    elif kind == "unqueued":
        checkpoint.retry.pop(path, None)
    elif kind == "encoder":
        checkpoint.encoder = EncoderIdentity(**op["encoder"])
        checkpoint.index_id = op.get("index_id", checkpoint.index_id)
        previous = checkpoint.collection
        checkpoint.collection = op["collection"]
        if (
            previous
            and previous != op["collection"]
            and previous not in checkpoint.stale_collections
        ):
            checkpoint.stale_collections.append(previous)
    elif kind == "source_done":
        source = _source(op["entry"])
        checkpoint.sources[source.key] = source
        checkpoint.source_retry.pop(source.key, None)
    elif kind == "source_failed":
        checkpoint.source_retry[op["key"]] = RetryEntry(**op["retry"])
    elif kind == "source_unqueued":
        checkpoint.source_retry.pop(op["key"], None)
    elif kind == "dropped_collection":
        if op["collection"] in checkpoint.stale_collections:
            checkpoint.stale_collections.remove(op["collection"])
    else:
        raise ValueError(f"unknown op {kind!r}")


class Journal:
    """Append-only log of finished items; durable once :meth:`commit` returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: TextIO | None = None
        self._pending: list[dict[str, Any]] = []
        self.wrote = False

    def record(self, op: dict[str, Any]) -> None:
        self._pending.append(op)

    def commit(self) -> None:
        """Write and fsync the pending records; on a failed write the journal is cut back to
        where it was (no torn line), and a full disk raises StorageError."""
        if not self._pending:
            return
        text = "".join(json.dumps(op, ensure_ascii=False) + "\n" for op in self._pending)
        try:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = self.path.open("a", encoding="utf-8")
            start = self._fh.tell()
            try:
                self._fh.write(text)
                self._fh.flush()
                os.fsync(self._fh.fileno())
            except OSError:
                self._cut(start)
                raise
        except OSError as exc:
            raise storage_error(exc, self.path) or exc from None
        self._pending.clear()
        self.wrote = True

    def _cut(self, size: int) -> None:
        """Drop a partly written batch (best effort: the replay ignores a torn line anyway)."""
        fh, self._fh = self._fh, None
        with contextlib.suppress(OSError):
            if fh is not None:
                fh.close()  # may fail again flushing what is buffered; the file is cut below
        with contextlib.suppress(OSError):
            os.truncate(self.path, size)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def save_checkpoint(checkpoint: Checkpoint, checkpoint_path: Path, journal_path: Path) -> None:
    """Replace the checkpoint atomically, then drop the journal it now contains."""
    # compact: the C encoder (indent would force the pure-Python one, 10x slower)
    data = json.dumps(checkpoint.to_json(), ensure_ascii=False, separators=(",", ":"))
    atomic_write_bytes(checkpoint_path, data.encode("utf-8"))
    with contextlib.suppress(FileNotFoundError):
        journal_path.unlink()
