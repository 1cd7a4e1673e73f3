"""Archived versions: what a merge or maintenance replaces is kept under memory/archived/."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from sync.fsutil import confined
from sync.models import ARCHIVE_FOLDER, Memory, kind_folder
from sync.store.files import slugify, unique_rel_path, write_memory
from sync.store.layout import StoreLayout


def archived_copy(
    layout: StoreLayout,
    existing: Memory,
    now: dt.datetime,
    planned: Callable[[str], bool] = lambda rel: False,
) -> tuple[str, Memory]:
    """Where the version a merge replaces would be kept, and as what (pointing at its
    successor); writes nothing. ``planned``: paths this run has already claimed."""
    stamp = now.strftime("%Y%m%dT%H%M%S")
    archived = dataclasses.replace(existing, id=f"{existing.id}@{stamp}", superseded_by=existing.id)
    rel = unique_rel_path(
        f"{ARCHIVE_FOLDER}/{kind_folder(existing.kind)}/{slugify(existing.title)}--{stamp}.md",
        lambda r: planned(r) or confined(layout.memory_dir, r).exists(),
    )
    return rel, archived


def archive_version(layout: StoreLayout, existing: Memory, now: dt.datetime) -> str:
    """Keep the version a merge replaces under memory/archived/, pointing at its successor."""
    rel, archived = archived_copy(layout, existing, now)
    write_memory(layout.memory_dir, rel, archived)
    return rel
