"""The redaction corpus: every planted kind is removed, ordinary text is left alone, and
detect-secrets (all its detectors, keyword and entropy ones included) finds nothing in what
redaction leaves."""

from __future__ import annotations

import pytest

from sync.care.audit import audit_store
from sync.models import Memory
from sync.redact import redact, redact_memory
from sync.store import StoreLayout
from tests.conftest import write_memory_file
from tests.sync.secret_corpus import ORDINARY, PLANTED


@pytest.mark.parametrize(("label", "template", "secret"), PLANTED, ids=[p[0] for p in PLANTED])
def test_planted_secret_is_redacted(label: str, template: str, secret: str) -> None:
    text = template.format(s=secret)
    out, counts = redact(text)
    assert secret not in out, out
    assert counts and "[REDACTED:" in out
    # the text around the secret still reads
    head = template.split("{s}")[0].rstrip("-:= '\"`{\\").split()
    if head and "private_key" not in counts:  # a key block goes whole, its header too
        assert head[0].strip('{"\\') in out
    assert redact(out) == (out, {})  # twice equals once


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == (text, {})


def test_corpus_covers_many_kinds() -> None:
    kinds: set[str] = set()
    for _, template, secret in PLANTED:
        kinds.update(redact(template.format(s=secret))[1])
    assert len(PLANTED) >= 90
    assert len(kinds) >= 55, sorted(kinds)


def _shares(found: str, secret: str, n: int = 8) -> bool:
    return any(found[i : i + n] in secret for i in range(max(len(found) - n + 1, 0)))


def test_detect_secrets_finds_nothing_left() -> None:
    """A second opinion: every detector of detect-secrets (keyword and entropy ones too) over
    the redacted corpus finds no piece of a planted secret."""
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings

    leftovers = []
    with default_settings() as settings:
        # never call a provider to "verify" a value: tests are offline
        settings.disable_filters(
            "detect_secrets.filters.common.is_ignored_due_to_verification_policies"
        )
        for label, template, secret in PLANTED:
            out, counts = redact(template.format(s=secret))
            for line in out.splitlines():
                for found in scan_line(line):
                    value = found.secret_value or ""
                    if value not in counts and _shares(value, secret):  # not a mark's kind
                        leftovers.append((label, found.type, value))
    assert not leftovers, leftovers


def test_a_memory_is_redacted_field_by_field() -> None:
    token = PLANTED[0][2]
    memory = Memory(
        id="m1",
        kind="decision",
        title=f"Publish with {token}",
        body=f"export NPM_TOKEN={token}",
        tags=("npm", token),
    )
    clean, counts = redact_memory(memory)
    assert token not in repr(clean)
    assert counts == {"npm_token": 3}
    assert clean.title == "Publish with [REDACTED:npm_token]"
    assert redact_memory(clean) == (clean, {})
    plain = Memory(id="m2", kind="note", title="Plain", body="nothing here")
    assert redact_memory(plain)[0] is plain


def test_audit_finds_every_planted_kind_in_files(layout: StoreLayout) -> None:
    """`memsync audit` uses the same rules: each file holding a planted secret is listed."""
    for i, (_, template, secret) in enumerate(PLANTED):
        text = template.format(s=secret)
        write_memory_file(layout, f"notes/n{i:03d}.md", f"# Note {i}\n\n{text}\n")
    write_memory_file(layout, "notes/clean.md", "# Clean\n\n" + "\n".join(ORDINARY) + "\n")
    report = audit_store(layout, None)
    flagged = {f["path"] for f in report["secrets"]}
    assert flagged == {f"notes/n{i:03d}.md" for i in range(len(PLANTED))}
