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


# why capture skipped a source item, by the code in the report's skipped_by_reason
SKIP_WORDS = {
    "window": "changed before the window (--window, [sources] window)",
    "until": "changed after --until",
    "excluded": "excluded by --exclude",
    "other_project": "from another project",
    "retry_wait": "waiting for their retry time",
    "dead_letter": "dead-lettered (memsync retry forces them)",
    "max_sessions": "over --max-sessions",
}


def capture_lines(cap: dict[str, Any]) -> list[str]:
    """The capture part of a sync report: per session, each candidate and its verdict."""
    c = cap["counts"]
    verb = "would capture" if cap["dry_run"] else "captured"
    lines = [
        f"{verb} from {c['read']} of {c['items']} source items ({c['unchanged']} unchanged "
        f"since the last capture, {c['skipped']} skipped, {c['failed']} failed): "
        f"{c['candidates']} candidates -> "
        f"{c['added']} new, {c['updated']} merged, {c['noop']} duplicates, "
        f"{c['summaries']} session summaries; "
        f"{c['redactions']} secrets redacted"
    ]
    by_reason = cap.get("skipped_by_reason") or {}
    if by_reason:
        lines.append(
            "  skipped: "
            + ", ".join(f"{n} {SKIP_WORDS.get(code, code)}" for code, n in by_reason.items())
        )
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
    others = sum(s.get("code") == "other_project" for s in cap.get("skipped", []))
    if others:
        lines.append(f"  {others} sessions of other projects skipped (--all-projects takes them)")
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
    project = data.get("project") or {}
    folders = ", ".join(project.get("folders") or [])
    lines = [
        f"captures {project.get('captures', 'this project')}" + (f": {folders}" if folders else "")
    ]
    for a in data["agents"]:
        paths = ", ".join(p["path"] + ("" if p["exists"] else " (missing)") for p in a["paths"])
        others = a.get("other_projects", 0)
        other = f" (+{others} of other projects, skipped)" if others else ""
        lines.append(
            f"{a['agent']:<9} {a['sessions']:>5} sessions{other}  {a['captured']:>5} captured  "
            f"{paths}"
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
        j = n.get("judge")
        judged = f"  judge {j['verdict']:<8} {j['score']:.3f}" if j else ""
        lines.append(
            f"  nearest {n['score']:.3f}{judged}  {n['kind']:<9} {n['title']}  (memory/{n['path']})"
        )
    return "\n".join(lines)


def ask_text(data: dict[str, Any]) -> str:
    scoring = data.get("scoring") or {}
    if not data["results"]:
        return _no_match(data, scoring)
    lines = []
    answer = data.get("answer") or {}
    if answer.get("answer"):
        cited = ", ".join(f"[{c['n']}] memory/{c['path']}" for c in answer["citations"])
        lines += [answer["answer"], f"  sources: {cited or 'none'}", ""]
    elif answer.get("error"):
        lines += [f"(no answer from {answer.get('model')}: {answer['error']})", ""]
    for i, r in enumerate(data["results"], start=1):
        where = " · ".join(x for x in (r["kind"], ", ".join(r.get("tags") or [])) if x)
        lines.append(f"{i}. {r['score']:.2f}  {r['title']}  ({where} · memory/{r['path']})")
        lines += [f"     {line}" for line in (r.get("snippet") or "").splitlines()]
    lines.append(_score_note(data, scoring))
    return "\n".join(lines)


def _no_match(data: dict[str, Any], scoring: dict[str, Any]) -> str:
    closest = data.get("closest")
    if not data.get("no_strong_match") or not closest:
        return "no memories found (is the store synced? run `memsync sync`)"
    return (
        f"no strong match: nothing scored {scoring.get('min_score')} or more "
        f"(closest: {closest['score']:.2f} {closest['title']}, memory/{closest['path']}); "
        "memory has nothing on this. `--min-score 0` shows the weak matches."
    )


def _score_note(data: dict[str, Any], scoring: dict[str, Any]) -> str:
    if scoring.get("score") == "bm25":
        return "(scores: BM25 term matching, higher is better; no relevance floor in lexical mode)"
    withheld = data.get("withheld") or 0
    note = f"; {withheld} weaker withheld" if withheld else ""
    return (
        "(scores: relevance 0-1, meaning and exact words; below "
        f"{scoring.get('min_score', 0)} not shown{note})"
    )


def _service_line(service: dict[str, Any] | None) -> str:
    if not service:
        return "service:  not running (commands open the store themselves; `memsync serve`)"
    up = int(service.get("uptime_s") or 0)
    uptime = f"{up // 3600}h{up % 3600 // 60:02d}m" if up >= 3600 else f"{up // 60}m{up % 60:02d}s"
    where = service.get("url") or "in this process"
    return f"service:  running at {where} (pid {service.get('pid')}, up {uptime})"


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
        *_backend_lines(d.get("encoder_backend")),
        f"index:    {index['backend']} at {index['location']}"
        + (f", collection {d['collection']}" if d["collection"] else ", nothing indexed yet"),
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
        _service_line(d.get("service")),
    ]
    for r in d["retry_queue"]:
        lines.append(
            f"  queued  {r['path']}  next {r['next_attempt']}  ({r['attempts']}x): {r['error']}"
        )
    for r in d["dead_letters"]:
        lines.append(f"  dead    {r['path']}  ({r['attempts']}x): {r['error']}")
    for kind, n in (d.get("unknown_kinds") or {}).items():
        lines.append(
            f"unknown kind {kind!r} in {n} indexed file(s): fix their `kind:` or list it under "
            "[kinds] custom in config.toml"
        )
    if d["interrupted_run_pending"]:
        lines.append("an interrupted run left work in the journal; the next sync completes it")
    if d["last_report"]:
        lines.append(f"last report: {d['last_report']}")
    return "\n".join(lines)


def _backend_lines(backend: dict[str, Any] | None) -> list[str]:
    """Which runtime encodes, and where the ONNX graph stands (auto falls back to torch)."""
    if not backend:
        return []
    graph = backend["onnx_graph"]
    state = {
        "ready": f"ONNX graph ready ({graph.get('path')})",
        "missing": "no ONNX graph yet: the first command that embeds exports it "
        "(or `memsync model prepare`)",
        "failed": f"ONNX export failed ({graph.get('reason')}): torch encodes",
        "unsupported": f"no ONNX export for this model ({graph.get('reason')}): torch encodes",
    }[graph["state"]]
    if backend["configured"] == "torch":
        state = "torch (configured)"
    return [f"runtime:  {backend['configured']}: {state}"]
