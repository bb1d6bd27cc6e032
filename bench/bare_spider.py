"""Run (a) of the crawl benchmark: a bare Scrapy spider, the yardstick ``newsagg crawl`` is held to.

    python bench/bare_spider.py URLS_FILE [-s NAME=VALUE ...]

It fetches every URL in ``URLS_FILE`` (one a line), extracts title, link, snippet and date from
each list item with ``response.css`` (the same selectors the benchmark's source uses) and yields
them as dict items that nothing stores (no pipeline, no feed export). On exit it prints Scrapy's
counts as one JSON object on stdout. Settings come only from ``-s`` (the benchmark passes the ones
it passes to ``newsagg``); no project settings are read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from scrapy.settings import Settings

# The benchmark site's markup; bench/crawl.py writes the same selectors into the sources file.
ITEM = "ul.news-list li"
TITLE = "h3 a::text"
LINK = "h3 a::attr(href)"
SNIPPET = "p.summary::text"
DATE = "span.date::text"


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls
        self.pages = 0

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            yield scrapy.Request(url, dont_filter=True)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[dict[str, str | None]]:
        self.pages += 1
        for item in response.css(ITEM):
            link = item.css(LINK).get()
            yield {
                "title": item.css(TITLE).get(),
                "link": response.urljoin(link) if link else None,
                "snippet": item.css(SNIPPET).get(),
                "date": item.css(DATE).get(),
            }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls_file")
    parser.add_argument("-s", "--set", dest="settings", action="append", default=[])
    args = parser.parse_args(argv)
    with open(args.urls_file, encoding="utf-8") as f:
        urls = [line.strip() for line in f if line.strip()]
    settings = Settings()
    for pair in args.settings:
        name, _, value = pair.partition("=")
        settings.set(name, value, priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, urls=urls)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    out = {
        "pages": crawler.spider.pages if crawler.spider else 0,
        "responses": stats.get("response_received_count", 0),
        "items": stats.get("item_scraped_count", 0),
        "status_200": stats.get("downloader/response_status_count/200", 0),
        "elapsed_s": stats.get("elapsed_time_seconds"),
        "finish_reason": stats.get("finish_reason"),
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0 if out["finish_reason"] == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
