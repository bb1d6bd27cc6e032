"""Issue 5 end to end (the CLI in a subprocess, the site farm on 127.0.0.1): kind = "auto",
article pages for cut titles, lying charsets, pagination, per-source headers, selector drift."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from aggregator.sitefarm import SiteFarm
from tests.conftest import ROOT, run_newsagg

FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "RETRY_TIMES=0"]
SITES = ROOT / "tests" / "sites"


def crawl(db: Path, sources: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = run_newsagg(
        "--db", str(db), "--sources", str(sources), "crawl", "--json", *FAST, *args
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout), result.stderr


def rows(db: Path, source: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    found = [
        dict(r)
        for r in conn.execute("SELECT * FROM articles WHERE source = ? ORDER BY url", (source,))
    ]
    conn.close()
    return found


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, farm: SiteFarm) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("auto")
    sources = tmp / "sources.toml"
    text = (SITES / "auto_sources.toml").read_text("utf-8").replace("{farm}", farm.url)
    sources.write_text(text, "utf-8")
    before = len(farm.requests)
    code, record, _ = crawl(tmp / "news.db", sources)
    return {
        "db": tmp / "news.db",
        "sources": sources,
        "code": code,
        "record": record,
        "requests": farm.requests[before:],
        "headers": farm.headers_seen[before:],
        "farm": farm,
    }


def test_auto_source_stores_the_main_list_completed_from_article_pages(
    crawled: dict[str, Any],
) -> None:
    assert crawled["code"] == 0
    stored = rows(crawled["db"], "bjx_auto")
    articles = json.loads((SITES / "auto_bjx" / "articles.json").read_text("utf-8"))["articles"]
    expected = sorted(articles, key=lambda a: crawled["farm"].url + a["url"].lstrip("/"))
    assert [r["url"] for r in stored] == [crawled["farm"].url + a["url"][1:] for a in expected]
    assert [r["title"] for r in stored] == [a["title"] for a in expected]
    for row, article in zip(stored, expected, strict=True):
        if article["published_at"]:  # the article page's minute beats the list's day
            assert (row["published_at"], row["published_from"]) == (
                article["published_at"],
                "article",
            )
            assert row["published_precision"] in ("minute", "second")
        else:  # the page has no date: the list's day stays
            assert row["published_from"] == "list"
            assert row["published_precision"] == "day"
        assert row["snippet"].startswith(article["snippet_starts"])  # the body, not the sidebar
    # the sidebar (热门资讯) is not stored without blocks = [...]
    assert not [r for r in stored if "/a/2" in r["url"]]


def test_article_pages_are_fetched_once(crawled: dict[str, Any]) -> None:
    fetched = [p for p in crawled["requests"] if p.startswith("/auto_bjx/a/")]
    assert len(fetched) == len(set(fetched)) == 20


def test_per_source_user_agent_and_headers(crawled: dict[str, Any]) -> None:
    sent = [h for path, h in crawled["headers"] if path.startswith("/auto_bjx/")]
    assert sent
    assert all(h.get("User-Agent") == "Mozilla/5.0 (compatible; newsagg-test)" for h in sent)
    assert all(h.get("Referer") == crawled["farm"].url for h in sent)
    others = [h for path, h in crawled["headers"] if path.startswith("/auto_gbk/")]
    assert others
    assert all("energy-news-aggregator" in h.get("User-Agent", "") for h in others)


def test_lying_header_and_late_meta_are_decoded(crawled: dict[str, Any]) -> None:
    stored = rows(crawled["db"], "gbk_auto")
    expected = json.loads((SITES / "auto_gbk" / "expected.json").read_text("utf-8"))
    titles = {e["title"] for e in expected["main"] + expected["blocks"]["热门排行"]}
    assert {r["title"] for r in stored} == titles
    assert len(stored) == 26


def test_encoding_override(crawled: dict[str, Any]) -> None:
    assert sorted(r["title"] for r in rows(crawled["db"], "override")) == sorted(
        [
            "煤电容量电价政策执行情况通报",
            "分布式储能聚合平台正式上线",
            "风电叶片回收利用技术取得突破",
        ]
    )


def test_blocks_by_heading(crawled: dict[str, Any]) -> None:
    stored = rows(crawled["db"], "latest_only")
    expected = json.loads((SITES / "auto_items" / "expected.json").read_text("utf-8"))
    assert sorted(r["title"] for r in stored) == sorted(
        e["title"] for e in expected["blocks"]["最新资讯"]
    )


def test_pagination_by_next_link_stops_at_max_pages(crawled: dict[str, Any]) -> None:
    # paged_next and paged_template list the same articles: one row each, so count the items
    assert crawled["record"]["sources"]["paged_next"]["items"] == 6
    assert crawled["record"]["sources"]["paged_next"]["pages_ok"] == 3
    assert "/paged/page3.html" in crawled["requests"]
    assert "/paged/page4.html" not in crawled["requests"]
    stored = rows(crawled["db"], "paged_next") + rows(crawled["db"], "paged_template")
    assert len(stored) == 6
    assert {r["published_at"] for r in stored} >= {"2026-02-21T02:00:00Z", "2026-02-23T01:00:00Z"}


def test_pagination_by_url_template(crawled: dict[str, Any]) -> None:
    assert crawled["record"]["sources"]["paged_template"]["items"] == 4
    assert crawled["record"]["sources"]["paged_template"]["pages_ok"] == 2


LIST = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>
<ul class="news"><li><a href="a/1.html">储能电站完成首次并网调试工作</a></li>
<li><a href="a/2.html">光伏基地二期工程全面开工建设</a></li></ul></body></html>"""
CAPTCHA = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>验证</title></head><body>
<div class="captcha"><p>请输入验证码后继续访问</p><img src="/c.png"></div></body></html>"""


def test_selector_drift_is_counted_and_reported_and_keeps_rows(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "list").mkdir(parents=True)
    (site / "list" / "index.html").write_text(LIST, "utf-8")
    db = tmp_path / "news.db"
    with SiteFarm(site) as farm:
        sources = tmp_path / "sources.toml"
        sources.write_text(
            f"""[[source]]
