"""Pure feed parsing: literal RSS 2.0, Atom 1.0 and RSS 1.0 bytes in, articles out."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from aggregator.dates import to_utc_string
from aggregator.errors import AggregatorError
from aggregator.feeds import NotAFeed, ParsedFeed, looks_like_feed, parse_feed
from aggregator.items import Article

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 2, 25, 3, 0, tzinfo=UTC)
FEED_URL = "https://www.example.com/feeds/rss.xml"

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
<title>Energy &amp; Power</title><link>https://www.example.com/</link><description>d</description>
<item>
  <title>First &amp; best</title>
  <link>https://www.example.com/a/1.html?utm_source=rss</link>
  <guid isPermaLink="false">id-1</guid>
  <description>&lt;p&gt;Solar &amp;amp; wind&lt;/p&gt;&lt;p&gt;second&lt;/p&gt;</description>
  <pubDate>Tue, 24 Feb 2026 15:20:00 +0800</pubDate>
</item>
<item>
  <title>Second</title>
  <link>a/2.html</link>
  <description><![CDATA[<b>bold</b> &amp;amp; text]]></description>
  <pubDate>Tue, 24 Feb 2026 15:20:00</pubDate>
</item>
<item>
  <title>Third</title><link>https://www.example.com/a/3.html</link>
  <pubDate>Tue, 24 Feb 2026 15:20:00 CST</pubDate>
</item>
<item><title>Fourth</title><link>https://www.example.com/a/4.html</link></item>
<item>
  <title>Fifth</title><link>https://www.example.com/a/5.html</link>
  <pubDate>Tue, 24 Feb 2026 07:20:00 GMT</pubDate>
</item>
<item>
  <description>only a description here</description>
  <guid>https://www.example.com/a/6.html</guid>
</item>
</channel></rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://atom.example.org/news/">
<title type="html">Atom &amp;amp; feed</title>
<link href="https://atom.example.org/"/><id>urn:x</id><updated>2026-02-24T10:00:00Z</updated>
<entry>
  <title>A1</title><link href="one.html"/><id>urn:uuid:1</id>
  <updated>2026-02-24T09:00:00Z</updated><published>2026-02-24T08:00:00+08:00</published>
  <summary type="html">&lt;p&gt;x &amp;amp;amp; y&lt;/p&gt;</summary>
</entry>
<entry xml:base="https://other.example.org/dir/">
  <title>A2</title><link href="two.html"/><id>urn:uuid:2</id>
  <updated>2026-02-24T09:30:00Z</updated>
  <content type="html">&lt;p&gt;content &lt;em&gt;body&lt;/em&gt;&lt;/p&gt;</content>
</entry>
<entry>
  <title>A3</title><link rel="alternate" href="/abs/three.html"/><id>urn:uuid:3</id>
  <updated>2026-02-24T17:30:00</updated>
</entry>
</feed>
"""

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://rdf.example.org/">
  <title>RDF feed</title><link>https://rdf.example.org/</link><description>d</description>
  <items><rdf:Seq><rdf:li resource="https://rdf.example.org/1"/>
  <rdf:li resource="https://rdf.example.org/2"/></rdf:Seq></items>
</channel>
<item rdf:about="https://rdf.example.org/1">
  <title>R1</title><link>https://rdf.example.org/1</link><description>d1</description>
  <dc:date>2026-02-24T15:20:00+08:00</dc:date>
</item>
<item rdf:about="https://rdf.example.org/2">
  <title>R2</title><link>https://rdf.example.org/2</link>
  <dc:date>2026-02-24T15:20:00</dc:date>
