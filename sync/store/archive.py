"""Archived versions: what a merge or maintenance replaces is kept under memory/archived/."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from sync.fsutil import confined
from sync.models import ARCHIVE_FOLDER, Memory, kind_folder
from sync.redact import redact
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
    slug = slugify(redact(existing.title)[0])  # a file name never carries a secret
    rel = unique_rel_path(
        f"{ARCHIVE_FOLDER}/{kind_folder(existing.kind)}/{slug}--{stamp}.md",
        lambda r: planned(r) or confined(layout.memory_dir, r).exists(),
    )
    return rel, archived


def archive_version(
    layout: StoreLayout, existing: Memory, now: dt.datetime, *, rel: str | None = None
) -> str:
    """Keep the version a merge replaces under memory/archived/ (at ``rel`` when the caller
    chose the path beforehand), pointing at its successor."""
    chosen, archived = archived_copy(layout, existing, now)
    target = rel or chosen
    write_memory(layout.memory_dir, target, archived)
    return target