name = "drifter"
kind = "html"
urls = ["{farm.url}list/"]
[source.selectors]
item = "ul.news li"
title = "a"
link = "a::attr(href)"
""",
            "utf-8",
        )
        code, record, _ = crawl(db, sources)
        assert code == 0
        assert len(rows(db, "drifter")) == 2
        (site / "list" / "index.html").write_text(CAPTCHA, "utf-8")  # 200 OK, no list
        for expected_count in (1, 2):
            code, record, stderr = crawl(db, sources)
            assert code == 0  # the page was read: not a fetch failure
            stats = record["sources"]["drifter"]
            assert stats["empty"] is True
            assert stats["errors"][0].startswith("selector drift")
            assert "gave no items (selector drift?): drifter" in stderr
            conn = sqlite3.connect(db)
            empty, error, failures = conn.execute(
                "SELECT consecutive_empty, last_error, consecutive_failures FROM sources"
            ).fetchone()
            conn.close()
            assert (empty, failures) == (expected_count, 0)
            assert "2 stored before are kept" in error
        assert len(rows(db, "drifter")) == 2  # nothing deleted
        listing = run_newsagg("--db", str(db), "--sources", str(sources), "sources")
        assert "EMPTY x2: selector drift" in listing.stdout
        assert "1 failing" in listing.stdout
        (site / "list" / "index.html").write_text(LIST, "utf-8")  # fixed: the count resets
        crawl(db, sources)
        conn = sqlite3.connect(db)
        assert conn.execute("SELECT consecutive_empty, last_error FROM sources").fetchone() == (
            0,
            None,
        )
        conn.close()


def test_preview_auto_prints_blocks_and_selectors(farm: SiteFarm) -> None:
    result = run_newsagg("preview", f"{farm.url}auto_items/", "--auto", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [b["heading"] for b in data["blocks"]] == ["新闻中心", "最新资讯"]
    assert [b["chosen"] for b in data["blocks"]] == [True, False]
    assert data["blocks"][0]["selectors"]["item"] == "div.list > div.item"
    assert len(data["items"]) == 15
    table = run_newsagg("preview", f"{farm.url}auto_items/", "--auto")
    assert "* block 1: 新闻中心 - 15 items" in table.stdout
    assert 'item = "div.list > div.item"' in table.stdout


def test_article_pages_are_read_once_even_when_the_list_changes(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(SITES / "auto_bjx", site / "auto_bjx")
    db = tmp_path / "news.db"
    with SiteFarm(site) as farm:
        sources = tmp_path / "sources.toml"
        sources.write_text(
            f'[[source]]\nname = "bjx"\nkind = "auto"\nurls = ["{farm.url}auto_bjx/"]\n'
            'follow = "truncated"\n',
            "utf-8",
        )
        crawl(db, sources)
        first = [p for p in farm.requests if p.startswith("/auto_bjx/a/")]
        assert len(first) == 20
        index = site / "auto_bjx" / "index.html"
        index.write_text(index.read_text("utf-8") + "<!-- changed -->\n", "utf-8")
        before = len(farm.requests)
        code, record, _ = crawl(db, sources)
        assert code == 0
        assert record["sources"]["bjx"]["items"] == 20
        # 119.html has no date: without the cache it would be fetched on every change
        assert [p for p in farm.requests[before:] if p.startswith("/auto_bjx/a/")] == []


def test_hand_written_gbk_page_under_a_lying_meta_is_stored_without_mojibake(
    crawled: dict[str, Any],
) -> None:
    spec = json.loads((SITES / "auto_hw_cpnn" / "expected.json").read_text("utf-8"))
    expected = spec["main"] + spec["blocks"]["热门排行"]
    stored = {
        r["url"].removeprefix(crawled["farm"].url.rstrip("/")): r
        for r in rows(crawled["db"], "cpnn_hw_auto")
    }
    assert {u: r["title"] for u, r in stored.items()} == {e["url"]: e["title"] for e in expected}
    # absolute list dates (the relative ones depend on the fetch time)
    for entry in spec["main"][5:]:
        assert stored[entry["url"]]["published_at"] == entry["published_at"]


DRIFT_SOURCES = """
[[source]]
name = "drift_paged"
kind = "html"
urls = ["{farm}paged_drift/"]
[source.selectors]
item = "ul.news li"
title = "a"
link = "a::attr(href)"
date = "span.time"
[source.pagination]
url_template = "{farm}paged_drift/page{n}.html"
max_pages = 2

