"""`memsync connect`: round trips on agents' files that already hold other servers, hooks and
rules — add, add again (nothing changes), remove (byte for byte what was there) — for each
agent and scope, with dry runs that write nothing and files memsync created removed again."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.agents import connect
from service.agents.config_files import JsonHooks, MarkdownBlock, TomlTable, is_ours
from service.agents.names import AGENTS
from service.cli.main import main
from sync.errors import UsageError
from tests.conftest import REPO, one_json

COMMAND = ["/opt/memsync/bin/memsync"]

CLAUDE_MCP = """{
    "mcpServers": {
        "github": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-github"],
            "env": {"GITHUB_TOKEN": "ghp_x"}
        }
    }
}
"""
CLAUDE_SETTINGS = """{
  "permissions": {"allow": ["Bash(npm test)"]},
  "hooks": {
    "PreToolUse": [
      {"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh"}]}
    ],
    "SessionStart": [
      {"matcher": "startup", "hooks": [{"type": "command", "command": "cat NOTES.md"}]}
    ]
  }
}"""
CODEX_CONFIG = """# my Codex settings
model = "o3"  # the model I like

[mcp_servers.docs]
command = "npx"
args = ["-y", "docs-server"]  # docs lookups

[profiles.fast]
model = "o4-mini"
"""
AGENTS_MD = "# Agents\n\nRun `make test` before committing.\n"
CURSOR_MCP = '{"mcpServers": {"linear": {"url": "https://mcp.linear.app/sse"}}}'
OPENCODE = """{
  "$schema": "https://opencode.ai/config.json",
  "theme": "dark",
  "mcp": {
    "jira": {"type": "remote", "url": "https://jira.example.com/mcp", "enabled": true}
  }
}
"""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    home, project = tmp_path / "home", tmp_path / "project"
    _write(project / ".memsync" / "config.toml", "")
    home.mkdir()
    yield {"home": home, "project": project, "env": {"HOME": str(home)}}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (memsync's own state folder left out)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".local/state" not in str(p)
    }


def _both(world: dict[str, Any]) -> dict[str, bytes]:
    return {
        f"{side}:{path}": data
        for side in ("project", "home")
        for path, data in _files(world[side]).items()
    }


def _run(world: dict[str, Any], agent: str, scope: str = "project", *, remove: bool = False,
         dry_run: bool = False) -> list[connect.Change]:  # fmt: skip
    changes = connect.plan(
        agent, scope, project=world["project"], home=world["home"], env=world["env"],
        command=COMMAND, remove=remove,
    )  # fmt: skip
    if not dry_run:
        connect.apply(changes, agent, remove=remove, home=world["home"], env=world["env"])
    return changes


def _existing(world: dict[str, Any]) -> None:
    """Each agent's files as a user already has them: other servers, hooks, rules."""
    project, home = world["project"], world["home"]
    _write(project / ".mcp.json", CLAUDE_MCP)
    _write(project / ".claude" / "settings.json", CLAUDE_SETTINGS)
    _write(project / ".codex" / "config.toml", CODEX_CONFIG)
    _write(project / "AGENTS.md", AGENTS_MD)
    _write(project / ".cursor" / "mcp.json", CURSOR_MCP)
    _write(project / "opencode.json", OPENCODE)
    _write(home / ".claude.json", '{"numStartups": 3, "mcpServers": {}}\n')
    _write(home / ".codex" / "config.toml", CODEX_CONFIG)


