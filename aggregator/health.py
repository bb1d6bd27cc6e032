"""Source health, as pure functions: backoff for failing sources, ``Retry-After``, staleness.

A source that fails is not hit again on every run: after its n-th consecutive failure it waits
``base * 2**(n-1)``, at most ``cap`` (``BACKOFF_BASE``/``BACKOFF_MAX`` unless sources.toml sets
``backoff_base``/``backoff_max``), or longer when the server said so with ``Retry-After`` (also
capped), even when only one of the source's URLs said so. A source failing for longer than its
``stale_after`` is *stale*: ``newsagg run`` exits 3 and its summary names it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

BACKOFF_BASE = timedelta(minutes=15)
BACKOFF_MAX = timedelta(hours=24)
DEFAULT_STALE_AFTER = timedelta(days=2)
# A run that starts a little before a source is due (cron jitter, a slow previous run) still
# takes it: otherwise a 30-minute backoff under a 30-minute cron would skip one run in two.
DUE_SLACK = timedelta(minutes=1)

_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: str) -> timedelta:
    """'30m', '12h', '2d', '1w' as a timedelta; ValueError otherwise."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match or int(match[1]) == 0:
        raise ValueError(f"not a duration such as 30m, 12h, 2d or 1w: {value!r}")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def format_duration(value: timedelta) -> str:
    """The shortest of '1w', '2d', '12h', '30m' that says ``value`` exactly (minutes otherwise)."""
    minutes = int(value.total_seconds() // 60)
    for unit, size in (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def backoff(
    failures: int, base: timedelta = BACKOFF_BASE, cap: timedelta = BACKOFF_MAX
) -> timedelta:
    """How long a source waits after its ``failures``-th consecutive failure: ``base`` doubling,
    at most ``cap``."""
    if failures <= 0:
        return timedelta(0)
    if failures > 40:  # 2**40 times any base of a minute or more is far beyond any cap
        return cap
    return min(base * 2 ** (failures - 1), cap)


def retry_after_seconds(value: str | bytes | None, now: datetime) -> float | None:
    """A ``Retry-After`` header (delay-seconds or an HTTP-date) as seconds from ``now``, or None
    when absent or unreadable. A date in the past is 0."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def next_attempt(
    failures: int,
    now: datetime,
    retry_after: float | None = None,
    base: timedelta = BACKOFF_BASE,
    cap: timedelta = BACKOFF_MAX,
) -> datetime:
    """When a source that has just failed for the ``failures``-th time in a row is due again
    (``failures`` 0: a source that did not fail but was told ``Retry-After`` on one of its URLs).
    ``Retry-After`` is capped by ``cap`` too, so a hostile server cannot park a source forever."""
    wait = backoff(failures, base, cap)
    if retry_after is not None:
        wait = max(wait, min(timedelta(seconds=retry_after), cap))
    return now + wait


def is_due(row: dict[str, Any] | None, now: datetime) -> bool:
    """Should a run fetch the source whose ``sources`` row this is? (No row: never run: yes.)"""
    stamp = (row or {}).get("next_attempt_at")
    return not stamp or _parse(stamp) <= now + DUE_SLACK


def stale_reason(row: dict[str, Any] | None, stale_after: timedelta, now: datetime) -> str | None:
    """'failing since 2026-02-23T01:00:00Z (HTTP 500)' when the source has been failing for
    longer than ``stale_after``, else None."""
    since = (row or {}).get("failing_since")
    if not since or now - _parse(since) <= stale_after:
        return None
    assert row is not None
    return f"failing since {since} ({row.get('last_error') or 'unknown error'})"


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
