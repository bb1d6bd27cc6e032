"""News-list blocks found without selectors (``kind = "auto"``, ``newsagg preview --auto``).

A list block is an element whose children repeat one shape (``ul > li``, ``div.list > div.item``,
``table > tr``, a row of cards) and each hold a link with headline-like text. Each candidate is
read into items (title, link, snippet, date) and scored; blocks that read like navigation, footers,
pagination, tag clouds or link farms are not news blocks and are dropped. Sibling lists of the
same shape (a long list split into several ``<ul>``) are one block. Every block carries CSS
selectors that :func:`aggregator.extract.extract_list` applies to the same items, so a site author
can paste them into ``sources.toml``.

Pure functions of a string, like the rest of the extraction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from statistics import median
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from parsel import Selector
from parsel.csstranslator import css2xpath

from aggregator.config import Selectors
from aggregator.dates import utc_now
from aggregator.extract import mark_fixed_length_cuts, set_list_date
from aggregator.items import Article
from aggregator.text import clean_text, is_truncated, strip_cut_marker
from aggregator.urls import absolute_url

MIN_ITEMS = 3
MIN_TITLE = 6  # median headline length (characters) below which a block is navigation
MAX_DATE_TEXT = 40
MIN_SNIPPET = 12
MAX_LINKS_PER_ITEM = 4
MIN_COVERAGE = 0.5
MAX_BETWEEN = 30  # characters of text allowed between a block and its heading
ALL_BLOCKS = "*"

_SKIP_TAGS = {"script", "style", "noscript", "template", "head", "title", "select", "option"}
_CHROME_TAGS = {"nav", "header", "footer"}
_CHROME = re.compile(
    r"(?:^|[\s_-])(?:nav|navs|navbar|menu|menus|topbar|footer|foot|ft|copyright|breadcrumbs?|"
    r"crumbs?|pager|pagination|pages|pagebar|page-?nav|tags?|tag-?cloud|keywords?|friend|"
    r"friendlinks?|flinks?|yqlj|links|share|login|search)(?:$|[\s_-])",
    re.I,
)
_SIDE = re.compile(
    r"(?:^|[\s_-])(?:side|sidebar|aside|right|rside|sider|r|col-r)(?:$|[\s_-])", re.I
)
_NOT_NEWS_HEADING = re.compile(
    r"友情链接|合作伙伴|合作媒体|热门标签|标签|热搜|相关搜索|导航|快速链接|links?|tags?|partners?",
    re.I,
)
_HEADING_CLASS = re.compile(
    r"(?:^|[\s_-])(?:title|tit|tt|hd|head|header|heading|bt|caption|name)(?:$|[\s_-])", re.I
)
# camelCase class names of Chinese CMS templates: listTit, sideTit, boxTitle, newsHd
_HEADING_CAMEL = re.compile(r"[a-z0-9](?:Tit|Title|Hd|Head|Heading|Caption)(?:$|[\s_-])")
_MORE = re.compile(r"(?:更多|查看更多|more)\s*(?:>+|»|›)?\s*$|[>»›]+\s*$", re.I)
_VOLATILE_CLASS = re.compile(
    r"^(?:odd|even|first|last|active|on|cur|current|selected|hover|clearfix|cf|fl|fr|"
    r"f-l|f-r|left|right|alt|bg|hide|show|new|hot|top)$",
    re.I,
)
_DATEISH = re.compile(
    r"\d{4}\s*[-/.年]\s*\d{1,2}|\d{1,2}\s*[-/月]\s*\d{1,2}|\d+\s*(?:秒|分钟|分鐘|小时|小時|天|周)前"
    r"|刚刚|今天|昨天|前天|\bago\b|^\s*\d{10}\s*$|^\s*\d{1,2}:\d{2}\s*$"
    r"|\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?\s+\d{4}"
    r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4}",
    re.I,
)
_NOT_TITLE = re.compile(
    r"^(?:\d+|[<>«»‹›]+|上一页|下一页|首页|尾页|末页|更多|查看更多|阅读全文|详情|详细|全文|返回顶部|"
    r"more|next|prev|previous|read more|details?)\s*(?:>+|»|›)?$",
    re.I,
)
_ARTICLE_URL = re.compile(
    r"\d{3,}|\.s?html?$|\.php|\.aspx?$|/(?:a|p|n|news|article|content)/", re.I
)
# a path ending in "/" is a section ("/zt/2026lh/"), unless it has a date or a long id in it
# ("/2026/02/24/slug/", "/news/1480001/")
_ARTICLE_DIR = re.compile(r"/\d{4}/\d{1,2}/|/\d{4}-?\d{2}-?\d{2}/|\d{5,}")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_STRING = etree.XPath("string()")


@dataclass
class ListBlock:
    """One news-list block: its heading, score, items and the selectors that extract them."""

    heading: str
    score: float
    items: list[Article]
    side: bool = False
    stats: dict[str, float] = field(default_factory=dict)
    # what selector inference needs; inferred on first use (a crawl never asks: ~half the cost)
    _context: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    _selectors: Selectors | None = field(default=None, repr=False, compare=False)

    @property
    def selectors(self) -> Selectors:
        """CSS selectors (for ``kind = "html"``) that extract this block's items."""
        if self._selectors is None:
            self._selectors = _infer_selectors(*self._context)
        return self._selectors

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ``newsagg preview --auto`` prints."""
        return {
            "heading": self.heading,
            "score": round(self.score, 2),
            "items": len(self.items),
            "selectors": {k: v for k, v in vars(self.selectors).items() if v},
        }


@dataclass
class _Item:
    node: Any
    extension: list[Any]
    title: str
    title_attr: str
    title_el: Any
    anchor: Any
    link: str
    date_el: Any = None
    date_text: str = ""
    snippet_el: Any = None
    snippet: str = ""


def find_blocks(
    html: str,
    base_url: str,
    *,
    source: str = "",
    tz: tzinfo = UTC,
    now: datetime | None = None,
    date_format: str | None = None,
) -> list[ListBlock]:
    """Every news-list block of the page, best first; ``date_format`` (strptime) is tried first
    on the items' date texts."""
    now = now or utc_now()
    root = Selector(text=html, base_url=base_url).root
    base = root.xpath("//base/@href")
    if base:
        base_url = absolute_url(str(base[0]), base_url) or base_url
    host = urlsplit(base_url).hostname or ""
    groups = _candidate_groups(root)
    blocks: list[tuple[ListBlock, set[str]]] = []
    for parents, members in groups:
        read = (
            _read_item(m, base_url, x, date_format)
            for m, x in zip(members, _extensions(members), strict=True)
        )
        items = [item for item in read if item]
        items = _drop_stray_items(items)
        if len(items) < MIN_ITEMS:
            continue
        block = _score(root, parents, members, items, host, source, tz, now, date_format)
        if block is None:
            continue
        blocks.append((block, {a.url for a in block.items}))
    blocks.sort(key=lambda pair: pair[0].score, reverse=True)
    kept: list[tuple[ListBlock, set[str]]] = []
    for block, links in blocks:  # the same links found at two levels: keep the better reading
        if any(len(links & other) > 0.5 * min(len(links), len(other)) for _, other in kept):
            continue
        kept.append((block, links))
    return [block for block, _ in kept]


