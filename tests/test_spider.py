"""The spider's decisions, called directly with responses built in memory (no reactor)."""

from __future__ import annotations

import gc
from typing import Any

import pytest
import scrapy
from scrapy.http import HtmlResponse, Request, TextResponse
from scrapy.utils.misc import _generator_callbacks_cache, is_generator_with_return_value

import spiders.news as news
from aggregator.config import parse_sources
from aggregator.items import Article, PageSeen
from aggregator.normalize import normalize
from aggregator.runstats import RunStats
from aggregator.store import Store
from tests.conftest import NOW

SOURCES = parse_sources(
    {
        "source": [
            {
                "name": "lst",
                "kind": "html",
                "urls": ["https://e.com/news/"],
                "follow": "truncated",
                "selectors": {"item": "li", "title": "a", "link": "a::attr(href)", "date": "span"},
            },
            {"name": "fd", "kind": "feed", "urls": ["https://e.com/feed.xml"]},
        ]
    }
)
LIST_PAGE = """<ul>
<li><a href="/a/1.html">完整的标题一</a><span>2026-02-24 15:20</span></li>
<li><a href="/a/2.html">被截断的标题...</a><span>2026-02-24 15:20</span></li>
<li><a href="/a/3.html">没有日期的标题</a></li>
</ul>"""


@pytest.fixture
def spider(db: Store) -> news.NewsSpider:
    instance = news.NewsSpider(sources=SOURCES, store=db, run=RunStats())
    instance.sources = SOURCES
    instance.store = db
    return instance


def response(url: str, body: str | bytes, cls: type[TextResponse] = HtmlResponse) -> TextResponse:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return cls(
        url=url,
        body=data,
        headers={"Content-Type": "text/html; charset=utf-8"},
        request=Request(url),
    )


def test_list_follows_cut_and_undated_items(spider: news.NewsSpider) -> None:
    out = list(spider.parse_source(response("https://e.com/news/", LIST_PAGE), SOURCES[0]))
    requests = [o.url for o in out if isinstance(o, scrapy.Request)]
    items = [o.title for o in out if isinstance(o, Article)]
    assert requests == ["https://e.com/a/2.html", "https://e.com/a/3.html"]
    assert items == ["完整的标题一"]
    assert spider.run.sources["lst"].pages_ok == 1


def test_stored_complete_articles_are_not_followed_again(
    spider: news.NewsSpider, db: Store
) -> None:
    done = Article(
        url="https://e.com/a/2.html",
        source="lst",
        title="被截断的标题的全文",
        published_at=NOW,
        published_precision="second",
        published_from="article",
    )
    db.upsert_articles([normalize(done, SOURCES[0], NOW)], NOW)
    out = list(spider.parse_source(response("https://e.com/news/", LIST_PAGE), SOURCES[0]))
    assert [o.url for o in out if isinstance(o, scrapy.Request)] == ["https://e.com/a/3.html"]


def test_article_page_completes_the_item(spider: news.NewsSpider) -> None:
    out = list(spider.parse_source(response("https://e.com/news/", LIST_PAGE), SOURCES[0]))
    request = next(o for o in out if isinstance(o, scrapy.Request))
    page = "<h1>被截断的标题终于完整了</h1><p>发布时间:2026-02-24 15:21:09</p>"
    item, seen = list(spider.parse_article(response(request.url, page), **request.cb_kwargs))
    assert isinstance(item, Article)
    assert item.title == "被截断的标题终于完整了"
    assert (item.published_precision, item.published_from) == ("second", "article")
    assert spider.run.sources["lst"].articles_fetched == 1
    # the database remembers the page was read: it is not fetched again, even without a date
    assert isinstance(seen, PageSeen)
    assert (seen.url, seen.fingerprint, seen.keys) == (request.url, "followed", [request.url])


def test_an_article_page_read_before_is_not_fetched_again(
    spider: news.NewsSpider, db: Store
) -> None:
    undated = Article(url="https://e.com/a/2.html", source="lst", title="被截断的标题的全文")
    db.upsert_articles([normalize(undated, SOURCES[0], NOW)], NOW)
    db.save_pages([PageSeen("https://e.com/a/2.html", "lst", "followed", [])], NOW)
    out = list(spider.parse_source(response("https://e.com/news/", LIST_PAGE), SOURCES[0]))
    assert [o.url for o in out if isinstance(o, scrapy.Request)] == ["https://e.com/a/3.html"]