@pytest.mark.parametrize("scope", ["project", "user"])
@pytest.mark.parametrize("agent", AGENTS)
def test_add_again_then_remove_gives_back_every_byte(
    world: dict[str, Any], agent: str, scope: str
) -> None:
    _existing(world)
    before = _both(world)
    first = _run(world, agent, scope)
    assert any(c.action in ("create", "update") for c in first)
    after_first = _both(world)
    for path, data in before.items():  # nothing of anyone else's disappeared
        if path in after_first and data != after_first[path]:
            assert _other_entries_kept(path, data, after_first[path]), path
    second = _run(world, agent, scope)
    assert {c.action for c in second} == {"unchanged"}
    assert _both(world) == after_first
    removed = _run(world, agent, scope, remove=True)
    assert {c.action for c in removed} <= {"update", "delete", "unchanged"}
    assert _both(world) == before
    leftovers = [
        p
        for root in (world["project"], world["home"])
        for p in root.rglob("*")
        if p.is_dir() and not any(p.iterdir()) and ".local" not in p.parts
    ]
    assert leftovers == []  # the folders memsync created went with its files


def _other_entries_kept(path: str, old: bytes, new: bytes) -> bool:
    if path.endswith(".toml"):
        a, b = tomllib.loads(old.decode()), tomllib.loads(new.decode())
        return all(b.get(k) == v for k, v in a.items() if k != "mcp_servers") and all(
            b["mcp_servers"][k] == v for k, v in a.get("mcp_servers", {}).items()
        )
    if path.endswith(".json"):
        a, b = json.loads(old), json.loads(new)
        return _contains(b, a)
    return new.decode().startswith(old.decode().rstrip("\n"))