def choose_blocks(blocks: Sequence[ListBlock], wanted: Sequence[str] = ()) -> list[ListBlock]:
    """Without ``wanted``: the best-scoring block (sidebars score lower). ``["*"]``: all.
    Otherwise the blocks whose heading contains one of the wanted names."""
    if not blocks:
        return []
    if ALL_BLOCKS in wanted:
        return list(blocks)
    if wanted:
        names = [w.lower() for w in wanted]
        return [b for b in blocks if any(n in b.heading.lower() for n in names)]
    return [blocks[0]]


def missing_blocks(blocks: Sequence[ListBlock], wanted: Sequence[str]) -> str | None:
    """Why ``wanted`` chose nothing on a page that has list blocks (for the source's error)."""
    if not blocks or not wanted or ALL_BLOCKS in wanted or choose_blocks(blocks, wanted):
        return None
    headings = ", ".join(b.heading or "(no heading)" for b in blocks)
    return f"no list block headed {' or '.join(wanted)} on the page; its blocks: {headings}"


def unique_items(blocks: Sequence[ListBlock]) -> list[Article]:
    """The blocks' items, each link once."""
    seen: set[str] = set()
    articles: list[Article] = []
    for block in blocks:
        for article in block.items:
            if article.url not in seen:
                seen.add(article.url)
                articles.append(article)
    return articles


