"""Which runtime encodes: ONNX Runtime (starts in a fraction of a second) or torch.

``auto`` takes the verified ONNX graph of the model, exporting it once when it is missing or
damaged, and falls back to torch with a note when no graph can be had; ``onnx`` insists on
the graph; ``torch`` never looks for one. Both give the same vectors under the same encoder
identity, so a store built with either is served by the other without re-embedding.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from embeddings.encoder import SentenceTransformerEncoder, canonical_model_name, resolve_model_path
from embeddings.onnx_graph import (
    DamagedGraph,
    GraphUnavailable,
    ModelSpec,
    entry_dir,
    load_graph,
    publish,
    read_spec,
    record_failure,
    recorded_failure,
    writable_root,
)
from sync.errors import ConfigError
from sync.ports import Encoder

Note = Callable[[str], None]


def open_encoder(
    setting: str, *, backend: str, batch_size: int, roots: list[Path], note: Note
) -> Encoder:
    """The encoder for ``setting`` on the chosen backend (auto | onnx | torch)."""
    if backend == "torch":
        return SentenceTransformerEncoder(setting, batch_size=batch_size)
    try:
        return onnx_encoder(setting, batch_size, roots, note, retry_failed=backend == "onnx")
    except GraphUnavailable as exc:
        if backend == "onnx":
            raise ConfigError(
                f"model backend 'onnx': {exc}. Run `memsync model prepare` to see why, or set "
                "[model] backend = 'auto' (torch when no graph) or 'torch'"
            ) from None
        note(f"memsync: encoding with torch: no ONNX graph for this model ({exc})")
        return SentenceTransformerEncoder(setting, batch_size=batch_size)


def onnx_encoder(
    setting: str, batch_size: int, roots: list[Path], note: Note, *, retry_failed: bool
) -> Encoder:
    """The ONNX encoder over the cached graph, built (exported and verified) if need be."""
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as exc:
        raise GraphUnavailable(f"onnxruntime or tokenizers is not installed ({exc})") from None
    from embeddings.onnx_encoder import OnnxEncoder

    spec = read_spec(resolve_model_path(setting))
    model = canonical_model_name(setting)
    graph = find_graph(spec, model, roots, note, retry_failed=retry_failed)
    try:
        return OnnxEncoder(graph, spec, model, batch_size=batch_size)
    except GraphUnavailable as exc:  # verified once, unloadable now: a new onnxruntime?
        note(f"memsync: {exc}; exporting the graph again")
        graph = build_graph(spec, model, roots, note)
        return OnnxEncoder(graph, spec, model, batch_size=batch_size)


def find_graph(
    spec: ModelSpec, model: str, roots: list[Path], note: Note, *, retry_failed: bool
) -> bytes:
    """The verified graph from the first cache that has it; else export one now."""
    for root in roots:
        entry = entry_dir(root, model, spec)
        try:
            return load_graph(entry)
        except DamagedGraph as exc:
            note(f"memsync: {exc}; exporting it again")
            return build_graph(spec, model, roots, note)
        except GraphUnavailable:
            failure = recorded_failure(entry)
            if failure is not None and not retry_failed:
                raise GraphUnavailable(
                    f"{failure} (recorded in {entry}; `memsync model prepare` tries again)"
                ) from None
    return build_graph(spec, model, roots, note)


def build_graph(spec: ModelSpec, model: str, roots: list[Path], note: Note) -> bytes:
    """Export, verify and cache the graph (once per model version: ~10 s, torch loads)."""
    from embeddings.onnx_export import export_verified

    root = writable_root(roots)
    entry = entry_dir(root, model, spec)
    note(f"memsync: exporting {model} to ONNX once, into {root} (later starts skip torch)")
    try:
        graph, manifest = export_verified(spec, model)
    except GraphUnavailable as exc:
        record_failure(entry, str(exc))
        raise
    publish(entry, graph, manifest)
    return graph


def graph_state(setting: str, roots: list[Path]) -> dict[str, Any]:
    """Where the model's ONNX graph stands, without loading anything (for `memsync status`)."""
    try:
        spec = read_spec(resolve_model_path(setting))
    except (GraphUnavailable, ConfigError) as exc:
        return {"state": "unsupported", "reason": str(exc)}
    model = canonical_model_name(setting)
    for root in roots:
        entry = entry_dir(root, model, spec)
        if (entry / "manifest.json").is_file():
            return {"state": "ready", "path": str(entry)}
        if (failure := recorded_failure(entry)) is not None:
            return {"state": "failed", "path": str(entry), "reason": failure}
    return {"state": "missing", "path": str(entry_dir(roots[0], model, spec))}
