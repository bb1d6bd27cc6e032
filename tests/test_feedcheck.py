"""Tests for tests/feedcheck.py, our offline re-implementation of the W3C RSS 2.0 rules.

Each test feeds the checker a small document that breaks one rule and asserts that the
W3C message name comes back at the W3C level; a clean document must give no problems.
"""

from __future__ import annotations

import calendar

import pytest
from feedcheck import Problem, validate_rss

NOW = calendar.timegm((2026, 11, 28, 12, 0, 0))
SELF = "https://news.example.org/feeds/all.xml"
NS = 'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/"'
CONTENT_NS = 'xmlns:content="http://purl.org/rss/1.0/modules/content/"'
ITEM = """<item>
      <title>Grid storage tender opens</title>
      <link>https://news.example.org/a/1</link>
      <description>Bids close in March.</description>
      <guid>https://news.example.org/a/1</guid>
      <pubDate>Tue, 24 Feb 2026 08:30:00 +0000</pubDate>
    </item>"""


def feed(
    items: str = ITEM,
    *,
    head: str | None = None,
    extra: str = "",
    self_link: str = f'<atom:link href="{SELF}" rel="self" type="application/rss+xml"/>',
    ns: str = NS,
    decl: str = '<?xml version="1.0" encoding="UTF-8"?>',
) -> bytes:
    if head is None:
        head = """<title>Energy news</title>
    <link>https://news.example.org/</link>
    <description>Every headline, newest first.</description>"""
    return f"""{decl}
<rss version="2.0" {ns}>
  <channel>
    {head}
    {self_link}
    <language>zh-cn</language>
    <lastBuildDate>Tue, 24 Feb 2026 08:30:00 GMT</lastBuildDate>{extra}
    {items}
  </channel>
</rss>
""".encode()


DC_DATE_AND_PUBDATE = (
    "<dc:date>2026-02-24T08:30:00Z</dc:date><pubDate>Tue, 24 Feb 2026 08:30:00 GMT</pubDate>"
)


def item(body: str) -> str:
    return f"<item>{body}</item>"


def check(data: bytes, location: str | None = SELF) -> list[Problem]:
    return validate_rss(data, location, now=NOW)


def codes(data: bytes, location: str | None = SELF) -> set[tuple[str, str]]:
    return {(p.level, p.code) for p in check(data, location)}


def test_minimal_valid_feed_has_no_problems() -> None:
    assert check(feed()) == []


def test_real_world_extras_are_accepted() -> None:
    extras = """
    <generator>energy-news-aggregator 0.1.0</generator>
    <docs>http://www.rssboard.org/rss-specification</docs>
    <ttl>60</ttl>
    <category domain="https://news.example.org/topics">solar</category>
    <managingEditor>desk@news.example.org (News Desk)</managingEditor>"""
    rich = item(
        "<title>PV prices &#x3C;b> fall</title><link>https://news.example.org/a/2?x=1&amp;y=2</link>"
        '<description>&lt;p&gt;Prices &amp;amp; margins, see &lt;a href="https://x.org/r"&gt;'
        "report&lt;/a&gt;.&lt;/p&gt;</description>"
        "<content:encoded><![CDATA[<p>Full <em>text</em> &amp; more<br/></p>]]></content:encoded>"
        '<guid isPermaLink="false">energy-news:item:00000042</guid>'
        "<dc:creator>Li Wei</dc:creator><category>storage</category>"
        '<enclosure url="https://cdn.example.org/a.jpg" length="0" type="image/jpeg"/>'
        "<pubDate>Sun, 22 Feb 2026 16:00:00 EST</pubDate>"
    )
    assert check(feed(ITEM + rich, extra=extras, ns=f"{NS} {CONTENT_NS}")) == []


def test_malformed_xml_is_an_error() -> None:
    problems = check(feed().replace(b"</channel>", b""))
    assert [(p.level, p.code) for p in problems] == [("error", "SAXError")]
    assert problems[0].line is not None


def test_undefined_named_entity_is_an_error() -> None:
    assert codes(feed(item("<title>a&nbsp;b</title>"))) == {("error", "UndefinedNamedEntity")}


def test_bytes_not_matching_declared_encoding() -> None:
    data = feed(item("<title>caf\u00e9</title><guid>https://x.org/1</guid>")).replace(
        "caf\u00e9".encode(), b"caf\xe9"
    )
    assert codes(data) == {("error", "UnicodeError")}