def extract_auto(
    html: str,
    base_url: str,
    *,
    blocks: Sequence[str] = (),
    source: str = "",
    tz: tzinfo = UTC,
    now: datetime | None = None,
    date_format: str | None = None,
) -> list[Article]:
    """The items of the chosen blocks (see :func:`choose_blocks`), each link once."""
    found = find_blocks(html, base_url, source=source, tz=tz, now=now, date_format=date_format)
    return unique_items(choose_blocks(found, blocks))


# -- candidates --------------------------------------------------------------------------------


def _signature(element: Any) -> tuple[str, str]:
    return element.tag, " ".join(sorted(_stable_classes(element)))


def _stable_classes(element: Any) -> list[str]:
    return [
        c
        for c in (element.get("class") or "").split()
        if not _VOLATILE_CLASS.match(c) and not re.search(r"\d", c) and _CSS_IDENT.match(c)
    ]


def _candidate_groups(root: Any) -> list[tuple[list[Any], list[Any]]]:
    """(parents, members): children of one shape under a parent, sibling parents merged."""
    found: dict[tuple[Any, ...], tuple[list[Any], list[Any]]] = {}
    for parent in root.iter(etree.Element):
        if parent.tag in _SKIP_TAGS:
            continue
        children = [c for c in parent if isinstance(c.tag, str) and c.tag not in _SKIP_TAGS]
        if len(children) < MIN_ITEMS:
            continue
        by_shape: dict[tuple[str, str], list[Any]] = {}
        for child in children:
            by_shape.setdefault(_signature(child), []).append(child)
        _merge_lead_items(by_shape)
        for shape, members in by_shape.items():
            if len(members) < 2:
                continue
            grand = parent.getparent()
            # Sibling lists of one shape (<div class=list><ul>5 li</ul><ul>5 li</ul></div>)
            # share a key, so they merge into one block.
            if grand is not None and parent.tag in ("ul", "ol", "tbody", "dl", "table"):
                key: tuple[Any, ...] = (grand, _signature(parent), shape)
            else:
                key = (parent, shape)
            parents, all_members = found.setdefault(key, ([], []))
            parents.append(parent)
            all_members.extend(members)
    return [(p, m) for p, m in found.values() if len(m) >= MIN_ITEMS]


def _merge_lead_items(by_shape: dict[tuple[str, str], list[Any]]) -> None:
    """A list's one differently-classed item of the same tag (a picture lead ``li.pic``, a
    ``li.first``/``li.top``) with a link joins the list's main shape, in document order."""
    if len(by_shape) < 2:
        return
    main = max(by_shape, key=lambda shape: len(by_shape[shape]))
    if len(by_shape[main]) < 2:
        return
    for shape in list(by_shape):
        lone = by_shape[shape]
        if shape != main and shape[0] == main[0] and len(lone) == 1 and _links(lone[0]):
            by_shape[main].extend(lone)
            del by_shape[shape]
    parent = by_shape[main][0].getparent()
    order = {child: i for i, child in enumerate(parent)}
    by_shape[main].sort(key=lambda child: order[child])


def _links(node: Any) -> list[Any]:
    return [
        a
        for a in node.iter("a")
        if (a.get("href") or "").strip()
        and not (a.get("href") or "").strip().lower().startswith(("javascript:", "mailto:", "#"))
    ]


