"""The `/sync-memory` skill's knowledge files: ``insights.json`` entries and ``campaigns/``.

Each insights entry and each campaign file is one item whose content becomes a memory
candidate directly (no extraction). The content type comes from the source unless the run
overrides it: insights are ``performance-insight``, campaign files ``campaign-learning``,
and anything that calls itself a guideline is a ``guideline``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sync.capture.extraction.base import Candidate
from sync.capture.sources.base import ParseIssue, SourceError, SourceItem
from sync.hashing import raw_hash

CAMPAIGN_SUFFIXES = (".md", ".markdown", ".txt", ".json")
MAX_BYTES = 1 << 20
_TEXT_FIELDS = ("content", "insight", "text", "body", "summary", "description", "learning")
_TITLE_FIELDS = ("title", "name", "headline", "metric")


class KnowledgeSource:
    """Reads ``insights.json`` (a list, or ``{"insights": [...]}``) and ``campaigns/``."""

    def __init__(self) -> None:
        self.problems: list[ParseIssue] = []

    def discover(self, insights: Path | None, campaigns: Path | None) -> Iterator[SourceItem]:
        """One item per insights entry and per campaign file."""
        self.problems = []
        if insights is not None and insights.is_file():
            yield from self._insight_items(insights)
        if campaigns is not None and campaigns.is_dir():
            for path in sorted(campaigns.rglob("*")):
                if path.is_file() and path.suffix.lower() in CAMPAIGN_SUFFIXES:
                    st = path.stat()
                    yield SourceItem(
                        "campaigns",
                        f"campaigns:{path}",
                        path,
                        path.stem,
                        st.st_size,
                        st.st_mtime_ns,
                    )

    def item_bytes(self, item: SourceItem) -> bytes:
        if item.agent == "campaigns":
            return _read(item.path)
        entry = self._entries(item.path).get(item.locator)
        if entry is None:
            raise SourceError(str(item.path), f"insights entry {item.locator} is gone")
        return json.dumps(entry, sort_keys=True, ensure_ascii=False).encode("utf-8")

    def candidates(self, item: SourceItem) -> tuple[list[Candidate], str]:
        """The item's candidate and its detected content type."""
        if item.agent == "campaigns":
            return _campaign(item)
        data = json.loads(self.item_bytes(item))
        return _insight(data, item)

    # -- internals ---------------------------------------------------------------------------

    def _insight_items(self, path: Path) -> Iterator[SourceItem]:
        try:
            entries = self._entries(path)
        except SourceError as exc:
            self.problems.append(ParseIssue(str(path), None, exc.reason))
            return
        st = path.stat()
        for locator, entry in entries.items():
            size = len(json.dumps(entry, sort_keys=True))
            yield SourceItem(
                "insights",
                f"insights:{path}#{locator}",
                path,
                locator,
                size,
                st.st_mtime_ns,
                locator=locator,
            )

    def _entries(self, path: Path) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(_read(path))
        except (ValueError, RecursionError) as exc:
            raise SourceError(str(path), f"not valid JSON ({exc})") from None
        items = data.get("insights", data.get("entries")) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise SourceError(str(path), 'expected a list of entries or {"insights": [...]}')
        out: dict[str, dict[str, Any]] = {}
        for n, entry in enumerate(items, start=1):
            if not isinstance(entry, dict) or not _text(entry):
                self.problems.append(ParseIssue(str(path), n, "entry without text; skipped"))
                continue
            ident = str(entry.get("id") or raw_hash(_text(entry).encode("utf-8"))[:16])
            out[ident] = entry
        return out


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise SourceError(str(path), f"larger than {MAX_BYTES} bytes; skipped")
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(str(path), f"cannot read ({exc.strerror or exc})") from None


def _text(entry: dict[str, Any]) -> str:
    for name in _TEXT_FIELDS:
        value = entry.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _insight(entry: dict[str, Any], item: SourceItem) -> tuple[list[Candidate], str]:
    body = _text(entry)
    title = next(
        (str(entry[f]) for f in _TITLE_FIELDS if isinstance(entry.get(f), str) and entry[f]),
        body.split("\n", 1)[0],
    )
    kind_hint = " ".join(str(entry.get(f, "")) for f in ("type", "category", "kind")).lower()
    content_type = "guideline" if "guideline" in kind_hint else "performance-insight"
    tags = [str(t) for t in entry.get("tags", []) if isinstance(t, str)]
    confidence = entry.get("confidence")
    candidate = Candidate(
        kind="insight",
        title=title[:120].strip(),
        body=body,
        confidence=float(confidence) if isinstance(confidence, int | float) else 0.7,
        tags=tuple(tags),
        evidence=f"insights.json entry {item.locator}",
    )
    return [candidate], content_type


def _campaign(item: SourceItem) -> tuple[list[Candidate], str]:
    raw = _read(item.path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError(str(item.path), "not UTF-8 text") from None
    if item.path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise SourceError(str(item.path), f"not valid JSON ({exc})") from None
        text = _text(data) if isinstance(data, dict) else json.dumps(data, indent=1)
    text = text.strip()
    if not text:
        return [], "campaign-learning"
    lines = [line.strip("# ").strip() for line in text.splitlines() if line.strip()]
    title = lines[0][:120] if lines else item.path.stem
    name = item.path.name.lower()
    content_type = "guideline" if "guideline" in name else "campaign-learning"
    kind = "decision" if "strategy" in name or "decision" in name else "insight"
    body = "\n".join(text.splitlines()[1:]).strip() or text
    candidate = Candidate(
        kind=kind,
        title=title,
        body=body,
        confidence=0.7,
        tags=("campaign",),
        evidence=f"campaigns/{item.path.name}",
        line_start=1,
        line_end=len(text.splitlines()),
    )
    return [candidate], content_type
