"""Export benchmark: ``export_feeds`` against feedgen serialising exactly the items written.

    .venv/bin/python bench/export.py                 # 100k articles
    .venv/bin/python bench/export.py --articles 1000000
    .venv/bin/python bench/export.py --quick         # 10k: a smoke run
    .venv/bin/python bench/export.py --repeat 3      # the four phases three times; medians
    .venv/bin/python bench/export.py --json out.json

1. Builds a database of N synthetic articles through ``Store.upsert_articles`` (tagged at ingest
   with the bundled taxonomy): 30 sources, Chinese and English headlines with energy keywords,
   dates spread over three years, one article in five sharing its story with one or two others
   (as clustering would set ``story_id``), and a rare topic: ``geothermal``, on 12 articles
   among the oldest 5% (a topic of a source's own, as ``sources.toml`` gives; not in the
   taxonomy), so that (a) includes a topic feed whose few articles are far down the newest-first
   order (served by ``article_topics_newest``, schema 14). A database built before the rare topic
   still works (``--db``): it has no ``topics/geothermal.xml``, and the bench says so.
2. Runs, each in a fresh interpreter (so peak memory is the phase's own):
   - (a) a cold export of every feed (RSS: all, per source, per topic, both digests, OPML,
     index) into an empty folder;
   - the yardstick: feedgen building and serialising exactly the items (a) wrote — each file's
     channel and items read back from disk, untimed, then timed through ``FeedGenerator`` with
     the same fields and ``rss_str(pretty=True)``;
   - (b) the same export again with nothing new (the normal cron case);
   - (b') the same again after deleting the export's state file: every feed rendered and
     compared, none rewritten (what a change anywhere costs, minus the writes).
3. Prints wall and CPU seconds, peak RSS and the ratios a/yardstick (target ≤ 1.5; also by CPU
   time, steadier on a shared machine) and b/a (target ≤ 0.10).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS_ZH = [
    "光伏",
    "组件",
    "风电",
    "海上风电",
    "储能",
    "电池",
    "氢能",
    "电解槽",
    "核电",
    "电网",
    "特高压",
    "天然气",
    "原油",
    "煤炭",
    "政策",
    "招标",
    "中标",
    "装机",
    "并网",
    "价格",
    "项目",
    "签约",
]
WORDS_EN = [
    "solar",
    "PV",
    "wind farm",
    "battery storage",
    "hydrogen",
    "nuclear",
    "grid",
    "LNG",
    "oil",
    "coal",
    "policy",
    "tender",
    "auction",
    "capacity",
    "prices",
    "project",
    "record",
    "plans",
]
START = datetime(2026, 2, 25, 3, 0, tzinfo=UTC)
# The rare topic: this many articles, spread over the oldest 5%, carry it.
RARE_TOPIC = "geothermal"
RARE_ARTICLES = 12
RARE_TITLE = {"zh": "地热", "en": "Geothermal:"}


def build(db_path: Path, count: int, seed: int = 7) -> dict[str, Any]:
    from aggregator.config import Source
    from aggregator.store import Store
    from aggregator.topics import BUNDLED_TOPICS, load_taxonomy

    rng = random.Random(seed)
    taxonomy = load_taxonomy(BUNDLED_TOPICS)
    sources = [
        Source(
            f"src{i:02d}",
            f"能源网 {i:02d}" if i % 3 else f"Energy Wire {i:02d}",
            "feed",
            (f"https://s{i}.example/",),
            language="zh" if i % 3 else "en",
        )
        for i in range(30)
    ]
    span = timedelta(days=3 * 365).total_seconds()
    step = max(1, count // 20 // RARE_ARTICLES)
    rare = {count - 1 - i * step for i in range(min(RARE_ARTICLES, count))}
    rare_urls: set[str] = set()

    def tag(row: dict[str, Any]) -> list[str]:
        return taxonomy.tag(row, (RARE_TOPIC,) if row["canonical_url"] in rare_urls else ())

    started = time.perf_counter()
    with Store(db_path) as store:
        store.sync_sources(sources)
        batch: list[dict[str, Any]] = []
        for n in range(count):
            source = sources[n % 30]
            english = source.language == "en"
            words = rng.sample(WORDS_EN if english else WORDS_ZH, 4)
            title = (" ".join(words) if english else "".join(words)) + f" {n}"
            when = START - timedelta(seconds=span * (n / count) + rng.random() * 600)
            url = f"https://s{n % 30}.example/a/{n}.html"
            if n in rare:
                title = f"{RARE_TITLE[source.language]} {title}"
                rare_urls.add(url)
            batch.append(
                {
                    "url": url,
                    "canonical_url": url,
                    "source": source.name,
                    "guid": None,
                    "title": title,
                    "snippet": f"{title} — 摘要 snippet text for article {n}, 记者报道。" * 2,
                    "published_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "published_precision": "minute",
                    "published_from": "feed",
                    "flags": [],
                    "language": source.language,
                    "topics": [],
                }
            )
            if len(batch) == 5000:
                store.upsert_articles(batch, START, tagger=tag)
                batch = []
        if batch:
            store.upsert_articles(batch, START, tagger=tag)
        # One article in five joins the story of the article just before it (clustering's job).
        with store.write() as conn:
            conn.execute("UPDATE articles SET story_id = id - 1 WHERE id % 5 = 0 AND id > 1")
        store.checkpoint()
    return {"articles": count, "build_seconds": round(time.perf_counter() - started, 1)}


def rare_feed_items(out: Path) -> int | None:
    """How many items (a) wrote in the rare topic's feed; None when it wrote none (a database
    built before the rare topic)."""
    from lxml import etree

    path = out / "topics" / f"{RARE_TOPIC}.xml"
    if not path.is_file():
        return None
    return len(etree.parse(str(path)).getroot().findall("channel/item"))


def _peak_mb() -> float:
    from aggregator.worker import peak_mb

    return peak_mb()


def phase_export(db_path: str, out: str, drop_state: bool) -> dict[str, Any]:
    from aggregator.export import STATE_FILE, export_feeds
    from aggregator.store import Store
    from aggregator.topics import BUNDLED_TOPICS, load_taxonomy

    taxonomy = load_taxonomy(BUNDLED_TOPICS)
    if drop_state:
        (Path(out) / STATE_FILE).unlink(missing_ok=True)
    started, cpu = time.perf_counter(), time.process_time()
    with Store(db_path) as store:
        result = export_feeds(store, out, taxonomy=taxonomy, now=START)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "peak_mb": _peak_mb(),
        "written": len(result.written),
        "files": len(result.feeds),
        "skipped": result.skipped,
    }


def phase_feedgen(out: str) -> dict[str, Any]:
    """feedgen serialising exactly the items in the RSS files the export wrote."""
    from email.utils import parsedate_to_datetime

    from feedgen.feed import FeedGenerator
    from lxml import etree

    feeds = []
    for path in sorted(Path(out).rglob("*.xml")):
        channel = etree.parse(str(path)).getroot().find("channel")
        items = []
        for item in channel.iter("item"):
            items.append(
                {
                    "title": item.findtext("title"),
                    "link": item.findtext("link"),
                    "guid": item.findtext("guid"),
                    "description": item.findtext("description"),
                    "pubDate": parsedate_to_datetime(item.findtext("pubDate")),
                    "categories": [c.text for c in item.iter("category")],
                }
            )
        feeds.append((channel.findtext("title"), channel.findtext("description"), items))
    count = sum(len(items) for *_, items in feeds)
    started, cpu = time.perf_counter(), time.process_time()
    for title, description, items in feeds:
        fg = FeedGenerator()
        fg.title(title)
        fg.link(href="http://localhost:8080/x.xml", rel="self")
        fg.link(href="http://localhost:8080/", rel="alternate")
        fg.description(description)
        fg.language("zh")
        fg.ttl(60)
        for item in items:
            entry = fg.add_entry(order="append")
            entry.title(item["title"])
            if item["link"]:
                entry.link(href=item["link"])
            entry.guid(item["guid"], permalink=False)
            if item["description"]:
                entry.description(item["description"])
            entry.pubDate(item["pubDate"])
            for term in item["categories"]:
                entry.category(term=term)
        if items:
            fg.lastBuildDate(max(i["pubDate"] for i in items))
        fg.rss_str(pretty=True)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "peak_mb": _peak_mb(),
        "feeds": len(feeds),
        "items": count,
    }


def _median_run(figures: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of the run whose seconds are the median (the lower one of an even count),
    with the median CPU seconds and the largest peak."""
    chosen = sorted(figures, key=lambda f: f["seconds"])[(len(figures) - 1) // 2]
    cpu = sorted(f["cpu_seconds"] for f in figures)[(len(figures) - 1) // 2]
    return {**chosen, "cpu_seconds": cpu, "peak_mb": max(f["peak_mb"] for f in figures)}


def run_in_child(function: Any, *args: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(function, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 articles")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run the four phases N times, each in order; report medians",
    )
    parser.add_argument(
        "--db",
        metavar="FILE",
        help="use (or build, if missing, and keep) this database instead of a temporary one",
    )
    options = parser.parse_args()
    count = 10_000 if options.quick else options.articles
    tmp = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        db_path, out = Path(options.db) if options.db else tmp / "news.db", tmp / "feeds"
        if db_path.exists():
            built = {"articles": count, "build_seconds": None}
            print(f"using {db_path} (built earlier with --articles {count:,})", flush=True)
        else:
            print(f"building {count:,} articles in {db_path} ...", flush=True)
            built = run_in_child(build, db_path, count)
            print(f"  built in {built['build_seconds']} s", flush=True)
        runs: list[dict[str, dict[str, Any]]] = []
        rare_items: int | None = None
        for _ in range(options.repeat):
            shutil.rmtree(out, ignore_errors=True)  # (a) is cold: an empty folder each time
            cold_export = run_in_child(phase_export, str(db_path), str(out), False)
            rare_items = rare_feed_items(out)
            runs.append(
                {
                    "cold_export": cold_export,
                    "feedgen_same_items": run_in_child(phase_feedgen, str(out)),
                    "nothing_new": run_in_child(phase_export, str(db_path), str(out), False),
                    "nothing_new_without_state": run_in_child(
                        phase_export, str(db_path), str(out), True
                    ),
                }
            )
        cold, yard, warm, rerender = (
            _median_run([run[name] for run in runs])
            for name in (
                "cold_export",
                "feedgen_same_items",
                "nothing_new",
                "nothing_new_without_state",
            )
        )
        figures = {
            **built,
            "repeat": options.repeat,
            "rare_topic": RARE_TOPIC,
            "rare_topic_items": rare_items,
            "cold_export": cold,
            "feedgen_same_items": yard,
            "nothing_new": warm,
            "nothing_new_without_state": rerender,
            "ratio_cold_vs_feedgen": cold["seconds"] / yard["seconds"],
            "ratio_cold_vs_feedgen_cpu": cold["cpu_seconds"] / yard["cpu_seconds"],
            "ratio_nothing_new_vs_cold": warm["seconds"] / cold["seconds"],
            "ratio_rerender_vs_cold": rerender["seconds"] / cold["seconds"],
            "ratios_per_repetition": [
                run["cold_export"]["seconds"] / run["feedgen_same_items"]["seconds"] for run in runs
            ],
            "runs": runs,
        }
        print(
            f"\n{count:,} articles, {cold['files']} files ({yard['feeds']} RSS feeds, "
            f"{yard['items']:,} items)"
            + (f", medians of {options.repeat} runs" if options.repeat > 1 else "")
        )
        if rare_items is None:
            print(
                f"  no rare topic: {db_path} was built before bench/export.py planted one "
                f"({RARE_TOPIC}); build a new database (another --db path) to include it"
            )
        else:
            print(f"  rare topic {RARE_TOPIC}: topics/{RARE_TOPIC}.xml, {rare_items} items, in (a)")
        rows = [
            ("(a) cold export", cold),
            ("    feedgen, same items", yard),
            ("(b) nothing new", warm),
            ("(b') nothing new, no state", rerender),
        ]
        for label, figure in rows:
            print(
                f"  {label:<28} {figure['seconds']:8.3f} s   cpu {figure['cpu_seconds']:7.3f} s"
                f"   peak {figure['peak_mb']:7.1f} MB"
            )
        print(f"  a / feedgen   {figures['ratio_cold_vs_feedgen']:.2f}   (target <= 1.5)")
        print(f"  b / a         {figures['ratio_nothing_new_vs_cold']:.3f}  (target <= 0.10)")
        print(f"  b' / a        {figures['ratio_rerender_vs_cold']:.2f}")
        print(f"  a / feedgen by CPU time   {figures['ratio_cold_vs_feedgen_cpu']:.2f}")
        if options.repeat > 1:
            each = ", ".join(f"{r:.2f}" for r in figures["ratios_per_repetition"])
            print(f"  a / feedgen per repetition: {each}")
        if options.json:
            Path(options.json).write_text(json.dumps(figures, indent=2))
    finally:
        if options.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
