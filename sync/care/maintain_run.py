"""`memsync maintain`, `maintain --undo RUN_ID` and `memsync restore ID`: applying the plan.

Every change is a move or a rewrite with the previous version kept under memory/archived/.
The report, every move with its exact target path, is written before the first file moves,
so `--undo RUN_ID` works even after a run was killed half-way (undo skips what never
happened). The index is brought up to date before planning and after applying.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import Any

from sync.care.maintain import (
    Candidate,
    MaintainPlan,
    MaintainPolicy,
    candidate_pairs,
    judge_pairs,
    plan_maintenance,
)
from sync.dedup import DedupThresholds, JudgeVectors, Referee, merge_memories
from sync.errors import UsageError
from sync.fsutil import confined
from sync.index.checkpoint import load_checkpoint
from sync.index.engine import SyncDeps, SyncOptions, run_sync, writer_lock
from sync.index.report import prune_reports, write_report
from sync.models import ARCHIVE_FOLDER, Memory, kind_folder
from sync.redact import redact
from sync.retry import iso
from sync.store import StoreLayout, slugify, try_read_memory, unique_rel_path, write_memory
from sync.store.access import last_access
from sync.store.archive import archive_version

# (kept, [merged-from memories], now) -> the merged memory; DSPy when an LM is configured
Merger = Callable[[Memory, Sequence[Memory], dt.datetime], Memory]
ARCHIVE_FIELDS = ("archived_from", "archived_reason", "archived_at")


def deterministic_merge(keep: Memory, others: Sequence[Memory], now: dt.datetime) -> Memory:
    """The kept memory enriched by each other one (new text appended, tags united)."""
    merged = keep
    for other in others:
        merged = merge_memories(merged, other, now)
    return merged


def run_maintain(
    layout: StoreLayout,
    deps: SyncDeps,
    policy: MaintainPolicy,
    *,
    dry_run: bool = False,
    merger: Merger = deterministic_merge,
    lock_held: bool = False,
    referee: Referee | None = None,
) -> dict[str, Any]:
    """Plan (and unless ``dry_run``, apply) one maintenance run; returns its report. The
    referee (an LM) rules on the judge's uncertain pairs, in a dry run too."""
    t0, now = time.perf_counter(), deps.clock()
    with writer_lock(layout, skip=dry_run or lock_held):
        if not dry_run:
            run_sync(layout, SyncOptions(write_reports=False), deps, lock_held=True)
        candidates = _candidates(layout, deps)
        duplicates, judged = _duplicates(candidates, deps, policy, referee)
        plan = plan_maintenance(candidates, policy, now, duplicates)
        report = _report(plan, candidates, policy, dry_run, now)
        report["counts"]["judged_pairs"] = judged
        if not dry_run:
            report["actions"] = _targets(layout, plan, now)
            report["status"] = "applying"  # the plan is on disk before anything moves
            write_report(layout.reports_dir, report)
            _apply(layout, plan, report["actions"], merger, now)
            after = run_sync(layout, SyncOptions(write_reports=False), deps, lock_held=True)
            report["status"] = "done"
            report["index"] = after["counts"]
            report["timings_s"] = {"total": round(time.perf_counter() - t0, 3)}
            report["report_files"] = [str(p) for p in write_report(layout.reports_dir, report)]
            prune_reports(layout.reports_dir, "maintain", keep=deps.keep_reports)
        else:
            report["timings_s"] = {"total": round(time.perf_counter() - t0, 3)}
        return report


def _candidates(layout: StoreLayout, deps: SyncDeps) -> list[Candidate]:
    """Every live (not archived) memory with its stored vector and last access."""
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    vectors: dict[str, Sequence[float]] = {}
    if checkpoint.collection and deps.index_exists():
        index = deps.index_factory()
        try:
            for point in index.export(checkpoint.collection):
                vectors[str(point.payload.get("memory_id"))] = point.vector
        finally:
            index.close()
    accessed = last_access(layout)
    out = []
    for rel in sorted(checkpoint.entries):
        if rel.startswith(f"{ARCHIVE_FOLDER}/"):
            continue
        memory = try_read_memory(layout.memory_dir, rel)
        if memory is not None:
            out.append(Candidate(rel, memory, vectors.get(memory.id), accessed.get(memory.id)))
    return out


def _duplicates(
    candidates: Sequence[Candidate], deps: SyncDeps, policy: MaintainPolicy, referee: Referee | None
) -> tuple[dict[tuple[int, int], float], int]:
    """The judge's rulings on the pairs worth judging: (pairs it merges -> score, pairs
    judged). The encoder is loaded only when there is a pair to judge."""
    pairs = candidate_pairs(candidates, policy)
    if not pairs:
        return {}, 0
    vectors = JudgeVectors(deps.encoder_factory())
    vectors.add([candidates[i].memory for pair in pairs for i in pair])
    thresholds = DedupThresholds(update=policy.duplicate_threshold)
    judged = judge_pairs(candidates, pairs, vectors.similarity, thresholds, referee)
    return {k: j.score for k, j in judged.items() if j.merges}, len(pairs)


