"""Which sessions belong to a project: those whose working directory is the project folder or
below it, in the project's checkout or in any git worktree of the same repository.

``ProjectScope.contains`` is pure string matching over normalized paths (POSIX and Windows
spellings, trailing separators); ``project_scope`` reads git's own files (``.git`` as a folder
or a ``gitdir:`` file, ``commondir``, ``worktrees/*/gitdir``) and never runs git.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_DRIVE = re.compile(r"^[A-Za-z]:")


def normalize_path(path: str) -> str:
    """A path in one spelling: forward slashes, no trailing slash, a lowercase drive and
    case-folded when it is a Windows path (Windows paths ignore case)."""
    text = path.strip().replace("\\", "/")
    while "//" in text[1:]:
        text = text[0] + text[1:].replace("//", "/")
    text = text.rstrip("/") or "/"
    return text.lower() if _DRIVE.match(text) else text


@dataclass(frozen=True)
class ProjectScope:
    """The folders a project's sessions may run in (normalized)."""

    roots: tuple[str, ...]

    def contains(self, cwd: str | None) -> bool:
        """Whether a session that ran in ``cwd`` belongs to the project (unknown: no)."""
        if not cwd:
            return False
        where = normalize_path(cwd)
        return any(where == root or where.startswith(root.rstrip("/") + "/") for root in self.roots)

    def describe(self) -> str:
        """The folders, for people (the first is the project)."""
        return ", ".join(self.roots)


def _git_entry(folder: Path) -> Path | None:
    """The nearest folder at or above ``folder`` holding a ``.git`` (a checkout's top)."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _git_dir(top: Path) -> Path | None:
    """The git directory of a checkout: ``.git`` itself, or where a ``gitdir:`` file points."""
    dot = top / ".git"
    if dot.is_dir():
        return dot
    try:
        text = dot.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("gitdir:"):
        return None
    target = Path(text.removeprefix("gitdir:").strip())
    return target if target.is_absolute() else (top / target).resolve()


def _common_dir(git_dir: Path) -> Path:
    """The repository's shared git directory (a linked worktree's ``commondir``)."""
    try:
        common = (git_dir / "commondir").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return git_dir
    path = Path(common)
    return path if path.is_absolute() else (git_dir / path).resolve()


def worktree_tops(folder: Path) -> list[Path]:
    """Every checkout of the repository ``folder`` is in: the main one and each linked
    worktree git knows (``[]`` outside a repository)."""
    top = _git_entry(folder)
    git_dir = _git_dir(top) if top else None
    if top is None or git_dir is None:
        return []
    common = _common_dir(git_dir)
    tops = [top]
    if common.name == ".git":
        tops.append(common.parent)
    for pointer in sorted((common / "worktrees").glob("*/gitdir")):
        try:
            dot_git = Path(pointer.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError):
            continue
        tops.append(dot_git.parent if dot_git.name == ".git" else dot_git)
    return list(dict.fromkeys(tops))


def project_scope(project: Path) -> ProjectScope:
    """The scope of the project in ``project``: that folder, as spelled and resolved, and the
    same folder in every git worktree of its repository."""
    folders = [project.absolute(), project.resolve()]
    top = _git_entry(project.resolve())
    if top is not None:
        inside = project.resolve().relative_to(top)
        folders += [t / inside for t in worktree_tops(project.resolve())]
    roots = tuple(dict.fromkeys(normalize_path(str(f)) for f in folders))
    return ProjectScope(roots)
