#!/usr/bin/env python3
"""The agents' side, measured as an agent meets it: a cold `memsync mcp` answering
`initialize` + `tools/list` (the SDK's stdio client), and the wall time of each
`memsync hook EVENT` process — SessionStart, UserPromptSubmit, SessionEnd — without and with a
running `memsync serve`; plus the size of the session-start brief.

The store holds the 154 coding-agent memories of scripts/data/coding_memories.jsonl; prompts
are the coding questions (on subjects the store holds) and the unrelated questions of
scripts/data. Each hook runs the way an agent runs it (`python -m service hook EVENT`, the
`memsync` entry), and once more through the hook module alone (what the entry costs once the
CLI's own imports are light). The encoder comes from service.wiring (`[model] backend`), so a
faster backend shows up here without changes.

    .venv/bin/python scripts/bench_agents.py [--runs 20] [--cold-runs 4] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO / "scripts" / "data"
MEMSYNC = [sys.executable, "-m", "service"]
# how a hook process is started: as agents start it, and through the hook module alone
ENTRIES = {
    "memsync_entry": lambda event: [*MEMSYNC, "hook", event],
    "hook_module": lambda event: [sys.executable, "-c", "import sys; from service.agents."
                                  "hooks import main_hook; sys.exit(main_hook(sys.argv[1]))",
                                  event],
}  # fmt: skip


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_s": round(statistics.median(ordered), 3),
        "p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
        "max_s": round(ordered[-1], 3),
    }


def build_project(root: Path, env: dict[str, str]) -> Path:
    """A project whose store holds the coding memories, indexed."""
    project = root / "project"
    project.mkdir()
    subprocess.run([*MEMSYNC, "init"], cwd=project, env=env, check=True, capture_output=True)
    memory = project / ".memsync" / "memory"
    for line in (DATA / "coding_memories.jsonl").read_text().splitlines():
        m = json.loads(line)
        folder = memory / {"decision": "decisions", "learning": "learnings",
                           "insight": "insights", "summary": "summaries"}[m["kind"]]  # fmt: skip
        folder.mkdir(parents=True, exist_ok=True)
        front = {"id": m["id"], "kind": m["kind"], "title": m["title"], "tags": m["tags"],
                 "created": "2026-11-01T10:00:00Z", "updated": "2026-11-01T10:00:00Z"}  # fmt: skip
        text = "---\n" + "".join(f"{k}: {json.dumps(v)}\n" for k, v in front.items())
        (folder / f"{m['id']}.md").write_text(text + "---\n\n" + m["body"] + "\n")
    synced = subprocess.run([*MEMSYNC, "sync", "--scope", "memories"], cwd=project, env=env,
                            capture_output=True, text=True)  # fmt: skip
    if synced.returncode != 0:
        raise SystemExit(f"sync failed: {synced.stderr}")
    return project


def cold_tools_list(project: Path, env: dict[str, str], runs: int) -> dict[str, Any]:
    """Spawn `memsync mcp`, initialize, list the tools; the client's own start excluded."""
    import anyio
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=MEMSYNC[0], args=[*MEMSYNC[1:], "mcp"], env=env,
                                   cwd=str(project))  # fmt: skip
    samples: list[float] = []

    async def once() -> None:
        t0 = time.perf_counter()
        async with Client(params, mode="legacy") as client:
            tools = await client.list_tools()
            samples.append(time.perf_counter() - t0)
            assert len(tools.tools) == 9

    for _ in range(runs):
        anyio.run(once)
    imports = [_wall([sys.executable, "-c", "import mcp.server.mcpserver"], env) for _ in range(5)]
    bare = [_wall([sys.executable, "-c", "pass"], env) for _ in range(5)]
    return {"tools_list": stats(samples), "import_mcp_sdk": stats(imports),
            "python_start": stats(bare)}  # fmt: skip


