"""Passage vectors of long memories: one small vector per line, carried in the point's payload.

A session summary or a daily log holds dozens of facts; one embedding of the whole (cut at the
model's 256 tokens) matches none of them well, so a question about one line of it scores under
the relevance floor. Each line of a long memory (under its title and section heading) is
embedded at index time and stored, int8-quantised, in the payload of the memory's own point:
still one point per memory file, so counts, drift checks, the checkpoint and every backend
see nothing new, and a query encodes nothing more (ask compares the question's vector with
the stored passages of the candidates it already has).
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Sequence

from sync.models import Memory

PAYLOAD_KEY = "passages"
SCHEME = 2  # recorded in the checkpoint: a store indexed under another scheme re-embeds once
MIN_BODY_CHARS = 600  # shorter memories are embedded whole well enough
MAX_PASSAGES = 48
MIN_PASSAGE_CHARS = 12
PASSAGE_CHARS = 300  # the model sees a line, not a paragraph


def passage_texts(memory: Memory) -> list[str]:
    """The texts to embed for ``memory``'s passages (none for a short memory): each body line
    as ``section: line``, list markers dropped, the first ``MAX_PASSAGES``. The title stays
    out: the memory's own vector carries it, and prefixed to every line it drowns the line (a
    summary's title is its session's first request: 0.35 → 0.49 for the line that answers)."""
    return [f"{heading}: {line}" if heading else line for heading, line in _passages(memory)]


def passage_line(memory: Memory, position: int) -> str | None:
    """The body line behind passage ``position`` of ``memory`` (None when out of range)."""
    found = _passages(memory)
    return found[position][1] if 0 <= position < len(found) else None


def _passages(memory: Memory) -> list[tuple[str, str]]:
    if len(memory.body) < MIN_BODY_CHARS:
        return []
    out: list[tuple[str, str]] = []
    heading = ""
    for raw in memory.body.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            continue
        line = line.lstrip("-*> ").strip()
        if len(line) >= MIN_PASSAGE_CHARS:
            out.append((heading, line[:PASSAGE_CHARS]))
        if len(out) == MAX_PASSAGES:
            break
    return out


def pack(vectors: Sequence[Sequence[float]]) -> str:
    """Vectors as one base64 string: a float32 scale per vector, then its int8 components."""
    scales: list[float] = []
    body = bytearray()
    for raw in vectors:
        vector = [float(x) for x in raw]
        top = max((abs(x) for x in vector), default=0.0) or 1.0
        scales.append(top / 127.0)
        body += bytes((round(x / top * 127) & 0xFF) for x in vector)
    head = struct.pack(f"<{len(scales)}f", *scales)
    return base64.b64encode(head + bytes(body)).decode("ascii")


def packed_chars(count: int, dim: int) -> int:
    """Length of ``pack`` of ``count`` vectors of ``dim`` components (dry-run size estimates)."""
    return 4 * math.ceil(count * (dim + 4) / 3) if count else 0


def best_passage(packed: str, vector: Sequence[float]) -> tuple[float, int] | None:
    """The highest cosine of ``vector`` (unit length) with a stored passage, and its position;
    None when there are none that fit the vector's dimension."""
    import numpy as np  # numpy: only where passages are compared

    dim = len(vector)
    try:
        raw = base64.b64decode(packed, validate=True)
    except (ValueError, TypeError):
        return None
    if not raw or dim <= 0 or len(raw) % (dim + 4):
        return None
    count = len(raw) // (dim + 4)
    scales = np.frombuffer(raw, dtype="<f4", count=count)
    matrix = np.frombuffer(raw, dtype=np.int8, offset=4 * count).reshape(count, dim)
    rows = matrix.astype(np.float32) * scales[:, None]
    norms = np.linalg.norm(rows, axis=1)
    norms[norms == 0] = 1.0
    sims = (rows @ np.asarray(vector, dtype=np.float32)) / norms
    best = int(np.argmax(sims))
    return min(float(sims[best]), 1.0), best
