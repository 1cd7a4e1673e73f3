#!/usr/bin/env python3
"""Measure how well embedding cosine separates duplicates, to pick semantic-dedup thresholds.

The dedup policy compares a candidate memory with its nearest existing memory:

* cosine >= noop_threshold                     -> no-op (duplicate, the candidate is dropped)
* update_threshold <= cosine < noop_threshold  -> update (same subject, merged into the existing)
* cosine < update_threshold                    -> add (a new memory)

This script encodes sentence pairs from STS-B (dev + test, graded 0-5) and MRPC (test, binary
paraphrase labels) with the project's encoder, sweeps thresholds and reports precision, recall
and F1, then recommends both thresholds. A no-op silently drops a memory, so precision matters
most there: noop_threshold is the lowest threshold whose STS-B precision reaches the target.

Usage:
    .venv/bin/python scripts/eval_dedup.py [--data DIR] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared/data/dedup_eval"
MODEL = "all-MiniLM-L6-v2"

STS_FILES = ("stsbenchmark/sts-dev.csv", "stsbenchmark/sts-test.csv")
MRPC_FILES = ("mrpc/msr-para-test.tsv",)
STS_DUPLICATE = 4.0  # gold score >= 4.0: duplicate / paraphrase
STS_SAME_SUBJECT = 3.0  # gold score >= 3.0: same subject (update band)
STS_RELATED = 2.5  # gold score >= 2.5: related; below: different
PRECISION_TARGET = 0.95

DUP_GRID = tuple(round(0.50 + 0.02 * i, 2) for i in range(25))  # 0.50 .. 0.98
UPDATE_GRID = tuple(round(0.50 + 0.02 * i, 2) for i in range(21))  # 0.50 .. 0.90


@dataclass(frozen=True)
class Pair:
    text1: str
    text2: str
    score: float  # STS-B: 0-5 similarity; MRPC: 1.0 paraphrase, 0.0 not


@dataclass(frozen=True)
class Metrics:
    threshold: float
    predicted: int
    tp: int
    precision: float | None  # None when nothing is predicted positive
    recall: float
    f1: float


# --------------------------------------------------------------------------- data loading


def read_sts(path: Path) -> list[Pair]:
    """STS-B: tab-separated, no header; genre, file, year, id, score, s1, s2[, extras]."""
    pairs: list[Pair] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) < 7:
                continue
            try:
                score = float(row[4])
            except ValueError:
                continue
            text1, text2 = row[5].strip(), row[6].strip()
            if text1 and text2 and 0.0 <= score <= 5.0:
                pairs.append(Pair(text1, text2, score))
    return pairs


def read_mrpc(path: Path) -> list[Pair]:
    """MRPC: tab-separated with a header; Quality, #1 ID, #2 ID, #1 String, #2 String."""
    pairs: list[Pair] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:  # the files start with a BOM
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader, None)
        for row in reader:
            if len(row) < 5 or row[0].strip() not in ("0", "1"):
                continue
            text1, text2 = row[3].strip(), row[4].strip()
            if text1 and text2:
                pairs.append(Pair(text1, text2, float(row[0].strip())))
    return pairs


def load_dataset(data: Path, files: Sequence[str], reader: Any, name: str) -> list[Pair]:
    pairs: list[Pair] = []
    for rel in files:
        path = data / rel
        if not path.is_file():
            print(f"eval_dedup: {name}: {path} is missing, skipped", file=sys.stderr)
            continue
        pairs.extend(reader(path))
    return pairs


def sample_pairs(pairs: list[Pair], limit: int, seed: int = 0) -> list[Pair]:
    """A deterministic sample of at most `limit` pairs, kept in file order."""
    if limit <= 0 or len(pairs) <= limit:
        return pairs
    keep = sorted(random.Random(seed).sample(range(len(pairs)), limit))
    return [pairs[i] for i in keep]


# --------------------------------------------------------------------------- encoding


def load_encoder() -> Any:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from embeddings.encoder import SentenceTransformerEncoder

    return SentenceTransformerEncoder(MODEL)


def encode_unique(encoder: Any, texts: Iterable[str]) -> tuple[dict[str, np.ndarray], float]:
    """Encode each distinct text once; returns text -> unit vector and the encoding seconds."""
    unique = sorted(set(texts))
    start = time.perf_counter()
    vectors = np.asarray(encoder.encode(unique), dtype=np.float32)
    elapsed = time.perf_counter() - start
    return dict(zip(unique, vectors, strict=True)), elapsed


