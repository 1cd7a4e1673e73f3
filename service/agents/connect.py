"""`memsync connect AGENT [--scope project|user] [--dry-run] [--remove]`: register memsync with
a coding agent (MCP server, hooks, skills, rules), merging into the agent's files.

Planned first, from the files as they are (a pure function of their text), then applied file
by file: every other entry is kept, a second run changes nothing, and before a file is first
touched its bytes are kept under $XDG_STATE_HOME/memsync/connect/ (~/.local/state/...), so that
`--remove` gives back exactly the file that was there (byte for byte, when nothing else in it
changed since) or removes it when memsync created it. A rules file two agents share (AGENTS.md
for Codex and OpenCode) keeps memsync's section until the last of them is removed."""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.agents.config_files import Edit
from service.agents.connect_targets import notes, target_edits
from sync.errors import UsageError
from sync.fsutil import atomic_write_bytes


@dataclass(frozen=True)
class Change:
    """One file: its bytes now and after (None: no such file), and what memsync puts there."""

    path: Path
    what: str
    before: bytes | None
    after: bytes | None
    created_dirs: tuple[str, ...] = ()  # folders the write creates (removed with the file)

    @property
    def action(self) -> str:
        if self.before == self.after:
            return "unchanged"
        if self.before is None:
            return "create"
        return "delete" if self.after is None else "update"


def memsync_command(argv0: str | None = None, env: Mapping[str, str] | None = None) -> list[str]:
    """How the agents start memsync: this `memsync` executable by its absolute path (the
    agents do not share the user's PATH), else the one on PATH, else this Python with -m."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    if Path(argv0).name in ("memsync", "memsync.exe") and Path(argv0).is_file():
        return [str(Path(argv0).absolute())]
    found = shutil.which("memsync", path=(env or os.environ).get("PATH"))
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "service"]


def state_dir(home: Path, env: Mapping[str, str]) -> Path:
    """Where connect keeps the original files and who connected them."""
    base = Path(env["XDG_STATE_HOME"]).expanduser() if env.get("XDG_STATE_HOME") else None
    return (base or home / ".local" / "state") / "memsync" / "connect"


class Manifests:
    """Per file memsync touched: whether it existed, its original bytes, the agents that
    connected through it, the folders memsync created for it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _key(self, path: Path) -> str:
        return hashlib.sha256(str(path.absolute()).encode()).hexdigest()[:20]

    def load(self, path: Path) -> dict[str, Any] | None:
        file = self.folder / f"{self._key(path)}.json"
        try:
            data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data

    def original(self, path: Path) -> bytes | None:
        """The file as it was before memsync first touched it (None: it did not exist)."""
        try:
            return (self.folder / f"{self._key(path)}.orig").read_bytes()
        except FileNotFoundError:
            return None

    def save(self, path: Path, data: dict[str, Any], original: bytes | None = None) -> None:
        key = self._key(path)
        if original is not None:
            atomic_write_bytes(self.folder / f"{key}.orig", original)
        atomic_write_bytes(self.folder / f"{key}.json", json.dumps(data, indent=2).encode())

    def backup(self, path: Path, data: bytes) -> Path:
        """The bytes a write replaces, kept beside the original."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        target = self.folder / "backups" / f"{self._key(path)}-{stamp}-{path.name}"
        atomic_write_bytes(target, data)
        return target

    def drop(self, path: Path) -> None:
        for suffix in (".json", ".orig"):
            (self.folder / f"{self._key(path)}{suffix}").unlink(missing_ok=True)


def plan(
    agent: str,
    scope: str,
    *,
    project: Path | None,
    home: Path,
    env: Mapping[str, str],
    command: list[str],
    remove: bool,
) -> list[Change]:
    """What connecting (or removing) would change, file by file; writes nothing."""
    edits = target_edits(agent, scope, project=project, home=home, env=env, command=command)
    manifests = Manifests(state_dir(home, env))
    changes = []
    for edit in edits:
        before = _read(edit.path)
        if remove:
            after = _removed(edit, before, manifests, agent)
        else:
            text = edit.add(None if before is None else _text(edit.path, before))
            after = None if text is None else text.encode("utf-8")
        changes.append(Change(edit.path, edit.what, before, after, _new_dirs(edit.path, after)))
    return changes


def _removed(edit: Edit, before: bytes | None, manifests: Manifests, agent: str) -> bytes | None:
    """The file without memsync's part: the original bytes when the rest is what it was."""
    record = manifests.load(edit.path)
    if record is not None and set(record.get("owners", [])) - {agent}:
        return before  # another agent still uses what memsync put here
    now = None if before is None else _text(edit.path, before)
    if record is None and not edit.holds(now):
        return before  # nothing of memsync's here: leave the file as it is
    if record is not None:
        original = manifests.original(edit.path) if record.get("existed") else None
        then = None if original is None else _text(edit.path, original)
        if edit.rest(now) == edit.rest(then):
            return original
    text = edit.remove(now)
    return None if text is None else text.encode("utf-8")


