"""What a cold `memsync` process imports: commands that need no encoder load none, `ask` and
`add` load ONNX Runtime and the embedded index but never torch, and no command loads what
only another one needs (the web framework, qdrant-client, DSPy). Imports are read from the
process itself (``python -X importtime``), so a new eager import anywhere shows up here."""

from __future__ import annotations

from pathlib import Path

import pytest

from embeddings.backend import open_encoder
from embeddings.onnx_graph import default_roots
from sync.index.engine import SyncOptions, run_sync
from sync.store import StoreLayout
from tests.conftest import (
    ENCODE,
    NEVER,
    imported,
    index_for,
    memory_text,
    one_json,
    write_memory_file,
)


@pytest.fixture
def indexed(
    project: tuple[Path, dict[str, str]], make_deps, encoder
) -> tuple[Path, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A project whose edge index holds two memories (embedded in-process, by torch)."""
    proj, env = project
    layout = StoreLayout(proj / ".memsync")
    write_memory_file(
        layout,
        "decisions/queue.md",
        memory_text("Use PostgreSQL for the job queue", "SKIP LOCKED; no Redis.", mid="q"),
    )
    write_memory_file(
        layout,
        "learnings/tmp.md",
        memory_text("Flaky tests", "Use pytest's tmp_path.", mid="t", kind="learning"),
    )
    deps = make_deps(
        index_factory=lambda: index_for(layout, "edge"), index_exists=layout.qdrant_edge_dir.exists
    )
    assert run_sync(layout, SyncOptions(), deps)["counts"]["added"] == 2
    # the graph the CLI will find (install exports it; export it here if it has not)
    roots = default_roots(Path(env["HOME"]))
    open_encoder("all-MiniLM-L6-v2", backend="onnx", batch_size=8, roots=roots, note=print)
    return proj, {**env, "MEMSYNC_MODEL_BACKEND": "onnx"}


def test_commands_without_an_encoder_import_nothing_heavy(
    indexed: tuple[Path, dict[str, str]],
) -> None:
    proj, env = indexed
    # a no-op sync (it seals the index: later commands know it is as it left it)
    names, out = imported(["sync", "--json"], proj, env)
    assert not names & (NEVER | ENCODE - {"qdrant_edge"}), sorted(names & (NEVER | ENCODE))
    assert one_json(out)["counts"]["unchanged"] == 2
    for args in (
        ["--help"],
        ["status", "--json"],
        ["sources", "--json"],
        ["sessions", "--json"],
        ["sync", "--json"],
    ):
        names, out = imported(args, proj, env)
        assert not names & (NEVER | ENCODE), (args, sorted(names & (NEVER | ENCODE)))
    assert one_json(out)["counts"]["unchanged"] == 2  # the no-op sync did run
    # a lexical ask opens the index but loads no encoder at all
    names, out = imported(["ask", "SKIP LOCKED", "--mode", "lexical", "--json"], proj, env)
    assert not names & (NEVER | {"onnxruntime", "tokenizers"}), sorted(names & NEVER)
    assert one_json(out)["results"][0]["id"] == "q"


def test_cold_ask_and_add_use_onnx_runtime_never_torch(
    indexed: tuple[Path, dict[str, str]],
) -> None:
    proj, env = indexed
    names, out = imported(["ask", "which database runs the job queue?", "--json"], proj, env)
    assert names & (NEVER | ENCODE) == ENCODE, sorted(names & (NEVER | ENCODE))
    assert one_json(out)["results"][0]["id"] == "q"  # a torch-built index, served by ONNX
    add = ["add", "--kind", "decision", "--title", "Queue", "--body", "Jobs via SKIP LOCKED."]
    names, out = imported([*add, "--dry-run", "--json"], proj, env)
    assert names & (NEVER | ENCODE) == ENCODE, sorted(names & (NEVER | ENCODE))
    assert one_json(out)["nearest"][0]["id"] == "q"