def test_obscure_encoding_declaration_warns() -> None:
    data = feed(decl='<?xml version="1.0" encoding="utf8"?>')
    assert codes(data) == {("warning", "ObscureEncoding")}


def test_bad_characters_warn() -> None:
    assert ("warning", "BadCharacters") in codes(feed(item("<title>caf\u00c3\u00a9</title>")))


@pytest.mark.parametrize(
    ("version", "expected"),
    [('version="3.0"', "InvalidRSSVersion"), ("", "MissingAttribute")],
)
def test_rss_version(version: str, expected: str) -> None:
    data = feed().replace(b'version="2.0"', version.encode())
    assert ("error", expected) in codes(data)


def test_root_must_be_rss_with_one_channel() -> None:
    assert codes(b"<feed/>") == {("error", "UndefinedElement")}
    assert codes(b'<rss version="2.0"/>') == {("error", "MissingElement")}
    twice = feed().replace(b"</rss>", b"<channel/></rss>")
    assert ("error", "DuplicateElement") in codes(twice)


@pytest.mark.parametrize("missing", ["title", "link", "description"])
def test_channel_requires_title_link_description(missing: str) -> None:
    head = "".join(
        f"<{name}>{value}</{name}>"
        for name, value in [("title", "T"), ("link", "https://x.org/"), ("description", "D")]
        if name != missing
    )
    assert codes(feed(head=head)) == {("error", f"Missing{missing.title()}")}


def test_missing_atom_self_link_warns() -> None:
    assert codes(feed(self_link="")) == {("warning", "MissingAtomSelfLink")}


def test_self_link_must_match_location() -> None:
    assert codes(feed(), "https://news.example.org/feeds/other.xml") == {
        ("warning", "SelfDoesntMatchLocation")
    }
    # same URL after normalising scheme/host case and the default port
    assert check(feed(), "HTTPS://News.Example.org:443/feeds/all.xml") == []
    assert check(feed(), None) == []


def test_atom_link_rules() -> None:
    relative = feed(self_link='<atom:link href="/all.xml" rel="self"/>')
    assert codes(relative) == {("warning", "RelativeSelf")}
    no_href = feed(self_link='<atom:link rel="self"/>')
    assert codes(no_href) == {("error", "MissingHref")}
    html_type = feed(self_link=f'<atom:link href="{SELF}" rel="self" type="text/html"/>')
    assert codes(html_type) == {("warning", "SelfNotAtom")}
    odd_rel = feed(extra=f'<atom:link href="{SELF}" rel="sideways"/>')
    assert codes(odd_rel) == {("warning", "UnregisteredAtomLinkRel")}


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("2026-02-24T08:30:00Z", ("error", "InvalidRFC2822Date")),
        ("Tue, 24 Feb 2026 08:30:00", ("error", "InvalidRFC2822Date")),
        ("Mon, 24 Feb 2026 08:30:00 +0000", ("error", "IncorrectDOW")),
        ("Tue, 30 Feb 2026 08:30:00 +0000", ("error", "InvalidRFC2822Date")),
        ("Tue, 24 Feb 26 08:30:00 +0000", ("warning", "ProblematicalRFC822Date")),
        ("Tue, 24 Feb 2026 08:30:00 +0545", ("warning", "ProblematicalRFC822Date")),
        ("Tue, 24 Feb 2026 08:30:00 CET", ("error", "InvalidRFC2822Date")),
        ("Tue, 01 Jan 1980 00:00:00 GMT", ("warning", "ImplausibleDate")),
        ("Fri, 01 Jan 2027 00:00:00 GMT", ("warning", "ImplausibleDate")),
    ],
)
def test_bad_dates(date: str, expected: tuple[str, str]) -> None:
    data = feed(ITEM.replace("Tue, 24 Feb 2026 08:30:00 +0000", date))
    assert codes(data) == {expected}


@pytest.mark.parametrize(
    "date",
    ["Tue, 24 Feb 2026 08:30:00 EST", "24 Feb 2026 08:30 -0500", "Tue, 24 Feb 2026 08:30:00 Z"],
)
def test_good_dates(date: str) -> None:
    assert check(feed(ITEM.replace("Tue, 24 Feb 2026 08:30:00 +0000", date))) == []