def test_a_feed_source_serving_html_fails_with_a_reason(spider: news.NewsSpider) -> None:
    out = list(spider.parse_source(response("https://e.com/feed.xml", LIST_PAGE), SOURCES[1]))
    assert out == []
    stats = spider.run.sources["fd"]
    assert stats.failed
    size = len(LIST_PAGE.encode("utf-8"))
    assert stats.errors == [f"not a feed: got an HTML page (text/html, {size} bytes)"]


def test_an_extractor_crash_fails_the_page_not_the_run(
    spider: news.NewsSpider, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> list[Article]:
        raise ValueError("unexpected markup")

    monkeypatch.setattr(news, "extract_list", boom)
    out = list(spider.parse_source(response("https://e.com/news/", LIST_PAGE), SOURCES[0]))
    assert out == []
    assert spider.run.sources["lst"].errors == ["extraction failed: ValueError: unexpected markup"]


def test_an_article_page_crash_keeps_the_list_item(
    spider: news.NewsSpider, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = list(spider.parse_source(response("https://e.com/news/", LIST_PAGE), SOURCES[0]))
    request = next(o for o in out if isinstance(o, scrapy.Request))

    def boom(*args: Any, **kwargs: Any) -> None:
        raise ValueError("bad page")

    monkeypatch.setattr(news, "extract_article", boom)
    [item] = list(spider.parse_article(response(request.url, "<p>x</p>"), **request.cb_kwargs))
    assert item.title == "被截断的标题..."
    assert spider.run.sources["lst"].articles_failed == 1


def test_an_unchanged_page_is_not_extracted_again(
    spider: news.NewsSpider, db: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = '<ul><li><a href="/a/9.html">完整标题</a><span>2026-02-24 15:20</span></li></ul>'
    first = list(spider.parse_source(response("https://e.com/news/", page), SOURCES[0]))
    seen = first[-1]
    assert isinstance(seen, PageSeen)
    assert (seen.keys, seen.unchanged) == (["https://e.com/a/9.html"], False)
    db.save_pages([seen], NOW)

    def boom(*args: Any, **kwargs: Any) -> list[Article]:
        raise AssertionError("extracted again")

    monkeypatch.setattr(news, "extract_list", boom)
    again = list(spider.parse_source(response("https://e.com/news/", page), SOURCES[0]))
    assert len(again) == 1 and again[0].unchanged and again[0].keys == seen.keys
    # a changed body is extracted
    monkeypatch.undo()
    changed = list(spider.parse_source(response("https://e.com/news/", page + " "), SOURCES[0]))
    assert isinstance(changed[0], Article)


def test_a_page_that_follows_links_is_not_fingerprinted(spider: news.NewsSpider) -> None:
    out = list(spider.parse_source(response("https://e.com/news/", LIST_PAGE), SOURCES[0]))
    assert not [o for o in out if isinstance(o, PageSeen)]


def test_an_undecodable_page_fails_with_the_reason_not_mojibake(spider: news.NewsSpider) -> None:
    garbage = b"<html><head><meta charset='utf-8'></head><body>" + bytes(range(128, 256)) * 4
    out = list(spider.parse_source(response("https://e.com/news/", garbage), SOURCES[0]))
    assert out == []
    [error] = spider.run.sources["lst"].errors
    assert error.startswith("cannot decode the page without mojibake (header utf-8, meta utf-8;")
    assert error.endswith("set the source's encoding")


def test_auto_blocks_that_are_not_on_the_page_say_which_are(db: Store) -> None:
    [auto] = parse_sources(
        {"source": [{"name": "au", "kind": "auto", "urls": ["https://e.com/"], "blocks": ["最新"]}]}
    )
    spider = news.NewsSpider(sources=[auto], store=db, run=RunStats())
    spider.sources, spider.store = [auto], db
    page = (
        "<h3>热门资讯</h3><ul>"
        + "".join(
            f'<li><a href="/a/{i}.html">热门资讯第{i}条储能电站并网新闻</a></li>' for i in range(4)
        )
        + "</ul>"
    )
    out = list(spider.parse_source(response("https://e.com/", page), auto))
    assert not [o for o in out if isinstance(o, Article)]
    assert spider.run.sources["au"].errors == [
        "no list block headed 最新 on the page; its blocks: 热门资讯"
    ]


def test_article_selectors_and_date_format_of_the_source_are_used(db: Store) -> None:
    [odd] = parse_sources(
        {
            "source": [
                {
                    "name": "odd",
                    "kind": "html",
                    "urls": ["https://e.com/news/"],
                    "follow": "truncated",
                    "selectors": {"item": "li", "title": "a", "link": "a::attr(href)"},
                    "article": {"title": ".zw-t", "date": ".zw-d", "date_format": "%d/%m/%Y %Hh%M"},
                }
            ]
        }
    )
    spider = news.NewsSpider(sources=[odd], store=db, run=RunStats())
    spider.sources, spider.store = [odd], db
    out = list(spider.parse_source(response("https://e.com/news/", LIST_PAGE), odd))
    request = next(o for o in out if isinstance(o, scrapy.Request) and o.url.endswith("/2.html"))
    page = (
        "<h1>站点名</h1><div class='zw-t'>文章真正的标题在这里</div>"
        "<i class='zw-d'>24/02/2026 15h20</i>"
    )
    item, _seen = list(spider.parse_article(response(request.url, page), **request.cb_kwargs))
    assert item.title == "文章真正的标题在这里"
    assert item.published_at is not None
    assert item.published_at.isoformat() == "2026-02-24T15:20:00+08:00"


def test_a_source_level_date_format_reads_auto_lists_and_article_pages(db: Store) -> None:
    [odd] = parse_sources(
        {
            "source": [
                {
                    "name": "odd_auto",
                    "kind": "auto",
                    "urls": ["https://e.com/news/"],
                    "follow": "truncated",
                    "date_format": "%d|%m|%Y %Hh%M",
                    "article": {"date": ".zw-d"},
                }
            ]
        }
    )
    spider = news.NewsSpider(sources=[odd], store=db, run=RunStats())
    spider.sources, spider.store = [odd], db
    page = (
        "<ul class='list'>"
        + "".join(
            f"<li><a href='/a/{n}.html'>{title}</a><span>2{n}|02|2026 15h20</span></li>"
            for n, title in enumerate(
                (
                    "光伏组件价格继续下行企业承压",
                    "风电装机容量创下历史新高",
                    "储能电站并网规模快速增长...",
                ),
                start=1,
            )
        )
        + "</ul>"
    )
    out = list(spider.parse_source(response("https://e.com/news/", page), odd))
    dated = {o.url: o.published_at for o in out if isinstance(o, Article)}
    assert {u: d.isoformat() if d else None for u, d in dated.items()} == {
        "https://e.com/a/1.html": "2026-02-21T15:20:00+08:00",
        "https://e.com/a/2.html": "2026-02-22T15:20:00+08:00",
    }
    request = next(o for o in out if isinstance(o, scrapy.Request))
    article = "<h1>储能电站并网规模快速增长的全文标题</h1><p class='zw-d'>23|02|2026 16h45</p>"
    item, _seen = list(spider.parse_article(response(request.url, article), **request.cb_kwargs))
    assert item.title == "储能电站并网规模快速增长的全文标题"
    assert item.published_at is not None
    assert item.published_at.isoformat() == "2026-02-23T16:45:00+08:00"


def test_every_request_carries_the_same_callback_objects(spider: news.NewsSpider) -> None:
    """Scrapy caches its generator check of a callback weakly, by the callable: a fresh bound
    method per request would be checked again (getsource + ast.parse) on every response."""
    first = spider._list_request("https://e.com/news/1", SOURCES[0], page=1)
    second = spider._list_request("https://e.com/news/2", SOURCES[0], page=1)
    assert first.callback is second.callback and first.errback is second.errback
    assert first.callback == spider.parse_source and first.errback == spider.source_failed
    out = list(spider.parse_source(response("https://e.com/news/", LIST_PAGE), SOURCES[0]))
    follows = [o for o in out if isinstance(o, scrapy.Request)]
    assert len(follows) == 2 and follows[0].callback is follows[1].callback
    assert follows[0].callback == spider.parse_article
    assert follows[0].errback == spider.article_failed
    del first, second, follows, out
    callback = spider._list_request("https://e.com/news/3", SOURCES[0], page=1).callback
    assert callback is not None
    is_generator_with_return_value(callback)
    del callback
    gc.collect()
    assert spider.parse_source in _generator_callbacks_cache  # still there for the next one
