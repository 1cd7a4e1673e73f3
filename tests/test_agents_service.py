"""The agents' side of `memsync serve`: the MCP tools at /mcp behind the API's token, the
endpoints they use (archive, recent, queued capture), and a real service that the stdio MCP
server, the SDK's HTTP client and the hooks all go through."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient

from service.agents.mcp_http import mcp_mount
from service.http.api import create_app
from service.http.runtime import ServiceState
from service.settings import Settings
from sync.index.engine import SyncDeps
from sync.store import StoreLayout
from tests.agents_world import SESSION_ID, child_env, claude_session, seed_project
from tests.conftest import MEMSYNC, one_json, run

TOKEN = "agents-token"
RPC_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.fixture
def state(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps], encoder: Any
) -> Iterator[ServiceState]:
    seed_project(layout, make_deps())
    st = ServiceState(layout, Settings(), encoder=encoder)
    st.open()
    yield st
    st.close()


def rpc(client: TestClient, method: str, params: dict[str, Any] | None = None,
        token: str | None = TOKEN) -> httpx.Response:  # fmt: skip
    headers = dict(RPC_HEADERS)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
    return client.post("/mcp", json=body, headers=headers)


def test_mcp_endpoint_answers_behind_the_api_token(state: ServiceState) -> None:
    app = create_app(state, TOKEN, mounts=[mcp_mount(state)])
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        refused = rpc(client, "tools/list", token=None)
        assert refused.status_code == 401 and "Bearer" in refused.json()["error"]["message"]
        assert rpc(client, "tools/list", token="wrong").status_code == 401
        assert client.get("/api/status").status_code == 401  # the same rule as /api
        listed = rpc(client, "tools/list")
        assert listed.status_code == 200, listed.text
        assert len(listed.json()["result"]["tools"]) == 9
        search = {"name": "memory_search", "arguments": {"query": "job queue database"}}
        found = rpc(client, "tools/call", search)
        result = found.json()["result"]
        assert (
            not result.get("isError") and result["structuredContent"]["results"][0]["id"] == "m-db"
        )
        status = rpc(client, "tools/call", {"name": "memory_status", "arguments": {}})
        assert status.json()["result"]["structuredContent"]["service"]["pid"] == os.getpid()
    app = create_app(state, TOKEN, mounts=[mcp_mount(state)])
    with TestClient(app, base_url="http://evil.example") as client:  # DNS rebinding
        assert rpc(client, "tools/list").status_code == 400  # the Host guard (as for /api)


def test_archive_recent_and_a_queued_capture_through_the_api(state: ServiceState) -> None:
    home = Path(os.environ["HOME"])
    transcript = claude_session(home, state.layout.root.parent)
    client = TestClient(
        create_app(state), base_url="http://127.0.0.1:8765", raise_server_exceptions=False
    )
    recent = client.get("/api/memories", params={"sort": "recent", "limit": 2}).json()
    assert recent["total"] == 4 and len(recent["memories"]) == 2
    assert all(m["updated"] for m in recent["memories"])
    archived = client.post("/api/archive", json={"memory_id": "m-upload", "reason": "fixed"})
    assert archived.status_code == 200 and archived.json()["to"].startswith("archived/")
    again = client.post("/api/archive", json={"memory_id": "m-upload", "reason": "fixed"})
    assert again.status_code == 400 and "already archived" in again.json()["error"]["message"]
    assert client.get("/api/memories", params={"sort": "recent"}).json()["total"] == 3
    bad = client.post("/api/sync", json={"wait": False, "dry_run": True})
    assert bad.status_code == 400
    body = {"sessions": [str(transcript)], "wait": False, "scope": "sessions"}
    with state.write_lock:  # a run in progress: what is queued behind it waits
        queued = client.post("/api/sync", json=body)
        assert queued.status_code == 202 and queued.json()["queued"] is True
        while state.queued()["waiting"] and not state._running:
            time.sleep(0.05)
        behind = client.post("/api/sync", json=body).json()
        assert "already_waiting" not in behind  # the first one has started
        assert client.post("/api/sync", json=body).json()["already_waiting"] is True
        assert state.queued()["waiting"] == 2
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and state.queued()["waiting"]:
        time.sleep(0.2)
    assert state.last_queued and state.last_queued["counts"], state.last_queued
    decisions = [p.name for p in (state.layout.memory_dir / "decisions").iterdir()]
    assert any("zstd" in n for n in decisions), decisions
    queued_syncs = client.get("/api/status").json()["service"]["queued_syncs"]
    assert queued_syncs["waiting"] == 0 and queued_syncs["last"]["run_id"]


@pytest.fixture
def served(layout: StoreLayout, make_deps: Callable[..., SyncDeps]) -> Iterator[dict[str, Any]]:
    """A real `memsync serve` with a token, for this project, under a private HOME."""
    seed_project(layout, make_deps())
    project, home = layout.root.parent, Path(os.environ["HOME"])
    env = child_env(home, MEMSYNC_API_TOKEN=TOKEN)
    server = subprocess.Popen(
        [*MEMSYNC, "serve", "--port", "0", "--sync-every", "0"],
        cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    info = layout.service_path
    try:
        deadline = time.monotonic() + 120
        while not info.exists() and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.1)
        assert info.exists(), server.stderr.read() if server.stderr else ""
        yield {"url": json.loads(info.read_text())["url"], "env": env, "project": project,
               "home": home, "layout": layout}  # fmt: skip
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def hook(
    event: str, fields: dict[str, Any], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MEMSYNC, "hook", event],
        input=json.dumps(fields),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )


@pytest.mark.slow
def test_agents_go_through_a_running_service(served: dict[str, Any]) -> None:
    from mcp import Client, StdioServerParameters
    from mcp.client.streamable_http import streamable_http_client

    url, env, project = served["url"], served["env"], served["project"]
    assert httpx.post(f"{url}/mcp", json={}, headers=RPC_HEADERS).status_code == 401

    async def agents() -> None:
        import httpx2

        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            transport = streamable_http_client(f"{url}/mcp", http_client=http)
            async with Client(transport, mode="legacy") as client:
                found = await client.call_tool("memory_search", {"query": "job queue database"})
                assert found.structured_content["results"][0]["id"] == "m-db"  # type: ignore[index]
        stdio = StdioServerParameters(command=MEMSYNC[0], args=[*MEMSYNC[1:], "mcp"], env=env,
                                      cwd=str(project))  # fmt: skip
        async with Client(stdio, mode="legacy") as client:
            status = await client.call_tool("memory_status", {})
            service = status.structured_content["service"]  # type: ignore[index]
            assert service and service["url"] == url  # routed through the service

    anyio.run(agents)
    prompt = {"cwd": str(project), "hook_event_name": "UserPromptSubmit", "session_id": "s",
              "prompt": "Which database should the job queue use?"}  # fmt: skip
    hooked = hook("UserPromptSubmit", prompt, env)
    assert hooked.returncode == 0
    assert "[m-db]" in json.loads(hooked.stdout)["hookSpecificOutput"]["additionalContext"]
    transcript = claude_session(served["home"], project)
    end = {"cwd": str(project), "hook_event_name": "PreCompact", "session_id": SESSION_ID,
           "transcript_path": str(transcript), "trigger": "auto"}  # fmt: skip
    compacted = hook("PreCompact", end, env)
    assert compacted.returncode == 0 and compacted.stdout == ""
    layout: StoreLayout = served["layout"]
    assert f"handed to the service at {url}" in (layout.state_dir / "hooks.log").read_text()
    decisions = layout.memory_dir / "decisions"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any("zstd" in p.name for p in decisions.iterdir()):
        time.sleep(0.3)
    assert any("zstd" in p.name for p in decisions.iterdir())
    archived = run(["archive", "m-tests", "--reason", "superseded", "--json"], project, env)
    assert archived.returncode == 0, archived.stderr
    assert one_json(archived.stdout)["to"].startswith("archived/")  # answered by the service
