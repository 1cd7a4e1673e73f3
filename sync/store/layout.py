"""Where one store lives: its folders and files, finding it, creating it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sync.errors import StoreNotFoundError
from sync.fsutil import atomic_write_bytes
from sync.models import ARCHIVE_FOLDER, KIND_FOLDERS

STORE_DIRNAME = ".memsync"
DEFAULT_MAX_FILE_BYTES = 1024 * 1024  # larger memory files are reported, never read

_STORE_GITIGNORE = (
    "# derived data, rebuilt by `memsync sync`\n"
    "state/\nreports/\nqdrant/\nqdrant-edge/\nservice.json\n"
)


@dataclass(frozen=True)
class StoreLayout:
    """Paths of one store (the ``.memsync`` folder)."""

    root: Path

    @property
    def memory_dir(self) -> Path:
        return self.root / "memory"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def qdrant_dir(self) -> Path:
        return self.root / "qdrant"

    @property
    def qdrant_edge_dir(self) -> Path:
        return self.root / "qdrant-edge"

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    @property
    def service_path(self) -> Path:
        """Where a running `memsync serve` advertises its address."""
        return self.root / "service.json"

    @property
    def checkpoint_path(self) -> Path:
        return self.state_dir / "sync-state.json"

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "sync-journal.jsonl"

    @property
    def lock_path(self) -> Path:
        return self.state_dir / "sync.lock"


def find_store(start: Path, home: Path | None = None) -> StoreLayout:
    """The nearest ``.memsync/`` from ``start`` upwards, else ``~/.memsync`` if it exists."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / STORE_DIRNAME
        if candidate.is_dir():
            return StoreLayout(candidate)
    if home is not None and (home / STORE_DIRNAME).is_dir():
        return StoreLayout(home / STORE_DIRNAME)
    raise StoreNotFoundError(
        f"no {STORE_DIRNAME}/ store in {start} or any parent; run `memsync init` in your "
        "project, or set MEMSYNC_DIR"
    )


def init_store(root: Path) -> tuple[StoreLayout, bool]:
    """Create the store folders; returns the layout and whether anything was created."""
    layout = StoreLayout(root)
    created = not root.exists()
    for folder in (*KIND_FOLDERS.values(), ARCHIVE_FOLDER):
        path = layout.memory_dir / folder
        created |= not path.exists()
        path.mkdir(parents=True, exist_ok=True)
    for path in (layout.state_dir, layout.reports_dir):
        path.mkdir(parents=True, exist_ok=True)
    gitignore = root / ".gitignore"
    if not gitignore.exists():
        atomic_write_bytes(gitignore, _STORE_GITIGNORE.encode())
    return layout, created