def _text(node: Any) -> str:
    return clean_text(str(_STRING(node)))


def _extensions(members: list[Any]) -> list[list[Any]]:
    """For items without a wrapper (``<a>..</a><span>date</span><br>`` or ``<dt>`` + ``<dd>``):
    the siblings up to the next item, which hold its date and snippet."""
    if members[0].tag not in ("a", "dt"):
        return [[] for _ in members]
    member_set = set(members)
    found = []
    for member in members:
        extension: list[Any] = []
        sibling = member.getnext()
        while sibling is not None and sibling not in member_set and len(extension) < 3:
            if isinstance(sibling.tag, str) and sibling.tag not in ("br", "hr"):
                extension.append(sibling)
            sibling = sibling.getnext()
        found.append(extension)
    return found


def _dateish(text: str, date_format: str | None = None) -> bool:
    """Reads like a date: one of the common forms, or the source's own ``date_format``."""
    if _DATEISH.search(text):
        return True
    if not date_format:
        return False
    try:
        datetime.strptime(text.strip(), date_format)  # noqa: DTZ007 (only the shape is checked)
    except ValueError:
        return False
    return True


def _read_item(
    node: Any, base_url: str, extension: Sequence[Any] = (), date_format: str | None = None
) -> _Item | None:
    """One item: the headline link (in a heading, else the longest link text), its date and
    snippet (looked for in ``extension`` too: the siblings of an item without a wrapper)."""
    anchors = _links(node)
    if not anchors:
        return None
    best: tuple[int, Any, Any, str] | None = None
    for anchor in anchors:
        title_el = _title_element(anchor)
        text = _text(title_el) or clean_text(anchor.get("title"))
        in_heading = any(anc.tag in _HEADINGS for anc in anchor.iterancestors()) or any(
            el.tag in _HEADINGS for el in anchor.iter()
        )
        rank = len(text) + (1000 if in_heading and text else 0)
        if best is None or rank > best[0]:
            best = (rank, anchor, title_el, text)
    assert best is not None
    _, anchor, title_el, title = best
    link = absolute_url(anchor.get("href"), base_url)
    if not title or not link:
        return None
    title_attr = clean_text(anchor.get("title"))
    item = _Item(node, list(extension), title, title_attr, title_el, anchor, link)
    inside = set(title_el.iter())
    holders = {title_el, *title_el.iterancestors()}  # the anchor, or the card it is inside
    elements = [e for part in (node, *extension) for e in part.iter(etree.Element)]
    for element in elements:
        if element in inside or element in holders or element.tag in _SKIP_TAGS:
            continue
        if any(a in inside for a in element.iterancestors()):
            continue
        text = _text(element)
        if not text:
            continue
        if (
            item.date_el is None
            and len(text) <= MAX_DATE_TEXT
            and _dateish(text, date_format)
            and not any(_dateish(_text(c), date_format) for c in element)  # the innermost
        ):
            item.date_el, item.date_text = element, text
            continue
        if len(text) >= MIN_SNIPPET and len(text) > len(item.snippet) and not _links(element):
            item.snippet_el, item.snippet = element, text
    if item.date_el is None:  # "<li><a>title</a> 2026-02-24</li>": a date in the item's own text
        own = [*node.xpath("text()|*/text()[not(ancestor::a)]"), node.tail or ""]
        tails = clean_text(" ".join(t for t in own if t.strip()))
        if tails and len(tails) <= MAX_DATE_TEXT and _dateish(tails, date_format):
            item.date_text = tails
    if (
        item.snippet_el is not None
        and item.date_el is not None
        and item.date_el in set(item.snippet_el.iter())
    ):
        item.snippet = clean_text(item.snippet.replace(item.date_text, ""))
    return item


def _title_element(anchor: Any) -> Any:
    """The element holding the headline: the anchor, or the heading inside a card-sized one."""
    inner = [el for el in anchor.iter(etree.Element) if el is not anchor]
    if not any(el.tag in ("p", "div", "span", *_HEADINGS) for el in inner):
        return anchor
    for el in inner:
        if el.tag in _HEADINGS or _HEADING_CLASS.search(el.get("class") or ""):
            return el
    for el in inner:
        if el.tag in ("p", "div", "span") and len(_text(el)) >= 4:
            return el
    return anchor


