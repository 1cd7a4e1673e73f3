"""The long-lived service state: it owns the store (writer lock, open index, loaded model).

Writes (sync, add, retry) run one at a time under a lock; asks run alongside them against
the same in-process index. A background loop syncs every N minutes, skipping a turn when a
write is already running, so runs never overlap.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from service.capture_wiring import (
    RUN_ID,
    capture_deps,
    capture_options,
    lm_config,
    make_merger,
    make_referee,
)
from service.memories import NotFoundError, get_memory, list_memories
from service.sessions import session_paths, session_source
from service.settings import Settings
from service.status import store_status
from service.wiring import (
    ask_scoring,
    check_kind,
    dedup_thresholds,
    maintain_policy,
    make_encoder,
    make_index,
    prepare_index,
    sync_deps,
)
from sync.capture.add import add_memory, new_candidate
from sync.capture.combined import capture_and_index
from sync.care.maintain_run import run_maintain
from sync.errors import MemsyncError
from sync.index.engine import SyncDeps, SyncOptions, drop_from_queue
from sync.llm import make_lm
from sync.lock import WriterLock
from sync.models import collection_name
from sync.ports import Encoder, SearchFilter, VectorIndex
from sync.recall.answer import answer_question
from sync.recall.retrieve import ask
from sync.store import StoreLayout
from sync.store.access import record_access

_RUN_ID = RUN_ID


class _SharedIndex:
    """The service's one index, lent to runs: their close() must not close it."""

    def __init__(self, index: VectorIndex) -> None:
        self._index = index

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)

    def close(self) -> None:
        pass


