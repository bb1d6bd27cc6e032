"""Export: one entry per story, digests, formats, discovery; valid, stable bytes, atomic writes."""

from __future__ import annotations

import html
import json
import os
import random
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from lxml import etree

from aggregator import export
from aggregator.config import Source
from aggregator.errors import ConfigError
from aggregator.export import (
    Channel,
    Entry,
    export_feed,
    export_feeds,
    render_rss,
    write_if_changed,
)
from aggregator.items import Article
from aggregator.normalize import normalize
from aggregator.store import Store
from aggregator.topics import load_taxonomy
from tests.conftest import NOW, ROOT
from tests.feedcheck import validate_rss
from tests.feedcheck_atom import problems_of, validate_atom, validate_json_feed

HOSTILE_TITLES = [
    "R&D spending < rises > 5% & more",
    "Ends with ]]> and <![CDATA[ inside",
    "<script>alert('x')</script> 光伏",
    "<b>bold</b> looks like markup &amp; entity",
    "控制字符\x00\x07\x1b在标题里",
    "emoji ☀️🔋⚡ and RTL مرحبا بالعالم \u202e reversed",
    "零宽\u200b字符\ufeff",
    "x" * 10_000,
    "<a href='javascript:alert(1)'>click</a> &#x3C;img src=x onerror=alert(1)&#x3E;",
]
TAXONOMY = load_taxonomy(ROOT / "data" / "topics.toml")
BASE = "https://news.example.org/feeds/"
CHECK_NOW = (NOW + timedelta(minutes=5)).timestamp()


def fill(
    store: Store,
    titles: list[str],
    source: str = "hostile",
    *,
    start: datetime = NOW,
    step: timedelta = timedelta(hours=1),
    url: str | None = None,
    key: str = "",
) -> list[int]:
    rows = []
    for i, title in enumerate(titles):
        article = Article(
            url=url or f"https://example.com/{source}/{key}{i}?utm_source=feed&q=a b",
            source=source,
            title=title,
            snippet=f"snippet {i}: {title[:200]} 1 < 2 && R&D",
            published_at=start - i * step,
            published_precision="minute",
            published_from="list",
            topics=["solar", "storage"] if i % 2 else ["grid"],
        )
        rows.append(normalize(article, None, NOW))
    return store.upsert_articles([r for r in rows if r], NOW).new_ids


def join_story(store: Store, story_id: int, *ids: int) -> None:
    """What clustering (issue 4) will do: put articles in one story."""
    marks = ",".join("?" * len(ids))
    with store.write() as conn:
        conn.execute(f"UPDATE articles SET story_id = ? WHERE id IN ({marks})", [story_id, *ids])


def assert_all_valid(result_feeds: list[Path], root: Path) -> int:
    checked = 0
    for path in result_feeds:
        if path.suffix not in (".xml", ".atom", ".json"):
            continue
        problems = problems_of(path, BASE + str(path.relative_to(root)), CHECK_NOW)
        assert problems == [], f"{path}: {problems}"
        checked += 1
    return checked


def test_every_feed_and_format_is_valid_on_hostile_data(db: Store, tmp_path: Path) -> None:
    db.sync_sources(
        [
            Source("hostile", "<script>x</script> & «源» ]]>", "feed", ("https://h.org/f",)),
            Source("other", "مصدر RTL ☀️", "feed", ("https://o.org/f",)),
        ]
    )
    ids = fill(db, HOSTILE_TITLES)
    other = fill(db, ["另一个来源的新闻 光伏"], source="other")
    evil = fill(db, ["javascript link 储能"], source="other", url="javascript:alert(1)")
    join_story(db, ids[0], ids[0], *other, *evil)  # a story with "also:" sources
    result = export_feeds(
        db, tmp_path, base_url=BASE, formats=["atom", "json"], taxonomy=TAXONOMY, now=NOW
    )
    # all, 2 digests, 2 sources, every taxonomy topic: each in 3 formats
    assert assert_all_valid(result.feeds, tmp_path) == 3 * (5 + len(TAXONOMY.topics))
    for path in result.feeds:
        text = path.read_text("utf-8")
        assert "\x00" not in text and "\x1b" not in text and "\u202e" not in text, path
        for markup in html_bodies(path):
            assert not re.search(r"<(script|img|iframe)", markup, re.I), (path, markup)
            for link in re.findall(r"(?:href|src)=\"([^\"]*)\"", markup):
                assert link.startswith(("http://", "https://")), (path, link)
        for link in links_of(path):
            assert link.startswith(("http://", "https://")), (path, link)


def html_bodies(path: Path) -> list[str]:
    """The HTML a reader renders: descriptions, Atom html content, JSON content_html."""
    if path.suffix == ".json":
        return [i.get("content_html", "") for i in json.loads(path.read_bytes())["items"]]
    if path.suffix not in (".xml", ".atom"):
        return []
    root = etree.fromstring(path.read_bytes())
    return [
        el.text or ""
        for el in root.iter("description", "{http://www.w3.org/2005/Atom}content")
        if el.getparent().tag != "channel"
    ]


