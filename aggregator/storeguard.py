"""A database that cannot be written (disk full, read-only, corrupt) stops the crawl cleanly.

Scrapy logs an exception in a pipeline and carries on, which would report articles as new that
were never stored. :func:`stops_crawl_on_store_error` wraps the pipeline's writing methods: the
first :class:`StoreError` is recorded as the run's ``fatal`` error, the spider is closed, later
writes are skipped, and :func:`aggregator.crawl.crawl` raises it (the CLI exits 1 naming the
file). What was committed before stays committed: every write is one transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aggregator.errors import StoreError

Method = TypeVar("Method", bound=Callable[..., Any])


def stops_crawl_on_store_error(method: Method) -> Method:
    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        run = getattr(self.crawler.spider, "run", None)
        if run is not None and run.fatal:
            return None
        try:
            return method(self, *args, **kwargs)
        except StoreError as exc:
            if run is None:
                raise
            run.fatal = str(exc)
            _close_spider(self.crawler)
            return None

    return guarded  # type: ignore[return-value]


def _close_spider(crawler: Any) -> None:
    from scrapy.utils.defer import deferred_from_coro
    from twisted.internet import reactor

    engine = crawler.engine
    if engine is None or not crawler.crawling:
        return

    def close() -> None:
        if engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason="store_error"))

    reactor.callLater(0, close)  # type: ignore[attr-defined]