class ServiceState:
    def __init__(
        self, layout: StoreLayout, settings: Settings, encoder: Encoder | None = None
    ) -> None:
        self.layout, self.settings = layout, settings
        self.write_lock = threading.Lock()
        self._store_lock = WriterLock(layout.lock_path)
        self._encoder: Encoder | None = encoder  # given: reuse a loaded model (tests)
        self._index: VectorIndex | None = None
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None
        self._jobs: concurrent.futures.ThreadPoolExecutor | None = None  # queued syncs
        self.last_queued: dict[str, Any] | None = None
        self._queue_lock = threading.Lock()
        self._waiting: set[str] = set()  # queued runs not started yet
        self._running = 0
        self.last_background: dict[str, Any] | None = None
        self.last_maintain: dict[str, Any] | None = None
        self._lm: Any = None  # the DSPy LM, made on the first answer
        self.url: str | None = None  # where `memsync serve` listens (set once it does)
        self.started = dt.datetime.now(dt.UTC)

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        """Take the store (exit 4 if another writer has it), move its index if needed, and
        load the model so that the first request is as fast as the others."""
        prepare_index(self.settings, self.layout)
        self._store_lock.acquire()
        try:
            self._index = make_index(self.settings, self.layout)
            self._encoder = self._encoder or make_encoder(self.settings)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._stop.set()
        if self._loop is not None:
            self._loop.join(timeout=60)
        if self._jobs is not None:  # a queued capture finishes; the next sync redoes the rest
            self._jobs.shutdown(wait=True, cancel_futures=True)
        with self.write_lock:
            if self._index is not None:
                self._index.close()
                self._index = None
            self._store_lock.release()

    def start_background_sync(self, every_s: float, maintain_every_s: float = 0.0) -> None:
        """Sync every ``every_s`` and maintain every ``maintain_every_s`` (0: off), one job at
        a time under the write lock: a job due while another write runs waits its next turn."""
        jobs = [
            (s, fn)
            for s, fn in ((every_s, self._sync_job), (maintain_every_s, self._maintain_job))
            if s > 0
        ]
        if not jobs:
            return
        self._loop = threading.Thread(
            target=self._background, args=(jobs,), name="memsync-background", daemon=True
        )
        self._loop.start()

    def _background(self, jobs: list[tuple[float, Callable[[], None]]]) -> None:
        due = [time.monotonic() + every for every, _ in jobs]
        while not self._stop.wait(max(min(due) - time.monotonic(), 0.05)):
            for i, (every, job) in enumerate(jobs):
                if time.monotonic() < due[i] or not self.write_lock.acquire(blocking=False):
                    continue  # not due, or a sync/add/maintain is running: never overlap
                try:
                    job()
                except Exception as exc:  # boundary: the loop must survive a bad run
                    print(f"memsync: background {job.__name__} failed: {exc}", file=sys.stderr)
                finally:
                    self.write_lock.release()
                    due[i] = time.monotonic() + every

    def _sync_job(self) -> None:
        report = self._capture_and_index(SyncOptions(), {})
        self.last_background = {
            "run_id": report["run_id"],
            "counts": report["counts"],
            "finished": report["finished"],
        }

    def _maintain_job(self) -> None:
        report = run_maintain(
            self.layout,
            self.deps(),
            maintain_policy(self.settings),
            merger=make_merger(self.settings),
            lock_held=True,
            referee=make_referee(self.settings),
        )
        self.last_maintain = {"run_id": report["run_id"], "counts": report["counts"]}

    def _capture_and_index(self, opts: SyncOptions, capture: Mapping[str, Any]) -> dict[str, Any]:
        """One sync run; the caller holds ``write_lock`` unless it is a dry run."""
        deps = self.deps()
        if capture.get("sessions"):
            refs = list(capture["sessions"])
            capture = {**capture, "sessions": session_paths(self.settings, self.layout, refs)}
        copts = capture_options(self.settings, capture, deps.clock(), layout=self.layout)
        cdeps = capture_deps(self.settings, self.layout, deps)
        return capture_and_index(self.layout, copts, opts, cdeps, lock_held=True)

    # -- operations --------------------------------------------------------------------------

    def deps(self) -> SyncDeps:
        encoder, index = self._require()
        shared = _SharedIndex(index)
        return dataclasses.replace(
            sync_deps(self.settings, self.layout),
            encoder_factory=lambda: encoder,
            index_factory=lambda: shared,
            index_exists=lambda: True,
        )

    def sync(self, opts: SyncOptions, capture: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Capture (per ``capture``, the API's sync fields) then index; dry runs don't wait."""
        if opts.dry_run:
            return self._capture_and_index(opts, capture or {})
        with self.write_lock:
            return self._capture_and_index(opts, capture or {})

    def queue_sync(self, opts: SyncOptions, capture: Mapping[str, Any]) -> dict[str, Any]:
        """Run a sync later, one queued run at a time under the write lock, and answer at
        once (a session-end hook hands its transcript over without waiting for it). The same
        run asked again while it still waits is queued once."""
        key = json.dumps([vars(opts), capture], sort_keys=True, default=str)
        queued_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        answer = {"queued": True, "at": queued_at, "sessions": list(capture.get("sessions", ()))}
        with self._queue_lock:
            if key in self._waiting:
                return {**answer, "already_waiting": True}
            self._waiting.add(key)
            if self._jobs is None:
                self._jobs = concurrent.futures.ThreadPoolExecutor(1, "memsync-queued")
            self._jobs.submit(self._queued, key, opts, dict(capture), queued_at)
        return answer

    def _queued(self, key: str, opts: SyncOptions, capture: dict[str, Any], queued_at: str) -> None:
        with self._queue_lock:
            self._waiting.discard(key)  # from now on the same request queues a new run
            self._running += 1
        try:
            report = self.sync(opts, capture)
            self.last_queued = {"queued": queued_at, "run_id": report["run_id"],
                                "counts": report["counts"]}  # fmt: skip
        except Exception as exc:  # boundary: a queued run reports, the service goes on
            self.last_queued = {"queued": queued_at, "error": str(exc)}
            print(f"memsync: queued sync failed: {exc}", file=sys.stderr)
        finally:
            with self._queue_lock:
                self._running -= 1

    def queued(self) -> dict[str, Any]:
        """The queued syncs: how many wait or run, and the last one that finished."""
        with self._queue_lock:
            return {"waiting": len(self._waiting) + self._running, "last": self.last_queued}

    def answer(self, question: str, results: list[dict[str, Any]]) -> dict[str, Any] | None:
        """A short answer citing ``results`` when a language model is configured."""
        if not self.settings.llm_model:
            return None
        try:
            if self._lm is None:
                self._lm = make_lm(lm_config(self.settings))
            return answer_question(question, results, self._lm)
        except MemsyncError as exc:  # the ranked memories still answer; say why no summary
            return {
                "answer": None,
                "citations": [],
                "model": self.settings.llm_model,
                "error": str(exc),
            }

    def drop(self, paths: list[str]) -> list[str]:
        with self.write_lock:
            return drop_from_queue(self.layout, paths, lock_held=True)

    def add(
        self,
        *,
        kind: str,
        title: str,
        body: str,
        tags: tuple[str, ...],
        confidence: float,
        dry_run: bool,
        session: str | None = None,
    ) -> dict[str, Any]:
        check_kind(self.settings, kind, "kind")
        source: dict[str, Any] = {"agent": "api"}
        dated = None
        if session:  # the host agent's distillation: the session's provenance and date
            source, dated, extra = session_source(self.settings, self.layout, session, "api")
            tags = tuple(dict.fromkeys((*tags, *extra)))
        candidate = new_candidate(
            kind=kind,
            title=title,
            body=body,
            tags=tags,
            confidence=confidence,
            source=source,
            now=dt.datetime.now(dt.UTC),
            dated=dated,
        )
        with self.write_lock:
            return add_memory(
                self.layout,
                candidate,
                self.deps(),
                dedup_thresholds(self.settings),
                dry_run=dry_run,
                neighbours_k=self.settings.dedup_neighbours,
                lock_held=True,
                referee=make_referee(self.settings),
            )

    def ask(
        self,
        question: str,
        k: int,
        flt: SearchFilter,
        *,
        mode: str = "hybrid",
        min_score: float | None = None,
    ) -> dict[str, Any]:
        """Ranked memories above the relevance floor, and what was withheld under it."""
        for kind in flt.kinds:
            check_kind(self.settings, kind, "kind")
        encoder, index = self._require()
        collection = collection_name(self.settings.collection, encoder.identity)
        found = ask(
            question,
            encoder=encoder,
            index=index,
            collection=collection,
            k=k,
            flt=flt,
            memory_dir=self.layout.memory_dir,
            mode=mode,
            scoring=ask_scoring(self.settings, min_score),
        )
        record_access(self.layout, (r["id"] for r in found["results"]), dt.datetime.now(dt.UTC))
        return found

    def status(self) -> dict[str, Any]:
        data = store_status(self.layout, self.settings, _SharedIndex(self._require()[1]))
        data["service"] = {
            "url": self.url,
            "pid": os.getpid(),
            "started": self.started.isoformat(timespec="seconds"),
            "uptime_s": round((dt.datetime.now(dt.UTC) - self.started).total_seconds()),
            "background_sync": self.last_background,
            "background_maintain": self.last_maintain,
            "queued_syncs": self.queued(),
        }
        return data

    def list_memories(
        self, *, kind: str | None, tag: str | None, offset: int, limit: int, sort: str = "path"
    ) -> dict[str, Any]:
        return list_memories(self.layout, kind=kind, tag=tag, offset=offset, limit=limit, sort=sort)

    def get_memory(self, memory_id: str) -> dict[str, Any]:
        return get_memory(self.layout, memory_id)

    def reports(self, offset: int, limit: int) -> dict[str, Any]:
        files = sorted(self._report_files(), reverse=True)
        page = []
        for path in files[offset : offset + limit]:
            report = json.loads(path.read_text(encoding="utf-8"))
            page.append(
                {
                    key: report.get(key)
                    for key in ("run_id", "kind", "dry_run", "started", "finished", "counts")
                }
            )
        return {"total": len(files), "offset": offset, "limit": limit, "reports": page}

    def report(self, run_id: str) -> dict[str, Any]:
        if not _RUN_ID.match(run_id):
            raise NotFoundError(f"{run_id!r} is not a run id (8 hex digits)")
        for path in self._report_files():
            if path.stem.endswith(f"-{run_id}"):
                return dict(json.loads(path.read_text(encoding="utf-8")))
        raise NotFoundError(f"no report for run {run_id}")

    def _report_files(self) -> Iterator[Any]:
        if self.layout.reports_dir.is_dir():
            yield from self.layout.reports_dir.glob("sync-*.json")

    def _require(self) -> tuple[Encoder, VectorIndex]:
        if self._encoder is None or self._index is None:
            raise RuntimeError("the service is not open")
        return self._encoder, self._index
