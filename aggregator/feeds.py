"""Pure feed parsing: RSS/Atom/JSON Feed bytes in, :class:`Article` items out.

feedparser reads RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 (broken ones included);
:mod:`aggregator.jsonfeed` reads JSON Feed 1.0/1.1. A body is a feed only when one of them
recognises it: an HTML page, an error page or an empty body raises :class:`NotAFeed` saying what
was received.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urlsplit

import feedparser

from aggregator.dates import looks_like_date, parse_date, utc_now
from aggregator.errors import AggregatorError
from aggregator.items import Article
from aggregator.jsonfeed import NotAJsonFeed, looks_like_json, parse_json_feed
from aggregator.text import clean_text, html_to_text, is_truncated
from aggregator.urls import absolute_url

# A date string names its zone when it ends in an offset, "Z", or an unambiguous abbreviation.
# "CST" is not one: feedparser reads it as US Central, which is wrong for a Chinese site.
_ZONED = re.compile(
    r"(?:[+-]\d{2}:?\d{2}|Z|\b(?:GMT|UT|UTC|EST|EDT|PST|PDT|MST|MDT|CDT))\s*$", re.I
)


# The run-stats reason for an entry left out because it has nothing at all to show.
EMPTY_FEED_ENTRY = "empty feed entry"


class NotAFeed(AggregatorError):
    """The response is not RSS/Atom/JSON Feed (an HTML page, an error page, an empty body)."""


@dataclass
class ParsedFeed:
    title: str
    link: str | None
    items: list[Article] = field(default_factory=list)
    version: str = ""
    # feedparser's own entry count, and how many of those were truly empty (no title, text,
    # link, guid, date, enclosure, author, category or place) and were left out
    entries: int = 0
    skipped: int = 0
    bozo: str | None = None  # why feedparser found the document ill-formed, if it did


def looks_like_feed(body: bytes) -> bool:
    """A cheap sniff, for ``preview``: does the document start like RSS, RDF, Atom or JSON Feed?"""
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    while True:  # comments and processing instructions (<?xml-stylesheet?>) before the root
        if head.startswith(b"<!--") and b"-->" in head:
            head = head[head.find(b"-->") + 3 :].lstrip()
        elif head.startswith(b"<?") and b"?>" in head:
            head = head[head.find(b"?>") + 2 :].lstrip()
        else:
            break
    if head.startswith(b"{"):  # JSON Feed names its version near the top
        return b"jsonfeed.org/version/" in body[:4096]
    return head.startswith((b"<rss", b"<feed", b"<rdf:rdf", b"<rdf"))


def parse_feed(
    body: bytes,
    url: str,
    *,
    source: str = "",
    tz: tzinfo = UTC,
    now: datetime | None = None,
    content_type: str | None = None,
) -> ParsedFeed:
    """Entries of an RSS/Atom/JSON Feed document in document order; raise :class:`NotAFeed`
    otherwise.

    Links are resolved against ``xml:base`` and ``url`` (the final URL after redirects); dates are
    published, then updated, then ``now``, with ``published_from`` saying which.
    """
    now = now or utc_now()
    if not body.strip():
        raise NotAFeed(f"not a feed: got an empty body ({_received(content_type, body)})")
    if looks_like_json(body):
        try:
            parsed: Any = parse_json_feed(body)
        except NotAJsonFeed as exc:
            raise NotAFeed(f"not a feed: got {exc} ({_received(content_type, body)})") from None
    else:
        headers = {"content-location": url}
        if content_type:
            headers["content-type"] = content_type
        # A stream, never bytes or str: feedparser fetches a string that looks like a URL.
        try:
            parsed = feedparser.parse(
                io.BytesIO(_without_surrogate_refs(body)),
                response_headers=headers,
                sanitize_html=False,
            )
        except Exception as exc:  # feedparser should never raise; when it does, say so per source
            raise NotAFeed(
                f"feed could not be parsed: {type(exc).__name__}: {exc} "
                f"({_received(content_type, body)})"
            ) from None
        if not parsed.get("version"):
            got = _what(body, content_type)
            raise NotAFeed(f"not a feed: got {got} ({_received(content_type, body)})")
    channel = parsed.get("feed", {})
    bozo = parsed.get("bozo_exception") if parsed.get("bozo") else None
    feed = ParsedFeed(
        title=html_to_text(channel.get("title")),
        link=absolute_url(channel.get("link"), url) if channel.get("link") else None,
        version=parsed["version"],
        entries=len(parsed["entries"]),
        bozo=f"{type(bozo).__name__}: {bozo}"[:200] if bozo is not None else None,
    )
    label = feed.title or urlsplit(url).hostname or "feed"
    for entry in parsed["entries"]:
        article = _entry_article(entry, url, source, tz, now, label)
        if article is None:
            feed.skipped += 1
        else:
            feed.items.append(article)
    _drop_ambiguous_guids(feed.items)
    return feed


# "&#xD83D;" (a lone surrogate) makes feedparser's loose parser raise UnicodeEncodeError.
_SURROGATE_REF = re.compile(
    rb"&#(?:[xX]0*[dD][89a-fA-F][0-9a-fA-F]{2}"
    rb"|0*(?:5529[6-9]|55[3-9][0-9]{2}|56[0-9]{3}|57[0-2][0-9]{2}|573[0-3][0-9]|5734[0-3]));"
)


def _without_surrogate_refs(body: bytes) -> bytes:
    """Character references to surrogates (never valid text) become U+FFFD references."""
    return _SURROGATE_REF.sub(b"&#xFFFD;", body) if b"&#" in body else body


def _received(content_type: str | None, body: bytes) -> str:
    kind = (content_type or "no content type").split(";")[0].strip() or "no content type"
    return f"{kind}, {len(body)} bytes"


def _what(body: bytes, content_type: str | None) -> str:
    """What a body that no feed parser recognised looks like, for ``last_error``."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<html" in head or head.startswith(b"<!doctype html"):
        return "an HTML page"
    if head.startswith(b"<") and "html" in (content_type or "").lower():
        return "an HTML page"
    if head.startswith(b"<"):
        return "XML that is not RSS, RDF or Atom"
    return "a body that is neither XML nor JSON"


