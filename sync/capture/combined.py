"""`memsync sync`: capture, then index, as one run with one report.

A real run first brings the index up to date (so dedup sees hand edits and a killed run's
files), captures, then indexes what capture wrote; the report counts every change of both
index passes, one result per file. A dry run writes nothing, so it plans both from one state:
capture's dedup sees what the catch-up would index, and the index preview includes the files
capture would write. A dry run and the real run that follows it report the same counts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sync.capture.pipeline import run_capture
from sync.capture.work import CaptureDeps, CaptureOptions
from sync.index.checkpoint import load_checkpoint
from sync.index.engine import EarlierPass, SyncOptions, catch_up, run_sync, writer_lock
from sync.store import StoreLayout
from sync.store.markdown import render_memory

# what `memsync retry` answers when nothing waits: it runs no sync
NOTHING_QUEUED: Mapping[str, Any] = {"retried": False, "retry_queue": 0, "dead_letters": 0}


def queued(layout: StoreLayout) -> bool:
    """Whether any memory file or source item waits in the retry queue (dead letters too)."""
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    return bool(checkpoint.retry or checkpoint.source_retry)


def capture_and_index(
    layout: StoreLayout,
    opts: CaptureOptions,
    sync_opts: SyncOptions,
    deps: CaptureDeps,
    *,
    lock_held: bool = False,
) -> dict[str, Any]:
    """Capture the sources, then index the memory folder; one report for both."""
    with writer_lock(layout, skip=opts.dry_run or sync_opts.ignore_lock or lock_held):
        earlier: list[EarlierPass] = []

        def index_first() -> None:
            if not opts.dry_run:
                earlier.append(catch_up(layout, deps.sync))

        checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
        capture, planned = run_capture(
            layout, opts, deps, catch_up=index_first, checkpoint=checkpoint
        )
        overlay = {rel: render_memory(memory).encode("utf-8") for rel, memory in planned}
        final = dataclasses.replace(
            sync_opts,
            attachments={"capture": capture},
            overlay=overlay or None,
            earlier=earlier[0] if earlier else None,
        )
        unchanged = capture["counts"]["read"] == 0  # nothing indexed nor journaled since
        return run_sync(
            layout, final, deps.sync, lock_held=True, checkpoint=checkpoint if unchanged else None
        )
