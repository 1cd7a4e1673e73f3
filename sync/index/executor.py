"""The only writer: applies a plan to the index and records each finished item in the journal.

Order per item: the index acknowledges the write, then the journal line is fsynced, then the
in-memory checkpoint moves. A crash anywhere leaves the next run with at most some idempotent
re-upserts (point ids are derived from memory ids), never a skipped or duplicated memory.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from sync.errors import PermanentError, StorageError
from sync.hashing import payload_bytes, text_hash
from sync.index.checkpoint import Checkpoint, IndexedEntry, Journal, apply_op
from sync.index.outcome import ItemResult, Outcome, point_payload, remediation
from sync.index.passages import PAYLOAD_KEY as PASSAGES
from sync.index.passages import pack, passage_texts
from sync.lexical import document_vector
from sync.models import Action, EncoderIdentity, Memory, Plan, PlanItem, collection_name
from sync.ports import Encoder, IndexPoint, VectorIndex
from sync.retry import RetryPolicy


@dataclass
class Executor:
    """Applies one plan; owns the journal and the in-memory checkpoint for the run."""

    checkpoint: Checkpoint
    journal: Journal
    memories: Mapping[str, Memory]  # parsed memories of the items to index, by path
    encoder_factory: Callable[[], Encoder]
    index_factory: Callable[[], VectorIndex]
    collection_prefix: str
    index_id: str
    policy: RetryPolicy
    now: dt.datetime
    batch_size: int = 64
    progress: Callable[[int, int], None] | None = None
    _index: VectorIndex | None = None
    force_reembed: bool = False  # --force: never reuse a stored vector

    def run(self, plan: Plan) -> Outcome:
        out = Outcome()
        self.force_reembed = plan.force
        work = plan.of(Action.ADD, Action.UPDATE)
        error = ""
        try:
            encoder = self._timed(out, "load_encoder", self.encoder_factory) if work else None
        except Exception as exc:  # boundary: the model failing to load fails the items, not the run
            encoder = None
            error = f"embedding model unavailable: {exc}"
            out.warnings.append(error)
        if plan.needs_index and not (work and encoder is None):
            # first: a busy embedded index aborts the run before anything is done
            self._timed(out, "open_index", self._open_index)
        out.identity = encoder.identity if encoder else self.checkpoint.encoder
        out.collection = (
            collection_name(self.collection_prefix, out.identity) if out.identity else None
        )
        for item in plan.items:
            if item.action in (Action.UNCHANGED, Action.SKIP):
                out.results.append(self._settle_quiet(item))
            elif item.action is Action.FAIL:
                out.results.append(self._fail(item, item.error or item.reason, permanent=True))
        self.journal.commit()
        deletes = plan.of(Action.DELETE)
        if deletes:
            out.results.extend(self._timed(out, "delete", lambda: self._delete(deletes, out)))
        if work and encoder is None:
            out.results.extend(self._fail(i, error, permanent=False) for i in work)
        elif work and encoder is not None and out.collection:
            self._timed(
                out,
                "index",
                lambda: out.results.extend(self._index_all(work, encoder, out.collection or "")),
            )
        try:  # housekeeping after the items are durable: a failure here is only a warning
            if plan.force and out.collection and self._index_ready(out):
                out.results.extend(self._remove_strays(out.collection))
            self._drop_stale_collections(out)
            if work and out.collection and self._index is not None:
                self._timed(
                    out, "optimize", lambda: self._open_index().maintain(out.collection or "")
                )
        except StorageError:
            raise
        except Exception as exc:  # boundary: retried by the next run
            out.warnings.append(f"index housekeeping failed, the next run retries it: {exc}")
        self.journal.commit()
        return out

    # -- steps -------------------------------------------------------------------------------

    def _settle_quiet(self, item: PlanItem) -> ItemResult:
        if item.action is Action.SKIP:
            return ItemResult(item, "skipped", error=item.error)
        if item.refresh_stat:
            self._record(
                {
                    "op": "touched",
                    "path": item.path,
                    "stat": {
                        "mtime_ns": item.mtime_ns,
                        "size": item.size,
                        "raw_hash": item.raw_hash,
                        "seen_ns": item.seen_ns,
                    },
                }
            )
        if item.path in self.checkpoint.retry:
            self._record({"op": "unqueued", "path": item.path})
        return ItemResult(item, "unchanged")

    def _delete(self, items: Sequence[PlanItem], out: Outcome) -> list[ItemResult]:
        results = []
        live = [
            i
            for i in items
            if i.point_id and (i.stray or self._entry_model(i.path) == self._model(out))
        ]
        try:
            ids = [i.point_id for i in live if i.point_id]
            if out.collection and any(i.find_point for i in items):
                ids += self._unrecorded_points([i for i in items if i.find_point], out.collection)
            if ids and out.collection:
                self._open_index().delete(out.collection, ids)
        except StorageError:
            raise  # the disk, not the item: the run stops
        except Exception as exc:  # boundary: a failed delete is retried next run
            return [self._fail(i, f"index delete failed: {exc}", permanent=False) for i in items]
        for item in items:
            self._record({"op": "deleted", "path": item.path})
            results.append(ItemResult(item, "done"))
        self.journal.commit()
        return results

    def _unrecorded_points(self, items: Sequence[PlanItem], collection: str) -> list[str]:
        """Points written for files the checkpoint never recorded (their run failed after the
        index took them), found by path; never one a recorded memory owns."""
        owned = {e.point_id for e in self.checkpoint.entries.values()}
        index = self._open_index()
        found = []
        for item in items:
            hits = index.find_by(collection, "path", item.path, limit=16)
            found += [h.point_id for h in hits if h.point_id not in owned]
        return found

    def _index_all(
        self, work: Sequence[PlanItem], encoder: Encoder, collection: str
    ) -> list[ItemResult]:
        identity = encoder.identity
        index = self._open_index()
        try:
            index.ensure_collection(collection, identity.dim)
        except StorageError:
            raise
        except Exception as exc:  # boundary: an unreachable index fails the items, not the run
            return [self._fail(i, f"index unavailable: {exc}", permanent=False) for i in work]
        cp = self.checkpoint
        if (cp.encoder, cp.collection, cp.index_id) != (identity, collection, self.index_id):
            self._record(
                {
                    "op": "encoder",
                    "encoder": identity.as_dict(),
                    "collection": collection,
                    "index_id": self.index_id,
                }
            )
            self.journal.commit()
        results: list[ItemResult] = []
        done = 0
        pending: tuple[list[PlanItem], list[IndexPoint], Future[None]] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="memsync-upsert") as pool:
            for batch in _chunks(work, self.batch_size):
                points, failed = self._embed(batch, encoder)
                results.extend(failed)
                if pending is not None:  # encoding this batch overlapped the previous upsert
                    results.extend(self._finish(*pending, collection))
                    done += len(pending[0])
                ok = [i for i in batch if i.point_id in {p.point_id for p in points}]
                pending = (ok, points, pool.submit(index.upsert, collection, points))
                if self.progress:
                    self.progress(done, len(work))
            if pending is not None:
                results.extend(self._finish(*pending, collection))
        if self.progress:
            self.progress(len(work), len(work))
        return results

    def _embed(
        self, batch: Sequence[PlanItem], encoder: Encoder
    ) -> tuple[list[IndexPoint], list[ItemResult]]:
        texts = [self.memories[i.path].embedding_text() for i in batch]
        reused = self._stored_vectors(batch, texts, encoder.identity)
        fresh = [t for i, t in zip(batch, texts, strict=True) if i.point_id not in reused]
        lines = [passage_texts(self.memories[i.path]) for i in batch]
        wanted = fresh + [t for group in lines for t in group]
        try:
            encoded = iter(list(encoder.encode(wanted)) if wanted else [])
        except Exception:  # boundary: isolate the item that breaks the batch
            encoded = iter(self._one_by_one(encoder, wanted))
        dense = [_reused_or(reused.get(i.point_id or ""), encoded) for i in batch]
        points, failed = [], []
        for item, text, vector, group in zip(batch, texts, dense, lines, strict=True):
            passages = [next(encoded) for _ in group]
            broken = next((v for v in (vector, *passages) if isinstance(v, Exception)), None)
            if broken is not None:
                failed.append(self._fail(item, f"embedding failed: {broken}", permanent=False))
                continue
            payload = point_payload(self.memories[item.path], item, encoder.identity, text)
            if passages:
                payload[PASSAGES] = pack(passages)
            points.append(
                IndexPoint(
                    item.point_id or "", [float(x) for x in vector], payload, document_vector(text)
                )
            )
        return points, failed

    @staticmethod
    def _one_by_one(encoder: Encoder, texts: Sequence[str]) -> list[Any]:
        out: list[Any] = []
        for text in texts:
            try:
                out.append(next(iter(encoder.encode([text]))))
            except Exception as exc:  # boundary: this item fails, the others go on
                out.append(exc)
        return out

    def _stored_vectors(
        self, batch: Sequence[PlanItem], texts: Sequence[str], identity: EncoderIdentity
    ) -> dict[str, Sequence[float]]:
        """Vectors already in the index for items whose embedded text did not change (a
        moved or re-tagged-in-frontmatter-only memory): no need to encode them again."""
        cp = self.checkpoint
        if cp.encoder != identity or not cp.collection or self.force_reembed:
            return {}
        wanted = []
        for item, text in zip(batch, texts, strict=True):
            entry = cp.entries.get(item.replaces_path or item.path)
            same_text = entry is not None and entry.text_hash == text_hash(text)
            if entry and same_text and entry.point_id == item.point_id:
                wanted.append(entry.point_id)
        if not wanted:
            return {}
        try:
            return dict(self._open_index().vectors(cp.collection, wanted))
        except Exception:  # boundary: reuse is an optimisation; encode them instead
            return {}

    def _finish(
        self, items: list[PlanItem], points: list[IndexPoint], future: Future[None], collection: str
    ) -> list[ItemResult]:
        try:
            future.result()
            return self._commit_batch(items, points, collection)
        except StorageError:
            raise
        except Exception:  # boundary: retry one by one to find the failing points
            results = []
            for item, point in zip(items, points, strict=True):
                try:
                    self._open_index().upsert(collection, [point])
                    results.extend(self._commit_batch([item], [point], collection))
                except StorageError:
                    raise
                except Exception as exc:
                    results.append(
                        self._fail(
                            item,
                            f"index write failed: {exc}",
                            permanent=isinstance(exc, PermanentError),
                        )
                    )
            return results

    def _commit_batch(
        self, items: list[PlanItem], points: list[IndexPoint], collection: str
    ) -> list[ItemResult]:
        stale = [i.stale_point_id for i in items if i.stale_point_id]
        if stale:
            self._open_index().delete(collection, stale)
        identity = self.checkpoint.encoder
        assert identity is not None
        for item, point in zip(items, points, strict=True):
            entry = IndexedEntry(
                id=item.memory_id or "",
                point_id=point.point_id,
                content_hash=item.content_hash or "",
                raw_hash=item.raw_hash or "",
                mtime_ns=item.mtime_ns,
                size=item.size,
                seen_ns=item.seen_ns,
                model=identity.model,
                kind=str(point.payload["kind"]),
                bytes=payload_bytes(point.payload, identity.dim),
                title=str(point.payload["title"]),
                tags=tuple(point.payload["tags"]),
                text_hash=str(point.payload.get("text_hash", "")),
            )
            self._record(
                {
                    "op": "indexed",
                    "path": item.path,
                    "entry": asdict(entry),
                    "replaces": item.replaces_path,
                }
            )
        self.journal.commit()
        return [ItemResult(item, "done") for item in items]

    def _remove_strays(self, collection: str) -> list[ItemResult]:
        """Forced runs also remove points that no memory file accounts for."""
        index = self._open_index()
        expected = {e.point_id for e in self.checkpoint.entries.values()}
        strays = sorted(index.point_ids(collection) - expected)
        if strays:
            index.delete(collection, strays)
        return [
            ItemResult(
                PlanItem(
                    f"<point {pid}>", Action.DELETE, "point without a memory file", point_id=pid
                ),
                "done",
            )
            for pid in strays
        ]

    def _drop_stale_collections(self, out: Outcome) -> None:
        """Drop an old encoder's collection once every memory has moved off it."""
        model = self._model(out)
        if not self.checkpoint.stale_collections or any(
            e.model != model for e in self.checkpoint.entries.values()
        ):
            return
        index = self._open_index()
        for name in list(self.checkpoint.stale_collections):
            index.drop_collection(name)
            self._record({"op": "dropped_collection", "collection": name})

    # -- helpers -----------------------------------------------------------------------------

    def _fail(self, item: PlanItem, error: str, *, permanent: bool) -> ItemResult:
        entry = self.policy.after_failure(
            item.path,
            item.raw_hash,
            error,
            permanent,
            self.checkpoint.retry.get(item.path),
            self.now,
        )
        self._record({"op": "failed", "path": item.path, "retry": asdict(entry)})
        return ItemResult(
            item,
            "failed",
            error=error,
            permanent=permanent,
            remediation=remediation(error, permanent, entry.dead),
        )

    def _record(self, op: dict[str, Any]) -> None:
        apply_op(self.checkpoint, op)
        self.journal.record(op)

    def _open_index(self) -> VectorIndex:
        if self._index is None:
            self._index = self.index_factory()
        return self._index

    def _index_ready(self, out: Outcome) -> bool:
        return self.checkpoint.encoder is not None and out.collection == self.checkpoint.collection

    def _model(self, out: Outcome) -> str | None:
        return out.identity.model if out.identity else None

    def _entry_model(self, path: str) -> str | None:
        entry = self.checkpoint.entries.get(path)
        return entry.model if entry else None

    def _timed(self, out: Outcome, name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            out.timings[name] = round(out.timings.get(name, 0.0) + time.perf_counter() - start, 4)

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None


def _chunks(items: Sequence[PlanItem], size: int) -> Iterator[list[PlanItem]]:
    for start in range(0, len(items), max(size, 1)):
        yield list(items[start : start + size])


def _reused_or(vector: Sequence[float] | None, encoded: Iterator[Any]) -> Any:
    return next(encoded) if vector is None else vector
