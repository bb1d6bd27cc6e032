"""Pure extraction from HTML: list pages (with a source's selectors) and article pages.

Every function here takes a string and returns data; none fetches, stores or knows Scrapy, so
each can be tested with a literal page.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any

from lxml import etree
from parsel import Selector
from parsel.csstranslator import css2xpath

from aggregator.config import ArticleSelectors, Selectors
from aggregator.dates import ParsedDate, read_date, utc_now
from aggregator.encodings import decode_page
from aggregator.items import Article
from aggregator.text import clean_text, is_truncated, strip_cut_marker
from aggregator.urls import absolute_url

_PRECISION_RANK = {None: 0, "day": 1, "minute": 2, "second": 3}
_PUBLISHED_LINE = re.compile(
    r"(?:发布时间|發布時間|发布日期|时间|日期|Published)\s*[:：]?\s*"
    r"((?:\d{4}\s*[-/.年]\s*)?\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
    r"(?:\s*\d{1,2}[:：]\d{2}(?::\d{2})?)?)"
)
# "来源：北极星储能网 2026-02-24 15:20": a dated source line (the date after the source's name).
_SOURCE_LINE = re.compile(
    r"(?:来源|來源|稿源)\s*[:：]\s*[^\d\s:：]{1,20}\s+"
    r"(\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?\s*\d{1,2}[:：]\d{2}(?::\d{2})?)"
)
# An unlabelled date in the article's info line (<div class="info">2026-02-24 15:20 来源:...</div>).
_INFO_CLASS = re.compile(
    r"(?:^|[\s_-])(?:info|meta|time|date|pubtime|pubdate|publish|source|attr|byline|"
    r"article-info|arc-info)(?:$|[\s_-])",
    re.I,
)
_INFO_DATE = re.compile(
    r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?\s*\d{1,2}[:：]\d{2}(?::\d{2})?"
)
_CHROME_CLASS = re.compile(r"(?:^|[\s_-])(?:logo|header|head|nav|top|site-name)(?:$|[\s_-])", re.I)
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


def decode_html(
    body: bytes,
    content_type: str | None = None,
    *,
    language: str | None = "zh",
    encoding: str | None = None,
) -> str:
    """Decode a page (:func:`aggregator.encodings.decode_page`); raises ``UndecodablePage``
    rather than return mojibake."""
    return decode_page(body, content_type, language=language, override=encoding).text


def extract_list(
    html: str,
    base_url: str,
    selectors: Selectors,
    *,
    source: str = "",
    tz: tzinfo = UTC,
    now: datetime | None = None,
    date_format: str | None = None,
) -> list[Article]:
    """Items of a list page: one :class:`Article` per ``selectors.item`` match that has a title
    and an http(s) link. Dates are read in ``tz``; ``now`` anchors relative and year-less ones;
    ``date_format`` (strptime) is tried first. Titles all cut at one length are marked cut."""
    now = now or utc_now()
    # parsel parses (so pages are read exactly as Scrapy reads them); the selectors then run as
    # XPath compiled once per selector string, on lxml elements: ~2x faster than node.css().
    root = Selector(text=html, base_url=base_url).root
    # Script and style text is never a headline or a snippet (string() would include it).
    etree.strip_elements(root, "script", "style", "template", with_tail=False)
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
            set_list_date(article, _text_of(node, selectors.date), tz, now, date_format)
        articles.append(article)
    mark_fixed_length_cuts(articles)
    return articles


def set_list_date(
    article: Article, raw: str, tz: tzinfo, now: datetime, date_format: str | None = None
) -> None:
    """Read a list item's date text into ``article`` (an impossible one only flags it)."""
    parsed, flags = read_date(raw, tz, now, date_format)
    if parsed:
        article.published_at = parsed.value
        article.published_precision = parsed.precision
        article.published_from = "list"
    article.flags.extend(f for f in flags if f not in article.flags)


MIN_FIXED_CUT = 3
FIXED_CUT_SHARE = 0.3
MIN_CUT_LENGTH = 8
# The cut length must hold at least this many times as many texts as any other length.
FIXED_CUT_SPIKE = 2
# A text ending with one of these ends where its writer ended it (a bracket, a sentence).
_WHOLE_ENDINGS = frozenset(")]}>\"'」』》〉】〗〕〙〛”’.!?。！？")


