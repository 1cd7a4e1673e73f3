"""Audit, maintain and restore as operations on a store, shared by the CLI and the service:
the caller says how the index is reached (``SyncDeps``: the CLI opens its own, the service
lends the one it holds) and whether it already holds the writer lock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from service.capture_wiring import make_merger, make_referee
from service.settings import Settings
from service.wiring import maintain_policy
from sync.care.audit import AuditPolicy, AuditThresholds, audit_store
from sync.care.audit_drift import fix_drift
from sync.care.maintain_run import archive, deterministic_merge, restore, run_maintain, undo
from sync.errors import UsageError
from sync.index.engine import SyncDeps, writer_lock
from sync.ports import Encoder
from sync.store import StoreLayout
from sync.store.access import last_access


def audit(
    layout: StoreLayout, settings: Settings, deps: SyncDeps, *, near: float | None = None
) -> dict[str, Any]:
    """The health report; takes no lock and writes nothing."""
    index = deps.index_factory() if deps.index_exists() else None
    try:
        return audit_store(
            layout,
            index,
            policy=audit_policy(settings, near),
            thresholds=_settings_into(AuditThresholds(), settings),
            access=last_access(layout),  # state/access.jsonl
            encoder_factory=_once(deps.encoder_factory),
            max_file_bytes=settings.max_file_bytes,
        )
    finally:
        if index is not None:
            index.close()


def audit_fix(
    layout: StoreLayout,
    settings: Settings,
    deps: SyncDeps,
    *,
    near: float | None = None,
    lock_held: bool = False,
) -> dict[str, Any]:
    """Repair index drift under the writer lock; the report after, with what was fixed."""
    deps.encoder_factory = _once(deps.encoder_factory)
    with writer_lock(layout, skip=lock_held):
        before = audit(layout, settings, deps, near=near)
        fixed = fix_drift(layout, before, deps, lock_held=True)
        report = audit(layout, settings, deps, near=near)
    report["fix"] = {**fixed, "drift_before": before["index_drift"]}
    return report


def maintain(
    layout: StoreLayout,
    settings: Settings,
    deps: SyncDeps,
    *,
    dry_run: bool = False,
    undo_run: str | None = None,
    lock_held: bool = False,
) -> dict[str, Any]:
    """Merge near-duplicates and archive what decayed (or reverse run ``undo_run``)."""
    if undo_run:
        return undo(layout, deps, undo_run, lock_held=lock_held)
    merger = deterministic_merge if dry_run else make_merger(settings)
    return run_maintain(
        layout,
        deps,
        maintain_policy(settings),
        dry_run=dry_run,
        merger=merger,
        lock_held=lock_held,
        referee=make_referee(settings),
    )


def restore_memory(
    layout: StoreLayout, deps: SyncDeps, memory_id: str, *, lock_held: bool = False
) -> dict[str, Any]:
    """Bring an archived memory back where it was."""
    return restore(layout, deps, memory_id, lock_held=lock_held)


def archive_memory(
    layout: StoreLayout,
    deps: SyncDeps,
    memory_id: str,
    reason: str,
    *,
    lock_held: bool = False,
) -> dict[str, Any]:
    """Archive one memory (never deletes); `memsync restore ID` brings it back."""
    return archive(layout, deps, memory_id, reason, lock_held=lock_held)


def audit_policy(settings: Settings, near: float | None) -> AuditPolicy:
    policy = _settings_into(AuditPolicy(), settings)
    if near is None:
        return policy
    if not 0.0 < near <= 1.0:
        raise UsageError(f"--near-threshold {near}: choose a cosine in (0, 1], e.g. 0.92")
    return AuditPolicy(**{**vars(policy), "near_threshold": near})


def _settings_into(value: Any, settings: Settings) -> Any:
    """``value`` with each field overridden by the setting ``audit_<field>``, where one exists
    (config.toml ``[audit]``), or ``maintain_<field>`` for the decay shared with maintain."""
    chosen = {
        f.name: getattr(
            settings,
            f"audit_{f.name}",
            getattr(settings, f"maintain_{f.name}", getattr(value, f.name)),  # decay: shared
        )
        for f in fields(value)
    }
    return type(value)(**chosen)


def _once(factory: Callable[[], Encoder]) -> Callable[[], Encoder]:
    """The encoder, loaded on first use and then shared (most audits never need it)."""
    loaded: list[Encoder] = []

    def get() -> Encoder:
        if not loaded:
            loaded.append(factory())
        return loaded[0]

    return get