def links_of(path: Path) -> list[str]:
    if path.suffix == ".json":
        feed = json.loads(path.read_bytes())
        return [feed["feed_url"], *(i["url"] for i in feed["items"] if "url" in i)]
    if path.suffix not in (".xml", ".atom"):
        return []
    root = etree.fromstring(path.read_bytes())
    found = [el.text or "" for el in root.iter("link") if el.text]
    return found + [el.get("href") for el in root.iter("{*}link") if el.get("href")]


def test_text_survives_the_round_trip_escaped_once(db: Store, tmp_path: Path) -> None:
    fill(db, HOSTILE_TITLES[:4])
    export_feeds(db, tmp_path, now=NOW)
    data = (tmp_path / "all.xml").read_bytes()
    assert b"&amp;" not in data and b"&lt;" not in data
    assert b"&#x26;" in data and b"&#x3C;" in data
    parsed = feedparser.parse(data)
    titles = {entry.title for entry in parsed.entries}
    assert "R&D spending < rises > 5% & more" in titles
    # tags are stripped before storing (text.strip_markup); an escaped entity stays text
    assert "bold looks like markup &amp; entity" in titles
    # the description is HTML: what a reader renders is our plain text
    summaries = [html.unescape(e.summary) for e in parsed.entries]
    assert any("1 < 2 && R&D" in s for s in summaries)


def test_channel_and_items(db: Store, tmp_path: Path) -> None:
    ids = fill(db, ["第一条", "第二条", "第三条"])
    export_feeds(db, tmp_path, base_url="http://localhost:8080", limit=2, now=NOW)
    data = (tmp_path / "sources" / "hostile.xml").read_bytes()
    parsed = feedparser.parse(data)
    assert parsed.version == "rss20"
    assert [e.title for e in parsed.entries] == ["第一条", "第二条"]  # newest first, limited
    entry = parsed.entries[0]
    assert entry.link == "https://example.com/hostile/0?q=a+b"  # canonical: no utm_source
    assert entry.id == f"urn:newsagg:story:{ids[0]}"
    assert parsed.feed.updated == "Wed, 25 Feb 2026 03:00:00 +0000"  # the newest item, not now
    self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert self_links == ["http://localhost:8080/sources/hostile.xml"]
    assert [t.term for t in entry.tags] == ["grid"]
    channel = etree.fromstring(data).find("channel")
    assert channel.findtext("language") == "zh"
    assert channel.findtext("ttl") == "60"


def test_one_entry_per_story_with_also_sources_and_a_stable_guid(db: Store, tmp_path: Path) -> None:
    db.sync_sources(
        [
            Source("bjx", "北极星太阳能光伏网", "html", ("https://bjx.example/",)),
            Source("ne21", "国际能源网", "html", ("https://ne21.example/",)),
            Source("pvm", "pv magazine", "feed", ("https://pvm.example/",)),
        ]
    )
    [a] = fill(db, ["光伏组件价格继续下行"], source="bjx", start=NOW - timedelta(hours=2))
    [b] = fill(db, ["光伏组件价格继续下行。"], source="ne21", start=NOW - timedelta(hours=1))
    [c] = fill(db, ["Module prices keep falling"], source="pvm", start=NOW)
    join_story(db, a, a, b, c)
    export_feeds(db, tmp_path, now=NOW)
    entries = feedparser.parse((tmp_path / "all.xml").read_bytes()).entries
    assert len(entries) == 1
    [entry] = entries
    assert entry.id == f"urn:newsagg:story:{a}"
    assert entry.title == "光伏组件价格继续下行"  # the representative: earliest published
    assert entry.link == "https://example.com/bjx/0?q=a+b"
    assert "also: " in entry.summary
    also = re.findall(r'<a href="([^"]+)">([^<]+)</a>', entry.summary)
    assert [name for _, name in also] == ["国际能源网", "pv magazine"]
    assert also[0][0] == "https://example.com/ne21/0?q=a+b"
    # a source's own feed shows that source's article, under the same story guid
    pvm = feedparser.parse((tmp_path / "sources" / "pvm.xml").read_bytes()).entries
    assert [(e.id, e.title) for e in pvm] == [(entry.id, "Module prices keep falling")]
    assert "北极星太阳能光伏网" in pvm[0].summary
    # an earlier article joins the story: it represents it now, the guid does not change
    [d] = fill(db, ["光伏组件价格继续下行(首发)"], "pvm", start=NOW - timedelta(hours=5), key="d")
    join_story(db, a, d)
    export_feeds(db, tmp_path, now=NOW)
    [again] = feedparser.parse((tmp_path / "all.xml").read_bytes()).entries
    assert again.id == entry.id
    assert again.title == "光伏组件价格继续下行(首发)"


