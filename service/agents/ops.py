"""What the agents' tools do with a store, three ways: through the running `memsync serve`
(HTTP), inside it (the /mcp endpoint), or in this process when no service runs. The MCP
tools and the hooks call one of these and get the same plain data back."""

from __future__ import annotations

import datetime as dt
import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from service.http.client import Remote, find_service, request
from service.settings import Settings, load_settings, locate_store
from sync.ports import Encoder, SearchFilter
from sync.store import StoreLayout

if TYPE_CHECKING:
    from service.http.runtime import ServiceState
    from sync.index.engine import SyncDeps

P = ParamSpec("P")
R = TypeVar("R")


class MemoryOps(Protocol):
    """A store as the agents' tools see it."""

    layout: StoreLayout
    settings: Settings

    def search(self, query: str, k: int, kinds: list[str], tags: list[str]) -> dict[str, Any]: ...
    def get(self, memory_id: str) -> dict[str, Any]: ...
    def add(
        self, *, kind: str, title: str, body: str, tags: list[str], session: str | None
    ) -> dict[str, Any]: ...
    def recent(self, limit: int, kind: str | None) -> dict[str, Any]: ...
    def archive(self, memory_id: str, reason: str) -> dict[str, Any]: ...
    def status(self) -> dict[str, Any]: ...


