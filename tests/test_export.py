"""RSS export: valid by the W3C validator's rules, stable bytes, atomic writes."""

from __future__ import annotations

import html
import os
import time
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest

from aggregator.export import export_feeds, render_rss, write_if_changed
from aggregator.items import Article
from aggregator.normalize import normalize
from aggregator.store import Store
from tests.conftest import NOW
from tests.feedcheck import validate_rss

HOSTILE_TITLES = [
    "R&D spending <rises> 5% & more",
    "Ends with ]]> and <![CDATA[ inside",
    "<script>alert('x')</script> 光伏",
    "<b>bold</b> looks like markup &amp; entity",
    "控制字符\x00\x07\x1b在标题里",
    "emoji ☀️🔋⚡ and RTL مرحبا بالعالم \u202e reversed",
    "零宽\u200b字符\ufeff",
    "x" * 10_000,
]


def fill(store: Store, titles: list[str], source: str = "hostile") -> None:
    rows = []
    for i, title in enumerate(titles):
        article = Article(
            url=f"https://example.com/{source}/{i}?utm_source=feed&q=a b",
            source=source,
            title=title,
            snippet=f"snippet {i}: {title[:200]} 1 < 2 && R&D",
            published_at=NOW - timedelta(hours=i),
            published_precision="minute",
            published_from="list",
            topics=["solar", "storage"] if i % 2 else ["grid"],
        )
        rows.append(normalize(article, None, NOW))
    store.upsert_articles([r for r in rows if r], NOW)


def assert_valid(path: Path, location: str) -> None:
    problems = validate_rss(
        path.read_bytes(), location, now=(NOW + timedelta(minutes=5)).timestamp()
    )
    assert problems == [], f"{path}: {problems}"


def test_every_feed_is_valid_on_hostile_data(db: Store, tmp_path: Path) -> None:
    fill(db, HOSTILE_TITLES)
    fill(db, ["另一个来源的新闻"], source="other")
    base = "https://news.example.org/feeds/"
    result = export_feeds(db, tmp_path, base_url=base)
    assert len(result.feeds) == 6  # all, 2 sources, 3 topics
    for path in result.feeds:
        assert_valid(path, base + str(path.relative_to(tmp_path)))


def test_text_survives_the_round_trip_escaped_once(db: Store, tmp_path: Path) -> None:
    fill(db, HOSTILE_TITLES[:4])
    export_feeds(db, tmp_path)
    data = (tmp_path / "all.xml").read_bytes()
    assert b"&amp;" not in data and b"&lt;" not in data
    assert b"&#x26;" in data and b"&#x3C;" in data
    parsed = feedparser.parse(data)
    titles = {entry.title for entry in parsed.entries}
    assert "R&D spending <rises> 5% & more" in titles
    # a closing tag in a title is written with a full-width "＜", so no reader acts on it
    assert "<b>bold\uff1c/b> looks like markup &amp; entity" in titles
    # the description is HTML: what a reader renders is our plain text
    summaries = [html.unescape(e.summary) for e in parsed.entries]
    assert any("1 < 2 && R&D" in s for s in summaries)


def test_no_script_and_no_illegal_characters(db: Store, tmp_path: Path) -> None:
    fill(db, HOSTILE_TITLES)
    export_feeds(db, tmp_path)
    text = (tmp_path / "all.xml").read_text("utf-8")
    assert "<script" not in text
    assert "\x00" not in text and "\x1b" not in text and "\u202e" not in text
    assert "x" * 600 not in text  # titles capped at 512 characters


def test_channel_and_items(db: Store, tmp_path: Path) -> None:
    fill(db, ["第一条", "第二条", "第三条"])
    export_feeds(db, tmp_path, base_url="http://localhost:8080", limit=2)
    parsed = feedparser.parse((tmp_path / "sources" / "hostile.xml").read_bytes())
    assert parsed.version == "rss20"
    assert [e.title for e in parsed.entries] == ["第一条", "第二条"]  # newest first, limited
    entry = parsed.entries[0]
    assert entry.link == "https://example.com/hostile/0?q=a+b"  # canonical: no utm_source
    assert entry.id == entry.link
    assert parsed.feed.updated == "Wed, 25 Feb 2026 03:00:00 +0000"  # the newest item, not now
    self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert self_links == ["http://localhost:8080/sources/hostile.xml"]
    assert [t.term for t in entry.tags] == ["grid"]


def test_entry_without_link_has_a_non_permalink_guid() -> None:
    row = {
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
    assert b'<guid isPermaLink="false">urn:newsagg:feed:guid:abc</guid>' in data
    assert b"<link>urn" not in data
    assert validate_rss(data, "http://h/x.xml", now=NOW.timestamp()) == []


def test_empty_feed_is_valid_and_has_no_build_date() -> None:
    data = render_rss(
        [], title="t", description="d", self_url="http://h/x.xml", site_url="http://h/"
    )
    assert b"lastBuildDate" not in data
    assert validate_rss(data, "http://h/x.xml", now=NOW.timestamp()) == []


def test_unchanged_feeds_keep_bytes_and_mtime(db: Store, tmp_path: Path) -> None:
    fill(db, ["第一条", "第二条"])
    first = export_feeds(db, tmp_path)
    assert len(first.written) == len(first.feeds) == 5
    stamps = {p: p.stat().st_mtime_ns for p in first.feeds}
    time.sleep(0.01)
    second = export_feeds(db, tmp_path)
    assert second.written == []
    assert {p: p.stat().st_mtime_ns for p in second.feeds} == stamps
    fill(db, ["第三条"], source="hostile2")
    third = export_feeds(db, tmp_path)
    changed = {str(p.relative_to(tmp_path)) for p in third.written}
    assert changed == {"all.xml", "sources/hostile2.xml", "topics/grid.xml"}


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
