"""`memsync hook EVENT`: the coding agent's lifecycle hooks (Claude Code; Codex speaks the same
JSON). The agent sends the event as JSON on stdin (session_id, transcript_path, cwd,
hook_event_name, plus source / prompt / reason / trigger); what is printed reaches the model.

- SessionStart: a brief of what this project's memory holds (within [hooks] brief_tokens).
- UserPromptSubmit: the memories relevant to the prompt above the relevance floor, or nothing
  at all (within [hooks] prompt_tokens).
- SessionEnd, PreCompact: the transcript is handed to the running service, or to a detached
  `memsync sync --session PATH`, and the hook returns at once.

A hook never fails the agent's session: on any error it prints nothing, exits 0 and logs to
.memsync/state/hooks.log. It does nothing where no store exists (found from the payload's
cwd), and nothing inside memsync's own language-model calls (MEMSYNC_LM_SUBPROCESS)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync.errors import MemsyncError, StoreNotFoundError, UsageError
from sync.store import StoreLayout

if TYPE_CHECKING:
    from service.settings import Settings

EVENTS = ("SessionStart", "UserPromptSubmit", "SessionEnd", "PreCompact")
LOOP_GUARD = "MEMSYNC_LM_SUBPROCESS"  # set for the agents' CLIs memsync runs as its LM
LOG_NAME = "hooks.log"
LOG_MAX_BYTES = 1024 * 1024
MIN_PROMPT_WORDS = 3


def run_hook(event: str, stdin: str, env: Mapping[str, str], cwd: Path) -> str:
    """What the hook prints for ``event`` (its JSON output, or ""); never raises."""
    if env.get(LOOP_GUARD):
        return ""
    layout: StoreLayout | None = None
    try:
        payload = parse_payload(stdin)
        from service.settings import locate_store

        try:
            layout = locate_store(Path(str(payload.get("cwd") or cwd)), env)
        except StoreNotFoundError:
            return ""  # no memory here: nothing to say, nothing to capture
        return _handle(event, payload, layout, env)
    except Exception as exc:  # boundary: a hook must never break the agent's session
        log(layout or _store_of(cwd, env), event, f"failed: {type(exc).__name__}: {exc}")
        return ""


def _store_of(folder: Path, env: Mapping[str, str]) -> StoreLayout | None:
    """The store to log into when the payload did not say where the session runs."""
    from service.settings import locate_store

    try:
        return locate_store(folder, env)
    except (MemsyncError, OSError):  # no store (or a bad MEMSYNC_DIR): nowhere to log
        return None


def parse_payload(stdin: str) -> dict[str, Any]:
    """The event's JSON object (an empty stdin is an empty payload)."""
    if not stdin.strip():
        return {}
    payload = json.loads(stdin)
    if not isinstance(payload, dict):
        raise UsageError(f"the hook payload is a JSON {type(payload).__name__}, not an object")
    return payload


def _handle(
    event: str, payload: dict[str, Any], layout: StoreLayout, env: Mapping[str, str]
) -> str:
    from service.settings import load_settings

    settings = load_settings(layout, env)
    if event == "SessionStart":
        from service.agents.brief import session_brief

        return context(event, session_brief(layout, settings.hooks_brief_tokens))
    if event == "UserPromptSubmit":
        prompt = str(payload.get("prompt") or "")
        if not worth_recalling(prompt):
            return ""
        from service.agents.brief import prompt_recall

        found = recall(layout, settings, prompt[:4000], env)
        return context(event, prompt_recall(found, settings.hooks_prompt_tokens))
    if event in ("SessionEnd", "PreCompact"):
        transcript = str(payload.get("transcript_path") or "")
        if not transcript or not Path(transcript).expanduser().is_file():
            log(layout, event, f"no transcript to capture ({transcript or 'none given'})")
            return ""
        how = hand_over(layout, transcript, env)
        log(layout, event, f"capture of {transcript} handed to {how}")
        return ""
    return ""


