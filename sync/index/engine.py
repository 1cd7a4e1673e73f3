"""One sync run: lock, load the checkpoint, scan, plan, execute (unless dry run), report."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.errors import UsageError
from sync.fsutil import TMP_SUFFIX
from sync.index.checkpoint import Checkpoint, Journal, SourceEntry, load_checkpoint, save_checkpoint
from sync.index.executor import Executor
from sync.index.outcome import ItemResult, Outcome
from sync.index.passages import SCHEME as PASSAGE_SCHEME
from sync.index.planner import PlanOptions, must_read_all, plan_sync
from sync.index.report import build_report, prune_reports, write_report
from sync.index.scan import overlay_files, scan
from sync.index.verify import IndexCheck, check_index
from sync.lock import WriterLock
from sync.models import KINDS, Action, Memory, Plan, ScannedFile, kind_problem
from sync.ports import Encoder, VectorIndex
from sync.redact import redact_data
from sync.retry import RetryPolicy
from sync.store import DEFAULT_MAX_FILE_BYTES, StoreLayout


@dataclass(frozen=True)
class SyncOptions:
    dry_run: bool = False
    force: bool = False
    retry_now: bool = False
    ignore_lock: bool = False
    scope: frozenset[str] | None = None
    report_path: Path | None = None
    list_unchanged: bool = False
    run_id: str | None = None  # default: random
    write_reports: bool = True  # False for the index pass that precedes a capture
    attachments: Mapping[str, Any] | None = None  # more report sections (the capture's)
    # dry run: files a capture would write (path under memory/ -> bytes), planned as if written
    overlay: Mapping[str, bytes] | None = None
    # an index pass made earlier in the same run (capture's catch-up): reported with this one
    earlier: EarlierPass | None = None


@dataclass(frozen=True)
class EarlierPass:
    """What an index pass changed, to be reported by the pass that ends the same run."""

    results: tuple[ItemResult, ...] = ()
    recovered: bool = False


@dataclass
class SyncDeps:
    """Everything a run needs from outside the core, built by the composition root."""

    encoder_model: str
    encoder_factory: Callable[[], Encoder]
    index_factory: Callable[[], VectorIndex]
    index_exists: Callable[[], bool] = lambda: True  # False: nothing to open (embedded, fresh)
    # a signature of the embedded index's files (sync.fsutil.tree_seal); None: no such thing
    index_seal: Callable[[], str | None] = lambda: None
    index_id: str = "local"  # recorded in the checkpoint; a change re-indexes everything
    collection_prefix: str = "memsync"
    # a dry run that precedes a collection upgrade plans as if it were done (vectors reused)
    schema_upgrade_pending: bool = False
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    batch_size: int = 64
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    keep_reports: int = 500
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    progress: Callable[[int, int], None] | None = None
    kinds: Sequence[str] | None = None  # the kind vocabulary; files outside it get a warning


@contextlib.contextmanager
def writer_lock(layout: StoreLayout, *, skip: bool) -> Iterator[None]:
    """Hold the store's writer lock for the block, unless told to skip it."""
    if skip:
        yield
        return
    with WriterLock(layout.lock_path):
        yield


def run_sync(
    layout: StoreLayout,
    opts: SyncOptions,
    deps: SyncDeps,
    *,
    lock_held: bool = False,
    checkpoint: Checkpoint | None = None,
) -> dict[str, Any]:
    """Run (or preview) one sync and return its report. ``checkpoint``: one the caller has
    just loaded under the same lock and not changed since (saves reading it again)."""
    with writer_lock(layout, skip=opts.dry_run or opts.ignore_lock or lock_held):
        return _run_locked(layout, opts, deps, checkpoint)[0]


def catch_up(layout: StoreLayout, deps: SyncDeps) -> EarlierPass:
    """Index what changed in memory/ under the caller's lock, writing no report: capture
    runs this before it reads, and the run's final pass reports these changes with its own."""
    opts = SyncOptions(write_reports=False)
    _, outcome, recovered = _run_locked(layout, opts, deps, None)
    done = outcome.results if outcome is not None else []
    changed = [r for r in done if r.item.action is not Action.UNCHANGED or r.status == "failed"]
    return EarlierPass(tuple(changed), recovered)


