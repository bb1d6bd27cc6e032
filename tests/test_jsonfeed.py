"""JSON Feed 1.0/1.1: the mapper alone, and through parse_feed like any other feed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from aggregator.dates import to_utc_string
from aggregator.feeds import NotAFeed, parse_feed
from aggregator.jsonfeed import NotAJsonFeed, looks_like_json, parse_json_feed

NOW = datetime(2026, 2, 25, 3, 0, tzinfo=UTC)
URL = "https://json.example.org/feed.json"


def body(items: list[object], version: str = "https://jsonfeed.org/version/1.1") -> bytes:
    return json.dumps(
        {"version": version, "title": "JSON & feed", "home_page_url": "/", "items": items}
    ).encode()


def parse(data: bytes) -> list:  # type: ignore[type-arg]
    return parse_feed(data, URL, source="j", tz=ZoneInfo("Asia/Shanghai"), now=NOW).items


def test_versions() -> None:
    assert parse_json_feed(body([]))["version"] == "json11"
    assert parse_json_feed(body([], "https://jsonfeed.org/version/1"))["version"] == "json1"
    parsed = parse_feed(body([]), URL, now=NOW)
    assert parsed.version == "json11"
    assert parsed.items == []
    assert parsed.title == "JSON & feed"
    assert parsed.link == "https://json.example.org/"  # home_page_url resolved


def test_item_fields() -> None:
    (item,) = parse(
        body(
            [
                {
                    "id": "1",
                    "url": "posts/1.html",
                    "title": "Grid <b> & storage",
                    "content_html": "<p>Solar &amp; wind</p>",
                    "date_published": "2026-02-24T15:20:00+08:00",
                }
            ]
        )
    )
    assert item.url == "https://json.example.org/posts/1.html"
    assert item.guid == "1"
    assert item.title == "Grid <b> & storage"  # plain text: not read as HTML
    assert item.snippet == "Solar & wind"
    assert to_utc_string(item.published_at) == "2026-02-24T07:20:00Z"
    assert item.published_from == "feed"


def test_summary_wins_over_content_and_text_content_is_plain() -> None:
    items = parse(
        body(
            [
                {"id": "a", "title": "A", "summary": "short &amp; plain", "content_html": "<p>x"},
                {"id": "b", "title": "B", "content_text": "a < b"},
            ]
        )
    )
    assert [i.snippet for i in items] == ["short &amp; plain", "a < b"]


def test_modified_when_no_published_and_fetch_time_without_either() -> None:
    items = parse(
        body(
            [
                {"id": "a", "title": "A", "date_modified": "2026-02-24T01:00:00Z"},
                {"id": "b", "title": "B", "date_published": "not a date"},
            ]
        )
    )
    assert to_utc_string(items[0].published_at) == "2026-02-24T01:00:00Z"
    assert items[0].published_from == "feed_updated"
    assert items[1].published_at == NOW
    assert items[1].published_from == "fetch_time"


def test_numeric_id_external_url_and_broken_items() -> None:
    items = parse(
        body(
            [
                {"id": 42, "external_url": "https://elsewhere.example.com/x", "title": "X"},
                "not an object",
                {"id": "z", "title": 7, "summary": ["wrong type"]},
            ]
        )
    )
    assert items[0].guid == "42"
    assert items[0].url == "https://elsewhere.example.com/x"
    # the third has no usable title, text or link, but a guid: titled by it (issue 3 fallbacks)
    assert [(a.title, a.guid, a.url) for a in items[1:]] == [("z", "z", "")]


def test_utf8_bom_and_chinese() -> None:
    data = "\ufeff".encode() + body([{"id": "1", "title": "光伏组件", "url": "/1"}])
    (item,) = parse(data)
    assert item.title == "光伏组件"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"items": []}', "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "without an 'items' array"),
        (b"{not json", "invalid JSON"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": {}}', "'items' array"),
    ],
)
def test_not_a_json_feed(data: bytes, reason: str) -> None:
    with pytest.raises(NotAJsonFeed, match=reason):
        parse_json_feed(data)
    with pytest.raises(NotAFeed, match=reason):
        parse_feed(data, URL, content_type="application/json")


def test_looks_like_json() -> None:
    assert looks_like_json(b'\xef\xbb\xbf \n{"version": 1}')
    assert not looks_like_json(b"<rss>")
    assert not looks_like_json(b"[1, 2]")


def test_hostile_nesting_is_not_a_feed_not_a_crash() -> None:
    deep = b'{"version": "https://jsonfeed.org/version/1", "items": ' + b"[" * 100_000
    with pytest.raises(NotAFeed, match="nested too deeply"):
        parse_feed(deep + b"]" * 100_000 + b"}", URL)


def test_preview_recognises_a_json_feed_file() -> None:
    from click.testing import CliRunner

    from aggregator.cli import cli
    from tests.conftest import SITES

    path = SITES / "feeds" / "json" / "feed.json"
    result = CliRunner().invoke(cli, ["preview", str(path), "--base-url", URL, "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["kind"] == "feed"
    assert [i["canonical_url"] for i in out["items"]][:1] == [
        "https://json.example.org/posts/1.html"
    ]
