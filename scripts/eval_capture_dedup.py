#!/usr/bin/env python3
"""How capture's dedup decides on hand-labelled pairs of captured memories.

scripts/data/capture_dedup_pairs.jsonl holds ~120 pairs {"a", "b", "label", "note"} in the
style of the offline extractor's decisions, learnings and insights: ``a`` is a memory
already in the store, ``b`` a newly captured candidate, and the label says what b is to a:

* duplicate: the same fact restated (paraphrase, re-extraction, reordering) -> expect noop
* related: the same subject with new information -> expect update (merge)
* new: an unrelated or different fact on a nearby topic -> expect add

Two settings, both with all-MiniLM-L6-v2 and the default DedupThresholds:

* pairwise: ``a`` is the only memory; ``decide_dedup`` on cosine(a, b) and the fingerprint.
* store: every distinct ``a`` is written as a markdown memory into one temporary store and
  indexed by ``run_sync`` (edge index), so the others act as distractors; each ``b`` then goes
  through capture's own ``decide_candidates`` (exact search, fingerprint lookup,
  ``decide_dedup``) on its own. A noop/update counts as on target when it names the pair's a.

Reports precision/recall of noop vs duplicate, update vs related and add vs new, the
confusion matrix, and a sweep of the update threshold (0.60..0.90) over the same neighbours.

    .venv/bin/python scripts/eval_capture_dedup.py [--data FILE] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from embeddings.edge_index import EdgeIndex  # noqa: E402
from embeddings.encoder import SentenceTransformerEncoder  # noqa: E402
from sync.capture.dedup import Proposed, decide_candidates  # noqa: E402
from sync.capture.extraction.base import Candidate  # noqa: E402
from sync.capture.extraction.offline import OfflineExtractor  # noqa: E402
from sync.capture.pipeline import CaptureDeps, ItemWork  # noqa: E402
from sync.capture.sources.base import SourceItem  # noqa: E402
from sync.dedup import DedupThresholds, Neighbour, decide_dedup  # noqa: E402
from sync.hashing import text_fingerprint  # noqa: E402
from sync.index.engine import SyncDeps, SyncOptions, run_sync  # noqa: E402
from sync.models import Memory  # noqa: E402
from sync.store import init_store, memory_rel_path, write_memory  # noqa: E402

DEFAULT_DATA = REPO / "scripts" / "data" / "capture_dedup_pairs.jsonl"
LABELS = ("duplicate", "related", "new")
ACTIONS = ("noop", "update", "add")
EXPECTED = dict(zip(LABELS, ACTIONS, strict=True))
SWEEP = tuple(round(0.60 + 0.05 * i, 2) for i in range(7))  # 0.60 .. 0.90
NOOP_SWEEP = (0.85, 0.88, 0.90, 0.92, 0.94, 0.96, 0.98)
NOW = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def key(record: dict[str, Any]) -> str:
    return json.dumps([record["kind"], record["title"], record["body"]])


def as_memory(record: dict[str, Any], ident: str) -> Memory:
    stamp = NOW.isoformat().replace("+00:00", "Z")
    return Memory(
        id=ident,
        kind=record["kind"],
        title=record["title"],
        body=record["body"],
        created=stamp,
        updated=stamp,
    )


# -- pairwise: a is the only memory ------------------------------------------------------------


def pairwise(pairs: list[dict[str, Any]], encoder: Any) -> list[list[Neighbour]]:
    """For each pair, b's only neighbour: a, with their cosine and a's fingerprint."""
    texts = [as_memory(p[s], "x").embedding_text() for p in pairs for s in ("a", "b")]
    vectors = encoder.encode(texts)
    out = []
    for i, p in enumerate(pairs):
        va, vb = vectors[2 * i], vectors[2 * i + 1]
        score = min(float(sum(float(x) * float(y) for x, y in zip(va, vb, strict=True))), 1.0)
        fp = text_fingerprint(p["a"]["title"], p["a"]["body"])
        out.append([Neighbour(f"a{i}", f"a{i}.md", p["a"]["title"], p["a"]["kind"], score, fp)])
    return out


# -- store: every a indexed, b through capture's decide_candidates ----------------------------


def store_neighbours(
    pairs: list[dict[str, Any]], encoder: Any
) -> tuple[list[list[Neighbour]], list[str], dict[str, float]]:
    """Index every distinct a, then decide each b as capture does; (neighbours, a ids, s)."""
    work = Path(tempfile.mkdtemp(prefix="memsync-capdedup-"))
    try:
        layout, _ = init_store(work / ".memsync")
        ids: dict[str, str] = {}
        for p in pairs:
            if key(p["a"]) in ids:
                continue
            memory = as_memory(p["a"], f"mem-a{len(ids):03d}")
            ids[key(p["a"])] = memory.id
            rel = memory_rel_path(memory, "20261121", lambda r: (layout.memory_dir / r).exists())
            write_memory(layout.memory_dir, rel, memory)
        deps = SyncDeps(
            encoder_model=encoder.identity.model,
            encoder_factory=lambda: encoder,
            index_factory=lambda: EdgeIndex(layout.qdrant_edge_dir),
            index_id="edge",
        )
        t0 = time.perf_counter()
        indexed = run_sync(layout, SyncOptions(write_reports=False), deps)
        index_s = time.perf_counter() - t0
        assert indexed["counts"]["added"] == len(ids), indexed["counts"]
        cdeps = CaptureDeps(sync=deps, extractor=OfflineExtractor, thresholds=DedupThresholds())
        t0 = time.perf_counter()
        out = [decide_one(p["b"], i, layout, cdeps) for i, p in enumerate(pairs)]
        decide_s = time.perf_counter() - t0
        timings = {"index_s": round(index_s, 2), "decide_s": round(decide_s, 2)}
        return out, [ids[key(p["a"])] for p in pairs], timings
    finally:
        shutil.rmtree(work, ignore_errors=True)


def decide_one(record: dict[str, Any], i: int, layout: Any, deps: CaptureDeps) -> list[Neighbour]:
    """Run one candidate alone through capture's decision path; its neighbours."""
    item = SourceItem("claude", f"claude:eval-{i}", Path(f"eval-{i}.jsonl"), f"eval-{i}", 0, 0)
    candidate = Candidate(kind=record["kind"], title=record["title"], body=record["body"])
    source = {"agent": "claude", "session": f"eval-{i}", "file": f"eval-{i}.jsonl"}
    work = ItemWork(item, "0" * 16, [Proposed(candidate, (), source, None, None)])
    decide_candidates([work], layout, deps, NOW)
    (decided,) = work.decided
    return decided.nearest


