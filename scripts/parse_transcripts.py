#!/usr/bin/env python3
"""Parse every real transcript in the shared data with the project's source adapters.

For each agent (claude, codex, cursor, opencode, openclaw) this walks the agent's folders of the
shared data (``claude_code/``, ``codex/``, ``cursor/``, ``openclaw_pi/`` and the matching
``schema_fixtures/`` folders), runs the adapter's ``discover()`` then ``parse()`` on every item
and measures: items found, messages, tool calls, parse issues (skipped records, not fatal),
fatal errors (``SourceError`` or an unexpected exception, with the file) and seconds spent.
An agent whose adapter module does not exist yet is reported as "adapter missing"; one with no
folder in the data as "no data". Only agents with data have their adapter imported.

Human table on stdout, or one JSON document with ``--json`` (per-file figures included; add
``--files`` to print them in the table too). Exit code 1 when any fatal error occurred; 0
otherwise, including when the shared data is absent.

Usage:
    .venv/bin/python scripts/parse_transcripts.py [--data DIR] [--json] [--files]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from sync.capture.sources import adapter  # noqa: E402
from sync.capture.sources.base import AGENTS, SourceError  # noqa: E402

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"

# (agent, glob relative to the data folder); every matching directory is one discover() root.
ROOTS: tuple[tuple[str, str], ...] = (
    ("claude", "claude_code/*"),
    ("claude", "schema_fixtures/daaain_claude-code-log"),
    ("claude", "schema_fixtures/*/claude"),
    ("codex", "codex/*"),
    ("codex", "schema_fixtures/*/codex"),
    ("codex", "schema_fixtures/*/codex_legacy"),
    ("cursor", "cursor/*"),
    ("cursor", "schema_fixtures/*/cursor"),
    ("cursor", "schema_fixtures/*/cursor_agent_cli"),
    ("opencode", "schema_fixtures/*/opencode/*"),  # each is a `storage/` folder
    ("openclaw", "openclaw_pi/*"),
    ("openclaw", "schema_fixtures/*/openclaw"),
)


@dataclass
class FileFigures:
    path: str
    messages: int = 0
    tool_calls: int = 0
    issues: int = 0
    fatal: str | None = None


@dataclass
class AgentFigures:
    agent: str
    status: str = "ok"  # ok | no data | adapter missing | adapter failed
    roots: list[str] = field(default_factory=list)
    items: int = 0
    messages: int = 0
    tool_calls: int = 0
    issues: int = 0
    fatal: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    files: list[FileFigures] = field(default_factory=list)


def roots_for(data: Path, agent: str) -> list[Path]:
    """The existing directories of ``data`` that hold ``agent``'s sessions."""
    found: list[Path] = []
    for owner, pattern in ROOTS:
        if owner == agent:
            found += sorted(p for p in data.glob(pattern) if p.is_dir())
    return found


def load(agent: str, figures: AgentFigures) -> Any:
    """The agent's adapter, or None with the status set when it cannot be imported."""
    try:
        return adapter(agent)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("sync.capture.sources."):
            figures.status = "adapter missing"
            return None
        figures.status = "adapter failed"
        figures.fatal.append({"path": "", "error": f"import: {exc!r}"})
    except Exception as exc:  # a broken adapter must not stop the other agents
        figures.status = "adapter failed"
        figures.fatal.append({"path": "", "error": f"import: {exc!r}"})
    return None


def parse_one(source: Any, item: Any, figures: AgentFigures) -> None:
    """Parse one item and add its figures; any exception is recorded as fatal for that file."""
    row = FileFigures(path=str(item.path) + (f"#{item.locator}" if item.locator else ""))
    try:
        transcript = source.parse(item)
    except SourceError as exc:
        row.fatal = f"SourceError: {exc.reason}"
    except Exception as exc:  # the measurement boundary: report, go on
        row.fatal = f"{type(exc).__name__}: {exc}"
    else:
        row.messages = len(transcript.messages)
        row.tool_calls = sum(len(m.tool_calls) for m in transcript.messages)
        row.issues = len(transcript.issues)
    figures.files.append(row)
    figures.items += 1
    figures.messages += row.messages
    figures.tool_calls += row.tool_calls
    figures.issues += row.issues
    if row.fatal:
        figures.fatal.append({"path": row.path, "error": row.fatal})


def measure(data: Path, agent: str) -> AgentFigures:
    """Discover and parse everything of one agent under ``data``."""
    figures = AgentFigures(agent=agent)
    roots = roots_for(data, agent)
    figures.roots = [str(r.relative_to(data)) for r in roots]
    if not roots:
        figures.status = "no data"
        return figures
    start = time.perf_counter()
    source = load(agent, figures)
    if source is not None:
        for root in roots:
            try:
                for item in source.discover(root):
                    parse_one(source, item, figures)
            except Exception as exc:  # discover() itself failed: the root is fatal
                figures.fatal.append({"path": str(root), "error": f"discover: {exc!r}"})
    figures.seconds = round(time.perf_counter() - start, 3)
    return figures


def print_table(results: list[AgentFigures], show_files: bool) -> None:
    """The human-readable table (stdout)."""
    head = f"{'agent':<10} {'status':<16} {'items':>6} {'messages':>9} {'tools':>7}"
    print(f"{head} {'issues':>7} {'fatal':>6} {'seconds':>8}")
    for f in results:
        print(
            f"{f.agent:<10} {f.status:<16} {f.items:>6} {f.messages:>9} {f.tool_calls:>7}"
            f" {f.issues:>7} {len(f.fatal):>6} {f.seconds:>8.3f}"
        )
        if show_files:
            for row in f.files:
                print(
                    f"    {row.messages:>6} msg {row.tool_calls:>5} tools {row.issues:>4} issues  "
                    f"{row.path}"
                )
    for f in results:
        for bad in f.fatal:
            print(f"FATAL {f.agent}: {bad['path'] or '(adapter)'}: {bad['error']}")


def main(argv: list[str] | None = None) -> int:
    """Measure every agent; 1 if any fatal error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--files", action="store_true", help="per-file rows in the table")
    args = parser.parse_args(argv)
    data: Path = args.data.resolve()
    if not data.is_dir():
        message = f"no shared data at {data}; nothing to measure"
        print(message, file=sys.stderr)
        if args.json:
            print(json.dumps({"data": str(data), "present": False, "agents": {}}))
        return 0
    results = [measure(data, agent) for agent in AGENTS]
    fatal = sum(len(f.fatal) for f in results)
    if args.json:
        doc = {
            "data": str(data),
            "present": True,
            "fatal": fatal,
            "agents": {f.agent: asdict(f) for f in results},
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print_table(results, args.files)
    return 1 if fatal else 0


if __name__ == "__main__":
    sys.exit(main())