def test_limit_counts_stories_not_articles(db: Store, tmp_path: Path) -> None:
    ids = fill(db, [f"新闻{i}" for i in range(10)])
    join_story(db, ids[0], *ids[:6])  # 6 articles in one story, 4 alone
    export_feeds(db, tmp_path, limit=3, now=NOW)
    entries = feedparser.parse((tmp_path / "all.xml").read_bytes()).entries
    assert len(entries) == 3
    assert len({e.id for e in entries}) == 3


def test_daily_and_weekly_digests(db: Store, tmp_path: Path) -> None:
    # NOW is 2026-02-25 11:00 in Shanghai (a Wednesday); 17:30 UTC the day before is 01:30 on
    # the 25th there, 15:30 UTC is still the 24th.
    fill(db, ["光伏装机创新高", "风电招标启动"], source="a", start=NOW, step=timedelta(hours=2))
    fill(db, ["储能电站并网"], source="b", start=datetime(2026, 2, 24, 17, 30, tzinfo=UTC))
    fill(db, ["煤炭价格回落"], "b", start=datetime(2026, 2, 24, 15, 30, tzinfo=UTC), key="c")
    fill(db, ["太旧的光伏新闻"], source="b", start=NOW - timedelta(days=30), key="old")
    db.retag(lambda row: TAXONOMY.tag(row))
    export_feeds(db, tmp_path, taxonomy=TAXONOMY, digest_periods=2, now=NOW)
    daily = feedparser.parse((tmp_path / "digest-daily.xml").read_bytes())
    assert [e.id for e in daily.entries] == ["digest-daily:2026-02-25", "digest-daily:2026-02-24"]
    today = daily.entries[0]
    assert "3 stories" in today.title
    headings = re.findall(r"<h3>([^<]+)</h3>", today.summary)
    assert headings == ["光伏 · Solar", "风电 · Wind", "储能 · Storage"]  # taxonomy order
    assert '<a href="https://example.com/a/0?q=a+b">光伏装机创新高</a> — a' in today.summary
    assert "煤炭价格回落" in daily.entries[1].summary and "太旧" not in daily.entries[1].summary
    weekly = feedparser.parse((tmp_path / "digest-weekly.xml").read_bytes())
    # Mondays; the old story's week is the newest before this one that has a story
    assert [e.id for e in weekly.entries] == [
        "digest-weekly:2026-02-23",
        "digest-weekly:2026-01-26",
    ]
    assert "4 stories" in weekly.entries[0].title
    # the open day is updated in place: same guid, one more story
    fill(db, ["氢能项目签约"], source="c", start=NOW - timedelta(minutes=30))
    db.retag(lambda row: TAXONOMY.tag(row))
    export_feeds(db, tmp_path, taxonomy=TAXONOMY, digest_periods=2, now=NOW)
    daily = feedparser.parse((tmp_path / "digest-daily.xml").read_bytes())
    assert [e.id for e in daily.entries] == ["digest-daily:2026-02-25", "digest-daily:2026-02-24"]
    assert "4 stories" in daily.entries[0].title and "氢能项目签约" in daily.entries[0].summary
    # the newest N periods that have stories are kept: a day later (nothing new) still these two
    export_feeds(db, tmp_path, taxonomy=TAXONOMY, digest_periods=2, now=NOW + timedelta(days=1))
    daily = feedparser.parse((tmp_path / "digest-daily.xml").read_bytes())
    assert [e.id for e in daily.entries] == ["digest-daily:2026-02-25", "digest-daily:2026-02-24"]
    # with 3, the quiet days in between are skipped and the day 30 days back is the third
    export_feeds(db, tmp_path, taxonomy=TAXONOMY, digest_periods=3, now=NOW + timedelta(days=1))
    daily = feedparser.parse((tmp_path / "digest-daily.xml").read_bytes())
    assert [e.id for e in daily.entries][2] == "digest-daily:2026-01-26"
    assert "太旧的光伏新闻" in daily.entries[2].summary


def test_digests_of_old_data_show_its_newest_periods(db: Store, tmp_path: Path) -> None:
    # a month after the last story (the bundled demo's case), the digests still have items
    fill(db, ["光伏装机创新高", "风电招标启动"], source="a", start=NOW, step=timedelta(days=8))
    later = NOW + timedelta(days=40)
    export_feeds(db, tmp_path, taxonomy=TAXONOMY, digest_periods=7, now=later)
    daily = feedparser.parse((tmp_path / "digest-daily.xml").read_bytes())
    assert [e.id for e in daily.entries] == ["digest-daily:2026-02-25", "digest-daily:2026-02-17"]
    assert "光伏装机创新高" in daily.entries[0].summary
    weekly = feedparser.parse((tmp_path / "digest-weekly.xml").read_bytes())
    assert [e.id for e in weekly.entries] == [
        "digest-weekly:2026-02-23",
        "digest-weekly:2026-02-16",
    ]
    assert "1 story" in weekly.entries[0].title
    # nothing at all: empty digests, no error
    empty = tmp_path / "empty"
    export_feeds(Store(":memory:"), empty, now=later)
    assert feedparser.parse((empty / "digest-daily.xml").read_bytes()).entries == []