# -- scoring -----------------------------------------------------------------------------------


def decide_all(
    pairs: list[dict[str, Any]], nearest: list[list[Neighbour]], t: DedupThresholds
) -> list[tuple[str, str | None]]:
    """(action, target memory id) for every b, from its neighbours."""
    out = []
    for p, near in zip(pairs, nearest, strict=True):
        fp = text_fingerprint(p["b"]["title"], p["b"]["body"])
        d = decide_dedup(p["b"]["kind"], fp, near, t)
        out.append((d.action, d.target.memory_id if d.target else None))
    return out


def score(
    pairs: list[dict[str, Any]], decisions: list[tuple[str, str | None]], own: Sequence[str]
) -> dict[str, Any]:
    """Confusion matrix, precision/recall per expected action, and off-target merges."""
    confusion = {label: dict.fromkeys(ACTIONS, 0) for label in LABELS}
    off_target = 0
    for p, (action, target), mine in zip(pairs, decisions, own, strict=True):
        confusion[p["label"]][action] += 1
        off_target += action != "add" and target != mine
    per_action = {}
    for label, action in EXPECTED.items():
        tp = confusion[label][action]
        predicted = sum(confusion[lab][action] for lab in LABELS)
        actual = sum(confusion[label].values())
        per_action[f"{action}~{label}"] = {
            "precision": round(tp / predicted, 3) if predicted else None,
            "recall": round(tp / actual, 3) if actual else None,
            "predicted": predicted,
        }
    correct = sum(confusion[lab][EXPECTED[lab]] for lab in LABELS)
    merged = {lab: confusion[lab]["noop"] + confusion[lab]["update"] for lab in LABELS}
    same = merged["duplicate"] + merged["related"]
    gold_same = sum(sum(confusion[lab].values()) for lab in ("duplicate", "related"))
    landed = sum(merged.values())
    return {
        "accuracy": round(correct / len(pairs), 3),
        "per_action": per_action,
        "same_memory": {  # noop or update (b lands on an existing memory) vs add
            "precision": round(same / landed, 3) if landed else None,
            "recall": round(same / gold_same, 3) if gold_same else None,
        },
        "confusion": confusion,
        "off_target": off_target,
        "lost": confusion["related"]["noop"] + confusion["new"]["noop"],
        "duplicates_kept_apart": confusion["duplicate"]["add"],
        "wrong_merges": confusion["new"]["update"],
    }


def sweep(
    pairs: list[dict[str, Any]], nearest: list[list[Neighbour]], own: Sequence[str]
) -> list[dict[str, Any]]:
    rows = []
    for update in SWEEP:
        result = score(pairs, decide_all(pairs, nearest, DedupThresholds(update=update)), own)
        c = result["confusion"]
        rows.append(
            {
                "update_threshold": update,
                "related": c["related"],
                "new": c["new"],
                "duplicate": c["duplicate"],
                "update_precision": result["per_action"]["update~related"]["precision"],
                "accuracy": result["accuracy"],
            }
        )
    return rows


