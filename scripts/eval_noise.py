#!/usr/bin/env python3
"""Noise by `memsync audit`'s rules in a store captured from the shared transcripts.

Captures every real transcript under ../shared/data into a fresh store, in-process, with the
configured extraction (offline unless an LM is set), as scripts/bench_capture.py does; then
runs the audit's noise rules (sync/care/audit_noise.py: raw-error or cut-off titles, bodies
that restate the title, learnings without a fix, decisions without a reason, near-empty
summaries) and prints the noise rate, per kind and per reason, with each noisy title.

    .venv/bin/python scripts/eval_noise.py [--data ../shared/data] [--json] [--quiet]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_capture import capture_runner, make_store  # noqa: E402
from parse_transcripts import DEFAULT_DATA  # noqa: E402

from sync.care.audit import audit_store  # noqa: E402
from sync.store import StoreLayout, try_read_memory  # noqa: E402


def measure(data: Path, encoder: Any) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="memsync-noise-"))
    try:
        make_store(data, work)
        capture_runner(work, encoder)()
        layout = StoreLayout(work / ".memsync")
        report = audit_store(layout, None)
        noise = report["noise"]
        kinds: Counter[str] = Counter()
        for path in layout.memory_dir.rglob("*.md"):
            rel = path.relative_to(layout.memory_dir).as_posix()
            memory = try_read_memory(layout.memory_dir, rel)
            if memory is not None and not rel.startswith("archived/"):
                kinds[memory.kind] += 1
        noisy_kinds = Counter(x["kind"] for x in noise["items"])
        titles = []
        for x in noise["items"]:
            memory = try_read_memory(layout.memory_dir, x["path"])
            titles.append({"kind": x["kind"], "title": memory.title if memory else x["path"],
                           "reasons": x["reasons"]})  # fmt: skip
        return {
            "memories": report["memories"],
            "noisy": noise["count"],
            "rate": noise["rate"],
            "per_reason": noise["reasons"],
            "per_kind": {k: {"memories": n, "noisy": noisy_kinds[k]} for k, n in kinds.items()},
            "noisy_titles": titles,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quiet", action="store_true", help="figures only, no titles")
    args = ap.parse_args()
    if not args.data.is_dir():
        print(f"no transcripts under {args.data}; nothing to measure", file=sys.stderr)
        return 0
    from embeddings.encoder import SentenceTransformerEncoder

    result = measure(args.data.resolve(), SentenceTransformerEncoder("all-MiniLM-L6-v2"))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['noisy']} of {result['memories']} memories are noise: rate {result['rate']}")
    for kind, c in sorted(result["per_kind"].items()):
        print(f"  {kind:<9} {c['noisy']:>4} of {c['memories']}")
    for reason, n in sorted(result["per_reason"].items(), key=lambda kv: -kv[1]):
        print(f"  {n:>4}  {reason}")
    if not args.quiet:
        for x in result["noisy_titles"]:
            print(f"  {x['kind']:<9} {x['title'][:70]!r}: {'; '.join(x['reasons'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