def context(event: str, text: str) -> str:
    """The JSON that adds ``text`` to the agent's context ("" adds nothing)."""
    if not text:
        return ""
    output = {"hookSpecificOutput": {"hookEventName": event, "additionalContext": text}}
    return json.dumps(output, ensure_ascii=False)


def worth_recalling(prompt: str) -> bool:
    """A prompt with something to recall for: a few words, not a slash command."""
    text = prompt.strip()
    return len(text.split()) >= MIN_PROMPT_WORDS and not text.startswith("/")


def recall(
    layout: StoreLayout, settings: Settings, prompt: str, env: Mapping[str, str]
) -> dict[str, Any]:
    """The memories above the relevance floor for ``prompt``: asked of the running service
    (model loaded), else in this process (the configured encoder, loaded for this prompt)."""
    service = running_service(layout, env)
    k = settings.hooks_prompt_k
    if service is not None:
        body = {"question": prompt, "k": k, "answer": False}
        return post(*service, "/api/ask", body, timeout=20)
    from service.agents.ops import LocalOps

    return LocalOps(layout, settings).search(prompt, k, [], [])


def hand_over(layout: StoreLayout, transcript: str, env: Mapping[str, str]) -> str:
    """Capture ``transcript`` without waiting: queued on the running service, else by a
    detached `memsync sync --session` (a busy store: the next sync captures it)."""
    service = running_service(layout, env)
    if service is not None:
        body = {"sessions": [transcript], "scope": "sessions", "wait": False}
        post(*service, "/api/sync", body, timeout=5)
        return f"the service at {service[0]}"
    command = [sys.executable, "-m", "service", "sync", "--session", transcript]
    with open(_log_path(layout), "ab") as errors:
        proc = subprocess.Popen(
            [*command, "--scope", "sessions"],
            cwd=layout.root.parent,
            env={**env, "MEMSYNC_DIR": str(layout.root)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,  # outlives the agent's hook runner
        )
    return f"a detached `memsync sync` (pid {proc.pid})"


def running_service(layout: StoreLayout, env: Mapping[str, str]) -> tuple[str, str | None] | None:
    """The address and token of the store's running service, when .memsync/service.json
    names one that proves it (a live `memsync serve` of this user on loopback, serving this
    store: see ``find_service``). Only the standard library's HTTP client is used on this
    path: a hook runs at every prompt, and importing httpx alone costs more than the answer."""
    from service.http.client import find_service

    remote = find_service(layout, dict(env))
    return (remote.url, remote.token) if remote is not None else None


def post(url: str, token: str | None, path: str, body: dict[str, Any], timeout: float) -> Any:
    """One JSON request to the service; an error answer raises with its message."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request("POST", path, json.dumps(body), headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    if response.status >= 400:
        raise MemsyncError(f"the service at {url} answered {response.status}: {data[:300]!r}")
    return json.loads(data)


def log(layout: StoreLayout | None, event: str, message: str) -> None:
    """One line in .memsync/state/hooks.log (the older half dropped past 1 MiB)."""
    if layout is None:
        return
    path = _log_path(layout)
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    try:
        if path.exists() and path.stat().st_size > LOG_MAX_BYTES:
            path.write_bytes(path.read_bytes()[-LOG_MAX_BYTES // 2 :])
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{stamp} {event} {message}\n")
    except OSError:
        pass  # a read-only store: nowhere to log, still nothing printed


def _log_path(layout: StoreLayout) -> Path:
    layout.state_dir.mkdir(parents=True, exist_ok=True)
    return layout.state_dir / LOG_NAME


def main_hook(event: str) -> int:
    """The CLI's entry: read stdin, print what the agent expects, exit 0 whatever happens."""
    try:
        stdin = sys.stdin.read()
    except (OSError, UnicodeDecodeError):
        stdin = ""
    out = run_hook(event, stdin, dict(os.environ), Path.cwd())
    if out:
        sys.stdout.write(out + "\n")
        sys.stdout.flush()
    return 0
