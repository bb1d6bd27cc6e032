"""An extracted :class:`Article` becomes an ``articles`` row: clean text, canonical URL, UTC."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from aggregator.config import Source
from aggregator.dates import check_published, to_utc_string
from aggregator.items import Article
from aggregator.text import SNIPPET_MAX, TITLE_MAX, cap, clean_text, strip_markup
from aggregator.urls import UrlRules, canonical_url


def article_key(
    source: str,
    url: str,
    guid: str | None,
    title: str,
    published: str | None,
    basis: str = "",
    rules: UrlRules | None = None,
) -> str:
    """The canonical URL, or for an entry without a link a stable ``urn:`` key: by guid, else
    by title and date, or by ``basis`` (a hash of the content of an entry with no title)."""
    if url:
        return canonical_url(url, rules)
    if guid:
        return f"urn:newsagg:{source}:guid:{guid}"
    if basis:
        return f"urn:newsagg:{source}:sha1:{basis}"
    digest = hashlib.sha1(f"{title}\x00{published or ''}".encode()).hexdigest()[:20]
    return f"urn:newsagg:{source}:sha1:{digest}"


def normalize(article: Article, source: Source | None, now: datetime) -> dict[str, Any] | None:
    """The row to store, or None when the item has no usable title."""
    # No markup is stored, whatever the extractor let through (see text.strip_markup).
    title = cap(strip_markup(clean_text(article.title)), TITLE_MAX)
    if not title:
        return None
    snippet = cap(strip_markup(clean_text(article.snippet)), SNIPPET_MAX)
    published, flags = check_published(article.published_at, now)
    published_at = to_utc_string(published) if published else None
    precision = article.published_precision if published else None
    published_from = article.published_from if published else None
    if flags and published is not None:  # a future date replaced by the fetch time
        precision, published_from = "second", "fetch_time"
    guid = clean_text(article.guid) or None
    return {
        "url": article.url,
        # A fetch-time date changes every run: it must not be part of an entry's identity.
        "canonical_url": article.canonical_url
        or article_key(
            article.source,
            article.url,
            guid,
            title,
            published_at if published_from != "fetch_time" else None,
            article.key_basis,
            source.url_rules if source else None,
        ),
        "source": article.source,
        "guid": guid,
        "title": title,
        "snippet": snippet,
        "published_at": published_at,
        "published_precision": precision,
        "published_from": published_from,
        "flags": sorted(set(article.flags) | set(flags)),
        "language": article.language or (source.language if source else None),
        "topics": sorted(set(article.topics) | set(source.topics if source else ())),
    }
