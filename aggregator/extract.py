"""Pure extraction from HTML: list pages (with a source's selectors) and article pages.

Every function here takes a string and returns data; none fetches, stores or knows Scrapy, so
each can be tested with a literal page.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any

from lxml import etree
from parsel import Selector
from parsel.csstranslator import css2xpath
from w3lib.encoding import html_to_unicode

from aggregator.config import Selectors
from aggregator.dates import ParsedDate, parse_date, utc_now
from aggregator.items import Article
from aggregator.text import clean_text, is_truncated, strip_cut_marker
from aggregator.urls import absolute_url

_PRECISION_RANK = {None: 0, "day": 1, "minute": 2, "second": 3}
_PUBLISHED_LINE = re.compile(
    r"(?:发布时间|發布時間|发布日期|时间|日期|Published)\s*[:：]?\s*"
    r"(\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:\s*\d{1,2}[:：]\d{2}(?::\d{2})?)?)"
)
# "标题-站点", "Headline | Site", "Headline_Channel_Site"; a hyphen inside a word
# ("Solar-panel") is not a separator.
_TITLE_SPLIT = re.compile(r"\s*(?:(?<![A-Za-z0-9])-|-(?![A-Za-z0-9])|[_|–—·]|\s::\s)\s*")
_DATE_META = (
    'meta[property="article:published_time"]::attr(content)',
    'meta[name="PubDate"]::attr(content)',
    'meta[name="pubdate"]::attr(content)',
    'meta[name="publishdate"]::attr(content)',
    'meta[itemprop="datePublished"]::attr(content)',
    "time[datetime]::attr(datetime)",
)


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode a page: BOM, then the HTTP charset, then ``<meta>``; gb2312/gbk read as gb18030."""
    _encoding, text = html_to_unicode(content_type, body)
    return text


def extract_list(
    html: str,
    base_url: str,
    selectors: Selectors,
    *,
    source: str = "",
    tz: tzinfo = UTC,
    now: datetime | None = None,
) -> list[Article]:
    """Items of a list page: one :class:`Article` per ``selectors.item`` match that has a title
    and an http(s) link. Dates are read in ``tz``; ``now`` anchors relative and year-less ones."""
    now = now or utc_now()
    # parsel parses (so pages are read exactly as Scrapy reads them); the selectors then run as
    # XPath compiled once per selector string, on lxml elements: ~2x faster than node.css().
    root = Selector(text=html, base_url=base_url).root
    base = _BASE_HREF(root)
    if base:
        base_url = absolute_url(str(base[0]), base_url) or base_url
    articles: list[Article] = []
    for node in _compiled(selectors.item)(root):
        title, title_attr = _title_of(node, selectors.title)
        link = absolute_url(_link_of(node, selectors.link), base_url)
        if not title or not link:
            continue
        # A cut headline often carries the whole one in its title attribute (北极星 does this).
        truncated = is_truncated(title)
        if truncated and title_attr and title_attr.startswith(strip_cut_marker(title)[:4]):
            title, truncated = title_attr, is_truncated(title_attr)
        snippet = _text_of(node, selectors.snippet) if selectors.snippet else ""
        article = Article(
            url=link,
            source=source,
            title=title,
            snippet=snippet,
            title_truncated=truncated,
            snippet_truncated=is_truncated(snippet),
        )
        if selectors.date:
            parsed = parse_date(_text_of(node, selectors.date), tz, now)
            if parsed:
                article.published_at = parsed.value
                article.published_precision = parsed.precision
                article.published_from = "list"
        articles.append(article)
    return articles


_STRING = etree.XPath("string()")
_BASE_HREF = etree.XPath("//base/@href")
_FIRST_HREF = etree.XPath("descendant::a/@href")


@lru_cache(maxsize=1024)
def _compiled(css: str) -> etree.XPath:
    """A CSS selector (parsel syntax, with ::text and ::attr()) as compiled XPath."""
    return etree.XPath(css2xpath(css))


def _matches(node: Any, css: str) -> list[Any]:
    result = _compiled(css)(node)
    return result if isinstance(result, list) else [result]


def _text_of(node: Any, css: str) -> str:
    """Whitespace-collapsed text of the first match (or the values, for ::text/::attr())."""
    match = _matches(node, css)
    if not match:
        return ""
    if isinstance(match[0], str):
        return clean_text(" ".join(str(m) for m in match))
    return clean_text(str(_STRING(match[0])))


