"""Dates as news sites write them, read in the site's own zone and stored as UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from aggregator.dates import (
    EARLIEST_YEAR,
    FUTURE_SLACK,
    ParsedDate,
    check_published,
    parse_date,
    read_date,
    to_utc_string,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
# 2026-02-25 11:00 in Shanghai.
NOW = datetime(2026, 2, 25, 3, 0, tzinfo=UTC)


def parse(raw: str | None, tz: ZoneInfo = SHANGHAI, now: datetime = NOW) -> ParsedDate:
    parsed = parse_date(raw, tz, now)
    assert parsed is not None, f"{raw!r} not read"
    return parsed


def utc(raw: str, tz: ZoneInfo = SHANGHAI, now: datetime = NOW) -> str:
    return to_utc_string(parse(raw, tz, now).value)


# -- absolute formats, read in the source zone --------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected_utc", "precision"),
    [
        ("2023-01-06 15:20:12", "2023-01-06T07:20:12Z", "second"),
        ("2026-02-24", "2026-02-23T16:00:00Z", "day"),
        ("2026年2月24日", "2026-02-23T16:00:00Z", "day"),
        ("2026年2月24日 15:20", "2026-02-24T07:20:00Z", "minute"),
        ("2026年02月24日15时20分", "2026-02-24T07:20:00Z", "minute"),
        ("2026/2/24", "2026-02-23T16:00:00Z", "day"),
        ("2026.2.24", "2026-02-23T16:00:00Z", "day"),
        ("2026-02-24T15:20:00", "2026-02-24T07:20:00Z", "second"),
        ("2026-02-24 15:20", "2026-02-24T07:20:00Z", "minute"),
        ("02-24 15:20", "2026-02-24T07:20:00Z", "minute"),
        ("02/24 15:20", "2026-02-24T07:20:00Z", "minute"),
        ("2月24日", "2026-02-23T16:00:00Z", "day"),
        ("2月24日 15:20", "2026-02-24T07:20:00Z", "minute"),
        ("2-24", "2026-02-23T16:00:00Z", "day"),
    ],
)
def test_formats_in_source_zone(raw: str, expected_utc: str, precision: str) -> None:
    parsed = parse(raw)
    assert parsed.value.tzinfo is not None
    assert to_utc_string(parsed.value) == expected_utc
    assert parsed.precision == precision


def test_mm_dd_is_not_read_as_a_year() -> None:
    # dateparser reads "02-24 15:20" as 2002-11-24; the fast path must not.
    assert parse("02-24 15:20").value.year == 2026


def test_zone_is_the_sources_zone() -> None:
    assert utc("2026-02-24 15:20", SHANGHAI) == "2026-02-24T07:20:00Z"
    assert utc("2026-02-24 15:20", NEW_YORK) == "2026-02-24T20:20:00Z"
    assert utc("2026-02-24 15:20", ZoneInfo("UTC")) == "2026-02-24T15:20:00Z"
    # Summer time in New York (EDT, UTC-4).
    assert utc("2025-07-01 12:00", NEW_YORK) == "2025-07-01T16:00:00Z"


def test_published_line_inside_text() -> None:
    parsed = parse("发布时间:2026-02-24 16:30:00  来源:北极星太阳能光伏网")
    assert to_utc_string(parsed.value) == "2026-02-24T08:30:00Z"
    assert parsed.precision == "second"


def test_published_line_with_full_width_colon() -> None:
    parsed = parse("发布时间：2026-02-24 16:30")
    assert to_utc_string(parsed.value) == "2026-02-24T08:30:00Z"
    assert parsed.precision == "minute"


# -- ISO 8601 with a zone: the string's own zone wins ------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected_utc", "precision"),
    [
        ("2026-02-24T15:20:00+08:00", "2026-02-24T07:20:00Z", "second"),
        ("2026-02-24T15:20:30+08:00", "2026-02-24T07:20:30Z", "second"),
        ("2026-02-24T15:20+08:00", "2026-02-24T07:20:00Z", "minute"),
        ("2026-02-24T07:20:05Z", "2026-02-24T07:20:05Z", "second"),
        ("2026-02-24 10:20-05:00", "2026-02-24T15:20:00Z", "minute"),
        ("2026-02-24T15:20:00.123+08:00", "2026-02-24T07:20:00Z", "second"),
    ],
)
def test_iso_with_zone(raw: str, expected_utc: str, precision: str) -> None:
    # The source zone (New York here) must not be applied to a string that names its own.
    parsed = parse(raw, NEW_YORK)
    assert to_utc_string(parsed.value) == expected_utc
    assert parsed.precision == precision


@pytest.mark.parametrize(
    "raw", ["2026-02-24T07:20:00Z", "2026-02-24T15:20:00+0800", "2026-02-24T07:20:00.000Z"]
)
def test_iso_with_zone_and_zero_seconds_is_second_precision(raw: str) -> None:
    assert parse(raw).precision == "second"


def test_iso_with_zone_value_for_compact_offset() -> None:
    assert utc("2026-02-24T15:20:00+0800", NEW_YORK) == "2026-02-24T07:20:00Z"


def test_rfc822_falls_back_to_general_parser() -> None:
    assert utc("Tue, 24 Feb 2026 15:20:00 +0800", NEW_YORK) == "2026-02-24T07:20:00Z"


# -- relative dates, anchored on now -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "delta", "precision"),
    [
        ("3小时前", timedelta(hours=3), "minute"),
        ("5分钟前", timedelta(minutes=5), "minute"),
        ("30秒前", timedelta(seconds=30), "minute"),
        ("2天前", timedelta(days=2), "day"),
        ("1周前", timedelta(weeks=1), "day"),
        ("3 hours ago", timedelta(hours=3), "minute"),
        ("1 day ago", timedelta(days=1), "day"),
        ("刚刚", timedelta(0), "minute"),
        ("just now", timedelta(0), "minute"),
    ],
)
def test_relative(raw: str, delta: timedelta, precision: str) -> None:
    parsed = parse(raw)
    assert parsed.value == NOW - delta
    assert parsed.value.tzinfo is not None
    assert parsed.precision == precision


def test_yesterday_with_clock_is_local_yesterday() -> None:
    parsed = parse("昨天 10:00")
    assert parsed.value == datetime(2026, 2, 24, 10, 0, tzinfo=SHANGHAI)
    assert parsed.precision == "minute"


def test_today_without_clock_is_day_precision() -> None:
    parsed = parse("今天")
    assert parsed.value == datetime(2026, 2, 25, tzinfo=SHANGHAI)
    assert parsed.precision == "day"


def test_day_before_yesterday() -> None:
    assert parse("前天 08:05").value == datetime(2026, 2, 23, 8, 5, tzinfo=SHANGHAI)


def test_yesterday_uses_the_local_date_not_utc() -> None:
    # 2025-12-31 17:00 UTC is already 2026-01-01 01:00 in Shanghai.
    now = datetime(2025, 12, 31, 17, 0, tzinfo=UTC)
    assert parse("昨天 10:00", now=now).value == datetime(2025, 12, 31, 10, 0, tzinfo=SHANGHAI)
    assert parse("今天 00:30", now=now).value == datetime(2026, 1, 1, 0, 30, tzinfo=SHANGHAI)


# -- year inference for year-less dates --------------------------------------------------------


def test_december_date_read_in_january_is_last_year() -> None:
    january = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert parse("12-30 10:00", now=january).value == datetime(2025, 12, 30, 10, tzinfo=SHANGHAI)
    assert parse("12月30日", now=january).value == datetime(2025, 12, 30, tzinfo=SHANGHAI)


def test_same_day_earlier_is_this_year() -> None:
    january = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    assert parse("01-05 09:00", now=january).value.year == 2026
    assert parse("01-05", now=january).value.year == 2026


def test_future_slack_is_ten_minutes() -> None:
    # now is 11:00 in Shanghai.
    assert parse("02-25 11:09").value.year == 2026
    assert parse("02-25 11:10").value.year == 2026  # exactly 10 minutes ahead: still this year
    assert parse("02-25 11:11").value.year == 2025
    assert parse("02-26").value == datetime(2025, 2, 26, tzinfo=SHANGHAI)


def test_year_inference_uses_the_local_year() -> None:
    # 2026-01-01 01:00 in Shanghai, still 2025 in UTC.
    now = datetime(2025, 12, 31, 17, 0, tzinfo=UTC)
    assert parse("01-01 00:30", now=now).value == datetime(2026, 1, 1, 0, 30, tzinfo=SHANGHAI)
    assert parse("12-31 23:00", now=now).value == datetime(2025, 12, 31, 23, tzinfo=SHANGHAI)


def test_feb_29_without_year_in_a_non_leap_year_is_last_leap_year() -> None:
    now = datetime(2025, 1, 5, 2, 0, tzinfo=UTC)
    assert parse("02-29", now=now).value == datetime(2024, 2, 29, tzinfo=SHANGHAI)


# -- nothing date-like, impossible dates -------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "hello",
        "阅读全文",
        "2026-02-30",
        "2026-13-01",
        "2026年2月30日",
        "2026-02-24 25:00",
        "2026-02-24 15:61",
        "02-30 10:00",
        "2026-02-30T10:00:00+08:00",
    ],
)
def test_nothing_or_impossible_is_none(raw: str | None) -> None:
    assert parse_date(raw, SHANGHAI, NOW) is None


def test_long_text_without_a_known_pattern_is_none() -> None:
    assert parse_date("第 1 页 " + "x" * 100, SHANGHAI, NOW) is None


# -- check_published ---------------------------------------------------------------------------


def test_check_published_none() -> None:
    assert check_published(None, NOW) == (None, [])


def test_check_published_past_is_kept() -> None:
    value = datetime(2026, 2, 24, 15, 20, tzinfo=SHANGHAI)
    assert check_published(value, NOW) == (value, [])


def test_check_published_within_slack_is_kept() -> None:
    value = NOW + FUTURE_SLACK
    assert timedelta(minutes=10) == FUTURE_SLACK
    assert check_published(value, NOW) == (value, [])


def test_check_published_future_becomes_now() -> None:
    value = NOW + FUTURE_SLACK + timedelta(seconds=1)
    assert check_published(value, NOW) == (NOW, ["date_suspect"])
    assert check_published(datetime(2027, 1, 1, tzinfo=UTC), NOW) == (NOW, ["date_suspect"])


def test_check_published_before_1990_is_dropped() -> None:
    assert EARLIEST_YEAR == 1990
    assert check_published(datetime(1989, 12, 31, tzinfo=UTC), NOW) == (None, ["date_suspect"])
    assert check_published(datetime(1970, 1, 1, tzinfo=UTC), NOW) == (None, ["date_suspect"])
    kept = datetime(1990, 1, 1, tzinfo=UTC)
    assert check_published(kept, NOW) == (kept, [])


def test_check_published_compares_instants_across_zones() -> None:
    # 18:55 in Shanghai is 10:55 UTC: far ahead of NOW (03:00 UTC).
    ahead = datetime(2026, 2, 25, 18, 55, tzinfo=SHANGHAI)
    assert check_published(ahead, NOW) == (NOW, ["date_suspect"])
    # 11:05 in Shanghai is 5 minutes ahead: within the slack.
    near = datetime(2026, 2, 25, 11, 5, tzinfo=SHANGHAI)
    assert check_published(near, NOW) == (near, [])


# -- to_utc_string -----------------------------------------------------------------------------


def test_to_utc_string_format() -> None:
    assert to_utc_string(datetime(2026, 2, 24, 7, 20, 5, tzinfo=UTC)) == "2026-02-24T07:20:05Z"


def test_to_utc_string_converts_and_drops_microseconds() -> None:
    value = datetime(2026, 1, 1, 0, 30, 15, 999_999, tzinfo=SHANGHAI)
    assert to_utc_string(value) == "2025-12-31T16:30:15Z"
    fixed = datetime(2026, 2, 24, 10, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert to_utc_string(fixed) == "2026-02-24T15:00:00Z"


@pytest.mark.parametrize(
    ("raw", "expected", "precision"),
    [
        ("24 Feb 2026", (2026, 2, 24, 0, 0, 0), "day"),
        ("Feb 24, 2026", (2026, 2, 24, 0, 0, 0), "day"),
        ("February 24 2026 15:20", (2026, 2, 24, 15, 20, 0), "minute"),
        ("24 Sept. 2026, 15:20:05", (2026, 9, 24, 15, 20, 5), "second"),
    ],
)
def test_english_dates_take_the_fast_path(
    raw: str, expected: tuple[int, ...], precision: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aggregator.dates as dates_module

    def no_fallback(*args: object) -> None:
        raise AssertionError("dateparser fallback used")

    monkeypatch.setattr(dates_module, "_fallback", no_fallback)
    parsed = parse_date(raw, SHANGHAI, NOW)
    assert parsed is not None
    assert parsed.value == datetime(*expected, tzinfo=SHANGHAI)
    assert parsed.precision == precision


def test_english_impossible_day_and_unknown_month() -> None:
    assert parse_date("Feb 30, 2026", SHANGHAI, NOW) is None
    assert parse_date("1 Mayday 2026", SHANGHAI, NOW) is None


# -- issue 5: unix seconds, relative forms, impossible dates, date_format -----------------------


def test_unix_seconds_and_milliseconds() -> None:
    assert utc("1771988400") == "2026-02-25T03:00:00Z"
    assert utc("1771988400123") == "2026-02-25T03:00:00Z"
    assert parse("1771988400").precision == "second"


@pytest.mark.parametrize(
    ("raw", "expected_utc"),
    [
        ("刚刚", "2026-02-25T03:00:00Z"),
        ("30秒前", "2026-02-25T02:59:30Z"),
        ("5分钟前", "2026-02-25T02:55:00Z"),
        ("3小时前", "2026-02-25T00:00:00Z"),
        ("2天前", "2026-02-23T03:00:00Z"),
        ("1周前", "2026-02-18T03:00:00Z"),
        ("今天 10:00", "2026-02-25T02:00:00Z"),
        ("昨天 10:00", "2026-02-24T02:00:00Z"),
        ("前天", "2026-02-22T16:00:00Z"),
        ("3 days ago", "2026-02-22T03:00:00Z"),
        ("24 Feb 2026", "2026-02-23T16:00:00Z"),
        ("2026-02-24T15:20:00+08:00", "2026-02-24T07:20:00Z"),
    ],
)
def test_issue_forms_against_fetch_time(raw: str, expected_utc: str) -> None:
    assert utc(raw) == expected_utc


@pytest.mark.parametrize("raw", ["2月30日", "2026年2月30日", "2026-13-01", "0000-00-00"])
def test_impossible_dates_are_flagged(raw: str) -> None:
    assert read_date(raw, SHANGHAI, NOW) == (None, ["date_suspect"])


@pytest.mark.parametrize("raw", ["", None, "阅读全文", "第3页"])
def test_no_date_is_not_flagged(raw: str | None) -> None:
    assert read_date(raw, SHANGHAI, NOW) == (None, [])


def test_date_format_is_tried_first_in_the_source_zone() -> None:
    parsed, flags = read_date("24.02.2026 15h20", SHANGHAI, NOW, "%d.%m.%Y %Hh%M")
    assert flags == []
    assert parsed is not None
    assert to_utc_string(parsed.value) == "2026-02-24T07:20:00Z"
    assert parsed.precision == "minute"


def test_date_format_that_does_not_fit_falls_back_to_the_patterns() -> None:
    parsed, _ = read_date("2026-02-24 15:20", SHANGHAI, NOW, "%d.%m.%Y")
    assert parsed is not None
    assert to_utc_string(parsed.value) == "2026-02-24T07:20:00Z"


@pytest.mark.parametrize(
    ("raw", "expected_utc"),
    [("10:40", "2026-02-25T02:40:00Z"), ("[09:05]", "2026-02-25T01:05:00Z")],
)
def test_clock_only_is_today(raw: str, expected_utc: str) -> None:
    assert utc(raw) == expected_utc
    assert parse(raw).precision == "minute"


def test_clock_only_ahead_of_now_is_yesterday() -> None:
    assert utc("23:50") == "2026-02-24T15:50:00Z"
