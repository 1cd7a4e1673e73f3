"""Snippets for ask results: the lines of a memory that match the question, with the heading
each sits under, so a session summary reads as its sections rather than one flattened line."""

from __future__ import annotations

from sync.lexical import tokens

MAX_LINES = 4
LINE_CHARS = 160


def snippet(body: str, question: str, title: str = "", focus: str | None = None) -> str:
    """Up to ``MAX_LINES`` lines of ``body``: ``focus`` (the line whose meaning matched the
    question best) first, then those sharing most terms with ``question`` (each with its
    nearest heading above), in their order; the opening lines when none match."""
    lines = [line.rstrip() for line in body.splitlines() if line.strip()]
    if lines and _is_heading(lines[0]) and _heading_text(lines[0]) == title.strip().lower():
        lines = lines[1:]  # a "# Title" line repeats what the result already shows
    if not lines:
        return ""
    wanted = set(tokens(question))
    scored = [(len(wanted & set(tokens(line))), i) for i, line in enumerate(lines)]
    matching = sorted((i for n, i in scored if n and not _is_heading(lines[i])),
                      key=lambda i: (-scored[i][0], i))  # fmt: skip
    if focus:
        matching = [i for i, line in enumerate(lines) if focus in line][:1] + matching
    if not matching:
        chosen = _opening(lines)
    else:
        chosen = set()
        for i in matching:
            picked = {i} | ({h} if (h := _heading_above(lines, i)) is not None else set())
            if len(chosen | picked) > MAX_LINES:
                break
            chosen |= picked
    return "\n".join(_clip(lines[i]) for i in sorted(chosen))


def _opening(lines: list[str]) -> set[int]:
    """The first lines, skipping a lone heading at the very end."""
    chosen = set(range(min(MAX_LINES - 1, len(lines))))
    while chosen and _is_heading(lines[max(chosen)]):
        chosen.discard(max(chosen))
    return chosen or {0}


def _heading_above(lines: list[str], i: int) -> int | None:
    for j in range(i - 1, -1, -1):
        if _is_heading(lines[j]):
            return j
    return None


def _is_heading(line: str) -> bool:
    return line.lstrip().startswith("#")


def _heading_text(line: str) -> str:
    return line.lstrip().lstrip("#").strip().lower()


def _clip(line: str) -> str:
    indent = min(len(line) - len(line.lstrip()), 4)  # nested list items stay nested
    flat = " " * indent + " ".join(line.split())
    return flat if len(flat) <= LINE_CHARS else flat[: LINE_CHARS - 1].rstrip() + "…"
