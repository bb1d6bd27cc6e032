"""The Scrapy item pipeline: normalise each item and store it in batches; keep the run record."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler

from aggregator.clusterer import Clusterer
from aggregator.dates import to_utc_string, utc_now
from aggregator.dedupe import DedupeOptions, options_from_settings
from aggregator.items import Article, PageSeen
from aggregator.runstats import RunStats, SourceStats
from aggregator.store import Store
from aggregator.storeguard import stops_crawl_on_store_error
from aggregator.storewriter import StoreWriter, Written, write_batch
from aggregator.topics import load_taxonomy, resolve_topics_path, source_tagger

BATCH_SIZE = 500
# New articles are put into stories this many at a time (fewer, larger index transactions).
CLUSTER_BATCH = 2000


def mark_empty(stats: SourceStats, stored: int, kind: str = "html") -> None:
    """A list source whose pages were read but gave no items: an error (stored rows are kept)."""
    if stats.items > 0 and stats.empty_pages:  # drift on some pages only: not a failure
        pages = stats.empty_pages
        stats.errors.insert(
            0,
            f"selector drift on {len(pages)} of its list pages: {', '.join(pages)} gave no items "
            f"(its other pages gave {stats.items}); that page's layout may have changed",
        )
        return
    if stats.failed or stats.pages_ok == 0 or stats.items > 0:
        return
    stats.empty = True
    if stored:
        stats.errors.insert(
            0,
            f"selector drift: the list page gave no items ({stored} stored before are kept); "
            "the site may have changed its layout or served a captcha page",
        )
    else:
        check = "newsagg preview URL --auto" if kind == "auto" else "the selectors"
        stats.errors.insert(0, f"no items found on the list page: check {check}")


class StorePipeline:
    """Normalises :class:`Article` items and writes them with :meth:`Store.upsert_articles`.

    It takes the spider's ``store``, ``sources`` and ``run`` (``newsagg crawl`` passes them); for
    a bare ``scrapy crawl news`` the spider builds them from the settings.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.batch: list[Article] = []
        self.pages: list[PageSeen] = []
        self.dedupe: DedupeOptions = options_from_settings(crawler.settings)
        self.unclustered: list[int] = []
        self.writer: StoreWriter | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    @stops_crawl_on_store_error
    def open_spider(self) -> None:
        spider: Any = self.crawler.spider
        self.store: Store = spider.store
        self.sources = {source.name: source for source in spider.sources}
        self.run: RunStats = spider.run
        topics_file = resolve_topics_path(self.crawler.settings.get("NEWSAGG_TOPICS_FILE"))
        source_topics = {source.name: source.topics for source in spider.sources}
        self.tag = source_tagger(load_taxonomy(topics_file), source_topics)
        self.now = utc_now()
        self.run.started_at = to_utc_string(self.now)
        self.run.db = self.store.path
        self.store.sync_sources(spider.sources)
        self.run.run_id = self.store.start_run(self.now)
        self.clusterer = Clusterer(
            self.store,
            self.dedupe,
            worker=self.crawler.settings.getbool("NEWSAGG_DEDUPE_WORKER", True),
        )
        # Batches are written by a process beside the crawl (aggregator/storewriter.py), unless
        # turned off or the database is in memory (another connection would not see it).
        if self.crawler.settings.getbool("NEWSAGG_STORE_WRITER", True) and (
            self.store.path != ":memory:"
        ):
            self.writer = StoreWriter(self.store.path, topics_file, spider.sources)

    def process_item(self, item: Article | PageSeen) -> Article | PageSeen:
        if isinstance(item, PageSeen):
            # After its page's articles: flush() stores those before this.
            self.pages.append(item)
            if item.unchanged:
                stats = self.run.source(item.source)
                stats.items += len(item.keys)
                stats.unchanged += len(item.keys)
            return item
        # Normalised where it is stored (aggregator/storewriter.py: write_batch).
        self.run.source(item.source).items += 1
        self.batch.append(item)
        if len(self.batch) + len(self.pages) >= BATCH_SIZE:
            self.flush()
        return item

    @stops_crawl_on_store_error
    def flush(self) -> None:
        batch, self.batch = self.batch, []
        pages, self.pages = self.pages, []
        if self.writer is not None:
            self.stored(self.writer.submit(batch, pages, self.now))
            return
        self.stored([write_batch(self.store, batch, pages, self.now, self.sources, self.tag)])

    def stored(self, done: list[Written | BaseException]) -> None:
        """Count what the written batches did; their new articles go to clustering. A batch's
        error is raised once the others are counted."""
        error: BaseException | None = None
        for written in done:
            if isinstance(written, BaseException):
                error = error or written
                continue
            for source, dropped in written.dropped.items():
                self.run.source(source).dropped += dropped
            result = written.result
            for source, counts in result.by_source.items():
                stats = self.run.source(source)
                stats.new += counts["new"]
                stats.updated += counts["updated"]
                stats.unchanged += counts["unchanged"]
            self.unclustered += result.new_ids
        if len(self.unclustered) >= CLUSTER_BATCH:
            self.cluster()
        if error is not None:
            raise error

    def cluster(self) -> None:
        """New articles join the stories they repeat (same or near-duplicate headlines)."""
        ids, self.unclustered = self.unclustered, []
        self.clusterer.submit(ids)

    def close_spider(self) -> None:
        try:
            self._close()
        finally:
            if self.writer is not None:  # the crawl failed before its last batch was written
                self.writer.abandon()

    @stops_crawl_on_store_error
    def _drain(self) -> None:
        """Write the last batch and wait for the writer to finish."""
        self.flush()
        if self.writer is not None:
            writer, self.writer = self.writer, None
            self.stored(writer.close())

    @stops_crawl_on_store_error
    def _close(self) -> None:
        self._drain()
        self.cluster()
        self.run.dedupe = self.clusterer.finish()
        finished = utc_now()
        for name, stats in self.run.sources.items():
            source = self.sources.get(name)
            if source is not None and source.kind != "feed":
                mark_empty(stats, self.store.source_article_count(name), source.kind)
            self.store.record_source_run(
                name,
                ok=not stats.failed,
                new=stats.new,
                error=stats.error,
                now=finished,
                items=stats.items,
                warning=stats.error if stats.items and stats.empty_pages else None,
                retry_after=stats.retry_after,
                backoff_base=source.backoff_base if source is not None else None,
                backoff_max=source.backoff_max if source is not None else None,
            )
        self.run.finished_at = to_utc_string(finished)
        self.store.finish_run(self.run.run_id or 0, self.run.status, self.run.to_dict(), finished)
        self.store.checkpoint()
