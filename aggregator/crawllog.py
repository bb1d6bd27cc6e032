"""Scrapy's log lines for a crawl, without the cost of the ones nobody sees.

Scrapy logs every response ("Crawled (200) ...") and every item ("Scraped from ...") at DEBUG.
It leaves the root logger at NOTSET and filters in its handler, so each call builds a
``LogRecord`` (the caller's frame, thread and process names: ~25 µs) that ``LOG_LEVEL =
"WARNING"`` then drops: about a second of a 40,000-item crawl. :class:`CrawlLogFormatter`
returns nothing for those two when the configured level would not show them (Scrapy then logs
nothing); with ``-v``/``-vv`` (``LOG_LEVEL`` INFO/DEBUG) the lines are as Scrapy writes them.

The other records below the level (other libraries' DEBUG lines, Scrapy's other ones) are not
built at all: :class:`LogLevel` sets the root logger, and Scrapy's own, to the level of the
handler Scrapy installed (``LOG_LEVEL``), so ``logger.debug`` returns at its first check. What
is shown, and the ``log_count/*`` stats, stay as they were.
"""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.logformatter import LogFormatter
from scrapy.utils.log import get_scrapy_root_handler


class CrawlLogFormatter(LogFormatter):
    """Scrapy's :class:`LogFormatter`, with the per-response and per-item DEBUG lines made only
    when ``LOG_LEVEL`` shows DEBUG."""

    def __init__(self, debug_shown: bool = True) -> None:
        super().__init__()
        self.debug_shown = debug_shown

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        level = logging.getLevelName(str(settings.get("LOG_LEVEL", "DEBUG")).upper())
        shown = settings.getbool("LOG_ENABLED", True) and (
            not isinstance(level, int) or level <= logging.DEBUG
        )
        return cls(debug_shown=shown)

    def crawled(self, request: Any, response: Any, spider: Any) -> Any:
        return super().crawled(request, response, spider) if self.debug_shown else None

    def scraped(self, item: Any, response: Any, spider: Any) -> Any:
        return super().scraped(item, response, spider) if self.debug_shown else None


class LogLevel:
    """Scrapy extension: records below the level Scrapy's root handler shows are not built.

    Scrapy installs that handler (``LOG_LEVEL``) with the root logger at ``NOTSET`` and its
    ``scrapy`` logger at ``DEBUG``; this raises both to the handler's level. Without Scrapy's
    handler (Scrapy embedded with the caller's logging) it changes nothing."""

    def __init__(self, level: int) -> None:
        self.level = level
        for logger in (logging.getLogger(), logging.getLogger("scrapy")):
            if logger.level < level:
                logger.setLevel(level)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        handler = get_scrapy_root_handler()
        if handler is None:
            raise NotConfigured
        return cls(handler.level)
