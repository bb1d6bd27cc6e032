"""The one spider: every enabled source, list pages and feeds, in one Scrapy process.

It only fetches; turning bytes into items is done by the pure functions in ``aggregator``.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure

from aggregator import __version__
from aggregator.autolist import choose_blocks, find_blocks, missing_blocks, unique_items
from aggregator.config import Source, load_sources, resolve_db_path, resolve_sources_path
from aggregator.dates import utc_now
from aggregator.errors import AggregatorError
from aggregator.extract import (
    decode_html,
    extract_article,
    extract_list,
    merge_article,
    needs_follow,
)
from aggregator.feeds import EMPTY_FEED_ENTRY, parse_feed
from aggregator.health import retry_after_seconds
from aggregator.items import Article, PageSeen
from aggregator.limits import NOT_GZIP
from aggregator.pagination import next_page_url, template_urls
from aggregator.runstats import RunStats
from aggregator.store import Store
from aggregator.urls import canonical_url

# Answers the spider reads itself instead of Scrapy failing them: 304 to a conditional GET, and
# the two "come back later" statuses whose Retry-After sets the source's next attempt.
HANDLED_STATUSES = [304, 429, 503]
FOLLOWED = "followed"  # the pages-table fingerprint of an article page read once


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(
        self,
        sources: list[Source] | None = None,
        store: Store | None = None,
        run: RunStats | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._given = (sources, store)
        self.run = run or RunStats()
        self._followed: set[str] = set()
        self._paged: set[str] = set()
        # One bound method per callback, kept for the spider's life: Scrapy caches its check of
        # a callback (inspect.getsource + ast.parse, ~2 ms) in a weak dictionary keyed by the
        # callable, which forgets a fresh bound method as soon as its request is done.
        self._on_list_page = self.parse_source
        self._on_list_failure = self.source_failed
        self._on_article_page = self.parse_article
        self._on_article_failure = self.article_failed

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        spider: NewsSpider = super().from_crawler(crawler, *args, **kwargs)
        sources, store = spider._given
        settings = crawler.settings
        if sources is None:  # a bare `scrapy crawl news`
            path = resolve_sources_path(settings.get("NEWSAGG_SOURCES"))
            sources = [s for s in load_sources(path) if s.enabled]
        spider.sources = sources
        if store is None:
            from aggregator.crawl import url_rules_of

            store = Store(resolve_db_path(settings.get("NEWSAGG_DB")))
            if sources:  # as `newsagg crawl` does: the stored URLs follow the configured rules
                store.apply_url_rules(url_rules_of(sources))
        spider.store = store
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for source in self.sources:
            self.run.source(source.name)
            urls = list(source.urls)
            if source.pagination:
                urls += [u for u in template_urls(source.pagination) if u not in urls]
            for url in urls:
                yield self._list_request(url, source, page=1)

    def _list_request(self, url: str, source: Source, page: int) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self._on_list_page,
            errback=self._on_list_failure,
            cb_kwargs={"source": source, "page": page},
            dont_filter=True,
            headers=request_headers(source) | self._conditional_headers(source, url),
            meta={"handle_httpstatus_list": HANDLED_STATUSES, "newsagg_url": url},
        )

    def _conditional_headers(self, source: Source, url: str) -> dict[str, str]:
        """If-None-Match / If-Modified-Since from the feed's last answer (feeds only: a list
        page's articles may still need following, which a 304 would hide)."""
        if source.kind != "feed":
            return {}
        etag, modified = self.store.validators(url, page_fingerprint(b"", source))
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        return headers

    def parse_source(self, response: Response, source: Source, page: int = 1) -> Iterator[Any]:
        stats = self.run.source(source.name)
        if response.status in (429, 503):
            wait = retry_after_seconds(response.headers.get("Retry-After"), utc_now())
            if wait is not None:
                stats.retry_after = max(stats.retry_after or 0.0, wait)
            reason = f"HTTP {response.status}"
            if wait is not None:
                reason += f" (Retry-After: {wait:.0f} s)"
            self._page_failed(source, reason, response.url)
            return
        validators = self._validators(response, source)
        if response.status == 304:  # nothing new: a healthy, empty poll
            stats.pages_ok += 1
            stats.not_modified += 1
            keys = self.store.keys_of_page(response.url)
            requested = validators.get("request_url")
            if not keys and requested and requested != response.url:
                # redirected elsewhere than last time: the feed URL remembers what it listed
                keys = self.store.keys_of_page(requested)
            yield PageSeen(response.url, source.name, "", keys, unchanged=True, **validators)
            return
        if source.pagination and source.pagination.next and source.kind != "feed":
            try:
                following = next_page_url(
                    self._html(response, source), response.url, source.pagination, page
                )
            except Exception as exc:  # an undecodable page is reported by the extraction below
                self.logger.info("source %s: no next page: %s", source.name, exc)
                following = None
            if following and following not in self._paged:
                self._paged.add(following)
                yield self._list_request(following, source, page + 1)
        fingerprint = page_fingerprint(response.body, source)
        known = self.store.page_keys(response.url, fingerprint)
        if known is not None:  # the same bytes as last time: nothing to extract
            stats.pages_ok += 1
            yield PageSeen(
                response.url, source.name, fingerprint, known, unchanged=True, **validators
            )
            return
        try:
            items = self._extract(response, source)
        except AggregatorError as exc:  # not a feed, undecodable...: a reason, not a traceback
            self._page_failed(source, str(exc), response.url)
            return
        except Exception as exc:  # a page no extractor copes with must not end the run
            self.logger.exception("source %s: extraction failed on %s", source.name, response.url)
            self._page_failed(
                source, f"extraction failed: {type(exc).__name__}: {exc}", response.url
            )
            return
        stats.pages_ok += 1
        if not items and source.kind != "feed":  # drift on this page (the source may have more)
            stats.empty_pages.append(response.url)
        for article in items:
            article.canonical_url = (
                canonical_url(article.url, source.url_rules) if article.url else None
            )
        followed = False
        wanted = {id(a): a.canonical_url for a in items if needs_follow(a, source.follow)}
        complete = self.store.known_complete(k for k in wanted.values() if k) if wanted else set()
        for article in items:
            key = wanted.get(id(article))
            if key is None or key in complete:
                yield article
                continue
            followed = True
            if key in self._followed:
                continue  # another list item is already following it: that one will be stored
            self._followed.add(key)
            yield scrapy.Request(
                article.url,
                callback=self._on_article_page,
                errback=self._on_article_failure,
                cb_kwargs={"article": article, "source": source},
                dont_filter=True,
                priority=-1,
                headers=request_headers(source),
            )
        if not followed:  # a page whose items are all complete can be skipped while unchanged
            keys = [a.canonical_url for a in items if a.canonical_url]
            yield PageSeen(response.url, source.name, fingerprint, keys, **validators)

    def _validators(self, response: Response, source: Source) -> dict[str, Any]:
        """What to remember for the next conditional GET of a feed URL (PageSeen fields)."""
        if source.kind != "feed":
            return {}
        request_url = response.meta.get("newsagg_url") or response.url
        etag = response.headers.get("ETag")
        modified = response.headers.get("Last-Modified")
        if response.status == 304:  # a 304 may leave out the validators: keep the ones sent
            sent = response.request.headers if response.request is not None else {}
            etag = etag or sent.get("If-None-Match")
            modified = modified or sent.get("If-Modified-Since")
        return {
            "request_url": request_url,
            "etag": etag.decode("latin-1") if etag else None,
            "last_modified": modified.decode("latin-1") if modified else None,
            "reader": page_fingerprint(b"", source),
        }

    def _extract(self, response: Response, source: Source) -> list[Article]:
        content_type = response.headers.get("Content-Type", b"").decode("latin-1") or None
        now = utc_now()
        if source.kind == "feed":
            feed = parse_feed(
                response.body,
                response.url,
                source=source.name,
                tz=source.tz,
                now=now,
                content_type=content_type,
            )
            # an entry with nothing at all (no title, text, link, guid, date...) is not stored
            self.run.source(source.name).leave_out(EMPTY_FEED_ENTRY, feed.skipped)
            if feed.bozo:  # feedparser read it anyway: say so, keep what it gave
                self.logger.info(
                    "source %s: ill-formed feed %s (%s); %d of %d entries read",
                    source.name,
                    response.url,
                    feed.bozo,
                    len(feed.items),
                    feed.entries,
                )
            return feed.items
        html = self._html(response, source)
        if source.kind == "auto":
            found = find_blocks(
                html,
                response.url,
                source=source.name,
                tz=source.tz,
                now=now,
                date_format=source.list_date_format,
            )
            note = missing_blocks(found, source.blocks)
            if note:  # the items are none: the drift error comes first, this says why
                self.run.source(source.name).errors.append(note)
            return unique_items(choose_blocks(found, source.blocks))
        assert source.selectors is not None
        return extract_list(
            html,
            response.url,
            source.selectors,
            source=source.name,
            tz=source.tz,
            now=now,
            date_format=source.list_date_format,
        )

    def _html(self, response: Response, source: Source) -> str:
        content_type = response.headers.get("Content-Type", b"").decode("latin-1") or None
        return decode_html(
            response.body, content_type, language=source.language, encoding=source.encoding
        )

    def _page_failed(self, source: Source, reason: str, url: str) -> None:
        stats = self.run.source(source.name)
        stats.pages_failed += 1
        stats.errors.append(reason)
        self.logger.warning("source %s failed: %s (%s)", source.name, reason, url)

    def parse_article(
        self, response: Response, article: Article, source: Source
    ) -> Iterator[Article | PageSeen]:
        stats = self.run.source(source.name)
        try:
            html = self._html(response, source)
            page = extract_article(
                html,
                response.url,
                tz=source.tz,
                now=utc_now(),
                selectors=source.article_selectors,
            )
        except Exception:  # keep what the list said
            self.logger.exception(
                "source %s: article extraction failed on %s", source.name, response.url
            )
            stats.articles_failed += 1
            yield article
            return
        stats.articles_fetched += 1
        yield merge_article(article, page, source.follow)
        if article.canonical_url:  # read once: the database remembers it was followed
            key = article.canonical_url
            yield PageSeen(key, source.name, FOLLOWED, [key])

    def article_failed(self, failure: Failure) -> Article:
        """The article page failed: keep what the list said."""
        kwargs = failure.request.cb_kwargs  # type: ignore[attr-defined]
        stats = self.run.source(kwargs["source"].name)
        stats.articles_failed += 1
        if failure.check(IgnoreRequest):  # refused by the network policy or cut by a limit
            reason, url = describe(failure), failure.request.url  # type: ignore[attr-defined]
            stats.errors.append(reason if url in reason else f"{reason}: {url}")
        self.logger.info("article page failed (%s): %s", describe(failure), failure.request.url)  # type: ignore[attr-defined]
        return kwargs["article"]

    def source_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        self._page_failed(request.cb_kwargs["source"], describe(failure), request.url)


