"""Run reports: one JSON document (the data) and a markdown rendering for people."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sync.fsutil import atomic_write_bytes
from sync.index.checkpoint import Checkpoint
from sync.index.outcome import ItemResult, Outcome
from sync.models import Action, Plan, PlanItem
from sync.redact import redact_data
from sync.store import StoreLayout

_COUNTED = {Action.ADD: "added", Action.UPDATE: "updated", Action.DELETE: "deleted"}


def build_report(
    *,
    run_id: str,
    started: dt.datetime,
    finished: dt.datetime,
    layout: StoreLayout,
    plan: Plan,
    outcome: Outcome | None,
    checkpoint: Checkpoint,
    timings: dict[str, float],
    list_unchanged: bool = False,
    recovered: bool = False,
    earlier: Sequence[ItemResult] = (),
) -> dict[str, Any]:
    """The report of a run; for a dry run (no outcome) it describes what would happen.
    ``earlier``: what an index pass made before this one in the same run (capture's
    catch-up), reported as part of it, one result per file."""
    results = outcome.results if outcome else [ItemResult(i, "planned") for i in plan.items]
    results = fold_results(earlier, results)
    counts = {"added": 0, "updated": 0, "deleted": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    for res in results:
        counts[_count_key(res)] += 1
    queue = sorted(
        [*checkpoint.retry.values(), *checkpoint.source_retry.values()], key=lambda r: r.path
    )
    counts["retry_queue"] = sum(1 for r in queue if not r.dead)
    counts["dead_letters"] = sum(1 for r in queue if r.dead)
    items = [
        _item(res)
        for res in results
        if list_unchanged or res.item.action is not Action.UNCHANGED or res.status == "failed"
    ]
    identity = outcome.identity if outcome and outcome.identity else checkpoint.encoder
    return {
        "kind": "sync",
        "run_id": run_id,
        "dry_run": outcome is None,
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "store": str(layout.root),
        "encoder": identity.as_dict() if identity else {"model": plan.encoder_model, "dim": None},
        "collection": outcome.collection if outcome else checkpoint.collection,
        "recovered_interrupted_run": recovered,
        "counts": counts,
        "items": items,
        "failures": [_item(res) for res in results if res.status == "failed"],
        "retry_queue": [
            {
                "path": r.path,
                "attempts": r.attempts,
                "next_attempt": r.next_attempt,
                "dead": r.dead,
                "permanent": r.permanent,
                "error": r.error,
            }
            for r in queue
        ],
        "storage": _storage(results, checkpoint, dry_run=outcome is None),
        "timings_s": timings,
        "warnings": list(outcome.warnings if outcome else checkpoint.warnings),
    }


def fold_results(earlier: Sequence[ItemResult], later: Sequence[ItemResult]) -> list[ItemResult]:
    """One result per file for a run made of two index passes: what the run as a whole did."""
    first = {r.item.path: r for r in earlier}
    out = [_combine(first.pop(r.item.path), r) if r.item.path in first else r for r in later]
    return [*out, *first.values()]  # files only the earlier pass saw (deleted ones)


def _combine(first: ItemResult, then: ItemResult) -> ItemResult:
    if first.status == "failed" or then.item.action in (Action.UNCHANGED, Action.SKIP):
        return first
    if then.item.action is not Action.UPDATE or first.item.action not in _INDEXED:
        return then
    item = dataclasses.replace(
        then.item,
        action=first.item.action,  # added earlier in the run, then changed: added
        reason=f"{first.item.reason}, then {then.item.reason}",
        est_bytes=first.item.est_bytes + then.item.est_bytes,
    )
    return dataclasses.replace(then, item=item)


_INDEXED = (Action.ADD, Action.UPDATE)


def _count_key(res: ItemResult) -> str:
    if res.status == "failed" or (res.status == "planned" and res.item.action is Action.FAIL):
        return "failed"
    if res.status == "skipped" or res.item.action is Action.SKIP:
        return "skipped"
    if res.item.action is Action.UNCHANGED:
        return "unchanged"
    return _COUNTED.get(res.item.action, "unchanged")


def _item(res: ItemResult) -> dict[str, Any]:
    item: PlanItem = res.item
    out: dict[str, Any] = {
        "path": item.path,
        "action": item.action.value,
        "status": res.status,
        "reason": item.reason,
    }
    if item.memory_id:
        out["id"] = item.memory_id
    if res.error or item.error:
        out["error"] = res.error or item.error
    if res.remediation:
        out["remediation"] = res.remediation
    return out


def _storage(results: list[ItemResult], checkpoint: Checkpoint, *, dry_run: bool) -> dict[str, int]:
    applied = [r.item for r in results if r.status in ("done", "planned")]
    added = sum(1 for i in applied if i.action is Action.ADD)
    removed = sum(1 for i in applied if i.action is Action.DELETE and i.point_id)
    return {
        "points_added": added,
        "points_removed": removed,
        "bytes_added": sum(i.est_bytes for i in applied if i.est_bytes > 0),
        "bytes_removed": -sum(i.est_bytes for i in applied if i.est_bytes < 0),
        "points_total": len(checkpoint.entries) + (added - removed if dry_run else 0),
    }


def report_stem(report: dict[str, Any]) -> str:
    stamp = dt.datetime.fromisoformat(report["started"]).strftime("%Y%m%dT%H%M%SZ")
    return f"{report['kind']}-{stamp}-{report['run_id']}"


def write_report(target: Path, report: dict[str, Any], *, exact: bool = False) -> list[Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` into a folder, or exactly ``target`` (+ .md)."""
    if exact:
        json_path = target
        md_path = (
            target.with_suffix(".md") if target.suffix != ".md" else target.with_suffix(".txt")
        )
    else:
        json_path = target / f"{report_stem(report)}.json"
        md_path = target / f"{report_stem(report)}.md"
    report = redact_data(report)
    atomic_write_bytes(
        json_path, (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode()
    )
    atomic_write_bytes(md_path, render_markdown(report).encode())
    return [json_path, md_path]


def prune_reports(reports_dir: Path, kind: str = "sync", keep: int = 500) -> int:
    """Keep the newest ``keep`` reports of a kind (names sort by time); returns how many went."""
    stems = sorted({p.stem for p in reports_dir.glob(f"{kind}-*.json")})
    old = stems[: max(len(stems) - keep, 0)]
    for stem in old:
        for suffix in (".json", ".md"):
            (reports_dir / f"{stem}{suffix}").unlink(missing_ok=True)
    return len(old)


def render_markdown(report: dict[str, Any]) -> str:
    """The report for people: counts, every decision with its reason, failures with the fix."""
    if report.get("kind") == "maintain":
        return _maintain_markdown(report)
    c = report["counts"]
    title = "Dry run" if report["dry_run"] else "Sync"
    lines = [
        f"# {title} {report['run_id']} — {report['started']}",
        "",
        f"Store: `{report['store']}`  ",
        f"Encoder: `{report['encoder']['model']}` ({report['encoder']['dim']} dims), "
        f"collection `{report['collection']}`",
        "",
        "| added | updated | deleted | unchanged | skipped | failed | retry queue | dead letters |",
        "|---|---|---|---|---|---|---|---|",
        f"| {c['added']} | {c['updated']} | {c['deleted']} | {c['unchanged']} | {c['skipped']} "
        f"| {c['failed']} | {c['retry_queue']} | {c['dead_letters']} |",
        "",
    ]
    s = report["storage"]
    lines += [
        f"Storage impact: +{s['points_added']} / -{s['points_removed']} points, "
        f"+{s['bytes_added']} / -{s['bytes_removed']} bytes (estimated); "
        f"{s['points_total']} points in the index.",
        "",
    ]
    if report.get("capture"):
        lines += _capture_markdown(report["capture"])
    if report["items"]:
        lines += ["## Items", ""]
        lines += [
            f"- `{i['path']}` — **{i['action']}** ({i['status']}): {i['reason']}"
            for i in report["items"]
        ]
        lines.append("")
    if report["failures"]:
        lines += ["## Failures", ""]
        for f in report["failures"]:
            lines.append(f"- `{f['path']}`: {f.get('error', '')}")
            if f.get("remediation"):
                lines.append(f"  - fix: {f['remediation']}")
        lines.append("")
    if report["retry_queue"]:
        lines += ["## Retry queue", ""]
        lines += [
            f"- `{r['path']}` — {'dead letter' if r['dead'] else 'next ' + r['next_attempt']}"
            f", {r['attempts']} attempt(s): {r['error']}"
            for r in report["retry_queue"]
        ]
        lines.append("")
    if report["warnings"]:
        lines += ["## Warnings", "", *[f"- {w}" for w in report["warnings"]], ""]
    timing = ", ".join(f"{k} {v:.3f}s" for k, v in report["timings_s"].items())
    lines += [f"Timings: {timing}", ""]
    return "\n".join(lines)


def _capture_markdown(capture: dict[str, Any]) -> list[str]:
    """The capture part: counts, why items were skipped, each session with its memories."""
    cap = capture["counts"]
    lines = [
        f"Capture: {cap['read']} of {cap['items']} source items read, {cap['candidates']} "
        f"candidates: {cap['added']} new, {cap['updated']} merged, {cap['noop']} duplicates, "
        f"{cap['summaries']} session summaries; {cap['unchanged']} unchanged, "
        f"{cap['skipped']} skipped, {cap['failed']} failed, "
        f"{cap['redactions']} secrets redacted.",
        "",
    ]
    by_reason = capture.get("skipped_by_reason") or {}
    if by_reason:
        reasons = ", ".join(f"{code} {n}" for code, n in by_reason.items())
        lines += [f"Skipped by reason: {reasons}.", ""]
    sessions = [i for i in capture.get("items", []) if i.get("candidates")]
    if sessions:
        lines += ["## Captured sessions", ""]
        for item in sessions:
            lines.append(f"- {item['agent']} `{item['session']}` ({item['messages']} messages)")
            lines += [
                f"  - **{c['verdict']}** {c['kind']}: {c['title']}"
                + (f" → `{c['file']}`" if c.get("file") else "")
                for c in item["candidates"]
            ]
        lines.append("")
    return lines


def _maintain_markdown(report: dict[str, Any]) -> str:
    c = report["counts"]
    title = "Maintenance dry run" if report["dry_run"] else "Maintenance"
    lines = [
        f"# {title} {report['run_id']} — {report['started']}",
        "",
        f"{c['memories']} memories: {c['merge_groups']} duplicate groups ({c['merged']} merged "
        f"into the memory kept), {c['archived']} archived for low effective confidence.",
        "",
    ]
    for m in report["merges"]:
        lines.append(f"- keep `{m['keep']}` ({m['title']})")
        lines += [
            f"  - merge `{x['path']}` (cosine {x['score']}): {x['title']}" for x in m["merged"]
        ]
    for a in report["archives"]:
        lines.append(f"- archive `{a['path']}`: {a['reason']}")
    if report.get("status") == "applying":
        lines += ["", "Status: applying (written before the first move; a killed run stops here)"]
    if not report["dry_run"]:
        lines += ["", f"Undo: `memsync maintain --undo {report['run_id']}`"]
    return "\n".join(lines) + "\n"
