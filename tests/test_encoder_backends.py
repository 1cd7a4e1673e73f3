"""The ONNX Runtime encoder against sentence-transformers: the same vectors under the same
identity, a graph exported and verified once, a damaged one rebuilt, a store built by either
backend served by the other without re-embedding."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from embeddings.backend import find_graph, graph_state, open_encoder
from embeddings.encoder import canonical_model_name, resolve_model_path
from embeddings.onnx_export import MIN_COSINE, VERIFY_TEXTS
from embeddings.onnx_graph import (
    FAILED,
    GRAPH,
    MANIFEST,
    GraphUnavailable,
    default_roots,
    entry_dir,
    load_graph,
    read_spec,
    record_failure,
)
from sync.errors import ConfigError
from sync.index.engine import SyncDeps, SyncOptions, run_sync
from sync.models import collection_name
from sync.ports import Encoder, SearchFilter
from sync.recall.retrieve import ask
from sync.store import StoreLayout
from tests.conftest import index_for, memory_text, write_memory_file

MODEL = "all-MiniLM-L6-v2"
MEMORY_TEXTS = [
    f"{title}\n\n{body}"
    for title, body in (
        ("Use PostgreSQL for the job queue", "SKIP LOCKED gives a transactional queue."),
        ("Flaky tests from shared /tmp", "Use pytest's tmp_path fixture instead."),
        ("Pin litellm", "Newer releases make pip backtrack through 850 MB of wheels."),
        ("Staging TLS", "Certificates renew through the ops bot every 60 days."),
    )
]


class Notes(list[str]):
    """Collects the encoder's notes for people (stderr in the CLI)."""

    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.fixture(scope="module")
def onnx() -> Encoder:
    """The ONNX encoder over the environment's cached graph (exported here if missing)."""
    return open_encoder(
        MODEL, backend="onnx", batch_size=16, roots=default_roots(Path.home()), note=Notes()
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache root holding a graph exported and verified by this test run."""
    root = tmp_path_factory.mktemp("onnx-cache")
    notes = Notes()
    open_encoder(MODEL, backend="auto", batch_size=16, roots=[root], note=notes)
    assert any("exporting" in n for n in notes), notes
    return root


def _cosines(a: object, b: object) -> np.ndarray:
    return np.sum(np.asarray(a) * np.asarray(b), axis=1)


def test_onnx_reproduces_sentence_transformers_per_text(onnx: Encoder, encoder) -> None:  # type: ignore[no-untyped-def]
    texts = [*VERIFY_TEXTS, *MEMORY_TEXTS]
    cos = _cosines(onnx.encode(texts), encoder.encode(texts))
    assert cos.min() >= MIN_COSINE, dict(zip(texts, cos.round(6), strict=True))
    single = [onnx.encode([t])[0] for t in texts]  # no padding: the same vectors
    assert _cosines(single, encoder.encode(texts)).min() >= MIN_COSINE
    assert onnx.identity == encoder.identity  # one identity: stores need no re-embedding
    assert type(onnx).__name__ == "OnnxEncoder" and len(onnx.encode([])) == 0


def test_export_writes_a_verified_graph_that_later_starts_reuse(exported: Path) -> None:
    spec = read_spec(resolve_model_path(MODEL))
    entry = entry_dir(exported, canonical_model_name(MODEL), spec)
    manifest = json.loads((entry / MANIFEST).read_text())
    assert manifest["min_cosine"] >= MIN_COSINE
    assert manifest["verified_texts"] == len(VERIFY_TEXTS)
    assert manifest["bytes"] == (entry / GRAPH).stat().st_size
    notes = Notes()
    again = open_encoder(MODEL, backend="auto", batch_size=16, roots=[exported], note=notes)
    assert notes == [] and type(again).__name__ == "OnnxEncoder"  # no second export
    assert graph_state(MODEL, [exported]) == {"state": "ready", "path": str(entry)}


def test_a_damaged_graph_is_exported_again(exported: Path, tmp_path: Path) -> None:
    spec = read_spec(resolve_model_path(MODEL))
    source = entry_dir(exported, canonical_model_name(MODEL), spec)
    root = tmp_path / "cache"
    entry = entry_dir(root, canonical_model_name(MODEL), spec)
    shutil.copytree(source, entry)
    graph = entry / GRAPH
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights
    graph.write_bytes(bytes(data))
    notes = Notes()
    encoder = open_encoder(MODEL, backend="auto", batch_size=16, roots=[root], note=notes)
    assert type(encoder).__name__ == "OnnxEncoder"
    assert any("checksum" in n for n in notes) and any("exporting" in n for n in notes)
    assert len(load_graph(entry)) == graph.stat().st_size  # the new graph passes its check


def test_a_recorded_failure_is_not_retried_on_every_start(tmp_path: Path) -> None:
    spec = read_spec(resolve_model_path(MODEL))
    entry = entry_dir(tmp_path, canonical_model_name(MODEL), spec)
    record_failure(entry, "export failed: simulated")
    assert (entry / FAILED).is_file()
    notes = Notes()
    with pytest.raises(GraphUnavailable, match="simulated"):
        find_graph(spec, canonical_model_name(MODEL), [tmp_path], notes, retry_failed=False)
    assert notes == []  # nothing exported
    assert graph_state(MODEL, [tmp_path])["state"] == "failed"


def test_unsupported_models_fall_back_to_torch_or_fail_clearly(tmp_path: Path) -> None:
    folder = tmp_path / "with-dense"
    shutil.copytree(resolve_model_path(MODEL), folder)
    modules = json.loads((folder / "modules.json").read_text())
    modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "x.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ConfigError, match="Dense"):
        open_encoder(str(folder), backend="onnx", batch_size=8, roots=[tmp_path], note=Notes())
    assert graph_state(str(folder), [tmp_path])["state"] == "unsupported"


def _store(layout: StoreLayout) -> None:
    for i, text in enumerate(MEMORY_TEXTS):
        title, body = text.split("\n\n")
        write_memory_file(layout, f"decisions/m{i}.md", memory_text(title, body, mid=f"m{i}"))


@pytest.mark.parametrize("first", ["torch", "onnx"])
def test_a_store_built_by_one_backend_is_served_by_the_other(
    first: str,
    layout: StoreLayout,
    make_deps: Callable[..., SyncDeps],
    onnx: Encoder,
    encoder,  # type: ignore[no-untyped-def]
) -> None:
    by = {"torch": encoder, "onnx": onnx}
    second = by["onnx" if first == "torch" else "torch"]
    _store(layout)
    built = run_sync(layout, SyncOptions(), make_deps(encoder_factory=lambda: by[first]))
    assert built["counts"]["added"] == len(MEMORY_TEXTS)
    again = run_sync(layout, SyncOptions(), make_deps(encoder_factory=lambda: second))
    assert again["counts"]["unchanged"] == len(MEMORY_TEXTS)  # nothing re-embedded
    index = index_for(layout, "edge")
    try:
        hits = {
            name: ask(
                "how do workers take jobs from the queue?",
                encoder=enc,
                index=index,
                collection=collection_name("memsync", enc.identity),
                k=3,
                flt=SearchFilter(),
                memory_dir=layout.memory_dir,
            )["results"]
            for name, enc in by.items()
        }
    finally:
        index.close()
    assert [h["id"] for h in hits["torch"]] == [h["id"] for h in hits["onnx"]]
    assert hits["onnx"][0]["id"] == "m0"
