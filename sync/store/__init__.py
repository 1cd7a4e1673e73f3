"""The markdown store: layout, memory files (parse, render, atomic writes), archived
versions and the access log."""

from sync.store.files import (
    DEFAULT_MAX_FILE_BYTES,
    memory_rel_path,
    read_memory,
    slugify,
    try_read_memory,
    unique_rel_path,
    write_memory,
)
from sync.store.layout import STORE_DIRNAME, StoreLayout, find_store, init_store

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
