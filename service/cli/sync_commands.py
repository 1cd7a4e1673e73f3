"""Commands that capture, index and care for the store: sync, retry, maintain, restore,
sources, serve."""

from __future__ import annotations

import argparse
import os

from service.capture_wiring import (
    RUN_ID,
    capture_deps,
    capture_options,
    list_sources,
    user_home,
)
from service.cli import render
from service.cli.common import (
    EXIT_OK,
    Result,
    open_for_data,
    open_store,
    progress_printer,
    remote_service,
    sync_exit,
)
from service.http.client import request
from service.http.server import serve
from service.wiring import (
    maintain_policy,
)
from sync.capture.pipeline import capture_and_index
from sync.errors import LockBusyError, UsageError
from sync.index.engine import SyncOptions, drop_from_queue
from sync.index.report import write_report
from sync.store import StoreLayout


def cmd_sync(args: argparse.Namespace) -> Result:
    if args.run_id is not None and not RUN_ID.match(args.run_id):
        raise UsageError(f"--run-id {args.run_id!r}: letters, digits, '-' and '_' (max 64)")
    capture = {
        "scope": args.scope,
        "agent": args.agent,
        "window": args.window,
        "since": args.since,
        "until": args.until,
        "max_sessions": args.max_sessions,
        "run_id": args.run_id,
        "no_extract": args.no_extract,
        "tags": args.tags,
        "exclude": args.exclude,
        "content_type": args.content_type,
    }
    remote = remote_service()
    if remote is not None:
        body = {"dry_run": args.dry_run, "force": args.force, "all_items": args.all_items}
        body.update({k: v for k, v in capture.items() if v not in (None, [], False)})
        report = request(remote, "POST", "/api/sync", body)
        if args.report is not None:  # the service never writes outside its store: we do
            write_report(args.report, report, exact=True)
        return report, render.sync_text(report), sync_exit(report)
    layout, settings, deps, migrated = open_for_data(dry_run=args.dry_run)
    deps.progress = progress_printer("indexing")
    capture_opts = capture_options(
        settings, {**capture, "force": args.force, "dry_run": args.dry_run}, deps.clock()
    )
    opts = SyncOptions(
        dry_run=args.dry_run,
        force=args.force,
        ignore_lock=args.ignore_lock,
        report_path=args.report,
        list_unchanged=args.all_items,
        run_id=args.run_id,
    )
    report = capture_and_index(layout, capture_opts, opts, capture_deps(settings, layout, deps))
    if migrated:
        report["migration"] = migrated
    return report, render.sync_text(report), sync_exit(report)


def cmd_retry(args: argparse.Namespace) -> Result:
    remote = remote_service()
    if remote is not None:
        data = request(
            remote, "POST", "/api/retry", {"drop": args.drop} if args.drop is not None else {}
        )
        if args.drop is not None:
            return data, _dropped_text(data["dropped"]), EXIT_OK
        return data, render.sync_text(data), sync_exit(data)
    if args.drop is not None:
        return _drop(open_store()[0], args.drop)
    layout, settings, deps, _ = open_for_data()
    deps.progress = progress_printer("retrying")
    capture = capture_options(settings, {"retry_now": True}, deps.clock())
    report = capture_and_index(
        layout, capture, SyncOptions(retry_now=True), capture_deps(settings, layout, deps)
    )
    return report, render.sync_text(report), sync_exit(report)


def _drop(layout: StoreLayout, paths: list[str]) -> Result:
    chosen = drop_from_queue(layout, paths)
    return {"dropped": chosen}, _dropped_text(chosen), EXIT_OK


def _dropped_text(paths: list[str]) -> str:
    return "\n".join(f"dropped {p} (edit it to try again)" for p in paths) or "nothing to drop"


def cmd_maintain(args: argparse.Namespace) -> Result:
    from service.capture_wiring import make_merger, make_referee
    from sync.care.maintain_run import deterministic_merge, run_maintain, undo

    if remote_service() is not None:
        raise UsageError(
            "the memsync service owns this store and maintains it on its schedule "
            "([maintain] interval_min); stop it to run maintain by hand"
        )
    layout, settings, deps, _ = open_for_data(dry_run=args.dry_run)
    if args.undo:
        data = undo(layout, deps, args.undo)
        text = "\n".join(f"  {c}" for c in data["changes"]) or "nothing to undo"
        return data, f"undid maintenance run {args.undo}:\n{text}", EXIT_OK
    merger = deterministic_merge if args.dry_run else make_merger(settings)
    report = run_maintain(
        layout,
        deps,
        maintain_policy(settings),
        dry_run=args.dry_run,
        merger=merger,
        referee=make_referee(settings),
    )
    return report, render.maintain_text(report), EXIT_OK


def cmd_restore(args: argparse.Namespace) -> Result:
    from sync.care.maintain_run import restore

    layout, _, deps, _ = open_for_data()
    data = restore(layout, deps, args.memory_id)
    return (
        data,
        f"restored {data['restored']}: memory/{data['from']} -> memory/{data['to']}",
        EXIT_OK,
    )


def cmd_sources(args: argparse.Namespace) -> Result:
    layout, settings = open_store()
    data = list_sources(settings, layout, user_home())
    return data, render.sources_text(data), EXIT_OK


def cmd_serve(args: argparse.Namespace) -> Result:
    layout, settings = open_store()
    if remote_service() is not None:
        raise LockBusyError(f"a memsync service already runs for {layout.root}")
    every = settings.service_sync_interval_min if args.sync_every is None else args.sync_every
    serve(
        layout,
        settings,
        host=args.host or settings.service_host,
        port=settings.service_port if args.port is None else args.port,
        token=os.environ.get("MEMSYNC_API_TOKEN") or None,
        sync_every_s=every * 60,
    )
    return {"stopped": True}, "memsync: service stopped", EXIT_OK
