"""Entries with no title, text or link "give what they can" (issue 3): a fallback title and a
stable key; only an entry with nothing at all is left out, and counted per source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.feeds import EMPTY_FEED_ENTRY, parse_feed, safe_guid
from aggregator.items import Article
from aggregator.normalize import normalize
from aggregator.runstats import RunStats
from aggregator.sitefarm import SiteFarm
from tests.test_feed_sources import articles, crawl, one_source

NOW = datetime(2026, 2, 25, 3, 0, tzinfo=UTC)
URL = "https://www.example.com/feeds/rss.xml"


def rss(*items: str, title: str = "Grid news") -> bytes:
    channel = f"<title>{title}</title>" if title else ""
    body = "".join(f"<item>{item}</item>" for item in items)
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>{channel}'
        f"<link>https://www.example.com/</link>{body}</channel></rss>"
    ).encode()


def only(body: bytes, now: datetime = NOW) -> Article:
    parsed = parse_feed(body, URL, source="s", now=now)
    assert parsed.skipped == 0
    (item,) = parsed.items
    return item


def key(article: Article, now: datetime = NOW) -> str:
    row = normalize(article, None, now)
    assert row is not None
    return str(row["canonical_url"])


# -- fallback titles, in order ----------------------------------------------------------------


def test_image_only_summary_takes_its_alt_text() -> None:
    item = only(
        rss('<description><![CDATA[<img alt="Wind &amp; sun" src="a.jpg"/>]]></description>')
    )
    assert item.title == "Wind & sun"
    assert item.url == ""


def test_image_without_alt_takes_its_absolute_url() -> None:
    item = only(rss('<description><![CDATA[<img src="/img/a.jpg"/>]]></description>'))
    assert item.title == "https://www.example.com/img/a.jpg"


def test_enclosure_only_takes_the_enclosure_url() -> None:
    item = only(rss('<enclosure url="https://cdn.example.com/ep1.mp3" type="audio/mpeg"/>'))
    assert item.title == "https://cdn.example.com/ep1.mp3"


def test_non_permalink_guid_only_takes_the_guid() -> None:
    item = only(rss('<guid isPermaLink="false">http://guid.example.com/</guid>'))
    assert (item.title, item.guid, item.url) == (
        "http://guid.example.com/",
        "http://guid.example.com/",
        "",
    )
    assert key(item) == "urn:newsagg:s:guid:http://guid.example.com/"


def test_date_only_takes_the_feed_title_and_date() -> None:
    item = only(rss("<pubDate>Thu, 01 Jan 2004 19:48:21 GMT</pubDate>"))
    assert item.title == "Grid news: Thu, 01 Jan 2004 19:48:21 GMT"
    assert item.published_from == "feed"


def test_feed_without_title_is_named_by_its_host() -> None:
    item = only(rss("<category>Example category</category>", title=""))
    assert item.title == "www.example.com: Example category"
    assert item.published_from == "fetch_time"


def test_author_and_categories_make_the_title() -> None:
    item = only(
        rss("<author>Example editor</author><category>Grid</category><category>Solar</category>")
    )
    assert item.title == "Grid news: by Example editor · Grid, Solar"


def test_georss_point_is_identifying_content() -> None:
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" '
        b'xmlns:georss="http://www.georss.org/georss"><title>Map</title>'
        b"<entry><georss:point>36.9382 31.1732</georss:point></entry></feed>"
    )
    assert only(body).title == "Map: at 36.9382, 31.1732"


def test_text_still_comes_before_the_other_fallbacks() -> None:
    item = only(
        rss('<description>Some words</description><enclosure url="https://c.example/x.mp3"/>')
    )
    assert item.title == "Some words"


@pytest.mark.parametrize(
    "inner",
    [
        "",
        "<title> </title><link></link><description></description>",
        "<georss:point> </georss:point>",
    ],
)
def test_only_a_truly_empty_entry_is_skipped_and_counted(inner: str) -> None:
    parsed = parse_feed(rss(inner), URL, source="s", now=NOW)
    assert (parsed.items, parsed.entries, parsed.skipped) == ([], 1, 1)


# -- keys ---------------------------------------------------------------------------------------


def test_fallback_keys_are_stable_across_fetches_and_distinct_per_entry() -> None:
    body = rss("<author>A</author>", "<author>B</author>", "<category>Grid</category>")
    first = [key(a) for a in parse_feed(body, URL, source="s", now=NOW).items]
    later = NOW + timedelta(hours=5)  # fetch-time dates differ: the keys must not
    second = [key(a, later) for a in parse_feed(body, URL, source="s", now=later).items]
    assert first == second
    assert len(set(first)) == 3
    assert all(k.startswith("urn:newsagg:s:sha1:") for k in first)


def test_fallback_key_does_not_change_when_the_feed_moves() -> None:
    body = rss("<description><![CDATA[<img src='https://cdn.example.com/a.jpg'/>]]></description>")
    here = parse_feed(body, URL, source="s", now=NOW).items
    moved = parse_feed(body, "https://new.example.org/rss", source="s", now=NOW).items
    assert [key(a) for a in here] == [key(a) for a in moved]


# -- hostile guids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "guid",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "&#106;avascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
    ],
)
def test_code_running_guids_are_dropped(guid: str) -> None:
    assert safe_guid(guid) is None


def test_ordinary_guids_are_kept() -> None:
    assert safe_guid(" urn:uuid:1 ") == "urn:uuid:1"
    assert safe_guid("https://e.com/a") == "https://e.com/a"
    assert safe_guid("post-12:javascript") == "post-12:javascript"


def test_javascript_permalink_guid_is_no_guid_link_or_key() -> None:
    item = only(rss('<title>Trick</title><guid isPermaLink="true">javascript:alert(1)</guid>'))
    assert (item.guid, item.url) == (None, "")
    assert "javascript" not in key(item)


def test_javascript_guid_alone_is_an_empty_entry() -> None:
    parsed = parse_feed(rss('<guid isPermaLink="false">javascript:alert(1)</guid>'), URL, now=NOW)
    assert (parsed.items, parsed.skipped) == ([], 1)


# -- run stats ---------------------------------------------------------------------------------


def test_left_out_entries_are_in_the_summary_line() -> None:
    run = RunStats()
    run.source("a").leave_out(EMPTY_FEED_ENTRY, 2)
    run.source("b").leave_out(EMPTY_FEED_ENTRY, 0)
    assert run.source("a").left_out == {EMPTY_FEED_ENTRY: 2}
    assert run.source("b").left_out == {}
    assert "; entries left out: a (2 empty feed entry)" in run.summary_line()


# -- end to end ---------------------------------------------------------------------------------


def test_crawl_stores_fallback_entries_and_reports_the_empty_one(
    tmp_path: Path, farm: SiteFarm
) -> None:
    db, sources = tmp_path / "news.db", one_source(tmp_path, farm, "feeds/fallbacks/rss.xml")
    code, record = crawl(db, sources)
    assert code == 0
    stats = record["sources"]["x"]
    assert stats["new"] == 7
    assert stats["left_out"] == {EMPTY_FEED_ENTRY: 1}
    stored = articles(db, "x")
    assert [a["title"] for a in stored] == [
        "A normal item",
        "Fallback feed: Tue, 24 Feb 2026 07:00:00 GMT",
        "urn:fallback:notice-7",
        "https://fallback.example/audio/ep3.mp3",
        "Wind farm at dawn",
        "Fallback feed: by desk@fallback.example (Energy desk) · Grid",
        "Guid trick",
    ]
    for row in stored:
        assert "javascript" not in " ".join(str(v) for v in row.values()).lower()
    code, again = crawl(db, sources)  # the same entries again: the same keys, nothing new
    assert code == 0
    assert again["sources"]["x"]["new"] == 0
    assert len(articles(db, "x")) == 7
