"""aggregator.health: backoff, Retry-After, due and stale, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.health import (
    BACKOFF_MAX,
    DUE_SLACK,
    backoff,
    format_duration,
    is_due,
    next_attempt,
    parse_duration,
    retry_after_seconds,
    stale_reason,
)

NOW = datetime(2026, 2, 25, 3, 0, tzinfo=UTC)


def test_backoff_doubles_from_15_minutes_and_is_capped() -> None:
    assert [backoff(n) for n in range(0, 4)] == [
        timedelta(0),
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(hours=1),
    ]
    assert backoff(7) == timedelta(hours=16)
    assert backoff(8) == BACKOFF_MAX == timedelta(hours=24)
    assert backoff(10_000) == BACKOFF_MAX


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (b"7200", 7200.0),
        (" 0 ", 0.0),
        ("Wed, 25 Feb 2026 04:00:00 GMT", 3600.0),
        ("Tue, 24 Feb 2026 04:00:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_retry_after(header: str | bytes | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds


def test_next_attempt_takes_the_longer_of_backoff_and_retry_after() -> None:
    assert next_attempt(1, NOW) == NOW + timedelta(minutes=15)
    assert next_attempt(1, NOW, retry_after=7200) == NOW + timedelta(hours=2)
    assert next_attempt(3, NOW, retry_after=60) == NOW + timedelta(hours=1)
    assert next_attempt(1, NOW, retry_after=10**9) == NOW + BACKOFF_MAX


def test_is_due() -> None:
    assert is_due(None, NOW)
    assert is_due({"next_attempt_at": None}, NOW)
    assert is_due({"next_attempt_at": "2026-02-25T02:00:00Z"}, NOW)
    assert not is_due({"next_attempt_at": "2026-02-25T04:00:00Z"}, NOW)
    almost = NOW + DUE_SLACK - timedelta(seconds=1)
    assert is_due({"next_attempt_at": almost.strftime("%Y-%m-%dT%H:%M:%SZ")}, NOW)


def test_stale_reason() -> None:
    row = {"failing_since": "2026-02-22T03:00:00Z", "last_error": "HTTP 500"}
    assert stale_reason(row, timedelta(days=2), NOW) == (
        "failing since 2026-02-22T03:00:00Z (HTTP 500)"
    )
    assert stale_reason(row, timedelta(days=3), NOW) is None  # exactly 3 days: not longer
    assert stale_reason({"failing_since": None}, timedelta(hours=1), NOW) is None
    assert stale_reason(None, timedelta(hours=1), NOW) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("2d", timedelta(days=2)),
        (" 1w ", timedelta(weeks=1)),
    ],
)
def test_durations(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value
    assert format_duration(value) == text.strip()


@pytest.mark.parametrize("text", ["", "2", "2 days", "0h", "-1d", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
