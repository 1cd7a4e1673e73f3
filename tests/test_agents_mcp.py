"""`memsync mcp` with a real MCP client: the SDK's stdio client starts `python -m service mcp`
as an agent would, lists the tools, searches, adds a duplicate, gets, archives, and runs the
distillation loop over a Claude Code session of the project."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from sync.index.engine import SyncDeps
from sync.store import StoreLayout
from tests.agents_world import SESSION_ID, child_env, claude_session, seed_project

TOOLS = {
    "memory_search", "memory_get", "memory_add", "memory_recent", "memory_archive",
    "memory_status", "memory_pending_sessions", "memory_session_digest", "memory_session_done",
}  # fmt: skip


class Session:
    """Calls on one MCP client session: each tool's structured result, or its error text."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self.client.call_tool(tool, arguments)
        assert not result.is_error, (tool, result.content)
        assert result.structured_content is not None
        return dict(result.structured_content)

    async def error(self, tool: str, **arguments: Any) -> str:
        result = await self.client.call_tool(tool, arguments)
        assert result.is_error, (tool, result.structured_content)
        return " ".join(getattr(c, "text", "") for c in result.content)


def serve_stdio(project: Path, **env: str) -> StdioServerParameters:
    home = Path(os.environ["HOME"])
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "service", "mcp"],
        env=child_env(home, **env),
        cwd=str(project),
    )


@pytest.mark.slow
def test_an_agent_uses_memory_through_the_mcp_tools(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    seed_project(layout, make_deps())
    project = layout.root.parent
    claude_session(Path(os.environ["HOME"]), project)

    async def agent() -> None:
        async with Client(serve_stdio(project), mode="legacy") as client:
            s = Session(client)
            listed = (await client.list_tools()).tools
            assert {t.name for t in listed} == TOOLS
            for tool in listed:
                assert tool.description and len(tool.description) > 80  # says when to use it
                assert tool.input_schema["type"] == "object" and tool.output_schema
            search = next(t for t in listed if t.name == "memory_search")
            assert search.input_schema["required"] == ["query"]
            assert search.input_schema["properties"]["k"]["maximum"] == 20

            found = await s.call("memory_search", query="which database runs the job queue?")
            assert found["results"][0]["id"] == "m-db" and not found["no_strong_match"]
            assert all(r["score"] >= found["min_score"] for r in found["results"])
            nothing = await s.call("memory_search", query="a good recipe for sourdough bread")
            assert nothing["results"] == [] and nothing["no_strong_match"] is True

            duplicate = await s.call(
                "memory_add", kind="decision", title="Use PostgreSQL for the job queue",
                body="SKIP LOCKED gives a transactional queue, so there is no Redis to run.",
            )  # fmt: skip
            assert duplicate["action"] == "noop" and duplicate["id"] == "m-db"
            added = await s.call(
                "memory_add", kind="learning", tags=["release"],
                title="Release tags need a signed annotation",
                body="git tag -s v1.2.0 -m 'v1.2.0'; the release job rejects lightweight tags.",
            )  # fmt: skip
            assert added["action"] == "add" and added["nearest"]
            got = await s.call("memory_get", id=added["id"])
            assert got["title"] == "Release tags need a signed annotation"
            assert got["tags"] == ["release"] and got["source"]["agent"] == "mcp"
            assert "no indexed memory" in await s.error("memory_get", id="no-such-memory")
            assert "not a kind" in await s.error(
                "memory_add", kind="decisoin", title="t", body="b"
            )  # fmt: skip

            recent = await s.call("memory_recent", limit=3)
            assert recent["memories"][0]["id"] == added["id"] and recent["total"] == 5
            archived = await s.call(
                "memory_archive", id="m-upload", reason="fixed by retrying the upload"
            )  # fmt: skip
            assert archived["moved_to"].startswith("archived/")
            flaky = await s.call("memory_search", query="flaky upload test on CI")
            assert "m-upload" not in [r["id"] for r in flaky["results"]]
            status = await s.call("memory_status")
            assert status["indexed"] == 5 and status["service"] is None
            assert "issue" in status["kinds"]

            pending = await s.call("memory_pending_sessions")
            assert [p["id"] for p in pending["sessions"]] == [SESSION_ID]
            digest = await s.call("memory_session_digest", session=SESSION_ID)
            assert "zstd compression" in digest["digest"] and digest["tokens"] > 0
            distilled = await s.call(
                "memory_add", kind="decision", session=SESSION_ID,
                title="Upload archives are compressed with zstd", body="zstd is fast enough.",
            )  # fmt: skip
            memory = await s.call("memory_get", id=distilled["id"])
            assert memory["source"]["session"] == SESSION_ID
            assert memory["created"].startswith("2026-11-20")  # dated by its session
            done = await s.call("memory_session_done", session=SESSION_ID)
            assert done["done"][0]["id"] == SESSION_ID
            assert (await s.call("memory_pending_sessions"))["pending"] == 0

    anyio.run(agent)


def test_without_a_store_the_server_starts_and_the_tools_say_so(tmp_path: Path) -> None:
    async def agent() -> None:
        async with Client(serve_stdio(tmp_path), mode="legacy") as client:
            assert len((await client.list_tools()).tools) == len(TOOLS)
            result = await client.call_tool("memory_status", {})
            assert result.is_error
            assert "memsync init" in " ".join(getattr(c, "text", "") for c in result.content)

    anyio.run(agent)
