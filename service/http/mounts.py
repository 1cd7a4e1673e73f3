"""Other ASGI apps the service serves beside its API (the MCP endpoint at /mcp), behind the
same token rule: with a token set, every request needs ``Authorization: Bearer <token>`` and
is refused with 401 and the API's ``{"error": ...}`` body otherwise."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
UNAUTHORIZED = "missing or wrong token: send 'Authorization: Bearer <MEMSYNC_API_TOKEN>'"


@dataclass(frozen=True)
class Mounted:
    """An ASGI app served at ``path``, and what must run while the service runs (its
    lifespan: the MCP session manager's task group)."""

    path: str
    app: ASGIApp
    lifespan: Callable[[], AbstractAsyncContextManager[Any]]


def authorized(header: str | None, token: str | None) -> bool:
    """The API's token rule: no token set lets every request in; else the header must be
    ``Bearer <token>`` (the scheme required, the token compared in constant time)."""
    if token is None:
        return True
    scheme, _, given = (header or "").strip().partition(" ")
    same = secrets.compare_digest(given.strip().encode(), token.encode())
    return scheme.lower() == "bearer" and bool(given.strip()) and same


class TokenGate:
    """ASGI middleware applying :func:`authorized` to every HTTP request of ``app``."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            header = headers.get(b"authorization", b"").decode("latin-1") or None
            if not authorized(header, self.token):
                await _refuse(send)
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send) -> None:
    await send_error(send, 401, "Unauthorized", UNAUTHORIZED, ((b"www-authenticate", b"Bearer"),))


async def send_error(
    send: Send, status: int, kind: str, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """Answer with the API's error body, ``{"error": {"type", "message"}}``, from ASGI code."""
    body = json.dumps({"error": {"type": kind, "message": message}}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*head, *headers]})
    await send({"type": "http.response.body", "body": body})
