"""A sync writer for crash tests: ``python -m tests.index_writer STORE [--reader | --read-once]``.

Runs the real engine (scan, plan, executor, journal, checkpoint) against the real embedded
edge index of STORE, with a hash encoder so that a process starts in a fraction of a second
and can be killed many times per test; ``--reader`` instead searches the index in a loop the
way ``memsync ask`` does (giving up when a writer holds it). The model is not what these
tests are about.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from embeddings.edge_index import READER_WAIT_S, WRITER_WAIT_S, EdgeIndex
from sync.errors import LockBusyError
from sync.index.engine import SyncDeps, SyncOptions, run_sync
from sync.models import EncoderIdentity, collection_name
from sync.store import StoreLayout

DIM = 16


class HashEncoder:
    """Unit vectors from a text's hash: deterministic, instant."""

    identity = EncoderIdentity("test-hash-encoder", DIM)

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        out = []
        for text in texts:
            digest = hashlib.sha256(text.encode()).digest()
            vec = [b / 255.0 - 0.5 for b in digest[:DIM]]
            norm = sum(x * x for x in vec) ** 0.5 or 1.0
            out.append([x / norm for x in vec])
        time.sleep(0.002 * len(texts))  # a little work per text, so kills land mid-run
        return out


def deps(layout: StoreLayout) -> SyncDeps:
    return SyncDeps(
        encoder_model=HashEncoder.identity.model,
        encoder_factory=HashEncoder,
        index_factory=lambda: EdgeIndex(layout.qdrant_edge_dir, wait_s=WRITER_WAIT_S),
        index_exists=layout.qdrant_edge_dir.exists,
        index_id="edge",
        batch_size=8,
    )


def read(layout: StoreLayout, wait_s: float) -> bool:
    """One search as `memsync ask` makes it; False when a writer holds the index."""
    collection = collection_name("memsync", HashEncoder.identity)
    query = HashEncoder().encode(["query"])[0]
    index = EdgeIndex(layout.qdrant_edge_dir, wait_s=wait_s)
    try:
        index.search(collection, query, 5)
        return True
    except LockBusyError:
        return False
    finally:
        index.close()


def read_loop(layout: StoreLayout) -> None:
    """Search until killed, printing "read" or "busy" for each attempt."""
    while True:
        print("read" if read(layout, READER_WAIT_S / 20) else "busy", flush=True)
        time.sleep(0.01)


def main(argv: Sequence[str]) -> int:
    layout = StoreLayout(Path(argv[0]))
    if "--reader" in argv:
        read_loop(layout)
        return 0
    if "--read-once" in argv:
        return 0 if read(layout, 0.0) else 4
    report = run_sync(layout, SyncOptions(), deps(layout))
    print(report["counts"], flush=True)
    return 3 if report["counts"]["retry_queue"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
