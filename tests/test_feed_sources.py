"""Feed sources end to end: `newsagg crawl` in a subprocess against tests/sites/feeds/."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from aggregator.sitefarm import SiteFarm
from tests.conftest import SITES, run_newsagg

FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "RETRY_TIMES=0"]


def write_sources(farm: SiteFarm, path: Path) -> Path:
    text = (SITES / "feeds.toml").read_text("utf-8").replace("{farm}", farm.url)
    path.write_text(text, "utf-8")
    return path


def crawl(db: Path, sources: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_newsagg(
        "--db", str(db), "--sources", str(sources), "crawl", "--json", *FAST, *args
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def rows(db: Path, sql: str, *params: object) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    found = [dict(r) for r in conn.execute(sql, params)]
    conn.close()
    return found


def articles(db: Path, source: str) -> list[dict[str, Any]]:
    return rows(db, "SELECT * FROM articles WHERE source = ? ORDER BY id", source)


def health(db: Path, source: str) -> dict[str, Any]:
    (row,) = rows(db, "SELECT * FROM sources WHERE name = ?", source)
    return row


@pytest.fixture(scope="module")
def crawled(
    tmp_path_factory: pytest.TempPathFactory, farm: SiteFarm
) -> tuple[Path, int, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("feeds")
    sources = write_sources(farm, tmp / "sources.toml")
    code, record = crawl(tmp / "news.db", sources)
    return tmp / "news.db", code, record


def test_json_feed(crawled: Any, farm: SiteFarm) -> None:
    db = crawled[0]
    got = articles(db, "feed_json")
    assert [a["title"] for a in got] == [
        "Electrolyser order book doubles",
        "Hydrogen pipeline approved",
        "Fuel-cell trucks: a tally",
    ]
    assert got[0]["canonical_url"] == f"{farm.url}feeds/json/posts/1.html"
    assert got[0]["snippet"] == "Orders & deliveries rose in Q1."
    assert got[0]["published_at"] == "2026-02-24T07:20:00Z"
    assert got[1]["canonical_url"] == "https://elsewhere.example/h2-pipeline"
    assert got[1]["published_at"] == "2026-02-23T09:00:00Z"
    assert got[2]["guid"] == "3"
    assert got[2]["published_from"] == "fetch_time"


def test_atom_03_with_xml_base(crawled: Any) -> None:
    got = articles(crawled[0], "feed_atom03")
    assert [a["canonical_url"] for a in got] == [
        "https://atom03.example/blog/posts/1.html",
        "https://atom03.example/blog/posts/2.html",
    ]
    assert [a["published_at"] for a in got] == ["2026-02-24T00:00:00Z", "2026-02-23T12:00:00Z"]


def test_rss_10_zone_less_date_in_the_source_zone(crawled: Any) -> None:
    got = articles(crawled[0], "feed_rdf")
    assert [a["published_at"] for a in got] == ["2026-02-24T07:20:00Z", "2026-02-24T07:20:00Z"]


def test_duplicate_guids_are_four_articles(crawled: Any) -> None:
    got = articles(crawled[0], "feed_dupguid")
    assert [a["title"] for a in got] == [
        "Tariff cut announced",
        "Auction results",
        "Link-less notice one",
        "Link-less notice two",
    ]
    assert len({a["canonical_url"] for a in got}) == 4


def test_feed_served_as_html_is_read(crawled: Any) -> None:
    got = articles(crawled[0], "feed_as_html")
    assert [a["title"] for a in got] == ["Coal phase-out dated", "Heat pumps outsell boilers"]


def test_gb2312_feed_with_cst_dates(crawled: Any) -> None:
    got = articles(crawled[0], "feed_gb2312")
    assert [a["title"] for a in got] == ["风电装机容量创新高", "氢能产业规划发布"]
    assert [a["published_at"] for a in got] == ["2026-02-24T07:20:00Z", "2026-02-24T08:00:00Z"]
    assert got[0]["snippet"] == "截至二月底"


def test_redirected_feed_resolves_links_against_the_final_url(crawled: Any, farm: SiteFarm) -> None:
    (got,) = articles(crawled[0], "feed_moved")
    assert got["canonical_url"] == f"{farm.url}feeds/moved/new/story/1.html"


def test_empty_body_and_html_page_are_failures_that_say_what_they_got(crawled: Any) -> None:
    db, _code, record = crawled
    empty = record["sources"]["feed_empty_body"]
    assert empty["failed"]
    assert empty["errors"][0].startswith("not a feed: got an empty body (")
    assert empty["errors"][0].endswith(", 0 bytes)")
    page = record["sources"]["feed_html_page"]
    assert page["failed"]
    assert page["errors"][0].startswith("not a feed: got an HTML page (text/html, ")
    for name in ("feed_empty_body", "feed_html_page"):
        row = health(db, name)
        assert row["consecutive_failures"] == 1
        assert row["last_error"].startswith("not a feed: got ")


def test_a_valid_empty_feed_is_a_healthy_poll(crawled: Any) -> None:
    db, _code, record = crawled
    assert not record["sources"]["feed_empty"]["failed"]
    row = health(db, "feed_empty")
    assert row["consecutive_failures"] == 0
    assert row["last_ok_at"] is not None
    assert articles(db, "feed_empty") == []


def test_bad_input_later_loses_nothing_stored(tmp_path: Path, farm: SiteFarm) -> None:
    db = tmp_path / "news.db"
    good = tmp_path / "good.toml"
    good.write_text(
        f'[[source]]\nname = "flaky"\nkind = "feed"\nurls = ["{farm.url}feeds/dupguid/rss.xml"]\n',
        "utf-8",
    )
    assert crawl(db, good)[0] == 0
    before = articles(db, "flaky")
    assert len(before) == 4
    for bad_path in ("not_a_feed/", "feeds/empty_body/feed.xml", "_farm/status/500"):
        bad = tmp_path / "bad.toml"
        bad.write_text(good.read_text("utf-8").replace("feeds/dupguid/rss.xml", bad_path), "utf-8")
        code, record = crawl(db, bad)
        assert code == 1  # its only source failed
        assert record["sources"]["flaky"]["failed"]
        assert articles(db, "flaky") == before