def test_dc_date_must_be_w3cdtf() -> None:
    bad = item("<title>x</title><guid>https://x.org/1</guid><dc:date>24/02/2026</dc:date>")
    assert codes(feed(bad)) == {("error", "InvalidW3CDTFDate")}


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("&lt;b&gt;Solar&lt;/b&gt; boom", "ContainsHTML"),  # escaped end tag
        ("&lt;b&gt;Solar boom", "CharacterData"),  # escaped start tag only
        ("Solar &amp;amp; wind", "ContainsHTML"),  # double-escaped entity
        ("Price &#60;b> up", "CharacterData"),  # decimal reference does not exempt
        ("Price &#x3C;/b> up", "ContainsHTML"),  # hex does not exempt a real end tag
    ],
)
def test_markup_in_plain_text_title_warns(title: str, expected: str) -> None:
    assert codes(feed(item(f"<title>{title}</title><guid>https://x.org/1</guid>"))) == {
        ("warning", expected)
    }


@pytest.mark.parametrize(
    "title", ["Price &#x3C;b> up", "AT&amp;T and R&amp;D", "Wind &gt; coal", "&#x26;lt; ok"]
)
def test_plain_text_title_accepted(title: str) -> None:
    assert check(feed(item(f"<title>{title}</title><guid>https://x.org/1</guid>"))) == []


def test_channel_description_is_plain_text_too() -> None:
    head = "<title>T</title><link>https://x.org/</link><description>&lt;p&gt;D</description>"
    assert codes(feed(head=head)) == {("warning", "CharacterData")}


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("/a/1", ("error", "InvalidFullLink")),
        ("news.example.org/a/1", ("error", "InvalidFullLink")),
        ("http:/a/1", ("error", "InvalidFullLink")),
        ("https://news.example.org/a b", ("error", "InvalidUriChar")),
        ("https://news.example.org/能源", ("error", "InvalidFullLink")),
        ("gopherx://news.example.org/", ("warning", "SchemeNotIANARegistered")),
    ],
)
def test_links_must_be_absolute_uris(link: str, expected: tuple[str, str]) -> None:
    body = f"<title>x</title><link>{link}</link><guid isPermaLink='false'>abc-123456789</guid>"
    assert codes(feed(item(body))) == {expected}


@pytest.mark.parametrize(
    ("guid", "expected"),
    [
        ("<guid>42-energy</guid>", ("error", "InvalidHttpGUID")),
        ("<guid>tag:example.org,2026:1</guid>", ("error", "InvalidPermalink")),
        ("<guid isPermaLink='yes'>https://x.org/1</guid>", ("error", "InvalidBooleanAttribute")),
        ("<guid isPermaLink='false'>42</guid>", ("warning", "NotSufficientlyUnique")),
        ("", ("warning", "MissingGuid")),
    ],
)
def test_guid_rules(guid: str, expected: tuple[str, str]) -> None:
    assert codes(feed(item(f"<title>x</title>{guid}"))) == {expected}


def test_duplicate_guid_is_an_error() -> None:
    assert codes(feed(ITEM + ITEM)) == {("error", "DuplicateValue")}


def test_undefined_elements_are_errors() -> None:
    summary = item("<title>x</title><guid>https://x.org/1</guid><summary>s</summary>")
    assert codes(feed(summary)) == {("error", "UndefinedElement")}
    assert codes(feed(extra="<updated>2026</updated>")) == {("error", "UndefinedElement")}
    assert codes(feed(item("<title>x</title><guid>https://x.org/1</guid><dc:foo>f</dc:foo>"))) == {
        ("error", "UndefinedElement")
    }
    nested = item("<title><b>x</b></title><guid>https://x.org/1</guid>")
    assert codes(feed(nested)) == {("error", "UndefinedElement")}


def test_unknown_namespace_warns_but_its_elements_pass() -> None:
    data = feed(extra="<x:stat>1</x:stat>", ns=f'{NS} xmlns:x="urn:example:x"')
    assert codes(data) == {("warning", "UnknownNamespace")}


