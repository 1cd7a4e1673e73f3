#!/usr/bin/env python3
"""What capture keeps of real sessions, scored on hand-labelled facts.

scripts/data/capture_facts.jsonl (dev, 7 sessions) and capture_facts_heldout.jsonl (held out,
4 sessions) list, per real transcript of the shared data, the facts a developer returning to
the project would want back, each with key terms and a question (CAPTURE_FACTS.md). A text
holds a fact when it contains every key term, case-insensitively. Per session and in total:

* digest: fact coverage of `memsync digest` (redacted, within the budget) and its size in
  estimated tokens; with tiktoken / tokenizers installed, the digest's size in cl100k, o200k
  and Claude's tokenizer too (the estimate must stay above them for the budget to hold);
* capture: the session captured offline (`memsync sync --all-projects`, the offline rules)
  into a fresh store of its own; fact recall of its memory files (a fact is recalled when one
  memory holds it; "union" when its memories hold it together), their count and characters;
* ask hit@3: each fact's question through `memsync ask` on that store; a hit when one of the
  top three memories it shows (above the relevance floor) holds the fact; "ranked" counts the
  top three of the ranking whatever the floor;
* noise: the share of the session's memories that `memsync audit` flags as noise
  (``sync.care.audit_noise``; left out where this checkout has no such rules);
* misses: the facts no memory holds, by id and key terms (read them against the memories).

Score the dev split while working; the held-out split once, at the end (`--split heldout`).
capture_facts_heldout2..5.jsonl (`--split heldout2|heldout3|heldout4|heldout5`) are fresh held-out
sets, scored once, by the lead, at the very end: their "root": "fetched" labels name public
transcripts kept outside the repo (CAPTURE_FACTS.md says where from), found under `fetched_dir`;
a session whose file is absent is skipped with a line on stderr. `--list` only shows which
labelled sessions are found and as what memsync reads them (agent, message count).

    .venv/bin/python scripts/eval_capture.py [--split dev|heldout|heldout2..5|both|all]
        [--budget 6000] [--no-capture] [--data ../shared/data] [--fetched DIR] [--list] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from service.capture_wiring import capture_deps, capture_options  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.wiring import make_encoder, make_index, sync_deps  # noqa: E402
from sync.capture.combined import capture_and_index  # noqa: E402
from sync.capture.digest import build_digest  # noqa: E402
from sync.capture.sessions import item_for_path, read_transcript  # noqa: E402
from sync.capture.sources.base import SourceAdapter, SourceItem  # noqa: E402
from sync.index.engine import SyncOptions  # noqa: E402
from sync.models import collection_name  # noqa: E402
from sync.ports import SearchFilter  # noqa: E402
from sync.recall.retrieve import Scoring, ask  # noqa: E402
from sync.store import init_store  # noqa: E402
from sync.store.markdown import decode_text, parse_memory  # noqa: E402

LABELS = {
    "dev": REPO / "scripts" / "data" / "capture_facts.jsonl",
    "heldout": REPO / "scripts" / "data" / "capture_facts_heldout.jsonl",
    "heldout2": REPO / "scripts" / "data" / "capture_facts_heldout2.jsonl",
    "heldout3": REPO / "scripts" / "data" / "capture_facts_heldout3.jsonl",
    "heldout4": REPO / "scripts" / "data" / "capture_facts_heldout4.jsonl",
    "heldout5": REPO / "scripts" / "data" / "capture_facts_heldout5.jsonl",
}
# the splits whose transcripts live outside the repo
FETCHED = ("heldout2", "heldout3", "heldout4", "heldout5")
SPLITS = {"both": ("dev", "heldout"), "all": ("dev", "heldout", *FETCHED)}
DEFAULT_DATA = REPO.parent / "shared" / "data"


def holds(text: str, fact: dict[str, Any]) -> bool:
    low = text.lower()
    return all(term.lower() in low for term in fact["key_terms"])


def fetched_dir(split: str, given: Path | None) -> Path:
    """Where a split's fetched transcripts are: --fetched, else $MEMSYNC_EVAL_FETCHED, else
    ../<split> beside the checkout. A folder that holds one folder per split is read per split;
    any other folder is taken as the split's own (one fetched split at a time)."""
    base = given or os.environ.get("MEMSYNC_EVAL_FETCHED")
    if not base:
        return REPO.parent / split
    return Path(base) / split if (Path(base) / split).is_dir() else Path(base)


