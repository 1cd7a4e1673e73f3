"""Audit's noise rules on the shapes memsync writes, and a noisy store failing the audit."""

from __future__ import annotations

from sync.care.audit import AuditThresholds, audit_store
from sync.care.audit_noise import noise_reasons, recap_words
from sync.models import Memory
from sync.store import StoreLayout, write_memory


def reasons(kind: str, title: str, body: str) -> list[str]:
    return noise_reasons(Memory("m", kind, title, body), 25)


# what the offline extractor wrote for a rerun (from a real session, the example)
RERUN = (
    "Fix git commit: On branch fix/team-optimization-v2",
    "Error: On branch fix/team-optimization-v2\nnothing to commit, working tree clean\n"
    'Failed: `git commit -m "fix: team optimization"` (bash)\n'
    'Fixed by: `git commit -m "fix: team optimization"`',
)
FIXED = (
    "Fix cargo build: error[E0433]: failed to resolve: use of undeclared crate `tokio`",
    "Error: error[E0433]: failed to resolve: use of undeclared crate or module `tokio`\n"
    "Failed: `cargo build --release` (bash)\n"
    "Fixed by: `cargo add tokio --features full && cargo build --release`\n"
    "Changed: Cargo.toml",
)
WRITTEN = (
    "Jest hangs because the worker pool is never closed",
    "Error: Jest did not exit one second after the test run has completed.\n"
    "Cause: the worker pool stays open after the suite; closing it in afterAll fixes the hang.",
)


def test_learnings() -> None:
    assert reasons("learning", *RERUN) == ["raw error line as the title", "learning without a fix"]
    rerun_only = "Error: TypeError: generate is not a function\nFailed: `npm run build` (bash)"
    assert reasons("learning", "Fix npm run build: TypeError: generate is not a function",
                   rerun_only + "\nFixed by: `npm run build`") == [
        "raw error line as the title",
        "body restates the title",
        "learning without a fix",
    ]  # fmt: skip
    assert reasons("learning", *FIXED) == ["raw error line as the title"]
    assert reasons("learning", *WRITTEN) == []
    model = (
        "qwen3.5:9b failed (fetch failed); gpt-5.4 replied instead",
        "Problem: qwen3.5:9b failed: fetch failed (4 times)\nFix: the reply came from gpt-5.4",
    )
    assert reasons("learning", *model) == []  # a model's name:tag is no file:line
    assert reasons("learning", "Crash in parser.py:42:7 on empty input", FIXED[1])[0] == (
        "raw error line as the title"
    )
    found = "The `tree` command is aliased to lsd here, which rejects tree's -L flag."
    assert reasons("learning", "tree is aliased to lsd on this machine", found) == []
    cut = reasons("learning", "The build fails because the term-ui package does not…", found)
    assert cut == ["title cut off"]


def test_decisions() -> None:
    assert (
        reasons(
            "decision",
            "Use pnpm instead of npm for the workspace installs",
            "> Let's use pnpm instead of npm for the workspace installs, since npm keeps hoisting "
            "the wrong React version.\n\nContext: the user asked: why does storybook use react 17",
        )
        == []
    )
    assert reasons(
        "decision",
        "Only rgb hex in the theme json",
        "> no 256 color palette numbers in the theme json, only rgb hex like #81a2be",
    ) == ["decision without a reason"]
    purposes = (  # a stated purpose is a reason too
        "the old exporters stay, allowing existing scripts to keep working",
        "kept for backwards compatibility with the v1 files",
        "a u64 newtype, to represent ids that can never be negative",
    )
    for why in purposes:
        assert reasons("decision", "Keep the legacy export files", f"> {why}") == [], why
    assert reasons(
        "decision",
        "Let's use pnpm for the workspace installs",
        "> Let's use pnpm for the workspace installs.\n\nContext: the user asked: set it up",
    ) == ["body restates the title", "decision without a reason"]


def test_summaries() -> None:
    dump = (
        "## Topics\n- fix it\n- Key terms: build, tsconfig\n\n## Files touched\n"
        "- src/app/page.tsx (edited)\n- package.json\n- (+4 more)\n\n## Commands run\n"
        "- `npm run build`\n- `npx tsc --noEmit`\n\n## Messages\nassistant 12, user 3, tool calls 9"
    )
    assert recap_words(dump) == 2
    assert reasons("summary", "Session 2026-11-20: demo", dump) == [
        "near-empty summary (2 words of recap)"
    ]
    recap = (
        "## Asked\nBring CLAUDE.md up to date with the actual todo-app.\n\n## Done\n"
        "- CLAUDE.md: Next.js 15.5.2, React 19.1.0, port 3000 instead of 3001\n\n"
        "## Decided\n- Drop `npm run type-check`: package.json has no such script.\n\n"
        "## Left open\n- The Jest line is unverified: jest is not a dependency."
    )
    assert reasons("summary", "Session 2026-11-20: demo", recap) == []
    japanese = (  # written without spaces: its characters count, two to a word
        "## Asked\n設定画面を作って、APIキーを保存できるようにしてください。\n\n## Done\n"
        "- 設定ページを追加し、キーはローカルストレージに保存する。テーマは暗い色に変更した。\n"
        "- メニューの名前をパラメータから設定に変えた。"
    )
    assert recap_words(japanese) >= 25
    assert reasons("summary", "Session 2026-11-20: 設定画面", japanese) == []


def test_a_noisy_store_fails_the_audit(layout: StoreLayout) -> None:
    shapes = [("learning", *RERUN), ("learning", *FIXED), ("learning", *WRITTEN)]
    shapes += [("decision", "Only rgb hex in the theme json", "> only rgb hex like #81a2be")]
    for n, (kind, title, body) in enumerate(shapes):
        write_memory(layout.memory_dir, f"{kind}s/m{n}.md", Memory(f"m{n}", kind, title, body))
    report = audit_store(layout, None)
    assert report["noise"]["count"] == 3 and report["noise"]["rate"] == 0.75
    assert report["noise"]["reasons"]["raw error line as the title"] == 2
    assert "noise_rate" in report["failed"]
    assert sum(p["check"] == "noise" for p in report["problems"]) == 3
    lenient = audit_store(layout, None, thresholds=AuditThresholds(max_noise_rate=0.8))
    assert "noise_rate" not in lenient["failed"]
