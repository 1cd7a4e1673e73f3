"""`memsync model prepare`: export and verify the ONNX graph of the configured model."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from service.cli.common import EXIT_OK, Result
from service.settings import load_settings, locate_store
from sync.errors import ConfigError, StoreNotFoundError


def cmd_model(args: argparse.Namespace) -> Result:
    """Prepare needs no store: install runs it before any `memsync init`."""
    from embeddings.backend import build_graph, find_graph, graph_state
    from embeddings.encoder import canonical_model_name, resolve_model_path
    from embeddings.onnx_encoder import OnnxEncoder
    from embeddings.onnx_graph import GraphUnavailable, read_spec
    from service.wiring import graph_roots

    try:
        layout = locate_store(Path.cwd(), os.environ)
    except StoreNotFoundError:
        layout = None
    settings = load_settings(layout, os.environ)
    roots, model = graph_roots(settings), canonical_model_name(settings.model)

    def note(message: str) -> None:
        print(message, file=sys.stderr)

    t0 = time.perf_counter()
    try:
        spec = read_spec(resolve_model_path(settings.model))
        if args.force:
            graph = build_graph(spec, model, roots, note)
        else:
            graph = find_graph(spec, model, roots, note, retry_failed=True)
        built_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        encoder = OnnxEncoder(graph, spec, model, batch_size=settings.batch_size)
        encoder.encode(["a first vector"])
        load_s = time.perf_counter() - t1
    except GraphUnavailable as exc:
        raise ConfigError(
            f"no ONNX graph for model {settings.model!r}: {exc}. "
            "[model] backend = 'auto' encodes with torch meanwhile"
        ) from None
    data = {
        "model": encoder.identity.model,
        "dim": encoder.identity.dim,
        **graph_state(settings.model, roots),
        "backend": settings.model_backend,
        "prepare_s": round(built_s, 2),
        "load_and_first_vector_s": round(load_s, 3),
    }
    text = (
        f"ONNX graph of {data['model']} ({data['dim']} dims) ready in {data['path']}\n"
        f"session + first vector: {load_s:.2f} s in this process "
        f"(configured backend: {settings.model_backend})"
    )
    return data, text, EXIT_OK
