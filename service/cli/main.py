"""The `memsync` command line. stdout carries data (one JSON document with --json); stderr
carries progress and messages. Exit codes: 0 ok, 1 runtime error, 2 usage or configuration
error, 3 finished with items in the retry queue, 4 lock busy, 5 audit threshold crossed."""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import importlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from service.cli.parser import build_parser
from service.cli.remote import ROUTES
from sync.errors import ConfigError, LockBusyError, MemsyncError, StoreNotFoundError, UsageError

if TYPE_CHECKING:
    from service.cli.common import Result

# command -> the module that implements cmd_<command>; imported only when that command runs
_MODULES = {
    "init": "memory_commands",
    "add": "memory_commands",
    "ask": "memory_commands",
    "status": "memory_commands",
    "index": "memory_commands",
    "skill": "memory_commands",
    "model": "model_commands",
    "sync": "sync_commands",
    "retry": "sync_commands",
    "maintain": "sync_commands",
    "restore": "sync_commands",
    "archive": "sync_commands",
    "sources": "sync_commands",
    "sessions": "session_commands",
    "digest": "session_commands",
    "serve": "sync_commands",
    "audit": "audit",
    "compare": "daily",
    "backfill": "daily",
    "mcp": "agent_commands",
    "hook": "agent_commands",
    "connect": "agent_commands",
}


def main(argv: Sequence[str] | None = None) -> int:
    # a fault in native code (a memory-mapped page on a full disk: SIGBUS) still says where
    with contextlib.suppress(ValueError, OSError):  # no real stderr (captured in tests)
        faulthandler.enable()
    args = build_parser().parse_args(argv)  # `--help` and usage errors end here, light
    from service.cli.common import EXIT_ERROR, EXIT_LOCKED, EXIT_USAGE

    try:
        data, text, code = _run(args)
    except KeyboardInterrupt:
        _fail(args, "interrupted", "interrupted; the next sync finishes the work", EXIT_ERROR)
        return EXIT_ERROR
    except (ConfigError, StoreNotFoundError, UsageError) as exc:
        return _fail(args, type(exc).__name__, str(exc), EXIT_USAGE)
    except LockBusyError as exc:
        return _fail(args, "LockBusyError", str(exc), EXIT_LOCKED)
    except MemsyncError as exc:
        return _fail(args, type(exc).__name__, str(exc), EXIT_ERROR)
    except OSError as exc:  # the disk or the file system, said plainly
        where = f" ({exc.filename})" if exc.filename else ""
        return _fail(args, "OSError", f"{exc.strerror or exc}{where}", EXIT_ERROR)
    except Exception as exc:  # boundary: report, never a bare traceback unless asked
        if os.environ.get("MEMSYNC_DEBUG"):
            traceback.print_exc()
        return _fail(
            args,
            type(exc).__name__,
            f"internal error: {exc} (set MEMSYNC_DEBUG=1 for a traceback)",
            EXIT_ERROR,
        )
    try:
        if args.json:
            print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        elif text:
            print(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `memsync … | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
    return code


def _fail(args: argparse.Namespace, kind: str, message: str, code: int) -> int:
    """The message on stderr (and as JSON with --json); returns the exit code."""
    print(f"memsync: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"error": {"type": kind, "message": message}, "exit_code": code}))
    return code


def _run(args: argparse.Namespace) -> Result:
    """The command, through the running service when it answers this one."""
    from service.cli.common import remote_service
    from service.http.client import request

    module = importlib.import_module(f"service.cli.{_MODULES[args.command]}")
    route = ROUTES.get(args.command)
    remote = remote_service() if route is not None else None
    if route is None or remote is None:
        handler: Callable[[argparse.Namespace], Result] = getattr(module, f"cmd_{args.command}")
        return handler(args)
    method, path, fields = route(args)
    if method == "GET":
        data = request(remote, method, path, params=fields)
    else:
        data = request(remote, method, path, fields)
    present: Callable[[argparse.Namespace, dict[str, Any]], Result] = getattr(
        module, f"present_{args.command}"
    )
    return present(args, data)
