"""Passage vectors: a question about one line of a long summary finds it above the floor,
with the real model and embedded Qdrant; point counts and dry-run estimates are unchanged."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from sync.index.engine import SyncDeps, SyncOptions, run_sync
from sync.index.passages import PAYLOAD_KEY, best_passage, pack, passage_texts
from sync.lexical import relevance
from sync.models import Memory, collection_name
from sync.ports import SearchFilter
from sync.recall.retrieve import ask
from sync.recall.scoring import Scoring
from sync.store import StoreLayout
from tests.conftest import index_for, memory_text, point_count, write_memory_file

ASKED_LINE = "Md link text in the old pi was colour 81a2be and bullets were 8abeb7"
FILLER = [
    "packages/coding-agent/src/theme/theme.ts — added the toolTitle token",
    "packages/tui/test/markdown.test.ts — imports chalk for the expected output",
    "Verified: npm run check passes on the whole workspace",
    "Committed: 45ffe0a Release v0.8.0 with the CHANGELOG entry",
    "decision: make the diff red and green a little less intense",
    "decision: the muted colour is a little brighter in the dark theme",
    "issue: npm run publish failed and did not pass again before the session ended",
    "convention: setTheme returns an error the caller displays; no console logs",
    "learning: the tool execution background did not change after a theme switch",
    "decision: custom themes are watched with fs.watch and reloaded on change",
    "convention: every rendered line must fit the width passed to render()",
    "decision: the footer context usage turns warning above 70% and error above 90%",
]


def summary_body() -> str:
    lines = ["## Asked", "/mode: port the theme system", "", "## Done"]
    lines += [f"- {line}" for line in FILLER[:6]]
    lines += ["", "## Decided and fixed"] + [f"- {line}" for line in FILLER[6:]]
    lines += [f"- decision: {ASKED_LINE}", "", "## Left open", "- the light theme's contrast"]
    return "\n".join(lines)


def seed_store(layout: StoreLayout) -> None:
    write_memory_file(
        layout,
        "summaries/20251120/pi-theme-session.md",
        memory_text("'pi-mono 2025-11-20 /mode'", summary_body(), kind="summary"),
    )
    write_memory_file(
        layout,
        "decisions/20251120-rgb.md",
        memory_text("Use RGB hex values in themes", "Never 256-colour palette indices."),
    )


def asked(layout: StoreLayout, deps: SyncDeps, question: str, scoring: Scoring) -> dict[str, Any]:
    encoder = deps.encoder_factory()
    index = index_for(layout, deps.index_id)
    try:
        return ask(
            question,
            encoder=encoder,
            index=index,
            collection=collection_name("memsync", encoder.identity),
            k=3,
            flt=SearchFilter(),
            memory_dir=layout.memory_dir,
            scoring=scoring,
        )
    finally:
        index.close()


@pytest.mark.parametrize("backend", ["edge", "local"])
def test_a_line_deep_in_a_summary_is_found_above_the_floor(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    seed_store(layout)
    preview = run_sync(layout, SyncOptions(dry_run=True), make_deps())
    report = run_sync(layout, SyncOptions(), make_deps())
    assert report["storage"]["bytes_added"] == preview["storage"]["bytes_added"]
    assert point_count(layout)[0] == 2  # still one point per memory file
    question = "Which colours did the old pi use for markdown links and bullets?"
    found = asked(layout, make_deps(), question, Scoring())
    top = found["results"][0]
    assert top["kind"] == "summary" and top["score"] >= Scoring().min_score
    assert ASKED_LINE in top["snippet"]
    # a line answers the question: the summary's kind weight (for broad whole-summary
    # matches) is not applied on top of the line's margin
    assert top["score"] == pytest.approx(relevance(top["cosine"], top["lexical"] or 0.0), abs=2e-3)
    broad = asked(layout, make_deps(), question, Scoring(passage_margin=2.0, min_score=0.0))
    (whole_summary,) = [r for r in broad["results"] if r["kind"] == "summary"]
    weighted = relevance(whole_summary["cosine"], whole_summary["lexical"] or 0.0) * 0.85
    assert whole_summary["score"] == pytest.approx(weighted, abs=2e-3)
    # the same store scored without its passages: the summary falls under the floor
    whole = asked(layout, make_deps(), question, Scoring(passage_margin=2.0))
    assert all(r["kind"] != "summary" for r in whole["results"])
    unrelated = asked(layout, make_deps(), "What temperature should I bake bread at?", Scoring())
    assert unrelated["results"] == [] and unrelated["no_strong_match"]


def test_only_long_memories_get_passages_and_each_is_one_line() -> None:
    long = Memory(id="s", kind="summary", title="Session", body=summary_body())
    texts = passage_texts(long)
    assert len(texts) == len(FILLER) + 3  # the headings are context, not passages
    # the section says what kind of line it is; the title stays out (it would drown the line)
    assert f"Decided and fixed: decision: {ASKED_LINE}" in texts
    assert not any(t.startswith("Session") for t in texts)
    short = Memory(id="d", kind="decision", title="Short", body="One line of body.")
    assert passage_texts(short) == []
    assert PAYLOAD_KEY == "passages"


def test_packed_passages_keep_their_cosines() -> None:
    def unit(values: list[float]) -> list[float]:
        norm = math.sqrt(sum(v * v for v in values))
        return [v / norm for v in values]

    dim = 16
    vectors = [unit([math.sin(i * (j + 1)) for j in range(dim)]) for i in range(1, 6)]
    query = unit([math.cos(j) for j in range(dim)])
    exact = [sum(a * b for a, b in zip(v, query, strict=True)) for v in vectors]
    best = best_passage(pack(vectors), query)
    assert best is not None
    assert best[1] == exact.index(max(exact))
    assert abs(best[0] - max(exact)) < 0.01
    assert best_passage(pack(vectors), query[:-1]) is None  # another model's dimension
    assert best_passage("not base64!", query) is None


def test_a_store_indexed_before_passages_gets_them_once(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_store(layout)
    with monkeypatch.context() as old_version:  # an index written before passage vectors
        old_version.setattr("sync.index.passages.MIN_BODY_CHARS", 10**9)
        run_sync(layout, SyncOptions(), make_deps())
    state = json.loads(layout.checkpoint_path.read_text())
    state.pop("passages")
    layout.checkpoint_path.write_text(json.dumps(state))
    question = "Which colours did the old pi use for markdown links and bullets?"
    assert all(
        r["kind"] != "summary" for r in asked(layout, make_deps(), question, Scoring())["results"]
    )
    preview = run_sync(layout, SyncOptions(dry_run=True), make_deps())
    report = run_sync(layout, SyncOptions(), make_deps())
    for run in (preview, report):
        assert run["counts"]["updated"] == 1 and run["counts"]["unchanged"] == 1
    assert report["storage"] == preview["storage"]
    assert point_count(layout)[0] == 2
    assert asked(layout, make_deps(), question, Scoring())["results"][0]["kind"] == "summary"
    again = run_sync(layout, SyncOptions(), make_deps())
    assert again["counts"]["unchanged"] == 2 and again["counts"]["updated"] == 0


def test_a_store_indexed_under_the_first_passage_scheme_reembeds_them_once(
    layout: StoreLayout, make_deps: Callable[..., SyncDeps]
) -> None:
    seed_store(layout)
    run_sync(layout, SyncOptions(), make_deps())
    state = json.loads(layout.checkpoint_path.read_text())
    assert state["passages"] == 2
    state["passages"] = 1  # lines were embedded as "title / section: line"
    layout.checkpoint_path.write_text(json.dumps(state))
    preview = run_sync(layout, SyncOptions(dry_run=True), make_deps())
    report = run_sync(layout, SyncOptions(), make_deps())
    for run in (preview, report):  # only the long memory has passages to embed again
        assert run["counts"]["updated"] == 1 and run["counts"]["unchanged"] == 1
    assert json.loads(layout.checkpoint_path.read_text())["passages"] == 2
    again = run_sync(layout, SyncOptions(), make_deps())
    assert again["counts"]["unchanged"] == 2 and again["counts"]["updated"] == 0
