"""Pure extraction from literal HTML: list pages with selectors, article pages, decoding."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aggregator.config import ArticleSelectors, Selectors
from aggregator.dates import ParsedDate, to_utc_string
from aggregator.extract import (
    ArticlePage,
    decode_html,
    extract_article,
    extract_list,
    fixed_cut_length,
    merge_article,
    needs_follow,
    set_list_date,
)
from aggregator.items import Article

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 2, 25, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
LIST_URL = "https://www.example.com/channel/index.html"

LIST_PAGE = """<html><head><title>要闻</title></head><body>
<ul class="list">
  <li><a href="/news/1.html" title="光伏组件价格继续下行，企业利润承压">光伏组件价格继续...</a>
      <p class="s">组件价格本周继续回落。</p><span>2026-02-24 15:20</span></li>
  <li><a href="news/2.html">  风电 装机\u3000创新高 </a><span>02-24</span></li>
  <li><a href="javascript:void(0)">没有链接的标题</a><span>02-24</span></li>
  <li><a href="/news/4.html">   </a><span>02-24</span></li>
  <li><a href="//cdn.example.com/5.html">储能 &amp; 电网</a><span>3小时前</span></li>
  <li><a href="/news/6.html" title="完全不同的标题">氢能产业...</a><span>未知</span></li>
  <li><a href="mailto:news@example.com">邮件</a></li>
  <li><a href="#top">返回顶部</a></li>
  <li><span>没有链接</span></li>