def _contains(big: Any, small: Any) -> bool:
    """Every entry of ``small`` is in ``big`` (lists: every item still there, in order)."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(
            k in big and _contains(big[k], v) for k, v in small.items()
        )
    if isinstance(small, list):
        return isinstance(big, list) and all(any(_contains(b, s) for b in big) for s in small)
    return big == small


def test_claude_files_hold_the_server_the_hooks_and_the_skills(world: dict[str, Any]) -> None:
    _existing(world)
    _run(world, "claude")
    project = world["project"]
    server = json.loads((project / ".mcp.json").read_text())["mcpServers"]
    assert set(server) == {"github", "memsync"}
    assert server["memsync"]["command"] == COMMAND[0]
    assert server["memsync"]["args"] == ["mcp", "--project", str(project)]
    hooks = json.loads((project / ".claude" / "settings.json").read_text())["hooks"]
    assert set(hooks) == {
        "PreToolUse",
        "SessionStart",
        "UserPromptSubmit",
        "SessionEnd",
        "PreCompact",
    }
    assert hooks["SessionStart"][0]["hooks"][0]["command"] == "cat NOTES.md"  # theirs first
    ours = hooks["SessionStart"][1]["hooks"][0]
    assert ours["command"] == "/opt/memsync/bin/memsync hook SessionStart" and is_ours(ours)
    for name in ("ask-memory", "sync-memory"):
        assert (project / ".claude" / "skills" / name / "SKILL.md").read_text().startswith("---")


def test_codex_toml_keeps_its_comments_and_gets_rules_and_hooks(world: dict[str, Any]) -> None:
    _existing(world)
    _run(world, "codex")
    text = (world["project"] / ".codex" / "config.toml").read_text()
    assert text.startswith(CODEX_CONFIG.split("[profiles.fast]")[0])  # comments, layout kept
    assert "[profiles.fast]" in text
    config = tomllib.loads(text)
    assert config["mcp_servers"]["memsync"] == {
        "command": COMMAND[0], "args": ["mcp", "--project", str(world["project"])]
    }  # fmt: skip
    hooks = json.loads((world["project"] / ".codex" / "hooks.json").read_text())["hooks"]
    assert set(hooks) == {"SessionStart", "UserPromptSubmit", "PreCompact"}  # no SessionEnd
    rules = (world["project"] / "AGENTS.md").read_text()
    assert rules.startswith(AGENTS_MD) and "memory_search" in rules
    assert (world["project"] / ".agents" / "skills" / "ask-memory" / "SKILL.md").exists()


def test_a_rules_file_two_agents_share_keeps_the_section_until_the_last_leaves(
    world: dict[str, Any],
) -> None:
    _existing(world)
    _run(world, "codex")
    _run(world, "opencode")
    rules = world["project"] / "AGENTS.md"
    assert rules.read_text().count("memsync:begin") == 1
    _run(world, "codex", remove=True)
    assert "memsync:begin" in rules.read_text()  # OpenCode still reads it
    _run(world, "opencode", remove=True)
    assert rules.read_text() == AGENTS_MD


def test_a_file_changed_since_keeps_the_change_when_memsync_leaves(world: dict[str, Any]) -> None:
    _existing(world)
    _run(world, "cursor")
    path = world["project"] / ".cursor" / "mcp.json"
    data = json.loads(path.read_text())
    data["mcpServers"]["sentry"] = {"url": "https://mcp.sentry.dev"}
    path.write_text(json.dumps(data, indent=2) + "\n")
    _run(world, "cursor", remove=True)
    assert json.loads(path.read_text()) == {
        "mcpServers": {"linear": {"url": "https://mcp.linear.app/sse"},
                       "sentry": {"url": "https://mcp.sentry.dev"}}
    }  # fmt: skip


def test_dry_run_prints_the_diff_and_writes_nothing(world: dict[str, Any]) -> None:
    _existing(world)
    before = _files(world["project"])
    changes = _run(world, "claude", dry_run=True)
    text = connect.diff(changes, world["project"])
    assert "--- a/.mcp.json" in text and '+        "memsync": {' in text
    assert "+++ b/.claude/skills/ask-memory/SKILL.md" in text and "--- /dev/null" in text
    assert _files(world["project"]) == before
    assert not (world["home"] / ".local" / "state").exists()


def test_files_memsync_created_are_removed_and_unparseable_ones_refused(
    world: dict[str, Any],
) -> None:
    before = _files(world["project"])
    _run(world, "opencode")
    created = json.loads((world["project"] / "opencode.json").read_text())
    assert created["mcp"]["memsync"]["command"][0] == COMMAND[0]
    assert created["mcp"]["memsync"]["type"] == "local" and created["$schema"]
    _run(world, "opencode", remove=True)
    assert _files(world["project"]) == before
    _write(world["project"] / ".mcp.json", '{"mcpServers": {} // mine\n}')
    with pytest.raises(UsageError, match=r"\.mcp\.json: not plain JSON"):
        _run(world, "claude")
    assert (world["project"] / ".mcp.json").read_text() == '{"mcpServers": {} // mine\n}'


def test_opencode_newer_form_and_removing_what_was_never_added(world: dict[str, Any]) -> None:
    newer = '{\n  "mcp": {\n    "servers": {"a": {"type": "local", "command": ["a"]}}\n  }\n}\n'
    _write(world["project"] / "opencode.json", newer)
    _run(world, "opencode")
    servers = json.loads((world["project"] / "opencode.json").read_text())["mcp"]["servers"]
    assert set(servers) == {"a", "memsync"} and "enabled" not in servers["memsync"]
    _run(world, "opencode", remove=True)
    assert (world["project"] / "opencode.json").read_text() == newer
    untouched = '{"mcpServers":{"x":{"command":"x"}}}'  # compact: rewriting would reformat it
    _write(world["project"] / ".cursor" / "mcp.json", untouched)
    assert {c.action for c in _run(world, "cursor", remove=True)} == {"unchanged"}
    assert (world["project"] / ".cursor" / "mcp.json").read_text() == untouched


def test_edits_are_pure_functions_of_the_text(tmp_path: Path) -> None:
    hooks = JsonHooks(tmp_path / "s.json", (("SessionStart", "memsync hook SessionStart", 15),))
    once = hooks.add(CLAUDE_SETTINGS)
    assert hooks.add(once) == once and hooks.remove(once) is not None
    assert json.loads(hooks.remove(once) or "") == json.loads(CLAUDE_SETTINGS)
    table = TomlTable(tmp_path / "c.toml", "memsync", (("command", "m"), ("args", ["mcp"])))
    assert table.remove(table.add(None)) is None
    block = MarkdownBlock(tmp_path / "AGENTS.md", "rules")
    assert block.remove(block.add(AGENTS_MD)) == AGENTS_MD
    assert block.add(block.add(AGENTS_MD)) == block.add(AGENTS_MD)


def test_connect_cli_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "memsync"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.chdir(elsewhere)
    assert main(["connect", "claude", "--json"]) == 2  # no store here: project scope refused
    assert "--scope user" in capsys.readouterr().err
    assert main(["connect", "claude", "--scope", "user", "--dry-run", "--json"]) == 0
    dry = one_json(capsys.readouterr().out)
    assert dry["command"] == [str(fake)] and "+++ ~/.claude.json" in dry["diff"]
    assert not (home / ".claude.json").exists()
    assert main(["connect", "claude", "--scope", "user", "--json"]) == 0
    done = one_json(capsys.readouterr().out)
    assert {c["action"] for c in done["changes"]} == {"create"}
    config = json.loads((home / ".claude.json").read_text())
    assert config["mcpServers"]["memsync"]["args"] == ["mcp"]  # the agent's folder decides
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    assert settings["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"] == (
        f"{fake} hook UserPromptSubmit"
    )
    assert main(["connect", "claude", "--scope", "user", "--remove"]) == 0
    assert not (home / ".claude.json").exists() and not (home / ".claude").exists()


def test_install_links_memsync_onto_path_without_ever_failing(tmp_path: Path) -> None:
    script = REPO / "scripts" / "link_bin.sh"
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    exe = venv_bin / "memsync"
    exe.write_text("#!/bin/sh\necho memsync\n")
    exe.chmod(0o755)
    bin_dir = tmp_path / "bin"
    (tmp_path / "home").mkdir()

    def link(**env: str) -> subprocess.CompletedProcess[str]:
        base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home")}
        return subprocess.run(["bash", str(script), str(exe)], env={**base, **env},
                              capture_output=True, text=True, timeout=30)  # fmt: skip

    made = link(MEMSYNC_BIN_DIR=str(bin_dir))
    assert made.returncode == 0 and (bin_dir / "memsync").resolve() == exe
    assert "is not on your PATH" in made.stderr
    again = link(MEMSYNC_BIN_DIR=str(bin_dir), PATH=f"{bin_dir}:/usr/bin:/bin")
    assert again.returncode == 0 and "already links" in again.stderr
    assert "not on your PATH" not in again.stderr
    assert link(HOME="/nonexistent/home").returncode == 0  # an unusual HOME (CI)
    assert link(MEMSYNC_BIN_DIR="none").returncode == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "memsync").write_text("#!/bin/sh\n")
    kept = link(MEMSYNC_BIN_DIR=str(other))
    assert kept.returncode == 0 and "left as it is" in kept.stderr
    assert not (other / "memsync").is_symlink()
    home_made = link()
    assert home_made.returncode == 0
    assert (tmp_path / "home" / ".local" / "bin" / "memsync").resolve() == exe


def test_skills_rules_and_briefs_name_only_tools_the_server_has() -> None:
    import re

    import anyio

    from service.agents.brief import MORE
    from service.agents.connect_targets import RULES
    from service.agents.mcp_server import INSTRUCTIONS, build_server
    from service.agents.skills import SKILLS, skill_text

    def no_store() -> Any:
        raise AssertionError("listing the tools opens no store")

    tools = {t.name for t in anyio.run(build_server(no_store).list_tools)}
    texts = " ".join([*(skill_text(n) for n in SKILLS), RULES, INSTRUCTIONS, MORE])
    named = set(re.findall(r"\bmemory_[a-z_]+\b", texts))
    assert len(named) >= 8 and named <= tools