def noop_sweep(
    pairs: list[dict[str, Any]], nearest: list[list[Neighbour]], own: Sequence[str]
) -> list[dict[str, Any]]:
    """What a lower no-op threshold would drop: duplicates (wanted) and related/new (lost)."""
    rows = []
    for noop in NOOP_SWEEP:
        c = score(pairs, decide_all(pairs, nearest, DedupThresholds(noop=noop)), own)["confusion"]
        rows.append({"noop_threshold": noop, **{lab: c[lab]["noop"] for lab in LABELS}})
    return rows


def cosines(pairs: list[dict[str, Any]], nearest: list[list[Neighbour]]) -> dict[str, Any]:
    out = {}
    for label in LABELS:
        values = [n[0].score for p, n in zip(pairs, nearest, strict=True) if p["label"] == label]
        out[label] = {
            "mean": round(statistics.mean(values), 3),
            "min": round(min(values), 3),
            "max": round(max(values), 3),
        }
    return out


def evaluate(
    pairs: list[dict[str, Any]], nearest: list[list[Neighbour]], own: Sequence[str]
) -> dict[str, Any]:
    decisions = decide_all(pairs, nearest, DedupThresholds())
    defaults = score(pairs, decisions, own)
    return {
        **defaults,
        "decisions": [  # per pair: line number, label, verdict, best cosine
            [i + 1, p["label"], action, round(max((n.score for n in near), default=0.0), 3)]
            for i, (p, (action, _), near) in enumerate(zip(pairs, decisions, nearest, strict=True))
        ],
        "sweep": sweep(pairs, nearest, own),
        "noop_sweep": noop_sweep(pairs, nearest, own),
    }


# -- output ------------------------------------------------------------------------------------


def print_mode(name: str, figures: dict[str, Any]) -> None:
    print(f"\n{name}: accuracy {figures['accuracy']:.3f} (default thresholds)")
    for pair, m in figures["per_action"].items():
        action, label = pair.split("~")
        precision = "—" if m["precision"] is None else f"{m['precision']:.3f}"
        print(
            f"  {action:<6} vs {label:<9} precision {precision:>5}  recall {m['recall']:.3f}"
            f"  ({m['predicted']} predicted)"
        )
    print(f"  {'label':<10} " + " ".join(f"{a:>7}" for a in ACTIONS))
    for label, row in figures["confusion"].items():
        print(f"  {label:<10} " + " ".join(f"{row[a]:>7}" for a in ACTIONS))
    print(
        f"  related/new dropped as noop: {figures['lost']}; new merged: {figures['wrong_merges']};"
        f" duplicates added: {figures['duplicates_kept_apart']};"
        f" noop/update on another memory than a: {figures['off_target']}"
    )
    same = figures["same_memory"]
    print(
        f"  b lands on an existing memory (noop or update) vs add, gold duplicate+related:"
        f" precision {same['precision']:.3f}  recall {same['recall']:.3f}"
    )
    print("  update threshold sweep (noop 0.98): related -> update/add, new -> update/add,")
    print("  duplicate -> noop/update/add, update precision vs related")
    for row in figures["sweep"]:
        r, n, d = row["related"], row["new"], row["duplicate"]
        precision = row["update_precision"]
        print(
            f"    {row['update_threshold']:.2f}  related {r['update']:>2}/{r['add']:>2}"
            f"  new {n['update']:>2}/{n['add']:>2}"
            f"  duplicate {d['noop']:>2}/{d['update']:>2}/{d['add']:>2}"
            f"  precision {'—' if precision is None else f'{precision:.3f}'}"
            f"  accuracy {row['accuracy']:.3f}"
        )

    print("  noop threshold sweep (update 0.70): pairs turned into a noop, per label")
    for row in figures["noop_sweep"]:
        print(
            f"    {row['noop_threshold']:.2f}  duplicate {row['duplicate']:>2}"
            f"  related {row['related']:>2}  new {row['new']:>2}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.data.exists():
        print(f"no labelled pairs at {args.data}; nothing to evaluate", file=sys.stderr)
        return 0
    pairs = load(args.data)
    encoder = SentenceTransformerEncoder("all-MiniLM-L6-v2")
    alone = pairwise(pairs, encoder)
    in_store, own, timings = store_neighbours(pairs, encoder)
    results: dict[str, Any] = {
        "pairs": len(pairs),
        "per_label": dict(Counter(p["label"] for p in pairs)),
        "store_memories": len(set(own)),
        "thresholds": vars(DedupThresholds()),
        "cosine_a_b": cosines(pairs, alone),
        "pairwise": evaluate(pairs, alone, [f"a{i}" for i in range(len(pairs))]),
        "store": evaluate(pairs, in_store, own) | {"timings_s": timings},
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"{results['pairs']} pairs {results['per_label']}; store: {results['store_memories']}"
        " distinct a memories"
    )
    for label, c in results["cosine_a_b"].items():
        print(
            f"  cosine(a, b) {label:<9} mean {c['mean']:.3f}"
            f"  min {c['min']:.3f}  max {c['max']:.3f}"
        )
    print_mode("pairwise (a is the only memory)", results["pairwise"])
    print_mode("store (all a indexed, capture's decide_candidates)", results["store"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