def request_headers(source: Source) -> dict[str, str]:
    """The source's own headers and User-Agent (Scrapy's default UA applies otherwise)."""
    headers = dict(source.headers)
    if source.user_agent:
        headers["User-Agent"] = source.user_agent
    return headers


def page_fingerprint(body: bytes, source: Source) -> str:
    """The body's hash, salted with how the source is read: a changed selector, zone or program
    version makes every page new again."""
    digest = hashlib.blake2b(body, digest_size=16)
    digest.update(f"{__version__}|{source.kind}|{source.timezone}|{source.follow}".encode())
    digest.update(repr((source.selectors, source.encoding, source.article, source.blocks)).encode())
    if source.date_format:  # only when set, so that other sources' fingerprints stay as they were
        digest.update(source.date_format.encode())
    return digest.hexdigest()


def describe(failure: Failure) -> str:
    """A short, human reason for a failed request: 'HTTP 503', 'timeout', 'DNS lookup failed'."""
    if failure.check(HttpError):
        response = failure.value.response
        location = response.headers.get("Location")
        if 300 <= response.status < 400 and location:  # Scrapy follows only http(s) targets
            return f"HTTP {response.status} redirect not followed: {location.decode('latin-1')}"
        return f"HTTP {response.status}"
    if failure.check(DownloadTimeoutError, TimeoutError, TCPTimedOutError):
        return "timeout"
    if failure.check(CannotResolveHostError, DNSLookupError):
        return "DNS lookup failed"
    if failure.check(DownloadConnectionRefusedError, ConnectionRefusedError):
        return "connection refused"
    if failure.check(ResponseDataLossError):
        return "connection dropped mid-response"
    if failure.check(gzip.BadGzipFile):  # an inner layer of "Content-Encoding: gzip, gzip"
        return NOT_GZIP
    message = str(failure.value) or type(failure.value).__name__
    return message.splitlines()[0][:200]
