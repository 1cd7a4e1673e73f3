"""Commands that capture, index and care for the store: sync, retry, maintain, restore,
archive, sources, serve."""

from __future__ import annotations

import argparse
import os
from typing import Any

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
from sync.errors import LockBusyError, UsageError
from sync.index.engine import SyncOptions, drop_from_queue
from sync.index.report import write_report
from sync.store import StoreLayout


def cmd_sync(args: argparse.Namespace) -> Result:
    from service.sessions import session_paths
    from sync.capture.combined import capture_and_index

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
        "all_projects": args.all_projects,
        "sessions": args.session,
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
    if args.session:
        capture["sessions"] = session_paths(settings, layout, args.session)
    capture_opts = capture_options(
        settings,
        {**capture, "force": args.force, "dry_run": args.dry_run},
        deps.clock(),
        layout=layout,
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
    from sync.capture.combined import NOTHING_QUEUED, capture_and_index, queued

    remote = remote_service()
    if remote is not None:
        data = request(
            remote, "POST", "/api/retry", {"drop": args.drop} if args.drop is not None else {}
        )
        if args.drop is not None:
            return data, _dropped_text(data["dropped"]), EXIT_OK
        return present_retry(args, data)
    if args.drop is not None:
        return _drop(open_store()[0], args.drop)
    layout, settings = open_store()
    if not queued(layout):
        return present_retry(args, dict(NOTHING_QUEUED))
    layout, settings, deps, _ = open_for_data()
    deps.progress = progress_printer("retrying")
    capture = capture_options(settings, {"retry_now": True}, deps.clock(), layout=layout)
    report = capture_and_index(
        layout, capture, SyncOptions(retry_now=True), capture_deps(settings, layout, deps)
    )
    return present_retry(args, report)


def present_retry(args: argparse.Namespace, data: dict[str, Any]) -> Result:
    if data.get("retried") is False:
        return data, "nothing to retry: the retry queue is empty (no sync was run)", EXIT_OK
    return data, render.sync_text(data), sync_exit(data)


def _drop(layout: StoreLayout, paths: list[str]) -> Result:
    chosen = drop_from_queue(layout, paths)
    return {"dropped": chosen}, _dropped_text(chosen), EXIT_OK


def _dropped_text(paths: list[str]) -> str:
    return "\n".join(f"dropped {p} (edit it to try again)" for p in paths) or "nothing to drop"


def cmd_maintain(args: argparse.Namespace) -> Result:
    from service.care import maintain

    layout, settings, deps, _ = open_for_data(dry_run=args.dry_run)
    data = maintain(layout, settings, deps, dry_run=args.dry_run, undo_run=args.undo)
    return present_maintain(args, data)


def present_maintain(args: argparse.Namespace, data: dict[str, Any]) -> Result:
    if "undone" in data:
        text = "\n".join(f"  {c}" for c in data["changes"]) or "nothing to undo"
        return data, f"undid maintenance run {data['undone']}:\n{text}", EXIT_OK
    return data, render.maintain_text(data), EXIT_OK


def cmd_restore(args: argparse.Namespace) -> Result:
    from service.care import restore_memory

    layout, _, deps, _ = open_for_data()
    return present_restore(args, restore_memory(layout, deps, args.memory_id))


def present_restore(args: argparse.Namespace, data: dict[str, Any]) -> Result:
    text = f"restored {data['restored']}: memory/{data['from']} -> memory/{data['to']}"
    return data, text, EXIT_OK


def cmd_archive(args: argparse.Namespace) -> Result:
    from service.care import archive_memory

    layout, _, deps, _ = open_for_data()
    return present_archive(args, archive_memory(layout, deps, args.memory_id, args.reason))


def present_archive(args: argparse.Namespace, data: dict[str, Any]) -> Result:
    text = (
        f"archived {data['archived']}: memory/{data['from']} -> memory/{data['to']} "
        f"({data['reason']}); `memsync restore {data['archived']}` brings it back"
    )
    return data, text, EXIT_OK


def cmd_sources(args: argparse.Namespace) -> Result:
    layout, settings = open_store()
    return present_sources(args, list_sources(settings, layout, user_home()))


def present_sources(args: argparse.Namespace, data: dict[str, Any]) -> Result:
    return data, render.sources_text(data), EXIT_OK


def cmd_serve(args: argparse.Namespace) -> Result:
    from service.agents.mcp_http import mcp_mount
    from service.http.server import serve

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
        mounts=[mcp_mount],
    )
    return {"stopped": True}, "memsync: service stopped", EXIT_OK