</item>
</rdf:RDF>
"""


def feed(body: bytes, url: str = FEED_URL, **kwargs: object) -> ParsedFeed:
    options: dict[str, object] = {"source": "example", "tz": SHANGHAI, "now": NOW}
    options.update(kwargs)
    return parse_feed(body, url, **options)  # type: ignore[arg-type]


def rss_item(inner: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://www.example.com/</link><item>{inner}</item></channel></rss>"
    ).encode()


def utc(article: Article) -> str:
    assert article.published_at is not None
    return to_utc_string(article.published_at)


# -- RSS 2.0 -----------------------------------------------------------------------------------


def test_rss_channel() -> None:
    parsed = feed(RSS)
    assert parsed.title == "Energy & Power"
    assert parsed.link == "https://www.example.com/"
    assert parsed.version == "rss20"


def test_rss_items_in_document_order() -> None:
    assert [a.title for a in feed(RSS).items] == [
        "First & best",
        "Second",
        "Third",
        "Fourth",
        "Fifth",
        "only a description here",  # no title: the snippet stands in
    ]


def test_rss_links_and_guids() -> None:
    items = feed(RSS).items
    assert items[0].url == "https://www.example.com/a/1.html?utm_source=rss"
    assert items[0].guid == "id-1"
    assert items[1].url == "https://www.example.com/feeds/a/2.html"  # relative to the feed URL
    assert items[1].guid is None
    assert items[5].url == "https://www.example.com/a/6.html"  # a permalink guid as the link
    assert items[5].guid == "https://www.example.com/a/6.html"
    assert {a.source for a in items} == {"example"}


def test_rss_html_description_becomes_text_once() -> None:
    items = feed(RSS).items
    # Escaped HTML whose text holds "&amp;": tags dropped, entities decoded once.
    assert items[0].snippet == "Solar & wind second"
    # CDATA HTML whose text is "&amp;" literally.
    assert items[1].snippet == "bold &amp; text"
    assert items[2].snippet == ""


def test_rss_zoned_pubdate() -> None:
    first = feed(RSS).items[0]
    assert utc(first) == "2026-02-24T07:20:00Z"
    assert first.published_precision == "second"
    assert first.published_from == "feed"
    assert utc(feed(RSS).items[4]) == "2026-02-24T07:20:00Z"  # GMT


def test_rss_zoneless_pubdate_is_read_in_the_source_zone() -> None:
    second = feed(RSS).items[1]
    assert utc(second) == "2026-02-24T07:20:00Z"
    assert second.published_from == "feed"
    # The same string in a New York source.
    second_ny = feed(RSS, tz=ZoneInfo("America/New_York")).items[1]
    assert utc(second_ny) == "2026-02-24T20:20:00Z"


def test_rss_cst_is_the_source_zone_not_us_central() -> None:
    third = feed(RSS).items[2]
    assert utc(third) == "2026-02-24T07:20:00Z"  # US Central would give 21:20Z


def test_rss_no_date_is_fetch_time() -> None:
    fourth = feed(RSS).items[3]
    assert fourth.published_at == NOW
    assert fourth.published_precision == "second"
    assert fourth.published_from == "fetch_time"


def test_rss_cut_title_and_snippet_are_flagged() -> None:
    body = rss_item(
        "<title>光伏组件价格继续...</title><link>https://www.example.com/c.html</link>"
        "<description>组件价格本周……</description>"
    )
    (item,) = feed(body).items
    assert item.title_truncated is True
    assert item.snippet_truncated is True


def test_rss_item_with_only_a_link_takes_the_link_as_title() -> None:
    body = rss_item("<link>https://www.example.com/empty.html</link>")
    (item,) = feed(body).items
    assert item.title == "https://www.example.com/empty.html"
    assert item.url == "https://www.example.com/empty.html"


def test_rss_item_with_nothing_at_all_is_skipped_and_counted() -> None:
    parsed = feed(rss_item("<title> </title><link></link><description></description>"))
    assert parsed.items == []
    assert (parsed.entries, parsed.skipped) == (1, 1)


def test_rss_item_with_javascript_link_and_no_guid_has_no_url() -> None:
    (item,) = feed(rss_item("<title>T</title><link>javascript:void(0)</link>")).items
    assert item.url == ""
    assert item.title == "T"


def test_rss_missing_title_uses_first_80_characters_of_snippet() -> None:
    (item,) = feed(rss_item(f"<description>{'光' * 100}</description>")).items
    assert item.title == "光" * 80
    assert item.snippet == "光" * 100


def test_rss_non_permalink_guid_is_not_turned_into_a_link() -> None:
    (item,) = feed(rss_item('<title>T</title><guid isPermaLink="false">12345</guid>')).items
    assert item.guid == "12345"
    assert item.url == ""


def test_rss_unreadable_pubdate_falls_back_to_fetch_time() -> None:
    body = rss_item(
        "<title>T</title><link>https://www.example.com/g.html</link><pubDate>garbage</pubDate>"
    )
    (item,) = feed(body).items
    assert item.published_at == NOW
    assert item.published_from == "fetch_time"


# -- Atom 1.0 ----------------------------------------------------------------------------------


def test_atom_channel() -> None:
    parsed = feed(ATOM, "https://atom.example.org/atom.xml")
    assert parsed.title == "Atom & feed"  # type="html": the HTML "&amp;" decoded once
    assert parsed.link == "https://atom.example.org/"
    assert parsed.version == "atom10"


def test_atom_entries_in_order_with_ids() -> None:
    items = feed(ATOM, "https://atom.example.org/atom.xml").items
    assert [a.title for a in items] == ["A1", "A2", "A3"]
    assert [a.guid for a in items] == ["urn:uuid:1", "urn:uuid:2", "urn:uuid:3"]


def test_atom_xml_base_resolves_relative_links() -> None:
    items = feed(ATOM, "https://atom.example.org/atom.xml").items
    assert items[0].url == "https://atom.example.org/news/one.html"  # feed-level xml:base
    assert items[1].url == "https://other.example.org/dir/two.html"  # entry-level xml:base
    assert items[2].url == "https://atom.example.org/abs/three.html"


def test_atom_summary_and_content_become_text_once() -> None:
    items = feed(ATOM, "https://atom.example.org/atom.xml").items
    assert items[0].snippet == "x &amp; y"
    assert items[1].snippet == "content body"  # content when there is no summary
    assert items[2].snippet == ""


def test_atom_published_wins_over_updated() -> None:
    items = feed(ATOM, "https://atom.example.org/atom.xml").items
    assert utc(items[0]) == "2026-02-24T00:00:00Z"
    assert items[0].published_from == "feed"


def test_atom_updated_when_no_published() -> None:
    items = feed(ATOM, "https://atom.example.org/atom.xml").items
    assert utc(items[1]) == "2026-02-24T09:30:00Z"
    assert items[1].published_from == "feed_updated"


def test_atom_zoneless_updated_is_read_in_the_source_zone() -> None:
    items = feed(ATOM, "https://atom.example.org/atom.xml").items
    assert utc(items[2]) == "2026-02-24T09:30:00Z"  # 17:30 in Shanghai


def test_atom_plain_text_title_is_not_read_as_html() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:t</id>
<updated>2026-02-24T10:00:00Z</updated>
<entry><title type="text">Use &lt;b&gt; for bold &amp;amp; more</title>
<link href="https://atom.example.org/1"/><id>urn:1</id><updated>2026-02-24T10:00:00Z</updated>
</entry></feed>"""
    (item,) = feed(body).items
    assert item.title == "Use <b> for bold &amp; more"


