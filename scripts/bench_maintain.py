#!/usr/bin/env python3
"""Benchmark `memsync maintain`: merge quality on a seeded store, and time at 10,000 memories.

1. Quality (needs the shared transcripts, ../shared/data): a fresh store captured from the
   transcripts in-process (as scripts/bench_capture.py does), plus the 120 labelled pairs of
   scripts/data/capture_dedup_pairs.jsonl planted as 240 memories (a and b of each pair, the
   pair's kinds, recent dates), indexed with the real model. Dry runs at several duplicate
   thresholds (the duplicate judge's merge score), then a real run at the default: precision
   and recall of merging against the pairs (a duplicate pair merged: true positive; a related
   or new pair merged: false positive; "merge precision" counts a related pair, the same
   subject that capture would merge too, as right), merges among the captured memories apart.
   Then "nothing lost": every moved file is under memory/archived/ with its pointers, one
   memory is restored by id, and the run is undone (the live memories must be exactly those
   before it).
2. Time at --n memories (default 10,000): texts from the bench_index corpus, one memory per
   sentence with the sentence as its title and no tags or body, so that its embedding text
   is the sentence and its vector is the cached real MiniLM one (scripts/bench_index
   embed_cached, bench-out/); kinds decision/learning/insight in turn; n/80 exact copies and
   n/80 near copies (a word added or dropped; these few texts are embedded once by the real
   model and cached too); every 25th memory is old with a low confidence, so decay has work.
   Indexed by run_sync with an encoder that serves the cached vectors and sends any other
   text to the real model (the sentences with trailing blanks, whose embedding text is
   stripped: under 1 %; and any text a merge rewrites). Timed: maintain --dry-run (and its
   split: loading the candidates, planning) and a real maintain run; the re-index of the real
   run also takes its vectors from the cache, and the model's time on those texts is
   measured apart and reported next to it.

    .venv/bin/python scripts/bench_maintain.py [--n 10000] [--json] [--skip-quality]
                                                [--skip-scale]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_index import corpus, embed_cached  # noqa: E402
from parse_transcripts import DEFAULT_DATA, roots_for  # noqa: E402

from sync.capture.sources.base import AGENTS  # noqa: E402
from sync.care.maintain import (  # noqa: E402
    MaintainPolicy,
    candidate_pairs,
    judge_pairs,
    plan_maintenance,
)
from sync.care.maintain_run import _candidates, restore, run_maintain, undo  # noqa: E402
from sync.dedup import DedupThresholds, JudgeVectors  # noqa: E402
from sync.hashing import text_fingerprint  # noqa: E402
from sync.index.engine import SyncDeps, SyncOptions, run_sync  # noqa: E402
from sync.models import ARCHIVE_FOLDER, EncoderIdentity, Memory, kind_folder  # noqa: E402
from sync.store import StoreLayout, init_store, write_memory  # noqa: E402
from sync.store.markdown import parse_memory  # noqa: E402

PAIRS = REPO / "scripts" / "data" / "capture_dedup_pairs.jsonl"
THRESHOLDS = (0.70, 0.74, 0.78, 0.82, 0.86)
SCALE_KINDS = ("decision", "learning", "insight")
LABELS = ("duplicate", "related", "new")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class CachedEncoder:
    """Serves known texts from the cached real-model vectors; the real model does the rest."""

    def __init__(self, table: dict[str, np.ndarray], model: Any) -> None:
        self.table, self.model = table, model
        self.served = self.encoded = 0
        self.requested: list[str] = []

    @property
    def identity(self) -> EncoderIdentity:
        identity: EncoderIdentity = self.model.identity
        return identity

    def encode(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        self.requested.extend(texts)
        missing = [t for t in texts if t not in self.table]
        if missing:
            for text, vector in zip(missing, self.model.encode(missing), strict=True):
                self.table[text] = np.asarray(vector, dtype=np.float32)
        self.encoded += len(missing)
        self.served += len(texts) - len(missing)
        return np.stack([self.table[t] for t in texts])


def store_deps(work: Path, encoder: Any) -> tuple[StoreLayout, SyncDeps]:
    """The store under ``work`` with the deps `memsync` builds from its config."""
    from service.settings import load_settings, locate_store
    from service.wiring import sync_deps

    env = {"HOME": str(work)}
    layout = locate_store(work, env)
    deps = sync_deps(load_settings(layout, env), layout)
    deps.encoder_factory = lambda: encoder
    return layout, deps


def memories(layout: StoreLayout, *, archived: bool) -> dict[str, tuple[str, Memory]]:
    """id -> (path, memory) of the live (or the archived) memory files."""
    out = {}
    for path in sorted(layout.memory_dir.rglob("*.md")):
        rel = path.relative_to(layout.memory_dir).as_posix()
        if rel.startswith(f"{ARCHIVE_FOLDER}/") == archived:
            memory = parse_memory(path.read_text(encoding="utf-8"), rel)
            out[memory.id] = (rel, memory)
    return out


def groups_of(merges: list[dict[str, Any]]) -> list[list[str]]:
    return [[m["keep"], *(x["path"] for x in m["merged"])] for m in merges]


# -- 1. quality ---------------------------------------------------------------------------------


def plant_pairs(layout: StoreLayout, now: dt.datetime) -> list[dict[str, Any]]:
    """The pairs' memories as files, created two days ago: every distinct ``a`` once (the
    set reuses one ``a`` in up to three pairs), every ``b`` on its own."""
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line]
    when = stamp(now - dt.timedelta(days=2))
    seen: dict[tuple[str, str], str] = {}
    for k, pair in enumerate(pairs):
        pair["paths"] = []
        for side in ("a", "b"):
            src = pair[side]
            key = (src["kind"], text_fingerprint(src["title"], src["body"]))
            mid = f"pair-{k:03d}-{side}"
            memory = Memory(mid, src["kind"], src["title"], src["body"], created=when, updated=when)
            src["text"] = memory.embedding_text()
            if side == "a" and key in seen:
                pair["paths"].append(seen[key])
                continue
            rel = f"{kind_folder(src['kind'])}/bench-{mid}.md"
            write_memory(layout.memory_dir, rel, memory)
            pair["paths"].append(rel)
            if side == "a":
                seen[key] = rel
    return pairs


def duplicate_sets(pairs: list[dict[str, Any]]) -> dict[str, str]:
    """Planted path -> a representative of the memories linked to it by duplicate labels."""
    parent = {p: p for pair in pairs for p in pair["paths"]}

    def find(p: str) -> str:
        while parent[p] != p:
            p = parent[p]
        return p

    for pair in pairs:
        if pair["label"] == "duplicate":
            a, b = (find(p) for p in pair["paths"])
            parent[max(a, b)] = min(a, b)
    return {p: find(p) for p in parent}


def score(merges: list[dict[str, Any]], pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Merged pairs against their labels, plus merges beyond the planted pairs."""
    groups = groups_of(merges)
    group_of = {p: g for g, members in enumerate(groups) for p in members}
    dup_set = duplicate_sets(pairs)
    together = {label: 0 for label in LABELS}
    false_pos, missed = [], []
    for pair in pairs:
        a, b = pair["paths"]
        joined = a in group_of and group_of.get(a) == group_of.get(b)
        together[pair["label"]] += joined
        if joined and pair["label"] != "duplicate":
            false_pos.append(pair)
        elif not joined and pair["label"] == "duplicate":
            missed.append(pair)
    tp, fp = together["duplicate"], len(false_pos)
    dups = sum(p["label"] == "duplicate" for p in pairs)
    planted_in = [{dup_set[p] for p in g if p in dup_set} for g in groups]
    captured = [g for g, sets in zip(groups, planted_in, strict=True) if not sets]
    return {
        "merge_groups": len(groups),
        "merged": sum(len(g) - 1 for g in groups),
        "pairs_merged": together,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "merge_precision": round((tp + together["related"]) / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / dups, 3) if dups else None,
        "over_merged_groups": sum(len(sets) > 1 for sets in planted_in),
        "groups_planted_with_captured": sum(
            bool(sets) and any(p not in dup_set for p in g)
            for g, sets in zip(groups, planted_in, strict=True)
        ),
        "captured_groups": len(captured),
        "captured_merged": sum(len(g) - 1 for g in captured),
        "false_positives": [
            f"{p['label']} cos {p.get('cosine', 0):.3f}: {p['b']['title'][:60]}" for p in false_pos
        ],
        "missed": [
            f"cos {p.get('cosine', 0):.3f}: {p['note'][:60]} ({p['a']['title'][:40]})"
            for p in missed
        ],
    }


