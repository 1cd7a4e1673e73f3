"""`memsync mcp`: this project's memory as MCP tools (official `mcp` SDK, 2.x), over stdio for
an agent that starts it, and at /mcp on `memsync serve` (streamable HTTP, the API's token).

Starting costs only the SDK and the tool list: the model, the index and DSPy load on the first
call that needs them, so `initialize` and `tools/list` answer at once (Codex gives a server
10 s). Each call goes through the running service when there is one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from service import __version__
from service.agents import mcp_models as out
from service.agents.ops import MemoryOps
from sync.errors import MemsyncError

Ops = Callable[[], MemoryOps]

INSTRUCTIONS = """\
memsync is this project's long-term memory: decisions, learnings, conventions and open issues
from earlier sessions, kept as markdown under .memsync/memory/. Search it (memory_search)
before starting a task or changing an area with history; record durable decisions, learnings,
conventions and open issues with memory_add (duplicates are caught by meaning). Memories can
be outdated: when one disagrees with the code, trust the code and say so. Never store secrets.
"""

Query = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4000,
        description="what you need to know, in words or as pasted text (an error message, a "
        "config key, an identifier)",
    ),
]
MemoryId = Annotated[str, Field(min_length=1, max_length=200, description="a memory's id")]
SessionRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        description="a session id from memory_pending_sessions (or a transcript path)",
    ),
]
Kind = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="decision, learning, convention or issue (also insight, summary, note, or "
        "a kind the project configured; memory_status lists them)",
    ),
]
Tags = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=100)]],
    Field(max_length=20, description="short lowercase topics, e.g. db, ci, auth"),
]

READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)


def build_server(ops: Ops) -> MCPServer[Any]:
    """The MCP server whose tools act on the store ``ops()`` returns at each call."""
    server: MCPServer[Any] = MCPServer(
        "memsync", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING"
    )

    @server.tool(annotations=READ)
    def memory_search(
        query: Query,
        k: Annotated[int, Field(ge=1, le=20, description="at most this many memories")] = 5,
        kinds: Annotated[list[Kind] | None, Field(description="only these kinds")] = None,
        tags: Annotated[Tags | None, Field(description="only memories with these tags")] = None,
    ) -> out.SearchResult:
        """Search this project's long-term memory by meaning and by exact words. Use it at the
        start of a task, before changing an area the project has history in, and when the user
        asks what was decided, learned or agreed before. Only memories above a relevance floor
        come back: an empty `results` (with `no_strong_match` true when the store has memories)
        means memory has nothing on this question; go on without it rather than searching on."""
        with told():
            found = ops().search(query, k, kinds or [], tags or [])
        return out.SearchResult(
            query=query,
            results=[out.Hit.model_validate(r) for r in found["results"]],
            no_strong_match=found.get("no_strong_match", False),
            withheld=found.get("withheld", 0),
            closest=found.get("closest"),
            min_score=(found.get("scoring") or {}).get("min_score"),
        )

    @server.tool(annotations=READ)
    def memory_get(id: MemoryId) -> out.MemoryOut:
        """Read one memory in full (body, tags, confidence, where it came from) by the id that
        memory_search, memory_recent or the session brief gave."""
        with told():
            return out.MemoryOut.model_validate(ops().get(id))

    @server.tool(annotations=WRITE)
    def memory_add(
        kind: Kind,
        title: Annotated[
            str, Field(min_length=1, max_length=300, description="one line that says it all")
        ],
        body: Annotated[
            str,
            Field(
                min_length=1,
                max_length=20_000,
                description="what, why, and how it was verified; names files, commands, "
                "errors and identifiers exactly",
            ),
        ],
        tags: Tags | None = None,
        session: Annotated[
            SessionRef | None,
            Field(description="the session it was distilled from: its provenance and date"),
        ] = None,
    ) -> out.AddResult:
        """Record something durable, one fact per memory, standing alone without this
        conversation: a decision (what was chosen and why, what was rejected), a learning (a
        bug's cause and fix, a gotcha, a command that works), a convention (a rule or preference
        the user stated or corrected) or an issue (something left broken, open or unverified).
        Duplicates are caught by meaning: `action` says whether it was added, merged into the
        memory on the same subject (update; the old version is archived) or already known
        (noop). Never record secrets, credentials or one-off details."""
        with told():
            found = ops().add(kind=kind, title=title, body=body, tags=tags or [], session=session)
        return out.AddResult.model_validate(found)

    @server.tool(annotations=READ)
    def memory_recent(
        limit: Annotated[int, Field(ge=1, le=50, description="how many")] = 10,
        kind: Annotated[Kind | None, Field(description="only this kind")] = None,
    ) -> out.RecentResult:
        """The memories created or updated most recently, newest first (of one kind if asked):
        to catch up on what changed lately, or to find a memory to correct or archive."""
        with told():
            data = ops().recent(limit, kind)
        return out.RecentResult(total=data["total"], memories=data["memories"])

    @server.tool(annotations=WRITE)
    def memory_archive(
        id: MemoryId,
        reason: Annotated[
            str, Field(min_length=1, max_length=500, description="why it no longer holds")
        ],
    ) -> out.ArchiveResult:
        """Retire a memory that is wrong or no longer true (a reverted decision, a fixed issue,
        a convention the user dropped). It leaves search results but is kept, with the reason,
        under memory/archived/; nothing is deleted, and `memsync restore ID` brings it back.
        To correct a memory instead, memory_add the corrected fact: it merges."""
        with told():
            data = ops().archive(id, reason)
        return out.ArchiveResult(
            archived=data["archived"], moved_from=data["from"], moved_to=data["to"],
            reason=data["reason"],
        )  # fmt: skip

    @server.tool(annotations=READ)
    def memory_status() -> out.StatusResult:
        """The store: where it is, how many memories, how many indexed, items waiting to be
        retried, the kinds memory_add takes, and the running service if any."""
        with told():
            data = ops().status()
        return out.StatusResult.model_validate(
            {
                **{k: data.get(k) for k in ("store", "memory_files", "indexed", "kinds")},
                "retry_queue": len(data.get("retry_queue") or []),
                "dead_letters": len(data.get("dead_letters") or []),
                "service": data.get("service"),
                "last_report": data.get("last_report"),
            }
        )

    @server.tool(annotations=READ)
    def memory_pending_sessions(
        limit: Annotated[int, Field(ge=1, le=20, description="at most this many")] = 3,
    ) -> out.PendingResult:
        """This project's agent sessions (Claude Code, Codex, Cursor, OpenCode, OpenClaw) that
        nobody distilled into memories yet, newest first. When the user asks to save, sync or
        distil memory: take a few, and for each read memory_session_digest, record what is
        worth keeping with memory_add (session = its id), then call memory_session_done."""
        from service.sessions import list_sessions

        with told():
            store = ops()
            data = list_sessions(store.settings, store.layout, pending=True, limit=limit)
        return out.PendingResult(pending=data["counts"]["pending"], sessions=data["sessions"])

    @server.tool(annotations=READ)
    def memory_session_digest(
        session: SessionRef,
        budget: Annotated[
            int | None, Field(ge=300, le=50_000, description="tokens (default 6,000)")
        ] = None,
    ) -> out.DigestResult:
        """A session's compact digest: the user's requests, corrections and answers, what was
        found, each error with the edit that fixed it and the check that passed, summaries,
        files changed, plus the offline rules' guesses as hints. Read it, then record with
        memory_add what a developer returning to the project would want back."""
        from service.sessions import session_digest

        with told():
            store = ops()
            found = session_digest(store.settings, store.layout, session, budget=budget)
        return out.DigestResult.model_validate(found)

    @server.tool(annotations=ToolAnnotations(idempotent_hint=True, open_world_hint=False))
    def memory_session_done(session: SessionRef) -> out.DoneResult:
        """Mark a session distilled, even when it held nothing worth keeping, so that it is
        not offered again (unless it grows)."""
        from service.sessions import mark_done

        with told():
            store = ops()
            done = mark_done(store.settings, store.layout, [session])
        return out.DoneResult.model_validate(done)

    return server


@contextmanager
def told() -> Iterator[None]:
    """memsync's errors reach the agent as the tool's error, in their own words (no store
    here, an unknown id, a kind that does not exist, a busy store)."""
    try:
        yield
    except MemsyncError as exc:
        raise ToolError(str(exc)) from None


def run_stdio(ops: Ops) -> None:
    """Serve the tools on stdin/stdout until the agent closes them."""
    build_server(ops).run("stdio")