def mark_fixed_length_cuts(articles: list[Article]) -> None:
    """Sites that cut headlines to N characters without a marker leave a tell: many titles of
    exactly the longest length, and likewise for snippets. Those are marked cut (see
    :func:`fixed_cut_length`)."""
    for text_of, mark in (
        (lambda a: a.title, "title_truncated"),
        (lambda a: a.snippet, "snippet_truncated"),
    ):
        cut = fixed_cut_length([text_of(a) for a in articles if text_of(a)])
        if cut is not None:
            for article in articles:
                if len(text_of(article)) == cut:
                    setattr(article, mark, True)


def fixed_cut_length(texts: Sequence[str]) -> int | None:
    """The length these texts were cut to, or None when they look whole.

    A sidebar cutting at N characters makes every longer text exactly N while the shorter ones
    keep their lengths, so N is the longest length and it stands out: at least 3 texts and 30%
    of them, not all (all equal is a layout), and at least twice as many as at any other length.
    Templated headlines ("…（第3期第12条）") also bunch near their longest length but do not
    look cut: a cut stops at any character, so most texts at N ending with a closing bracket or
    sentence mark, or sharing their last two characters, are whole.
    """
    if len(texts) < MIN_FIXED_CUT:
        return None
    counts = Counter(len(t) for t in texts)
    longest = max(counts)
    at_longest = [t for t in texts if len(t) == longest]
    n = len(at_longest)
    if (
        longest < MIN_CUT_LENGTH
        or n < MIN_FIXED_CUT
        or n < FIXED_CUT_SHARE * len(texts)
        or n == len(texts)  # all equal: a layout, not a cut
        or any(FIXED_CUT_SPIKE * c > n for length, c in counts.items() if length != longest)
    ):
        return None
    whole = sum(1 for t in at_longest if t[-1] in _WHOLE_ENDINGS)
    shared_tail = max(Counter(t[-2:] for t in at_longest).values())
    if 2 * whole > n or 2 * shared_tail > n:
        return None
    return longest


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
    """The title text and the matched element's ``title`` attribute (often the uncut title): of
    the first match with text (a picture link before the headline link has none)."""
    match = _matches(node, css)
    if not match:
        return "", ""
    if isinstance(match[0], str):
        return clean_text(" ".join(str(m) for m in match)), ""
    for element in match:
        text, attr = clean_text(str(_STRING(element))), clean_text(element.get("title", ""))
        if text or attr:
            return text, attr
    return "", ""


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
    date_suspect: bool = False  # a date was there but impossible (2026-02-30)


def extract_article(
    html: str,
    url: str,
    *,
    tz: tzinfo = UTC,
    now: datetime | None = None,
    selectors: ArticleSelectors | None = None,
) -> ArticlePage:
    """Title (og:title, h1, ``<title>`` minus the site name), publish time and a lead snippet.

    A source's ``[source.article]`` selectors come first; the heuristics fill what they miss."""
    now = now or utc_now()
    page = Selector(text=html, base_url=url)
    chosen = selectors or ArticleSelectors()
    title = _selected_text(page, chosen.title) if chosen.title else ""
    published = None
    if chosen.date:
        raw = _selected_text(page, chosen.date)
        published, _flags = read_date(raw, tz, now, chosen.date_format)
    snippet = _lead(page.css(chosen.body)) if chosen.body else ""
    suspect = False
    if published is None:
        published, suspect = _article_date(page, tz, now, chosen.date_format)
    return ArticlePage(
        title=title or _article_title(page),
        published=published,
        snippet=snippet or _article_snippet(page),
        date_suspect=suspect and published is None,
    )


def _selected_text(page: Selector, css: str) -> str:
    values = page.css(css)
    if not values:
        return ""
    first = values[0]
    if isinstance(first.root, str):
        return clean_text(" ".join(v.get() for v in values))
    return clean_text(first.xpath("string()").get())


def _lead(nodes: Any) -> str:
    """The first paragraph of at least 20 characters in the body nodes (or their whole text)."""
    for node in nodes:
        for part in node.css("p") or [node]:
            text = clean_text(part.xpath("string()").get())
            if len(text) >= LEAD_MIN:
                return text[:SNIPPET_LEAD_MAX]
    return ""