def test_digest_timezone_moves_the_day_boundary(db: Store, tmp_path: Path) -> None:
    fill(db, ["跨日的新闻"], source="a", start=datetime(2026, 2, 24, 17, 30, tzinfo=UTC))
    export_feeds(db, tmp_path, digest_timezone="UTC", now=NOW)
    daily = feedparser.parse((tmp_path / "digest-daily.xml").read_bytes())
    assert [e.id for e in daily.entries] == ["digest-daily:2026-02-24"]


def test_atom_and_json_feed_carry_the_same_stories(db: Store, tmp_path: Path) -> None:
    ids = fill(db, ["第一条 光伏", "第二条 储能"])
    export_feeds(db, tmp_path, base_url=BASE, formats=["atom", "json"], taxonomy=TAXONOMY, now=NOW)
    atom = feedparser.parse((tmp_path / "all.atom").read_bytes())
    assert atom.version == "atom10"
    assert [e.id for e in atom.entries] == [f"urn:newsagg:story:{i}" for i in ids]
    assert (
        validate_atom((tmp_path / "all.atom").read_bytes(), BASE + "all.atom", now=CHECK_NOW) == []
    )
    feed = json.loads((tmp_path / "all.json").read_text("utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["feed_url"] == BASE + "all.json"
    assert [i["id"] for i in feed["items"]] == [f"urn:newsagg:story:{i}" for i in ids]
    assert feed["items"][0]["title"] == "第一条 光伏"
    assert feed["items"][0]["date_published"] == "2026-02-25T03:00:00Z"
    assert validate_json_feed((tmp_path / "all.json").read_bytes(), BASE + "all.json") == []


def test_json_feed_checker_finds_problems() -> None:
    bad = {"version": "https://jsonfeed.org/version/1", "title": "t", "items": [{"id": "1"}]}
    problems = validate_json_feed(json.dumps(bad).encode())
    assert any("version" in p for p in problems)
    assert any("items/0" in p for p in problems)  # neither content_html nor content_text
    bad = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "items": [{"id": "1", "content_text": "x", "url": "javascript:alert(1)"}],
    }
    assert validate_json_feed(json.dumps(bad).encode()) != []


def test_atom_checker_finds_problems() -> None:
    data = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>t</title><updated>yesterday</updated>"
        b"<entry><title type='html'>&lt;script&gt;x&lt;/script&gt;</title></entry></feed>"
    )
    codes = {p.code for p in validate_atom(data, now=CHECK_NOW)}
    assert {"MissingElement", "InvalidRFC3339Date", "MissingSelf", "MissingAuthor"} <= codes
    assert {"MissingContentOrAlternate", "SecurityRisk"} <= codes


def test_opml_and_index_list_every_feed(db: Store, tmp_path: Path) -> None:
    fill(db, ["第一条"], source="alpha")
    result = export_feeds(db, tmp_path, base_url=BASE, formats=["json"], taxonomy=TAXONOMY, now=NOW)
    rss = sorted(str(p.relative_to(tmp_path)) for p in result.feeds if p.suffix == ".xml")
    opml = etree.fromstring((tmp_path / "feeds.opml").read_bytes())
    assert opml.get("version") == "2.0"
    urls = sorted(o.get("xmlUrl") for o in opml.iter("outline") if o.get("type") == "rss")
    assert urls == sorted(BASE + p for p in rss)
    page = (tmp_path / "index.html").read_text("utf-8")
    alternates = re.findall(
        r'<link rel="alternate" type="([^"]+)" title="[^"]*" href="([^"]+)"', page
    )
    assert sorted(h for t, h in alternates if t == "application/rss+xml") == rss
    assert len([h for t, h in alternates if t == "application/feed+json"]) == len(rss)
    assert 'href="feeds.opml"' in page


def test_unchanged_feeds_keep_bytes_and_mtime(db: Store, tmp_path: Path) -> None:
    fill(db, ["第一条", "第二条"])
    first = export_feeds(db, tmp_path, formats=["atom", "json"], now=NOW)
    assert len(first.written) == len(first.feeds)
    stamps = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in first.feeds}
    time.sleep(0.01)
    second = export_feeds(db, tmp_path, formats=["atom", "json"], now=NOW)
    assert second.written == [] and second.skipped
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in second.feeds} == stamps
    # crawling the same articles again changes last_seen_at only: still nothing to render
    fill(db, ["第一条", "第二条"])
    assert export_feeds(db, tmp_path, formats=["atom", "json"], now=NOW).skipped
    # without the shortcut (state file gone) every feed is rendered, and none rewritten
    (tmp_path / ".export-state.json").unlink()
    third = export_feeds(db, tmp_path, formats=["atom", "json"], now=NOW)
    assert not third.skipped and third.written == []
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in third.feeds} == stamps
    fill(db, ["第三条"], source="hostile2")
    fourth = export_feeds(db, tmp_path, now=NOW)
    changed = {str(p.relative_to(tmp_path)) for p in fourth.written}
    assert changed == {
        "all.xml",
        "sources/hostile2.xml",
        "topics/grid.xml",
        "digest-daily.xml",
        "digest-weekly.xml",
        "feeds.opml",
        "index.html",
    }


