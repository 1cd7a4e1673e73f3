"""The commands the service runs for the CLI while it owns the store (audit, maintain,
restore, archive, compare, backfill, sources): read-only ones at once, writing ones as jobs,
one at a time under the write lock with the background sync, on the index and model it
holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.capture_wiring import list_sources, user_home
from service.care import archive_memory, audit, audit_fix, maintain, restore_memory
from service.daily import backfill_days, compare_days
from service.http.runtime import ServiceState


def run_audit(state: ServiceState, *, fix: bool, near: float | None) -> dict[str, Any]:
    if not fix:
        return audit(state.layout, state.settings, state.deps(), near=near)
    with state.write_lock:
        return audit_fix(state.layout, state.settings, state.deps(), near=near, lock_held=True)


def run_maintain(state: ServiceState, *, dry_run: bool, undo: str | None) -> dict[str, Any]:
    if dry_run and not undo:
        return maintain(state.layout, state.settings, state.deps(), dry_run=True, lock_held=True)
    with state.write_lock:
        return maintain(state.layout, state.settings, state.deps(), undo_run=undo, lock_held=True)


def run_restore(state: ServiceState, memory_id: str) -> dict[str, Any]:
    with state.write_lock:
        return restore_memory(state.layout, state.deps(), memory_id, lock_held=True)


def run_archive(state: ServiceState, memory_id: str, reason: str) -> dict[str, Any]:
    with state.write_lock:
        return archive_memory(state.layout, state.deps(), memory_id, reason, lock_held=True)


def run_compare(state: ServiceState, tz: str | None) -> dict[str, Any]:
    return compare_days(state.layout, state.settings, tz)


def run_backfill(state: ServiceState, request: Mapping[str, Any]) -> dict[str, Any]:
    if request.get("dry_run"):
        return backfill_days(state.layout, state.settings, state.deps(), request, lock_held=True)
    with state.write_lock:
        return backfill_days(state.layout, state.settings, state.deps(), request, lock_held=True)


def run_sources(state: ServiceState) -> dict[str, Any]:
    return list_sources(state.settings, state.layout, user_home())
