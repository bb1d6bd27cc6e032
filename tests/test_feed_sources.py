"""Feed sources end to end: `newsagg crawl` in a subprocess against tests/sites/feeds/."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aggregator.dates import to_utc_string, utc_now
from aggregator.health import BACKOFF_MAX
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
        code, record = crawl(db, bad, "--only", "flaky")  # named: crawled despite backoff
        assert code == 1  # its only source failed
        assert record["sources"]["flaky"]["failed"]
        assert articles(db, "flaky") == before


# -- cheap polling, Retry-After, backoff, staleness -------------------------------------------


def one_source(tmp_path: Path, farm: SiteFarm, path: str, name: str = "x", extra: str = "") -> Path:
    sources = tmp_path / f"{name}.toml"
    sources.write_text(
        f'[[source]]\nname = "{name}"\nkind = "feed"\nurls = ["{farm.url}{path}"]\n{extra}',
        "utf-8",
    )
    return sources


def stamp_ago(**delta: float) -> datetime:
    return utc_now() - timedelta(**delta)


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("path", "etag", "last_modified"),
    [
        ("feeds/cond/rss.xml", '"cond-v1"', "Tue, 24 Feb 2026 07:00:00 GMT"),
        ("feeds/cond_lm/rss.xml", None, "Mon, 23 Feb 2026 10:00:00 GMT"),
    ],
)
def test_conditional_get_304_is_a_healthy_empty_poll(
    tmp_path: Path, farm: SiteFarm, path: str, etag: str | None, last_modified: str
) -> None:
    db, sources = tmp_path / "news.db", one_source(tmp_path, farm, path)
    code, first = crawl(db, sources)
    assert code == 0
    assert first["sources"]["x"]["new"] == 1
    assert first["sources"]["x"]["not_modified"] == 0
    (validators,) = rows(db, "SELECT * FROM validators")
    assert validators["url"] == f"{farm.url}{path}"
    assert validators["etag"] == etag
    assert validators["last_modified"] == last_modified
    (stored,) = articles(db, "x")
    code, second = crawl(db, sources)
    assert code == 0
    x = second["sources"]["x"]
    assert (x["failed"], x["not_modified"], x["new"], x["unchanged"]) == (False, 1, 0, 1)
    (again,) = articles(db, "x")
    assert again["id"] == stored["id"]
    assert again["last_seen_at"] >= stored["last_seen_at"]
    row = health(db, "x")
    assert row["consecutive_failures"] == 0
    assert row["last_error"] is None


def test_429_retry_after_is_honoured_and_the_source_skipped_until_due(
    tmp_path: Path, farm: SiteFarm
) -> None:
    db, sources = tmp_path / "news.db", one_source(tmp_path, farm, "feeds/limited/rss.xml")
    before = len(farm.requests)
    code, record = crawl(db, sources)
    assert code == 1
    assert record["sources"]["x"]["errors"] == ["HTTP 429 (Retry-After: 7200 s)"]
    assert record["sources"]["x"]["retry_after"] == 7200
    assert farm.requests[before:].count("/feeds/limited/rss.xml") == 1  # not retried at once
    row = health(db, "x")
    assert row["consecutive_failures"] == 1
    wait = parse(row["next_attempt_at"]) - parse(row["last_run_at"])
    assert wait == timedelta(seconds=7200)
    before = len(farm.requests)
    result = run_newsagg("--db", str(db), "--sources", str(sources), "crawl", *FAST)
    assert result.returncode == 0, result.stderr
    assert "/feeds/limited/rss.xml" not in farm.requests[before:]
    assert f"1 skipped (backing off): x (due {row['next_attempt_at']})" in result.stdout
    assert health(db, "x")["consecutive_failures"] == 1  # a skipped run is not a failure


def test_503_retry_after_date_is_capped(tmp_path: Path, farm: SiteFarm) -> None:
    db, sources = tmp_path / "news.db", one_source(tmp_path, farm, "feeds/unavailable/rss.xml")
    code, record = crawl(db, sources)
    assert code == 1
    assert record["sources"]["x"]["errors"][0].startswith("HTTP 503 (Retry-After: ")
    row = health(db, "x")
    assert parse(row["next_attempt_at"]) - parse(row["last_run_at"]) == BACKOFF_MAX


def test_failures_back_off_exponentially(tmp_path: Path, farm: SiteFarm) -> None:
    db, sources = tmp_path / "news.db", one_source(tmp_path, farm, "_farm/status/500")
    waits = []
    for _ in range(3):
        crawl(db, sources, "--only", "x")
        row = health(db, "x")
        waits.append(parse(row["next_attempt_at"]) - parse(row["last_run_at"]))
    assert waits == [timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=1)]
    assert row["failing_since"] is not None and row["consecutive_failures"] == 3


def test_a_source_failing_longer_than_stale_after_makes_run_exit_3(
    tmp_path: Path, farm: SiteFarm
) -> None:
    db = tmp_path / "news.db"
    sources = tmp_path / "two.toml"
    sources.write_text(
        one_source(tmp_path, farm, "feeds/empty_feed/rss.xml", "fine").read_text("utf-8")
        + one_source(tmp_path, farm, "_farm/status/500", "down", 'stale_after = "6h"\n').read_text(
            "utf-8"
        ),
        "utf-8",
    )
    code, _record = crawl(db, sources)
    assert code == 0  # failing, but not for long yet
    conn = sqlite3.connect(db)
    since = to_utc_string(stamp_ago(hours=7))
    conn.execute("UPDATE sources SET failing_since = ?, next_attempt_at = NULL", (since,))
    conn.commit()
    conn.close()
    out = tmp_path / "feeds"
    result = run_newsagg(
        "--db", str(db), "--sources", str(sources), "run", "--out", str(out), *FAST
    )
    assert result.returncode == 3, result.stderr
    assert f"1 STALE: down failing since {since} (HTTP 500)" in result.stdout
    (run,) = rows(db, "SELECT stats FROM runs ORDER BY id DESC LIMIT 1")
    assert json.loads(run["stats"])["stale"] == {"down": f"failing since {since} (HTTP 500)"}
    assert (out / "all.xml").is_file()  # the export still ran