def cosines(pairs: Sequence[Pair], vectors: dict[str, np.ndarray]) -> np.ndarray:
    left = np.stack([vectors[p.text1] for p in pairs])
    right = np.stack([vectors[p.text2] for p in pairs])
    return np.einsum("ij,ij->i", left, right).astype(np.float64)  # unit vectors: dot = cosine


# --------------------------------------------------------------------------- metrics


def sweep(cos: np.ndarray, gold: np.ndarray, grid: Sequence[float]) -> list[Metrics]:
    """Precision / recall / F1 of predicting positive when cosine >= t, for each t in grid."""
    positives = int(gold.sum())
    rows: list[Metrics] = []
    for t in grid:
        pred = cos >= t - 1e-9  # tolerate float error at the grid points
        tp = int((pred & gold).sum())
        n_pred = int(pred.sum())
        precision = tp / n_pred if n_pred else None
        recall = tp / positives if positives else 0.0
        p = precision or 0.0
        f1 = 2 * p * recall / (p + recall) if p + recall else 0.0
        rows.append(Metrics(t, n_pred, tp, precision, recall, f1))
    return rows


def best_f1(rows: Sequence[Metrics]) -> Metrics:
    return max(rows, key=lambda m: (m.f1, -m.threshold))


def lowest_precise(rows: Sequence[Metrics], target: float = PRECISION_TARGET) -> Metrics | None:
    """The lowest threshold whose precision reaches the target (None if none does)."""
    return next((m for m in rows if m.precision is not None and m.precision >= target), None)


def at_threshold(rows: Sequence[Metrics], t: float) -> Metrics | None:
    return next((m for m in rows if abs(m.threshold - t) < 1e-9), None)


def band_table(cos: np.ndarray, scores: np.ndarray, update: float, noop: float) -> dict[str, Any]:
    """STS-B gold class (different / related / duplicate) vs the policy action it would get."""
    actions = np.where(cos >= noop - 1e-9, "noop", np.where(cos >= update - 1e-9, "update", "add"))
    classes = {
        f"different (<{STS_RELATED})": scores < STS_RELATED,
        f"related ({STS_RELATED}-{STS_DUPLICATE})": (scores >= STS_RELATED)
        & (scores < STS_DUPLICATE),
        f"duplicate (>={STS_DUPLICATE})": scores >= STS_DUPLICATE,
    }
    return {
        name: {a: int(((actions == a) & mask).sum()) for a in ("add", "update", "noop")}
        for name, mask in classes.items()
    }


# --------------------------------------------------------------------------- analysis