def preview(
    layout: StoreLayout, deps: SyncDeps, checkpoint: Checkpoint
) -> tuple[Plan, dict[str, Memory]]:
    """The plan a sync would run now, and the memories it would index (path -> memory)."""
    plan, scanned, _, _ = _plan(layout, SyncOptions(dry_run=True), deps, checkpoint, deps.clock())
    return plan, {sf.path: sf.memory for sf in scanned if sf.memory is not None}


def _plan(
    layout: StoreLayout,
    opts: SyncOptions,
    deps: SyncDeps,
    checkpoint: Checkpoint,
    now: dt.datetime,
    timings: dict[str, float] | None = None,
) -> tuple[Plan, list[ScannedFile], IndexCheck, bool]:
    """Check the index against the checkpoint (unless its files are as the last run left
    them), scan memory/ (plus a dry run's overlay of files capture would write) and plan.
    Returns the plan, what was scanned, the index check and whether the index was sealed."""
    timings = {} if timings is None else timings
    t = time.perf_counter()
    plan_opts = PlanOptions(
        deps.encoder_model,
        index_id=deps.index_id,
        collection_prefix=deps.collection_prefix,
        schema_upgrade_pending=deps.schema_upgrade_pending,
        force=opts.force,
        retry_now=opts.retry_now,
        scope=opts.scope,
        dim_hint=checkpoint.encoder.dim if checkpoint.encoder else 384,
    )
    check = IndexCheck(expected=len(checkpoint.entries))
    sealed = checkpoint.index_seal is not None and checkpoint.index_seal == deps.index_seal()
    if not must_read_all(checkpoint, plan_opts) and not sealed:
        check = _check(checkpoint, deps, opts)
        plan_opts = dataclasses.replace(plan_opts, missing=check.missing, strays=check.strays)
    timings["verify_index"] = round(time.perf_counter() - t, 4)
    t = time.perf_counter()
    known = {} if must_read_all(checkpoint, plan_opts) else checkpoint.entries
    if check.missing:  # read them again: their point is rebuilt from the markdown
        known = {p: e for p, e in known.items() if p not in check.missing}
    leftovers: list[Path] = []
    now_ns = time.time_ns()
    scanned = scan(
        layout.memory_dir,
        known,
        now_ns=now_ns,
        max_bytes=deps.max_file_bytes,
        only=opts.scope,
        leftovers=leftovers,
    )
    if not (opts.dry_run or opts.ignore_lock):  # no other writer is half-way through a file
        _remove_leftovers(layout, leftovers)
    if opts.overlay:
        scanned = overlay_files(scanned, opts.overlay, known, now_ns)
    timings["scan"] = round(time.perf_counter() - t, 4)
    return plan_sync(scanned, checkpoint, plan_opts, now), scanned, check, sealed


def _run_locked(
    layout: StoreLayout, opts: SyncOptions, deps: SyncDeps, loaded: Checkpoint | None
) -> tuple[dict[str, Any], Outcome | None, bool]:
    started, t0 = deps.clock(), time.perf_counter()
    run_id = opts.run_id or secrets.token_hex(4)
    recovered = layout.journal_path.exists()
    checkpoint = (
        loaded
        if loaded is not None and not recovered
        else load_checkpoint(layout.checkpoint_path, layout.journal_path)
    )
    timings: dict[str, float] = {}
    plan, scanned, check, sealed = _plan(layout, opts, deps, checkpoint, started, timings)
    outcome: Outcome | None = None
    if not opts.dry_run:
        whole = opts.scope is None  # a scoped pass did not see every long memory
        outcome = _execute(layout, plan, scanned, checkpoint, deps, started, recovered, whole)
        timings.update(outcome.timings)
    timings["total"] = round(time.perf_counter() - t0, 4)
    earlier = opts.earlier or EarlierPass()
    report = build_report(
        run_id=run_id,
        started=started,
        finished=deps.clock(),
        layout=layout,
        plan=plan,
        outcome=outcome,
        checkpoint=checkpoint,
        timings=timings,
        list_unchanged=opts.list_unchanged,
        recovered=recovered or earlier.recovered,
        earlier=earlier.results,
    )
    report["warnings"] += kind_warnings(scanned, deps.kinds)
    report["index_check"] = {**check.as_dict(), "unchanged_since_last_run": sealed}
    if check.problem:
        report["warnings"].append(check.problem)
    report.update(opts.attachments or {})
    report = redact_data(report)  # error messages may quote a file; paths name hand-made files
    if not opts.dry_run and opts.write_reports:
        report["report_files"] = [str(p) for p in write_report(layout.reports_dir, report)]
        prune_reports(layout.reports_dir, keep=deps.keep_reports)
    if opts.report_path is not None:
        write_report(opts.report_path, report, exact=True)
    return report, outcome, recovered


