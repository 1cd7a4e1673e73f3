"""Pure planning: from what the scanner saw and what the checkpoint knows, decide every item.

Nothing here touches the disk, the index or the encoder, so a dry run is the plan itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sync.hashing import payload_bytes, point_id
from sync.index.checkpoint import Checkpoint, IndexedEntry
from sync.index.outcome import point_payload
from sync.index.passages import PAYLOAD_KEY as PASSAGES
from sync.index.passages import SCHEME, packed_chars, passage_texts
from sync.models import Action, EncoderIdentity, Plan, PlanItem, ScannedFile, collection_name
from sync.retry import RetryEntry, RetryPolicy


@dataclass(frozen=True)
class PlanOptions:
    encoder_model: str
    index_id: str = "local"
    collection_prefix: str = "memsync"
    schema_upgrade_pending: bool = False  # sync.index.migrate.upgrade_collection runs first
    force: bool = False
    retry_now: bool = False  # `memsync retry`: ignore backoff and dead letters
    scope: frozenset[str] | None = None  # only these paths (used by `memsync add`)
    dim_hint: int = 384
    missing: frozenset[str] = frozenset()  # indexed paths whose point is gone (verify.py)
    strays: tuple[str, ...] = ()  # point ids no memory accounts for


def must_read_all(checkpoint: Checkpoint, opts: PlanOptions) -> bool:
    """True when every file has to be parsed: a forced run, a new encoder or a new index."""
    return (
        opts.force
        or _reindex_reason(checkpoint, opts) is not None
        or any(e.model != opts.encoder_model for e in checkpoint.entries.values())
        or (bool(checkpoint.entries) and checkpoint.passages != SCHEME)
    )


def _reindex_reason(checkpoint: Checkpoint, opts: PlanOptions) -> str | None:
    """Why every memory must be indexed again though its content did not change."""
    if checkpoint.entries and checkpoint.effective_index_id != opts.index_id:
        return f"index changed ({checkpoint.effective_index_id} -> {opts.index_id})"
    encoder, held = checkpoint.encoder, checkpoint.collection
    same_model = encoder is not None and encoder.model == opts.encoder_model
    if checkpoint.entries and encoder and held and same_model and not opts.schema_upgrade_pending:
        wanted = collection_name(opts.collection_prefix, encoder)
        if held != wanted:
            return f"index schema changed ({held} -> {wanted})"
    return None


def plan_sync(
    scanned: Sequence[ScannedFile], checkpoint: Checkpoint, opts: PlanOptions, now: dt.datetime
) -> Plan:
    """Decide add / update / delete / unchanged / skip / fail for every file and entry."""
    current = {sf.path: sf for sf in scanned}
    owners = _id_owners(scanned, checkpoint)
    indexed_at = {entry.id: path for path, entry in checkpoint.entries.items()}
    claimed_points = {
        checkpoint.entries[indexed_at[mid]].point_id if mid in indexed_at else point_id(mid)
        for mid in owners
    }
    renames = {
        new_path: old_path
        for mid, new_path in owners.items()
        if (old_path := indexed_at.get(mid)) is not None
        and old_path != new_path
        and old_path not in current
        and new_path not in checkpoint.entries
    }
    reindex = _reindex_reason(checkpoint, opts)
    items = [
        _plan_file(sf, checkpoint, opts, now, owners, claimed_points, renames.get(sf.path), reindex)
        for sf in sorted(scanned, key=lambda s: s.path)
    ]
    taken_over = set(renames.values())
    for path, entry in sorted(checkpoint.entries.items()):
        if path in current or path in taken_over or not _in_scope(path, opts):
            continue
        live = entry.point_id not in claimed_points
        items.append(
            PlanItem(
                path,
                Action.DELETE,
                "file deleted",
                memory_id=entry.id,
                point_id=entry.point_id if live else None,
                est_bytes=-entry.bytes,
            )
        )
    for path in sorted(checkpoint.retry):
        if path not in current and path not in checkpoint.entries and _in_scope(path, opts):
            items.append(
                PlanItem(
                    path,
                    Action.DELETE,
                    "file deleted; dropped from the retry queue",
                    find_point=True,
                )
            )
    items.extend(
        PlanItem(
            f"<point {pid}>", Action.DELETE, "point without a memory file", point_id=pid, stray=True
        )
        for pid in opts.strays
    )
    reembed = reindex is not None or (
        checkpoint.encoder is not None and checkpoint.encoder.model != opts.encoder_model
    )
    return Plan(tuple(items), opts.encoder_model, reembed_all=reembed, force=opts.force)


def _in_scope(path: str, opts: PlanOptions) -> bool:
    return opts.scope is None or path in opts.scope


def _memory_id(sf: ScannedFile, checkpoint: Checkpoint) -> str | None:
    if sf.memory is not None:
        return sf.memory.id
    entry = checkpoint.entries.get(sf.path)
    if entry is not None and sf.error is None and sf.content_hash == entry.content_hash:
        return entry.id
    return None


def _id_owners(scanned: Sequence[ScannedFile], checkpoint: Checkpoint) -> dict[str, str]:
    """Memory id -> the one path that owns it; on a clash the indexed path wins, else the first."""
    claims: dict[str, list[str]] = {}
    for sf in sorted(scanned, key=lambda s: s.path):
        mid = _memory_id(sf, checkpoint)
        if mid is not None:
            claims.setdefault(mid, []).append(sf.path)
    owners = {}
    for mid, paths in claims.items():
        indexed = [p for p in paths if (e := checkpoint.entries.get(p)) and e.id == mid]
        owners[mid] = indexed[0] if indexed else paths[0]
    return owners


def _plan_file(
    sf: ScannedFile,
    cp: Checkpoint,
    opts: PlanOptions,
    now: dt.datetime,
    owners: dict[str, str],
    claimed_points: set[str],
    renamed_from: str | None,
    reindex: str | None,
) -> PlanItem:
    def item(action: Action, reason: str, **fields: Any) -> PlanItem:
        return PlanItem(
            sf.path,
            action,
            reason,
            content_hash=sf.content_hash,
            raw_hash=sf.raw_hash,
            mtime_ns=sf.mtime_ns,
            size=sf.size,
            seen_ns=sf.seen_ns,
            **fields,
        )

    entry = cp.entries.get(sf.path)
    retry = cp.retry.get(sf.path)
    if sf.path in cp.ignored and cp.ignored[sf.path] == sf.raw_hash:
        return item(
            Action.SKIP,
            "dropped from the retry queue; edit the file to try again",
        )
    if sf.error is not None:
        waiting = _waiting(retry, sf.raw_hash, opts, now)
        if waiting:
            return item(Action.SKIP, waiting, error=retry.error if retry else None)
        return item(Action.FAIL, "cannot be read", error=sf.error)
    mid = _memory_id(sf, cp)
    if mid is not None and owners.get(mid) != sf.path:
        return item(
            Action.FAIL,
            "duplicate id",
            error=f"id {mid!r} is already used by memory/{owners[mid]}; give this file its own id",
        )
    if (
        entry is not None
        and not opts.force
        and entry.model == opts.encoder_model
        and reindex is None
        and sf.content_hash == entry.content_hash
        and sf.path not in opts.missing
        and not _lacks_passages(sf, cp)
    ):
        return item(
            Action.UNCHANGED,
            "unchanged",
            memory_id=entry.id,
            point_id=entry.point_id,
            refresh_stat=not sf.stat_unchanged,
        )
    waiting = _waiting(retry, sf.raw_hash, opts, now)
    if waiting and not opts.force:
        return item(Action.SKIP, waiting, error=retry.error if retry else None)
    assert sf.memory is not None, f"{sf.path}: planned for indexing but not parsed"
    pid = point_id(sf.memory.id)
    previous = entry or (cp.entries.get(renamed_from) if renamed_from else None)
    stale = (
        previous.point_id
        if previous and previous.point_id != pid and previous.point_id not in claimed_points
        else None
    )
    action = Action.UPDATE if previous is not None else Action.ADD
    reason = (
        reindex
        if reindex and entry is not None
        else _reason(entry, previous, renamed_from, retry, sf, opts)
    )
    if sf.path in opts.missing and entry is not None and sf.content_hash == entry.content_hash:
        reason = "its point was missing from the index; re-indexed from the markdown"
    elif entry is not None and sf.content_hash == entry.content_hash and _lacks_passages(sf, cp):
        reason = "long memory indexed before passage vectors; adding them"
    est = _point_bytes(sf, opts) - (previous.bytes if previous else 0)
    return item(
        action,
        reason,
        memory_id=sf.memory.id,
        point_id=pid,
        replaces_path=renamed_from,
        stale_point_id=stale,
        est_bytes=est,
    )


def _lacks_passages(sf: ScannedFile, cp: Checkpoint) -> bool:
    """A long memory indexed by a version that stored no passage vectors for it."""
    return cp.passages != SCHEME and sf.memory is not None and bool(passage_texts(sf.memory))


def _point_bytes(sf: ScannedFile, opts: PlanOptions) -> int:
    """What the checkpoint will record for the point (vector plus payload), so that the
    estimates of two runs add up to the estimate of one (a dry run's preview)."""
    assert sf.memory is not None
    identity = EncoderIdentity(opts.encoder_model, opts.dim_hint)
    stub = PlanItem(sf.path, Action.ADD, "", content_hash=sf.content_hash)
    payload = point_payload(sf.memory, stub, identity, sf.memory.embedding_text())
    if lines := passage_texts(sf.memory):  # the same length as the real vectors' packing
        payload[PASSAGES] = "A" * packed_chars(len(lines), opts.dim_hint)
    return payload_bytes(payload, opts.dim_hint)


def _waiting(
    retry: RetryEntry | None, raw_hash: str | None, opts: PlanOptions, now: dt.datetime
) -> str | None:
    """Why a queued item is held back this run, or None to attempt it."""
    if retry is None or retry.raw_hash != raw_hash or opts.retry_now:
        return None
    if retry.dead:
        return f"dead-lettered after {retry.attempts} attempts; fix it or `memsync retry --drop`"
    if not RetryPolicy.is_due(retry, now):
        return f"in the retry queue until {retry.next_attempt} (attempt {retry.attempts} failed)"
    return None


def _reason(
    entry: IndexedEntry | None,
    previous: IndexedEntry | None,
    renamed_from: str | None,
    retry: RetryEntry | None,
    sf: ScannedFile,
    opts: PlanOptions,
) -> str:
    if renamed_from:
        return f"renamed from memory/{renamed_from}"
    if retry is not None:
        changed = retry.raw_hash != sf.raw_hash
        return (
            "changed since it failed; trying again"
            if changed
            else f"retry after {retry.attempts} failed attempt(s)"
        )
    if opts.force:
        return "forced re-embed"
    if previous is None:
        return "new file"
    if previous.model != opts.encoder_model:
        return f"encoder changed ({previous.model} -> {opts.encoder_model})"
    return "content changed"