def _title_of(node: Any, css: str) -> tuple[str, str]:
    """The title text and the matched element's ``title`` attribute (often the uncut title)."""
    match = _matches(node, css)
    if not match:
        return "", ""
    if isinstance(match[0], str):
        return clean_text(" ".join(str(m) for m in match)), ""
    element = match[0]
    return clean_text(str(_STRING(element))), clean_text(element.get("title", ""))


def _link_of(node: Any, css: str) -> str | None:
    match = _matches(node, css)
    if not match:
        return None
    if isinstance(match[0], str):
        return str(match[0])
    href = match[0].get("href")
    if href is not None:
        return str(href)
    first = _FIRST_HREF(match[0])
    return str(first[0]) if first else None


@dataclass
class ArticlePage:
    """What an article page says about itself."""

    title: str = ""
    published: ParsedDate | None = None
    snippet: str = ""


def extract_article(
    html: str, url: str, *, tz: tzinfo = UTC, now: datetime | None = None
) -> ArticlePage:
    """Title (og:title, h1, ``<title>`` minus the site name), publish time and a lead snippet."""
    now = now or utc_now()
    page = Selector(text=html, base_url=url)
    return ArticlePage(
        title=_article_title(page),
        published=_article_date(page, tz, now),
        snippet=_article_snippet(page),
    )


def _article_title(page: Selector) -> str:
    og = clean_text(page.css('meta[property="og:title"]::attr(content)').get())
    if og:
        return og
    h1 = clean_text(page.css("h1").xpath("string()").get())
    if h1:
        return h1
    title = clean_text(page.css("title::text").get())
    parts = _TITLE_SPLIT.split(title)
    # "Headline - Site" or "Headline_Channel_Site": the headline is the longest part.
    return max(parts, key=len) if parts else ""


def _article_date(page: Selector, tz: tzinfo, now: datetime) -> ParsedDate | None:
    best: ParsedDate | None = None
    candidates = [page.css(css).get() for css in _DATE_META]
    for raw in page.css('script[type="application/ld+json"]::text').getall():
        candidates.append(_json_ld_date(raw))
    body_text = " ".join(page.css("body *:not(script):not(style)::text").getall())
    line = _PUBLISHED_LINE.search(body_text)
    if line:
        candidates.append(line.group(1))
    for raw in candidates:
        parsed = parse_date(raw, tz, now) if raw else None
        if (
            parsed
            and _PRECISION_RANK[parsed.precision]
            > _PRECISION_RANK[best.precision if best else None]
        ):
            best = parsed
    return best


def _json_ld_date(raw: str) -> str | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    nodes = data if isinstance(data, list) else [data]
    for node in nodes:
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("datePublished"), str):
            return node["datePublished"]
        graph = node.get("@graph")  # the WordPress/Yoast form
        if isinstance(graph, list):
            nodes.extend(graph)
    return None


def _article_snippet(page: Selector) -> str:
    for css in (".article-body p", "article p", ".content p", "#content p", "p"):
        for node in page.css(css):
            if node.xpath("ancestor::nav|ancestor::footer|ancestor::header|ancestor::aside"):
                continue
            text = clean_text(node.xpath("string()").get())
            if len(text) >= 20:
                return text
    return clean_text(page.css('meta[name="description"]::attr(content)').get())


def merge_article(article: Article, page: ArticlePage, follow: str) -> Article:
    """Fill a list item from its article page: the full title when the list's was cut (or always
    with ``follow = "always"``), the page's date when it is more precise, the lead snippet when the
    list had none or a cut one."""
    if page.title and (article.title_truncated or follow == "always" or not article.title):
        article.title = page.title
        article.title_truncated = is_truncated(page.title)
    if (
        page.published
        and _PRECISION_RANK[page.published.precision]
        >= _PRECISION_RANK[article.published_precision]
    ):
        article.published_at = page.published.value
        article.published_precision = page.published.precision
        article.published_from = "article"
    if page.snippet and (not article.snippet or article.snippet_truncated):
        article.snippet = page.snippet
        article.snippet_truncated = False
    return article


def needs_follow(article: Article, follow: str) -> bool:
    """Whether the article page should be fetched for this list item."""
    if follow == "always":
        return True
    if follow == "truncated":
        return (
            article.title_truncated
            or article.snippet_truncated
            or article.published_precision not in ("minute", "second")
        )
    return False
