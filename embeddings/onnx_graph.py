"""The ONNX graph of a sentence-transformers folder: what the folder says about it (inputs,
pooling, truncation), and the verified graphs cached on disk, one folder per model version.

A cache entry is ``<root>/<name>-<key>/`` holding ``model.onnx`` and ``manifest.json``; the key
hashes the export recipe and the model files' sizes and times, so a changed model gets a new
graph. The manifest carries the graph's size and xxh3 digest: a damaged file is caught before
it is used. An entry that could not be built holds ``failed.json`` instead, so that `auto`
does not pay a failed export on every start.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

from sync.errors import MemsyncError
from sync.fsutil import atomic_write_bytes

RECIPE = 1  # bump when the export or the encoding recipe changes: old graphs are not reused
GRAPH, MANIFEST, FAILED = "model.onnx", "manifest.json", "failed.json"
_POOLINGS = ("mean", "cls", "max")
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


class GraphUnavailable(MemsyncError):
    """No usable ONNX graph for this model; ``str(exc)`` says why (for the stderr note)."""


class DamagedGraph(GraphUnavailable):
    """The cached graph exists but is not the one that was verified: rebuild it."""


@dataclass(frozen=True)
class ModelSpec:
    """How sentence-transformers encodes with this folder, as its files describe it."""

    path: Path  # the sentence-transformers folder
    transformer_dir: Path  # the Hugging Face model inside it (usually the same folder)
    max_seq_length: int
    do_lower_case: bool
    pooling: str  # mean | cls | max
    dim: int


def read_spec(path: Path) -> ModelSpec:
    """The encoding recipe of a sentence-transformers folder: Transformer, Pooling and an
    optional Normalize. Anything else (a Dense layer, a custom module) is left to torch."""
    modules = _json(path / "modules.json", "modules.json")
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise GraphUnavailable(f"{path / 'modules.json'}: not a list of modules")
    kinds = {str(m.get("type", "")).rsplit(".", 1)[-1]: m for m in modules}
    extra = sorted(set(kinds) - {"Transformer", "Pooling", "Normalize"})
    if extra or "Transformer" not in kinds or "Pooling" not in kinds or len(kinds) != len(modules):
        raise GraphUnavailable(
            f"{path}: modules {', '.join(sorted(kinds))} (ONNX export covers Transformer, "
            "Pooling and Normalize only)"
        )
    transformer_dir = path / str(kinds["Transformer"].get("path", ""))
    if not (transformer_dir / "tokenizer.json").is_file():
        raise GraphUnavailable(f"{transformer_dir}: no tokenizer.json (a fast tokenizer)")
    st_config = _json(transformer_dir / "sentence_bert_config.json", None) or {}
    config = _json(transformer_dir / "config.json", "config.json")
    pooling = _pooling(_json(path / str(kinds["Pooling"].get("path", "")) / "config.json", None))
    max_len = st_config.get("max_seq_length") or config.get("max_position_embeddings")
    dim = config.get("hidden_size")
    if not isinstance(max_len, int) or not isinstance(dim, int):
        raise GraphUnavailable(f"{transformer_dir}: no max_seq_length or hidden_size")
    return ModelSpec(
        path=path,
        transformer_dir=transformer_dir,
        max_seq_length=max_len,
        do_lower_case=bool(st_config.get("do_lower_case", False)),
        pooling=pooling,
        dim=dim,
    )


_OLD_FLAGS = {  # sentence-transformers < 6 writes one boolean per mode
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
}


def _pooling(config: Any) -> str:
    if not isinstance(config, dict):
        raise GraphUnavailable("the Pooling module has no config.json")
    mode = config.get("pooling_mode")
    if mode is None:
        on = [k for k, v in config.items() if k.startswith("pooling_mode_") and v is True]
        mode = _OLD_FLAGS.get(on[0]) if len(on) == 1 else None
    if mode not in _POOLINGS:
        raise GraphUnavailable(f"pooling {config!r}: only one of mean, cls or max is exported")
    return str(mode)


def _json(path: Path, required: str | None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if required:
            raise GraphUnavailable(f"{path.parent}: no {required}") from None
        return None
    except (OSError, ValueError) as exc:
        raise GraphUnavailable(f"{path}: unreadable ({exc})") from None


def source_files(spec: ModelSpec) -> list[Path]:
    """The files whose change makes a new graph necessary."""
    names = ["config.json", "tokenizer.json", "sentence_bert_config.json", *_WEIGHTS]
    files = [spec.path / "modules.json", *(spec.transformer_dir / n for n in names)]
    return [f for f in files if f.is_file()]


def cache_key(spec: ModelSpec) -> str:
    """Recipe + the model files' names, sizes and times: stat only, cheap on every start."""
    recipe = [spec.max_seq_length, spec.do_lower_case, spec.pooling, spec.dim]
    parts: list[Any] = [RECIPE, str(spec.path.resolve()), recipe]
    for f in source_files(spec):
        st = f.stat()
        parts.append([f.name, st.st_size, st.st_mtime_ns])
    return xxhash.xxh3_64_hexdigest(json.dumps(parts, sort_keys=True).encode("utf-8"))


