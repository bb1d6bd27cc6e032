"""Feed ingest cost: our parse + normalise of a 50-item feed against a bare ``feedparser.parse``.

Usage: python bench/feeds.py [--rounds N]

Both sides are timed in the same process on the same bytes: an RSS 2.0 feed and an Atom 1.0 feed,
50 entries each, with HTML summaries, entities, zoned and zone-less dates. "ours" is
``aggregator.feeds.parse_feed`` followed by ``aggregator.normalize.normalize`` on every item,
which is everything ingestion does to a feed before the store; "bare" is
``feedparser.parse(io.BytesIO(body))`` with its defaults. The target is ours/bare <= 1.5.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregator.feeds import parse_feed
from aggregator.normalize import normalize

NOW = datetime(2026, 2, 25, 3, 0, tzinfo=UTC)
ITEMS = 50


def rss_feed() -> bytes:
    items = []
    for n in range(ITEMS):
        date = (
            f"Tue, 24 Feb 2026 {n % 24:02d}:20:00 +0800"
            if n % 3
            else f"Tue, 24 Feb 2026 {n % 24:02d}:20:00"
        )
        items.append(
            f"<item><title>光伏组件价格第{n}周继续下行 &amp; 储能招标升温</title>"
            f"<link>https://news.example.com/a/{n}.html?utm_source=rss</link>"
            f'<guid isPermaLink="false">item-{n}</guid>'
            f"<description>&lt;p&gt;本周&lt;b&gt;多晶硅&lt;/b&gt;价格 {n} 元/公斤，"
            f"&amp;amp; 组件报价继续下行。&lt;/p&gt;&lt;p&gt;第二段 "
            f"&lt;a href='/x'&gt;链接&lt;/a&gt;&lt;/p&gt;</description>"
            f"<pubDate>{date}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Bench</title>'
        "<link>https://news.example.com/</link><description>d</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def atom_feed() -> bytes:
    entries = []
    for n in range(ITEMS):
        entries.append(
            f'<entry><title type="html">Grid &amp;amp; storage update {n}</title>'
            f'<link href="posts/{n}.html"/><id>urn:uuid:bench-{n}</id>'
            f"<updated>2026-02-24T{n % 24:02d}:30:00Z</updated>"
            f"<published>2026-02-24T{n % 24:02d}:00:00+08:00</published>"
            f'<summary type="html">&lt;p&gt;Utilities &lt;em&gt;added&lt;/em&gt; {n} GW '
            f"of batteries.&lt;/p&gt;</summary></entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xml:base="https://atom.example.org/news/"><title>Bench</title><id>urn:bench</id>'
        "<updated>2026-02-24T10:00:00Z</updated>" + "".join(entries) + "</feed>"
    ).encode()


def ours(body: bytes) -> int:
    parsed = parse_feed(
        body,
        "https://news.example.com/feed.xml",
        source="bench",
        tz=ZoneInfo("Asia/Shanghai"),
        now=NOW,
    )
    return sum(normalize(item, None, NOW) is not None for item in parsed.items)


def bare(body: bytes) -> int:
    return len(feedparser.parse(io.BytesIO(body)).entries)


def timed(function: Callable[[bytes], int], body: bytes, rounds: int) -> float:
    """Median seconds per call over ``rounds`` calls (after one warm-up call)."""
    assert function(body) == ITEMS
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        function(body)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    worst = 0.0
    for name, body in (("RSS 2.0", rss_feed()), ("Atom 1.0", atom_feed())):
        # Interleave the two so that machine noise hits both alike.
        ours_s, bare_s = [], []
        for _ in range(3):
            bare_s.append(timed(bare, body, args.rounds // 3))
            ours_s.append(timed(ours, body, args.rounds // 3))
        o, b = min(ours_s), min(bare_s)
        worst = max(worst, o / b)
        print(
            f"{name}, {ITEMS} items, {len(body)} bytes: ours {o * 1000:.2f} ms, "
            f"bare feedparser.parse {b * 1000:.2f} ms, ratio {o / b:.2f}"
        )
    print(f"worst ratio {worst:.2f} (target <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