def _targets(layout: StoreLayout, plan: MaintainPlan, now: dt.datetime) -> list[dict[str, Any]]:
    """Every move the run will make, with the exact paths, decided before any is made."""
    planned: set[str] = set()

    def claim(rel: str) -> str:
        def taken(r: str) -> bool:
            return r in planned or confined(layout.memory_dir, r).exists()

        chosen = unique_rel_path(rel, taken)
        planned.add(chosen)
        return chosen

    actions: list[dict[str, Any]] = []
    for merge in plan.merges:
        keep = _require(layout, merge.keep)
        stamp = now.strftime("%Y%m%dT%H%M%S")
        previous = claim(
            f"{ARCHIVE_FOLDER}/{kind_folder(keep.kind)}/{slugify(redact(keep.title)[0])}--{stamp}.md"
        )
        moved = [{"from": rel, "to": claim(_archived_path(rel))} for rel in merge.merged]
        actions.append({"op": "merge", "keep": merge.keep, "previous": previous, "moved": moved})
    for archive in plan.archives:
        to = claim(_archived_path(archive.path))
        actions.append({"op": "archive", "from": archive.path, "to": to})
    return actions


def _archived_path(rel: str) -> str:
    return str(PurePosixPath(ARCHIVE_FOLDER, *PurePosixPath(rel).parts))


def _apply(
    layout: StoreLayout,
    plan: MaintainPlan,
    actions: list[dict[str, Any]],
    merger: Merger,
    now: dt.datetime,
) -> None:
    """Make the moves ``actions`` name (from ``_targets``), in that order."""
    for action in actions:
        if action["op"] == "archive":
            reason = next(a.reason for a in plan.archives if a.path == action["from"])
            memory = _require(layout, action["from"])
            _move_to_archive(layout, action["from"], action["to"], memory, now, reason=reason)
            continue
        keep = _require(layout, action["keep"])
        others = [_require(layout, m["from"]) for m in action["moved"]]
        archive_version(layout, keep, now, rel=action["previous"])
        merged = merger(keep, others, now)
        supersedes = tuple(dict.fromkeys((*keep.supersedes, *(o.id for o in others))))
        write_memory(
            layout.memory_dir, action["keep"], dataclasses.replace(merged, supersedes=supersedes)
        )
        for move, other in zip(action["moved"], others, strict=True):
            _move_to_archive(layout, move["from"], move["to"], other, now, superseded_by=keep.id)


def _move_to_archive(
    layout: StoreLayout,
    rel: str,
    target: str,
    memory: Memory,
    now: dt.datetime,
    *,
    superseded_by: str | None = None,
    reason: str | None = None,
) -> None:
    """Write the memory at ``target`` under archived/ (same id: its point follows), then
    remove the original."""
    extra = {**memory.extra, "archived_from": rel, "archived_at": iso(now)}
    if reason:
        extra["archived_reason"] = reason
    moved = dataclasses.replace(memory, superseded_by=superseded_by, extra=extra)
    write_memory(layout.memory_dir, target, moved)
    confined(layout.memory_dir, rel).unlink()


def archive(
    layout: StoreLayout,
    deps: SyncDeps,
    memory_id: str,
    reason: str,
    *,
    lock_held: bool = False,
) -> dict[str, Any]:
    """Move one live memory under memory/archived/ with the reason (`memsync archive ID`):
    it leaves the default search, stays searchable with --include-archived, and
    `memsync restore ID` brings it back. Nothing is deleted."""
    if not reason.strip():
        raise UsageError("say why the memory is archived (a reason that is not blank)")
    with writer_lock(layout, skip=lock_held):
        checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
        live = [r for r, e in checkpoint.entries.items() if e.id == memory_id]
        rel = next((r for r in live if not r.startswith(f"{ARCHIVE_FOLDER}/")), None)
        if rel is None:
            where = "is already archived" if live else "is not an indexed memory"
            raise UsageError(f"{memory_id!r} {where} (see `memsync ask` or memory/)")
        reason = reason.strip()
        to = unique_rel_path(_archived_path(rel), lambda r: confined(layout.memory_dir, r).exists())
        _move_to_archive(layout, rel, to, _require(layout, rel), deps.clock(), reason=reason)
        run_sync(layout, SyncOptions(write_reports=False), deps, lock_held=True)
        return {"archived": memory_id, "from": rel, "to": to, "reason": reason}


def restore(
    layout: StoreLayout, deps: SyncDeps, memory_id: str, *, lock_held: bool = False
) -> dict[str, Any]:
    """Bring an archived memory back to where it was (`memsync restore ID`)."""
    with writer_lock(layout, skip=lock_held):
        archived = layout.memory_dir / ARCHIVE_FOLDER
        for path in sorted(archived.rglob("*.md")) if archived.is_dir() else []:
            rel = path.relative_to(layout.memory_dir).as_posix()
            memory = try_read_memory(layout.memory_dir, rel)
            if memory is None or memory.id != memory_id:
                continue
            if "archived_from" not in memory.extra:
                raise UsageError(
                    f"memory/{rel} is an earlier version of {memory.superseded_by}, kept as "
                    "history; copy what you need from it instead of restoring it"
                )
            back = _unarchive(layout, rel, memory)
            run_sync(layout, SyncOptions(write_reports=False), deps, lock_held=True)
            return {"restored": memory_id, "from": rel, "to": back}
        raise UsageError(f"no archived memory with id {memory_id!r} (see memory/archived/)")