[[source]]
name = "drift_urls"
kind = "html"
urls = ["{farm}utf8_list/", "{farm}paged_drift/page2.html"]
[source.selectors]
item = "ul.news li"
title = "a"
link = "a::attr(href)"
date = "span.time"

[[source]]
name = "drift_all"
kind = "html"
urls = ["{farm}paged_drift/page2.html"]
[source.selectors]
item = "ul.news li"
title = "a"
link = "a::attr(href)"
"""


def test_an_empty_page_of_a_source_with_items_is_reported_not_failed(
    tmp_path: Path, farm: SiteFarm
) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(DRIFT_SOURCES.replace("{farm}", farm.url), "utf-8")
    code, record, _ = crawl(tmp_path / "news.db", sources)
    assert code == 0
    empty_page = farm.url + "paged_drift/page2.html"
    stats = record["sources"]
    for name, items in (("drift_paged", 2), ("drift_urls", 5)):
        assert stats[name]["failed"] is False
        assert stats[name]["empty"] is False
        assert stats[name]["empty_pages"] == [empty_page]
        assert stats[name]["items"] == items
        assert stats[name]["errors"][0].startswith("selector drift on 1 of its list pages: ")
        assert empty_page in stats[name]["errors"][0]
        assert len(rows(tmp_path / "news.db", name)) == items
    # a source whose only page is empty is still the whole-source drift of before
    assert stats["drift_all"]["empty"] is True
    assert record["totals"]["failed"] == 0
    conn = sqlite3.connect(tmp_path / "news.db")
    health = dict(
        conn.execute("SELECT name, last_error FROM sources WHERE name LIKE 'drift_%'").fetchall()
    )
    counts = dict(
        conn.execute(
            "SELECT name, consecutive_empty FROM sources WHERE name LIKE 'drift_%'"
        ).fetchall()
    )
    conn.close()
    assert empty_page in health["drift_paged"] and empty_page in health["drift_urls"]
    assert counts == {"drift_paged": 0, "drift_urls": 0, "drift_all": 1}
    summary = run_newsagg("--db", str(tmp_path / "news.db"), "--sources", str(sources), "sources")
    lines = {line.split()[0]: line for line in summary.stdout.splitlines() if line.strip()}
    assert f"WARNING: selector drift on 1 of its list pages: {empty_page}" in lines["drift_paged"]
    assert "WARNING: selector drift" in lines["drift_urls"]
    assert "EMPTY x1" in lines["drift_all"]
    assert summary.stdout.splitlines()[-1] == "3 sources, 1 failing"
