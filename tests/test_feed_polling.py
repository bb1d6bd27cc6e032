"""Cheap polling and health without a reactor: the store's side and the spider's decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from scrapy.http import Request, Response, TextResponse

import spiders.news as news
from aggregator.config import parse_sources
from aggregator.dates import to_utc_string
from aggregator.errors import ConfigError
from aggregator.items import Article, PageSeen
from aggregator.runstats import RunStats
from aggregator.store import Store
from tests.conftest import NOW

SOURCES = parse_sources(
    {
        "source": [
            {"name": "fd", "kind": "feed", "urls": ["https://e.com/feed.xml"]},
            {
                "name": "lst",
                "kind": "html",
                "urls": ["https://e.com/news/"],
                "selectors": {"item": "li", "title": "a", "link": "a::attr(href)"},
            },
        ]
    }
)
FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>One</title><link>https://e.com/1</link></item></channel></rss>"""


class S:
    name, title, kind, url = "a", "A", "feed", "https://a.org/"


@pytest.fixture
def spider(db: Store) -> news.NewsSpider:
    instance = news.NewsSpider(sources=SOURCES, store=db, run=RunStats())
    instance.sources = SOURCES
    instance.store = db
    return instance


def answer(
    url: str, status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None
) -> Response:
    request = Request(url, meta={"newsagg_url": url})
    return TextResponse(
        url=url, status=status, body=body, headers=headers or {}, request=request, encoding="utf-8"
    )


# -- store -------------------------------------------------------------------------------------


def test_failures_set_failing_since_once_and_back_off(db: Store) -> None:
    db.sync_sources([S()])
    db.record_source_run("a", ok=False, new=0, error="HTTP 500", now=NOW)
    later = NOW + timedelta(hours=1)
    db.record_source_run("a", ok=False, new=0, error="timeout", now=later)
    row = db.sources()[0]
    assert row["failing_since"] == to_utc_string(NOW)  # when the failures began
    assert row["next_attempt_at"] == to_utc_string(later + timedelta(minutes=30))
    db.record_source_run("a", ok=False, new=0, error="HTTP 429", now=later, retry_after=7200)
    assert db.sources()[0]["next_attempt_at"] == to_utc_string(later + timedelta(hours=2))
    db.record_source_run("a", ok=True, new=0, error=None, now=later)
    row = db.sources()[0]
    assert (row["failing_since"], row["next_attempt_at"], row["last_error"]) == (None, None, None)


def test_validators_are_kept_per_requested_url(db: Store) -> None:
    assert db.validators("https://e.com/feed.xml") == (None, None)
    page = PageSeen(
        "https://e.com/moved.xml",
        "fd",
        "f1",
        ["https://e.com/1"],
        request_url="https://e.com/feed.xml",
        etag='"v1"',
        last_modified="Tue, 24 Feb 2026 07:00:00 GMT",
    )
    db.save_pages([page], NOW)
    assert db.validators("https://e.com/feed.xml") == ('"v1"', "Tue, 24 Feb 2026 07:00:00 GMT")
    assert db.keys_of_page("https://e.com/moved.xml") == ["https://e.com/1"]
    # a 304 keeps the page's fingerprint and keys
    db.save_pages(
        [PageSeen("https://e.com/moved.xml", "fd", "", page.keys, True, page.request_url, '"v2"')],
        NOW,
    )
    assert db.page_keys("https://e.com/moved.xml", "f1") == ["https://e.com/1"]
    assert db.validators("https://e.com/feed.xml") == ('"v2"', None)


# -- spider ------------------------------------------------------------------------------------


async def _requests(spider: news.NewsSpider) -> list[Request]:
    return [request async for request in spider.start()]


def test_feed_requests_are_conditional_and_list_pages_are_not(
    spider: news.NewsSpider, db: Store
) -> None:
    import asyncio

    url = "https://e.com/feed.xml"
    reader = news.page_fingerprint(b"", SOURCES[0])
    db.save_pages([PageSeen(url, "fd", "f", [], False, url, '"x"', reader=reader)], NOW)
    feed, page = asyncio.run(_requests(spider))
    assert feed.headers.get("If-None-Match") == b'"x"'
    assert feed.headers.get("If-Modified-Since") is None
    assert 304 in feed.meta["handle_httpstatus_list"]
    assert page.headers.get("If-None-Match") is None
    # read by another program version or with other settings: fetch the whole feed again
    db.save_pages([PageSeen(url, "fd", "f", [], False, url, '"x"', reader="other")], NOW)
    feed, _page = asyncio.run(_requests(spider))
    assert feed.headers.get("If-None-Match") is None


def test_a_304_is_a_healthy_poll_that_marks_the_known_articles_seen(
    spider: news.NewsSpider, db: Store
) -> None:
    first = list(spider.parse_source(answer("https://e.com/feed.xml", body=FEED), SOURCES[0]))
    seen = first[-1]
    assert isinstance(first[0], Article)
    assert isinstance(seen, PageSeen) and seen.request_url == "https://e.com/feed.xml"
    db.save_pages([seen], NOW)
    out = list(
        spider.parse_source(
            answer("https://e.com/feed.xml", 304, headers={"ETag": '"n"'}), SOURCES[0]
        )
    )
    assert len(out) == 1
    (page,) = out
    assert isinstance(page, PageSeen)
    assert (page.unchanged, page.keys, page.etag) == (True, ["https://e.com/1"], '"n"')
    stats = spider.run.sources["fd"]
    assert (stats.pages_ok, stats.not_modified, stats.failed) == (2, 1, False)


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_fail_with_retry_after(spider: news.NewsSpider, status: int) -> None:
    url = "https://e.com/feed.xml"
    out = list(spider.parse_source(answer(url, status, headers={"Retry-After": "90"}), SOURCES[0]))
    assert out == []
    stats = spider.run.sources["fd"]
    assert stats.failed
    assert stats.errors == [f"HTTP {status} (Retry-After: 90 s)"]
    assert stats.retry_after == 90


def test_429_without_retry_after(spider: news.NewsSpider) -> None:
    list(spider.parse_source(answer("https://e.com/feed.xml", 429), SOURCES[0]))
    stats = spider.run.sources["fd"]
    assert (stats.errors, stats.retry_after) == (["HTTP 429"], None)


# -- config ------------------------------------------------------------------------------------


def test_stale_after_is_configurable_and_validated() -> None:
    (source,) = parse_sources(
        {
            "source": [
                {"name": "f", "kind": "feed", "urls": ["https://e.com/f"], "stale_after": "6h"}
            ]
        }
    )
    assert source.stale_after == timedelta(hours=6)
    assert SOURCES[0].stale_after == timedelta(days=2)
    with pytest.raises(ConfigError, match="field 'stale_after': not a duration"):
        parse_sources(
            {
                "source": [
                    {"name": "f", "kind": "feed", "urls": ["https://e.com/f"], "stale_after": 6}
                ]
            }
        )