def undo(
    layout: StoreLayout, deps: SyncDeps, run_id: str, *, lock_held: bool = False
) -> dict[str, Any]:
    """Reverse a maintenance run from its report: moves back, merged memories restored."""
    with writer_lock(layout, skip=lock_held):
        report = _load_report(layout, run_id)
        undone: list[dict[str, Any]] = []
        now = deps.clock()
        for action in reversed(report.get("actions", [])):
            if action["op"] == "archive":
                undone.append(_move_back(layout, action["to"], action["from"]))
                continue
            for move in action["moved"]:
                undone.append(_move_back(layout, move["to"], move["from"]))
            undone.append(_unmerge(layout, action, now))
        run_sync(layout, SyncOptions(write_reports=False), deps, lock_held=True)
        return {"undone": run_id, "changes": undone}


def _unmerge(layout: StoreLayout, action: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The kept memory as it was before the merge (nothing to do if the run died first)."""
    previous = try_read_memory(layout.memory_dir, action["previous"])
    if previous is None:  # never written (killed before), or this undo already ran
        return {"restored": action["keep"], "note": "nothing was merged into it"}
    current = _require(layout, action["keep"])
    restored = dataclasses.replace(previous, id=current.id, superseded_by=None)
    if restored != current:  # merged: the merged version stays as history
        archive_version(layout, current, now)
        write_memory(layout.memory_dir, action["keep"], restored)
    confined(layout.memory_dir, action["previous"]).unlink()
    return {"restored": action["keep"], "from": action["previous"]}


def _move_back(layout: StoreLayout, rel: str, original: str) -> dict[str, Any]:
    memory = try_read_memory(layout.memory_dir, rel)
    here = confined(layout.memory_dir, original).exists()
    if memory is None and here:
        return {"from": rel, "to": original, "note": "already restored"}
    if memory is not None and here:  # killed between writing the copy and removing the file
        confined(layout.memory_dir, rel).unlink()
        return {"from": rel, "to": original, "note": "the move had not finished"}
    if memory is None:
        raise UsageError(f"memory/{rel} is missing; it cannot be moved back to memory/{original}")
    return {"from": rel, "to": _unarchive(layout, rel, memory)}


def _unarchive(layout: StoreLayout, rel: str, memory: Memory) -> str:
    original = str(memory.extra.get("archived_from") or "")
    if not original or original.startswith(f"{ARCHIVE_FOLDER}/"):
        raise UsageError(f"memory/{rel}: no original location recorded")
    target = unique_rel_path(original, lambda r: confined(layout.memory_dir, r).exists())
    extra = {k: v for k, v in memory.extra.items() if k not in ARCHIVE_FIELDS}
    write_memory(
        layout.memory_dir, target, dataclasses.replace(memory, superseded_by=None, extra=extra)
    )
    confined(layout.memory_dir, rel).unlink()
    return target


def _load_report(layout: StoreLayout, run_id: str) -> dict[str, Any]:
    matches = sorted(layout.reports_dir.glob(f"maintain-*-{run_id}.json"))
    if not matches:
        raise UsageError(f"no maintenance report with run id {run_id!r} in {layout.reports_dir}")
    data: dict[str, Any] = json.loads(matches[-1].read_text(encoding="utf-8"))
    if data.get("dry_run"):
        raise UsageError(f"run {run_id} was a dry run: nothing to undo")
    return data


def _require(layout: StoreLayout, rel: str) -> Memory:
    memory = try_read_memory(layout.memory_dir, rel)
    if memory is None:
        raise UsageError(f"memory/{rel} is missing or unreadable; run `memsync sync` first")
    return memory


def _report(
    plan: MaintainPlan,
    candidates: Sequence[Candidate],
    policy: MaintainPolicy,
    dry_run: bool,
    now: dt.datetime,
) -> dict[str, Any]:
    titles = {c.path: c.memory.title for c in candidates}
    return {
        "kind": "maintain",
        "run_id": secrets.token_hex(4),
        "dry_run": dry_run,
        "started": iso(now),
        "policy": dataclasses.asdict(policy),
        "counts": {
            "memories": len(candidates),
            "merge_groups": len(plan.merges),
            "merged": sum(len(m.merged) for m in plan.merges),
            "archived": len(plan.archives),
            "not_indexed": sum(1 for c in candidates if not c.vector),
        },
        "merges": [
            {
                "keep": m.keep,
                "title": titles.get(m.keep),
                "merged": [
                    {"path": p, "title": titles.get(p), "score": s}
                    for p, s in zip(m.merged, m.scores, strict=True)
                ],
            }
            for m in plan.merges
        ],
        "archives": [vars(a) | {"title": titles.get(a.path)} for a in plan.archives],
    }
