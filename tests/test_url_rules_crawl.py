"""Configured URL rules end to end: `newsagg crawl` (in a subprocess) on a site seen under
``www.``, ``m.`` and the bare host (names pinned to a loopback farm of the test's own), with
``[urls] host_aliases`` configured from the start and added after data exists."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aggregator.sitefarm import SiteFarm
from aggregator.store import Store
from tests.conftest import NOW, run_newsagg
from tests.feedcheck import validate_rss

HOST = "newsfarm.example"
ALIASES = f'[urls]\nhost_aliases = [["{HOST}", "www.{HOST}", "m.{HOST}"]]\n'
SOURCE = """
[[source]]
name = "{name}"
kind = "html"
urls = ["http://{host}:{port}/{name}/"]
timezone = "Asia/Shanghai"
[source.selectors]
item = "ul.news li"
title = "a"
link = "a::attr(href)"
date = "span.time"
"""
TITLES = {
    1: "广东海上风电项目全容量并网发电",
    2: "国家能源局发布2026年能源工作指导意见",
    3: "储能电站参与电力现货市场交易规则出台",
}
# name -> (link, article): the same three articles, linked under three hosts
LISTS = {
    "site_www": [("/a/1.html", 1), ("http://m.{HOST}:{port}/a/2.html", 2),
                 ("/a/3.html?jsessionid=77", 3)],
    "site_m": [("/a/1.html", 1), ("/a/2.html", 2), ("http://{HOST}:{port}/a/3.html", 3)],
}  # fmt: skip
HOSTS = {"site_www": f"www.{HOST}", "site_m": f"m.{HOST}"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("hosts_farm")
    with SiteFarm(root) as farm:
        port = farm.url.rsplit(":", 1)[1].strip("/")
        for name, items in LISTS.items():
            (root / name).mkdir()
            lis = "".join(
                f'<li><a href="{link.format(HOST=HOST, port=port)}">{TITLES[n]}</a>'
                f'<span class="time">2026-02-24 0{n}:00</span></li>'
                for link, n in items
            )
            (root / name / "index.html").write_text(
                f'<html><body><ul class="news">{lis}</ul></body></html>', "utf-8"
            )
        yield {"root": root, "port": port}


def sources_text(port: str, *, aliases: bool) -> str:
    body = "".join(SOURCE.format(name=n, host=h, port=port) for n, h in HOSTS.items())
    return (ALIASES if aliases else "") + body


def crawl(tmp: Path, port: str, *, aliases: bool) -> dict[str, Any]:
    sources = tmp / "sources.toml"
    sources.write_text(sources_text(port, aliases=aliases), "utf-8")
    pins = json.dumps({h: "127.0.0.1" for h in (HOST, *HOSTS.values())})
    result = run_newsagg(
        "--db", str(tmp / "news.db"), "--sources", str(sources), "crawl", "--json",
        "-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "RETRY_TIMES=0",
        "-s", f"NEWSAGG_RESOLVE={pins}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def articles(db: Path) -> list[tuple[str, str, int]]:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT canonical_url, title, story_id FROM articles ORDER BY canonical_url"
    ).fetchall()
    conn.close()
    return rows


def ids(db: Path) -> dict[int, str]:
    conn = sqlite3.connect(db)
    rows = dict(conn.execute("SELECT id, canonical_url FROM articles").fetchall())
    conn.close()
    return rows


def merged(db: Path) -> list[tuple[int, int]]:
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT id, into_id FROM merged_articles ORDER BY id").fetchall()
    conn.close()
    return rows


def test_aliases_configured_from_the_start_give_one_article_per_page(
    site: dict[str, Any], tmp_path: Path
) -> None:
    port = site["port"]
    record = crawl(tmp_path, port, aliases=True)
    assert record["totals"]["new"] == 3
    assert [url for url, _title, _story in articles(tmp_path / "news.db")] == [
        f"http://{HOST}:{port}/a/{n}.html" for n in (1, 2, 3)
    ]
    assert merged(tmp_path / "news.db") == []
    again = crawl(tmp_path, port, aliases=True)
    assert (again["totals"]["new"], again["url_rules"]["changed"]) == (0, False)


def test_aliases_added_after_data_exists_merge_the_rows_and_keep_them(
    site: dict[str, Any], tmp_path: Path
) -> None:
    port, db = site["port"], tmp_path / "news.db"
    first = crawl(tmp_path, port, aliases=False)
    assert first["totals"]["new"] == 5  # 1.html twice, 2.html once (m. both times), 3.html twice
    before = articles(db)
    assert len(before) == 5
    ids_before = ids(db)
    second = crawl(tmp_path, port, aliases=True)
    kept = ids(db)
    renamed = sum(1 for id, url in kept.items() if ids_before[id] != url)
    assert renamed >= 2  # 2.html (only on m.) and 1.html (never on the bare host) at least
    assert second["url_rules"] == {
        "changed": True,
        "renamed": renamed,
        "merged": 2,
        "stories_joined": 0,
    }
    assert second["totals"]["new"] == 0
    after = articles(db)
    assert [url for url, _title, _story in after] == [
        f"http://{HOST}:{port}/a/{n}.html" for n in (1, 2, 3)
    ]
    # nothing lost: each row is still there or kept whole in merged_articles
    assert len(after) + len(merged(db)) == len(before)
    assert {title for _url, title, _story in after} == {title for _u, title, _s in before}
    # one story per article (the dedupe joined the reposts before; the merge kept that)
    assert len({story for _url, _title, story in after}) == 3
    exported = run_newsagg("--db", str(db), "export")
    assert exported.returncode == 0, exported.stderr
    feeds = sorted((tmp_path / "feeds").rglob("*.xml"))
    assert feeds
    for feed in feeds:
        assert validate_rss(feed.read_bytes()) == [], feed
    (all_feed,) = [f for f in feeds if f.name == "all.xml"]
    assert all_feed.read_text("utf-8").count("<item>") == 3
    third = crawl(tmp_path, port, aliases=True)
    assert (third["totals"]["new"], third["url_rules"]["changed"]) == (0, False)


def test_article_pages_read_before_are_not_fetched_again_under_another_scheme_or_alias(
    tmp_path: Path,
) -> None:
    """``follow = "always"``: an article stored under https, listed under http, and article
    pages read under ``www.``/``m.`` before the aliases were configured count as complete."""
    root = tmp_path / "farm"
    (root / "follow").mkdir(parents=True)
    (root / "a").mkdir()
    for n in range(1, 6):  # 2 has no date: only the "page read" mark spares fetching it again
        when = f'<time datetime="2026-02-24T0{n}:00:00+08:00">2026-02-24 0{n}:00</time>'
        (root / "a" / f"{n}.html").write_text(
            f"<html><body><h1>文章{n}：光伏电站并网发电</h1>{when if n != 2 else ''}"
            f"<p>{'正文内容。' * 10}</p></body></html>",
            "utf-8",
        )
    with SiteFarm(root) as farm:
        port = farm.url.rsplit(":", 1)[1].strip("/")
        links = ["/a/1.html", f"http://m.{HOST}:{port}/a/2.html", "/a/4.html"]

        def write_list() -> None:
            lis = "".join(
                f'<li><a href="{link}">文章{link[-6]}：光伏电站并网发电</a></li>' for link in links
            )
            (root / "follow" / "index.html").write_text(
                f'<html><body><ul class="news">{lis}</ul></body></html>', "utf-8"
            )

        write_list()
        sources = tmp_path / "sources.toml"
        source = (
            f'[[source]]\nname = "follow"\nkind = "html"\nurls = ["http://www.{HOST}:{port}/follow/"]\n'
            f'follow = "always"\nhost_aliases = ["m.{HOST}", "{HOST}"]\n'
            '[source.selectors]\nitem = "ul.news li"\ntitle = "a"\nlink = "a::attr(href)"\n'
        )
        db = tmp_path / "news.db"
        with Store(db) as store:  # already stored, under https, whole title, minute date
            key = f"https://www.{HOST}:{port}/a/4.html"
            store.upsert_articles([{**_row(key), "title": "文章4：光伏电站并网发电"}], NOW)

        def crawl_follow(config: str) -> set[str]:
            sources.write_text(config, "utf-8")
            seen = len(farm.requests)
            pins = json.dumps({h: "127.0.0.1" for h in (HOST, *HOSTS.values())})
            result = run_newsagg(
                "--db", str(db), "--sources", str(sources), "crawl",
                "-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "RETRY_TIMES=0",
                "-s", f"NEWSAGG_RESOLVE={pins}",
                "-s", "NEWSAGG_ALLOW_PRIVATE=1",  # m. is no source's host: the farm is loopback
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
            return {p for p in farm.requests[seen:] if p.startswith("/a/")}

        without_aliases = source.replace(f'host_aliases = ["m.{HOST}", "{HOST}"]\n', "")
        assert crawl_follow(without_aliases) == {"/a/1.html", "/a/2.html"}  # not 4: https
        links.append("/a/5.html")  # a changed list page: its items are looked at again
        write_list()
        assert crawl_follow(source) == {"/a/5.html"}  # 1 and 2 were read under other hosts
        conn = sqlite3.connect(db)
        urls = sorted(row[0] for row in conn.execute("SELECT canonical_url FROM articles"))
        conn.close()
        assert urls == [f"http://www.{HOST}:{port}/a/{n}.html" for n in (1, 2, 5)] + [
            f"https://www.{HOST}:{port}/a/4.html"
        ]


def _row(key: str) -> dict[str, Any]:
    return {
        "url": key,
        "canonical_url": key,
        "source": "follow",
        "guid": None,
        "title": "",
        "snippet": "",
        "published_at": "2026-02-23T20:00:00Z",
        "published_precision": "minute",
        "published_from": "list",
        "flags": [],
        "language": "zh",
        "topics": [],
    }
