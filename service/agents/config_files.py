"""Edits of the agents' own files, each a pure function of the file's text: add memsync's part
(an MCP server entry, hook handlers, a rules section, a file of its own) keeping everything
else, or take it out again. JSON goes through ``json``, TOML through ``tomlkit`` (comments and
layout kept); a file that does not parse is refused with its name, never rewritten.

``None`` stands for "no such file" on both sides: an edit that creates a file returns its
text from ``add(None)``, and ``remove`` returns ``None`` when nothing of the file is left."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sync.errors import UsageError

MARK_BEGIN = "<!-- memsync:begin (written by `memsync connect`; --remove takes it out) -->"
MARK_END = "<!-- memsync:end -->"
_BLOCK = re.compile(r"\n*<!-- memsync:begin[^\n]*-->\n[\s\S]*?<!-- memsync:end -->\n?")
# a hook handler memsync wrote: `<memsync or python -m service> hook <Event>`
_OURS = re.compile(r"(?:memsync(?:\.exe)?['\"]?|-m service) hook [A-Za-z]+\s*$")


class Edit(Protocol):
    @property
    def path(self) -> Path: ...
    @property
    def what(self) -> str:
        """What it is, for people: "MCP server", "hooks", "rules", "skill /ask-memory"."""
        ...

    def add(self, text: str | None) -> str | None: ...
    def remove(self, text: str | None) -> str | None: ...
    def holds(self, text: str | None) -> bool:
        """Whether memsync's part is in the text."""
        ...

    def rest(self, text: str | None) -> Any:
        """The file's content without memsync's part, comparable across formattings."""
        ...


# -- JSON ----------------------------------------------------------------------------------


def load_json(path: Path, text: str | None) -> dict[str, Any]:
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path}: not plain JSON ({exc.msg}, line {exc.lineno}); memsync edits only what "
            "it can parse and write back whole: remove the comments, or add the entry by hand"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object at the top")
    return data


def dump_json(data: dict[str, Any], like: str | None) -> str:
    """``data`` as JSON indented as ``like`` was (2 spaces for a new file)."""
    indent: int | str = 2
    if like:
        found = re.search(r"\n([ \t]+)\S", like)
        if found:
            unit = found.group(1)
            indent = len(unit) if unit.strip(" ") == "" else unit
    text = json.dumps(data, indent=indent, ensure_ascii=False)
    return text + "\n" if like is None or like.endswith("\n") else text


