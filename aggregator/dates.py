"""Dates as news sites write them, read in the site's own time zone.

A fast path of regular expressions covers the common formats; ``dateparser`` is only the fallback
for strings none of them reads (it costs ~0.6 ms a call and reads "02-24 15:20" as 2002-11-24).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

FUTURE_SLACK = timedelta(minutes=10)
EARLIEST_YEAR = 1990

_FULL = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:(?:\s+|T|\s*日?\s*)(?P<H>\d{1,2})\s*[:：时]\s*(?P<M>\d{2})(?:\s*[:：分]\s*(?P<S>\d{2}))?)?"
)
_NO_YEAR = re.compile(
    r"(?<![\d-])(?P<m>\d{1,2})\s*[-/月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*(?P<H>\d{1,2})\s*[:：]\s*(?P<M>\d{2})(?:\s*[:：]\s*(?P<S>\d{2}))?)?(?![\d/-])"
)
_ISO_ZONED = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::(?P<S>\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# "24 Feb 2026 15:20", "Feb 24, 2026", "February 24 2026" (English sources, no zone)
_MON = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?"
)
_CLOCK = (
    r"(?:,?\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?"
    r"(?:\s*(?P<Z>[+-]\d{2}:?\d{2}|GMT|UTC|UT|Z)\b)?)?"
)
_EN_DAY_MONTH = re.compile(
    rf"\b(?P<d>\d{{1,2}})\s+{_MON},?\s+(?P<y>(?:19|20)\d{{2}}){_CLOCK}", re.I
)
_EN_MONTH_DAY = re.compile(
    rf"\b{_MON}\s+(?P<d>\d{{1,2}}),?\s+(?P<y>(?:19|20)\d{{2}}){_CLOCK}", re.I
)
_CLOCK_ONLY = re.compile(r"^\[?\(?\s*(\d{1,2})[:：](\d{2})\s*\)?\]?$")
_UNIX = re.compile(r"^\s*(?P<n>\d{10})(?P<ms>\d{3})?\s*$")
# Anything shaped like a date, for telling "no date" from "a date that cannot be" (2月30日).
_DATE_SHAPE = re.compile(
    r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}|\d{1,2}\s*月\s*\d{1,2}\s*日"
    r"|(?<![\d-])\d{1,2}-\d{1,2}\s+\d{1,2}:\d{2}"
)
_RELATIVE = re.compile(r"(?P<n>\d+)\s*(?P<unit>秒|分钟|分鐘|小时|小時|天|日|周|週)前")
_RELATIVE_EN = re.compile(r"(?P<n>\d+)\s*(?P<unit>second|minute|min|hour|day|week)s?\s+ago", re.I)
_UNITS = {
    "秒": "seconds",
    "second": "seconds",
    "分钟": "minutes",
    "分鐘": "minutes",
    "minute": "minutes",
    "min": "minutes",
    "小时": "hours",
    "小時": "hours",
    "hour": "hours",
    "天": "days",
    "日": "days",
    "day": "days",
    "周": "weeks",
    "週": "weeks",
    "week": "weeks",
}


@dataclass(frozen=True)
class ParsedDate:
    """An aware datetime and how precise the source string was ('day', 'minute', 'second')."""

    value: datetime
    precision: str


def parse_date(raw: str | None, tz: tzinfo, now: datetime) -> ParsedDate | None:
    """Read a date string in zone ``tz``; ``now`` (aware) anchors year-less and relative dates.

    Returns None when nothing date-like is found or the date is impossible.
    """
    if not raw:
        return None
    text = raw.strip()
    if not text:
        return None
    local_now = now.astimezone(tz)

    match = _UNIX.match(text)
    if match:  # unix seconds (or milliseconds), as JSON APIs and data-time attributes give them
        return ParsedDate(datetime.fromtimestamp(int(match["n"]), UTC), "second")

    match = _ISO_ZONED.search(text)
    if match:
        try:
            value = datetime.fromisoformat(match.group(0).replace(" ", "T").replace("Z", "+00:00"))
        except ValueError:
            value = None
        if value is not None:
            return ParsedDate(value, "second" if match["S"] else "minute")

    match = _FULL.search(text)
    if match:
        return _build(match, int(match["y"]), tz)

    for pattern in (_EN_DAY_MONTH, _EN_MONTH_DAY):
        match = pattern.search(text)
        if match:
            zone = _offset(match["Z"]) if match["Z"] else tz  # RFC 822 dates name their zone
            if zone is None:  # an offset no clock has ("+9999"): not a date
                return None
            return _build(match, int(match["y"]), zone, month=_MONTHS[match["mon"][:3].lower()])

    if text in ("刚刚", "剛剛") or text.lower() == "just now":
        return ParsedDate(now, "minute")
    match = _RELATIVE.search(text) or _RELATIVE_EN.search(text)
    if match:
        unit = _UNITS[match["unit"].lower()]
        value = now - timedelta(**{unit: int(match["n"])})
        return ParsedDate(value, "day" if unit in ("days", "weeks") else "minute")
    if text.startswith(("今天", "昨天", "前天")):
        days = ("今天", "昨天", "前天").index(text[:2])
        day = (local_now - timedelta(days=days)).date()
        clock = re.search(r"(\d{1,2})[:：](\d{2})", text)
        if clock:
            value = datetime(day.year, day.month, day.day, int(clock[1]), int(clock[2]), tzinfo=tz)
            return ParsedDate(value, "minute")
        return ParsedDate(datetime(day.year, day.month, day.day, tzinfo=tz), "day")
    match = _CLOCK_ONLY.match(text)
    if match:  # "10:40": today's items on many Chinese lists show only the time
        day = local_now.date()
        try:
            value = datetime(day.year, day.month, day.day, int(match[1]), int(match[2]), tzinfo=tz)
        except ValueError:
            return None
        if value > now + FUTURE_SLACK:  # a late-evening item read just after midnight
            value -= timedelta(days=1)
        return ParsedDate(value, "minute")

    match = _NO_YEAR.search(text)
    if match:
        parsed = _build(match, local_now.year, tz)
        if parsed is None or parsed.value > now + FUTURE_SLACK:
            # Ahead of now (or 2月29日 in a non-leap year): it was last year's.
            parsed = _build(match, local_now.year - 1, tz)
        return parsed

    return _fallback(text, tz)


def looks_like_date(raw: str | None) -> bool:
    """Whether the text has the shape of a date, readable or not ("2026年2月30日" has)."""
    return bool(raw and _DATE_SHAPE.search(raw))


def read_date(
    raw: str | None, tz: tzinfo, now: datetime, date_format: str | None = None
) -> tuple[ParsedDate | None, list[str]]:
    """:func:`parse_date` that also says when a date was there but impossible (2月30日,
    0000-00-00): then ``(None, ["date_suspect"])``. ``date_format`` (``strptime`` syntax, read
    in ``tz``) is tried first, for a source whose dates no pattern reads."""
    if date_format and raw:
        try:
            value = datetime.strptime(raw.strip(), date_format)  # noqa: DTZ007 (zone set below)
        except ValueError:
            pass
        else:
            precision = (
                "second" if "%S" in date_format else "minute" if "%M" in date_format else "day"
            )
            return ParsedDate(value.replace(tzinfo=value.tzinfo or tz), precision), []
    parsed = parse_date(raw, tz, now)
    if parsed is None and looks_like_date(raw):
        return None, ["date_suspect"]
    return parsed, []


def _offset(zone: str) -> tzinfo | None:
    """'+0800', '-05:00', 'GMT', 'UTC', 'UT' or 'Z' as a fixed offset; None for an impossible
    one (24 hours or more, or 60 minutes or more)."""
    if zone.upper() in ("GMT", "UTC", "UT", "Z"):
        return UTC
    digits = zone[1:].replace(":", "")
    hours, extra = int(digits[:2]), int(digits[2:])
    if hours >= 24 or extra >= 60:
        return None
    minutes = hours * 60 + extra
    return timezone(timedelta(minutes=minutes if zone[0] == "+" else -minutes))


def _build(
    match: re.Match[str], year: int, tz: tzinfo, month: int | None = None
) -> ParsedDate | None:
    hour, minute, second = match["H"], match["M"], match["S"]
    try:
        value = datetime(
            year,
            month or int(match["m"]),
            int(match["d"]),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=tz,
        )
    except ValueError:
        return None
    if hour is None:
        return ParsedDate(value, "day")
    return ParsedDate(value, "second" if second is not None else "minute")


def _fallback(text: str, tz: tzinfo) -> ParsedDate | None:
    """The general parser, for the rare string the fast path does not read."""
    if not re.search(r"\d", text) or len(text) > 80:
        return None
    import dateparser  # imported lazily: it costs ~0.3 s at start-up

    value = dateparser.parse(
        text,
        settings={
            "TIMEZONE": str(tz),
            "RETURN_AS_TIMEZONE_AWARE": True,
            "PREFER_DATES_FROM": "past",
        },
    )
    if value is None:
        return None
    if re.search(r"\d{1,2}:\d{2}:\d{2}", text):
        return ParsedDate(value, "second")
    has_clock = bool(re.search(r"\d{1,2}:\d{2}", text))
    return ParsedDate(value, "minute" if has_clock else "day")


def to_utc_string(value: datetime) -> str:
    """'YYYY-MM-DDTHH:MM:SSZ' in UTC."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now() -> datetime:
    return datetime.now(UTC)


def check_published(value: datetime | None, now: datetime) -> tuple[datetime | None, list[str]]:
    """Untrusted dates: more than 10 minutes ahead becomes ``now`` with the ``date_suspect`` flag;
    before 1990 becomes None with the flag."""
    if value is None:
        return None, []
    if value > now + FUTURE_SLACK:
        return now, ["date_suspect"]
    if value.year < EARLIEST_YEAR:
        return None, ["date_suspect"]
    return value, []