def _drop_ambiguous_guids(items: list[Article]) -> None:
    """A guid shared by different entries of one feed identifies none of them: forget it, so the
    entries are told apart by link (or by title and date) instead of collapsing into one."""
    seen: dict[str, set[tuple[str, str]]] = {}
    for article in items:
        if article.guid:
            seen.setdefault(article.guid, set()).add((article.url, article.title))
    for article in items:
        if article.guid and len(seen[article.guid]) > 1:
            article.guid = None


def _entry_article(
    entry: Any, base_url: str, source: str, tz: tzinfo, now: datetime, label: str = "feed"
) -> Article | None:
    """The entry as an article; None only for an entry with nothing at all to show."""
    title = _text(entry.get("title"), entry.get("title_detail"))
    summary, detail = entry.get("summary") or "", entry.get("summary_detail")
    if not summary and entry.get("content"):
        summary, detail = entry["content"][0].get("value", ""), entry["content"][0]
    snippet = _text(summary, detail)
    link = absolute_url(entry.get("link"), base_url)
    guid = safe_guid(entry.get("id"))
    if not link and guid and _is_permalink(entry, guid):
        link = absolute_url(guid, base_url)
    key_basis = ""
    if not title:  # as Miniflux does: the text's start, else the link
        title = snippet[:80] or link or ""
    if not title:  # give what it can: markup, enclosure, guid, or the feed's name and date
        title = fallback_title(entry, summary, base_url, guid, label)
        if not title:
            return None  # nothing at all: counted as skipped by the caller
        if not guid:  # no link, no guid: keyed by a hash of the entry's content
            key_basis = _content_digest(entry)
    article = Article(
        url=link or "",
        source=source,
        title=title,
        snippet=snippet,
        guid=guid,
        title_truncated=is_truncated(title),
        snippet_truncated=is_truncated(snippet),
        key_basis=key_basis,
    )
    for key, origin in (("published", "feed"), ("updated", "feed_updated")):
        found = _entry_date(entry, key, tz, now)
        if found is not None:
            article.published_at, article.published_precision = found
            article.published_from = origin
            break
    else:
        if any(looks_like_date(entry.get(key)) for key in ("published", "updated") if key in entry):
            article.flags.append("date_suspect")  # an impossible date (2月30日): none, flagged
            return article
        article.published_at = now
        article.published_precision = "second"
        article.published_from = "fetch_time"
    return article


# Schemes that run code or smuggle a document when followed: never a guid, link or key.
_UNSAFE_SCHEME = re.compile(r"^\s*(?:javascript|vbscript|data|livescript)\s*:", re.I)
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")


def safe_guid(value: Any) -> str | None:
    """The entry's guid, or None when it is empty or a javascript:/vbscript:/data: URL (also
    when disguised with entities, control characters or spaces, as browsers would read it)."""
    if not isinstance(value, str):
        return None
    guid = value.strip()
    if not guid:
        return None
    if _UNSAFE_SCHEME.match(_CONTROL.sub("", html.unescape(guid))):
        return None
    return guid