def _drop_stray_items(items: list[_Item]) -> list[_Item]:
    """ "更多>>", page numbers and other short links in a list of headlines."""
    kept = [i for i in items if not _NOT_TITLE.match(i.title)]
    if not kept:
        return []
    typical = median(len(i.title) for i in kept)
    return [i for i in kept if len(i.title) >= min(5, 0.3 * typical)]


# -- scoring -----------------------------------------------------------------------------------


def _score(
    root: Any,
    parents: list[Any],
    members: list[Any],
    items: list[_Item],
    host: str,
    source: str,
    tz: tzinfo,
    now: datetime,
    date_format: str | None = None,
) -> ListBlock | None:
    parent = parents[0]
    if _is_chrome(parent):
        return None
    heading = _heading(parents[0] if len(parents) == 1 else parents[0].getparent())
    if heading and _NOT_NEWS_HEADING.search(heading) and len(heading) <= 8:
        return None
    typical = median(len(i.title) for i in items)
    if typical < MIN_TITLE:
        return None
    n = len(items)
    if median(len(_links(i.node)) for i in items) > MAX_LINKS_PER_ITEM:
        return None  # page sections, not list items
    if median(_coverage(i) for i in items) < MIN_COVERAGE:
        return None  # items with much more text than a headline, snippet and date: sections
    urls = [urlsplit(i.link) for i in items]
    external = sum(1 for u in urls if (u.hostname or "") != host and not _same_site(u, host)) / n
    roots = sum(1 for u in urls if u.path in ("", "/")) / n
    if external >= 0.5 or roots >= 0.5:
        return None  # a link farm: other sites' home pages
    articles_like = sum(1 for u in urls if _article_like(u)) / n
    dated = sum(1 for i in items if i.date_text) / n
    with_snippet = sum(1 for i in items if i.snippet) / n
    distinct = len({i.link for i in items}) / n
    if articles_like < 0.3 and dated < 0.3 and with_snippet < 0.5:
        return None  # links to sections, not articles: navigation however long its labels
    side = any(_SIDE.search(_names(el)) or el.tag == "aside" for el in _up(parent, 6))
    score = (
        n
        * distinct
        * (0.5 + min(typical, 24) / 24)
        * (1 + dated + 0.5 * with_snippet + 0.5 * articles_like)
        * (0.6 if side else 1.0)
    )
    articles = [_article(i, source, tz, now, date_format) for i in items]
    mark_fixed_length_cuts(articles)
    stats = {
        "typical_title": typical,
        "dated": dated,
        "with_snippet": with_snippet,
        "articles_like": articles_like,
    }
    return ListBlock(heading, score, articles, side, stats, (root, parents, members, items))


def _article_like(url: Any) -> bool:
    if not _ARTICLE_URL.search(url.path + "?" + url.query):
        return False
    return not url.path.endswith("/") or bool(_ARTICLE_DIR.search(url.path))


def _coverage(item: _Item) -> float:
    total = len(_text(item.node)) + sum(len(_text(e)) for e in item.extension)
    return (len(item.title) + len(item.snippet) + len(item.date_text)) / total if total else 0.0


def _same_site(url: Any, host: str) -> bool:
    """www.example.com and news.example.com are one site."""
    a, b = (url.hostname or "").split("."), host.split(".")
    return len(a) >= 2 and len(b) >= 2 and a[-2:] == b[-2:]


def _article(
    item: _Item, source: str, tz: tzinfo, now: datetime, date_format: str | None = None
) -> Article:
    title, truncated = item.title, is_truncated(item.title)
    if truncated and item.title_attr and item.title_attr.startswith(strip_cut_marker(title)[:4]):
        title, truncated = item.title_attr, is_truncated(item.title_attr)
    article = Article(
        url=item.link,
        source=source,
        title=title,
        snippet=item.snippet,
        title_truncated=truncated,
        snippet_truncated=is_truncated(item.snippet),
    )
    if item.date_text:
        set_list_date(article, item.date_text, tz, now, date_format)
    return article


