"""The CLI's way to a running service: same requests, same JSON, same exit codes."""

from __future__ import annotations

import json
import os
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
    import httpx

    headers = {"Authorization": f"Bearer {remote.token}"} if remote.token else {}
    try:
        response = httpx.request(
            method, remote.url + path, json=body, params=params, headers=headers, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise MemsyncError(f"the memsync service at {remote.url} did not answer: {exc}") from None
    try:
        data = response.json()
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