def test_a_new_day_renders_the_digests_again(db: Store, tmp_path: Path) -> None:
    fill(db, ["第一条"])
    export_feeds(db, tmp_path, now=NOW)
    later = export_feeds(db, tmp_path, now=NOW + timedelta(days=1))
    assert not later.skipped  # the digests' periods moved
    assert export_feeds(db, tmp_path, now=NOW + timedelta(days=1, hours=1)).skipped


def test_ad_hoc_feed_uses_the_query_filters(db: Store, tmp_path: Path) -> None:
    fill(db, ["光伏组件降价", "风电招标", "光伏电站并网"], source="alpha")
    fill(db, ["光伏别的来源"], source="beta")
    target = tmp_path / "solar.xml"
    assert export_feed(db, target, {"text": "光伏", "source": "alpha"}, title="光伏 alpha")
    parsed = feedparser.parse(target.read_bytes())
    assert [e.title for e in parsed.entries] == ["光伏组件降价", "光伏电站并网"]
    assert validate_rss(target.read_bytes(), "http://localhost:8080/solar.xml", now=CHECK_NOW) == []
    assert not export_feed(db, target, {"text": "光伏", "source": "alpha"}, title="光伏 alpha")
    as_json = tmp_path / "solar.json"
    export_feed(db, as_json, {"topic": "storage"}, title="storage", base_url=BASE)
    feed = json.loads(as_json.read_text("utf-8"))
    assert [i["title"] for i in feed["items"]] == ["风电招标"]  # fill: odd rows are storage
    assert validate_json_feed(as_json.read_bytes(), BASE + "solar.json") == []


def feedgen_rss(entries: list[Entry], channel: Channel) -> bytes:
    """The same feed built the plain feedgen way: a FeedEntry per item, through its setters."""
    fg = export._feed_generator(entries, channel, atom=False)
    for entry in entries:
        item = fg.add_entry(order="append")
        item.title(export._plain_text(entry.title))
        if entry.link:
            item.link(href=entry.link, rel="alternate")
        item.guid(entry.guid)
        if entry.html:
            item.description(entry.html)
        item.pubDate(entry.published)
        for topic in entry.topics:
            item.category(term=topic)
    return fg.rss_str(pretty=True).replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")


def test_rss_items_are_the_bytes_feedgen_makes_also_when_shared(db: Store) -> None:
    db.sync_sources([Source("other", "«其他» & <b>", "feed", ("https://o.org/f",))])
    ids = fill(db, [*HOSTILE_TITLES, "多行\n标题"], step=timedelta(hours=5))
    other = fill(db, ["另一个来源 光伏", "no link here"], source="other", key="o")
    join_story(db, ids[0], ids[0], *other)
    with db.write() as conn:  # text with a line break inside the item, and an item with no link
        conn.execute("UPDATE articles SET snippet = snippet || char(10) || '第二行' WHERE id % 2")
        conn.execute("UPDATE articles SET canonical_url = 'urn:x:1' WHERE id = ?", [other[1]])
    titles = db.source_titles()
    items: export.ItemCache = {}
    shared = export.SharedWork(items=items)
    rendered = 0
    for filters in ({}, {"source": "hostile"}, {"source": "other"}, {"topic": "solar"}):
        entries = export.story_entries(db, filters, limit=50, source_titles=titles, shared=shared)
        assert entries
        rendered += len(entries)
        channel = Channel("t & <i>", "d", "http://h/x.xml", "http://h/", "zh")
        ours = export.render(entries, channel, "rss", items)
        assert ours == feedgen_rss(entries, channel)
        assert ours == export.render(entries, channel, "rss")  # shared or not: the same bytes
        assert validate_rss(ours, "http://h/x.xml", now=CHECK_NOW) == []
    assert len(items["rss"]) < rendered  # a story in several feeds was serialised once


