"""`memsync serve`: run the API on one socket, advertise it in .memsync/service.json."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from service.http.client import is_loopback
from service.http.mounts import Mounted
from service.settings import Settings
from sync.errors import ConfigError
from sync.fsutil import atomic_write_bytes
from sync.store import StoreLayout

if TYPE_CHECKING:
    from service.http.runtime import ServiceState


def serve(
    layout: StoreLayout,
    settings: Settings,
    *,
    host: str,
    port: int,
    token: str | None,
    sync_every_s: float,
    mounts: Sequence[Callable[[ServiceState, str], Mounted]] = (),
) -> None:
    """Serve until interrupted. Refuses a non-loopback address without a token. ``mounts``
    make the apps served beside the API (the MCP endpoint) for the running state."""
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"serving on {host} exposes your memories: set MEMSYNC_API_TOKEN (clients send "
            "'Authorization: Bearer <token>'), or keep the default --host 127.0.0.1"
        )
    import uvicorn

    from service.http.api import create_app
    from service.http.runtime import ServiceState as State

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = listen(host, port, family)
    state = State(layout, settings)
    state.open()
    info = layout.service_path
    # the CLI believes service.json only when the service at its URL knows this id
    instance = secrets.token_hex(16)
    try:
        url_host = f"[{host}]" if family == socket.AF_INET6 else host
        bound = sock.getsockname()[1]
        state.url = f"http://{_client_host(host, family)}:{bound}"
        atomic_write_bytes(  # readable by this user only (a temporary file's mode, 0600)
            info,
            json.dumps(
                {
                    "url": state.url,
                    "pid": os.getpid(),
                    "instance": instance,
                    "store": str(layout.root.resolve()),
                    "token_required": bool(token),
                    "started": state.started.isoformat(timespec="seconds"),
                }
            ).encode(),
        )
        print(f"memsync: serving {layout.root} on http://{url_host}:{bound}", file=sys.stderr)
        state.start_background_sync(sync_every_s, settings.maintain_interval_min * 60)
        app = create_app(
            state,
            token,
            instance=instance,
            allowed_hosts=_hosts(host),
            mounts=[make(state, host) for make in mounts],
        )
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        # uvicorn re-raises SIGTERM after its graceful shutdown: exit normally instead, so
        # that the cleanup below (service.json, the store lock, the index) always runs
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
            if json.loads(info.read_text())["pid"] == os.getpid():
                info.unlink()
        state.close()
        sock.close()


def _client_host(host: str, family: socket.AddressFamily) -> str:
    """Where this machine's CLI reaches the service: loopback whatever address is bound."""
    if is_loopback(host):
        return f"[{host}]" if family == socket.AF_INET6 else host
    return "[::1]" if family == socket.AF_INET6 else "127.0.0.1"


def _hosts(host: str) -> tuple[str, ...]:
    """Host header names the service answers to: loopback names, plus the bound address."""
    names = ("127.0.0.1", "localhost", "::1", "[::1]")
    return names if is_loopback(host) or host in ("0.0.0.0", "::") else (*names, host)


def listen(host: str, port: int, family: socket.AddressFamily) -> socket.socket:
    """A listening TCP socket whose connections send without Nagle's delay.

    asyncio turns TCP_NODELAY on only for sockets created with IPPROTO_TCP; without it every
    response on a kept-alive connection waited for the client's delayed ACK (~40 ms)."""
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock
