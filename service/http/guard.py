"""What every request passes before the API sees it (an ASGI middleware):

- the Host header must name this service (loopback names, or the address it was bound to):
  a web page that rebinds its own name to 127.0.0.1 reaches the port, but not the API;
- a write (POST, PUT, PATCH, DELETE) sent by a browser must come from the service's own page
  (its Origin), so no other site can add memories or start runs;
- the body is read whole, up to the limit, before the API starts (413 beyond it, announced
  or streamed), and a JSON body with a lone surrogate (``"\\ud800"``) is refused with 400.

Refusals answer the API's documented error body ``{"error": {"type", "message"}}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def host_name(value: str) -> str:
    """``127.0.0.1:8765`` -> ``127.0.0.1``; ``[::1]:8765`` -> ``::1``; lower case."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """Host and Origin checks, a bounded body read whole, lone surrogates refused."""

    def __init__(self, app: Any, max_body: int, hosts: Iterable[str] = LOOPBACK_HOSTS) -> None:
        self.app, self.max_body = app, max_body
        self.hosts = {host_name(h) for h in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
        if host_name(headers.get("host", "")) not in self.hosts:
            await refuse(send, 400, "BadHost", "this service answers only to its own address")
            return
        origin = headers.get("origin")
        if scope["method"] in _WRITES and origin is not None and not self._own(origin):
            msg = f"writes from the page at {origin[:100]} are refused"
            await refuse(send, 403, "BadOrigin", msg)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            await too_large(send, self.max_body)
            return
        body, complete = await self._read(receive)
        if not complete:
            await too_large(send, self.max_body)
            return
        if _SURROGATE_ESCAPE.search(body) and _lone_surrogate(body):
            await refuse(send, 400, "BadRequest", "the JSON body holds a lone surrogate (\\ud800)")
            return
        await self.app(scope, _replay(body, receive), send)

    def _own(self, origin: str) -> bool:
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and host_name(parts.netloc) in self.hosts

    async def _read(self, receive: Receive) -> tuple[bytes, bool]:
        """The whole body, or (what was read, False) once it passes the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), True  # the client left; the app sees the disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return b"", False
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), True


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as servers do

    return again


def _lone_surrogate(body: bytes) -> bool:
    """Whether the JSON text decodes to a string with an unpaired surrogate."""
    try:
        data = json.loads(body)
    except ValueError:
        return False  # not JSON: the API reports that itself
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= c <= "\udfff" for c in item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


async def refuse(send: Send, status: int, kind: str, message: str) -> None:
    body = json.dumps({"error": {"type": kind, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def too_large(send: Send, limit: int) -> None:
    await refuse(send, 413, "BodyTooLarge", f"request body over {limit} bytes")
