"""Scrapy's per-response and per-item DEBUG lines: made only when LOG_LEVEL shows them; no
record below LOG_LEVEL built at all (LogLevel)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import scrapy.utils.log
from scrapy import Spider
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Request
from scrapy.settings import Settings
from scrapy.utils.log import get_scrapy_root_handler, install_scrapy_root_handler
from scrapy.utils.test import get_crawler

from aggregator.crawllog import CrawlLogFormatter, LogLevel


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


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[logging.LogRecord]]:
    """Every LogRecord made meanwhile; the loggers' levels and handlers restored afterwards."""
    # Scrapy keeps the handler it installed in this module global (no public way to remove it).
    monkeypatch.setattr(scrapy.utils.log, "_scrapy_root_handler", None)
    loggers = [logging.getLogger(), logging.getLogger("scrapy")]
    levels = [logger.level for logger in loggers]
    make = logging.getLogRecordFactory()
    records: list[logging.LogRecord] = []

    def counting(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make(*args, **kwargs)
        records.append(record)
        return record

    logging.setLogRecordFactory(counting)
    try:
        yield records
    finally:
        logging.setLogRecordFactory(make)
        handler = get_scrapy_root_handler()
        if handler is not None:
            logging.getLogger().removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@pytest.mark.parametrize(
    ("level", "debug_built", "info_built"),
    [("WARNING", False, False), ("INFO", False, True), ("DEBUG", True, True)],
)
def test_records_below_log_level_are_not_built(
    built: list[logging.LogRecord], level: str, debug_built: bool, info_built: bool
) -> None:
    settings = {"LOG_LEVEL": level, "LOG_ENABLED": False}  # a NullHandler: nothing printed
    install_scrapy_root_handler(Settings(settings))  # as CrawlerProcess does
    LogLevel.from_crawler(get_crawler(Spider, settings))
    for name in ("charset_normalizer", "scrapy.core.scraper", "news"):
        logger = logging.getLogger(name)
        logger.debug("a debug line from %s", name)
        logger.info("an info line from %s", name)
        logger.warning("a warning from %s", name)  # our spider's warnings: always built
    kinds = {(r.name, r.levelname) for r in built}
    for name in ("charset_normalizer", "scrapy.core.scraper", "news"):
        assert ((name, "DEBUG") in kinds) is debug_built
        assert ((name, "INFO") in kinds) is info_built
        assert (name, "WARNING") in kinds


def test_log_levels_are_left_alone_without_scrapy_s_handler(
    built: list[logging.LogRecord],
) -> None:
    logging.getLogger().setLevel(logging.NOTSET)
    assert get_scrapy_root_handler() is None
    with pytest.raises(NotConfigured):
        LogLevel.from_crawler(get_crawler(Spider, {"LOG_LEVEL": "WARNING"}))
    assert logging.getLogger().level == logging.NOTSET


def test_the_crawl_settings_build_no_record_below_the_level() -> None:
    from aggregator import settings

    assert "aggregator.crawllog.LogLevel" in settings.EXTENSIONS
