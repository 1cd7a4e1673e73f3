"""What every command shares: exit codes, opening the store, finding a running service.

Light on purpose: a command that goes through a running service imports only this, the
client and its renderer; what works on the store itself is imported when it is needed."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.http.client import Remote, find_service
from service.settings import Settings, load_settings, locate_store
from sync.store import StoreLayout

if TYPE_CHECKING:  # the local route's modules load only when a command runs locally
    from sync.index.engine import SyncDeps

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_RETRY, EXIT_LOCKED, EXIT_AUDIT_FAILED = 0, 1, 2, 3, 4, 5

Result = tuple[dict[str, Any], str, int]  # JSON data, text for people, exit code


def open_store() -> tuple[StoreLayout, Settings]:
    layout = locate_store(Path.cwd(), os.environ)
    return layout, load_settings(layout, os.environ)


def open_for_data(
    *, dry_run: bool = False
) -> tuple[StoreLayout, Settings, SyncDeps, dict[str, Any] | None]:
    """Open the store for a data command; first move its index to the configured backend
    if it lives in another one (a dry run only says it would)."""
    from service.wiring import index_present, index_seal, open_index, prepare_index, sync_deps
    from sync.index.checkpoint import load_checkpoint
    from sync.index.migrate import pending_migration, pending_upgrade

    layout, settings = open_store()
    deps = sync_deps(settings, layout, reader=dry_run)
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
            deps.index_exists = lambda: index_present(source, layout)
            deps.index_factory = lambda: open_index(source, settings, layout, reader=True)
            deps.index_seal = lambda: index_seal(source, layout)
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


def remote_service() -> Remote | None:
    """The running `memsync serve` of this store: data commands then go through it."""
    return find_service(locate_store(Path.cwd(), os.environ), os.environ)


def sync_exit(report: dict[str, Any]) -> int:
    c = report["counts"]
    captured_failures = report.get("capture", {}).get("counts", {}).get("failed", 0)
    queued = c["retry_queue"] or c["dead_letters"] or captured_failures
    return EXIT_RETRY if not report["dry_run"] and queued else EXIT_OK


def progress_printer(label: str) -> Any:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r{label} {done}/{total}", end=end, file=sys.stderr, flush=True)

    return show
