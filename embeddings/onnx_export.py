"""Export a sentence-transformers folder's transformer to ONNX, then prove the graph right.

Runs once per model version (at install, or on first use): torch's TorchScript exporter
(``dynamo=False``, opset 17, dynamic batch and sequence axes) writes the graph, and the ONNX
encoder must reproduce sentence-transformers' vectors on a fixed set of texts, batched and one
by one, to a cosine of at least ``MIN_COSINE`` each, or the graph is thrown away.
"""

from __future__ import annotations

import inspect
import io
import platform
import time
import warnings
from typing import Any

from embeddings.onnx_graph import RECIPE, GraphUnavailable, ModelSpec

OPSET = 17
MIN_COSINE = 0.9999
INPUTS = ("input_ids", "attention_mask", "token_type_ids")

# Short and long (past the 256-token cut), code, markup, other scripts, digits and symbols.
VERIFY_TEXTS = (
    "how do workers get jobs from the queue?",
    "Use PostgreSQL for the job queue\n\nSKIP LOCKED gives a transactional queue; no Redis.",
    "pytest fails with ModuleNotFoundError: No module named 'sync' when run outside the repo",
    "def encode(texts):\n    return [model(t) for t in texts]  # batch of 64, CPU only",
    "---\nid: mem-20261121-3f9a1c2b7e\nkind: decision\ntags: [db, queue]\n---\n# Title",
    "Die Datenbank läuft jetzt auf Port 5433; l'équipe préfère ça. Ñandú, smörgåsbord.",
    "数据库迁移已经完成，队列使用 PostgreSQL。キューのワーカーは五つ。",
    "🚀 deploy 2026-11-21T12:00:00Z — p95 went 900 ms → 120 ms (≈ 7.5x) #perf @ops",
    "a",
    "  leading and trailing spaces, tabs\tand\nnewlines  ",
    "error: " + "the build failed because the cache key changed again; " * 40,
    " ".join(f"token{i}" for i in range(600)),
    "Rejected Redis for the cache layer after comparing it with Memcached; latency "
    "under load and operating cost decided it. Revisit if traffic grows tenfold.",
    "Ask: which port does the staging API listen on, and who owns the TLS certificates?",
)


def export_verified(spec: ModelSpec, model: str) -> tuple[bytes, dict[str, Any]]:
    """The verified ONNX graph of ``spec`` and its manifest; GraphUnavailable when either
    step fails (the caller records it and falls back to torch)."""
    t0 = time.perf_counter()
    try:
        import torch

        from embeddings.encoder import load_sentence_transformer

        reference = load_sentence_transformer(spec.path)
        transformer = reference[0].auto_model.eval()
        names = [n for n in INPUTS if n in inspect.signature(transformer.forward).parameters]
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on shapes, not for users
            graph = _export(torch, transformer, names)
        cosine = verify(graph, spec, model, reference)
    except GraphUnavailable:
        raise
    except ImportError as exc:
        raise GraphUnavailable(f"exporting needs torch and onnx ({exc})") from None
    except Exception as exc:  # boundary: any exporter failure leaves torch as the encoder
        raise GraphUnavailable(f"export failed: {type(exc).__name__}: {exc}") from None
    if cosine < MIN_COSINE:
        raise GraphUnavailable(
            f"the ONNX graph reproduces sentence-transformers only to cosine {cosine:.6f} "
            f"(< {MIN_COSINE}); not used"
        )
    manifest = {
        "recipe": RECIPE,
        "model": model,
        "model_path": str(spec.path),
        "inputs": names,
        "opset": OPSET,
        "pooling": spec.pooling,
        "max_seq_length": spec.max_seq_length,
        "min_cosine": round(cosine, 7),
        "verified_texts": len(VERIFY_TEXTS),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "export_s": round(time.perf_counter() - t0, 2),
    }
    return graph, manifest


def _export(torch: Any, transformer: Any, names: list[str]) -> bytes:
    class Wrapper(torch.nn.Module):
        """Keyword arguments: positional ones clash with ``use_cache`` in transformers 5."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors: Any) -> Any:
            return self.transformer(**dict(zip(names, tensors, strict=True))).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.long)
    args = tuple(sample if n != "token_type_ids" else torch.zeros_like(sample) for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
    buffer = io.BytesIO()
    torch.onnx.export(
        Wrapper().eval(),
        args,
        buffer,
        dynamo=False,
        opset_version=OPSET,
        input_names=names,
        output_names=["last_hidden_state"],
        dynamic_axes=axes,
    )
    return buffer.getvalue()


def verify(graph: bytes, spec: ModelSpec, model: str, reference: Any) -> float:
    """The smallest per-text cosine between the graph's vectors (batched and one by one) and
    sentence-transformers' on ``VERIFY_TEXTS``."""
    import numpy as np

    from embeddings.onnx_encoder import OnnxEncoder

    texts = list(VERIFY_TEXTS)
    expected = reference.encode(texts, batch_size=8, normalize_embeddings=True)
    onnx = OnnxEncoder(graph, spec, model, batch_size=8)
    batched = np.asarray(onnx.encode(texts))
    single = np.asarray([onnx.encode([t])[0] for t in texts])
    return float(min((expected * batched).sum(axis=1).min(), (expected * single).sum(axis=1).min()))
