"""A one-line progress display on stderr while a crawl runs, only when stderr is a terminal.

``newsagg`` turns it on (``NEWSAGG_PROGRESS``) when stderr is a TTY and ``--quiet`` is not
given; under cron, in pipes and in log files there is no progress line and no carriage return.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

INTERVAL = 0.2  # seconds between redraws


class ProgressLine:
    """Scrapy extension: '\\r  12 pages, 240 items, 1 failed, 3 queued' redrawn in place."""

    def __init__(self, stream: TextIO, interval: float = INTERVAL) -> None:
        self.stream = stream
        self.interval = interval
        self.pages = 0
        self.items = 0
        self.failed = 0
        self.queued = 0
        self._drawn_at = 0.0
        self._width = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressLine:
        if not crawler.settings.getbool("NEWSAGG_PROGRESS"):
            raise NotConfigured
        extension = cls(sys.stderr)
        crawler.signals.connect(extension.request_scheduled, signals.request_scheduled)
        crawler.signals.connect(extension.response_received, signals.response_received)
        crawler.signals.connect(extension.item_scraped, signals.item_scraped)
        crawler.signals.connect(extension.spider_error, signals.spider_error)
        crawler.signals.connect(extension.spider_closed, signals.spider_closed)
        return extension

    def request_scheduled(self, **_: Any) -> None:
        self.queued += 1
        self.draw()

    def response_received(self, **_: Any) -> None:
        self.pages += 1
        self.queued = max(0, self.queued - 1)
        self.draw()

    def item_scraped(self, **_: Any) -> None:
        self.items += 1
        self.draw()

    def spider_error(self, **_: Any) -> None:
        self.failed += 1
        self.draw()

    def line(self) -> str:
        return (
            f"  {self.pages} pages, {self.items} items"
            + (f", {self.failed} failed" if self.failed else "")
            + f", {self.queued} queued"
        )

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn_at < self.interval:
            return
        self._drawn_at = now
        text = self.line()
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def spider_closed(self, **_: Any) -> None:
        self.draw(force=True)
        self.stream.write("\n")
        self.stream.flush()