_ATTR = re.compile(r"""\b(alt|title|src|href)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)


def fallback_title(entry: Any, markup: str, base_url: str, guid: str | None, label: str) -> str:
    """A title for an entry that has none and no text or link, in order: the alt/title text of
    its markup (an image), a URL in its markup, its enclosure, its guid, else the feed's name
    with what the entry does have (author, categories, place, date). "" when it has nothing."""
    attrs: dict[str, str] = {}
    for match in _ATTR.finditer(markup or ""):
        name = match.group(1).lower()
        value = clean_text(html.unescape(match.group(2) or match.group(3) or ""))
        if value and name not in attrs:
            attrs[name] = value
    for name in ("alt", "title"):
        if attrs.get(name):
            return attrs[name][:80]
    for name in ("src", "href"):
        found = absolute_url(attrs.get(name), base_url) if attrs.get(name) else None
        if found:
            return found
    for enclosure in [*entry.get("enclosures", ()), *entry.get("media_content", ())]:
        found = absolute_url(enclosure.get("href") or enclosure.get("url"), base_url)
        if found:
            return found
    if guid:
        return guid[:200]
    parts = []
    author = clean_text(entry.get("author"))
    if author:
        parts.append(f"by {author}")
    tags = [clean_text(t.get("term") or t.get("label")) for t in entry.get("tags") or ()]
    if any(tags):
        parts.append(", ".join(t for t in tags if t))
    where = entry.get("where") or {}
    coordinates = where.get("coordinates") if hasattr(where, "get") else None
    if coordinates:
        parts.append(f"at {_coordinates(coordinates)}")
    for key in ("published", "updated"):
        raw = clean_text(entry.get(key)) if key in entry else ""
        if raw:
            parts.append(raw)
            break
    if not parts:
        return ""
    return f"{label}: {' · '.join(parts)}"[:200]


def _without_base(value: Any) -> Any:
    """``value`` without feedparser's ``base`` entries and parsed dates (derived fields)."""
    if isinstance(value, dict):
        return {
            k: _without_base(v)
            for k, v in value.items()
            if k != "base" and not str(k).endswith("_parsed")
        }
    if isinstance(value, (list, tuple)):
        return [_without_base(v) for v in value]
    return value


def _coordinates(value: Any) -> str:
    """GeoRSS coordinates as 'lat, lon' (feedparser gives a (lon, lat) point or a list)."""
    point = value[0] if value and isinstance(value[0], (tuple, list)) else value
    try:
        lon, lat = float(point[0]), float(point[1])
    except (TypeError, ValueError, IndexError):
        return str(value)[:60]
    return f"{lat:g}, {lon:g}"


def _content_digest(entry: Any) -> str:
    """A stable hash of everything the entry says: the same entry gives the same key on every
    fetch, also when the feed moved (the ``base`` URL feedparser records is left out)."""
    text = json.dumps(_without_base(entry), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def _is_permalink(entry: Any, guid: str) -> bool:
    """An http(s) guid is the entry's link unless the feed says ``isPermaLink="false"``."""
    if not guid.lower().startswith(("http://", "https://")):
        return False
    return "guidislink" not in entry or bool(entry["guidislink"])


def _text(value: str | None, detail: Any) -> str:
    """Plain text of a feed field: HTML content is stripped, text content only cleaned."""
    if detail is not None and detail.get("type") == "text/plain":
        return clean_text(value)
    return html_to_text(value)


def _entry_date(entry: Any, key: str, tz: tzinfo, now: datetime) -> tuple[datetime, str] | None:
    """The entry's ``published`` or ``updated`` date and its precision ('day' for a date
    without a time, else 'minute' or 'second'), or None."""
    if key not in entry:  # entry.get("updated") would fall back to "published", with a warning
        return None
    raw = entry.get(key)
    if not raw:
        return None
    parsed = entry.get(f"{key}_parsed")
    if parsed and _ZONED.search(raw.strip()):
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC), "second"
    # No zone, or an ambiguous one: read the wall-clock time in the source's zone.
    cleaned = re.sub(r"\s+(?:CST|[A-Z]{2,4})\s*$", "", raw.strip())
    ours = parse_date(cleaned, tz, now)
    if ours is not None:
        return ours.value, ours.precision
    if looks_like_date(cleaned):  # 2026-02-30: feedparser would roll it over to March 2
        return None
    if parsed:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC), "second"
    return None