def _names(element: Any) -> str:
    return f"{element.get('class') or ''} {element.get('id') or ''}".strip()


def _up(element: Any, levels: int) -> Iterable[Any]:
    yield element
    for count, ancestor in enumerate(element.iterancestors()):
        if count >= levels:
            return
        yield ancestor


def _is_chrome(element: Any) -> bool:
    for el in _up(element, 8):
        if el.tag in _CHROME_TAGS or el.tag == "body":
            return el.tag != "body"
        if _CHROME.search(_names(el)):
            return True
    return False


def _heading(container: Any) -> str:
    """The block's title: a heading-like element just before it, at up to three levels."""
    element = container
    for _level in range(4):
        if element is None or element.tag == "body":
            break
        sibling = element.getprevious()
        for _step in range(3):
            if sibling is None:
                break
            if isinstance(sibling.tag, str):
                text = _heading_text(sibling)
                if text:
                    return _tab_title(sibling, element, container) or text
                if len(_text(sibling)) > MAX_BETWEEN:
                    break  # content between: not this block's heading (a row of tabs is not)
            sibling = sibling.getprevious()
        caption = element.find("caption") if element.tag == "table" else None
        if caption is not None and _text(caption):
            return _text(caption)
        element = element.getparent()
    return ""


def _tab_title(tabs_row: Any, panes_parent: Any, container: Any) -> str:
    """Tabbed blocks (``<div class=tab-hd><span>要闻</span><span>政策</span></div>`` over one
    pane per tab): the tab of the pane holding ``container``."""
    panes = [c for c in panes_parent if isinstance(c.tag, str)]
    tabs = [
        c
        for c in tabs_row.iter("span", "li", "a", "h2", "h3", "h4")
        if c is not tabs_row
        and 1 <= len(_text(c)) <= 10
        and not _MORE.search(_text(c))
        and not any(d is not c and d.tag in ("span", "li", "a") for d in c.iter())
    ]
    pane = next((p for p in panes if p is container or container in set(p.iter())), None)
    if pane is None or len(panes) < 2 or len(tabs) != len(panes):
        return ""
    return _text(tabs[panes.index(pane)])


def _is_heading(element: Any) -> bool:
    names = _names(element)
    return (
        element.tag in _HEADINGS
        or bool(_HEADING_CLASS.search(names))
        or bool(_HEADING_CAMEL.search(names))
    )


def _heading_text(element: Any) -> str:
    if element.tag in _SKIP_TAGS:
        return ""
    if not _is_heading(element):
        # a heading inside: <div><h3>..</h3></div>, or a layout table's <tr><td class=lm_title>
        inner = [el for el in element.iter(*_HEADINGS)] or [
            el
            for el in element.iterdescendants()
            if isinstance(el.tag, str) and el.tag not in _SKIP_TAGS and _is_heading(el)
        ]
        if not inner:
            return ""
        element = inner[0]
    parts = [
        clean_text(t)
        for t in element.xpath(".//text()[not(ancestor::a) or not(contains(., '更多'))]")
    ]
    text = _MORE.sub("", clean_text(" ".join(p for p in parts if p))).strip()
    return text if 0 < len(text) <= 20 else ""


# -- selectors ---------------------------------------------------------------------------------

_CSS_IDENT = re.compile(r"^-?[A-Za-z_][A-Za-z0-9_-]*$")


def _part(element: Any, classes: Iterable[str] | None = None) -> str:
    names = list(classes if classes is not None else _stable_classes(element))
    return element.tag + "".join(f".{c}" for c in names)


@lru_cache(maxsize=2048)
def _xpath(css: str) -> etree.XPath:
    return etree.XPath(css2xpath(css))