def metrics_dict(m: Metrics | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {
        "threshold": m.threshold,
        "predicted": m.predicted,
        "tp": m.tp,
        "precision": m.precision,
        "recall": m.recall,
        "f1": m.f1,
    }


def analyse_duplicates(
    name: str, pairs: Sequence[Pair], cos: np.ndarray, gold: np.ndarray, gold_desc: str
) -> dict[str, Any]:
    rows = sweep(cos, gold, DUP_GRID)
    return {
        "name": name,
        "pairs": len(pairs),
        "positives": int(gold.sum()),
        "gold": gold_desc,
        "cosine_mean_positive": float(cos[gold].mean()) if gold.any() else None,
        "cosine_mean_negative": float(cos[~gold].mean()) if (~gold).any() else None,
        "rows": rows,
        "best_f1": best_f1(rows),
        "lowest_precise": lowest_precise(rows),
    }


def recommend(
    sts: dict[str, Any] | None, update: dict[str, Any] | None, mrpc: dict[str, Any] | None
) -> dict[str, Any]:
    if sts is None or update is None:
        return {"available": False, "reason": "STS-B is needed for the recommendation"}
    noop_m: Metrics | None = sts["lowest_precise"]
    upd_m: Metrics = update["best_f1"]
    noop_t = round(noop_m.threshold, 2) if noop_m else None
    mrpc_m = at_threshold(mrpc["rows"], noop_t) if mrpc and noop_t is not None else None
    upd_t = round(upd_m.threshold, 2)
    notes: list[str] = []
    if noop_t is None:
        notes.append(f"no threshold reaches precision {PRECISION_TARGET} on STS-B")
    elif upd_t >= noop_t:
        notes.append("update_threshold >= noop_threshold: the update band is empty")
    return {
        "available": True,
        "noop_threshold": noop_t,
        "noop_sts": metrics_dict(noop_m),
        "noop_mrpc": metrics_dict(mrpc_m),
        "update_threshold": upd_t,
        "update_sts": metrics_dict(upd_m),
        "notes": notes,
    }


# --------------------------------------------------------------------------- text report


def fmt(value: float | None) -> str:
    return "    -" if value is None else f"{value:5.3f}"


def format_sweep(rows: Sequence[Metrics], marks: dict[float, str]) -> list[str]:
    lines = ["   t   predicted    tp   precision  recall     F1"]
    for m in rows:
        mark = marks.get(m.threshold, "")
        lines.append(
            f"  {m.threshold:.2f}  {m.predicted:8d}  {m.tp:5d}     {fmt(m.precision)}"
            f"   {fmt(m.recall)}  {fmt(m.f1)}  {mark}".rstrip()
        )
    return lines


def sweep_marks(best: Metrics, precise: Metrics | None) -> dict[float, str]:
    marks = {best.threshold: "<- best F1"}
    if precise is not None:
        label = f"<- lowest t with precision >= {PRECISION_TARGET}"
        marks[precise.threshold] = (marks.get(precise.threshold, "") + " " + label).strip()
    return marks


def format_dataset(res: dict[str, Any]) -> list[str]:
    lines = [
        f"== {res['name']}: {res['pairs']} pairs, {res['positives']} positive ({res['gold']})",
        f"   mean cosine: positive {fmt(res['cosine_mean_positive'])}, "
        f"negative {fmt(res['cosine_mean_negative'])}",
    ]
    lines += format_sweep(res["rows"], sweep_marks(res["best_f1"], res["lowest_precise"]))
    best, precise = res["best_f1"], res["lowest_precise"]
    lines.append(
        f"   best F1: t={best.threshold:.2f} (P={fmt(best.precision)}, "
        f"R={fmt(best.recall)}, F1={fmt(best.f1)})"
    )
    if precise is None:
        lines.append(f"   no threshold reaches precision {PRECISION_TARGET}")
    else:
        lines.append(
            f"   lowest t with precision >= {PRECISION_TARGET}: t={precise.threshold:.2f}"
            f" (P={fmt(precise.precision)}, R={fmt(precise.recall)})"
        )
    return [*lines, ""]


def format_metrics(m: dict[str, Any] | None) -> str:
    if m is None:
        return "n/a"
    return (
        f"precision {fmt(m['precision'])}, recall {fmt(m['recall'])}, F1 {fmt(m['f1'])} "
        f"({m['tp']}/{m['predicted']} predicted correct)"
    )


def format_recommendation(rec: dict[str, Any], bands: dict[str, Any] | None) -> list[str]:
    lines = ["== Recommendation"]
    if not rec["available"]:
        return [*lines, f"   unavailable: {rec['reason']}", ""]
    noop, upd = rec["noop_threshold"], rec["update_threshold"]
    lines.append(
        f"   noop_threshold   = {noop if noop is None else f'{noop:.2f}'}"
        f"  (lowest t with STS-B precision >= {PRECISION_TARGET})"
    )
    lines.append(f"     STS-B (gold >= {STS_DUPLICATE}): {format_metrics(rec['noop_sts'])}")
    lines.append(f"     MRPC  (quality 1): {format_metrics(rec['noop_mrpc'])}")
    lines.append(
        f"   update_threshold = {upd:.2f}  (best F1 for same subject, "
        f"STS-B gold >= {STS_SAME_SUBJECT})"
    )
    lines.append(f"     STS-B: {format_metrics(rec['update_sts'])}")
    lines += [f"   note: {note}" for note in rec["notes"]]
    if bands:
        lines.append("   STS-B gold class vs the action these thresholds give (pairs):")
        lines.append(f"     {'gold class':<22}{'add':>7}{'update':>8}{'noop':>7}")
        for name, counts in bands.items():
            lines.append(
                f"     {name:<22}{counts['add']:>7}{counts['update']:>8}{counts['noop']:>7}"
            )
    return [*lines, ""]


# --------------------------------------------------------------------------- JSON report


def dataset_json(res: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in res.items() if k not in ("rows", "best_f1", "lowest_precise")}
    out["sweep"] = [metrics_dict(m) for m in res["rows"]]
    out["best_f1"] = metrics_dict(res["best_f1"])
    out["lowest_precise"] = metrics_dict(res["lowest_precise"])
    return out


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help=f"dataset folder (default: {DEFAULT_DATA})"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--sts-pairs",
        type=int,
        default=2000,
        help="sample at most this many STS-B pairs, 0 = all (default 2000)",
    )
    parser.add_argument(
        "--mrpc-pairs",
        type=int,
        default=1100,
        help="sample at most this many MRPC pairs, 0 = all (default 1100)",
    )
    return parser.parse_args(argv)


def load_all(args: argparse.Namespace) -> tuple[list[Pair], list[Pair]]:
    sts = sample_pairs(load_dataset(args.data, STS_FILES, read_sts, "STS-B"), args.sts_pairs)
    mrpc = sample_pairs(load_dataset(args.data, MRPC_FILES, read_mrpc, "MRPC"), args.mrpc_pairs)
    return sts, mrpc


