"""Issue 3 follow-ups: backoff base and cap as settings, Retry-After on one URL of several, and a
304 from a new redirect target still marking the feed's articles seen."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.config import load_sources, parse_sources
from aggregator.errors import ConfigError
from aggregator.health import BACKOFF_BASE, BACKOFF_MAX, backoff, next_attempt
from aggregator.sitefarm import SiteFarm
from aggregator.store import Store
from tests.conftest import NOW, SITES
from tests.test_feed_sources import articles, crawl, health, parse, rows


def feed(**extra: object) -> dict[str, object]:
    return {"name": "fd", "kind": "feed", "urls": ["https://e.com/feed.xml"], **extra}


# -- backoff settings ---------------------------------------------------------------------------


def test_backoff_base_and_cap_are_parameters() -> None:
    hour = timedelta(hours=1)
    assert [backoff(n, hour, 3 * hour) for n in (1, 2, 3, 4)] == [
        hour,
        2 * hour,
        3 * hour,
        3 * hour,
    ]
    assert backoff(500, hour, 3 * hour) == 3 * hour
    assert next_attempt(1, NOW, 10 * 3600, hour, 3 * hour) == NOW + 3 * hour  # Retry-After capped
    assert next_attempt(0, NOW, 600) == NOW + timedelta(minutes=10)  # no failure: Retry-After only


def test_defaults_without_settings() -> None:
    (source,) = parse_sources({"source": [feed()]})
    assert (source.backoff_base, source.backoff_max) == (BACKOFF_BASE, BACKOFF_MAX)


def test_per_source_backoff_settings() -> None:
    (source,) = parse_sources({"source": [feed(backoff_base="1h", backoff_max="2d")]})
    assert (source.backoff_base, source.backoff_max) == (timedelta(hours=1), timedelta(days=2))


def test_global_backoff_table_with_per_source_override() -> None:
    first, second = parse_sources(
        {
            "backoff": {"base": "30m", "max": "12h"},
            "source": [feed(), feed(name="other", backoff_max="1w")],
        }
    )
    assert (first.backoff_base, first.backoff_max) == (timedelta(minutes=30), timedelta(hours=12))
    assert (second.backoff_base, second.backoff_max) == (timedelta(minutes=30), timedelta(weeks=1))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"source": [feed(backoff_base="soon")]},
            "x.toml: source 'fd': field 'backoff_base': not a duration such as 30m, 12h, 2d or 1w",
        ),
        (
            {"source": [feed(backoff_max=5)]},
            "x.toml: source 'fd': field 'backoff_max': not a duration",
        ),
        (
            {"source": [feed(backoff_base="2d", backoff_max="1d")]},
            "x.toml: source 'fd': field 'backoff_max': the backoff cap (1d) must be at least its "
            "base (2d)",
        ),
        (
            {"backoff": {"max": "10m"}, "source": [feed()]},
            "x.toml: [backoff]: field 'max': the backoff cap (10m) must be at least its base (15m)",
        ),
        (
            {"backoff": {"base": "0m"}, "source": [feed()]},
            "x.toml: [backoff]: field 'base': not a duration",
        ),
        (
            {"backoff": {"limit": "1h"}, "source": [feed()]},
            "x.toml: [backoff]: field 'limit': unknown key",
        ),
        ({"backoff": "1h", "source": [feed()]}, "x.toml: 'backoff' must be a table"),
    ],
)
def test_bad_backoff_settings_name_file_source_and_field(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_sources(data, "x.toml")
    assert str(info.value).startswith(message)


def test_backoff_settings_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(
        '[backoff]\nbase = "1h"\n\n[[source]]\nname = "fd"\nkind = "feed"\n'
        'urls = ["https://e.com/f.xml"]\nbackoff_max = "3h"\n',
        "utf-8",
    )
    (source,) = load_sources(path)
    assert (source.backoff_base, source.backoff_max) == (timedelta(hours=1), timedelta(hours=3))


def test_store_uses_the_given_base_and_cap(db: Store) -> None:
    (source,) = parse_sources({"source": [feed(backoff_base="1h", backoff_max="90m")]})
    db.sync_sources([source])
    waits = []
    for _ in range(3):
        db.record_source_run(
            "fd",
            ok=False,
            new=0,
            error="HTTP 500",
            now=NOW,
            backoff_base=source.backoff_base,
            backoff_max=source.backoff_max,
        )
        waits.append(parse(db.sources()[0]["next_attempt_at"]) - NOW)
    assert waits == [timedelta(hours=1), timedelta(minutes=90), timedelta(minutes=90)]


def test_crawl_backs_off_with_the_source_settings(tmp_path: Path, farm: SiteFarm) -> None:
    sources = tmp_path / "s.toml"
    sources.write_text(
        f'[backoff]\nbase = "1h"\nmax = "3h"\n\n[[source]]\nname = "x"\nkind = "feed"\n'
        f'urls = ["{farm.url}_farm/status/500"]\n',
        "utf-8",
    )
    db = tmp_path / "news.db"
    waits = []
    for _ in range(3):
        crawl(db, sources, "--only", "x")
        row = health(db, "x")
        waits.append(parse(row["next_attempt_at"]) - parse(row["last_run_at"]))
    assert waits == [timedelta(hours=1), timedelta(hours=2), timedelta(hours=3)]


# -- Retry-After on one URL of several ------------------------------------------------------------


def test_retry_after_on_one_url_of_several_is_still_honoured(
    tmp_path: Path, farm: SiteFarm
) -> None:
    sources = tmp_path / "s.toml"
    sources.write_text(
        '[[source]]\nname = "x"\nkind = "feed"\n'
        f'urls = ["{farm.url}feeds/rdf/rss.xml", "{farm.url}feeds/limited/rss.xml"]\n',
        "utf-8",
    )
    db = tmp_path / "news.db"
    before = len(farm.requests)
    code, record = crawl(db, sources)
    assert code == 0  # one URL worked: the source did not fail
    x = record["sources"]["x"]
    assert (x["failed"], x["new"], x["retry_after"]) == (False, 2, 7200)
    assert x["errors"] == ["HTTP 429 (Retry-After: 7200 s)"]
    assert farm.requests[before:].count("/feeds/limited/rss.xml") == 1
    row = health(db, "x")
    assert (row["consecutive_failures"], row["failing_since"]) == (0, None)
    assert parse(row["next_attempt_at"]) - parse(row["last_run_at"]) == timedelta(seconds=7200)
    before = len(farm.requests)
    code, record = crawl(db, sources)  # before the Retry-After: neither URL is polled
    assert code == 0
    assert record["skipped"] == {"x": row["next_attempt_at"]}
    assert not {"/feeds/rdf/rss.xml", "/feeds/limited/rss.xml"} & set(farm.requests[before:])


# -- a 304 from a new redirect target ------------------------------------------------------------


def test_304_after_a_redirect_to_another_url_still_marks_articles_seen(tmp_path: Path) -> None:
    site = tmp_path / "site"
    for version in ("v1", "v2"):
        (site / version).mkdir(parents=True)
        shutil.copy(SITES / "feeds" / "cond" / "rss.xml", site / version / "rss.xml")
        shutil.copy(
            SITES / "feeds" / "cond" / "rss.xml.headers", site / version / "rss.xml.headers"
        )
    entry = site / "feed.xml.headers"
    (site / "feed.xml").write_text("moved", "utf-8")
    entry.write_text("HTTP 302\nLocation: /v1/rss.xml\n", "utf-8")
    with SiteFarm(site) as farm:
        sources = tmp_path / "s.toml"
        sources.write_text(
            f'[[source]]\nname = "x"\nkind = "feed"\nurls = ["{farm.url}feed.xml"]\n', "utf-8"
        )
        db = tmp_path / "news.db"
        code, first = crawl(db, sources)
        assert code == 0 and first["sources"]["x"]["new"] == 1
        (stored,) = articles(db, "x")
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE articles SET last_seen_at = '2000-01-01T00:00:00Z'")
        conn.close()
        entry.write_text("HTTP 302\nLocation: /v2/rss.xml\n", "utf-8")  # the CDN moved it
        before = len(farm.headers_seen)
        code, second = crawl(db, sources)
        assert code == 0
        x = second["sources"]["x"]
        assert (x["failed"], x["not_modified"], x["new"], x["unchanged"]) == (False, 1, 0, 1)
        seen = [(path, h) for path, h in farm.headers_seen[before:] if path == "/v2/rss.xml"]
        assert seen and seen[0][1].get("If-None-Match") == '"cond-v1"'
    (again,) = articles(db, "x")
    assert again["id"] == stored["id"]
    assert again["last_seen_at"] > "2000-01-01T00:00:00Z"


# -- list pages are not polled conditionally (a documented choice) ---------------------------------


def test_html_list_pages_are_fetched_in_full_and_matched_by_body(tmp_path: Path) -> None:
    site = tmp_path / "site" / "news"
    site.mkdir(parents=True)
    (site / "index.html").write_text(
        '<html><body><ul><li><a href="/a/1.html">Wind auction results published</a></li>'
        "</ul></body></html>",
        "utf-8",
    )
    (site / "index.html.headers").write_text(
        'Content-Type: text/html; charset=utf-8\nETag: "l1"\n'
        "Last-Modified: Tue, 24 Feb 2026 07:00:00 GMT\n",
        "utf-8",
    )
    with SiteFarm(tmp_path / "site") as farm:
        sources = tmp_path / "s.toml"
        sources.write_text(
            f'[[source]]\nname = "x"\nkind = "html"\nurls = ["{farm.url}news/"]\n'
            '[source.selectors]\nitem = "li"\ntitle = "a"\nlink = "a::attr(href)"\n',
            "utf-8",
        )
        db = tmp_path / "news.db"
        code, first = crawl(db, sources)
        assert code == 0 and first["sources"]["x"]["new"] == 1
        code, second = crawl(db, sources)
        assert code == 0
        x = second["sources"]["x"]
        assert (x["not_modified"], x["new"], x["unchanged"]) == (0, 0, 1)
        sent = [h for path, h in farm.headers_seen if path == "/news/"]
    assert len(sent) == 2
    assert not any("If-None-Match" in h or "If-Modified-Since" in h for h in sent)
    assert rows(db, "SELECT * FROM validators") == []
