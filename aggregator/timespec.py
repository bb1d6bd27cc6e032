"""``--since`` values: '24h', '7d', '30m', '2w' or a date ('2026-02-24', ISO 8601)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from aggregator.dates import to_utc_string

_AGO = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime | None = None) -> str:
    """The UTC timestamp string ('YYYY-MM-DDTHH:MM:SSZ') that ``value`` means."""
    now = now or datetime.now(UTC)
    match = _AGO.match(value)
    if match:
        return to_utc_string(now - timedelta(**{_UNITS[match[2]]: int(match[1])}))
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a duration (24h, 7d) or a date (2026-02-24): {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_utc_string(moment)
