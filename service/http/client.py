"""The CLI's way to a running service: same requests, same JSON, same exit codes."""

from __future__ import annotations

import hmac
import http.client
import ipaddress
import json
import os
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sync.errors import ConfigError, LockBusyError, MemsyncError, UsageError
from sync.store import StoreLayout


@dataclass(frozen=True)
class Remote:
    url: str
    token: str | None


def find_service(layout: StoreLayout, env: dict[str, str] | os._Environ[str]) -> Remote | None:
    """The running service of this store, if .memsync/service.json names one that proves it.

    The file is a hint, not trust (anyone can commit one to a shared repository): its pid
    must be a live `memsync serve` of this user, its URL a loopback one, its store this
    store, and the service answering there must know the instance id written at its start.
    Otherwise the command works locally and no token or data goes anywhere."""
    info = _read_info(layout.service_path)
    if info is None:
        return None
    url, why = str(info.get("url", "")), _distrust(info, layout)
    if why is not None:
        if not why.startswith("stale"):  # a service killed without cleaning up: not news
            print(
                f"memsync: ignoring {layout.service_path} ({why}); working locally", file=sys.stderr
            )
        return None
    try:
        data = request(Remote(url, None), "GET", "/healthz", timeout=2.0)
    except MemsyncError:
        return None  # it stopped, or is not up yet
    if not hmac.compare_digest(str(data.get("instance", "")), str(info["instance"])):
        print(
            f"memsync: ignoring {layout.service_path} (the service at {url} is not this "
            "store's); working locally",
            file=sys.stderr,
        )
        return None
    return Remote(url, env.get("MEMSYNC_API_TOKEN") or None)


def _read_info(path: Path) -> dict[str, Any] | None:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # no file, or unreadable
    return info if isinstance(info, dict) else None


def _distrust(info: dict[str, Any], layout: StoreLayout) -> str | None:
    """Why the file cannot be believed, or None."""
    pid, url, instance = info.get("pid"), info.get("url"), info.get("instance")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 1:
        return f"pid {pid!r} is not a process id"
    if not isinstance(instance, str) or len(instance) < 16:
        return "it carries no instance id"
    if not isinstance(url, str) or not is_loopback_url(url):
        return f"{url!r} is not a loopback address"
    store = info.get("store")
    if not isinstance(store, str) or Path(store).resolve() != layout.root.resolve():
        return "it names another store"
    return _process_problem(pid)


def _process_problem(pid: int) -> str | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "stale: its process is gone"
    except PermissionError:
        return f"pid {pid} belongs to another user"
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():
        return None  # no /proc here: the instance id check decides
    try:
        if proc.stat().st_uid != os.getuid():
            return f"pid {pid} belongs to another user"
        args = proc.joinpath("cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"pid {pid} cannot be inspected"
    names = {Path(a.decode(errors="replace")).name for a in args}
    if "serve" not in names or not names & {"memsync", "service"}:
        return f"pid {pid} is not a `memsync serve` process"
    return None


def is_loopback_url(url: str) -> bool:
    """``http://`` to 127.0.0.0/8, ::1 or localhost, with a port."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return False
    host = parts.hostname or ""
    if parts.scheme != "http" or port is None or parts.username or parts.password:
        return False
    return is_loopback(host)


def is_loopback(host: str) -> bool:
    """``localhost`` or an address in 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