def encode_all(sts: list[Pair], mrpc: list[Pair]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    texts = [t for p in (*sts, *mrpc) for t in (p.text1, p.text2)]
    start = time.perf_counter()
    encoder = load_encoder()
    load_s = time.perf_counter() - start
    vectors, encode_s = encode_unique(encoder, texts)
    timing = {
        "model": MODEL,
        "load_s": load_s,
        "sentences": len(vectors),
        "encode_s": encode_s,
        "sentences_per_s": len(vectors) / encode_s if encode_s else None,
    }
    print(
        f"eval_dedup: model load {load_s:.1f} s; encoded {len(vectors)} unique sentences in "
        f"{encode_s:.1f} s ({timing['sentences_per_s']:.1f} sentences/s)",
        file=sys.stderr,
    )
    return vectors, timing


def evaluate(sts: list[Pair], mrpc: list[Pair], vectors: dict[str, np.ndarray]) -> dict[str, Any]:
    report: dict[str, Any] = {"sts": None, "update": None, "mrpc": None, "bands": None}
    if sts:
        cos = cosines(sts, vectors)
        scores = np.array([p.score for p in sts])
        report["sts"] = analyse_duplicates(
            "STS-B dev+test, duplicate",
            sts,
            cos,
            scores >= STS_DUPLICATE,
            f"score >= {STS_DUPLICATE}",
        )
        rows = sweep(cos, scores >= STS_SAME_SUBJECT, UPDATE_GRID)
        report["update"] = {
            "name": "STS-B dev+test, same subject (update band)",
            "gold": f"score >= {STS_SAME_SUBJECT}",
            "rows": rows,
            "best_f1": best_f1(rows),
        }
    if mrpc:
        cos_m = cosines(mrpc, vectors)
        gold = np.array([p.score >= 1.0 for p in mrpc])
        report["mrpc"] = analyse_duplicates("MRPC test, paraphrase", mrpc, cos_m, gold, "quality 1")
    report["recommendation"] = recommend(report["sts"], report["update"], report["mrpc"])
    rec = report["recommendation"]
    if sts and rec["available"] and rec["noop_threshold"] is not None:
        report["bands"] = band_table(cos, scores, rec["update_threshold"], rec["noop_threshold"])
    return report


def print_text(report: dict[str, Any], timing: dict[str, Any]) -> None:
    lines = [
        f"Semantic-dedup threshold evaluation, model {timing['model']} "
        f"({timing['sentences']} unique sentences encoded)",
        "",
    ]
    for key in ("sts", "mrpc"):
        if report[key] is not None:
            lines += format_dataset(report[key])
    upd = report["update"]
    if upd is not None:
        best = upd["best_f1"]
        lines.append(f"== {upd['name']}: predict same subject ({upd['gold']}) when cosine >= t")
        lines += format_sweep(upd["rows"], {best.threshold: "<- best F1"})
        lines += [
            f"   best F1: t={best.threshold:.2f} (P={fmt(best.precision)}, "
            f"R={fmt(best.recall)}, F1={fmt(best.f1)})",
            "",
        ]
    lines += format_recommendation(report["recommendation"], report["bands"])
    print("\n".join(lines))


def print_json(report: dict[str, Any], timing: dict[str, Any]) -> None:
    doc: dict[str, Any] = {"model": timing["model"], "timing": timing}
    for key in ("sts", "mrpc"):
        doc[key] = dataset_json(report[key]) if report[key] is not None else None
    upd = report["update"]
    doc["update"] = (
        None
        if upd is None
        else {
            "name": upd["name"],
            "gold": upd["gold"],
            "sweep": [metrics_dict(m) for m in upd["rows"]],
            "best_f1": metrics_dict(upd["best_f1"]),
        }
    )
    doc["recommendation"] = report["recommendation"]
    doc["sts_action_by_gold_class"] = report["bands"]
    print(json.dumps(doc, indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.data.is_dir():
        print(
            f"eval_dedup: data folder {args.data} not found; nothing to evaluate (pass --data DIR)",
            file=sys.stderr,
        )
        return 0
    sts, mrpc = load_all(args)
    if not sts and not mrpc:
        print(
            f"eval_dedup: no STS-B or MRPC pairs found under {args.data}; nothing to evaluate",
            file=sys.stderr,
        )
        return 0
    vectors, timing = encode_all(sts, mrpc)
    report = evaluate(sts, mrpc, vectors)
    if args.json:
        print_json(report, timing)
    else:
        print_text(report, timing)
    return 0


if __name__ == "__main__":
    sys.exit(main())
