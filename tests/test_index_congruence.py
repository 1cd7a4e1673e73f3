"""One scenario, every backend: edge, local mode, in-memory (and a server when reachable)
must give the same answers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from embeddings.edge_index import EdgeIndex
from embeddings.encoder import SentenceTransformerEncoder
from embeddings.qdrant_index import QdrantIndex
from sync.hashing import text_fingerprint
from sync.index.engine import SyncDeps, SyncOptions, run_sync
from sync.lexical import document_vector, query_vector
from sync.ports import SearchFilter, VectorIndex
from sync.recall.retrieve import lexical_top, search
from sync.store import StoreLayout, init_store
from tests.conftest import memory_text, write_memory_file

MEMORIES = [
    (
        "decisions/db.md",
        "decision",
        "[db, queue]",
        "Use PostgreSQL for the job queue",
        "SKIP LOCKED gives a transactional queue without Redis.",
    ),
    (
        "decisions/api.md",
        "decision",
        "[api]",
        "Version the HTTP API in the URL",
        "Clients pin /v1/ and /v2/ paths.",
    ),
    (
        "decisions/cache.md",
        "decision",
        "[perf]",
        "Cache rendered pages in Redis for 60 s",
        "Invalidation happens on publish.",
    ),
    (
        "learnings/tests.md",
        "learning",
        "[tests]",
        "Flaky tests came from shared temp dirs",
        "Use pytest's tmp_path fixture instead of /tmp.",
    ),
    (
        "learnings/ci.md",
        "learning",
        "[ci, perf]",
        "CI cache key must include the lockfile hash",
        "Otherwise stale wheels are restored.",
    ),
    (
        "learnings/pool.md",
        "learning",
        "[db, perf]",
        "Keep the Postgres pool at 10 per worker",
        "More connections starve the database under load.",
    ),
    (
        "insights/deploys.md",
        "insight",
        "[ci]",
        "Friday deploys fail twice as often",
        "Most failures are migrations that lock big tables.",
    ),
    (
        "archived/decisions/old-db.md",
        "decision",
        "[db]",
        "Use MySQL for the job queue",
        "Superseded: we moved to PostgreSQL.",
    ),
]
QUERIES = [
    "which database runs the queue",
    "why are tests flaky",
    "speed up CI",
    "API versioning",
    "deploy failures",
]
FILTERS = [
    SearchFilter(),
    SearchFilter(kinds=("learning",)),
    SearchFilter(tags=("perf",)),
    SearchFilter(kinds=("decision",), tags=("db",)),
    SearchFilter(include_archived=True),
]


def backends(tmp_path: Path) -> dict[str, Any]:
    made: dict[str, Any] = {
        "edge": lambda root: EdgeIndex(root / "edge"),
        "local": lambda root: QdrantIndex(path=root / "local"),
    }
    memory = QdrantIndex()  # one in-memory client for the whole scenario

    class Shared:
        def __getattr__(self, name: str) -> Any:
            return getattr(memory, name)

        def close(self) -> None:  # keep the in-memory points between runs
            pass

    made["memory"] = lambda root: Shared()
    url = os.environ.get("MEMSYNC_TEST_QDRANT_URL")
    if url:
        made["server"] = lambda root: QdrantIndex(url=url)
    return made


def observe(
    index: VectorIndex, collection: str, encoder: SentenceTransformerEncoder
) -> dict[str, Any]:
    seen: dict[str, Any] = {"count": index.count(collection)}
    for q in QUERIES:
        vector = encoder.encode([q])[0]
        for i, flt in enumerate(FILTERS):
            for exact in (False, True):
                hits = index.search(collection, vector, 4, flt, exact=exact)
                seen[f"{q}|{i}|{exact}"] = [
                    (h.payload["memory_id"], round(h.score, 3)) for h in hits
                ]
            lexical = lexical_top(index, collection, query_vector(q), 4, flt)
            seen[f"{q}|{i}|lexical"] = [
                (h.payload["memory_id"], round(h.score, 3)) for h in lexical
            ]
            hybrid = search(q, vector, index=index, collection=collection, k=4, flt=flt)
            seen[f"{q}|{i}|hybrid"] = [
                (r.hit.payload["memory_id"], round(r.score, 3), r.lexical and round(r.lexical, 3))
                for r in hybrid
            ]
    fp = text_fingerprint(MEMORIES[0][3], MEMORIES[0][4])
    seen["find_by"] = sorted(
        h.payload["path"] for h in index.find_by(collection, "fingerprint", fp)
    )
    exported = list(index.export(collection))
    seen["export"] = sorted(
        (
            p.point_id,
            len(p.vector),
            p.payload["path"],
            p.sparse is not None and len(p.sparse.indices),
        )
        for p in exported
    )
    seen["point_ids"] = sorted(index.point_ids(collection))
    some = [*seen["point_ids"][:3], "00000000-0000-4000-8000-000000000000"]  # last: absent
    stored = index.vectors(collection, some)
    seen["vectors"] = {pid: [round(x, 4) for x in v[:4]] for pid, v in sorted(stored.items())}
    return seen


def run_scenario(
    layout: StoreLayout, make_index: Any, encoder: SentenceTransformerEncoder, prefix: str
) -> list[dict[str, Any]]:
    deps = SyncDeps(
        encoder.identity.model,
        lambda: encoder,
        lambda: make_index(layout.root),
        collection_prefix=prefix,
    )
    for i, (rel, kind, tags, title, body) in enumerate(MEMORIES):
        write_memory_file(layout, rel, memory_text(title, body, mid=f"m{i}", kind=kind, tags=tags))
    observations = []
    report = run_sync(layout, SyncOptions(), deps)
    assert report["counts"]["added"] == len(MEMORIES)
    observations.append(report["collection"])
    for step in ("first", "changed"):
        index = make_index(layout.root)
        try:
            observations.append(observe(index, report["collection"], encoder))
        finally:
            index.close()
        if step == "first":
            write_memory_file(
                layout,
                "decisions/api.md",
                memory_text(
                    "Version the HTTP API with a header",
                    "Clients send Accept-Version.",
                    mid="m1",
                    kind="decision",
                    tags="[api]",
                ),
            )
            (layout.memory_dir / "insights/deploys.md").unlink()
            assert run_sync(layout, SyncOptions(), deps)["counts"]["deleted"] == 1
    return observations


def test_every_backend_gives_the_same_answers(
    tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    results = {}
    prefix = f"memsync-congruence-{os.getpid()}"
    for name, make_index in backends(tmp_path).items():
        layout, _ = init_store(tmp_path / name / ".memsync")
        try:
            results[name] = run_scenario(layout, make_index, encoder, prefix)
        finally:
            if name == "server":
                server = make_index(layout.root)
                for coll in server.collections():
                    if coll.startswith(prefix):
                        server.drop_collection(coll)
                server.close()
    reference = results.pop("edge")
    first = reference[1]
    assert first["count"] == len(MEMORIES)
    top = first["which database runs the queue|0|False"]
    assert top[0][0] == "m0"  # the live decision, not the archived MySQL one
    assert "m7" not in {mid for mid, _ in top}
    assert "m7" in {mid for mid, _ in first["which database runs the queue|4|False"]}
    assert first["which database runs the queue|0|lexical"]  # BM25 found matches
    assert all(n for *_, n in first["export"])  # every point carries lexical weights
    assert len(first["vectors"]) == 3  # stored vectors by id; an unknown id is left out
    assert reference[2]["count"] == len(MEMORIES) - 1
    for name, observed in results.items():
        for step, (want, got) in enumerate(zip(reference, observed, strict=True)):
            assert got == want, f"{name} differs from edge at step {step}"


def test_edge_refuses_a_second_process_and_reports_a_busy_store(tmp_path: Path) -> None:
    import subprocess
    import sys

    from sync.errors import LockBusyError

    index = EdgeIndex(tmp_path / "edge")
    index.ensure_collection("c", 4)
    code = (
        "import sys; from pathlib import Path; from embeddings.edge_index import EdgeIndex\n"
        "from sync.errors import LockBusyError\n"
        "try:\n    EdgeIndex(Path(sys.argv[1])).count('c')\n"
        "except LockBusyError as e:\n    print('busy:', e); sys.exit(4)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    res = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "edge")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert res.returncode == 4 and "another memsync process" in res.stdout
    index.close()
    assert LockBusyError  # the error type the CLI maps to exit code 4


def test_edge_readers_and_a_writer_in_one_process_do_not_block_each_other(
    tmp_path: Path,
) -> None:
    import threading

    import numpy as np

    from sync.ports import IndexPoint

    index = EdgeIndex(tmp_path / "edge")
    index.ensure_collection("c", 32)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((4000, 32)).astype("float32")
    errors: list[BaseException] = []
    searches_during_writes = 0
    writing = threading.Event()

    def writer() -> None:
        try:
            writing.set()
            for start in range(0, len(vectors), 100):
                index.upsert(
                    "c",
                    [
                        IndexPoint(
                            f"00000000-0000-0000-0000-{i:012d}",
                            vectors[i].tolist(),
                            {"kind": "decision"},
                        )
                        for i in range(start, start + 100)
                    ],
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    writing.wait()
    while thread.is_alive():
        hits = index.search("c", vectors[0].tolist(), 5)
        assert all(h.payload["kind"] == "decision" for h in hits)
        searches_during_writes += 1
    thread.join()
    assert not errors
    assert searches_during_writes > 1  # reads went on while the writer held the shard
    assert index.count("c") == len(vectors)
    assert index.search("c", vectors[0].tolist(), 1, exact=True)[0].score > 0.999
    index.close()


def test_copy_index_moves_vectors_and_payloads_unchanged(tmp_path: Path) -> None:
    import numpy as np

    from sync.index.migrate import copy_index
    from sync.ports import IndexPoint

    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((1300, 16)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    src = QdrantIndex(path=tmp_path / "local")
    for name in ("memsync-a-16", "memsync-b-16"):
        src.ensure_collection(name, 16)
        src.upsert(
            name,
            [
                IndexPoint(
                    f"00000000-0000-4000-8000-{i:012d}",
                    vectors[i].tolist(),
                    {"memory_id": f"m{i}", "tags": ["x"], "kind": "decision"},
                    document_vector(f"memory {i} about topic {i % 7}"),
                )
                for i in range(len(vectors))
            ],
        )
    dst = EdgeIndex(tmp_path / "edge")
    copied = copy_index(src, dst, batch=500)
    assert copied == {"memsync-a-16": 1300, "memsync-b-16": 1300}
    for name in copied:
        before = {p.point_id: p for p in src.export(name)}
        after = {p.point_id: p for p in dst.export(name)}
        assert before.keys() == after.keys()
        for pid, point in before.items():
            assert after[pid].payload == point.payload
            assert np.allclose(after[pid].vector, point.vector, atol=1e-6)
            assert after[pid].sparse and point.sparse
            assert after[pid].sparse.indices == point.sparse.indices
            assert np.allclose(after[pid].sparse.values, point.sparse.values, atol=1e-6)
    src.close()
    dst.close()