class RemoteOps:
    """Through the running service, which holds the model and the index."""

    def __init__(self, remote: Remote, layout: StoreLayout, settings: Settings) -> None:
        self.remote, self.layout, self.settings = remote, layout, settings

    def search(self, query: str, k: int, kinds: list[str], tags: list[str]) -> dict[str, Any]:
        body = {"question": query, "k": k, "kinds": kinds, "tags": tags, "answer": False}
        return request(self.remote, "POST", "/api/ask", body, timeout=60)

    def get(self, memory_id: str) -> dict[str, Any]:
        return request(self.remote, "GET", f"/api/memories/{memory_id}", timeout=60)

    def add(
        self, *, kind: str, title: str, body: str, tags: list[str], session: str | None
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {"kind": kind, "title": title, "body": body, "tags": tags}
        if session:
            fields["session"] = session
        return request(self.remote, "POST", "/api/memories", fields)

    def recent(self, limit: int, kind: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"sort": "recent", "limit": limit}
        if kind:
            params["kind"] = kind
        return request(self.remote, "GET", "/api/memories", params=params, timeout=60)

    def archive(self, memory_id: str, reason: str) -> dict[str, Any]:
        body = {"memory_id": memory_id, "reason": reason}
        return request(self.remote, "POST", "/api/archive", body)

    def status(self) -> dict[str, Any]:
        return request(self.remote, "GET", "/api/status", timeout=60)


def one_at_a_time(
    method: Callable[Concatenate[LocalOps, P], R],
) -> Callable[Concatenate[LocalOps, P], R]:
    """Calls of one LocalOps run one at a time (an MCP client may send several at once: the
    embedded index takes one owner, and the model loads once)."""

    @functools.wraps(method)
    def run(self: LocalOps, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.lock:
            return method(self, *args, **kwargs)

    return run


class LocalOps:
    """In this process: the index opened per call and closed after (an embedded index has one
    owner, and a `memsync sync` may need it), the model loaded on the first search or add and
    kept. Writes take the store's writer lock as the CLI's do."""

    def __init__(self, layout: StoreLayout, settings: Settings) -> None:
        self.layout, self.settings = layout, settings
        self._encoder: Encoder | None = None
        self._prepared = False
        self.lock = threading.RLock()

    def encoder(self) -> Encoder:
        if self._encoder is None:
            from service.wiring import make_encoder

            self._encoder = make_encoder(self.settings)
        return self._encoder

    def _deps(self) -> SyncDeps:
        from service.wiring import prepare_index, sync_deps

        if not self._prepared:  # move or upgrade the index once, as any data command does
            prepare_index(self.settings, self.layout, quiet=True)
            self._prepared = True
        deps = sync_deps(self.settings, self.layout)
        deps.encoder_factory = self.encoder
        return deps

    @one_at_a_time
    def search(self, query: str, k: int, kinds: list[str], tags: list[str]) -> dict[str, Any]:
        from service.memories import search_store
        from service.wiring import ask_scoring, check_kind
        from sync.store.access import record_access

        for kind in kinds:
            check_kind(self.settings, kind, "kind")
        self._deps()
        found = search_store(
            self.layout, self.settings, query, k=k, flt=SearchFilter(tuple(kinds), tuple(tags)),
            mode="hybrid", scoring=ask_scoring(self.settings), encoder=self.encoder,
        )  # fmt: skip
        record_access(self.layout, (r["id"] for r in found["results"]), dt.datetime.now(dt.UTC))
        return {"question": query, **found}

    @one_at_a_time
    def get(self, memory_id: str) -> dict[str, Any]:
        from service.memories import get_memory

        return get_memory(self.layout, memory_id)

    @one_at_a_time
    def add(
        self, *, kind: str, title: str, body: str, tags: list[str], session: str | None
    ) -> dict[str, Any]:
        from service.sessions import session_source
        from service.wiring import check_kind, dedup_thresholds
        from sync.capture.add import add_memory, new_candidate

        check_kind(self.settings, kind, "kind")
        source: dict[str, Any] = {"agent": "mcp"}
        dated, extra = None, tuple[str, ...]()
        if session:
            source, dated, extra = session_source(self.settings, self.layout, session, "mcp")
        candidate = new_candidate(
            kind=kind, title=title, body=body, tags=tuple(dict.fromkeys((*tags, *extra))),
            confidence=0.7, source=source, now=dt.datetime.now(dt.UTC), dated=dated,
        )  # fmt: skip
        return add_memory(
            self.layout, candidate, self._deps(), dedup_thresholds(self.settings),
            neighbours_k=self.settings.dedup_neighbours,
        )  # fmt: skip

    @one_at_a_time
    def recent(self, limit: int, kind: str | None) -> dict[str, Any]:
        from service.memories import list_memories

        return list_memories(self.layout, kind=kind, limit=limit, sort="recent")

    @one_at_a_time
    def archive(self, memory_id: str, reason: str) -> dict[str, Any]:
        from service.care import archive_memory

        return archive_memory(self.layout, self._deps(), memory_id, reason)

    @one_at_a_time
    def status(self) -> dict[str, Any]:
        from service.status import store_status

        return store_status(self.layout, self.settings)


class StateOps:
    """Inside `memsync serve`: its loaded model and open index, its write lock."""

    def __init__(self, state: ServiceState) -> None:
        self.state, self.layout, self.settings = state, state.layout, state.settings

    def search(self, query: str, k: int, kinds: list[str], tags: list[str]) -> dict[str, Any]:
        found = self.state.ask(query, k, SearchFilter(tuple(kinds), tuple(tags)))
        return {"question": query, **found}

    def get(self, memory_id: str) -> dict[str, Any]:
        return self.state.get_memory(memory_id)

    def add(
        self, *, kind: str, title: str, body: str, tags: list[str], session: str | None
    ) -> dict[str, Any]:
        return self.state.add(
            kind=kind, title=title, body=body, tags=tuple(dict.fromkeys(tags)), confidence=0.7,
            dry_run=False, session=session,
        )  # fmt: skip

    def recent(self, limit: int, kind: str | None) -> dict[str, Any]:
        return self.state.list_memories(kind=kind, tag=None, offset=0, limit=limit, sort="recent")

    def archive(self, memory_id: str, reason: str) -> dict[str, Any]:
        from service.http.commands import run_archive

        return run_archive(self.state, memory_id, reason)

    def status(self) -> dict[str, Any]:
        return self.state.status()


class StoreRouter:
    """The ops for the store of a folder, decided on each call: a service started or stopped
    since the last one is noticed; the in-process model is loaded once and kept."""

    def __init__(self, folder: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.folder, self.env = folder, env
        self._local: LocalOps | None = None

    def __call__(self) -> MemoryOps:
        env = self.env if self.env is not None else dict(os.environ)
        layout = locate_store(self.folder or Path.cwd(), env)
        if self._local is None or self._local.layout.root != layout.root:
            self._local = LocalOps(layout, load_settings(layout, env))
        remote = find_service(layout, env)
        if remote is not None:
            return RemoteOps(remote, layout, self._local.settings)
        return self._local
