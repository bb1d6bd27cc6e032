"""The item that flows from extraction through the pipeline into the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Article:
    """One headline as extracted, before normalisation.

    ``published_at`` is timezone-aware (or None); ``published_precision`` is 'day', 'minute' or
    'second'; ``published_from`` says where the date came from ('list', 'article', 'feed',
    'feed_updated', 'fetch_time'). Column names match the ``articles`` table.
    """

    url: str
    source: str
    title: str
    snippet: str = ""
    guid: str | None = None
    published_at: datetime | None = None
    published_precision: str | None = None
    published_from: str | None = None
    language: str | None = None
    topics: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    title_truncated: bool = False
    snippet_truncated: bool = False
    # set by the spider when it has computed it; otherwise normalize() does
    canonical_url: str | None = None
    # for an entry with no link, guid or title of its own: a hash of its content, keying it
    key_basis: str = ""


@dataclass
class PageSeen:
    """A list page or feed, by the hash of its body, and the articles it listed.

    The pipeline stores it after those articles, so a later crawl that gets the same bytes can mark
    the articles seen without extracting the page again (``unchanged=True``, ``keys`` from the
    store)."""

    url: str
    source: str
    fingerprint: str  # "" for a 304 Not Modified, which has no body
    keys: list[str]
    unchanged: bool = False
    # For a feed: the URL as configured (requested) and the validators it answered with, kept
    # for the next conditional GET (``request_url`` None: nothing to keep).
    request_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    reader: str | None = None  # how the body was read: see spiders.news.page_fingerprint
