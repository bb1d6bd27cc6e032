"""`newsagg sources [list|check|import-opml|export-opml]` through click's CliRunner (no crawl:
`check` fetches with urllib, not Scrapy)."""

from __future__ import annotations

import json
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from aggregator.cli import cli
from aggregator.dates import to_utc_string, utc_now
from aggregator.opml import OpmlError, OpmlFeed, read_opml, source_name, write_opml
from aggregator.sitefarm import SiteFarm
from aggregator.store import Store
from tests.conftest import SITES

SOURCES = """# Our sources. This comment must survive an import.
[[source]]
name = "alpha"   # the first one
kind = "feed"
urls = ["https://a.example.org/feed.xml?utm_source=x"]

# A list page.
[[source]]
name = "beta"
kind = "html"
urls = ["https://b.example.org/news/"]
[source.selectors]
item = "li"
title = "a"
link = "a::attr(href)"
"""

OPML = """<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0"><head><title>subs</title></head><body>
<outline text="Energy">
  <outline type="rss" text="EIA Today in Energy" xmlUrl="https://www.eia.gov/rss/todayinenergy.xml"
           htmlUrl="https://www.eia.gov/todayinenergy/"/>
  <outline type="rss" text="Alpha again" xmlUrl="https://a.example.org/feed.xml"/>
  <outline type="rss" title="国家能源局" text="x" xmlUrl="https://www.nea.gov.cn/rss.xml"/>
</outline>
<outline type="rss" text="EIA Today in Energy" xmlUrl="https://mirror.example.org/eia.xml"/>
<outline type="rss" text="Gopher" xmlUrl="gopher://old.example.org/feed"/>
<outline text="An empty folder"/>
</body></opml>
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES, "utf-8")
    return path


# -- list --------------------------------------------------------------------------------------


def test_bare_sources_lists_with_backoff_and_stale(sources: Path, db_path: Path) -> None:
    with Store(db_path) as store:

        class Row:
            def __init__(self, name: str) -> None:
                self.name, self.title, self.kind, self.url = name, name, "feed", "https://x/"

        store.sync_sources([Row("alpha"), Row("beta")])
        long_ago = utc_now() - timedelta(days=3)
        store.record_source_run("alpha", ok=False, new=0, error="HTTP 500", now=long_ago)
        store.record_source_run("alpha", ok=False, new=0, error="HTTP 429", retry_after=86400)
        store.record_source_run("beta", ok=True, new=2, error=None)
    bare = invoke("--db", str(db_path), "--sources", str(sources), "sources")
    listed = invoke("--db", str(db_path), "--sources", str(sources), "sources", "list")
    assert bare.exit_code == listed.exit_code == 0
    assert bare.output == listed.output
    alpha, beta, total = bare.output.splitlines()
    assert "FAILING x2: HTTP 429" in alpha
    assert f"STALE (failing since {to_utc_string(long_ago)})" in alpha
    assert "backing off until " in alpha
    assert beta.endswith("  ok")
    assert total == "2 sources, 1 failing"


# -- check -------------------------------------------------------------------------------------


def farm_sources(farm: SiteFarm, tmp_path: Path) -> Path:
    path = tmp_path / "feeds.toml"
    path.write_text((SITES / "feeds.toml").read_text("utf-8").replace("{farm}", farm.url), "utf-8")
    return path


def test_check_fetches_now_and_stores_nothing(
    farm: SiteFarm, tmp_path: Path, db_path: Path
) -> None:
    path = farm_sources(farm, tmp_path)
    result = invoke("--db", str(db_path), "--sources", str(path), "sources", "check", "feed_json")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{farm.url}feeds/json/feed.json: feed, 3 items"
    assert "Electrolyser order book doubles" in result.output
    assert lines[-1] == "feed_json: 3 items would be stored"
    assert not db_path.exists()


def test_check_shows_the_health_so_far(farm: SiteFarm, tmp_path: Path, db_path: Path) -> None:
    path = farm_sources(farm, tmp_path)
    with Store(db_path) as store:

        class Row:
            name, title, kind, url = "feed_json", "J", "feed", "https://x/"

        store.sync_sources([Row()])
        store.record_source_run("feed_json", ok=False, new=0, error="HTTP 500")
    result = invoke("--db", str(db_path), "--sources", str(path), "sources", "check", "feed_json")
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("health so far: FAILING x1: HTTP 500; backing off until ")
    assert "3 items would be stored" in result.output


def test_check_json(farm: SiteFarm, tmp_path: Path) -> None:
    path = farm_sources(farm, tmp_path)
    result = invoke("--sources", str(path), "sources", "check", "feed_rdf", "--format", "json")
    (checked,) = json.loads(result.output)
    assert checked["kind"] == "feed"
    assert [i["published_at"] for i in checked["items"]] == ["2026-02-24T07:20:00Z"] * 2


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("feed_html_page", "source feed_html_page: "),
        ("feed_limited", "HTTP 429"),
        ("feed_empty_body", "got an empty body"),
    ],
)
def test_check_failures_are_clear_errors(
    farm: SiteFarm, tmp_path: Path, name: str, message: str
) -> None:
    path = farm_sources(farm, tmp_path)
    result = invoke("--sources", str(path), "sources", "check", name)
    assert result.exit_code == 1
    assert message in result.output


def test_check_unknown_source_is_a_usage_error(sources: Path) -> None:
    result = invoke("--sources", str(sources), "sources", "check", "nope")
    assert result.exit_code == 2
    assert "unknown source 'nope'" in result.output


# -- OPML --------------------------------------------------------------------------------------


def test_import_opml_appends_keeping_comments_and_order(sources: Path, tmp_path: Path) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_text(OPML, "utf-8")
    result = invoke("--sources", str(sources), "sources", "import-opml", str(opml))
    assert result.exit_code == 0, result.output
    text = sources.read_text("utf-8")
    assert text.startswith(SOURCES.rstrip("\n"))  # the old file, byte for byte, then the new
    assert "# imported from subs.opml" in text
    data = tomllib.loads(text)
    assert [s["name"] for s in data["source"]] == [
        "alpha",
        "beta",
        "eia_today_in_energy",
        "nea_gov_cn",
        "eia_today_in_energy_2",
    ]
    eia = data["source"][2]
    assert eia == {
        "name": "eia_today_in_energy",
        "title": "EIA Today in Energy",
        "kind": "feed",
        "urls": ["https://www.eia.gov/rss/todayinenergy.xml"],
        "language": "en",
        "timezone": "UTC",
    }
    assert data["source"][3]["title"] == "国家能源局"
    assert "skipped  https://a.example.org/feed.xml (already configured)" in result.output
    assert "skipped  gopher://old.example.org/feed (not an http(s) URL)" in result.output
    assert result.output.splitlines()[-1].endswith(": 3 added, 2 skipped")
    # again: everything is present now
    again = invoke("--sources", str(sources), "sources", "import-opml", str(opml))
    assert again.output.splitlines()[-1].endswith(": 0 added, 5 skipped")
    assert sources.read_text("utf-8") == text


def test_import_opml_knows_a_feed_under_the_other_scheme_or_a_host_alias(tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[urls]\nhost_aliases = [["a.example.org", "m.a.example.org"]]\n\n'
        '[[source]]\nname = "alpha"\nkind = "feed"\nurls = ["https://a.example.org/feed.xml"]\n',
        "utf-8",
    )
    opml = tmp_path / "subs.opml"
    opml.write_bytes(
        write_opml(
            [
                OpmlFeed("plain http", "http://a.example.org/feed.xml"),
                OpmlFeed("mobile host", "https://m.a.example.org/feed.xml"),
                OpmlFeed("another feed", "https://m.a.example.org/other.xml"),
            ]
        )
    )
    result = invoke("--sources", str(sources), "sources", "import-opml", str(opml))
    assert result.exit_code == 0, result.output
    assert "skipped  http://a.example.org/feed.xml (already configured)" in result.output
    assert "skipped  https://m.a.example.org/feed.xml (already configured)" in result.output
    assert result.output.splitlines()[-1].endswith(": 1 added, 2 skipped")


def test_import_opml_language_and_timezone(sources: Path, tmp_path: Path) -> None:
    opml = tmp_path / "zh.opml"
    opml.write_text(OPML, "utf-8")
    invoke(
        "--sources", str(sources), "sources", "import-opml", str(opml),
        "--language", "zh", "--timezone", "Asia/Shanghai",
    )  # fmt: skip
    added = tomllib.loads(sources.read_text("utf-8"))["source"][2]
    assert (added["language"], added["timezone"]) == ("zh", "Asia/Shanghai")


def test_import_opml_bad_timezone_leaves_the_file_alone(sources: Path, tmp_path: Path) -> None:
    opml = tmp_path / "s.opml"
    opml.write_text(OPML, "utf-8")
    result = invoke(
        "--sources", str(sources), "sources", "import-opml", str(opml), "--timezone", "Mars/Olympus"
    )
    assert result.exit_code == 2
    assert "unknown time zone 'Mars/Olympus'" in result.output
    assert sources.read_text("utf-8") == SOURCES


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<opml><body><outline", "not well-formed XML"),
        (b"<rss version='2.0'/>", "not an OPML file"),
    ],
)
def test_import_bad_opml_is_a_clear_error(
    sources: Path, tmp_path: Path, data: bytes, message: str
) -> None:
    opml = tmp_path / "bad.opml"
    opml.write_bytes(data)
    result = invoke("--sources", str(sources), "sources", "import-opml", str(opml))
    assert result.exit_code == 1
    assert message in result.output
    assert sources.read_text("utf-8") == SOURCES


def test_import_creates_a_missing_sources_file(tmp_path: Path) -> None:
    opml, path = tmp_path / "s.opml", tmp_path / "new" / "sources.toml"
    opml.write_text(OPML, "utf-8")
    result = invoke("--sources", str(path), "sources", "import-opml", str(opml))
    assert result.exit_code == 0, result.output
    assert len(tomllib.loads(path.read_text("utf-8"))["source"]) == 4


def test_export_opml_round_trips(sources: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.opml"
    result = invoke("--sources", str(sources), "sources", "export-opml", "--out", str(out))
    assert result.exit_code == 0
    assert read_opml(out.read_bytes()) == [
        OpmlFeed("alpha", "https://a.example.org/feed.xml?utm_source=x")
    ]
    stdout = invoke("--sources", str(sources), "sources", "export-opml")
    assert stdout.output.encode() == out.read_bytes()


def test_opml_escapes_and_names() -> None:
    data = write_opml([OpmlFeed('A & "B" <c>', "https://e.org/f?a=1&b=2", "https://e.org/")])
    assert read_opml(data) == [OpmlFeed('A & "B" <c>', "https://e.org/f?a=1&b=2", "https://e.org/")]
    taken: set[str] = {"wind"}
    names: list[Any] = [
        source_name(OpmlFeed("Wind", "https://w.org/f"), taken),
        source_name(OpmlFeed("风电", "https://www.fd.example.cn/rss"), taken),
        source_name(OpmlFeed("Énergie & Climat!", "https://e.fr/f"), taken),
    ]
    assert names == ["wind_2", "fd_example_cn", "energie_climat"]


def test_opml_does_not_expand_entities() -> None:
    data = b"""<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x "EXPANDED">]>
<opml version="2.0"><body><outline text="&x;" xmlUrl="https://e.org/f"/></body></opml>"""
    with pytest.raises(OpmlError, match="entity declarations are not allowed"):
        read_opml(data)