def apply(changes: list[Change], agent: str, *, remove: bool, home: Path,
          env: Mapping[str, str]) -> list[dict[str, Any]]:  # fmt: skip
    """Write the planned changes, keeping each file's original first; one result per file."""
    manifests = Manifests(state_dir(home, env))
    done = []
    for change in changes:
        record = manifests.load(change.path)
        if remove:
            _apply_remove(change, record, manifests, agent)
        else:
            _apply_add(change, record, manifests, agent)
        done.append({"path": str(change.path), "what": change.what, "action": change.action})
    return done


def _apply_add(
    change: Change, record: dict[str, Any] | None, manifests: Manifests, agent: str
) -> None:
    if record is None:
        record = {"path": str(change.path.absolute()), "existed": change.before is not None,
                  "owners": [], "created_dirs": list(change.created_dirs)}  # fmt: skip
        first = change.before
    else:
        first = None
    if agent not in record["owners"]:
        record["owners"] = sorted({*record["owners"], agent})
        manifests.save(change.path, record, first)
    if change.action == "unchanged" or change.after is None:
        return
    if change.before is not None:
        manifests.backup(change.path, change.before)
    atomic_write_bytes(change.path, change.after)


def _apply_remove(
    change: Change, record: dict[str, Any] | None, manifests: Manifests, agent: str
) -> None:
    if change.action != "unchanged":
        if change.before is not None:
            manifests.backup(change.path, change.before)
        if change.after is None:
            change.path.unlink(missing_ok=True)
            for folder in (record or {}).get("created_dirs", []):
                _rmdir_empty(Path(folder))
        else:
            atomic_write_bytes(change.path, change.after)
    if record is None:
        return
    owners = sorted(set(record.get("owners", [])) - {agent})
    if owners:
        manifests.save(change.path, {**record, "owners": owners})
    else:
        manifests.drop(change.path)


def diff(changes: list[Change], base: Path | None = None, prefix: str = "") -> str:
    """A unified diff of the planned changes (what --dry-run prints)."""
    out: list[str] = []
    for change in changes:
        if change.action == "unchanged":
            continue
        name = _shown(change.path, base, prefix)
        old = _lines(change.before)
        new = _lines(change.after)
        out += difflib.unified_diff(
            old,
            new,
            "/dev/null" if change.before is None else name if prefix else f"a/{name}",
            "/dev/null" if change.after is None else name if prefix else f"b/{name}",
        )
    return "".join(out)


def summary(agent: str, scope: str, changes: list[Change], *, remove: bool,
            dry_run: bool, base: Path | None, prefix: str = "") -> str:  # fmt: skip
    """What happened (or would), file by file, for people."""
    verb = "would " if dry_run else ""
    words = {"create": "create", "update": "update", "delete": "remove",
             "unchanged": "keep  "}  # fmt: skip
    lines = [f"{verb}{words[c.action]:<7} {_shown(c.path, base)}  ({c.what})" for c in changes]
    if all(c.action == "unchanged" for c in changes):
        lines.append(f"{agent}: nothing to change ({scope} scope)")
    elif not remove and not dry_run:
        lines += notes(agent, scope)
    return "\n".join(lines)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder; memsync expected a file there") from None


def _text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text; memsync leaves it alone") from None


def _lines(data: bytes | None) -> list[str]:
    if data is None:
        return []
    lines = data.decode("utf-8", "replace").splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def _new_dirs(path: Path, after: bytes | None) -> tuple[str, ...]:
    """The folders above ``path`` that writing it would create, deepest first."""
    if after is None:
        return ()
    missing = []
    folder = path.parent
    while not folder.exists():
        missing.append(str(folder.absolute()))
        folder = folder.parent
    return tuple(missing)


def _rmdir_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (someone put something there), or gone
        folder.rmdir()


def _shown(path: Path, base: Path | None, prefix: str = "") -> str:
    """``path`` below ``base`` (``prefix`` names the base: "~/" for the home folder)."""
    if base is not None:
        try:
            return prefix + str(path.relative_to(base))
        except ValueError:
            pass
    return str(path)
