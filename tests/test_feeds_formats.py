"""aggregator.feeds on the formats and breakage of real feeds: RSS 0.91/0.92, Atom 0.3, legacy
charsets, lying declarations, undefined entities, feeds served as text/html, duplicate guids."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from aggregator.dates import to_utc_string
from aggregator.feeds import NotAFeed, ParsedFeed, parse_feed
from aggregator.normalize import normalize

NOW = datetime(2026, 2, 25, 3, 0, tzinfo=UTC)
URL = "https://feeds.example.org/news/rss.xml"


def feed(body: bytes, url: str = URL, **kwargs: object) -> ParsedFeed:
    options: dict[str, object] = {"source": "ex", "tz": ZoneInfo("Asia/Shanghai"), "now": NOW}
    options.update(kwargs)
    return parse_feed(body, url, **options)  # type: ignore[arg-type]


def rss(items: str, encoding: str = "utf-8", version: str = "2.0") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="{version}"><channel>'
        f"<title>t</title><link>https://feeds.example.org/</link><description>d</description>"
        f"{items}</channel></rss>"
    )


@pytest.mark.parametrize(("version", "name"), [("0.91", "rss091u"), ("0.92", "rss092")])
def test_rss_09x(version: str, name: str) -> None:
    body = rss("<item><title>Old</title><link>https://feeds.example.org/1</link></item>")
    parsed = feed(body.replace('version="2.0"', f'version="{version}"').encode())
    assert parsed.version == name
    assert [i.title for i in parsed.items] == ["Old"]


def test_rss_090() -> None:
    body = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://my.netscape.com/rdf/simple/0.9/">
<channel><title>Old Netscape</title><link>https://n.example/</link><description>d</description>
</channel>
<item><title>First RSS</title><link>https://n.example/1</link></item>
</rdf:RDF>"""
    parsed = feed(body)
    assert parsed.version == "rss090"
    assert [(i.title, i.url) for i in parsed.items] == [("First RSS", "https://n.example/1")]


