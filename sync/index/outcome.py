"""What applying a plan produced: per-item results, the run's outcome, each point's payload,
and the remedy a person is told for a failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sync.hashing import text_fingerprint, text_hash
from sync.models import EncoderIdentity, Memory, PlanItem

SNIPPET_CHARS = 280


@dataclass
class ItemResult:
    """What happened to one plan item."""

    item: PlanItem
    status: str  # done | failed | skipped | unchanged
    error: str | None = None
    permanent: bool = False
    remediation: str | None = None


@dataclass
class Outcome:
    results: list[ItemResult] = field(default_factory=list)
    identity: EncoderIdentity | None = None
    collection: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def point_payload(
    memory: Memory, item: PlanItem, identity: EncoderIdentity, text: str
) -> dict[str, Any]:
    """What a point carries besides its vectors: enough to filter, list and dedup without
    reading the file."""
    return {
        "text_hash": text_hash(text),
        "memory_id": memory.id,
        "path": item.path,
        "kind": memory.kind,
        "title": memory.title,
        "tags": list(memory.tags),
        "confidence": memory.confidence,
        "updated": memory.updated or memory.created,
        "archived": item.path.startswith("archived/"),
        # filters match this keyword, not the bool: qdrant-edge 0.9 turns True into 1
        "status": "archived" if item.path.startswith("archived/") else "active",
        "hash": item.content_hash,
        "fingerprint": text_fingerprint(memory.title, memory.body),
        "encoder": identity.model,
        "snippet": memory.body[:SNIPPET_CHARS],
    }


def remediation(error: str, permanent: bool, dead: bool) -> str:
    """What a person can do about a failed item."""
    if permanent:
        hint = "fix the file (the error names the field), then run `memsync sync`"
    elif "embedding" in error:
        hint = (
            "check the `model` setting and that the model package is installed, then "
            "`memsync retry`"
        )
    else:
        hint = (
            "check that Qdrant is reachable (qdrant_url / MEMSYNC_QDRANT_URL), then `memsync retry`"
        )
    if dead:
        hint += (
            "; it is dead-lettered: `memsync retry` forces it, `memsync retry --drop` forgets it"
        )
    return hint
