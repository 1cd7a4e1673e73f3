#!/usr/bin/env python3
"""Redaction speed on the real transcripts of the shared data (and on the memory corpus).

Parses every transcript once with the project's adapters, then times ``redact_transcript``
over all of them (best of ``--repeat`` passes) and prints characters, seconds, MB/s and what
was redacted per kind. Skips cleanly when the shared data is absent.

Usage:
    .venv/bin/python scripts/bench_redact.py [--data DIR] [--repeat N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from scripts.parse_transcripts import DEFAULT_DATA, ROOTS  # noqa: E402
from sync.capture.redact import redact_transcript  # noqa: E402
from sync.capture.sources import adapter  # noqa: E402
from sync.capture.sources.base import SourceError, Transcript  # noqa: E402
from sync.redact import redact  # noqa: E402


def load(data: Path) -> list[Transcript]:
    out: list[Transcript] = []
    for agent, pattern in ROOTS:
        for root in sorted(p for p in data.glob(pattern) if p.is_dir()):
            source = adapter(agent)
            for item in source.discover(root):
                try:
                    out.append(source.parse(item))
                except SourceError:
                    continue
    return out


def chars(t: Transcript) -> int:
    n = len(t.title or "")
    for m in t.messages:
        n += len(m.text) + len(m.thinking)
        n += sum(len(c.input) + len(c.output) for c in m.tool_calls)
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no shared data at {args.data}; nothing to measure", file=sys.stderr)
        return 0
    transcripts = load(args.data)
    total = sum(chars(t) for t in transcripts)
    t0 = time.perf_counter()
    redact("the first call loads the rules")  # detect-secrets imported, catalog built
    first = time.perf_counter() - t0
    best, kinds = float("inf"), {}
    for _ in range(max(args.repeat, 1)):
        kinds = {}
        t0 = time.perf_counter()
        for t in transcripts:
            _, counts = redact_transcript(t)
            for kind, n in counts.items():
                kinds[kind] = kinds.get(kind, 0) + n
        best = min(best, time.perf_counter() - t0)
    figures = {
        "transcripts": len(transcripts),
        "messages": sum(len(t.messages) for t in transcripts),
        "chars": total,
        "seconds": round(best, 3),
        "mb_per_s": round(total / best / 1e6, 2),
        "rules_load_s": round(first, 3),
        "redacted": dict(sorted(kinds.items())),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"{figures['transcripts']} transcripts, {figures['messages']} messages, "
            f"{total / 1e6:.1f} M chars: {best:.3f} s ({figures['mb_per_s']} MB/s, best of "
            f"{args.repeat}); first call {first:.3f} s"
        )
        for kind, n in figures["redacted"].items():
            print(f"  {kind:24} {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