def label_path(args: argparse.Namespace, label: dict[str, Any], split: str) -> Path:
    """The labelled file: under the split's fetched folder for "root": "fetched", else --data."""
    fetched = label.get("root") == "fetched"
    base = fetched_dir(split, args.fetched) if fetched else args.data
    return Path(base) / label["file"].split(" ")[0]


def labels(split: str, args: argparse.Namespace) -> list[tuple[dict[str, Any], Path]]:
    lines = LABELS[split].read_text(encoding="utf-8").splitlines()
    return [(label, label_path(args, label, split)) for label in map(json.loads, lines)]


def found(path: Path, label: dict[str, Any]) -> str:
    """For --list: "no", or the agent memsync reads the file as and the messages it parses."""
    if not path.is_file():
        return "no"
    try:
        item = locate(path, label)
        messages = len(read_transcript(item, {}).messages)
    except Exception as exc:  # boundary: --list reports a session it cannot read and goes on
        return f"unreadable: {exc}"
    return f"yes ({item.agent}, {messages} messages)"


def locate(path: Path, label: dict[str, Any]) -> SourceItem:
    """The labelled session as an item: the file, and the conversation of a database."""
    locator = label["session"] if path.suffix in (".vscdb", ".db") else ""
    return item_for_path(path, locator)


def tokenizers() -> dict[str, Any]:
    """cl100k, o200k and Claude's tokenizer where installed (LiteLLM bundles their files)."""
    found: dict[str, Any] = {}
    bundled = glob.glob(
        str(Path(sys.prefix) / "lib/python3*/site-packages/litellm/litellm_core_utils/tokenizers")
    )
    if bundled:
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", bundled[0])
    try:
        import tiktoken

        for name in ("cl100k_base", "o200k_base"):
            encoding = tiktoken.get_encoding(name)
            found[name.split("_")[0]] = lambda t, e=encoding: len(e.encode(t))
    except Exception as exc:  # boundary: a missing or offline tokenizer only skips the check
        print(f"(tiktoken unavailable: {exc})", file=sys.stderr)
    try:
        from tokenizers import Tokenizer

        claude = Tokenizer.from_file(str(Path(bundled[0]) / "anthropic_tokenizer.json"))
        found["claude"] = lambda t: len(claude.encode(t).ids)
    except Exception as exc:  # boundary: as above
        print(f"(Claude's tokenizer unavailable: {exc})", file=sys.stderr)
    return found


def digest_scores(
    label: dict[str, Any], item: SourceItem, budget: int, counters: dict[str, Any]
) -> dict[str, Any]:
    adapters: dict[str, SourceAdapter] = {}
    t0 = time.perf_counter()
    digest = build_digest(read_transcript(item, adapters), budget)
    took = time.perf_counter() - t0
    facts = label["facts"]
    missed = [f for f in facts if not holds(digest.text, f)]
    return {
        "covered": len(facts) - len(missed),
        "tokens": digest.tokens,
        "source_tokens": digest.source_tokens,
        "seconds": round(took, 3),
        "tokenizers": {name: count(digest.text) for name, count in counters.items()},
        "missed": [{"id": f["id"], "key_terms": f["key_terms"]} for f in missed],
    }


