"""Command handlers: each returns (JSON data, text for people, exit code)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any

from service import render
from service.audit_commands import cmd_audit  # noqa: F401  (re-exported for the CLI)
from service.capture_wiring import (
    RUN_ID,
    capture_deps,
    capture_options,
    list_sources,
    user_home,
)
from service.cli import EXIT_OK, EXIT_RETRY
from service.client import Remote, find_service, request
from service.daily_commands import cmd_backfill, cmd_compare  # noqa: F401
from service.server import serve
from service.settings import DEFAULT_CONFIG, Settings, load_settings, locate_store
from service.status import store_status
from service.wiring import (
    dedup_thresholds,
    index_exists,
    index_id,
    index_present,
    maintain_policy,
    make_encoder,
    make_index,
    prepare_index,
    sync_deps,
)
from sync.access import record_access
from sync.add import add_memory, new_candidate
from sync.capture import capture_and_index
from sync.checkpoint import load_checkpoint
from sync.engine import SyncDeps, SyncOptions, drop_from_queue
from sync.errors import LockBusyError, MemsyncError, UsageError
from sync.fsutil import atomic_write_bytes
from sync.markdown import KIND_RE
from sync.migrate import pending_migration, pending_upgrade
from sync.models import collection_name
from sync.ports import SearchFilter
from sync.report import write_report
from sync.retrieve import ask
from sync.store import STORE_DIRNAME, StoreLayout, init_store

Result = tuple[dict[str, Any], str, int]


def _open() -> tuple[StoreLayout, Settings]:
    layout = locate_store(Path.cwd(), os.environ)
    return layout, load_settings(layout, os.environ)


def _open_for_data(
    *, dry_run: bool = False
) -> tuple[StoreLayout, Settings, SyncDeps, dict[str, Any] | None]:
    """Open the store for a data command; first move its index to the configured backend
    if it lives in another one (a dry run only says it would)."""
    layout, settings = _open()
    deps = sync_deps(settings, layout)
    if dry_run:
        source = pending_migration(
            layout, deps.index_id, lambda ident: index_present(ident, layout)
        )
        if source is not None:  # plan against the index the points are in today
            print(
                f"memsync: a real run would first move the index from {source} to "
                f"{deps.index_id} (vectors reused)",
                file=sys.stderr,
            )
            deps.index_id = source
        if pending_upgrade(
            load_checkpoint(layout.checkpoint_path, layout.journal_path), deps.collection_prefix
        ):
            print(
                "memsync: a real run would first upgrade the index to hybrid search "
                "(vectors reused, lexical weights added)",
                file=sys.stderr,
            )
            deps.schema_upgrade_pending = True
        return layout, settings, deps, None
    return layout, settings, deps, prepare_index(settings, layout)


def _remote() -> Remote | None:
    """The running `memsync serve` of this store: data commands then go through it."""
    return find_service(locate_store(Path.cwd(), os.environ), os.environ)


def cmd_serve(args: argparse.Namespace) -> Result:
    layout, settings = _open()
    if _remote() is not None:
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


def cmd_init(args: argparse.Namespace) -> Result:
    root = (args.path or Path.cwd()).resolve() / STORE_DIRNAME
    layout, created = init_store(root)
    if not layout.config_path.exists():
        atomic_write_bytes(layout.config_path, DEFAULT_CONFIG.encode("utf-8"))
    data = {"store": str(root), "created": created}
    verb = "Created" if created else "Already initialised:"
    text = f"{verb} {root}\nNext: add memories under {layout.memory_dir}, then `memsync sync`."
    return data, text, EXIT_OK


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
    remote = _remote()
    if remote is not None:
        body = {"dry_run": args.dry_run, "force": args.force, "all_items": args.all_items}
        body.update({k: v for k, v in capture.items() if v not in (None, [], False)})
        report = request(remote, "POST", "/api/sync", body)
        if args.report is not None:  # the service never writes outside its store: we do
            write_report(args.report, report, exact=True)
        return report, render.sync_text(report), _sync_exit(report)
    layout, settings, deps, migrated = _open_for_data(dry_run=args.dry_run)
    deps.progress = _progress_printer("indexing")
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
    return report, render.sync_text(report), _sync_exit(report)


def cmd_maintain(args: argparse.Namespace) -> Result:
    from service.capture_wiring import make_merger
    from sync.maintain_run import deterministic_merge, run_maintain, undo

    if _remote() is not None:
        raise UsageError(
            "the memsync service owns this store and maintains it on its schedule "
            "([maintain] interval_min); stop it to run maintain by hand"
        )
    layout, settings, deps, _ = _open_for_data(dry_run=args.dry_run)
    if args.undo:
        data = undo(layout, deps, args.undo)
        text = "\n".join(f"  {c}" for c in data["changes"]) or "nothing to undo"
        return data, f"undid maintenance run {args.undo}:\n{text}", EXIT_OK
    merger = deterministic_merge if args.dry_run else make_merger(settings)
    report = run_maintain(
        layout, deps, maintain_policy(settings), dry_run=args.dry_run, merger=merger
    )
    return report, render.maintain_text(report), EXIT_OK


def cmd_restore(args: argparse.Namespace) -> Result:
    from sync.maintain_run import restore

    layout, _, deps, _ = _open_for_data()
    data = restore(layout, deps, args.memory_id)
    return (
        data,
        f"restored {data['restored']}: memory/{data['from']} -> memory/{data['to']}",
        EXIT_OK,
    )


def cmd_sources(args: argparse.Namespace) -> Result:
    layout, settings = _open()
    data = list_sources(settings, layout, user_home())
    return data, render.sources_text(data), EXIT_OK


def cmd_retry(args: argparse.Namespace) -> Result:
    remote = _remote()
    if remote is not None:
        data = request(
            remote, "POST", "/api/retry", {"drop": args.drop} if args.drop is not None else {}
        )
        if args.drop is not None:
            return data, _dropped_text(data["dropped"]), EXIT_OK
        return data, render.sync_text(data), _sync_exit(data)
    if args.drop is not None:
        return _drop(_open()[0], args.drop)
    layout, settings, deps, _ = _open_for_data()
    deps.progress = _progress_printer("retrying")
    capture = capture_options(settings, {"retry_now": True}, deps.clock())
    report = capture_and_index(
        layout, capture, SyncOptions(retry_now=True), capture_deps(settings, layout, deps)
    )
    return report, render.sync_text(report), _sync_exit(report)


def _drop(layout: StoreLayout, paths: list[str]) -> Result:
    chosen = drop_from_queue(layout, paths)
    return {"dropped": chosen}, _dropped_text(chosen), EXIT_OK


def _dropped_text(paths: list[str]) -> str:
    return "\n".join(f"dropped {p} (edit it to try again)" for p in paths) or "nothing to drop"


def cmd_add(args: argparse.Namespace) -> Result:
    body = _body(args)
    if not args.title.strip():
        raise UsageError("--title is empty")
    if not 0.0 <= args.confidence <= 1.0:
        raise UsageError("--confidence must be between 0 and 1")
    if not KIND_RE.match(args.kind):  # the same rule as for files
        raise UsageError(f"--kind {args.kind!r}: lowercase letters, digits, '-' or '_'")
    now = dt.datetime.now(dt.UTC)
    tags = tuple(t.strip() for t in args.tags.split(",") if t.strip())
    candidate = new_candidate(
        kind=args.kind,
        title=args.title,
        body=body,
        tags=tags,
        confidence=args.confidence,
        source={"agent": "cli"},
        now=now,
    )
    remote = _remote()
    if remote is not None:
        result = request(
            remote,
            "POST",
            "/api/memories",
            {
                "kind": args.kind,
                "title": args.title,
                "body": body,
                "tags": list(tags),
                "confidence": args.confidence,
                "dry_run": args.dry_run,
            },
        )
        failed = bool(result.get("sync", {}).get("failures"))
        return result, render.add_text(result), EXIT_RETRY if failed else EXIT_OK
    layout, settings, deps, _ = _open_for_data(dry_run=args.dry_run)
    result = add_memory(
        layout,
        candidate,
        deps,
        dedup_thresholds(settings),
        dry_run=args.dry_run,
        neighbours_k=settings.dedup_neighbours,
    )
    failed = bool(result.get("sync", {}).get("failures"))
    return result, render.add_text(result), EXIT_RETRY if failed else EXIT_OK


def _body(args: argparse.Namespace) -> str:
    if args.body_file is not None:
        try:
            return str(args.body_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--body-file {args.body_file}: {exc}") from None
    if args.body == "-":
        return sys.stdin.read()
    if not args.body or not args.body.strip():
        raise UsageError("give the memory a body: --body TEXT, --body - (stdin) or --body-file")
    return str(args.body)


def cmd_ask(args: argparse.Namespace) -> Result:
    if args.k < 1 or args.k > 100:
        raise UsageError("--k must be between 1 and 100")
    if not args.question.strip():
        raise UsageError("the question is empty")
    remote = _remote()
    if remote is not None:
        t0 = time.perf_counter()
        data = request(
            remote,
            "POST",
            "/api/ask",
            {
                "question": args.question,
                "k": args.k,
                "kinds": args.kind,
                "tags": args.tag,
                "include_archived": args.include_archived,
                "mode": args.mode,
                "answer": not args.no_answer,
            },
        )
        data["took_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        return data, render.ask_text(data), EXIT_OK
    layout, settings, _, _ = _open_for_data()
    results: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    if index_exists(settings, layout):
        encoder = make_encoder(settings)
        index = make_index(settings, layout)
        try:
            flt = SearchFilter(tuple(args.kind), tuple(args.tag), args.include_archived)
            results = ask(
                args.question,
                encoder=encoder,
                index=index,
                collection=collection_name(settings.collection, encoder.identity),
                k=args.k,
                flt=flt,
                memory_dir=layout.memory_dir,
                mode=args.mode,
            )
        finally:
            index.close()
    record_access(layout, (r["id"] for r in results), dt.datetime.now(dt.UTC))
    data = {
        "question": args.question,
        "results": results,
        "answer": None if args.no_answer else _answer(settings, args.question, results),
        "took_ms": round((time.perf_counter() - t0) * 1000, 1),
    }
    return data, render.ask_text(data), EXIT_OK


def _answer(settings: Settings, question: str, results: list[dict[str, Any]]) -> Any:
    """A cited answer from the configured language model; None without one."""
    if not settings.llm_model:
        return None
    from service.capture_wiring import lm_config
    from sync.answer import answer_question
    from sync.extraction.lm import make_lm

    try:
        return answer_question(question, results, make_lm(lm_config(settings)))
    except MemsyncError as exc:  # the ranked memories still stand
        return {"answer": None, "citations": [], "model": settings.llm_model, "error": str(exc)}


def cmd_index(args: argparse.Namespace) -> Result:
    layout, settings = _open()
    result = prepare_index(settings, layout, quiet=args.json)
    if result is None:
        data = {"migrated": False, "index": index_id(settings)}
        return data, f"nothing to move: the index is already {index_id(settings)}", EXIT_OK
    lines = []
    if "collections" in result:
        lines.append(
            f"moved {result['points']} points from {result['from']} to {result['to']} "
            f"in {len(result['collections'])} collection(s); nothing re-embedded"
        )
    if up := result.get("upgraded"):
        lines.append(
            f"upgraded {up['points']} points to hybrid search ({up['from']} -> {up['to']}); "
            "nothing re-embedded"
        )
    return {"migrated": True, **result}, "\n".join(lines), EXIT_OK


def cmd_skill(args: argparse.Namespace) -> Result:
    from service.skills import install_skills

    target = args.path or Path(os.environ.get("HOME", "~")).expanduser() / ".claude" / "skills"
    done = install_skills(target, force=args.force)
    text = "\n".join(f"{d['state']:<9} /{d['skill']}  {d['path']}" for d in done)
    return {"skills": done}, text, EXIT_OK


def cmd_status(args: argparse.Namespace) -> Result:
    remote = _remote()
    if remote is not None:
        data = request(remote, "GET", "/api/status")
        return data, render.status_text(data), EXIT_OK
    layout, settings = _open()
    data = store_status(layout, settings)
    return data, render.status_text(data), EXIT_OK


def _sync_exit(report: dict[str, Any]) -> int:
    c = report["counts"]
    captured_failures = report.get("capture", {}).get("counts", {}).get("failed", 0)
    queued = c["retry_queue"] or c["dead_letters"] or captured_failures
    return EXIT_RETRY if not report["dry_run"] and queued else EXIT_OK


def _progress_printer(label: str) -> Any:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r{label} {done}/{total}", end=end, file=sys.stderr, flush=True)

    return show
