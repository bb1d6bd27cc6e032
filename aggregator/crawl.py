"""Run a crawl: all enabled sources in one Scrapy process, in the main thread."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.request import getproxies

from aggregator.config import Source
from aggregator.dates import to_utc_string, utc_now
from aggregator.errors import ConfigError, StoreError
from aggregator.health import is_due, stale_reason
from aggregator.netpolicy import netloc
from aggregator.runstats import RunStats
from aggregator.store import Store
from aggregator.urls import UrlRules


def select_sources(sources: Iterable[Source], only: Iterable[str] = ()) -> list[Source]:
    """The enabled sources, or exactly those named in ``only`` (enabled or not)."""
    sources = list(sources)
    names = list(only)
    if not names:
        return [s for s in sources if s.enabled]
    known = {s.name: s for s in sources}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown source(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in dict.fromkeys(names)]


def crawl(
    sources: Iterable[Source],
    db_path: str | Path,
    *,
    only: Iterable[str] = (),
    settings: Mapping[str, Any] | None = None,
    topics: str | Path | None = None,
) -> RunStats:
    """Crawl the sources into the database at ``db_path`` and return what happened.

    A failing source that is backing off is skipped until it is due (``run.skipped``), unless
    ``only`` names it. Afterwards ``run.stale`` lists the sources failing for longer than their
    ``stale_after``. ``settings`` overrides Scrapy settings (as ``-s NAME=VALUE`` does). The
    Twisted reactor cannot restart: call this once per process. ``topics`` is the taxonomy file
    that tags articles at ingest (default: see :func:`aggregator.topics.resolve_topics_path`).
    """
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from spiders.news import NewsSpider

    sources = list(sources)
    selected = select_sources(sources, only)
    run = RunStats()
    scrapy_settings = Settings()
    scrapy_settings.setmodule("aggregator.settings", priority="project")
    # A source's own host and port may be on a non-public address (the demo's and the tests'
    # sites are on 127.0.0.1; an intranet name may resolve to 10.x); nothing else may.
    # So may the proxies Scrapy takes from the environment (http_proxy...): often on 10.x.
    proxies = [u for k, u in getproxies().items() if k in ("http", "https") and "://" in u]
    scrapy_settings.set(
        "NEWSAGG_ALLOWED_PRIVATE",
        sorted({netloc(u) for s in selected for u in s.urls} | {netloc(u) for u in proxies}),
        priority="project",
    )
    if topics:
        scrapy_settings.set("NEWSAGG_TOPICS_FILE", str(topics), priority="project")
    for name, value in (settings or {}).items():
        scrapy_settings.set(name, value, priority="cmdline")
    store = Store(db_path)
    try:
        # Changed URL rules (sources.toml's [urls], host_aliases) first: the crawl matches its
        # links against canonical URLs that follow them.
        if sources:
            run.url_rules = store.apply_url_rules(url_rules_of(sources)).to_dict()
        health = {row["name"]: row for row in store.sources()}
        now = utc_now()
        due = [s for s in selected if only or is_due(health.get(s.name), now)]
        for source in selected:
            if source not in due:
                run.skipped[source.name] = health[source.name]["next_attempt_at"]
        if not due:
            store.sync_sources([])
        else:
            process = CrawlerProcess(scrapy_settings)
            process.crawl(NewsSpider, sources=due, store=store, run=run)
            process.start()
        _mark_stale(run, store, selected)
    finally:
        store.close()
    if run.fatal:
        raise StoreError(run.fatal)
    return run


def url_rules_of(sources: Iterable[Source]) -> UrlRules:
    """The configured URL rules (every source loaded from one file carries the same)."""
    found = {source.url_rules for source in sources}
    if len(found) > 1:
        raise ConfigError("the sources carry different URL rules; load them from one file")
    return found.pop() if found else UrlRules()


def _mark_stale(run: RunStats, store: Store, sources: list[Source]) -> None:
    """Fill ``run.stale`` and, when a run was recorded, store the record with it."""
    health = {row["name"]: row for row in store.sources()}
    now = utc_now()
    for source in sources:
        reason = stale_reason(health.get(source.name), source.stale_after, now)
        if reason:
            run.stale[source.name] = reason
    if run.run_id and (run.stale or run.skipped):
        store.finish_run(run.run_id, run.status, run.to_dict(), now)
    if not run.finished_at:
        run.finished_at = to_utc_string(now)