</ul></body></html>"""

SELECTORS = Selectors(item="ul.list li", title="a", link="a", snippet="p.s", date="span")


def list_items(
    html: str = LIST_PAGE, selectors: Selectors = SELECTORS, base_url: str = LIST_URL
) -> list[Article]:
    return extract_list(html, base_url, selectors, source="example", tz=SHANGHAI, now=NOW)


# -- extract_list ------------------------------------------------------------------------------


def test_extract_list_keeps_items_with_title_and_http_link_in_order() -> None:
    items = list_items()
    assert [a.url for a in items] == [
        "https://www.example.com/news/1.html",
        "https://www.example.com/channel/news/2.html",
        "https://cdn.example.com/5.html",
        "https://www.example.com/news/6.html",
    ]
    assert {a.source for a in items} == {"example"}


def test_extract_list_titles_are_cleaned() -> None:
    items = list_items()
    assert items[1].title == "风电 装机 创新高"
    assert items[2].title == "储能 & 电网"  # the entity decoded once, by the HTML parser


def test_extract_list_cut_headline_takes_full_title_attribute() -> None:
    first = list_items()[0]
    assert first.title == "光伏组件价格继续下行,企业利润承压"  # NFKC: full-width comma
    assert first.title_truncated is False


def test_extract_list_title_attribute_of_another_headline_is_ignored() -> None:
    sixth = list_items()[3]
    assert sixth.title == "氢能产业..."
    assert sixth.title_truncated is True


def test_extract_list_uncut_title_ignores_attribute() -> None:
    html = (
        '<ul class="list"><li><a href="/1.html" title="光伏 title attr">光伏 headline</a></li></ul>'
    )
    (item,) = list_items(html)
    assert item.title == "光伏 headline"


def test_extract_list_title_attribute_itself_cut() -> None:
    html = (
        '<ul class="list"><li><a href="/1.html" title="光伏组件价格继续下行…">光伏组件...</a>'
        "</li></ul>"
    )
    (item,) = list_items(html)
    assert item.title == "光伏组件价格继续下行..."  # NFKC spells "…" as "..."
    assert item.title_truncated is True


def test_extract_list_snippets() -> None:
    items = list_items()
    assert items[0].snippet == "组件价格本周继续回落。"
    assert items[0].snippet_truncated is False
    assert items[1].snippet == ""


def test_extract_list_cut_snippet_is_flagged() -> None:
    html = '<ul class="list"><li><a href="/1.html">T</a><p class="s">组件价格本周……</p></li></ul>'
    (item,) = list_items(html)
    assert item.snippet_truncated is True


def test_extract_list_without_snippet_selector() -> None:
    items = list_items(selectors=Selectors(item="ul.list li", title="a", link="a"))
    assert all(a.snippet == "" for a in items)
    assert all(a.published_at is None for a in items)


def test_extract_list_dates_with_precision_and_origin() -> None:
    items = list_items()
    first, second, fifth, sixth = items
    assert first.published_at == datetime(2026, 2, 24, 15, 20, tzinfo=SHANGHAI)
    assert first.published_precision == "minute"
    assert first.published_from == "list"
    assert to_utc_string(second.published_at) == "2026-02-23T16:00:00Z"  # type: ignore[arg-type]
    assert second.published_precision == "day"
    assert second.published_from == "list"
    assert fifth.published_at == datetime(2026, 2, 25, 0, 0, tzinfo=UTC)  # 3小时前
    assert fifth.published_precision == "minute"
    # An unreadable date leaves the item undated.
    assert sixth.published_at is None
    assert sixth.published_precision is None
    assert sixth.published_from is None


def test_extract_list_with_pseudo_element_selectors() -> None:
    selectors = Selectors(
        item="ul.list li", title="a::text", link="a::attr(href)", date="span::text"
    )
    items = list_items(selectors=selectors)
    assert [a.url for a in items][:2] == [
        "https://www.example.com/news/1.html",
        "https://www.example.com/channel/news/2.html",
    ]
    # With ::text there is no element, hence no title attribute to fall back on.
    assert items[0].title == "光伏组件价格继续..."
    assert items[0].title_truncated is True
    assert items[0].published_precision == "minute"


def test_extract_list_title_and_link_from_different_elements() -> None:
    html = (
        '<div class="i"><h3>Solar <em>record</em></h3><a class="more" href="/m.html">more</a></div>'
    )
    (item,) = list_items(html, Selectors(item="div.i", title="h3", link="a.more"))
    assert item.title == "Solar record"
    assert item.url == "https://www.example.com/m.html"


def test_extract_list_link_selector_on_a_container_uses_its_anchor() -> None:
    html = '<div class="i"><h3><a href="/in.html">Inside</a></h3></div>'
    (item,) = list_items(html, Selectors(item="div.i", title="h3", link="h3"))
    assert item.url == "https://www.example.com/in.html"


def test_extract_list_honours_absolute_base_href() -> None:
    html = (
        '<html><head><base href="https://mirror.example.net/base/"></head><body>'
        '<ul class="list"><li><a href="x.html">T1</a></li></ul></body></html>'
    )
    (item,) = list_items(html)
    assert item.url == "https://mirror.example.net/base/x.html"


def test_extract_list_honours_relative_base_href() -> None:
    html = (
        '<html><head><base href="/other/"></head><body>'
        '<ul class="list"><li><a href="x.html">T1</a></li></ul></body></html>'
    )
    (item,) = list_items(html)
    assert item.url == "https://www.example.com/other/x.html"


def test_extract_list_ignores_javascript_base_href() -> None:
    html = (
        '<html><head><base href="javascript:void(0)"></head><body>'
        '<ul class="list"><li><a href="x.html">T1</a></li></ul></body></html>'
    )
    (item,) = list_items(html)
    assert item.url == "https://www.example.com/channel/x.html"


def test_extract_list_title_skips_a_picture_link_without_text() -> None:
    html = (
        "<ul><li><a href='/1.html'><img src='1.jpg'></a>"
        "<h4><a href='/1.html'>沙漠光伏治沙项目并网</a></h4></li>"
        "<li><a href='/2.html'>风电制氢示范项目试运行</a></li></ul>"
    )
    items = extract_list(html, LIST_URL, Selectors(item="li", title="a", link="a::attr(href)"))
    assert [a.title for a in items] == ["沙漠光伏治沙项目并网", "风电制氢示范项目试运行"]


def test_extract_list_no_matches() -> None:
    assert list_items("<html><body><p>empty</p></body></html>") == []


# -- decode_html -------------------------------------------------------------------------------

TEXT = "光伏组件价格继续下行，企业利润承压。本周多晶硅料价格"


def page(charset: str, body: str = TEXT) -> str:
    return (
        f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">'
        f"<title>t</title></head><body><p>{body}</p></body></html>"
    )


def test_decode_html_gbk_with_gb2312_meta() -> None:
    assert TEXT in decode_html(page("gb2312").encode("gbk"))


def test_decode_html_short_gbk_page_with_meta_charset() -> None:
    body = '<html><head><meta charset="gb2312"></head><body>光伏</body></html>'.encode("gbk")
    assert "光伏" in decode_html(body)


def test_decode_html_gb2312_meta_reads_gb18030_characters() -> None:
    body = page("gb2312", "镕 𠀀").encode("gb18030")
    assert "镕 𠀀" in decode_html(body)


def test_decode_html_http_charset_overrides_meta() -> None:
    body = page("gb2312").encode("utf-8")
    assert TEXT in decode_html(body, "text/html; charset=utf-8")
    assert TEXT in decode_html(body)  # valid UTF-8 under a gb2312 meta: the meta lies


def test_decode_html_http_gbk_overrides_utf8_meta() -> None:
    body = page("utf-8").encode("gbk")
    assert TEXT in decode_html(body, "text/html; charset=GBK")


def test_decode_html_utf8_bom_wins_and_is_dropped() -> None:
    body = b"\xef\xbb\xbf" + page("gbk").encode("utf-8")
    text = decode_html(body, "text/html; charset=gbk")
    assert TEXT in text
    assert text.startswith("<html>")


def test_decode_html_plain_ascii() -> None:
    assert decode_html(b"<html><body>plain</body></html>") == "<html><body>plain</body></html>"


# -- extract_article: title --------------------------------------------------------------------


def article_title(head: str, body: str = "") -> str:
    html = f"<html><head>{head}</head><body>{body}</body></html>"
    return extract_article(html, "https://example.com/a.html", tz=SHANGHAI, now=NOW).title


def test_article_title_prefers_og_title() -> None:
    head = '<title>T - Site</title><meta property="og:title" content=" OG　标题 ">'
    assert article_title(head, "<h1>H1 标题</h1>") == "OG 标题"


def test_article_title_h1_when_no_og_title() -> None:
    head = '<title>T - Site</title><meta property="og:title" content="  ">'
    assert article_title(head, "<h1> H1 <span>标题</span> </h1>") == "H1 标题"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("光伏组件价格继续下行 - 北极星太阳能光伏网", "光伏组件价格继续下行"),
        ("光伏组件价格继续下行_要闻_北极星", "光伏组件价格继续下行"),
        ("Solar prices fall to record low | pv magazine", "Solar prices fall to record low"),
        ("Solar prices fall to record low — Energy News", "Solar prices fall to record low"),
        ("OnlyTheHeadline", "OnlyTheHeadline"),
    ],
)
def test_article_title_from_title_minus_site_name(title: str, expected: str) -> None:
    assert article_title(f"<title>{title}</title>") == expected


def test_article_title_keeps_hyphenated_words() -> None:
    title = "<title>Solar-panel prices fall to record low | pv magazine</title>"
    assert article_title(title) == "Solar-panel prices fall to record low"


def test_article_title_og_title_with_site_name_takes_the_pages_headline() -> None:
    head = '<meta property="og:title" content="油气投资连续三年增长 | 中国能源网">'
    assert article_title(head, "<h2>油气投资连续三年增长</h2>") == "油气投资连续三年增长"


def test_article_title_og_title_loses_og_site_name() -> None:
    head = (
        '<meta property="og:title" content="储能装机突破1亿千瓦 - 国际能源网">'
        '<meta property="og:site_name" content="国际能源网">'
    )
    assert article_title(head) == "储能装机突破1亿千瓦"


def test_article_title_og_title_with_a_dash_and_no_site_name_is_kept() -> None:
    head = '<meta property="og:title" content="Solar - the next decade">'
    assert article_title(head, "<h1>Energy News</h1>") == "Solar - the next decade"


def test_article_title_empty_page() -> None:
    assert article_title("") == ""


# -- extract_article: date ---------------------------------------------------------------------


def article_date(head: str = "", body: str = "") -> ParsedDate | None:
    html = f"<html><head>{head}</head><body>{body}</body></html>"
    return extract_article(html, "https://example.com/a.html", tz=SHANGHAI, now=NOW).published


def test_article_date_from_meta_published_time() -> None:
    parsed = article_date(
        '<meta property="article:published_time" content="2026-02-24T15:20:30+08:00">'
    )
    assert parsed is not None
    assert to_utc_string(parsed.value) == "2026-02-24T07:20:30Z"
    assert parsed.precision == "second"


@pytest.mark.parametrize("name", ["PubDate", "pubdate", "publishdate"])
def test_article_date_from_meta_pubdate(name: str) -> None:
    parsed = article_date(f'<meta name="{name}" content="2026-02-24 16:30">')
    assert parsed == ParsedDate(datetime(2026, 2, 24, 16, 30, tzinfo=SHANGHAI), "minute")


def test_article_date_from_time_element() -> None:
    parsed = article_date(body='<time datetime="2026-02-24 16:30">2月24日</time>')
    assert parsed == ParsedDate(datetime(2026, 2, 24, 16, 30, tzinfo=SHANGHAI), "minute")


def test_article_date_from_json_ld() -> None:
    script = (
        '<script type="application/ld+json">'
        '{"@type": "NewsArticle", "datePublished": "2026-02-24T15:20:30+08:00"}</script>'
    )
    parsed = article_date(body=script)
    assert parsed is not None
    assert to_utc_string(parsed.value) == "2026-02-24T07:20:30Z"
    assert parsed.precision == "second"


def test_article_date_from_json_ld_list() -> None:
    script = (
        '<script type="application/ld+json">'
        '[{"@type": "Organization"}, {"datePublished": "2026-02-24 15:20"}]</script>'
    )
    assert article_date(body=script) == ParsedDate(
        datetime(2026, 2, 24, 15, 20, tzinfo=SHANGHAI), "minute"
    )


def test_article_date_broken_json_ld_is_ignored() -> None:
    script = '<script type="application/ld+json">{not json</script>'
    assert article_date(body=script + "<p>正文</p>") is None


def test_article_date_from_json_ld_graph() -> None:
    script = (
        '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": '
        '[{"@type": "WebPage", "datePublished": "2026-02-24T15:20:30+08:00"}]}</script>'
    )
    assert article_date(body=script) is not None


@pytest.mark.parametrize(
    "line",
    [
        "发布时间：2026-02-24 16:30  来源：北极星太阳能光伏网",
        "发布时间:2026-02-24 16:30",
        "发布时间:2026年2月24日 16:30",
        "<span>发布时间：</span><span>2026-02-24 16:30</span>",
        "日期: 2026/02/24 16:30",
    ],
)
def test_article_date_from_visible_published_line(line: str) -> None:
    parsed = article_date(body=f'<div class="info">{line}</div>')
    assert parsed == ParsedDate(datetime(2026, 2, 24, 16, 30, tzinfo=SHANGHAI), "minute")


def test_article_date_from_a_dated_source_line() -> None:
    parsed = article_date(
        body="<div class=copy><b>来源：北极星储能网</b> <b>2026-02-24 15:20</b></div>"
    )
    assert parsed is not None
    assert (to_utc_string(parsed.value), parsed.precision) == ("2026-02-24T07:20:00Z", "minute")


def test_article_date_ignores_script_text() -> None:
    body = '<script>var s = "发布时间:2020-01-01 10:00:00";</script><p>正文</p>'
    assert article_date(body=body) is None


def test_article_date_none() -> None:
    assert article_date(body="<p>没有日期的正文。</p>") is None


def test_article_date_most_precise_wins() -> None:
    head = '<meta property="article:published_time" content="2026-02-24">'
    body = "<p>发布时间:2026-02-24 16:30</p>"
    assert article_date(head, body) == ParsedDate(
        datetime(2026, 2, 24, 16, 30, tzinfo=SHANGHAI), "minute"
    )
    head = '<meta name="pubdate" content="2026-02-24 16:30:45">'
    body = "<p>发布时间:2026-02-24 16:30</p>"
    assert article_date(head, body) == ParsedDate(
        datetime(2026, 2, 24, 16, 30, 45, tzinfo=SHANGHAI), "second"
    )


def test_article_date_equal_precision_keeps_the_first_candidate() -> None:
    # Candidates are meta tags, then <time>, then JSON-LD, then the visible line.
    head = '<meta property="article:published_time" content="2026-02-23 10:00">'
    body = "<p>发布时间:2026-02-24 16:30</p>"
    assert article_date(head, body) == ParsedDate(
        datetime(2026, 2, 23, 10, 0, tzinfo=SHANGHAI), "minute"
    )


# -- extract_article: lead snippet -------------------------------------------------------------

LONG = "正文第一段：组件价格本周继续回落，多家企业下调报价。"


def clean_lead(text: str) -> str:
    """The text as clean_text leaves it (NFKC turns full-width punctuation half-width)."""
    return text.replace("：", ":").replace("，", ",")


def article_snippet(body: str, head: str = "") -> str:
    html = f"<html><head>{head}</head><body>{body}</body></html>"
    return extract_article(html, "https://example.com/a.html", tz=SHANGHAI, now=NOW).snippet


def test_snippet_skips_nav_footer_header_aside() -> None:
    noise = "这是一段导航或页脚里的很长很长的文字，不应被选为摘要。"
    body = (
        f"<header><p>{noise}</p></header><nav><p>{noise}</p></nav><aside><p>{noise}</p></aside>"
        f"<p>{LONG}</p><footer><p>{noise}</p></footer>"
    )
    assert article_snippet(body) == clean_lead(LONG)


def test_snippet_skips_short_paragraphs() -> None:
    assert article_snippet(f"<div class='content'><p>短</p><p>{LONG}</p></div>") == clean_lead(LONG)


def test_snippet_prefers_the_article_container() -> None:
    outside = "页面上第一个足够长的段落，位于正文容器之外的地方。"
    body = f"<p>{outside}</p><div class='article-body'><p>{LONG}</p></div>"
    assert article_snippet(body) == clean_lead(LONG)


def test_snippet_falls_back_to_meta_description() -> None:
    head = '<meta name="description" content="  描述  文字 ">'
    assert article_snippet("<p>短</p><footer><p>" + LONG + "</p></footer>", head) == "描述 文字"


def test_snippet_empty() -> None:
    assert article_snippet("<p>短</p>") == ""


# -- merge_article and needs_follow ------------------------------------------------------------


def listed(**overrides: object) -> Article:
    values: dict[str, object] = {
        "url": "https://www.example.com/news/1.html",
        "source": "example",
        "title": "光伏组件价格继续...",
        "snippet": "组件价格本周...",
        "title_truncated": True,
        "snippet_truncated": True,
        "published_at": datetime(2026, 2, 24, tzinfo=SHANGHAI),
        "published_precision": "day",
        "published_from": "list",
    }
    values.update(overrides)
    return Article(**values)  # type: ignore[arg-type]


FULL_DATE = ParsedDate(datetime(2026, 2, 24, 15, 20, tzinfo=SHANGHAI), "minute")
PAGE = ArticlePage(title="光伏组件价格继续下行,企业利润承压", published=FULL_DATE, snippet=LONG)


def test_merge_fills_cut_title_date_and_snippet() -> None:
    article = listed()
    merged = merge_article(article, PAGE, "truncated")
    assert merged is article
    assert merged.title == "光伏组件价格继续下行,企业利润承压"
    assert merged.title_truncated is False
    assert merged.published_at == FULL_DATE.value
    assert merged.published_precision == "minute"
    assert merged.published_from == "article"
    assert merged.snippet == LONG
    assert merged.snippet_truncated is False


def test_merge_keeps_an_uncut_title_unless_follow_always() -> None:
    kept = merge_article(listed(title="列表标题", title_truncated=False), PAGE, "truncated")
    assert kept.title == "列表标题"
    replaced = merge_article(listed(title="列表标题", title_truncated=False), PAGE, "always")
    assert replaced.title == PAGE.title


def test_merge_empty_list_title_takes_the_page_title() -> None:
    merged = merge_article(listed(title="", title_truncated=False), PAGE, "never")
    assert merged.title == PAGE.title


def test_merge_page_without_title_keeps_the_list_title() -> None:
    merged = merge_article(listed(), ArticlePage(title="", published=None, snippet=""), "always")
    assert merged.title == "光伏组件价格继续..."
    assert merged.title_truncated is True


def test_merge_cut_page_title_stays_flagged() -> None:
    merged = merge_article(listed(), ArticlePage(title="页面标题也被截断…"), "truncated")
    assert merged.title == "页面标题也被截断…"
    assert merged.title_truncated is True


def test_merge_less_precise_page_date_keeps_the_list_date() -> None:
    list_date = datetime(2026, 2, 24, 15, 21, tzinfo=SHANGHAI)
    article = listed(published_at=list_date, published_precision="minute")
    page_date = ParsedDate(datetime(2026, 2, 23, tzinfo=SHANGHAI), "day")
    merged = merge_article(article, ArticlePage(published=page_date), "truncated")
    assert merged.published_at == list_date
    assert merged.published_precision == "minute"
    assert merged.published_from == "list"


def test_merge_equally_precise_page_date_wins() -> None:
    article = listed(
        published_at=datetime(2026, 2, 24, 15, 21, tzinfo=SHANGHAI), published_precision="minute"
    )
    merged = merge_article(article, ArticlePage(published=FULL_DATE), "truncated")
    assert merged.published_at == FULL_DATE.value
    assert merged.published_from == "article"


def test_merge_undated_list_item_takes_any_page_date() -> None:
    article = listed(published_at=None, published_precision=None, published_from=None)
    day = ParsedDate(datetime(2026, 2, 23, tzinfo=SHANGHAI), "day")
    merged = merge_article(article, ArticlePage(published=day), "truncated")
    assert merged.published_at == day.value
    assert merged.published_precision == "day"
    assert merged.published_from == "article"


def test_merge_page_without_date_keeps_the_list_date() -> None:
    merged = merge_article(listed(), ArticlePage(title="x"), "truncated")
    assert merged.published_precision == "day"
    assert merged.published_from == "list"


def test_merge_keeps_a_full_list_snippet() -> None:
    article = listed(snippet="列表里的完整摘要。", snippet_truncated=False)
    merged = merge_article(article, PAGE, "always")
    assert merged.snippet == "列表里的完整摘要。"


def test_merge_empty_list_snippet_takes_the_lead() -> None:
    merged = merge_article(listed(snippet="", snippet_truncated=False), PAGE, "truncated")
    assert merged.snippet == LONG


def test_merge_page_without_snippet_keeps_the_cut_one() -> None:
    merged = merge_article(listed(), ArticlePage(title="x"), "truncated")
    assert merged.snippet == "组件价格本周..."
    assert merged.snippet_truncated is True


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, True),
        ({"title_truncated": False, "snippet_truncated": False}, True),  # day precision
        (
            {"title_truncated": False, "snippet_truncated": False, "published_precision": None},
            True,
        ),
        (
            {
                "title_truncated": False,
                "snippet_truncated": False,
                "published_precision": "minute",
            },
            False,
        ),
        (
            {
                "title_truncated": False,
                "snippet_truncated": False,
                "published_precision": "second",
            },
            False,
        ),
        ({"snippet_truncated": False, "published_precision": "minute"}, True),  # title cut
        ({"title_truncated": False, "published_precision": "minute"}, True),  # snippet cut
    ],
)
def test_needs_follow_truncated(overrides: dict[str, object], expected: bool) -> None:
    assert needs_follow(listed(**overrides), "truncated") is expected


def test_needs_follow_always_and_never() -> None:
    complete = listed(title_truncated=False, snippet_truncated=False, published_precision="second")
    assert needs_follow(complete, "always") is True
    assert needs_follow(listed(), "never") is False


# -- issue 5: fixed-length cuts, impossible dates, [source.article] ---------------------------


def fixed_cut_page(titles: list[str]) -> str:
    items = "".join(
        f'<li><a href="/n/{i}.html">{t}</a><span>2026-02-24</span></li>'
        for i, t in enumerate(titles)
    )
    return f'<ul class="list">{items}</ul>'


def test_titles_cut_at_one_length_without_a_marker_are_marked_cut() -> None:
    titles = [
        "国家能源局发布新型储能试点",  # 13 characters: the cut length
        "广东海上风电项目并网发电规",
        "光伏组件出口数据同比增长三",
        "氢能示范城市群建设",
        "电网投资增长",
    ]
    items = list_items(fixed_cut_page(titles), Selectors(item="li", title="a", link="a"))
    assert [a.title_truncated for a in items] == [True, True, True, False, False]


def test_titles_of_varied_length_are_not_marked_cut() -> None:
    titles = ["储能电站投运", "风电装机创新高了", "光伏组件价格继续下行", "电网投资增长加快步伐啊"]
    items = list_items(fixed_cut_page(titles), Selectors(item="li", title="a", link="a"))
    assert not any(a.title_truncated for a in items)


def test_a_sidebar_cutting_twenty_headlines_at_sixteen_characters_is_found() -> None:
    whole = [
        "国家能源局发布第二批新型储能试点示范项目名单",  # 22 characters
        "广东阳江海上风电项目全容量并网发电",  # 17
        "光伏组件出口数据同比增长三成以上",  # 16: whole, but no different from a cut one
        "氢能示范城市群建设提速",  # 11
        "电网投资增长",  # 6
        "内蒙古至山东特高压外送通道工程今日开工建设",  # 21
        "全国碳市场扩容纳入钢铁水泥电解铝行业",  # 18
        "抽水蓄能电站核准规模创新高",  # 13
        "分布式光伏接网新规将于明年一月起正式实施",  # 20
        "新疆风光大基地二期项目集中签约",  # 15
    ] * 2
    titles = [t[:16] for t in whole]
    cut = fixed_cut_length(titles)
    assert cut == 16
    items = list_items(fixed_cut_page(titles), Selectors(item="li", title="a", link="a"))
    assert [a.title_truncated for a in items] == [len(t) >= 16 for t in whole]


def test_templated_headlines_bunched_at_their_longest_length_are_whole() -> None:
    # bench/crawl.py's headlines: many share the longest length, but each ends with ")".
    titles = [
        f"江苏{mw}兆瓦光伏项目开工建设(第12期第{i}条)"
        for i, mw in enumerate([100, 120, 1500, 1200, 1300, 1400, 1600, 90, 80, 1800], start=10)
    ]
    assert sorted({len(t) for t in titles}) == [24, 25, 26]
    assert fixed_cut_length(titles) is None
    # The same lengths without the closing bracket would read as a cut.
    assert fixed_cut_length([t[:-1] for t in titles]) == 25
    items = list_items(fixed_cut_page(titles), Selectors(item="li", title="a", link="a"))
    assert not any(a.title_truncated for a in items)


def test_titles_sharing_a_template_tail_at_the_longest_length_are_whole() -> None:
    titles = ["国家电网新闻发布会实录", "南方电网新闻发布会实录", "华能集团新闻发布会实录", "光伏"]
    assert fixed_cut_length(titles) is None


def test_longest_length_must_stand_out_from_the_others() -> None:
    # As many titles one character shorter as at the longest: lengths bunch, nothing was cut.
    titles = [
        "储能电站投运仪式举行",
        "风电装机规模创新高了",
        "光伏组件价格继续下行",
        "电网投资增长加快啊",
    ]
    titles += ["氢能产业园区签约仪", "核电机组并网发电成", "特高压工程开工建设"]
    assert [len(t) for t in titles] == [10, 10, 10, 9, 9, 9, 9]
    assert fixed_cut_length(titles) is None


def test_snippets_ending_sentences_at_one_length_are_not_marked_cut() -> None:
    snippets = [
        f"{n}号机组今日完成满负荷试运行并正式投产{end}。"
        for n, end in zip("123", "电网站", strict=True)
    ]
    snippets.append("今年以来装机较快增长。")
    assert fixed_cut_length(snippets) is None
    assert fixed_cut_length([s[:-1] for s in snippets]) == len(snippets[0]) - 1


def test_impossible_list_date_is_flagged_and_left_empty() -> None:
    html = '<ul><li><a href="/n/1.html">储能电站投运</a><span>2026年2月30日</span></li></ul>'
    [item] = list_items(html, Selectors(item="li", title="a", link="a", date="span"))
    assert item.published_at is None
    assert item.flags == ["date_suspect"]


def test_list_date_format_is_used() -> None:
    html = '<ul><li><a href="/n/1.html">储能电站投运</a><span>24|02|2026</span></li></ul>'
    [item] = extract_list(
        html,
        LIST_URL,
        Selectors(item="li", title="a", link="a", date="span"),
        tz=SHANGHAI,
        now=NOW,
        date_format="%d|%m|%Y",
    )
    assert item.published_at is not None
    assert to_utc_string(item.published_at) == "2026-02-23T16:00:00Z"


ODD_ARTICLE = """<html><head><title>站点首页</title></head><body>
<div class="side"><p>热门推荐：十大光伏企业排行榜出炉，点击查看完整榜单内容</p></div>
<div class="zw-title">内蒙古风光制氢一体化项目开工建设</div>
<div class="zw-info">来源：能源报 | 2026年02月24日 15:20</div>
<div class="zw-body"><p>短</p><p>2月24日，内蒙古鄂尔多斯风光制氢一体化示范项目正式开工。</p></div>
</body></html>"""


def test_article_selectors_come_first() -> None:
    page = extract_article(
        ODD_ARTICLE,
        "https://example.com/a/1.html",
        tz=SHANGHAI,
        now=NOW,
        selectors=ArticleSelectors(title=".zw-title", date=".zw-info", body=".zw-body"),
    )
    assert page.title == "内蒙古风光制氢一体化项目开工建设"
    assert page.published is not None
    assert to_utc_string(page.published.value) == "2026-02-24T07:20:00Z"
    assert page.snippet == "2月24日,内蒙古鄂尔多斯风光制氢一体化示范项目正式开工。"


def test_article_heuristics_skip_the_sidebar_lead() -> None:
    page = extract_article(ODD_ARTICLE, "https://example.com/a/1.html", tz=SHANGHAI, now=NOW)
    assert page.snippet == "2月24日,内蒙古鄂尔多斯风光制氢一体化示范项目正式开工。"


def test_merge_with_an_article_date_clears_the_lists_suspect_flag() -> None:
    article = Article(url="https://e.com/1", source="s", title="t", flags=["date_suspect"])
    when = datetime(2026, 2, 24, 7, 20, tzinfo=UTC)
    merged = merge_article(article, ArticlePage(published=ParsedDate(when, "minute")), "truncated")
    assert merged.flags == []
    assert merged.published_from == "article"


def test_impossible_article_date_flags_an_undated_item() -> None:
    page = extract_article(
        "<h1>储能电站投运</h1><div class='info'>发布时间：2026-02-30 10:00</div>",
        "https://e.com/1",
        tz=SHANGHAI,
        now=NOW,
    )
    assert page.published is None
    assert page.date_suspect
    merged = merge_article(Article(url="https://e.com/1", source="s", title="t"), page, "always")
    assert merged.flags == ["date_suspect"]


def test_impossible_article_date_flags_an_item_whose_list_date_stands() -> None:
    page = extract_article(
        "<h1>储能电站投运</h1><div class='info'>发布时间：2026年2月30日 10:00</div>",
        "https://e.com/1",
        tz=SHANGHAI,
        now=NOW,
    )
    listed_item = Article(url="https://e.com/1", source="s", title="储能电站投运")
    set_list_date(listed_item, "2026-02-24", SHANGHAI, NOW)
    merged = merge_article(listed_item, page, "always")
    assert merged.flags == ["date_suspect"]
    assert to_utc_string(merged.published_at) == "2026-02-23T16:00:00Z"  # the list's day
    assert (merged.published_from, merged.published_precision) == ("list", "day")


# -- hand-written article pages (tests/sites/articles_hw/, expectations typed by hand) -----------

HAND_WRITTEN = Path(__file__).resolve().parent / "sites" / "articles_hw"
HAND_SPEC = json.loads((HAND_WRITTEN / "articles.json").read_text("utf-8"))


@pytest.mark.parametrize("entry", HAND_SPEC["articles"], ids=lambda e: e["url"])
def test_hand_written_article_pages(entry: dict[str, str]) -> None:
    path = HAND_WRITTEN.parent / entry["url"].lstrip("/")
    html = decode_html(path.read_bytes(), None)
    now = datetime.fromisoformat(HAND_SPEC["now"].replace("Z", "+00:00"))
    page = extract_article(
        html, "http://127.0.0.1:8000" + entry["url"], tz=ZoneInfo(HAND_SPEC["timezone"]), now=now
    )
    assert page.title == entry["title"]
    assert page.published is not None
    assert to_utc_string(page.published.value) == entry["published_at"]
    assert len(page.snippet) >= 20  # the body's lead, not a sidebar or footer line
