"""Shared fixtures: the real encoder (loaded once per session) and a fresh store per test."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sync.index.engine import SyncDeps
from sync.retry import RetryPolicy
from sync.store import StoreLayout, init_store

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _private_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Capture reads agent sessions under $HOME: never the real ones in tests."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="session")
def encoder():  # type: ignore[no-untyped-def]
    from embeddings.encoder import SentenceTransformerEncoder

    return SentenceTransformerEncoder("all-MiniLM-L6-v2")


@pytest.fixture
def layout(tmp_path: Path) -> StoreLayout:
    store, _ = init_store(tmp_path / "project" / ".memsync")
    return store


class Clock:
    """A settable clock for retry timing."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def backend() -> str:
    """The embedded index the tests run on; test modules may parametrize it."""
    return "edge"


def index_for(layout: StoreLayout, backend: str):  # type: ignore[no-untyped-def]
    from embeddings.edge_index import EdgeIndex
    from embeddings.qdrant_index import QdrantIndex

    if backend == "edge":
        return EdgeIndex(layout.qdrant_edge_dir)
    return QdrantIndex(path=layout.qdrant_dir)


@pytest.fixture
def make_deps(layout: StoreLayout, encoder, clock: Clock, backend: str) -> Callable[..., SyncDeps]:  # type: ignore[no-untyped-def]
    """SyncDeps over the real model and the real embedded Qdrant of ``layout``."""

    def build(**overrides: object) -> SyncDeps:
        folder = layout.qdrant_edge_dir if backend == "edge" else layout.qdrant_dir
        values: dict[str, object] = dict(
            encoder_model=encoder.identity.model,
            encoder_factory=lambda: encoder,
            index_factory=lambda: index_for(layout, backend),
            index_exists=folder.exists,
            index_id=backend,
            policy=RetryPolicy(max_attempts=3, base_delay_s=60),
            batch_size=16,
            clock=clock,
        )
        values.update(overrides)
        return SyncDeps(**values)  # type: ignore[arg-type]

    return build


def write_memory_file(layout: StoreLayout, rel: str, text: str) -> Path:
    path = layout.memory_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def memory_text(
    title: str, body: str, *, mid: str | None = None, kind: str = "decision", tags: str = "[]"
) -> str:
    head = f"id: {mid}\n" if mid else ""
    return f"---\n{head}kind: {kind}\ntitle: {title}\ntags: {tags}\n---\n\n{body}\n"


def open_embedded(layout: StoreLayout):  # type: ignore[no-untyped-def]
    """The embedded index that holds this store's points (edge, else local mode)."""
    from embeddings.edge_index import EdgeIndex
    from embeddings.qdrant_index import QdrantIndex

    if layout.qdrant_edge_dir.exists():
        return EdgeIndex(layout.qdrant_edge_dir)
    return QdrantIndex(path=layout.qdrant_dir)


def point_count(layout: StoreLayout) -> tuple[int, set[str]]:
    """Points in the store's collection(s), opened after the run has closed the index."""
    index = open_embedded(layout)
    try:
        ids: set[str] = set()
        total = 0
        for name in index.collections():
            total += index.count(name)
            ids |= index.point_ids(name)
        return total, ids
    finally:
        index.close()


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMSYNC_")}
    env["HOME"] = str(tmp_path / "home")
    return env


MEMSYNC = [sys.executable, "-m", "service"]


def run(
    args: list[str], cwd: Path, env: dict[str, str], **kw: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MEMSYNC, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kw
    )  # type: ignore[call-overload]


def one_json(out: str) -> dict:  # type: ignore[type-arg]
    """stdout must be exactly one JSON document."""
    return json.loads(out)  # raises on a second document or any stray text


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    env = cli_env(tmp_path)
    env["PYTHONPATH"] = str(REPO)
    proj = tmp_path / "proj"
    proj.mkdir()
    res = run(["init", "--json"], proj, env)
    assert res.returncode == 0, res.stderr
    assert one_json(res.stdout)["created"] is True
    return proj, env


def seed(proj: Path, n: int) -> StoreLayout:
    layout = StoreLayout(proj / ".memsync")
    for i in range(n):
        write_memory_file(
            layout,
            f"learnings/note-{i:04d}.md",
            memory_text(
                f"Learning number {i}",
                f"When the build step {i} failed we fixed flag {i * 7}.",
                mid=f"n{i}",
                kind="learning",
            ),
        )
    return layout


# never needed by a cold CLI command that works on the store itself
NEVER = {
    "torch",
    "sentence_transformers",
    "transformers",
    "dspy",
    "litellm",
    "qdrant_client",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
}
# what encoding and searching need: only commands that embed may load them
ENCODE = {"numpy", "onnxruntime", "tokenizers", "qdrant_edge"}


def imported(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[set[str], str]:
    """The top-level packages a cold ``memsync ARGS`` process imported, and its stdout."""
    done = subprocess.run(
        [MEMSYNC[0], "-X", "importtime", *MEMSYNC[1:], *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    names = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return names, done.stdout
