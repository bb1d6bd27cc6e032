"""Scrapy's per-response and per-item DEBUG lines: made only when LOG_LEVEL shows them."""

from __future__ import annotations

import logging

import pytest
from scrapy import Spider
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from aggregator.crawllog import CrawlLogFormatter


def formatter(**settings: object) -> tuple[CrawlLogFormatter, Spider]:
    crawler = get_crawler(Spider, settings)
    return CrawlLogFormatter.from_crawler(crawler), Spider.from_crawler(crawler, name="news")


@pytest.mark.parametrize(
    ("settings", "shown"),
    [
        ({"LOG_LEVEL": "WARNING"}, False),
        ({"LOG_LEVEL": "INFO"}, False),
        ({"LOG_LEVEL": "DEBUG"}, True),
        ({"LOG_LEVEL": "DEBUG", "LOG_ENABLED": False}, False),
    ],
)
def test_debug_lines_only_when_the_level_shows_them(
    settings: dict[str, object], shown: bool
) -> None:
    log, spider = formatter(**settings)
    request = Request("https://example.com/list")
    response = HtmlResponse(request.url, body=b"<html></html>", request=request)
    scraped = log.scraped({"title": "x"}, response, spider)
    crawled = log.crawled(request, response, spider)
    if shown:
        assert scraped["level"] == crawled["level"] == logging.DEBUG
        assert scraped["args"]["item"] == {"title": "x"}
    else:
        assert scraped is None and crawled is None
    # Everything else is Scrapy's, whatever the level.
    dropped = log.dropped({"title": "x"}, ValueError("bad"), response, spider)
    assert dropped["level"] == logging.WARNING


def test_the_crawl_settings_use_it() -> None:
    from aggregator import settings

    assert settings.LOG_FORMATTER == "aggregator.crawllog.CrawlLogFormatter"