def test_rss_items_written_as_text_are_the_bytes_feedgen_makes_on_random_text() -> None:
    """Items are written as text, not through feedgen or lxml: on random text made of what XML
    escapes (and what it does not: quotes, tabs, line breaks, "]]>"), entities, markup, emoji,
    right-to-left marks, with dates in and out of UTC, the bytes are feedgen's."""
    rng = random.Random(11)
    pieces = ["&", "<", ">", "\r", "\n", "\t", '"', "'", "]]>", "&amp;", "&lt;", "&#x26;", "</b>"]
    pieces += ["<p>", "光伏", "☀️🔋", "\u202e", "مرحبا", " ", "a", "Z", "\u00a0", "\U0001f600"]

    def text(size: int) -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randrange(size)))

    zones = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]
    entries = []
    for n in range(300):
        when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10**9))
        entries.append(
            Entry(
                guid=f"urn:newsagg:story:{n}" if n % 3 else f"urn:x:{text(8)}",
                title=text(12) or "t",
                link=f"https://e.org/{n}?a=1&b=<{text(4)}>" if n % 4 else None,
                published=when.astimezone(zones[n % 3]),
                html=text(30) if n % 5 else "",
                text="",
                topics=tuple(sorted({text(4) or "x" for _ in range(n % 3)})),
            )
        )
    channel = Channel("t & <i>", "d", "http://h/x.xml", "http://h/", "zh")
    for start in range(0, len(entries), 50):
        chunk = entries[start : start + 50]
        assert export.render(chunk, channel, "rss") == feedgen_rss(chunk, channel)
    for year in (1, 999, 2026, 9999):  # years are written with four digits, as feedgen does
        for moment in (
            datetime(year, 3, 4, 5, 6, 7, tzinfo=UTC),
            datetime(year, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        ):
            assert export._rfc822(moment) == format_datetime(moment)


@pytest.mark.parametrize("bad", ["\x01", "\x1f", "\ufffe", "\uffff", "\ud83d"])
def test_an_rss_item_xml_cannot_carry_is_refused(bad: str) -> None:
    """Titles and text are cleaned before; a link or a topic XML cannot carry is refused, as
    lxml refuses it, rather than written into a feed no reader can parse."""
    channel = Channel("t", "d", "http://h/x.xml", "http://h/", "zh")
    fine = Entry("urn:x", "title", "https://e.org/\t", NOW, "", "", ("solar",))
    assert b"<link>https://e.org/\t</link>" in export.render([fine], channel, "rss")
    for entry in (fine._replace(link=f"https://e.org/{bad}"), fine._replace(topics=(bad,))):
        with pytest.raises(ValueError, match="XML cannot carry"):
            export.render([entry], channel, "rss")


def test_entry_without_link_has_a_non_permalink_guid() -> None:
    row = {
        "id": 7,
        "story_id": 7,
        "source": "feed",
        "canonical_url": "urn:newsagg:feed:guid:abc",
        "url": "",
        "title": "no link",
        "snippet": "",
        "published_at": None,
        "first_seen_at": "2026-02-25T03:00:00Z",
        "topics": [],
    }
    data = render_rss(
        [row], title="t", description="d", self_url="http://h/x.xml", site_url="http://h/"
    )
    assert b'<guid isPermaLink="false">urn:newsagg:story:7</guid>' in data
    assert b"<link>urn" not in data
    assert validate_rss(data, "http://h/x.xml", now=NOW.timestamp()) == []


def test_empty_feed_is_valid_and_has_no_build_date(tmp_path: Path, db: Store) -> None:
    data = render_rss(
        [], title="t", description="d", self_url="http://h/x.xml", site_url="http://h/"
    )
    assert b"lastBuildDate" not in data
    assert validate_rss(data, "http://h/x.xml", now=NOW.timestamp()) == []
    result = export_feeds(db, tmp_path, base_url=BASE, formats=["atom", "json"], now=NOW)
    assert assert_all_valid(result.feeds, tmp_path) == 3 * 3  # all and the two digests


def test_write_if_changed_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "feeds" / "all.xml"
    assert write_if_changed(target, b"old")
    assert not write_if_changed(target, b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_if_changed(target, b"new")
    assert target.read_bytes() == b"old"  # the old complete file, and no temporary left behind
    assert [p.name for p in target.parent.iterdir()] == ["all.xml"]


@pytest.mark.parametrize("failing", ["render", "stage"])
def test_a_failed_export_replaces_no_file(
    db: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    fill(db, ["光伏组件价格继续下行"])
    export_feeds(db, tmp_path, now=NOW)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    fill(db, ["风电招标启动"], source="b")

    def broken(*args: object, **kwargs: object) -> bytes:
        raise OSError("disk full")

    real_stage = export._stage
    if failing == "render":  # the last file fails after every feed was staged
        monkeypatch.setattr(export, "render_index", broken)
    else:  # one worker fails to stage its file while the others stage theirs
        monkeypatch.setattr(
            export, "_stage", lambda p, d: broken() if p.name == "b.xml" else real_stage(p, d)
        )
    with pytest.raises(OSError, match="disk full"):
        export_feeds(db, tmp_path, now=NOW)
    # none is replaced, no temporary is left
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert not list(tmp_path.rglob("*.tmp"))
    monkeypatch.undo()
    result = export_feeds(db, tmp_path, now=NOW)
    assert tmp_path / "all.xml" in result.written
    assert "风电招标启动" in (tmp_path / "all.xml").read_text("utf-8")
    assert not list(tmp_path.rglob("*.tmp"))


def test_source_and_topic_feeds_show_what_the_general_query_shows(db: Store) -> None:
    db.sync_sources([Source("other", "其他", "feed", ("https://o.org/f",))])
    ids = fill(db, [f"新闻{i} 光伏" for i in range(12)])
    other = fill(db, ["另一个来源 光伏", "另一个来源 风电"], source="other", key="o")
    join_story(db, ids[1], ids[1], ids[4], other[0])  # a story across both sources
    join_story(db, ids[6], ids[6], ids[7])
    titles = db.source_titles()
    shared = export.SharedWork()
    for filters in ({}, {"source": "hostile"}, {"source": "other"}, {"topic": "grid"}):
        light = export.story_entries(db, filters, limit=5, source_titles=titles, shared=shared)
        # a "since" filter takes the general path (Store.articles, every column)
        general = export.story_entries(
            db, {**filters, "since": "2000-01-01T00:00:00Z"}, limit=5, source_titles=titles
        )
        assert light == general, filters
        assert len(light) == 5 or filters.get("source") == "other"


def test_export_command_ad_hoc_and_formats(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from aggregator.cli import cli

    db_path = tmp_path / "news.db"
    with Store(db_path) as store:
        fill(store, ["光伏组件降价", "风电招标", "光伏电站并网"], source="alpha")
    base = ["--db", str(db_path)]
    target = tmp_path / "out" / "solar.atom"
    args = [*base, "export", "--query", "光伏", "--since", "3000d", "--to", str(target)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{target}: written"
    parsed = feedparser.parse(target.read_bytes())
    assert parsed.version == "atom10"
    assert [e.title for e in parsed.entries] == ["光伏组件降价", "光伏电站并网"]
    refused = CliRunner().invoke(cli, [*base, "export", "--topic", "solar"])
    assert refused.exit_code == 2 and "only apply to an ad-hoc feed" in refused.output
    bad_since = CliRunner().invoke(cli, [*base, "export", "--since", "soon", "--to", str(target)])
    assert bad_since.exit_code == 2 and "--since" in bad_since.output
    folder = CliRunner().invoke(
        cli, [*base, "export", "--format", "json", "--digest-timezone", "UTC", "--ttl", "30"]
    )
    assert folder.exit_code == 0, folder.output
    assert (tmp_path / "feeds" / "all.json").is_file()
    assert b"<ttl>30</ttl>" in (tmp_path / "feeds" / "all.xml").read_bytes()
    bad_zone = CliRunner().invoke(cli, [*base, "export", "--digest-timezone", "Mars/Olympus"])
    assert bad_zone.exit_code == 2 and "Mars/Olympus" in bad_zone.output


def test_digest_lists_the_most_carried_stories_of_each_topic_and_counts_the_rest(
    db: Store, tmp_path: Path
) -> None:
    # 8 stories today in source a, 10 minutes apart: odd ones solar, even ones grid
    ids = fill(db, [f"今日新闻{i}" for i in range(8)], source="a", step=timedelta(minutes=10))
    # the oldest solar story is carried by a second source too, whose copy is earlier but cut
    [cut] = fill(db, ["今日新闻7的截断..."], source="b", start=NOW - timedelta(hours=3), key="b")
    join_story(db, ids[7], ids[7], cut)
    result = export_feeds(db, tmp_path, base_url=BASE, taxonomy=TAXONOMY, digest_stories=2, now=NOW)
    assert assert_all_valid(result.feeds, tmp_path) > 0
    today = feedparser.parse((tmp_path / "digest-daily.xml").read_bytes()).entries[0]
    assert today.id == "digest-daily:2026-02-25"
    assert today.title.endswith(": 8 stories")
    solar, grid = today.summary.split("<h3>")[1:]
    assert solar.startswith("光伏 · Solar</h3>") and grid.startswith("电网 · Grid</h3>")
    # most sources first (story 7, its uncut title and link, both sources), then the newest
    listed = re.findall(r'<li><a href="[^"]+/a/(\d)\?[^"]*">([^<]+)</a> — ([^<]+)</li>', solar)
    assert listed == [("7", "今日新闻7", "a, b"), ("1", "今日新闻1", "a")]
    assert "… and 2 more stories about 光伏 · Solar that day" in solar
    assert [n for n, _t, _s in re.findall(r"/a/(\d)\?[^\"]*\">([^<]+)</a> — ([^<]+)", grid)] == [
        "0",
        "2",
    ]
    assert "… and 2 more stories about 电网 · Grid that day" in grid
    assert "截断" not in today.summary
    # the default lists all eight; no "more" line
    export_feeds(db, tmp_path / "all", base_url=BASE, taxonomy=TAXONOMY, now=NOW)
    every = feedparser.parse((tmp_path / "all" / "digest-daily.xml").read_bytes()).entries[0]
    assert len(re.findall(r"<li>", every.summary)) == 8 and "more stories" not in every.summary
    with pytest.raises(ConfigError, match="at least 1"):
        export_feeds(db, tmp_path, digest_stories=0, now=NOW)


def test_every_feed_is_read_from_one_snapshot(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crawl commits while an export runs: the feeds rendered after the commit do not show
    what it added, and the recorded feed version is the one they were all read at."""
    out = tmp_path / "feeds"
    with Store(db_path) as store:
        fill(store, ["光伏电站并网发电", "电网改造提速"])
        before = store.feed_version()
        real = export.story_entries
        calls: list[int] = []

        def entries_after_a_commit(*args: Any, **kwargs: Any) -> list[export.Entry]:
            calls.append(1)
            if len(calls) == 2:  # after all.xml: another connection commits an article
                with Store(db_path) as crawler:
                    fill(crawler, ["电网储能电站投运"], source="hostile", key="late")
            return real(*args, **kwargs)

        monkeypatch.setattr(export, "story_entries", entries_after_a_commit)
        export_feeds(store, out, now=NOW)
        assert len(calls) > 2
        feeds = sorted(out.rglob("*.xml"))
        assert any("topics" in str(path) for path in feeds)
        for path in feeds:
            assert "电网储能电站投运" not in path.read_text("utf-8"), path
        state = json.loads((out / export.STATE_FILE).read_text("utf-8"))
        assert state["state"]["feed_version"] == before
        monkeypatch.setattr(export, "story_entries", real)
        export_feeds(store, out, now=NOW)  # the next export sees the change and shows it
        assert "电网储能电站投运" in (out / "topics" / "grid.xml").read_text("utf-8")


def test_a_digest_line_names_the_linked_source_first(db: Store, tmp_path: Path) -> None:
    # the first copy seen is cut (source "early"); the story links the whole one ("whole")
    [cut] = fill(db, ["海上风电项目全容量并网..."], source="early", key="c")
    [whole] = fill(db, ["海上风电项目全容量并网发电"], source="whole", start=NOW, key="w")
    join_story(db, cut, cut, whole)
    export_feeds(db, tmp_path, base_url=BASE, taxonomy=TAXONOMY, now=NOW)
    today = feedparser.parse((tmp_path / "digest-daily.xml").read_bytes()).entries[0]
    assert re.findall(r"<li><a [^>]+>([^<]+)</a> — ([^<]+)</li>", today.summary) == [
        ("海上风电项目全容量并网发电", "whole, early")
    ]


def test_digests_from_story_summary_equal_digests_from_every_article(db: Store) -> None:
    """The digests place most stories from ``story_summary`` (one row per story) and only the
    stories that began before the window from their articles: the entries must be exactly those
    of placing every story from its articles of the window, on stories that span days, weeks
    and topics, with cut titles, undated articles and several sources."""
    rng = random.Random(6)
    words = ["光伏", "风电", "储能", "氢能", "电网", "煤炭", "政策", "招标", "核电", "新闻"]
    rows = []
    for n in range(400):
        title = "".join(rng.sample(words, 3)) + f" {n}" + rng.choice(["", "", "", "...", "…"])
        when = NOW + timedelta(hours=6) - timedelta(minutes=rng.randrange(60 * 24 * 80))
        rows.append(
            {
                "url": f"https://s{n % 5}.example/a/{n}",
                "canonical_url": f"https://s{n % 5}.example/a/{n}",
                "source": f"s{n % 5}",
                "guid": None,
                "title": title,
                "snippet": title,
                "published_at": None if n % 11 == 0 else when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "published_precision": "minute",
                "published_from": "feed",
                "flags": [],
                "language": "zh",
                "topics": [],
            }
        )
    for batch in range(4):  # undated articles: first seen on four different days
        db.upsert_articles(
            rows[batch::4], NOW - timedelta(days=9 * batch), tagger=lambda r: TAXONOMY.tag(r)
        )
    ids = [r[0] for r in db.conn.execute("SELECT id FROM articles ORDER BY id")]
    for start in range(0, 300, 7):  # stories of 1 to 6 articles, hours to weeks apart
        members = ids[start : start + rng.randrange(1, 7)]
        join_story(db, members[0], *members)
    checked = split_seen = 0
    names = {**{t: t for t in db.article_topics()}, **TAXONOMY.names}
    for now, zone, periods, per_topic in [
        (NOW, "Asia/Shanghai", 7, 20),
        (NOW, "UTC", 3, 2),
        (NOW - timedelta(days=20), "America/New_York", 5, 1),
        (NOW + timedelta(days=30), "Asia/Kolkata", 9, 3),
    ]:
        for period in ("day", "week"):
            options = {
                "period": period,
                "zone": export._zone(zone),
                "periods": periods,
                "now": now,
                "taxonomy": TAXONOMY,
                "topic_names": names,
                "source_titles": db.source_titles(),
                "base_url": BASE,
                "per_topic": per_topic,
            }
            with db.snapshot():
                from_summary = export.digest_entries(db, **options)
                every = export.digest_entries(
                    db, read=lambda since: ([], db.recent_articles(since)), **options
                )
                bounds = export.digest_periods_with_stories(
                    db, period, export._zone(zone), periods, now
                )
                whole, split = db.digest_stories(export._stamp(bounds[-1][1]))
            assert from_summary == every and len(every) == len(bounds) > 0
            assert whole
            split_seen += len(split)
            checked += sum(entry.html.count("<li>") for entry in every)
    assert split_seen > 20 and checked > 300
    assert any("more stories" in entry.html for entry in every)
