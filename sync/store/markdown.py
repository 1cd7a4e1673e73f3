"""Memory files: YAML frontmatter plus a markdown body, parsed strictly, rendered by Python."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import yaml

from sync.errors import MemoryFileError
from sync.hashing import path_memory_id
from sync.models import ARCHIVE_FOLDER, KIND_RE, Memory, kind_from_folder

try:  # the C loader is ~10x faster; the pure one is a fallback, not a requirement
    _SafeLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
    _Dumper: type[yaml.SafeDumper] = yaml.CSafeDumper  # type: ignore[assignment]
except AttributeError:  # pragma: no cover
    _SafeLoader, _Dumper = yaml.SafeLoader, yaml.SafeDumper


class _Loader(_SafeLoader):  # type: ignore[valid-type,misc]
    """The safe loader; a value that cannot be built (``2026-13-45``, ``!!timestamp 'nope'``,
    a 5,000-digit number) is a YAML error at its line, not a crash."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            shown = repr(node.value)[:60] if isinstance(node.value, str) else "the value"
            problem = f"{shown} is not a valid {node.tag.rsplit(':', 1)[-1]}"
            if isinstance(exc, ValueError | OverflowError):
                problem += f" ({str(exc)[:80]})"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None


KNOWN_FIELDS = (
    "id",
    "kind",
    "title",
    "tags",
    "confidence",
    "source",
    "created",
    "updated",
    "supersedes",
    "superseded_by",
)
MAX_FRONTMATTER_BYTES = 64 * 1024
MAX_FRONTMATTER_NODES = 5_000  # counted with aliases expanded
MAX_FRONTMATTER_CHARS = 4 * MAX_FRONTMATTER_BYTES  # text, aliases expanded
MAX_FRONTMATTER_DEPTH = 32
_FENCE_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S | re.M)
_HEADING_RE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.M)


