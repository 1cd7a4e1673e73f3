"""Plain-text renderings of command results, for people (stdout without --json)."""

from __future__ import annotations

from typing import Any


def sync_text(report: dict[str, Any]) -> str:
    c = report["counts"]
    head = "dry run (nothing written)" if report["dry_run"] else f"sync {report['run_id']}"
    lines = capture_lines(report["capture"]) if report.get("capture") else []
    lines += [
        f"{head}: {c['added']} added, {c['updated']} updated, {c['deleted']} deleted, "
        f"{c['unchanged']} unchanged, {c['skipped']} skipped, {c['failed']} failed; "
        f"retry queue {c['retry_queue']}, dead letters {c['dead_letters']}"
    ]
    for item in report["items"]:
        lines.append(f"  {item['action']:<9} {item['path']}  — {item['reason']}")
        if item.get("error"):
            lines.append(f"            error: {item['error']}")
        if item.get("remediation"):
            lines.append(f"            fix: {item['remediation']}")
    s = report["storage"]
    lines.append(
        f"storage: +{s['points_added']}/-{s['points_removed']} points, "
        f"+{s['bytes_added']}/-{s['bytes_removed']} bytes (est.), "
        f"{s['points_total']} points total"
    )
    for warning in report["warnings"]:
        lines.append(f"warning: {warning}")
    if report.get("report_files"):
        lines.append(f"report: {report['report_files'][-1]}")
    return "\n".join(lines)


def capture_lines(cap: dict[str, Any]) -> list[str]:
    """The capture part of a sync report: per session, each candidate and its verdict."""
    c = cap["counts"]
    verb = "would capture" if cap["dry_run"] else "captured"
    lines = [
        f"{verb} from {c['read']} of {c['items']} source items ({c['unchanged']} unchanged, "
        f"{c['skipped']} skipped, {c['failed']} failed): {c['candidates']} candidates -> "
        f"{c['added']} new, {c['updated']} merged, {c['noop']} duplicates, "
        f"{c['summaries']} session summaries; "
        f"{c['redactions']} secrets redacted"
    ]
    for item in cap["items"]:
        if not item["candidates"]:
            continue
        lines.append(f"  {item['agent']} {item['session']} ({item['messages']} messages)")
        for cand in item["candidates"]:
            where = f" -> {cand['file']}" if cand["file"] else ""
            lines.append(
                f"    {cand['verdict']:<7} {cand['kind']:<8} {cand['title']}{where}"
                f"  [{cand['score']:.2f}] {cand['reason']}"
            )
    for failure in cap["failures"]:
        lines.append(f"  failed {failure['key']}: {failure['error']} (retry {failure['retry_at']})")
    for problem in cap["problems"]:
        lines.append(f"  problem: {problem}")
    return lines


def maintain_text(report: dict[str, Any]) -> str:
    c = report["counts"]
    head = "would" if report["dry_run"] else "did"
    lines = [
        f"maintenance ({head}): {c['memories']} memories, {c['merge_groups']} duplicate groups "
        f"({c['merged']} merged), {c['archived']} archived"
    ]
    for m in report["merges"]:
        lines.append(f"  keep    {m['keep']}  ({m['title']})")
        lines += [f"    merge {x['path']}  [{x['score']:.3f}]" for x in m["merged"]]
    lines += [f"  archive {a['path']}  — {a['reason']}" for a in report["archives"]]
    if report.get("report_files"):
        lines.append(
            f"report: {report['report_files'][-1]}  (undo: memsync maintain --undo "
            f"{report['run_id']})"
        )
    return "\n".join(lines)


def sources_text(data: dict[str, Any]) -> str:
    lines = []
    for a in data["agents"]:
        paths = ", ".join(p["path"] + ("" if p["exists"] else " (missing)") for p in a["paths"])
        lines.append(
            f"{a['agent']:<9} {a['sessions']:>5} sessions  {a['captured']:>5} captured  {paths}"
        )
        lines.extend(f"          problem: {p}" for p in a["problems"])
    k = data["knowledge"]
    lines.append(f"insights  {k['insights']['entries']:>5} entries   {k['insights']['path']}")
    lines.append(f"campaigns {k['campaigns']['files']:>5} files     {k['campaigns']['path']}")
    lines.extend(f"          problem: {p}" for p in k["problems"])
    return "\n".join(lines)


def add_text(result: dict[str, Any]) -> str:
    prefix = "would " if result["dry_run"] else ""
    lines = [f"{prefix}{result['action']}: {result['reason']}"]
    if result.get("path"):
        lines.append(f"  memory/{result['path']} ({result.get('id')})")
    for n in result["nearest"]:
        lines.append(
            f"  nearest {n['score']:.3f}  {n['kind']:<9} {n['title']}  (memory/{n['path']})"
        )
    return "\n".join(lines)


def ask_text(data: dict[str, Any]) -> str:
    if not data["results"]:
        return "no memories found (is the store synced? run `memsync sync`)"
    lines = []
    answer = data.get("answer") or {}
    if answer.get("answer"):
        cited = ", ".join(f"[{c['n']}] memory/{c['path']}" for c in answer["citations"])
        lines += [answer["answer"], f"  sources: {cited or 'none'}", ""]
    elif answer.get("error"):
        lines += [f"(no answer from {answer.get('model')}: {answer['error']})", ""]
    for i, r in enumerate(data["results"], start=1):
        lines.append(f"{i}. [{r['score']:.3f}] {r['title']}  ({r['kind']}, memory/{r['path']})")
        if r["snippet"]:
            lines.append(f"   {r['snippet']}")
    return "\n".join(lines)


def status_text(d: dict[str, Any]) -> str:
    enc = d["encoder"]
    encoder = f"{enc['model']} ({enc['dim']} dims)" if enc else "none yet"
    if enc and enc["model"] != d["configured_model"]:
        encoder += f"; configured {d['configured_model']} (the next sync re-embeds)"
    index = d["index"]
    lines = [
        f"store:    {d['store']}",
        f"memories: {d['memory_files']} files, {d['indexed']} indexed",
        f"encoder:  {encoder}",
        f"index:    {index['backend']} at {index['location']}, collection {d['collection']}",
        *(
            [
                f"          points still in {index['pending_migration']}: the next command moves "
                "them (or `memsync index migrate`)"
            ]
            if index["pending_migration"]
            else []
        ),
        *([f"          {index['health']['problem']}"] if index["health"].get("problem") else []),
        f"retry queue: {len(d['retry_queue'])}, dead letters: {len(d['dead_letters'])}",
    ]
    for r in d["retry_queue"]:
        lines.append(
            f"  queued  {r['path']}  next {r['next_attempt']}  ({r['attempts']}x): {r['error']}"
        )
    for r in d["dead_letters"]:
        lines.append(f"  dead    {r['path']}  ({r['attempts']}x): {r['error']}")
    if d["interrupted_run_pending"]:
        lines.append("an interrupted run left work in the journal; the next sync completes it")
    if d["last_report"]:
        lines.append(f"last report: {d['last_report']}")
    return "\n".join(lines)
