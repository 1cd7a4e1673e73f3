"""Commands on memories: init, add, ask, status, index, skill."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any

from service.cli import render
from service.cli.common import (
    EXIT_OK,
    EXIT_RETRY,
    Result,
    open_for_data,
    open_store,
    remote_service,
)
from service.http.client import request
from service.settings import DEFAULT_CONFIG, Settings
from service.status import store_status
from service.wiring import (
    dedup_thresholds,
    index_exists,
    index_id,
    make_encoder,
    make_index,
    prepare_index,
)
from sync.capture.add import add_memory, new_candidate
from sync.errors import MemsyncError, UsageError
from sync.fsutil import atomic_write_bytes
from sync.models import collection_name
from sync.ports import SearchFilter
from sync.recall.retrieve import ask
from sync.store import STORE_DIRNAME, init_store
from sync.store.access import record_access
from sync.store.markdown import KIND_RE


def cmd_init(args: argparse.Namespace) -> Result:
    root = (args.path or Path.cwd()).resolve() / STORE_DIRNAME
    layout, created = init_store(root)
    if not layout.config_path.exists():
        atomic_write_bytes(layout.config_path, DEFAULT_CONFIG.encode("utf-8"))
    data = {"store": str(root), "created": created}
    verb = "Created" if created else "Already initialised:"
    text = f"{verb} {root}\nNext: add memories under {layout.memory_dir}, then `memsync sync`."
    return data, text, EXIT_OK


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
    remote = remote_service()
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
    layout, settings, deps, _ = open_for_data(dry_run=args.dry_run)
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
    remote = remote_service()
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
    layout, settings, _, _ = open_for_data()
    results: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    if index_exists(settings, layout):
        encoder = make_encoder(settings)
        index = make_index(settings, layout, reader=True)
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
    from sync.llm import make_lm
    from sync.recall.answer import answer_question

    try:
        return answer_question(question, results, make_lm(lm_config(settings)))
    except MemsyncError as exc:  # the ranked memories still stand
        return {"answer": None, "citations": [], "model": settings.llm_model, "error": str(exc)}


def cmd_status(args: argparse.Namespace) -> Result:
    remote = remote_service()
    if remote is not None:
        data = request(remote, "GET", "/api/status")
        return data, render.status_text(data), EXIT_OK
    layout, settings = open_store()
    data = store_status(layout, settings)
    return data, render.status_text(data), EXIT_OK


def cmd_index(args: argparse.Namespace) -> Result:
    layout, settings = open_store()
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
    from service.agents.skills import install_skills

    target = args.path or Path(os.environ.get("HOME", "~")).expanduser() / ".claude" / "skills"
    done = install_skills(target, force=args.force)
    text = "\n".join(f"{d['state']:<9} /{d['skill']}  {d['path']}" for d in done)
    return {"skills": done}, text, EXIT_OK