def decode_text(data: bytes, rel_path: str) -> str:
    """Bytes of a memory file as text, or a clear error for binary and non-UTF-8 files."""
    if b"\x00" in data:
        raise MemoryFileError(rel_path, "binary file (contains NUL bytes); memory files are text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MemoryFileError(rel_path, f"not UTF-8 text (byte {exc.start})") from None


def parse_memory(text: str, rel_path: str) -> Memory:
    """Parse a memory file; raises MemoryFileError naming the file and the field at fault."""
    meta, body = _split(text, rel_path)
    kind = _kind(meta.get("kind"), _folder_kind(rel_path), rel_path)
    memory_id = _str_field(meta, "id", rel_path) or path_memory_id(rel_path)
    if "\n" in memory_id or len(memory_id) > 200:
        raise MemoryFileError(rel_path, "field 'id': must be one line of at most 200 characters")
    title = (
        _str_field(meta, "title", rel_path)
        or _title_from_body(body)
        or PurePosixPath(rel_path).stem
    )
    return Memory(
        id=memory_id,
        kind=kind,
        title=title.strip(),
        body=body.strip("\n"),
        tags=_tags(meta.get("tags"), rel_path),
        confidence=_confidence(meta.get("confidence"), rel_path),
        source=_source(meta.get("source"), rel_path),
        created=_time_field(meta, "created", rel_path),
        updated=_time_field(meta, "updated", rel_path),
        supersedes=_str_list(meta.get("supersedes"), "supersedes", rel_path),
        superseded_by=_str_field(meta, "superseded_by", rel_path) or None,
        extra={k: _plain(v) for k, v in meta.items() if k not in KNOWN_FIELDS},
    )


def render_memory(memory: Memory) -> str:
    """The file text for a memory; frontmatter is always produced by the YAML emitter."""
    meta: dict[str, Any] = {
        "id": memory.id,
        "kind": memory.kind,
        "title": memory.title,
        "tags": list(memory.tags),
        "confidence": memory.confidence,
        "source": dict(memory.source),
        "created": memory.created,
        "updated": memory.updated,
    }
    if memory.supersedes:
        meta["supersedes"] = list(memory.supersedes)
    if memory.superseded_by:
        meta["superseded_by"] = memory.superseded_by
    meta.update({k: v for k, v in memory.extra.items() if k not in meta})
    front = yaml.dump(
        meta,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=10_000,
    )
    body = memory.body.strip("\n")
    return f"---\n{front}---\n\n{body}\n" if body else f"---\n{front}---\n"


def _split(text: str, rel_path: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---"):
        return {}, text  # plain markdown written by hand: every field is derived
    match = _FENCE_RE.match(text)
    if match is None:
        raise MemoryFileError(
            rel_path, "frontmatter starts with '---' but has no closing '---' line"
        )
    raw = match.group(1)
    if len(raw.encode("utf-8")) > MAX_FRONTMATTER_BYTES:
        raise MemoryFileError(rel_path, f"frontmatter larger than {MAX_FRONTMATTER_BYTES} bytes")
    if _flow_depth(raw) > MAX_FRONTMATTER_DEPTH:
        raise MemoryFileError(rel_path, f"frontmatter nested deeper than {MAX_FRONTMATTER_DEPTH}")
    try:
        meta = yaml.load(raw, Loader=_Loader)
    except RecursionError:
        raise MemoryFileError(rel_path, "frontmatter nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise MemoryFileError(rel_path, f"invalid YAML frontmatter{where}: {problem}") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise MemoryFileError(rel_path, "frontmatter must be a mapping of fields")
    _check_size(meta, rel_path)
    return meta, text[match.end() :]


def _check_size(value: Any, rel_path: str) -> None:
    """Reject alias bombs and deep nesting: anchors can expand a small file into a huge tree
    (walked here with aliases expanded, so the walk stops at the budget, not at the end)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    nodes = chars = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if isinstance(node, str):
            chars += len(node)
        if nodes > MAX_FRONTMATTER_NODES or chars > MAX_FRONTMATTER_CHARS:
            raise MemoryFileError(
                rel_path, "frontmatter too large once its aliases (*name) are expanded"
            )
        if depth > MAX_FRONTMATTER_DEPTH:
            raise MemoryFileError(
                rel_path, f"frontmatter nested deeper than {MAX_FRONTMATTER_DEPTH}"
            )
        if isinstance(node, dict):
            stack.extend((k, depth + 1) for k in node)
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
        elif not isinstance(node, _PLAIN_TYPES):
            raise MemoryFileError(
                rel_path, f"frontmatter holds a {type(node).__name__} value; use text or numbers"
            )


_PLAIN_TYPES = (str, int, float, bool, type(None), dt.date, dt.datetime)


def _flow_depth(raw: str) -> int:
    """The deepest ``[``/``{`` nesting outside quotes: refused before the parser recurses."""
    depth = deepest = 0
    quote = ""
    for c in raw:
        if quote:
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(depth - 1, 0)
    return deepest


def _folder_kind(rel_path: str) -> str | None:
    """Kind implied by the folder: decisions/x.md, archived/decisions/x.md."""
    folders = PurePosixPath(rel_path).parts[:-1]
    if folders and folders[0] == ARCHIVE_FOLDER:
        folders = folders[1:]
    return kind_from_folder(folders[0]) if folders else None


def _kind(value: Any, folder_kind: str | None, rel_path: str) -> str:
    if value is None:
        return folder_kind or "note"
    if not isinstance(value, str) or not KIND_RE.match(value):
        raise MemoryFileError(
            rel_path, f"field 'kind': {value!r} is not a kind (lowercase letters, digits, '-', '_')"
        )
    return value


def _str_field(meta: Mapping[str, Any], name: str, rel_path: str) -> str:
    value = meta.get(name)
    if value is None:
        return ""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value).strip()
    raise MemoryFileError(rel_path, f"field '{name}': expected text, got {type(value).__name__}")


def _str_list(value: Any, name: str, rel_path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise MemoryFileError(rel_path, f"field '{name}': expected a list of strings")
    return tuple(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))


def _tags(value: Any, rel_path: str) -> tuple[str, ...]:
    return _str_list(value, "tags", rel_path)


def _confidence(value: Any, rel_path: str) -> float:
    if value is None:
        return 0.7
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise MemoryFileError(
            rel_path, f"field 'confidence': {value!r} is not a number from 0 to 1"
        )
    return float(value)


def _source(value: Any, rel_path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {"ref": value}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    raise MemoryFileError(rel_path, "field 'source': expected a mapping or a string")


def _time_field(meta: Mapping[str, Any], name: str, rel_path: str) -> str:
    value = meta.get(name)
    if isinstance(value, dt.datetime | dt.date):
        return str(_plain(value))
    return _str_field(meta, name, rel_path)


def _plain(value: Any) -> Any:
    """YAML values as JSON-able plain data (dates become ISO-8601 strings)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None and value.utcoffset() == dt.timedelta(0):
            return value.replace(tzinfo=None).isoformat() + "Z"
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _title_from_body(body: str) -> str:
    match = _HEADING_RE.search(body)
    return match.group(1) if match else ""