def pair_cosines(pairs: list[dict[str, Any]], model: Any) -> dict[str, dict[str, float]]:
    """The real model's cosine of each pair (recorded on the pair), summarised per label."""
    vectors = np.asarray(model.encode([p[s]["text"] for p in pairs for s in "ab"]))
    by_label: dict[str, list[float]] = {label: [] for label in LABELS}
    for k, pair in enumerate(pairs):
        pair["cosine"] = float(vectors[2 * k] @ vectors[2 * k + 1])
        by_label[pair["label"]].append(pair["cosine"])
    return {
        label: {
            "min": round(min(v), 3),
            "median": round(statistics.median(v), 3),
            "max": round(max(v), 3),
        }
        for label, v in by_label.items()
    }


def nothing_lost(
    layout: StoreLayout, deps: SyncDeps, report: dict[str, Any], before: dict[str, Any]
) -> dict[str, Any]:
    """Every moved file archived with its pointers; restore by id; undo gives back the store."""
    archived = {rel: m for rel, m in memories(layout, archived=True).values()}
    live = memories(layout, archived=False)
    bad: list[str] = []
    movable: list[tuple[str, str]] = []  # (id, original path) of merged-from memories
    moved = 0
    for action in report["actions"]:
        moves = action["moved"] if action["op"] == "merge" else [action]
        keep_id = None
        if action["op"] == "merge":
            keep = layout.memory_dir / action["keep"]
            keep_id = parse_memory(keep.read_text(encoding="utf-8"), action["keep"]).id
            if action["previous"] not in archived:
                bad.append(f"previous version {action['previous']} missing")
        for move in moves:
            moved += 1
            m = archived.get(move["to"])
            if (
                m is None
                or m.extra.get("archived_from") != move["from"]
                or m.superseded_by != keep_id
                or (layout.memory_dir / move["from"]).exists()
            ):
                bad.append(f"{move['from']} -> {move['to']}")
            elif keep_id is not None:
                movable.append((m.id, move["from"]))
    unaccounted = set(before) - set(live) - {m.id for m in archived.values()}
    out: dict[str, Any] = {"moved": moved, "bad": bad, "ids_unaccounted": sorted(unaccounted)}
    planted = [c for c in movable if c[0].startswith("pair-")]
    if movable:
        restore_id, restore_from = (planted or movable)[0]
        back = restore(layout, deps, restore_id)
        live_ids = memories(layout, archived=False)
        out["restored"] = {
            "id": restore_id,
            "to": back["to"],
            "ok": back["to"] == restore_from and live_ids.get(restore_id, ("",))[0] == back["to"],
        }
    undone = undo(layout, deps, report["run_id"])
    after = memories(layout, archived=False)
    out["undo"] = {
        "changes": len(undone["changes"]),
        "live_before": len(before),
        "live_after": len(after),
        "ids_equal": set(after) == set(before),
        "contents_differ": sorted(
            i
            for i in set(after) & set(before)
            if (after[i][1].title, after[i][1].body, after[i][1].kind) != before[i]
        ),
    }
    out["ok"] = (
        not bad
        and not unaccounted
        and out.get("restored", {}).get("ok", True)
        and out["undo"]["ids_equal"]
        and not out["undo"]["contents_differ"]
    )
    return out


