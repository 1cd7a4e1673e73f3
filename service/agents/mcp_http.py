"""The MCP tools on `memsync serve`, at /mcp (streamable HTTP): the same tools as `memsync mcp`,
answered by the running service with the model and index it holds, behind the API's token."""

from __future__ import annotations

from service.agents.mcp_server import build_server
from service.agents.ops import StateOps
from service.http.mounts import Mounted
from service.http.runtime import ServiceState

PATH = "/mcp"


def mcp_mount(state: ServiceState, host: str = "127.0.0.1") -> Mounted:
    """The /mcp endpoint for ``state``. Stateless (each request stands alone) with JSON
    answers; on a loopback address the SDK also refuses other Host and Origin headers (DNS
    rebinding), and any other address needs the API token anyway."""
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp

    server = build_server(lambda: StateOps(state))
    server.streamable_http_app(
        streamable_http_path=PATH, stateless_http=True, json_response=True, host=host
    )
    manager = server.session_manager
    return Mounted(PATH, StreamableHTTPASGIApp(manager), manager.run)
