"""Capture: turn new or changed agent sessions and knowledge files into memories.

discover (stat only) -> select -> read + hash -> parse -> redact -> strip echo -> extract ->
dedup each candidate against the index and the run's other candidates -> write markdown.
The caller holds the writer lock and indexes the written files afterwards (`run_sync`).
A source item is recorded as done in the journal only after its files are written; a
killed run redoes the item, and the index pass that precedes it makes that idempotent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sync.capture.dedup import decide_candidates, pending_index
from sync.capture.extraction.base import Candidate
from sync.capture.extraction.echo import strip_echo
from sync.capture.knowledge import KnowledgeSource
from sync.capture.redact import redact_transcript
from sync.capture.select import KNOWLEDGE, Selection, in_scope, select_items, stat_key
from sync.capture.sessions import item_for_path
from sync.capture.sources import adapter
from sync.capture.sources.base import (
    ParseIssue,
    SourceAdapter,
    SourceError,
    SourceItem,
    Transcript,
)
from sync.capture.work import CaptureDeps, CaptureOptions, ItemWork, Proposed
from sync.capture.writer import FileWrite, MemoryWriter
from sync.errors import ConfigError, MemsyncError
from sync.hashing import raw_hash
from sync.index.checkpoint import Checkpoint, Journal, SourceEntry, load_checkpoint, save_checkpoint
from sync.redact import redact
from sync.retry import iso
from sync.store import StoreLayout, slugify


def run_capture(
    layout: StoreLayout,
    opts: CaptureOptions,
    deps: CaptureDeps,
    *,
    catch_up: Callable[[], None] | None = None,
    checkpoint: Checkpoint | None = None,
) -> tuple[dict[str, Any], list[FileWrite]]:
    """Capture (or preview) every changed source item; returns the capture part of a report
    and, for a dry run, the files it would write (for the index preview of the same run).

    ``catch_up`` runs once, when some item will be read, before anything is journaled (the
    caller brings the index up to date there, so a killed run's files are not re-added). A
    dry run cannot: its dedup sees the memories that catch-up would index as pending."""
    t0 = time.perf_counter()
    now = deps.sync.clock()
    if checkpoint is None:
        checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    adapters: dict[str, SourceAdapter] = {}
    items, problems, knowledge = _discover(opts, deps, adapters)
    selections = select_items(
        items,
        checkpoint,
        since=opts.since,
        until=opts.until,
        exclude=opts.exclude,
        force=opts.force,
        retry_now=opts.retry_now,
        max_items=opts.max_sessions,
        now=now,
        extract=opts.extract,
        project=opts.project,
        cwd_of=lambda item: peek_cwd(adapters, item),
    )
    reads = [s for s in selections if s.action == "read"]
    if reads and not opts.dry_run and catch_up is not None:
        catch_up()  # before our journal exists: that run folds and removes the journal
    journal = None if opts.dry_run or not reads else Journal(layout.journal_path)
    works, failures, touched = [], [], 0
    for sel in reads:
        try:
            work = _read(sel.item, checkpoint, opts, deps, knowledge, adapters)
        except ConfigError:
            raise  # e.g. the LM's key is missing: every item would fail the same way
        except (SourceError, MemsyncError, OSError, ValueError) as exc:
            failures.append(_fail(sel.item, str(exc), checkpoint, deps, now, journal))
            continue
        except Exception as exc:  # boundary: one item's surprise is that item's failure
            error = f"{type(exc).__name__}: {exc}"
            failures.append(_fail(sel.item, error, checkpoint, deps, now, journal))
            continue
        if work is None:  # bytes unchanged: only the stat moved
            touched += 1
            if journal is not None:
                entry = checkpoint.sources[sel.item.key]
                _done(
                    journal,
                    sel.item,
                    entry.content_hash,
                    list(entry.memories),
                    0,
                    now,
                    True,
                    entry.extractor,
                )
            continue
        works.append(work)
    timings = {"read_extract": round(time.perf_counter() - t0, 3)}
    t = time.perf_counter()
    todo = [w for w in works if w.candidates]
    if todo:
        unindexed = pending_index(layout, deps, checkpoint) if opts.dry_run else None
        decide_candidates(todo, layout, deps, now, unindexed)
    timings["dedup"] = round(time.perf_counter() - t, 3)
    written: list[str] = []
    writer = MemoryWriter(layout, now)
    planned = [w for work in works for w in writer.plan(work.decided)] if opts.dry_run else []
    if journal is not None:
        for work in works:
            paths, ids = writer.apply(work.decided)
            written.extend(paths)
            extractor = deps.extractor().name if opts.extract and work.extracted else ""
            _done(
                journal,
                work.item,
                work.content_hash,
                ids,
                len(work.candidates),
                now,
                opts.extract,
                extractor,
            )
        journal.close()
        if journal.wrote:  # fold it in now: the index run that follows starts clean
            save_checkpoint(
                load_checkpoint(layout.checkpoint_path, layout.journal_path),
                layout.checkpoint_path,
                layout.journal_path,
            )
    timings["total"] = round(time.perf_counter() - t0, 3)
    report = _report(selections, works, failures, touched, problems, written, opts, timings)
    return report, planned


# -- reading -----------------------------------------------------------------------------------


def peek_cwd(adapters: dict[str, SourceAdapter], item: SourceItem) -> str | None:
    """Where a session ran, from its head; None when unknown or unreadable."""
    source = adapters.setdefault(item.agent, adapter(item.agent))
    try:
        return source.peek(item).cwd
    except (SourceError, OSError, ValueError):
        return None


def _discover(
    opts: CaptureOptions, deps: CaptureDeps, adapters: dict[str, SourceAdapter]
) -> tuple[list[SourceItem], list[ParseIssue], KnowledgeSource]:
    items: list[SourceItem] = []
    problems: list[ParseIssue] = []
    knowledge = KnowledgeSource()
    if opts.scope == "memories":
        return items, problems, knowledge
    if opts.sessions:
        return _named(opts.sessions, problems), problems, knowledge
    for agent in opts.agents:
        if not in_scope(agent, opts.scope):
            continue
        source = adapters.setdefault(agent, adapter(agent))
        for root in deps.roots.get(agent, ()):
            if root.exists():
                items.extend(source.discover(root))
                problems.extend(source.problems)
    if in_scope("insights", opts.scope) or in_scope("campaigns", opts.scope):
        insights = deps.insights if in_scope("insights", opts.scope) else None
        campaigns = deps.campaigns if in_scope("campaigns", opts.scope) else None
        items.extend(knowledge.discover(insights, campaigns))
        problems.extend(knowledge.problems)
    return items, problems, knowledge


def _named(refs: tuple[str, ...], problems: list[ParseIssue]) -> list[SourceItem]:
    """The sessions ``refs`` name (``PATH`` or ``PATH#ID``); one that cannot be found is a
    problem of the run, not its end."""
    items = []
    for ref in refs:
        path, _, locator = ref.partition("#")
        try:
            items.append(item_for_path(Path(path), locator))
        except (MemsyncError, OSError, ValueError) as exc:
            problems.append(ParseIssue(path, None, str(exc)))
    return items


def _read(
    item: SourceItem,
    checkpoint: Checkpoint,
    opts: CaptureOptions,
    deps: CaptureDeps,
    knowledge: KnowledgeSource,
    adapters: dict[str, SourceAdapter],
) -> ItemWork | None:
    """Hash the item; when its bytes changed, parse, redact and extract it."""
    if item.agent in KNOWLEDGE:
        data = knowledge.item_bytes(item)
    else:
        data = adapters.setdefault(item.agent, adapter(item.agent)).item_bytes(item)
    digest = raw_hash(data)
    entry = checkpoint.sources.get(item.key)
    extracted_before = entry is not None and (entry.extracted or not opts.extract)
    if entry is not None and entry.content_hash == digest and extracted_before and not opts.force:
        return None
    work = ItemWork(item, digest)
    if item.agent in KNOWLEDGE:
        candidates, detected = knowledge.candidates(item)
        work.content_type = opts.content_type or detected
        kept = _not_excluded(_redacted(candidates, work), work.content_type, opts, work)
        work.candidates = [_knowledge_memory(c, work, opts) for c in kept]
        return work
    transcript = adapters[item.agent].parse(item)
    transcript, counts = redact_transcript(transcript)
    transcript = strip_echo(transcript)
    work.issues = list(transcript.issues)
    work.messages = len(transcript.messages)
    work.redactions = counts
    work.content_type = opts.content_type
    if opts.extract:
        found = deps.extractor().extract(transcript)
        work.extracted = True
        kept = _not_excluded(found, work.content_type, opts, work)
        work.candidates = [_session_memory(c, transcript, work, opts) for c in kept]
    return work


def _not_excluded(
    candidates: list[Candidate], content_type: str | None, opts: CaptureOptions, work: ItemWork
) -> list[Candidate]:
    """Drop candidates an --exclude pattern matches (kind, content type, title or body)."""
    if not opts.exclude:
        return candidates
    kept = []
    for c in candidates:
        fields = (c.kind, content_type or "", c.title, c.body)
        if any(fnmatch.fnmatch(f.lower(), p.lower()) for p in opts.exclude for f in fields):
            work.excluded += 1
        else:
            kept.append(c)
    return kept


def _redacted(candidates: list[Candidate], work: ItemWork) -> list[Candidate]:
    out = []
    for c in candidates:
        title, n1 = redact(c.title)
        body, n2 = redact(c.body)
        for counts in (n1, n2):
            for kind, n in counts.items():
                work.redactions[kind] = work.redactions.get(kind, 0) + n
        out.append(dataclasses.replace(c, title=title, body=body))
    return out


def _provenance(item: SourceItem, work: ItemWork, c: Candidate) -> dict[str, Any]:
    source: dict[str, Any] = {
        "agent": item.agent,
        "session": item.session_id,
        "file": str(item.path),
        "hash": work.content_hash,
    }
    if item.locator:
        source["locator"] = item.locator
    if c.line_start is not None:
        source["lines"] = [c.line_start, c.line_end or c.line_start]
    return source


def _session_memory(c: Candidate, t: Transcript, work: ItemWork, opts: CaptureOptions) -> Proposed:
    project = slugify(t.project, 40) if t.project else ""
    extra = (project,) if opts.tag_project and project else ()
    tags = tuple(dict.fromkeys(x for x in (*c.tags, *opts.tags, *extra) if x))
    source = _provenance(work.item, work, c)
    if t.cwd:
        source.update(project=t.project or t.cwd, cwd=t.cwd)
    return Proposed(c, tags, source, work.content_type, t.started)


def _knowledge_memory(c: Candidate, work: ItemWork, opts: CaptureOptions) -> Proposed:
    tags = tuple(dict.fromkeys(x for x in (*c.tags, work.item.agent, *opts.tags) if x))
    return Proposed(c, tags, _provenance(work.item, work, c), work.content_type, None)


# -- bookkeeping -------------------------------------------------------------------------------


def _done(
    journal: Journal,
    item: SourceItem,
    digest: str,
    ids: list[str],
    candidates: int,
    now: Any,
    extracted: bool,
    extractor: str = "",
) -> None:
    entry = SourceEntry(
        item.key,
        item.agent,
        item.size,
        item.mtime_ns,
        digest,
        tuple(ids),
        candidates,
        iso(now),
        extracted,
        extractor,
    )
    journal.record({"op": "source_done", "entry": vars(entry) | {"memories": list(ids)}})
    journal.commit()


def _fail(
    item: SourceItem,
    error: str,
    checkpoint: Checkpoint,
    deps: CaptureDeps,
    now: dt.datetime,
    journal: Journal | None,
) -> dict[str, Any]:
    print(f"memsync: {item.path}: {error}", file=sys.stderr)
    previous = checkpoint.source_retry.get(item.key)
    retry = deps.sync.policy.after_failure(item.key, stat_key(item), error, False, previous, now)
    if journal is not None:
        journal.record({"op": "source_failed", "key": item.key, "retry": vars(retry)})
        journal.commit()
    return {
        "key": item.key,
        "agent": item.agent,
        "error": error,
        "retry_at": retry.next_attempt,
    }


def _report(
    selections: list[Selection],
    works: list[ItemWork],
    failures: list[dict[str, Any]],
    touched: int,
    problems: list[ParseIssue],
    written: list[str],
    opts: CaptureOptions,
    timings: dict[str, float],
) -> dict[str, Any]:
    verdicts = [d.action for w in works for d in w.decided]
    return {
        "dry_run": opts.dry_run,
        "scope": opts.scope,
        "counts": {
            "items": len(selections),
            "read": len(works) + len(failures) + touched,
            "unchanged": sum(s.action == "unchanged" for s in selections) + touched,
            "skipped": sum(s.action == "skip" for s in selections),
            "failed": len(failures),
            "candidates": sum(len(w.candidates) for w in works),
            "excluded": sum(w.excluded for w in works),
            "added": verdicts.count("add"),
            "updated": verdicts.count("update"),
            "noop": verdicts.count("noop"),
            "summaries": verdicts.count("summary"),
            "messages": sum(w.messages for w in works),
            "parse_issues": sum(len(w.issues) for w in works),
            "redactions": sum(n for w in works for n in w.redactions.values()),
        },
        "items": [_item_report(w) for w in works],
        "skipped": [
            {"key": s.item.key, "code": s.code, "reason": s.reason}
            for s in selections
            if s.action == "skip"
        ],
        "skipped_by_reason": dict(Counter(s.code for s in selections if s.action == "skip")),
        "failures": failures,
        "problems": [str(p) for p in problems],
        "written": list(dict.fromkeys(written)),
        "timings_s": timings,
    }


def _item_report(work: ItemWork) -> dict[str, Any]:
    return {
        "key": work.item.key,
        "agent": work.item.agent,
        "session": work.item.session_id,
        "messages": work.messages,
        "issues": [str(i) for i in work.issues[:20]],
        "redactions": work.redactions,
        "candidates": [d.as_dict() for d in work.decided],
    }
