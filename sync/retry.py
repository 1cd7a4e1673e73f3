"""Retry policy: exponential backoff with a dead-letter limit. Pure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sync.redact import redact


@dataclass(frozen=True)
class RetryEntry:
    """A failed item waiting for its next attempt, or dead-lettered."""

    path: str
    raw_hash: str | None
    error: str
    permanent: bool
    attempts: int
    first_failed: str
    last_failed: str
    next_attempt: str
    dead: bool = False


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_moment(value: str | dt.datetime | None) -> dt.datetime | None:
    """A moment in UTC from an ISO-8601 text (naive means UTC); None when absent, not a time,
    or outside what a UTC datetime can hold (``0001-01-01T00:00:00+05:00``). For times
    written by people or other tools, where a bad one is not fatal."""
    if not value:
        return None
    try:
        moment = value if isinstance(value, dt.datetime) else parse_iso(str(value))
        if moment.tzinfo is None:
            return moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """After a failure wait ``base * 2**(attempts-1)`` (capped); dead-letter at ``max_attempts``."""

    max_attempts: int = 5
    base_delay_s: float = 60.0
    max_delay_s: float = 6 * 3600.0

    def delay_s(self, attempts: int) -> float:
        return float(min(self.base_delay_s * 2 ** max(attempts - 1, 0), self.max_delay_s))

    def after_failure(
        self,
        path: str,
        raw_hash: str | None,
        error: str,
        permanent: bool,
        previous: RetryEntry | None,
        now: dt.datetime,
    ) -> RetryEntry:
        """The queue entry after one more failed attempt; new content restarts the count."""
        same = previous is not None and previous.raw_hash == raw_hash
        attempts = previous.attempts + 1 if same and previous else 1
        return RetryEntry(
            path=path,
            raw_hash=raw_hash,
            error=redact(error)[0],  # messages may quote the file
            permanent=permanent,
            attempts=attempts,
            first_failed=previous.first_failed if same and previous else iso(now),
            last_failed=iso(now),
            next_attempt=iso(now + dt.timedelta(seconds=self.delay_s(attempts))),
            dead=attempts >= self.max_attempts,
        )

    @staticmethod
    def is_due(entry: RetryEntry, now: dt.datetime) -> bool:
        return not entry.dead and parse_iso(entry.next_attempt) <= now
