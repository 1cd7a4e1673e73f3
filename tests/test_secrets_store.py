"""No planted secret reaches the store: a session carrying every kind of the corpus, a
`memsync add` and a hand-written memory go through sync, ask, audit, maintain and backfill,
then every byte under .memsync/ (index included) is searched. The hand-written file is the
one place a secret stays (a person's file is left as written); audit names it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.sync.secret_corpus import PLANTED, fake
from tests.test_capture import Store, make_store  # noqa: F401  (the fixture)

SESSION = "99999999-aaaa-4000-8000-000000000009"
NPM = "npm_" + fake(36)
HF = "hf_" + fake(34)
HAND_PASSWORD = "Hand-" + fake(14)
HAND_TOKEN = "glpat-" + fake(24)


def _line(kind: str, n: int, message: dict[str, Any]) -> str:
    return json.dumps(
        {
            "type": kind,
            "sessionId": SESSION,
            "uuid": f"u-{n}",
            "parentUuid": f"u-{n - 1}" if n else None,
            "cwd": "/home/dev/secrets",
            "timestamp": f"2026-10-07T11:{n // 60:02d}:{n % 60:02d}.000Z",
            "message": message,
        }
    )


def write_session(folder: Path) -> Path:
    """One Claude Code session: each planted text said by the user, run as a command and
    echoed by the tool; plus decisions whose titles would carry a secret."""
    lines, n = [], 0

    def add(kind: str, message: dict[str, Any]) -> None:
        nonlocal n
        lines.append(_line(kind, n, message))
        n += 1

    add("user", {"role": "user", "content": f"We decided to use the deploy token {NPM} for CI."})
    add("user", {"role": "user", "content": f"Going forward, always publish with {HF} only."})
    for i, (_, template, secret) in enumerate(PLANTED):
        text = template.format(s=secret)
        add("user", {"role": "user", "content": f"Here it is: {text}"})
        tool = {"type": "tool_use", "id": f"t{i}", "name": "Bash", "input": {"command": text}}
        add("assistant", {"role": "assistant", "model": "claude-x", "content": [tool]})
        result = {"type": "tool_result", "tool_use_id": f"t{i}", "content": f"ran: {text}"}
        add("user", {"role": "user", "content": [result]})
    path = folder / "-home-dev-secrets" / f"{SESSION}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fragments(secret: str) -> list[str]:
    """The secret, and for long ones a piece of its middle (a partial leak counts too)."""
    pieces = [secret]
    if len(secret) >= 24:
        mid = len(secret) // 2
        pieces.append(secret[mid - 6 : mid + 6])
    return pieces


def test_no_planted_secret_reaches_the_store(make_store: Any, tmp_path: Path) -> None:  # noqa: F811
    claude = tmp_path / "agents" / "claude"
    write_session(claude)
    store: Store = make_store(agents=["claude"], claude=[str(claude)])
    hand = store.layout.memory_dir / "decisions" / "handmade.md"
    hand.write_text(
        f"---\ntitle: Staging login {HAND_TOKEN}\nkind: decision\n---\n\n"
        f"The staging admin password is {HAND_PASSWORD} until we move it to the vault.\n",
        encoding="utf-8",
    )
    added = store.cli(
        "add",
        "--kind",
        "decision",
        "--title",
        f"Publish packages with {NPM}",
        "--body",
        "Credentials: " + " ; ".join(t.format(s=s) for _, t, s in PLANTED[:25]),
    )
    assert added.code == 0, added.err
    assert "redacted-npm-token" in added.data["path"]
    report = store.sync()
    assert report["capture"]["counts"]["redactions"] > len(PLANTED)
    asked = store.cli("ask", "deploy token for publishing packages")
    audit = store.cli("audit")
    backfill = store.cli("backfill", "--all")
    maintained = store.cli("maintain")
    status = store.cli("status")
    for res in (asked, backfill, maintained, status):
        assert res.code == 0, res.err
    # audit names the hand-written file and what is in it, never the value
    flagged = {f["path"]: f["kinds"] for f in audit.data["secrets"]}
    assert flagged == {"decisions/handmade.md": {"gitlab_token": 1, "password": 1}}
    assert audit.code == 5

    secrets = [s for _, _, s in PLANTED] + [NPM, HF, HAND_PASSWORD, HAND_TOKEN]
    outputs = json.dumps([r.data for r in (added, asked, audit, backfill, maintained, status)])
    assert not [s for s in secrets for f in fragments(s) if f in outputs]
    leaks, files = [], 0
    for path in sorted(p for p in store.layout.root.rglob("*") if p.is_file()):
        if path == hand:
            continue
        files += 1
        data = path.read_bytes()
        for secret in secrets:
            for piece in fragments(secret):
                if piece.encode() in data or json.dumps(piece)[1:-1].encode() in data:
                    leaks.append((str(path.relative_to(store.layout.root)), secret[:12]))
    assert files > 10 and leaks == [], leaks
    text = hand.read_text(encoding="utf-8")
    assert HAND_PASSWORD in text and HAND_TOKEN in text  # left as its author wrote it