# -- RSS 1.0 (RDF) -----------------------------------------------------------------------------


def test_rdf_items() -> None:
    parsed = feed(RDF, "https://rdf.example.org/rss")
    assert parsed.title == "RDF feed"
    assert parsed.version == "rss10"
    assert [(a.title, a.url) for a in parsed.items] == [
        ("R1", "https://rdf.example.org/1"),
        ("R2", "https://rdf.example.org/2"),
    ]
    assert parsed.items[0].snippet == "d1"
    assert parsed.items[0].guid == "https://rdf.example.org/1"


def test_rdf_dates() -> None:
    items = feed(RDF, "https://rdf.example.org/rss").items
    assert utc(items[0]) == "2026-02-24T07:20:00Z"
    assert utc(items[1]) == "2026-02-24T07:20:00Z"  # zone-less: read in Shanghai


# -- not a feed --------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   \n\t", b"\n"])
def test_empty_body_is_not_a_feed(body: bytes) -> None:
    with pytest.raises(NotAFeed, match="empty"):
        feed(body)


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><head><title>x</title></head><body><p>hi</p></body></html>",
        b"<html><body><h1>404 Not Found</h1></body></html>",
        b"not xml at all",
        b'{"items": []}',
    ],
)
def test_html_and_other_bodies_are_not_a_feed(body: bytes) -> None:
    with pytest.raises(NotAFeed) as info:
        feed(body, content_type="text/html; charset=utf-8")
    assert "text/html" in str(info.value)
    assert f"{len(body)} bytes" in str(info.value)


def test_not_a_feed_without_content_type() -> None:
    with pytest.raises(NotAFeed, match="no content type"):
        feed(b"<html><body>x</body></html>")


def test_not_a_feed_is_an_aggregator_error() -> None:
    assert issubclass(NotAFeed, AggregatorError)


def test_gbk_feed_is_decoded_from_its_declaration() -> None:
    body = (
        '<?xml version="1.0" encoding="gbk"?><rss version="2.0"><channel><title>光伏</title>'
        "<item><title>组件价格</title><link>https://www.example.com/1</link></item>"
        "</channel></rss>"
    ).encode("gbk")
    parsed = feed(body)
    assert parsed.title == "光伏"
    assert parsed.items[0].title == "组件价格"


# -- looks_like_feed ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        RSS,
        ATOM,
        RDF,
        b"<rss version='2.0'>",
        b"<RSS version='2.0'>",
        b"  \n<feed xmlns='http://www.w3.org/2005/Atom'>",
        b"\xef\xbb\xbf<?xml version='1.0'?>\n<!-- generator -->\n<rss>",
        b"<?xml version='1.0'?><!-- a --><!-- b --><feed>",
    ],
)
def test_looks_like_feed(body: bytes) -> None:
    assert looks_like_feed(body)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><head></head></html>",
        b"<!DOCTYPE html><html>",
        b"<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'>",
        b'{"rss": 1}',
    ],
)
def test_does_not_look_like_feed(body: bytes) -> None:
    assert not looks_like_feed(body)


def test_looks_like_feed_with_stylesheet_instruction() -> None:
    body = b'<?xml version="1.0"?>\n<?xml-stylesheet type="text/xsl" href="/rss.xsl"?>\n<rss>'
    assert looks_like_feed(body)


def test_impossible_pubdate_is_no_date_and_flagged() -> None:
    # the untrusted-date policy (issue 5) for feed items: 2月30日 is not replaced by the fetch time
    body = rss_item(
        "<title>T</title><link>https://www.example.com/h.html</link>"
        "<pubDate>2026-02-30 10:00</pubDate>"
    )
    (item,) = feed(body).items
    assert item.published_at is None
    assert item.flags == ["date_suspect"]