def _wall(cmd: list[str], env: dict[str, str], stdin: str = "", cwd: Path | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, input=stdin, env=env, cwd=cwd or "/", capture_output=True, text=True,
                   check=False)  # fmt: skip
    return time.perf_counter() - t0


def hook(
    event: str, fields: dict[str, Any], env: dict[str, str], entry: str = "memsync_entry"
) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(ENTRIES[entry](event), input=json.dumps(fields), env=env, cwd="/",
                          capture_output=True, text=True, check=False)  # fmt: skip
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"hook {event} exited {done.returncode}: {done.stderr}")
    return wall, done.stdout


QUESTIONS = [json.loads(x)["q"] for x in (DATA / "coding_questions.jsonl").read_text().splitlines()]
UNRELATED = [
    json.loads(x)["q"] for x in (DATA / "unrelated_questions.jsonl").read_text().splitlines()
]


def hooks(project: Path, env: dict[str, str], runs: int, prompt_runs: int) -> dict[str, Any]:
    base = {"session_id": "bench", "cwd": str(project), "transcript_path": "/none"}
    related, unrelated = QUESTIONS, UNRELATED
    out: dict[str, Any] = {}
    for entry in ENTRIES:
        start = [hook("SessionStart", {**base, "source": "startup"}, env, entry)[0]
                 for _ in range(runs)]  # fmt: skip
        prompts, answered, silent = [], 0, 0
        for i in range(prompt_runs):
            question = related[i % len(related)] if i % 2 == 0 else unrelated[i % len(unrelated)]
            wall, said = hook("UserPromptSubmit", {**base, "prompt": question}, env, entry)
            prompts.append(wall)
            if i % 2 == 0:
                answered += bool(said)
            else:
                silent += not said
        out[entry] = {
            "SessionStart": stats(start),
            "UserPromptSubmit": stats(prompts),
            "related_prompts_with_context": f"{answered}/{(prompt_runs + 1) // 2}",
            "unrelated_prompts_with_nothing": f"{silent}/{prompt_runs // 2}",
        }
    return out


def session_end(project: Path, env: dict[str, str], runs: int) -> dict[str, Any]:
    """The SessionEnd hook's return time (the capture itself runs after it returned)."""
    transcript = project / "bench-session.jsonl"
    line = {"cwd": str(project), "sessionId": "bench-end", "type": "user", "uuid": "u1",
            "timestamp": "2026-11-30T10:00:00Z",
            "message": {"role": "user", "content": "We decided to keep it small."}}  # fmt: skip
    transcript.write_text(json.dumps(line) + "\n")
    fields = {"session_id": "bench-end", "cwd": str(project), "transcript_path": str(transcript),
              "reason": "other"}  # fmt: skip
    walls = [hook("SessionEnd", fields, env)[0] for _ in range(runs)]
    _wait_captured(project)
    return stats(walls)


def _wait_captured(project: Path) -> None:
    """The captures the hooks started are done: the service's queue is empty, or (no
    service) the detached syncs let go of the store's lock."""
    import urllib.request

    from service.agents.hooks import running_service
    from sync.store import StoreLayout

    layout = StoreLayout(project / ".memsync")
    deadline = time.monotonic() + 300
    time.sleep(1.0)
    while time.monotonic() < deadline:
        service = running_service(layout, {})
        if service is None and not layout.lock_path.exists():
            return
        if service is not None:
            with urllib.request.urlopen(service[0] + "/api/status", timeout=30) as answer:
                if json.load(answer)["service"]["queued_syncs"]["waiting"] == 0:
                    return
        time.sleep(0.5)


def brief_size(project: Path, env: dict[str, str]) -> dict[str, Any]:
    from sync.capture.digest_units import estimate_tokens

    _, out = hook("SessionStart", {"cwd": str(project), "source": "startup"}, env)
    text = json.loads(out)["hookSpecificOutput"]["additionalContext"]
    size: dict[str, Any] = {"chars": len(text), "estimated_tokens": estimate_tokens(text),
                            "memories": text.count("\n- ")}  # fmt: skip
    sys.path.insert(0, str(REPO / "scripts"))
    from eval_capture import tokenizers  # cl100k, o200k, Claude's: the files LiteLLM bundles

    for name, count in tokenizers().items():
        size[f"{name}_tokens"] = count(text)
    return size