def capture_scores(label: dict[str, Any], item: SourceItem, encoder: Any) -> dict[str, Any]:
    """Capture the session offline into a fresh store; score its memories and ask."""
    work = Path(tempfile.mkdtemp(prefix="memsync-eval-capture-"))
    try:
        sessions = work / "sessions"
        sessions.mkdir()
        exclude: list[str] = []
        if item.locator:  # a database: every other conversation in it is excluded
            root = item.path.parent
            others = [i for i in item_for_path_all(item.path) if i.locator != item.locator]
            exclude = [f"*#{i.locator}" for i in others]
        else:
            (sessions / item.path.name).symlink_to(item.path)
            root = sessions
        settings = Settings(
            sources_agents=(item.agent,),
            **{f"sources_{item.agent}": (str(root),)},
            sources_window="all",
            qdrant_mode="edge",
        )
        layout, _ = init_store(work / "proj" / ".memsync")
        deps = sync_deps(settings, layout)
        deps.encoder_factory = lambda: encoder
        opts = capture_options(
            settings,
            {"all_projects": True, "exclude": exclude},
            dt.datetime.now(dt.UTC),
            layout=layout,
        )
        capture_and_index(
            layout, opts, SyncOptions(write_reports=False), capture_deps(settings, layout, deps)
        )
        memories = {}
        for path in layout.memory_dir.rglob("*.md"):
            rel = path.relative_to(layout.memory_dir).as_posix()
            if not rel.startswith("archived/"):
                memories[rel] = path.read_text(encoding="utf-8")
        kinds: dict[str, int] = {}
        for rel, text in memories.items():
            kind = parse_memory(decode_text(text.encode(), rel), rel).kind
            kinds[kind] = kinds.get(kind, 0) + 1
        facts = label["facts"]
        recalled = [f for f in facts if any(holds(t, f) for t in memories.values())]
        union = [f for f in facts if holds("\n".join(memories.values()), f)]
        hits, ranked = ask_hits(settings, layout, encoder, facts, memories)
        return {
            "recalled": len(recalled),
            "recalled_union": len(union),
            "memories": len(memories),
            "kinds": kinds,
            "chars": sum(len(t) for t in memories.values()),
            "ask_hits": hits,
            "ask_hits_ranked": ranked,
            "noisy": noisy(memories),
            "missed": [
                {"id": f["id"], "key_terms": f["key_terms"]} for f in facts if f not in recalled
            ],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def item_for_path_all(path: Path) -> list[SourceItem]:
    from sync.capture.sources.sniff import sniff_items

    return sniff_items(path)


def noisy(memories: dict[str, str]) -> int | None:
    """How many of ``memories`` the audit's noise rules flag (None without those rules)."""
    try:
        from sync.care.audit_noise import noise_reasons  # type: ignore[import-not-found]
    except ImportError:
        return None
    parsed = [parse_memory(decode_text(t.encode(), rel), rel) for rel, t in memories.items()]
    return sum(bool(noise_reasons(m, 25)) for m in parsed)


def ask_hits(
    settings: Settings,
    layout: Any,
    encoder: Any,
    facts: list[dict[str, Any]],
    memories: dict[str, str],
) -> tuple[int, int]:
    """(facts one of the top three shown holds, facts one of the top three ranked holds)."""
    if not memories:
        return 0, 0
    index = make_index(settings, layout)
    try:
        shown = ranked = 0
        for fact in facts:
            for floor, scoring in ((True, None), (False, Scoring(min_score=0.0))):
                results = ask(
                    fact["question"],
                    encoder=encoder,
                    index=index,
                    collection=collection_name(settings.collection, encoder.identity),
                    k=3,
                    flt=SearchFilter(),
                    memory_dir=layout.memory_dir,
                    scoring=scoring,
                )
                top = results["results"][:3]  # above the floor: what a user sees
                hit = any(holds(memories.get(str(r["path"]), ""), fact) for r in top)
                shown += hit and floor
                ranked += hit and not floor
        return shown, ranked
    finally:
        index.close()


def evaluate(
    split: str, args: argparse.Namespace, encoder: Any, counters: dict[str, Any]
) -> dict[str, Any]:
    rows = []
    for label, path in labels(split, args):
        if not path.is_file():
            print(f"{split}: {path} not found; session skipped", file=sys.stderr)
            continue
        item = locate(path, label)
        row: dict[str, Any] = {
            "session": label["session"],
            "agent": label["agent"],
            "facts": len(label["facts"]),
            "digest": digest_scores(label, item, args.budget, counters),
        }
        if encoder is not None:
            row["capture"] = capture_scores(label, item, encoder)
        rows.append(row)
        print(render_row(row), file=sys.stderr if args.json else sys.stdout, flush=True)
    return {"split": split, "sessions": rows, "total": totals(rows)}


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"sessions": 0, "facts": 0}
    facts = sum(r["facts"] for r in rows)
    out: dict[str, Any] = {
        "sessions": len(rows),
        "facts": facts,
        "digest_covered": sum(r["digest"]["covered"] for r in rows),
        "digest_tokens_max": max(r["digest"]["tokens"] for r in rows),
        "digest_tokens_sum": sum(r["digest"]["tokens"] for r in rows),
        "source_tokens_sum": sum(r["digest"]["source_tokens"] for r in rows),
    }
    names = {n for r in rows for n in r["digest"]["tokenizers"]}
    out["tokenizer_max_over_estimate"] = {
        n: round(max(r["digest"]["tokenizers"][n] / r["digest"]["tokens"] for r in rows), 3)
        for n in sorted(names)
    }
    if rows and "capture" in rows[0]:
        for key in (
            "recalled",
            "recalled_union",
            "memories",
            "chars",
            "ask_hits",
            "ask_hits_ranked",
        ):
            out[key] = sum(r["capture"][key] for r in rows)
        out["chars_max"] = max(r["capture"]["chars"] for r in rows)
        flagged = [r["capture"]["noisy"] for r in rows]
        out["noisy"] = None if None in flagged else sum(f or 0 for f in flagged)
    return out


def pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f}%)" if d else "-"


def render_row(row: dict[str, Any]) -> str:
    d, n = row["digest"], row["facts"]
    text = (
        f"{row['agent']:<8} {row['session'][:8]}  digest {pct(d['covered'], n):>12} "
        f"{d['tokens']:>5} tok (of {d['source_tokens']:>7})"
    )
    if "capture" in row:
        c = row["capture"]
        noise = "" if c["noisy"] is None else f" noise {pct(c['noisy'], c['memories'])}"
        text += (
            f"  recall {pct(c['recalled'], n):>11} union {pct(c['recalled_union'], n):>11} "
            f"{c['memories']:>3} memories {c['chars']:>6} chars  ask@3 {pct(c['ask_hits'], n)}"
            f" (ranked {c['ask_hits_ranked']}){noise}"
        )
    missed = ", ".join("+".join(m["key_terms"]) for m in d["missed"])
    text += f"\n    digest misses: {missed}" if missed else ""
    if "capture" in row and row["capture"]["missed"]:
        lost = ", ".join(
            f"{m['id']} ({'+'.join(m['key_terms'])})" for m in row["capture"]["missed"]
        )
        text += f"\n    capture misses: {lost}"
    return text


def render_total(result: dict[str, Any]) -> str:
    t = result["total"]
    if not t["sessions"]:
        return f"== {result['split']}: no labelled session found =="
    lines = [
        f"== {result['split']}: {t['sessions']} sessions, {t['facts']} facts ==",
        f"digest coverage {pct(t['digest_covered'], t['facts'])}; largest digest "
        f"{t['digest_tokens_max']} tokens; all digests {t['digest_tokens_sum']} of "
        f"{t['source_tokens_sum']} source tokens",
    ]
    if t["tokenizer_max_over_estimate"]:
        ratios = ", ".join(f"{k} {v}" for k, v in t["tokenizer_max_over_estimate"].items())
        lines.append(f"real tokens / estimate, worst session: {ratios} (<= 1: the budget holds)")
    if "recalled" in t:
        noise = "" if t["noisy"] is None else f"; noise {pct(t['noisy'], t['memories'])}"
        lines.append(
            f"offline capture: recall {pct(t['recalled'], t['facts'])} (union "
            f"{pct(t['recalled_union'], t['facts'])}), {t['memories']} memories, "
            f"{t['chars']} chars (largest session {t['chars_max']}); ask hit@3 "
            f"{pct(t['ask_hits'], t['facts'])} (top three ranked, floor aside: "
            f"{pct(t['ask_hits_ranked'], t['facts'])}){noise}"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--split", choices=(*LABELS, *SPLITS), default="dev")
    ap.add_argument("--budget", type=int, default=6000, help="digest budget in tokens")
    ap.add_argument("--no-capture", action="store_true", help="digests only (no model)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    ap.add_argument("--fetched", type=Path, help="fetched transcripts (see fetched_dir)")
    ap.add_argument("--list", action="store_true", help="list the labelled sessions and stop")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args()
    splits = SPLITS.get(args.split, (args.split,))
    if args.list:
        for split in splits:
            for label, path in labels(split, args):
                state = found(path, label)
                print(f"{split}\t{label['agent']}\t{path}\t{state}\t{len(label['facts'])}")
        return 0
    if not set(splits) & set(FETCHED) and not (args.data / "claude_code").is_dir():
        print(f"shared data not found at {args.data}; nothing to evaluate", file=sys.stderr)
        return 0
    if args.split != "dev":
        print("scoring the HELD-OUT split: do this once, at the end", file=sys.stderr)
    counters = tokenizers()
    encoder = None if args.no_capture else make_encoder(Settings())
    results = [evaluate(s, args, encoder, counters) for s in splits]
    if args.json:
        print(json.dumps({"budget": args.budget, "results": results}, indent=2))
    else:
        for result in results:
            print(render_total(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
