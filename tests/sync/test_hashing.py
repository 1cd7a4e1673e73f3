from __future__ import annotations

import dataclasses

from sync.hashing import content_hash, point_id, text_fingerprint
from sync.store.markdown import parse_memory


def test_content_hash_ignores_access_times_and_formatting() -> None:
    a = parse_memory("---\nid: m\ntitle: T\n---\nline one\nline two\n", "decisions/a.md")
    b = parse_memory(
        "---\ntitle: T\nid: m\naccessed: 2026-01-01\naccess_count: 9\n---\r\n"
        "line one   \r\nline two\r\n\r\n",
        "decisions/a.md",
    )
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(dataclasses.replace(a, body="line one\nline 2"))
    assert content_hash(a) != content_hash(dataclasses.replace(a, tags=("new",)))


def test_point_id_is_a_deterministic_uuid_per_memory_id() -> None:
    assert point_id("mem-1") == point_id("mem-1")
    assert point_id("mem-1") != point_id("mem-2")
    assert len(point_id("mem-1")) == 36


def test_fingerprint_ignores_case_and_punctuation_only() -> None:
    assert text_fingerprint("Use Postgres", "We chose it!") == text_fingerprint(
        "use postgres.", "we  chose it"
    )
    assert text_fingerprint("Use Postgres", "We chose it") != text_fingerprint(
        "Use MySQL", "We chose it"
    )