def test_atom_03() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#" xml:base="https://atom03.example.org/blog/">
<title>Atom 0.3</title><link rel="alternate" type="text/html" href="https://atom03.example.org/"/>
<modified>2026-02-24T10:00:00Z</modified>
<entry><title>Old Atom</title><link rel="alternate" type="text/html" href="p/1.html"/>
<id>tag:atom03.example.org,2026:1</id><issued>2026-02-24T08:00:00+08:00</issued>
<modified>2026-02-24T09:00:00Z</modified><summary>S</summary></entry>
</feed>"""
    parsed = feed(body)
    assert parsed.version == "atom03"
    (item,) = parsed.items
    assert item.url == "https://atom03.example.org/blog/p/1.html"
    assert to_utc_string(item.published_at) == "2026-02-24T00:00:00Z"  # issued → published
    assert item.guid == "tag:atom03.example.org,2026:1"


@pytest.mark.parametrize(
    ("encoding", "title"),
    [("gb2312", "光伏组件价格"), ("big5", "風電裝機"), ("windows-1251", "Энергетика")],
)
def test_legacy_charsets(encoding: str, title: str) -> None:
    body = rss(f"<item><title>{title}</title><link>/1</link></item>", encoding).encode(encoding)
    assert feed(body).items[0].title == title


def test_charset_declared_one_way_and_sent_another() -> None:
    # Declared utf-8, bytes are GBK: feedparser falls back and still yields the item.
    body = rss("<item><title>储能电站</title><link>/1</link></item>").encode("gbk")
    parsed = feed(body)
    assert parsed.bozo is not None
    assert len(parsed.items) == 1
    assert parsed.items[0].url == "https://feeds.example.org/1"


def test_http_charset_wins_over_a_wrong_declaration() -> None:
    body = rss("<item><title>氢能</title><link>/1</link></item>", "utf-8").encode("gb18030")
    parsed = feed(body, content_type="application/rss+xml; charset=gb18030")
    assert parsed.items[0].title == "氢能"


def test_undefined_entities_do_not_lose_the_items() -> None:
    body = rss(
        "<item><title>Wind &mdash; solar &nbsp;news</title><link>/1</link></item>"
        "<item><title>Second &bogus; one</title><link>/2</link></item>"
    ).encode()
    parsed = feed(body)
    assert [i.url for i in parsed.items] == [
        "https://feeds.example.org/1",
        "https://feeds.example.org/2",
    ]
    assert parsed.items[0].title == "Wind — solar news"


def test_ill_formed_xml_still_gives_what_it_can() -> None:
    body = rss(
        "<item><title>Good</title><link>/1</link></item>"
        "<item><title>Broken & unescaped <b>tag</title><link>/2</link></item>"
    ).encode()
    parsed = feed(body)
    assert parsed.bozo is not None
    assert parsed.items[0].title == "Good"
    assert len(parsed.items) == 2


def test_feed_served_as_text_html_is_still_a_feed() -> None:
    body = rss("<item><title>Served as HTML</title><link>/1</link></item>").encode()
    parsed = feed(body, content_type="text/html; charset=utf-8")
    assert [i.title for i in parsed.items] == ["Served as HTML"]


def test_html_page_is_not_a_feed_and_says_what_it_got() -> None:
    page = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>x</body></html>"
    with pytest.raises(NotAFeed) as info:
        feed(page, content_type="text/html; charset=utf-8")
    assert str(info.value) == f"not a feed: got an HTML page (text/html, {len(page)} bytes)"


def test_empty_body_says_so() -> None:
    with pytest.raises(NotAFeed, match=r"got an empty body \(application/rss\+xml, 0 bytes\)"):
        feed(b"", content_type="application/rss+xml")


def test_other_xml_is_not_a_feed() -> None:
    with pytest.raises(NotAFeed, match="XML that is not RSS, RDF or Atom"):
        feed(b'<?xml version="1.0"?><sitemap><url>x</url></sitemap>')


def test_valid_feed_without_items_is_an_empty_feed_not_an_error() -> None:
    parsed = feed(rss("").encode())
    assert parsed.version == "rss20"
    assert parsed.items == []


# -- identity ---------------------------------------------------------------------------------


def test_duplicate_guids_do_not_collapse_different_entries() -> None:
    body = rss(
        '<item><title>A</title><link>/a</link><guid isPermaLink="false">same</guid></item>'
        '<item><title>B</title><link>/b</link><guid isPermaLink="false">same</guid></item>'
        '<item><title>C</title><guid isPermaLink="false">same</guid></item>'
        '<item><title>D</title><guid isPermaLink="false">same</guid></item>'
        '<item><title>E</title><guid isPermaLink="false">unique</guid></item>'
    ).encode()
    items = feed(body).items
    assert [i.guid for i in items] == [None, None, None, None, "unique"]
    rows = [normalize(i, None, NOW) for i in items]
    keys = [r["canonical_url"] for r in rows if r]
    assert len(set(keys)) == 5  # five different entries, five identities


def test_a_guid_repeated_on_the_same_entry_is_kept() -> None:
    item = '<item><title>A</title><link>/a</link><guid isPermaLink="false">g1</guid></item>'
    items = feed(rss(item + item).encode()).items
    assert [i.guid for i in items] == ["g1", "g1"]


def test_entry_without_link_or_guid_gets_a_key_from_title_and_date() -> None:
    body = rss(
        "<item><title>No link</title><pubDate>Tue, 24 Feb 2026 07:20:00 GMT</pubDate></item>"
        "<item><title>No link</title><pubDate>Wed, 25 Feb 2026 01:00:00 GMT</pubDate></item>"
    ).encode()
    rows = [normalize(i, None, NOW) for i in feed(body).items]
    keys = [r["canonical_url"] for r in rows if r]
    assert all(k.startswith("urn:newsagg:ex:sha1:") for k in keys)
    assert len(set(keys)) == 2
    again = [normalize(i, None, NOW) for i in feed(body).items]
    assert [r["canonical_url"] for r in again if r] == keys  # stable across polls


def test_non_permalink_http_guid_is_not_the_link() -> None:
    body = rss(
        '<item><title>T</title><guid isPermaLink="false">https://x.example.org/g</guid></item>'
    ).encode()
    (item,) = feed(body).items
    assert item.url == ""
    assert item.guid == "https://x.example.org/g"


def test_relative_links_resolve_against_the_final_url_after_redirects() -> None:
    body = rss("<item><title>T</title><link>story/1.html</link></item>").encode()
    (item,) = feed(body, "https://moved.example.org/feeds/new.xml").items
    assert item.url == "https://moved.example.org/feeds/story/1.html"


# -- text -------------------------------------------------------------------------------------


def test_text_is_unescaped_exactly_once() -> None:
    body = rss(
        "<item><title>AT&amp;T &amp;amp; grid</title><link>/1</link>"
        "<description>&lt;p&gt;Tom &amp;amp; Jerry &amp;lt;3&lt;/p&gt;</description></item>"
    ).encode()
    (item,) = feed(body).items
    # An RSS title is HTML (as feedparser reads it): XML-decoded "AT&T &amp; grid", then HTML.
    assert item.title == "AT&T & grid"
    assert item.snippet == "Tom & Jerry <3"


def test_snippet_whitespace_collapsed_and_capped() -> None:
    long = "word " * 1000
    body = rss(
        f"<item><title>T</title><link>/1</link><description>\n\n  a \t b {long}</description>"
        "</item>"
    ).encode()
    (item,) = feed(body).items
    row = normalize(item, None, NOW)
    assert row is not None
    assert row["snippet"].startswith("a b word word")
    assert len(row["snippet"]) <= 2000
    assert row["snippet"].endswith("…")


# -- dates ------------------------------------------------------------------------------------


def test_updated_when_no_published_says_so() -> None:
    body = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<id>urn:t</id><updated>2026-02-24T10:00:00Z</updated>
<entry><title>U</title><link href="https://a.example.org/1"/><id>urn:1</id>
<updated>2026-02-24T10:00:00Z</updated></entry></feed>"""
    (item,) = feed(body).items
    assert item.published_from == "feed_updated"
    assert to_utc_string(item.published_at) == "2026-02-24T10:00:00Z"


def test_cst_in_an_english_us_source_stays_zoned_by_the_source() -> None:
    body = rss(
        "<item><title>T</title><link>/1</link><pubDate>Tue, 24 Feb 2026 15:20:00 CST</pubDate>"
        "</item>"
    ).encode()
    (item,) = feed(body, tz=ZoneInfo("America/Chicago")).items
    assert to_utc_string(item.published_at) == "2026-02-24T21:20:00Z"
    (zh,) = feed(body).items
    assert to_utc_string(zh.published_at) == "2026-02-24T07:20:00Z"


def test_a_date_without_a_time_is_day_precise() -> None:
    body = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://r.example/"><title>t</title><link>https://r.example/</link></channel>
<item rdf:about="https://r.example/1"><title>Day only</title><link>https://r.example/1</link>
<dc:date>2026-02-24</dc:date></item></rdf:RDF>"""
    (item,) = feed(body).items
    assert item.published_precision == "day"
    assert to_utc_string(item.published_at) == "2026-02-23T16:00:00Z"  # Shanghai midnight
    assert item.published_from == "feed_updated"  # feedparser reads dc:date as "updated"