def test_reserved_prefix_and_extension_attributes() -> None:
    moved = feed(ns=NS.replace("http://purl.org/dc/elements/1.1/", "urn:example:dc"))
    assert codes(moved) == {("warning", "ReservedPrefix")}
    ext_ns = f'{NS} xmlns:x="urn:example:x"'
    attr = feed(item('<title x:lang="zh">x</title><guid>https://x.org/1</guid>'), ns=ext_ns)
    assert codes(attr) == {("warning", "UnknownNamespace"), ("warning", "UseOfExtensionAttr")}
    # W3C drops UseOfExtensionAttr when <docs> points at the RSS Advisory Board spec
    docs = "<docs>http://www.rssboard.org/rss-specification</docs>"
    rssboard = feed(
        item('<title x:lang="zh">x</title><guid>https://x.org/1</guid>'), extra=docs, ns=ext_ns
    )
    assert codes(rssboard) == {("warning", "UnknownNamespace")}


def test_xml_version_must_be_1_0() -> None:
    assert ("error", "BadXmlVersion") in codes(feed(decl='<?xml version="1.1" encoding="UTF-8"?>'))


def test_unexpected_attribute_and_text() -> None:
    data = feed(item('<title type="html">x</title><guid>https://x.org/1</guid>'))
    assert codes(data) == {("error", "UnexpectedAttribute")}
    assert codes(feed(extra="stray")) == {("error", "UnexpectedText")}


def test_duplicate_channel_element_is_an_error() -> None:
    assert codes(feed(extra="<title>again</title>")) == {("error", "DuplicateElement")}


def test_item_needs_title_or_description() -> None:
    data = feed(item("<link>https://x.org/1</link><guid>https://x.org/1</guid>"))
    assert codes(data) == {("error", "ItemMustContainTitleOrDescription")}


def test_misplaced_item_warns() -> None:
    data = feed().replace(b"</channel>", b"<generator>g</generator></channel>")
    assert codes(data) == {("warning", "MisplacedItem")}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("<language>english</language>", ("error", "InvalidLanguage")),
        ("<ttl>soon</ttl>", ("error", "InvalidPositiveInteger")),
        ("<managingEditor>News Desk</managingEditor>", ("error", "InvalidContact")),
        ("<managingEditor>desk@news.example.org</managingEditor>", ("warning", "MissingRealName")),
        ("<textInput/>", ("warning", "AvoidTextInput")),
        (DC_DATE_AND_PUBDATE, ("warning", "DuplicateSemantics")),
    ],
)
def test_channel_value_rules(extra: str, expected: tuple[str, str]) -> None:
    if "<language>" in extra:
        extra_feed = feed(extra="").replace(b"<language>zh-cn</language>", extra.encode())
    else:
        extra_feed = feed(extra=extra)
    assert codes(extra_feed) == {expected}


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("R&amp;D spending", "NotHtml"),  # a bare '&' is an HTML syntax error
        ("1 &lt; 2", "NotHtml"),
        ("&lt;b&gt;unclosed", "NotHtml"),
        ("&lt;foo&gt;x&lt;/foo&gt;", "NotHtml"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;", "SecurityRisk"),
        ("&lt;p onclick='x()'&gt;hi&lt;/p&gt;", "SecurityRiskAttr"),
        ("&lt;p style='background: url(x)'&gt;hi&lt;/p&gt;", "DangerousStyleAttr"),
        ("&lt;a href='/a/2'&gt;more&lt;/a&gt;", "ContainsRelRef"),
    ],
)
def test_item_description_html_rules(description: str, expected: str) -> None:
    body = f"<title>x</title><description>{description}</description><guid>https://x.org/1</guid>"
    assert codes(feed(item(body))) == {("warning", expected)}


def test_content_encoded_needs_description_first() -> None:
    body = "<title>x</title><guid>https://x.org/1</guid><content:encoded>hi</content:encoded>"
    data = feed(item(body), ns=f"{NS} {CONTENT_NS}")
    assert codes(data) == {("warning", "NeedDescriptionBeforeContent")}


def test_enclosure_rules() -> None:
    body = '<title>x</title><guid>https://x.org/1</guid><enclosure url="/a.mp3" length="-1"/>'
    assert codes(feed(item(body))) == {
        ("error", "MissingAttribute"),
        ("error", "UseZeroForUnknown"),
        ("error", "InvalidURLAttribute"),
    }


def test_problem_carries_line_number() -> None:
    data = feed(item("<title>x</title>\n<link>/rel</link><guid>https://x.org/1</guid>"))
    (problem,) = check(data)
    lines = data.decode().splitlines()
    assert problem.line == next(n for n, ln in enumerate(lines, 1) if "/rel" in ln)
