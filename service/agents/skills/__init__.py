"""Claude Code skills shipped with memsync, installed by `memsync skill install`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from sync.errors import UsageError
from sync.fsutil import atomic_write_bytes

SKILLS = ("sync-memory", "ask-memory")


def skill_text(name: str) -> str:
    return (resources.files(__package__) / name / "SKILL.md").read_text(encoding="utf-8")


def install_skills(target: Path, *, force: bool = False) -> list[dict[str, str]]:
    """Write each skill to ``target/<name>/SKILL.md``; a file changed by hand is kept
    unless ``force``."""
    done = []
    for name in SKILLS:
        path = target / name / "SKILL.md"
        text = skill_text(name)
        if path.exists() and path.read_text(encoding="utf-8") != text and not force:
            raise UsageError(
                f"{path} differs from memsync's version (edited by hand?); "
                "pass --force to replace it"
            )
        state = (
            "unchanged"
            if path.exists() and path.read_text(encoding="utf-8") == text
            else "installed"
        )
        if state == "installed":
            atomic_write_bytes(path, text.encode("utf-8"))
        done.append({"skill": name, "path": str(path), "state": state})
    return done