def _select(root: Any, css: str) -> list[Any]:
    try:
        return list(_xpath(css)(root))
    except Exception:  # cssselect/lxml reject an odd class name: treat as no match
        return []


def _unique_path(root: Any, element: Any) -> str:
    """A CSS selector matching exactly ``element``: its id, else classes, else a parent path."""
    for positional in (False, True):  # plain tags and classes first; positions only if needed
        path = ""
        current = element
        while current is not None and current.tag != "html":
            ident = current.get("id") or ""
            if ident and _CSS_IDENT.match(ident) and len(_select(root, f"#{ident}")) == 1:
                part = f"{current.tag}#{ident}"
            else:
                part = _nth(current) if positional else _part(current)
            path = f"{part} > {path}" if path else part
            if len(_select(root, path)) == 1:
                return path
            current = current.getparent()
    return path


def _nth(element: Any) -> str:
    """``tag.class``, with ``:nth-of-type(k)`` when a sibling has the same tag and classes."""
    part = _part(element)
    parent = element.getparent()
    if parent is None:
        return part
    same = [c for c in parent if c.tag == element.tag]
    classes = set(_stable_classes(element))
    if sum(1 for c in same if classes <= set(_stable_classes(c))) < 2:  # what `part` matches
        return part
    return f"{part}:nth-of-type({same.index(element) + 1})"


def _infer_selectors(
    root: Any, parents: list[Any], members: list[Any], items: list[_Item]
) -> Selectors:
    common = set(_stable_classes(members[0]))
    for member in members[1:]:
        common &= set(_stable_classes(member))
    member_part = _part(members[0], sorted(common))
    if len(parents) == 1:
        item_css = f"{_unique_path(root, parents[0])} > {member_part}"
    else:
        grand = parents[0].getparent()
        item_css = f"{_unique_path(root, grand)} > {_part(parents[0])} > {member_part}"
    matched = set(_select(root, item_css))
    extras = matched - set(members)
    for extra in extras:  # a same-tag sibling of another shape: exclude its class
        for cls in _stable_classes(extra):
            if cls not in common:
                item_css += f":not(.{cls})"
                break
    title_css = _relative(items, lambda i: i.title_el, prefer_heading=True)
    same = all(i.title_el is i.anchor for i in items)
    link_css = title_css if same else _relative(items, lambda i: i.anchor)
    date_css = _relative([i for i in items if i.date_el is not None], lambda i: i.date_el)
    snippet_css = _relative([i for i in items if i.snippet_el is not None], lambda i: i.snippet_el)
    return Selectors(
        item=item_css,
        title=title_css or "a",
        link=f"{link_css or 'a'}::attr(href)",
        snippet=snippet_css,
        date=date_css,
    )


def _relative(items: list[_Item], target_of: Any, prefer_heading: bool = False) -> str | None:
    """The simplest CSS whose first match inside each item is its target (for ≥ 90% of them)."""
    if not items:
        return None
    candidates: list[str] = []
    for item in items[:5]:
        target = target_of(item)
        parent = target.getparent()
        own = _part(target)
        tag = target.tag
        options = [own, tag]
        if parent is not None and parent is not item.node:
            options += [f"{_part(parent)} {own}", f"{parent.tag} {tag}"]
            grand = parent.getparent()
            if grand is not None and grand is not item.node and grand is not None:
                options.append(f"{_part(grand)} {_part(parent)} {own}")
        if parent is not None:
            siblings = [c for c in parent if isinstance(c.tag, str)]
            options.append(f"{tag}:nth-child({siblings.index(target) + 1})")
            if parent is not item.node:
                options.append(f"{_part(parent)} > {tag}:nth-child({siblings.index(target) + 1})")
        for option in options:
            if option not in candidates:
                candidates.append(option)
    if prefer_heading:
        candidates.sort(key=lambda c: 0 if re.match(r"h\d", c) else 1)
    for css in candidates:
        hits = 0
        for item in items:
            found = _select(item.node, css)
            if found and found[0] is target_of(item):
                hits += 1
        if hits >= 0.9 * len(items):
            return css
    return None