def quality(data: Path, model: Any) -> dict[str, Any]:
    """Capture the transcripts, plant the labelled pairs, sweep thresholds, run, check, undo."""
    from bench_capture import capture_runner, make_store

    work = Path(tempfile.mkdtemp(prefix="memsync-maintain-q-"))
    try:
        make_store(data, work)
        t0 = time.perf_counter()
        captured = capture_runner(work, model)()
        capture_s = time.perf_counter() - t0
        layout, deps = store_deps(work, model)
        n_captured = len(memories(layout, archived=False))
        log(f"quality: captured {n_captured} memories in {capture_s:.1f} s; planting pairs")
        pairs = plant_pairs(layout, deps.clock())
        indexed = run_sync(layout, SyncOptions(write_reports=False), deps)["counts"]
        cosines = pair_cosines(pairs, model)
        sweep = {}
        for t in THRESHOLDS:
            dry = run_maintain(layout, deps, MaintainPolicy(duplicate_threshold=t), dry_run=True)
            sweep[str(t)] = score(dry["merges"], pairs)
        live = memories(layout, archived=False)
        before = {i: (m.title, m.body, m.kind) for i, (_, m) in live.items()}
        real = run_maintain(layout, deps, MaintainPolicy())
        planted = {p for pair in pairs for p in pair["paths"]}
        examples = [
            {
                "keep": m["title"],
                "merged": [(x["title"], x["score"]) for x in m["merged"]],
            }
            for m in real["merges"]
            if not ({m["keep"], *(x["path"] for x in m["merged"])} & planted)
        ][:3]
        return {
            "present": True,
            "capture_s": round(capture_s, 2),
            "captured_memories": n_captured,
            "capture_counts": captured["capture"]["counts"],
            "planted": len({p for pair in pairs for p in pair["paths"]}),
            "index": {k: indexed[k] for k in ("added", "failed")},
            "pair_cosine": cosines,
            "sweep": sweep,
            "run": {
                "counts": real["counts"],
                "seconds": real["timings_s"]["total"],
                **score(real["merges"], pairs),
            },
            "captured_examples": examples,
            "nothing_lost": nothing_lost(layout, deps, real, before),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- 2. scale -----------------------------------------------------------------------------------

EDITS = (
    lambda t: f"Note: {t}",
    lambda t: f"{t} (confirmed)",
    lambda t: t.replace(" the ", " this ", 1) if " the " in t else f"{t} too",
    lambda t: " ".join(t.split()[:-1]) if len(t.split()) > 5 else f"{t} again",
    lambda t: " ".join([t.split()[0], "really", *t.split()[1:]]),
)


def scale_memories(
    n: int, data: Path, cache: Path, now: dt.datetime
) -> tuple[list[tuple[str, Memory]], dict[str, np.ndarray], list[tuple[str, str, str]], str]:
    """(path, memory) for n memories, their cached vectors by text, the planted duplicates."""
    n_dup = max(n // 80, 1)
    base_n = n - 2 * n_dup
    texts, _, source = corpus(max(n, 10_000), 300, data)  # smaller n: a prefix of the cache
    vectors = embed_cached(texts, cache)
    table = {t: vectors[i] for i, t in enumerate(texts[:base_n])}
    rng = random.Random(11)
    originals = rng.sample(range(base_n), 2 * n_dup)
    near = [EDITS[j % len(EDITS)](texts[i]) for j, i in enumerate(originals[n_dup:])]
    table.update(zip(near, embed_cached(near, cache), strict=True))
    recent, old = stamp(now - dt.timedelta(days=3)), stamp(now - dt.timedelta(days=400))
    out: list[tuple[str, Memory]] = []
    for i in range(base_n):
        kind = SCALE_KINDS[i % 3]
        aged = i % 25 == 24
        m = Memory(
            f"s{i:05d}",
            kind,
            texts[i],
            "",
            confidence=0.3 if aged else 0.7,
            created=old if aged else recent,
            updated=old if aged else recent,
        )
        out.append((f"{kind_folder(kind)}/s{i:05d}.md", m))
    planted: list[tuple[str, str, str]] = []
    for j, i in enumerate(originals):
        text, how = (texts[i], "exact") if j < n_dup else (near[j - n_dup], "near")
        orig_rel, orig = out[i]
        m = Memory(f"d{j:05d}", orig.kind, text, "", created=recent, updated=recent)
        rel = f"{kind_folder(orig.kind)}/d{j:05d}.md"
        out.append((rel, m))
        planted.append((orig_rel, rel, how))
    return out, table, planted, source


def scale(n: int, data: Path, cache: Path, model: Any) -> dict[str, Any]:
    """Index n memories from cached vectors, then time maintain --dry-run and a real run."""
    work = Path(tempfile.mkdtemp(prefix="memsync-maintain-s-"))
    try:
        now = dt.datetime.now(dt.UTC)
        items, table, planted, source = scale_memories(n, data, cache, now)
        init_store(work / ".memsync")
        encoder = CachedEncoder(table, model)
        layout, deps = store_deps(work, encoder)
        t0 = time.perf_counter()
        for rel, memory in items:
            write_memory(layout.memory_dir, rel, memory)
        write_s = time.perf_counter() - t0
        log(f"scale: wrote {len(items)} files in {write_s:.1f} s; indexing from cached vectors")
        t0 = time.perf_counter()
        synced = run_sync(layout, SyncOptions(write_reports=False), deps)
        sync_s = time.perf_counter() - t0
        index = {"seconds": round(sync_s, 2), "added": synced["counts"]["added"]}
        index |= {"served_from_cache": encoder.served, "embedded_by_model": encoder.encoded}
        encoder.served = encoder.encoded = 0
        encoder.requested.clear()
        t0 = time.perf_counter()
        dry = run_maintain(layout, deps, MaintainPolicy(), dry_run=True)
        dry_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        candidates = _candidates(layout, deps)
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pairs = candidate_pairs(candidates, MaintainPolicy())
        pairs_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        vectors = JudgeVectors(encoder)
        vectors.add([candidates[i].memory for pair in pairs for i in pair])
        judged = judge_pairs(candidates, pairs, vectors.similarity, DedupThresholds())
        judge_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        duplicates = {k: j.score for k, j in judged.items() if j.merges}
        plan_maintenance(candidates, MaintainPolicy(), deps.clock(), duplicates)
        plan_s = time.perf_counter() - t0
        log(f"scale: dry run {dry_s:.1f} s; real run")
        t0 = time.perf_counter()
        real = run_maintain(layout, deps, MaintainPolicy())
        real_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        model.encode(encoder.requested)
        model_s = time.perf_counter() - t0  # what the re-index would cost without the cache
        groups = groups_of(real["merges"])
        group_of = {p: g for g, members in enumerate(groups) for p in members}
        found = {"exact": 0, "near": 0}
        for orig, dup, how in planted:
            found[how] += orig in group_of and group_of[orig] == group_of.get(dup)
        in_planted = {p for orig, dup, _ in planted for p in (orig, dup)}
        natural = [
            m for m, g in zip(real["merges"], groups, strict=True) if not in_planted.intersection(g)
        ]
        live = memories(layout, archived=False)
        return {
            "n": len(items),
            "corpus": source,
            "planted": {"exact": len(planted) // 2, "near": len(planted) - len(planted) // 2},
            "planted_merged": found,
            "other_merge_groups": len(natural),
            "other_examples": [
                {"keep": m["title"], "merged": [(x["title"], x["score"]) for x in m["merged"]]}
                for m in natural[:3]
            ],
            "write_files_s": round(write_s, 2),
            "index": index,
            "dry_run": {
                "seconds": round(dry_s, 2),
                "load_candidates_s": round(load_s, 2),
                "candidate_pairs_s": round(pairs_s, 2),
                "judge_s": round(judge_s, 2),
                "judged_pairs": len(pairs),
                "plan_s": round(plan_s, 3),
                "counts": dry["counts"],
            },
            "real_run": {
                "seconds": round(real_s, 2),
                "counts": real["counts"],
                "reindex": real["index"],
                "served_from_cache": encoder.served,
                "embedded_by_model": encoder.encoded,
                "model_s_for_served_texts": round(model_s, 2),
                "live_after": len(live),
            },
            "same_plan": all(
                dry["counts"][k] == real["counts"][k]
                for k in ("merge_groups", "merged", "archived")
            ),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- output -------------------------------------------------------------------------------------


def print_quality(q: dict[str, Any]) -> None:
    print(
        f"1. quality: {q['captured_memories']} captured memories ({q['capture_s']} s) + "
        f"{q['planted']} planted (120 pairs: 40 duplicate, 40 related, 40 new; distinct a's once)"
    )
    print(
        "   pair cosine (real model): "
        + "; ".join(f"{k} {v['min']}/{v['median']}/{v['max']}" for k, v in q["pair_cosine"].items())
        + "  (min/median/max)"
    )
    print(
        f"   {'threshold':>9} {'dup':>4} {'rel':>4} {'new':>4} {'prec':>6} {'merge':>6}"
        f" {'recall':>6} {'over':>6} {'w/capt':>6} {'capt groups/merged':>19}"
    )
    default = MaintainPolicy().duplicate_threshold
    rows = [(t, s) for t, s in q["sweep"].items()] + [(f"run {default}", q["run"])]
    for t, s in rows:
        m = s["pairs_merged"]
        print(
            f"   {t:>9} {m['duplicate']:>4} {m['related']:>4} {m['new']:>4}"
            f" {s['precision']!s:>6} {s['merge_precision']!s:>6} {s['recall']!s:>6}"
            f" {s['over_merged_groups']:>6}"
            f" {s['groups_planted_with_captured']:>6}"
            f" {s['captured_groups']:>11}/{s['captured_merged']}"
        )
    run = q["run"]
    print(f"   real run {run['seconds']} s: {run['counts']}")
    for line in run["false_positives"][:3]:
        print(f"   false positive  {line}")
    for line in run["missed"][:5]:
        print(f"   missed          {line}")
    for ex in q["captured_examples"]:
        merged = "; ".join(f"{t[:50]!r} ({s})" for t, s in ex["merged"])
        print(f"   captured merge  {ex['keep'][:50]!r} <- {merged}")
    lost = q["nothing_lost"]
    print(
        f"   nothing lost: {lost['moved']} moved files archived with pointers"
        f" ({len(lost['bad'])} bad, {len(lost['ids_unaccounted'])} ids unaccounted);"
        f" restore {lost.get('restored')}"
    )
    u = lost["undo"]
    print(
        f"   undo: {u['changes']} changes; live {u['live_before']} -> {u['live_after']},"
        f" ids equal {u['ids_equal']}, contents differ {len(u['contents_differ'])}"
        f"  => {'OK' if lost['ok'] else 'FAILED'}"
    )


def print_scale(s: dict[str, Any]) -> None:
    idx, dry, real = s["index"], s["dry_run"], s["real_run"]
    print(f"2. scale: {s['n']} memories ({s['corpus']}); planted {s['planted']}")
    print(
        f"   write files {s['write_files_s']} s; index {idx['seconds']} s"
        f" ({idx['added']} added, {idx['served_from_cache']} cached vectors,"
        f" {idx['embedded_by_model']} embedded by the model)"
    )
    print(
        f"   maintain --dry-run {dry['seconds']} s (load candidates {dry['load_candidates_s']} s,"
        f" candidate pairs {dry['candidate_pairs_s']} s, judge {dry['judged_pairs']} pairs"
        f" {dry['judge_s']} s, plan {dry['plan_s']} s): {dry['counts']}"
    )
    print(
        f"   maintain (real)    {real['seconds']} s: {real['counts']}; re-index {real['reindex']}"
        f"; live after {real['live_after']}"
    )
    print(
        f"   its re-index took {real['served_from_cache']} vectors from the cache and"
        f" {real['embedded_by_model']} from the model; the model on those"
        f" {real['served_from_cache']} texts: {real['model_s_for_served_texts']} s"
    )
    print(
        f"   planted duplicates merged: {s['planted_merged']}; other merge groups"
        f" {s['other_merge_groups']}; same plan as dry run: {s['same_plan']}"
    )
    for ex in s["other_examples"]:
        merged = "; ".join(f"{t[:45]!r} ({sc})" for t, sc in ex["merged"])
        print(f"   other merge  {ex['keep'][:45]!r} <- {merged}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=10_000, help="memories for the timing part")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    ap.add_argument("--cache", type=Path, default=REPO / "bench-out", help="embedding cache")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-scale", action="store_true")
    args = ap.parse_args()
    data: Path = args.data.resolve()
    from embeddings.encoder import SentenceTransformerEncoder

    t0 = time.perf_counter()
    model = SentenceTransformerEncoder("all-MiniLM-L6-v2")
    model.encode(["warm-up"])
    doc: dict[str, Any] = {"model_load_s": round(time.perf_counter() - t0, 2)}
    if not args.skip_quality:
        if data.is_dir() and any(roots_for(data, a) for a in AGENTS):
            doc["quality"] = quality(data, model)
        else:
            log(f"no transcripts under {data}; quality part skipped")
            doc["quality"] = {"present": False, "data": str(data)}
    if not args.skip_scale:
        doc["scale"] = scale(args.n, data, args.cache.resolve(), model)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"model load {doc['model_load_s']} s")
    if doc.get("quality", {}).get("present"):
        print_quality(doc["quality"])
    if "scale" in doc:
        print_scale(doc["scale"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
