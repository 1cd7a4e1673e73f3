"""Archived versions: what a merge or maintenance replaces is kept under memory/archived/."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sync.fsutil import confined
from sync.models import ARCHIVE_FOLDER, Memory, kind_folder
from sync.redact import redact
from sync.store.files import slugify, unique_rel_path, write_memory
from sync.store.layout import StoreLayout


def archive_version(
    layout: StoreLayout, existing: Memory, now: dt.datetime, *, rel: str | None = None
) -> str:
    """Keep the version a merge replaces under memory/archived/ (at ``rel`` when the caller
    chose the path beforehand), pointing at its successor."""
    stamp = now.strftime("%Y%m%dT%H%M%S")
    archived = dataclasses.replace(existing, id=f"{existing.id}@{stamp}", superseded_by=existing.id)
    rel = rel or unique_rel_path(
        f"{ARCHIVE_FOLDER}/{kind_folder(existing.kind)}/{slugify(redact(existing.title)[0])}--{stamp}.md",
        lambda r: confined(layout.memory_dir, r).exists(),
    )
    write_memory(layout.memory_dir, rel, archived)
    return rel
