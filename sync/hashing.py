"""Deterministic hashes and ids: content hashes (xxh3-128), point ids, memory ids."""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
import uuid
from collections.abc import Mapping
from typing import Any

import xxhash

from sync.models import Memory

# Frontmatter fields that change on read (access tracking) and so never count as content.
VOLATILE_FIELDS = frozenset({"accessed", "last_accessed", "access_count"})

# Fixed namespace so that a memory id maps to the same Qdrant point id everywhere.
POINT_NAMESPACE = uuid.UUID("6f1c1f5e-3b1d-4d7a-9a43-2c8e0d6a51b7")


def raw_hash(data: bytes) -> str:
    """Hash of a file's bytes, used to skip parsing when nothing changed."""
    return xxhash.xxh3_128_hexdigest(data)


def content_hash(memory: Memory) -> str:
    """Hash of a memory's meaning-bearing content, independent of formatting and access times."""
    fields: dict[str, Any] = {
        "id": memory.id,
        "kind": memory.kind,
        "title": memory.title.strip(),
        "tags": sorted(memory.tags),
        "confidence": memory.confidence,
        "source": memory.source,
        "created": memory.created,
        "updated": memory.updated,
        "supersedes": list(memory.supersedes),
        "superseded_by": memory.superseded_by,
        "extra": {k: v for k, v in memory.extra.items() if k not in VOLATILE_FIELDS},
        "body": normalize_body(memory.body),
    }
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
    return xxhash.xxh3_128_hexdigest(canonical.encode("utf-8"))


def normalize_body(body: str) -> str:
    """Line endings and trailing whitespace do not change what a memory says."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalized_text(text: str) -> str:
    """Casefolded words only: two texts equal here say the same thing verbatim."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NON_WORD.sub(" ", text).split())


def text_fingerprint(title: str, body: str) -> str:
    """Exact-duplicate key of a memory's title and body."""
    return xxhash.xxh3_128_hexdigest(normalized_text(f"{title}\n{body}").encode("utf-8"))


def text_hash(text: str) -> str:
    """Hash of the exact text the encoder sees (same text: same vector)."""
    return xxhash.xxh3_128_hexdigest(text.encode("utf-8"))


def point_id(memory_id: str) -> str:
    """Qdrant point id (a UUID) derived from the memory id."""
    return str(uuid.uuid5(POINT_NAMESPACE, memory_id))


def path_memory_id(rel_path: str) -> str:
    """Id for a hand-written file without one: stable for as long as the file keeps its path."""
    return "path-" + xxhash.xxh3_64_hexdigest(rel_path.encode("utf-8"))


def new_memory_id(day: str) -> str:
    """A fresh id for a memory written by memsync (``mem-YYYYMMDD-<random>``)."""
    return f"mem-{day}-{secrets.token_hex(5)}"


def payload_bytes(payload: Mapping[str, Any], dim: int) -> int:
    """Rough on-disk size of one point: float32 vector plus JSON payload."""
    return dim * 4 + len(json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8"))
