"""Commands on memories: init, add, ask, status, index, skill."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.cli import render
from service.cli.common import (
    EXIT_OK,
    EXIT_RETRY,
    Result,
    open_for_data,
    open_store,
    remote_service,
)
from service.config_template import DEFAULT_CONFIG
from service.http.client import request
from service.settings import Settings
from sync.errors import MemsyncError, UsageError
from sync.fsutil import atomic_write_bytes
from sync.models import kind_problem
from sync.store import STORE_DIRNAME, StoreLayout, init_store

if TYPE_CHECKING:
    from sync.recall.retrieve import Scoring

# Each command checks for a running service first and, when one answers, only talks to it:
# the modules that embed, search or write the store are imported on the local route alone.


def _check_kind(settings: Settings, kind: str) -> None:
    """Refuse a kind outside the vocabulary, naming the closest one and the choices."""
    problem = kind_problem(kind, settings.kinds_custom)
    if problem is not None:
        raise UsageError(f"--kind {problem}")


def cmd_init(args: argparse.Namespace) -> Result:
    global_store = getattr(args, "global_store", False)
    if global_store and args.path is not None:
        raise UsageError("--global creates ~/.memsync; it takes no --path")
    home = Path(os.environ.get("HOME", "~")).expanduser()
    folder = home if global_store else (args.path or Path.cwd())
    root = folder.resolve() / STORE_DIRNAME
    layout, created = init_store(root)
    if not layout.config_path.exists():
        atomic_write_bytes(layout.config_path, DEFAULT_CONFIG.encode("utf-8"))
    is_global = root == (home / STORE_DIRNAME).resolve()
    data = {"store": str(root), "created": created, "global": is_global}
    verb = "Created" if created else "Already initialised:"
    scope = (
        "It captures every project's sessions and tags each memory with its project."
        if is_global
        else "It captures this project's sessions (its git worktrees included)."
    )
    text = (
        f"{verb} {root}\n{scope}\n"
        f"Next: add memories under {layout.memory_dir}, then `memsync sync`; "
        "`memsync connect claude` (or codex, cursor, opencode) gives your agent this memory."
    )
    return data, text, EXIT_OK


def cmd_add(args: argparse.Namespace) -> Result:
    body = _body(args)
    if not args.title.strip():
        raise UsageError("--title is empty")
    if not 0.0 <= args.confidence <= 1.0:
        raise UsageError("--confidence must be between 0 and 1")
    from sync.capture.add import new_candidate

    _, settings = open_store()
    _check_kind(settings, args.kind)
    now = dt.datetime.now(dt.UTC)
    tags = tuple(t.strip() for t in args.tags.split(",") if t.strip())
    new_candidate(  # validates before anything is sent or opened
        kind=args.kind, title=args.title, body=body, tags=tags, confidence=args.confidence,
        source={}, now=now,
    )  # fmt: skip
    remote = remote_service()
    if remote is not None:
        fields = {
            "kind": args.kind,
            "title": args.title,
            "body": body,
            "tags": list(tags),
            "confidence": args.confidence,
            "dry_run": args.dry_run,
        }
        if args.session:
            fields["session"] = args.session
        result = request(remote, "POST", "/api/memories", fields)
        failed = bool(result.get("sync", {}).get("failures"))
        return result, render.add_text(result), EXIT_RETRY if failed else EXIT_OK
    return _add_locally(args, body, tags, now)


def _add_locally(
    args: argparse.Namespace, body: str, tags: tuple[str, ...], now: dt.datetime
) -> Result:
    from service.capture_wiring import make_referee
    from service.sessions import session_source
    from service.wiring import dedup_thresholds
    from sync.capture.add import add_memory, new_candidate

    layout, settings, deps, _ = open_for_data(dry_run=args.dry_run)
    source: dict[str, Any] = {"agent": "cli"}
    dated = None
    if args.session:
        source, dated, extra = session_source(settings, layout, args.session, "memsync add")
        tags = tuple(dict.fromkeys((*tags, *extra)))
    candidate = new_candidate(
        kind=args.kind,
        title=args.title,
        body=body,
        tags=tags,
        confidence=args.confidence,
        source=source,
        now=now,
        dated=dated,
    )
    result = add_memory(
        layout,
        candidate,
        deps,
        dedup_thresholds(settings),
        dry_run=args.dry_run,
        neighbours_k=settings.dedup_neighbours,
        referee=make_referee(settings),
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
    min_score = getattr(args, "min_score", None)
    remote = remote_service()
    if remote is not None:
        t0 = time.perf_counter()
        body = {
            "question": args.question,
            "k": args.k,
            "kinds": args.kind,
            "tags": args.tag,
            "include_archived": args.include_archived,
            "mode": args.mode,
            "answer": not args.no_answer,
        }
        if min_score is not None:
            body["min_score"] = min_score
        data = request(remote, "POST", "/api/ask", body)
        data["took_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        return data, render.ask_text(data), EXIT_OK
    return _ask_locally(args, min_score)


def _ask_locally(args: argparse.Namespace, min_score: float | None) -> Result:
    from service.wiring import ask_scoring
    from sync.store.access import record_access

    layout, settings, _, _ = open_for_data()
    for kind in args.kind:
        _check_kind(settings, kind)
    scoring = ask_scoring(settings, min_score)
    t0 = time.perf_counter()
    found = _search(args, layout, settings, scoring)
    results = found["results"]
    record_access(layout, (r["id"] for r in results), dt.datetime.now(dt.UTC))
    data = {
        "question": args.question,
        **found,
        "answer": None if args.no_answer else _answer(settings, args.question, results),
        "took_ms": round((time.perf_counter() - t0) * 1000, 1),
    }
    return data, render.ask_text(data), EXIT_OK


def _search(
    args: argparse.Namespace, layout: StoreLayout, settings: Settings, scoring: Scoring
) -> dict[str, Any]:
    """Ask the index; lexical mode loads no model (the collection comes from the checkpoint)."""
    from service.memories import search_store
    from service.wiring import make_encoder
    from sync.ports import SearchFilter

    flt = SearchFilter(tuple(args.kind), tuple(args.tag), args.include_archived)
    return search_store(
        layout, settings, args.question, k=args.k, flt=flt, mode=args.mode, scoring=scoring,
        encoder=lambda: make_encoder(settings),
    )  # fmt: skip


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
    from service.status import store_status

    layout, settings = open_store()
    data = store_status(layout, settings)
    return data, render.status_text(data), EXIT_OK


def cmd_index(args: argparse.Namespace) -> Result:
    from service.wiring import index_id, prepare_index

    layout, settings = open_store()
    if remote_service() is not None:  # it moved the index (if it had to) when it started
        data = {"migrated": False, "index": index_id(settings)}
        text = f"nothing to move: the running service keeps the index at {index_id(settings)}"
        return data, text, EXIT_OK
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