def _child(node: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    child = node.setdefault(key, {})
    if not isinstance(child, dict):
        raise UsageError(f"{path}: `{key}` is not an object; fix it by hand first")
    return child


def _prune(data: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Drop ``keys[-1]`` under ``keys[:-1]``, then the parents it leaves empty."""
    trail = [data]
    for key in keys[:-1]:
        node = trail[-1].get(key)
        if not isinstance(node, dict):
            return
        trail.append(node)
    trail[-1].pop(keys[-1], None)
    for depth in range(len(keys) - 1, 0, -1):
        if trail[depth] == {}:
            trail[depth - 1].pop(keys[depth - 1], None)


@dataclass(frozen=True)
class JsonEntry:
    """``value`` at ``keys`` (e.g. ``mcpServers.memsync``) in a JSON file."""

    path: Path
    keys: tuple[str, ...]
    value: Any
    what: str = "MCP server"

    def where(self, data: dict[str, Any]) -> tuple[str, ...]:
        """Where the entry goes in this file's data."""
        return self.keys

    def entry(self, data: dict[str, Any]) -> Any:
        """What goes there."""
        return self.value

    def fresh(self, data: dict[str, Any]) -> dict[str, Any]:
        """The data a new (empty) file starts from."""
        return data

    def holds(self, text: str | None) -> bool:
        node: Any = load_json(self.path, text)
        for key in self.where(node):
            if not isinstance(node, dict) or key not in node:
                return False
            node = node[key]
        return True

    def add(self, text: str | None) -> str | None:
        data = load_json(self.path, text)
        data = data if data else self.fresh(data)
        keys = self.where(data)
        node = data
        for key in keys[:-1]:
            node = _child(node, key, self.path)
        node[keys[-1]] = self.entry(data)
        return dump_json(data, text)

    def remove(self, text: str | None) -> str | None:
        if text is None:
            return None
        data = load_json(self.path, text)
        _prune(data, self.where(data))
        return dump_json(data, text) if data and data != self.fresh({}) else None

    def rest(self, text: str | None) -> Any:
        removed = self.remove(text)
        return None if removed is None else load_json(self.path, removed)


@dataclass(frozen=True)
class OpenCodeEntry(JsonEntry):
    """OpenCode's ``mcp.memsync``, or ``mcp.servers.memsync`` where the file already uses
    the newer form (its ``mcp`` holds a ``servers`` object, and no ``enabled`` field)."""

    def where(self, data: dict[str, Any]) -> tuple[str, ...]:
        mcp = data.get("mcp")
        if isinstance(mcp, dict) and isinstance(mcp.get("servers"), dict):
            return ("mcp", "servers", "memsync")
        return ("mcp", "memsync")

    def entry(self, data: dict[str, Any]) -> Any:
        if len(self.where(data)) == 2:
            return self.value
        return {k: v for k, v in self.value.items() if k != "enabled"}

    def fresh(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"$schema": "https://opencode.ai/config.json", **data}


@dataclass(frozen=True)
class JsonHooks:
    """Command hooks in Claude Code's (and Codex's) format: ``hooks.<Event>`` is a list of
    groups, each ``{"matcher"?, "hooks": [{"type": "command", "command", "timeout"}]}``."""

    path: Path
    handlers: tuple[tuple[str, str, int], ...]  # (event, command, timeout in seconds)
    what: str = "hooks"

    def add(self, text: str | None) -> str | None:
        data = load_json(self.path, text)
        self._strip(data)
        hooks = _child(data, "hooks", self.path)
        for event, command, timeout in self.handlers:
            groups = hooks.setdefault(event, [])
            if not isinstance(groups, list):
                raise UsageError(f"{self.path}: hooks.{event} is not a list; fix it by hand")
            handler = {"type": "command", "command": command, "timeout": timeout}
            groups.append({"hooks": [handler]})
        return dump_json(data, text)

    def remove(self, text: str | None) -> str | None:
        if text is None:
            return None
        data = load_json(self.path, text)
        self._strip(data)
        return dump_json(data, text) if data else None

    def rest(self, text: str | None) -> Any:
        removed = self.remove(text)
        return None if removed is None else load_json(self.path, removed)

    def holds(self, text: str | None) -> bool:
        hooks = load_json(self.path, text).get("hooks")
        groups = hooks.values() if isinstance(hooks, dict) else []
        return any(
            is_ours(h)
            for g in groups if isinstance(g, list)
            for group in g if isinstance(group, dict) and isinstance(group.get("hooks"), list)
            for h in group["hooks"]
        )  # fmt: skip

    def _strip(self, data: dict[str, Any]) -> None:
        """Take out every handler memsync wrote, then the groups and events it leaves empty."""
        hooks = data.get("hooks")
        if not isinstance(hooks, dict):
            return
        for event in list(hooks):
            groups = hooks[event]
            if not isinstance(groups, list):
                continue
            kept = []
            for group in groups:
                handlers = group.get("hooks") if isinstance(group, dict) else None
                if not isinstance(handlers, list):
                    kept.append(group)
                    continue
                mine = [h for h in handlers if is_ours(h)]
                if mine:
                    group = {**group, "hooks": [h for h in handlers if not is_ours(h)]}
                    if not group["hooks"]:
                        continue
                kept.append(group)
            if kept:
                hooks[event] = kept
            else:
                del hooks[event]
        if not hooks:
            del data["hooks"]


def is_ours(handler: Any) -> bool:
    command = handler.get("command") if isinstance(handler, dict) else None
    return isinstance(command, str) and _OURS.search(command) is not None


# -- TOML ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TomlTable:
    """``[mcp_servers.memsync]`` in Codex's config.toml, written with tomlkit so that every
    other line, comment and blank line stays as it was."""

    path: Path
    name: str
    values: tuple[tuple[str, Any], ...]
    what: str = "MCP server"

    def _doc(self, text: str | None) -> Any:
        import tomlkit
        from tomlkit.exceptions import TOMLKitError

        try:
            return tomlkit.parse(text or "")
        except TOMLKitError as exc:
            raise UsageError(f"{self.path}: not valid TOML ({exc}); fix it first") from None

    def add(self, text: str | None) -> str | None:
        import tomlkit

        doc = self._doc(text)
        servers = doc.get("mcp_servers")
        if servers is None:
            servers = tomlkit.table(is_super_table=True)
            doc.add("mcp_servers", servers)
        table = tomlkit.table()
        for key, value in self.values:
            table.add(key, value)
        table.add(tomlkit.nl())
        if self.name in servers:
            del servers[self.name]
        servers[self.name] = table
        return str(tomlkit.dumps(doc))

    def remove(self, text: str | None) -> str | None:
        if text is None:
            return None
        import tomlkit

        doc = self._doc(text)
        servers = doc.get("mcp_servers")
        if servers is not None and self.name in servers:
            del servers[self.name]
            if not servers:
                del doc["mcp_servers"]
        out = str(tomlkit.dumps(doc))
        return out if out.strip() else None

    def holds(self, text: str | None) -> bool:
        servers = self._doc(text).get("mcp_servers")
        return servers is not None and self.name in servers

    def rest(self, text: str | None) -> Any:
        removed = self.remove(text)
        return None if removed is None else self._doc(removed).unwrap()


# -- markdown and files of memsync's own ---------------------------------------------------


@dataclass(frozen=True)
class MarkdownBlock:
    """A section between memsync's markers in a rules file (AGENTS.md) that people also
    write: replaced in place, or appended after a blank line."""

    path: Path
    body: str
    what: str = "rules"

    def block(self) -> str:
        return f"{MARK_BEGIN}\n{self.body.strip()}\n{MARK_END}\n"

    def add(self, text: str | None) -> str | None:
        if text and _BLOCK.search(text):
            return _BLOCK.sub(lambda _: "\n\n" + self.block(), text, count=1).lstrip("\n")
        if not text:
            return self.block()
        return text.rstrip("\n") + "\n\n" + self.block()

    def remove(self, text: str | None) -> str | None:
        if text is None or not _BLOCK.search(text):
            return text
        rest = _BLOCK.sub("\n", text, count=1)
        rest = rest.rstrip("\n") + "\n" if rest.strip() else ""
        return rest or None

    def holds(self, text: str | None) -> bool:
        return text is not None and _BLOCK.search(text) is not None

    def rest(self, text: str | None) -> Any:
        removed = self.remove(text)
        return None if removed is None else removed.strip()


@dataclass(frozen=True)
class OwnedFile:
    """A file memsync writes whole (a skill, Cursor's rule file). Removed only while it is
    still memsync's text: a file edited by hand is left where it is."""

    path: Path
    text: str
    what: str

    def add(self, text: str | None) -> str | None:
        return self.text

    def remove(self, text: str | None) -> str | None:
        return None if text is None or text == self.text else text

    def holds(self, text: str | None) -> bool:
        return text is not None and text == self.text

    def rest(self, text: str | None) -> Any:
        return None if text is None or text == self.text else text
