"""The CLI's way to a running service: same requests, same JSON, same exit codes."""

from __future__ import annotations

import http.client
import json
import os
import urllib.parse
from dataclasses import dataclass
from typing import Any

from sync.errors import ConfigError, LockBusyError, MemsyncError, UsageError
from sync.store import StoreLayout


@dataclass(frozen=True)
class Remote:
    url: str
    token: str | None


def find_service(layout: StoreLayout, env: dict[str, str] | os._Environ[str]) -> Remote | None:
    """The running service of this store, if .memsync/service.json names a live one."""
    path = layout.service_path
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        os.kill(int(info["pid"]), 0)
        url = str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no file, unreadable, or its process is gone
    remote = Remote(url, env.get("MEMSYNC_API_TOKEN") or None)
    try:
        request(remote, "GET", "/healthz", timeout=2.0)
    except MemsyncError:
        return None
    return remote


def request(
    remote: Remote,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    timeout: float = 3600.0,
) -> dict[str, Any]:
    """One API call; HTTP errors come back as the exceptions the CLI maps to exit codes."""
    headers = {"Authorization": f"Bearer {remote.token}"} if remote.token else {}
    try:
        response = _send(method, remote.url + path, body, params, headers, timeout)
    except (OSError, http.client.HTTPException) as exc:
        raise MemsyncError(f"the memsync service at {remote.url} did not answer: {exc}") from None
    try:
        data = json.loads(response.text)
    except ValueError:
        data = {}
    if response.status_code < 400:
        return dict(data)
    message = data.get("error", {}).get("message") or str(data.get("detail") or response.text)
    if response.status_code in (401, 403):
        raise ConfigError(f"the service refused the request: {message} (set MEMSYNC_API_TOKEN)")
    if response.status_code == 409:
        raise LockBusyError(message)
    if response.status_code in (400, 404, 413, 422):
        raise UsageError(message)
    raise MemsyncError(f"the service failed: {message}")


@dataclass(frozen=True)
class _Response:
    status_code: int
    text: str


def _send(
    method: str,
    url: str,
    body: dict[str, Any] | None,
    params: dict[str, Any] | None,
    headers: dict[str, str],
    timeout: float,
) -> _Response:
    """The request over the standard library's HTTP client: the service is local, and a
    client library costs the CLI more start-up time than the whole answer takes."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path or "/"
    if params:
        target += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode("utf-8")
        if payload is not None:
            headers = {**headers, "Content-Type": "application/json"}
        conn.request(method, target, body=payload, headers=headers)
        response = conn.getresponse()
        return _Response(response.status, response.read().decode("utf-8", "replace"))
    finally:
        conn.close()
