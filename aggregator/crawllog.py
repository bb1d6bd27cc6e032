"""Scrapy's log lines for a crawl, without the cost of the ones nobody sees.

Scrapy logs every response ("Crawled (200) ...") and every item ("Scraped from ...") at DEBUG.
It leaves the root logger at NOTSET and filters in its handler, so each call builds a
``LogRecord`` (the caller's frame, thread and process names: ~25 µs) that ``LOG_LEVEL =
"WARNING"`` then drops: about a second of a 40,000-item crawl. :class:`CrawlLogFormatter`
returns nothing for those two when the configured level would not show them (Scrapy then logs
nothing); with ``-v``/``-vv`` (``LOG_LEVEL`` INFO/DEBUG) the lines are as Scrapy writes them.
"""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.logformatter import LogFormatter


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
