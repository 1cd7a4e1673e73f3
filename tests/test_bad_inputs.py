"""Per-item isolation: a memory file or a transcript that breaks the parser in any way is
that item's failure, named with its path (and line), queued; the run goes on. YAML is
bounded: alias expansion and nesting past a small budget are refused."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sync.care.audit import audit_store
from sync.care.maintain import MaintainPolicy
from sync.care.maintain_run import run_maintain
from sync.errors import MemoryFileError
from sync.index.checkpoint import load_checkpoint
from sync.index.engine import SyncDeps, SyncOptions, run_sync
from sync.store import StoreLayout
from sync.store.markdown import parse_memory
from tests.conftest import memory_text, write_memory_file
from tests.test_capture import Store, make_store  # noqa: F401  (the fixture)


def front(yaml_text: str) -> str:
    return f"---\n{yaml_text}\n---\n\nA body that says something.\n"


# (name, file text, what the error says) — the inputs the adversarial review tried, and more
BAD_FILES: list[tuple[str, str, str]] = [
    ("month 13", front("created: 2026-13-45"), "line 2: '2026-13-45' is not a valid timestamp"),
    ("february 30", front("updated: 2026-02-30"), "line 2: '2026-02-30' is not a valid timestamp"),
    ("bad timestamp tag", front("created: !!timestamp 'nope'"), "'nope' is not a valid timestamp"),
    (
        "bad float tag",
        front("title: x\nconfidence: !!float 'high'"),
        "line 3: 'high' is not a valid float",
    ),
    ("5000 digits", front("title: " + "9" * 5000), "line 2: '999"),
    ("900 deep", front("x: " + "[" * 900 + "]" * 900), "nested deeper than 32"),
    (
        "deep blocks",
        front("\n".join("  " * i + f"k{i}:" for i in range(40)) + " v"),
        "nested deeper than 32",
    ),
    ("binary value", front("x: !!binary aGVsbG8="), "holds a bytes value"),
    ("set value", front("x: !!set {a, b}"), "holds a set value"),
    ("python tag", front("x: !!python/object:os.system ls"), "could not determine a constructor"),
    ("unhashable key", front("? [a, b]\n: 1"), "unhashable key"),
    ("bad escape", front('title: "\\ud800"'), "invalid Unicode character escape"),
    (
        "alias bomb",
        front(
            "a: &a ['"
            + "x" * 60
            + "']\n"
            + "\n".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]"
                for i in range(6)
            )
        ),
        "too large once its aliases",
    ),
    (
        "string alias bomb",
        front("a: &a '" + "y" * 8000 + "'\nb: [" + ", ".join(["*a"] * 40) + "]"),
        "too large once its aliases",
    ),
    ("nan confidence", front("confidence: .nan"), "field 'confidence'"),
    ("kind list", front("kind: [a]"), "field 'kind'"),
    ("unclosed", "---\ntitle: x\n\nno closing fence\n", "no closing '---'"),
]


@pytest.mark.parametrize(("name", "text", "says"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_frontmatter_is_an_error_naming_file_and_cause(name: str, text: str, says: str) -> None:
    with pytest.raises(MemoryFileError) as caught:
        parse_memory(text, "decisions/bad.md")
    assert str(caught.value).startswith("decisions/bad.md: ")
    assert says in str(caught.value), str(caught.value)


def test_alias_amplification_is_refused_before_it_expands() -> None:
    """62 KB of anchors once expanded to 449 MB: refused within the node budget."""
    lines = ["a0: &a0 '" + "z" * 200 + "'"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    text = front("\n".join(lines))
    t0 = time.perf_counter()
    with pytest.raises(MemoryFileError, match="too large once its aliases"):
        parse_memory(text, "decisions/bomb.md")
    assert time.perf_counter() - t0 < 5  # a budget, not a walk of 9**9 nodes


def test_times_that_overflow_utc_are_kept_as_written() -> None:
    m = parse_memory(
        front("created: 0001-01-01T00:00:00+05:00\nupdated: 9999-12-31T23:59:59-05:00"), "x.md"
    )
    assert (m.created, m.updated) == ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00")


def test_each_bad_file_fails_alone_and_sync_audit_maintain_go_on(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    for i in range(3):
        write_memory_file(layout, f"learnings/good-{i}.md", memory_text(f"Good {i}", f"Fine {i}."))
    for i, (_, text, _) in enumerate(BAD_FILES):
        write_memory_file(layout, f"decisions/bad-{i:02d}.md", text)
    loop = layout.memory_dir / "decisions" / "loop.md"
    loop.symlink_to(loop)  # a symbolic link loop
    (layout.memory_dir / "decisions" / "ring-a.md").symlink_to("ring-b.md")
    (layout.memory_dir / "decisions" / "ring-b.md").symlink_to("ring-a.md")
    deps = make_deps()
    report = run_sync(layout, SyncOptions(), deps)
    failed = {f["path"]: f["error"] for f in report["failures"]}
    bad = {f"decisions/bad-{i:02d}.md" for i in range(len(BAD_FILES))}
    assert set(failed) == bad | {"decisions/loop.md", "decisions/ring-a.md", "decisions/ring-b.md"}
    for i, (_, _, says) in enumerate(BAD_FILES):
        assert says in failed[f"decisions/bad-{i:02d}.md"]
    assert "cannot be resolved" in failed["decisions/loop.md"]
    assert report["counts"]["added"] == 3
    checkpoint = load_checkpoint(layout.checkpoint_path, layout.journal_path)
    assert set(checkpoint.retry) == set(failed)  # queued, each with its reason
    audit = audit_store(layout, None)
    assert {u["path"] for u in audit["unreadable"]} == set(failed)
    maintained = run_maintain(layout, deps, MaintainPolicy())
    assert maintained["counts"]["memories"] == 3


def _claude_line(n: int, stamp: str, text: str, session: str) -> str:
    return json.dumps(
        {
            "type": "user",
            "sessionId": session,
            "uuid": f"u{n}",
            "cwd": "/home/dev/x",
            "timestamp": stamp,
            "message": {"role": "user", "content": text},
        }
    )


def test_one_bad_transcript_never_stops_capture(
    make_store: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    claude = tmp_path / "agents" / "claude" / "-home-dev-x"
    claude.mkdir(parents=True)
    stamps = {
        "overflow": "0001-01-01T00:00:00+05:00",
        "far": "9999-12-31T23:59:59-05:00",
        "nonsense": "yesterday-ish",
        "good": "2026-10-07T11:00:00Z",
    }
    for name, stamp in stamps.items():
        (claude / f"{name}.jsonl").write_text(
            _claude_line(0, stamp, f"we talked about {name}", name) + "\n", encoding="utf-8"
        )
    store: Store = make_store(agents=["claude"], claude=[str(claude.parent)])
    report = store.sync("--no-extract")
    assert report["capture"]["counts"]["read"] == 4 and report["capture"]["counts"]["failed"] == 0

    # whatever an adapter raises for one item, that item alone is queued, with its path
    from sync.capture.sources.claude import ClaudeAdapter

    real_parse = ClaudeAdapter.parse

    def parse(self: ClaudeAdapter, item: Any) -> Any:
        if "far" in str(item.path):
            raise RecursionError("maximum recursion depth exceeded")
        return real_parse(self, item)

    monkeypatch.setattr(ClaudeAdapter, "parse", parse)
    for name in stamps:
        (claude / f"{name}.jsonl").write_text(
            _claude_line(1, stamps[name], f"and then more about {name}", name) + "\n"
        )
    res = store.cli("sync", "--no-extract", "--force")
    assert res.code == 3, res.err
    cap = res.data["capture"]
    assert cap["counts"]["read"] == 4 and cap["counts"]["failed"] == 1
    failure = cap["failures"][0]
    assert failure["key"] == f"claude:{claude / 'far.jsonl'}"
    assert failure["error"] == "RecursionError: maximum recursion depth exceeded"
    assert f"claude:{claude / 'far.jsonl'}" in store.checkpoint().source_retry