def service_ask(project: Path, questions: list[str]) -> dict[str, float]:
    """The running service's answer to one ask, as a hook sends it (a new connection each)."""
    from service.agents.hooks import post, running_service
    from sync.store import StoreLayout

    service = running_service(StoreLayout(project / ".memsync"), {})
    assert service is not None
    walls = []
    for question in questions:
        t0 = time.perf_counter()
        post(*service, "/api/ask", {"question": question, "k": 5, "answer": False}, timeout=30)
        walls.append(time.perf_counter() - t0)
    return stats(walls)


def with_service(project: Path, env: dict[str, str], fn: Any) -> Any:
    server = subprocess.Popen([*MEMSYNC, "serve", "--port", "0", "--sync-every", "0"],
                              cwd=project, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    info = project / ".memsync" / "service.json"
    try:
        deadline = time.monotonic() + 180
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        if not info.exists():
            raise SystemExit("memsync serve did not start")
        return fn()
    finally:
        server.terminate()
        server.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each fast measurement")
    parser.add_argument("--cold-runs", type=int, default=4,
                        help="prompt hooks without a service (each loads the model)")  # fmt: skip
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-agents-") as tmp:
        root = Path(tmp)
        (root / "home").mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEMSYNC_")}
        env.update(HOME=str(root / "home"), PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
        project = build_project(root, env)
        report: dict[str, Any] = {"memories": 154, "cpus": os.cpu_count()}
        report["mcp_cold"] = cold_tools_list(project, env, max(args.runs // 2, 5))
        report["brief"] = brief_size(project, env)
        report["hooks_without_service"] = hooks(project, env, args.runs, args.cold_runs)
        report["session_end_without_service"] = session_end(project, env, 3)
        report["hooks_with_service"] = with_service(
            project, env, lambda: {**hooks(project, env, args.runs, args.runs),
                                   "SessionEnd": session_end(project, env, args.runs),
                                   "service_ask": service_ask(project, QUESTIONS[:args.runs])}
        )  # fmt: skip
    print(json.dumps(report, indent=2) if args.json else render(report))


def render(report: dict[str, Any]) -> str:
    def row(label: str, s: dict[str, float]) -> str:
        return f"  {label:<44} p50 {s['p50_s']:6.3f} s   p95 {s['p95_s']:6.3f} s   (n={s['n']})"

    cold = report["mcp_cold"]
    lines = [f"store: {report['memories']} memories; {report['cpus']} CPUs",
             "cold `memsync mcp` (spawn, initialize, tools/list):",
             row("tools/list answered", cold["tools_list"]),
             row("python -c 'import mcp.server.mcpserver'", cold["import_mcp_sdk"]),
             row("python -c pass", cold["python_start"]),
             f"brief: {report['brief']}"]  # fmt: skip
    for side in ("hooks_without_service", "hooks_with_service"):
        lines.append(side.replace("_", " ") + ":")
        for entry in ENTRIES:
            part = report[side][entry]
            lines.append(row(f"SessionStart ({entry})", part["SessionStart"]))
            lines.append(row(f"UserPromptSubmit ({entry})", part["UserPromptSubmit"]))
            lines.append(
                f"    related prompts with context {part['related_prompts_with_context']}, "
                f"unrelated prompts with nothing {part['unrelated_prompts_with_nothing']}"
            )
    lines.append(row("SessionEnd without service", report["session_end_without_service"]))
    lines.append(row("SessionEnd with service", report["hooks_with_service"]["SessionEnd"]))
    lines.append(
        row("POST /api/ask as a hook sends it", report["hooks_with_service"]["service_ask"])
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
