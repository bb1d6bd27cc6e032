"""End to end through the real CLI in a subprocess, against the tests' site farm on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aggregator.lock import run_lock
from aggregator.sitefarm import SiteFarm
from tests.conftest import ROOT, run_newsagg

FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "RETRY_TIMES=0"]


def crawl_json(db: Path, sources: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_newsagg(
        "--db", str(db), "--sources", str(sources), "crawl", "--json", *FAST, *args
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def articles(db: Path, source: str | None = None) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    sql = "SELECT * FROM articles" + (" WHERE source = ?" if source else "") + " ORDER BY id"
    rows = [dict(r) for r in conn.execute(sql, (source,) if source else ())]
    conn.close()
    return rows


@pytest.fixture(scope="module")
def crawled(
    tmp_path_factory: pytest.TempPathFactory, farm: SiteFarm
) -> tuple[Path, Path, int, dict[str, Any], list[str]]:
    """One crawl of every enabled test source, shared by the assertions below."""
    tmp = tmp_path_factory.mktemp("crawl")
    sources = tmp / "sources.toml"
    text = (ROOT / "tests" / "sites" / "sources.toml").read_text("utf-8")
    sources.write_text(text.replace("{farm}", farm.url), "utf-8")
    before = len(farm.requests)
    code, record = crawl_json(tmp / "news.db", sources)
    return tmp / "news.db", sources, code, record, farm.requests[before:]


def test_partial_failure_still_exits_0(crawled: Any) -> None:
    _db, _sources, code, record, _requests = crawled
    assert code == 0
    assert record["status"] == "partial"
    failed = {name for name, s in record["sources"].items() if s["failed"]}
    assert failed == {"gone", "broken500", "not_a_feed", "private_list"}


def test_failures_say_why(crawled: Any) -> None:
    sources = crawled[3]["sources"]
    assert sources["gone"]["errors"] == ["HTTP 404"]
    assert sources["broken500"]["errors"] == ["HTTP 500"]
    assert "not a feed: got an HTML page (text/html" in sources["not_a_feed"]["errors"][0]
    assert "robots.txt" in sources["private_list"]["errors"][0]


def test_robots_txt_is_obeyed(crawled: Any) -> None:
    requests = crawled[4]
    assert "/robots.txt" in requests
    assert not [path for path in requests if path.startswith("/private/")]


def test_utf8_list_with_followed_article_pages(crawled: Any) -> None:
    rows = {
        r["canonical_url"].split("/utf8_list/")[1]: r for r in articles(crawled[0], "utf8_list")
    }
    rows.update(
        {r["canonical_url"].split("/utf8_list/")[1]: r for r in articles(crawled[0], "moved")}
    )
    assert len(rows) == 5
    cut = rows["a/4.html"]
    assert cut["title"] == "国家级绿氢示范项目首批电解槽完成安装调试并进入试运行阶段"
    assert cut["published_from"] == "article"
    # tracking parameters and fragment gone, the rest sorted
    assert "a/3.html?a=1&b=2" in rows
    for row in rows.values():
        assert row["published_at"] is None or row["published_at"].endswith("Z")
        assert row["story_id"] == row["id"]
        assert row["language"] == "zh"


def test_gbk_and_lying_charset_are_decoded(crawled: Any) -> None:
    gbk = " ".join(r["title"] + r["snippet"] for r in articles(crawled[0], "gbk_list"))
    assert all(ch in gbk for ch in "碳氢储")
    wrong = articles(crawled[0], "wrong_charset")
    assert len(wrong) == 3
    for row in wrong:
        row["title"].encode("gb18030")  # CJK text, no mojibake
        assert "\ufffd" not in row["title"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in row["title"])


def test_malformed_page_gives_its_good_items(crawled: Any) -> None:
    titles = sorted(r["title"] for r in articles(crawled[0], "malformed"))
    assert titles == ["光伏扶贫电站完成智能化改造", "风电运维机器人投入使用"]


def test_feeds_are_stored_in_order_with_dates(crawled: Any) -> None:
    rss = articles(crawled[0], "feed_rss")
    assert len(rss) == 5
    assert {r["published_from"] for r in rss} == {"feed", "fetch_time"}
    assert any("&" in r["title"] for r in rss)
    assert len(articles(crawled[0], "feed_atom")) == 3


def test_health_and_run_are_recorded(crawled: Any) -> None:
    conn = sqlite3.connect(crawled[0])
    health = dict(conn.execute("SELECT name, consecutive_failures FROM sources").fetchall())
    assert health["gone"] == 1
    assert health["utf8_list"] == 0
    error = conn.execute("SELECT last_error FROM sources WHERE name = 'broken500'").fetchone()[0]
    assert error == "HTTP 500"
    status, stats = conn.execute("SELECT status, stats FROM runs").fetchone()
    assert status == "partial"
    assert json.loads(stats)["sources"]["gbk_list"]["new"] == 5


def test_second_crawl_is_free(tmp_path: Path, farm: SiteFarm, sources_file: Path) -> None:
    db = tmp_path / "news.db"
    code, first = crawl_json(db, sources_file, "--only", "utf8_list")
    assert code == 0
    assert first["totals"]["articles_fetched"] == 3
    before = len(farm.requests)
    code, second = crawl_json(db, sources_file, "--only", "utf8_list")
    assert code == 0
    assert second["totals"]["new"] == 0
    assert second["totals"]["articles_fetched"] == 0
    assert second["sources"]["utf8_list"]["unchanged"] == 5
    assert not [p for p in farm.requests[before:] if "/a/" in p]
    ids = [r["id"] for r in articles(db)]
    assert ids == [1, 2, 3, 4, 5]
    # every item is complete now: the page's fingerprint is kept, and a third crawl of the same
    # bytes marks its articles seen without extracting it
    conn = sqlite3.connect(db)
    pages = "SELECT count(*) FROM pages WHERE fingerprint {} 'followed'"
    assert conn.execute(pages.format("!=")).fetchone()[0] == 1
    assert conn.execute(pages.format("=")).fetchone()[0] == 3  # the article pages read once
    code, third = crawl_json(db, sources_file, "--only", "utf8_list")
    assert (code, third["sources"]["utf8_list"]["unchanged"]) == (0, 5)
    seen = {r[0] for r in conn.execute("SELECT DISTINCT last_seen_at FROM articles")}
    assert seen == {third["started_at"]}
    conn.close()


def test_every_source_failing_exits_1(tmp_path: Path, sources_file: Path) -> None:
    result = run_newsagg(
        "--db",
        str(tmp_path / "n.db"),
        "--sources",
        str(sources_file),
        "crawl",
        "--only",
        "gone",
        "--only",
        "broken500",
        *FAST,
    )
    assert result.returncode == 1
    assert result.stdout.strip().splitlines()[-1] == (
        "2 sources, 0 new, 0 updated, 2 failed: gone (HTTP 404), broken500 (HTTP 500)"
    )


def test_timeout_is_a_failure(tmp_path: Path, sources_file: Path) -> None:
    code, record = crawl_json(
        tmp_path / "n.db", sources_file, "--only", "slow", "-s", "DOWNLOAD_TIMEOUT=1"
    )
    assert code == 1
    assert record["sources"]["slow"]["errors"] == ["timeout"]


def test_a_held_lock_exits_75(tmp_path: Path, sources_file: Path) -> None:
    db = tmp_path / "news.db"
    with run_lock(db):
        result = run_newsagg("--db", str(db), "--sources", str(sources_file), "run")
    assert result.returncode == 75
    assert "another run is in progress" in result.stderr
    assert not db.exists()


def test_config_error_exits_2_and_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "sources.toml"
    bad.write_text('[[source]]\nname = "x"\nkind = "feed"\nurls = ["ftp://a"]\n', "utf-8")
    result = run_newsagg("--db", str(tmp_path / "n.db"), "--sources", str(bad), "crawl")
    assert result.returncode == 2
    assert f"{bad}: source 'x': field 'urls'" in result.stderr


def test_run_works_from_any_directory(tmp_path: Path, sources_file: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    db = tmp_path / "srv" / "news.db"
    env = {"NEWSAGG_DB": str(db), "NEWSAGG_SOURCES": str(sources_file)}
    result = run_newsagg("run", "--only", "feed_rss", *FAST, cwd=home, env=env)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("1 source, 5 new, 0 updated, 0 failed; ")
    assert (tmp_path / "srv" / "feeds" / "all.xml").is_file()
    assert (tmp_path / "srv" / "feeds" / "sources" / "feed_rss.xml").is_file()
    assert not list(home.iterdir())


def test_scrapy_list_and_crawl_from_the_repository(tmp_path: Path, sources_file: Path) -> None:
    scrapy = shutil.which("scrapy", path=str(Path(sys.executable).parent))
    assert scrapy
    listed = subprocess.run([scrapy, "list"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert listed.stdout.split() == ["news"]
    db = tmp_path / "scrapy.db"
    result = subprocess.run(
        [
            scrapy,
            "crawl",
            "news",
            "-s",
            f"NEWSAGG_DB={db}",
            "-s",
            f"NEWSAGG_SOURCES={sources_file}",
            "-s",
            "NEWSAGG_ALLOWED_PRIVATE=" + ",".join(sorted({_netloc(sources_file)})),
            *FAST,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert len(articles(db, "feed_atom")) == 3


def _netloc(sources_file: Path) -> str:
    from aggregator.config import load_sources
    from aggregator.netpolicy import netloc

    return netloc(load_sources(sources_file)[0].url)