def kind_warnings(scanned: Sequence[ScannedFile], kinds: Sequence[str] | None) -> list[str]:
    """A line for each file read this run whose kind is outside the vocabulary (it is
    indexed all the same: nothing a person wrote is refused for its kind)."""
    if kinds is None:
        return []
    builtin = set(KINDS)
    custom = [k for k in kinds if k not in builtin]
    out = []
    for sf in scanned:
        if sf.memory is not None and sf.memory.kind not in kinds:
            problem = kind_problem(sf.memory.kind, custom)
            out.append(f"memory/{sf.path}: kind {problem} (indexed all the same)")
    return out


def _remove_leftovers(layout: StoreLayout, found: list[Path]) -> None:
    """Temporary files of atomic writes whose process was killed (memory/, state/, reports/)."""
    for folder in (layout.state_dir, layout.reports_dir):
        if folder.is_dir():
            found.extend(folder.glob(f".*{TMP_SUFFIX}"))
    for path in found:
        with contextlib.suppress(OSError):
            path.unlink()


def _check(checkpoint: Checkpoint, deps: SyncDeps, opts: SyncOptions) -> IndexCheck:
    """Verify the index against the checkpoint (not for runs limited to some paths)."""
    if opts.scope is not None:
        return IndexCheck()
    return check_index(
        checkpoint,
        index_id=deps.index_id,
        encoder_model=deps.encoder_model,
        index_exists=deps.index_exists,
        index_factory=deps.index_factory,
        repair=not opts.dry_run,
    )


def _execute(
    layout: StoreLayout,
    plan: Plan,
    scanned: Sequence[ScannedFile],
    checkpoint: Checkpoint,
    deps: SyncDeps,
    now: dt.datetime,
    recovered: bool,
    whole: bool = True,
) -> Outcome:
    journal = Journal(layout.journal_path)
    executor = Executor(
        checkpoint=checkpoint,
        journal=journal,
        memories={sf.path: sf.memory for sf in scanned if sf.memory is not None},
        encoder_factory=deps.encoder_factory,
        index_factory=deps.index_factory,
        collection_prefix=deps.collection_prefix,
        index_id=deps.index_id,
        policy=deps.policy,
        now=now,
        batch_size=deps.batch_size,
        progress=deps.progress,
    )
    try:
        outcome = executor.run(plan)
    finally:
        journal.commit()
        journal.close()
        executor.close()
    outcome.warnings.extend(checkpoint.warnings)
    seal = deps.index_seal()  # the index as this run leaves it, closed: the next run's check
    # every long memory is now indexed with its passages, queued, or waiting for an edit
    upgraded = whole and checkpoint.passages != PASSAGE_SCHEME
    if upgraded:
        checkpoint.passages = PASSAGE_SCHEME
    if journal.wrote or recovered or upgraded or seal != checkpoint.index_seal:
        checkpoint.last_run = {"finished": now.isoformat()}
        checkpoint.index_seal = seal
        save_checkpoint(checkpoint, layout.checkpoint_path, layout.journal_path)
    return outcome


def drop_from_queue(
    layout: StoreLayout, paths: Sequence[str], *, lock_held: bool = False
) -> list[str]:
    """Forget queued items until their file changes (no paths: every dead letter)."""
    with writer_lock(layout, skip=lock_held):
        checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
        queued = {**checkpoint.retry, **checkpoint.source_retry}
        unknown = [p for p in paths if p not in queued]
        if unknown:
            raise UsageError(f"not in the retry queue: {', '.join(unknown)} (see `memsync status`)")
        chosen = list(paths) or [p for p, r in queued.items() if r.dead]
        for path in chosen:
            if path in checkpoint.retry:
                checkpoint.ignored[path] = checkpoint.retry.pop(path).raw_hash
            else:  # a source: recorded as seen at its failing size/mtime, read once it changes
                entry = checkpoint.source_retry.pop(path)
                size, _, mtime = (entry.raw_hash or "0:0").partition(":")
                checkpoint.sources[path] = SourceEntry(
                    path,
                    path.split(":", 1)[0],
                    int(size),
                    int(mtime),
                    "",
                    (),
                    0,
                    entry.last_failed,
                )
        if chosen:
            save_checkpoint(checkpoint, layout.checkpoint_path, layout.journal_path)
        return chosen