def _article_title(page: Selector) -> str:
    """og:title; else the heading that the ``<title>`` repeats (not the logo's ``<h1>``); else
    the first heading outside the page header; else the longest part of ``<title>``."""
    og = clean_text(page.css('meta[property="og:title"]::attr(content)').get())
    if og and not _TITLE_SPLIT.search(og):
        return og
    # An og:title with a separator may end in the site's name ("Headline - 国际能源网"): the
    # page's own headline, when it repeats a part of it, is the title; else og:site_name is cut.
    title = og or clean_text(page.css("title::text").get())
    parts = _TITLE_SPLIT.split(title)
    headings: list[str] = []
    first_h1 = ""
    for node in page.css("h1, h2, [class*=title], [class*=tit], [class~=tt], [itemprop=headline]"):
        if node.root.tag in ("title", "meta", "a", "html", "body") or _in_header(node):
            continue
        text = clean_text(node.xpath("string()").get())
        if 4 <= len(text) <= 200:
            headings.append(text)
        if node.root.tag == "h1" and text and not first_h1:
            first_h1 = text
    repeated = [h for h in headings if len(h) >= 6 and h in title]
    if repeated:
        return max(repeated, key=len)
    if og:
        return _without_site_name(og, page)
    if first_h1:
        return first_h1
    # "Headline - Site" or "Headline_Channel_Site": the headline is the longest part.
    return max(parts, key=len) if parts else ""


def _without_site_name(title: str, page: Selector) -> str:
    site = clean_text(page.css('meta[property="og:site_name"]::attr(content)').get())
    parts = _TITLE_SPLIT.split(title)
    if site and len(parts) > 1 and parts[-1] == site:
        return title[: title.rfind(site)].rstrip(" -_|–—·:")
    return title


def _in_header(node: Selector) -> bool:
    """In the page's header, logo or navigation (where the site name is an <h1>)."""
    for element in (node.root, *node.root.iterancestors()):
        if element.tag in ("header", "nav"):
            return True
        names = f"{element.get('class', '')} {element.get('id', '')}"
        if names.strip() and _CHROME_CLASS.search(names):
            return True
    return False


def _article_date(
    page: Selector, tz: tzinfo, now: datetime, date_format: str | None = None
) -> tuple[ParsedDate | None, bool]:
    """The most precise date the page states, and whether one it states is impossible."""
    best: ParsedDate | None = None
    suspect = False
    candidates = [page.css(css).get() for css in _DATE_META]
    for raw in page.css('script[type="application/ld+json"]::text').getall():
        candidates.append(_json_ld_date(raw))
    body_text = " ".join(page.css("body *:not(script):not(style)::text").getall())
    for pattern in (_PUBLISHED_LINE, _SOURCE_LINE):
        line = pattern.search(body_text)
        if line:
            candidates.append(line.group(1))
    for node in page.css("body [class], body [id]"):
        names = f"{node.attrib.get('class', '')} {node.attrib.get('id', '')}"
        if not _INFO_CLASS.search(names) or _in_chrome(node):
            continue
        found = _INFO_DATE.search(clean_text(node.xpath("string()").get())[:200])
        if found:
            candidates.append(found.group(0))
            break
    for raw in candidates:
        parsed, flags = read_date(raw, tz, now, date_format) if raw else (None, [])
        suspect = suspect or bool(flags)
        if (
            parsed
            and _PRECISION_RANK[parsed.precision]
            > _PRECISION_RANK[best.precision if best else None]
        ):
            best = parsed
    return best, suspect


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


LEAD_MIN = 20
SNIPPET_LEAD_MAX = 500
_NOT_BODY = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|menu|side|sidebar|aside|footer|foot|header|breadcrumb|crumb|"
    r"related|recommend|hot|rank|comment|share|copyright|ad|ads|banner)(?:$|[\s_-])",
    re.I,
)
_ARTICLE_CONTAINERS = (
    ".article-body p",
    "article p",
    ".article p",
    ".article-content p",
    ".content p",
    "#content p",
    ".TRS_Editor p",
    "p",
)


def _article_snippet(page: Selector) -> str:
    for css in _ARTICLE_CONTAINERS:
        for node in page.css(css):
            if node.xpath("ancestor::nav|ancestor::footer|ancestor::header|ancestor::aside"):
                continue
            if _in_chrome(node):
                continue
            text = clean_text(node.xpath("string()").get())
            if len(text) >= LEAD_MIN:
                return text
    return clean_text(page.css('meta[name="description"]::attr(content)').get())


def _in_chrome(node: Selector) -> bool:
    """Inside a sidebar, menu, "related" or comment block (by class or id)."""
    for ancestor in node.root.iterancestors():
        names = f"{ancestor.get('class', '')} {ancestor.get('id', '')}"
        if names.strip() and _NOT_BODY.search(names):
            return True
    return False


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
        if "date_suspect" in article.flags:  # the list's impossible date is replaced
            article.flags.remove("date_suspect")
    elif page.date_suspect and "date_suspect" not in article.flags:
        # the page states an impossible date: flagged even when the list's date stands (then
        # published_at and published_from stay the list's)
        article.flags.append("date_suspect")
        if article.published_at is not None and article.published_from is None:
            article.published_from = "list"
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
