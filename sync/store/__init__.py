"""The markdown store: layout, memory files (parse, render, atomic writes), archived
versions and the access log.

Names load on first use (PEP 562): finding a store or naming its paths never imports the
markdown and YAML machinery, which the CLI's route through a running service does not need."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync.store.files import (
        memory_rel_path,
        read_memory,
        slugify,
        try_read_memory,
        unique_rel_path,
        write_memory,
    )
    from sync.store.layout import (
        DEFAULT_MAX_FILE_BYTES,
        STORE_DIRNAME,
        StoreLayout,
        find_store,
        init_store,
    )

_HOME = {
    "DEFAULT_MAX_FILE_BYTES": "layout",
    "STORE_DIRNAME": "layout",
    "StoreLayout": "layout",
    "find_store": "layout",
    "init_store": "layout",
    "memory_rel_path": "files",
    "read_memory": "files",
    "slugify": "files",
    "try_read_memory": "files",
    "unique_rel_path": "files",
    "write_memory": "files",
}
__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "STORE_DIRNAME",
    "StoreLayout",
    "find_store",
    "init_store",
    "memory_rel_path",
    "read_memory",
    "slugify",
    "try_read_memory",
    "unique_rel_path",
    "write_memory",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'sync.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"sync.store.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value