def entry_dir(root: Path, name: str, spec: ModelSpec) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[-60:] or "model"
    return root / f"{slug}-{cache_key(spec)}"


def default_roots(home: Path) -> list[Path]:
    """Inside the environment first (where install puts it), then the user's cache."""
    return [Path(sys.prefix) / "share" / "memsync" / "onnx", home / ".cache" / "memsync" / "onnx"]


def writable_root(roots: list[Path]) -> Path:
    """The first root this process may create entries in."""
    for root in roots:
        probe = root
        while not probe.exists() and probe.parent != probe:
            probe = probe.parent
        if os.access(probe, os.W_OK | os.X_OK):
            return root
    raise GraphUnavailable(f"no writable cache folder among {', '.join(map(str, roots))}")


def load_graph(entry: Path) -> bytes:
    """The verified graph bytes of a built entry; GraphUnavailable when absent or damaged."""
    try:
        manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
        data = (entry / GRAPH).read_bytes()
    except FileNotFoundError:
        raise GraphUnavailable(f"{entry}: not built") from None
    except (OSError, ValueError) as exc:
        raise DamagedGraph(f"{entry}: unreadable ({exc})") from None
    digest = xxhash.xxh3_128_hexdigest(data)
    if len(data) != manifest.get("bytes") or digest != manifest.get("xxh3"):
        raise DamagedGraph(f"{entry / GRAPH}: size or checksum differs from its manifest")
    return data


def recorded_failure(entry: Path) -> str | None:
    """Why the last export of this entry failed, if it did."""
    try:
        return str(json.loads((entry / FAILED).read_text(encoding="utf-8"))["reason"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_failure(entry: Path, reason: str) -> None:
    with contextlib.suppress(OSError):
        atomic_write_bytes(entry / FAILED, json.dumps({"reason": reason}).encode("utf-8"))


def publish(entry: Path, graph: bytes, manifest: dict[str, Any]) -> None:
    """Put a verified graph in place atomically (a concurrent builder's copy is as good)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = entry.parent / f".{entry.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        atomic_write_bytes(staging / GRAPH, graph)
        body = {**manifest, "bytes": len(graph), "xxh3": xxhash.xxh3_128_hexdigest(graph)}
        atomic_write_bytes(staging / MANIFEST, json.dumps(body, indent=2).encode("utf-8"))
        for name in (GRAPH, MANIFEST):  # readable by every user of the environment
            (staging / name).chmod(0o644)
        shutil.rmtree(entry, ignore_errors=True)  # a damaged or failed entry
        with contextlib.suppress(OSError):  # lost a race: the other copy stays
            os.rename(staging, entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _prune_siblings(entry)


def _prune_siblings(entry: Path) -> None:
    """Older graphs of the same model (another key under the same name) are dead weight."""
    stem = entry.name.rsplit("-", 1)[0]
    for other in entry.parent.glob(f"{stem}-*"):
        if other != entry and re.fullmatch(re.escape(stem) + r"-[0-9a-f]{16}", other.name):
            shutil.rmtree(other, ignore_errors=True)
