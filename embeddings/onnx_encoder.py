"""ONNX Runtime encoder: the same vectors as sentence-transformers without importing torch.

Tokenizes with the folder's ``tokenizer.json`` (truncation at the model's max_seq_length,
padding to the longest text of a batch), runs the exported graph, pools as the folder's
Pooling module says (mean over the attention mask for all-MiniLM-L6-v2) and normalises to unit
length. Starts in a fraction of a second, where torch + sentence-transformers take seconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from embeddings.onnx_graph import GraphUnavailable, ModelSpec
from sync.models import EncoderIdentity


class OnnxEncoder:
    """Unit-length embeddings from an exported graph on the CPU (implements sync's Encoder)."""

    backend = "onnx"

    def __init__(self, graph: bytes, spec: ModelSpec, model: str, *, batch_size: int = 64) -> None:
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._np: Any = np
        self._spec = spec
        self._batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(spec.transformer_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(spec.max_seq_length)
        pad_id, pad_token = _padding(self._tokenizer, spec)
        self._tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # warnings about the graph are not the user's business
        try:
            self._session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's own error types (Fail, InvalidProtobuf, ...)
            raise GraphUnavailable(f"onnxruntime cannot load the graph: {exc}") from None
        self._inputs = [i.name for i in self._session.get_inputs()]
        shape = self._session.get_outputs()[0].shape
        dim = shape[-1] if isinstance(shape[-1], int) else spec.dim
        self._identity = EncoderIdentity(model, dim)

    @property
    def identity(self) -> EncoderIdentity:
        return self._identity

    def encode(self, texts: Sequence[str]) -> Any:
        """One row per text, in order; batches hold texts of similar length (less padding)."""
        np = self._np
        items = [t.lower() if self._spec.do_lower_case else t for t in texts]
        out = np.zeros((len(items), self._identity.dim), dtype=np.float32)
        order = sorted(range(len(items)), key=lambda i: -len(items[i]))
        for start in range(0, len(order), self._batch_size):
            chosen = order[start : start + self._batch_size]
            out[chosen] = self._batch([items[i] for i in chosen])
        return out

    def _batch(self, texts: list[str]) -> Any:
        np = self._np
        encoded = self._tokenizer.encode_batch(texts)
        mask = np.asarray([e.attention_mask for e in encoded], dtype=np.int64)
        columns = {
            "input_ids": np.asarray([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": mask,
            "token_type_ids": np.asarray([e.type_ids for e in encoded], dtype=np.int64),
        }
        hidden = self._session.run(None, {n: columns[n] for n in self._inputs})[0]
        pooled = _pool(np, hidden, mask, self._spec.pooling)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)


def _pool(np: Any, hidden: Any, mask: Any, mode: str) -> Any:
    """sentence-transformers' Pooling: mean over real tokens, the first token, or the max."""
    if mode == "cls":
        return hidden[:, 0]
    weights = mask[..., None].astype(hidden.dtype)
    if mode == "max":
        return np.where(weights > 0, hidden, -1e9).max(axis=1)
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


def _padding(tokenizer: Any, spec: ModelSpec) -> tuple[int, str]:
    """The pad token: from tokenizer.json's padding, else tokenizer_config.json."""
    if tokenizer.padding:
        return int(tokenizer.padding["pad_id"]), str(tokenizer.padding["pad_token"])
    try:
        config = json.loads((spec.transformer_dir / "tokenizer_config.json").read_text("utf-8"))
        token = config["pad_token"]
        token = token["content"] if isinstance(token, dict) else str(token)
    except (OSError, ValueError, KeyError, TypeError):
        token = None
    pad_id = tokenizer.token_to_id(token) if token else None
    if pad_id is None:
        raise GraphUnavailable(f"{spec.transformer_dir}: the tokenizer names no pad token")
    return int(pad_id), str(token)
