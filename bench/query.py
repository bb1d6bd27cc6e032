"""Search benchmark: the store's CJK index against a LIKE scan and FTS5's trigram tokenizer.

For each size (100k and 1M synthetic Chinese and English energy headlines by default) it fills a
fresh database through ``Store`` (so the search index is built the way a crawl builds it), adds
a trigram FTS5 table over the same text as a baseline, then times top-20, newest-first queries of
1-, 2-, 3- and 4-character Chinese words and English words with each method, and
``--rank relevance`` with the store's index. Figures are p50/p95 in milliseconds; compare the
ratios within one run (the machines are noisy).

    .venv/bin/python bench/query.py                      # 100k and 1M (1M takes ~10 minutes)
    .venv/bin/python bench/query.py --sizes 20000        # a smoke run
    .venv/bin/python bench/query.py --json results.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregator.querysyntax import parse_query
from aggregator.search import fts_query
from aggregator.store import KEY_SPAN, SEARCH_TRIGGERS, Store

# -- synthetic headlines ---------------------------------------------------------------------

REGIONS = [
    "江苏",
    "广东",
    "内蒙古",
    "新疆",
    "甘肃",
    "青海",
    "山东",
    "浙江",
    "河北",
    "四川",
    "云南",
    "宁夏",
    "福建",
    "安徽",
    "湖北",
]
COMPANIES = [
    "国家电网",
    "南方电网",
    "国家能源集团",
    "华能集团",
    "大唐集团",
    "华电集团",
    "三峡集团",
    "中广核",
    "隆基绿能",
    "通威股份",
    "宁德时代",
    "比亚迪",
    "阳光电源",
    "金风科技",
    "远景能源",
    "晶科能源",
    "天合光能",
    "中石油",
    "中石化",
]
TECH = [
    "光伏",
    "储能",
    "风电",
    "海上风电",
    "氢能",
    "绿氢",
    "抽水蓄能",
    "锂电池",
    "钠离子电池",
    "特高压",
    "虚拟电厂",
    "分布式光伏",
    "光热",
    "核电",
    "煤电",
    "天然气",
    "充电桩",
    "逆变器",
    "电解槽",
    "储能站",
    "组件",
    "硅料",
]
ACTIONS = [
    "项目开工",
    "项目并网",
    "正式投运",
    "招标公告",
    "中标候选人公示",
    "签约落地",
    "获批",
    "装机创新高",
    "价格继续下行",
    "产能扩张",
    "出口增长",
    "政策发布",
    "试点启动",
    "完成验收",
    "首批并网",
]
SNIPPET_PARTS = (
    "据了解，该项目总投资约{n}亿元，建成后年发电量可达{n}亿千瓦时。",
    "业内人士表示，{tech}行业将迎来新一轮增长，市场竞争进一步加剧。",
    "国家能源局数据显示，今年前三季度全国新增{tech}装机{n}万千瓦，同比增长{n}%。",
    "项目采用先进的{tech}技术，配套建设{n}兆瓦时储能系统，提升电网调峰能力。",
    "{company}相关负责人介绍，公司将持续加大研发投入，推动产业链协同发展。",
    "此次招标共分{n}个标段，涉及{region}等地区的{tech}项目。",
)
EN_SUBJECTS = [
    "Solar",
    "Wind",
    "Battery",
    "storage",
    "Hydrogen",
    "Grid",
    "Offshore",
    "wind",
    "Nuclear",
    "LNG",
    "Oil",
    "Gas",
    "Lithium",
    "Electrolyser",
    "Transmission",
    "Heat",
    "pump",
    "EV",
    "charging",
]
EN_VERBS = [
    "prices fall",
    "capacity hits record",
    "project approved",
    "tender opens",
    "auction results",
    "output rises",
    "exports surge",
    "investment grows",
    "plant comes online",
    "deal signed",
]
EN_PLACES = [
    "China",
    "India",
    "Germany",
    "Texas",
    "Australia",
    "Chile",
    "Spain",
    "Vietnam",
    "Brazil",
    "the UK",
]
EN_SNIPPETS = (
    "Developers added {n} GW of {tech} capacity in {place} this quarter, analysts said.",
    "The {n} MW project will supply power to about {n} thousand homes once complete.",
    "Grid operators warned that curtailment could rise without more storage and transmission.",
    "Module prices fell {n}% as polysilicon supply outpaced demand across the supply chain.",
    "The company plans to raise {n} million dollars to expand its manufacturing capacity.",
)


# Rare subjects: each in about 1 article in 2,000 (a search for them cannot stop early by luck).
RARE_ZH = ("钍基熔盐堆", "钙钛矿叠层电池", "压缩空气储能", "潮汐电站")
RARE_EN = ("perovskite tandem cells", "thorium reactor", "tidal barrage")


def headline(rng: random.Random) -> tuple[str, str, str]:
    """(title, snippet, language) of one synthetic article."""
    title, snippet, language = _headline(rng)
    if rng.random() < 0.002:
        rare = rng.choice(RARE_ZH if language == "zh" else RARE_EN)
        title = f"{title}：{rare}" if language == "zh" else f"{title}: {rare}"
    return title, snippet, language


def _headline(rng: random.Random) -> tuple[str, str, str]:
    n = str(rng.randint(2, 980))
    if rng.random() < 0.75:
        tech, region, company = rng.choice(TECH), rng.choice(REGIONS), rng.choice(COMPANIES)
        title = rng.choice(
            (
                f"{region}{n}MW{tech}{rng.choice(ACTIONS)}",
                f"{company}：{tech}{rng.choice(ACTIONS)}",
                f"{region}{company}{tech}{rng.choice(ACTIONS)}",
                f"{tech}周报：{rng.choice(ACTIONS)}，{rng.choice(TECH)}{rng.choice(ACTIONS)}",
            )
        )
        parts = rng.sample(SNIPPET_PARTS, 2)
        snippet = "".join(
            p.format(n=rng.randint(1, 500), tech=rng.choice(TECH), company=company, region=region)
            for p in parts
        )
        return title, snippet, "zh"
    tech, place = rng.choice(EN_SUBJECTS), rng.choice(EN_PLACES)
    title = f"{tech} {rng.choice(EN_VERBS)} in {place}"
    snippet = " ".join(
        p.format(n=rng.randint(1, 500), tech=rng.choice(EN_SUBJECTS).lower(), place=place)
        for p in rng.sample(EN_SNIPPETS, 2)
    )
    return title, snippet, "en"


def rows(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Articles over three years, mostly in date order, 5% backfilled with older dates."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    span = timedelta(days=3 * 365).total_seconds()
    for i in range(1, count + 1):
        title, snippet, language = headline(rng)
        moment = start + timedelta(seconds=span * i / count)
        if rng.random() < 0.05:
            moment -= timedelta(days=rng.randint(1, 200))
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        yield {
            "id": i,
            "url": f"https://news{i % 40}.example.com/a/{i}.html",
            "canonical_url": f"https://news{i % 40}.example.com/a/{i}.html",
            "source": f"source{i % 40}",
            "title": title,
            "snippet": snippet,
            "published_at": stamp if rng.random() > 0.1 else None,
            "first_seen_at": stamp,
            "last_seen_at": stamp,
            "language": language,
            "story_id": i,
        }


# Per query length: common words, rare ones (RARE_*) and absent ones (a full scan for LIKE).
QUERIES = {
    "zh 1 char": ["氢", "光", "核", "桩", "硅", "钍", "钛", "汐", "鲸", "铀"],
    "zh 2 chars": ["光伏", "储能", "风电", "招标", "宁夏", "钍基", "熔盐", "潮汐", "鲸鱼", "地热"],
    "zh 3 chars": ["储能站", "逆变器", "特高压", "电解槽", "钙钛矿", "熔盐堆", "可燃冰", "干热岩"],
    "zh 4 chars": [
        "抽水蓄能",
        "海上风电",
        "虚拟电厂",
        "国家电网",
        "压缩空气",
        "潮汐电站",
        "页岩气田",
    ],
    "English": ["solar", "hydrogen", "battery", "chile", "perovskite", "thorium", "geothermal"],
}


# -- baselines ---------------------------------------------------------------------------------


def build_trigram(conn: sqlite3.Connection) -> float:
    """A trigram FTS5 table over title + snippet, with the same sort-key rowids."""
    began = time.perf_counter()
    conn.execute(
        "CREATE VIRTUAL TABLE bench_trigram USING fts5(title, snippet, content='', "
        "tokenize='trigram')"
    )
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO bench_trigram (rowid, title, snippet) SELECT articles_fts.rowid, a.title, "
        f"a.snippet FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid % {KEY_SPAN}"
    )
    conn.execute("COMMIT")
    return time.perf_counter() - began


def like_top20(conn: sqlite3.Connection, word: str) -> list[Any]:
    pattern = f"%{word}%"
    return conn.execute(
        "SELECT * FROM articles WHERE title LIKE ? OR snippet LIKE ? "
        "ORDER BY coalesce(published_at, first_seen_at) DESC, id DESC LIMIT 20",
        (pattern, pattern),
    ).fetchall()


def trigram_top20(conn: sqlite3.Connection, word: str) -> list[Any]:
    return conn.execute(
        "SELECT a.* FROM bench_trigram CROSS JOIN articles a "
        f"ON a.id = bench_trigram.rowid % {KEY_SPAN} WHERE bench_trigram MATCH ? "
        "ORDER BY bench_trigram.rowid DESC LIMIT 20",
        ('"' + word + '"',),
    ).fetchall()


def index_top20(conn: sqlite3.Connection, word: str) -> list[Any]:
    """The store's index in plain SQL, like trigram_top20 (no Python decoding, no tie-break)."""
    return conn.execute(
        "SELECT a.* FROM articles_fts CROSS JOIN articles a "
        f"ON a.id = articles_fts.rowid % {KEY_SPAN} WHERE articles_fts MATCH ? "
        "ORDER BY articles_fts.rowid DESC LIMIT 20",
        (fts_query(parse_query(word)),),
    ).fetchall()


def table_bytes(conn: sqlite3.Connection, prefix: str) -> int:
    return int(
        conn.execute(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ? OR name LIKE ?",
            (prefix, prefix + "_%"),
        ).fetchone()[0]
    )


# -- timing ------------------------------------------------------------------------------------


def timings(call: Callable[[str], Any], words: list[str], repeat: int) -> list[float]:
    for word in words:  # warm the page cache once
        call(word)
    out = []
    for _ in range(repeat):
        for word in words:
            began = time.perf_counter()
            call(word)
            out.append((time.perf_counter() - began) * 1000)
    return out


def p50_p95(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def fill(store: Store, table: str, size: int) -> float:
    """Insert the synthetic rows in 20,000-row transactions (as a crawl's batches, larger);
    the seconds spent writing, without making the rows."""
    columns = (
        "id, url, canonical_url, source, title, snippet, published_at, first_seen_at, "
        "last_seen_at, language, story_id"
    )
    marks = ", ".join(":" + c.strip() for c in columns.split(","))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
    spent = 0.0
    generated = rows(size)
    batch = list(itertools.islice(generated, 20_000))
    while batch:
        began = time.perf_counter()
        with store.write() as conn:  # for articles, the search queue is applied at commit
            conn.executemany(sql, batch)
        spent += time.perf_counter() - began
        batch = list(itertools.islice(generated, 20_000))
    return spent


def run_size(size: int, folder: Path, repeat: int) -> dict[str, Any]:
    path = folder / f"bench-{size}.db"
    store = Store(path)
    fill_seconds = fill(store, "articles", size)
    # The same rows into another database without the search triggers: what indexing adds.
    with Store(folder / "plain.db") as plain:
        for name in SEARCH_TRIGGERS:
            plain.conn.execute(f"DROP TRIGGER {name}")
        plain_seconds = fill(plain, "articles", size)
    for leftover in folder.glob("plain.db*"):
        leftover.unlink()
    store.conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('optimize')")
    store.checkpoint()
    trigram_seconds = build_trigram(store.conn)
    store.conn.execute("INSERT INTO bench_trigram (bench_trigram) VALUES ('optimize')")
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    index_bytes = table_bytes(store.conn, "articles_fts")
    trigram_bytes = table_bytes(store.conn, "bench_trigram")
    result: dict[str, Any] = {
        "articles": size,
        "fill_and_index_seconds": round(fill_seconds, 1),
        "fill_without_index_seconds": round(plain_seconds, 1),
        "trigram_build_seconds": round(trigram_seconds, 1),
        "index_bytes_per_article": round(index_bytes / size),
        "trigram_bytes_per_article": round(trigram_bytes / size),
        "text_bytes_per_article": round(
            store.conn.execute(
                "SELECT avg(length(CAST(title AS BLOB)) + length(CAST(snippet AS BLOB))) "
                "FROM articles"
            ).fetchone()[0]
        ),
        "queries": {},
    }
    for label, words in QUERIES.items():
        figures: dict[str, Any] = {}
        figures["matches"] = {
            w: store.conn.execute(
                "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?",
                (fts_query(parse_query(w)),),
            ).fetchone()[0]
            for w in words
        }
        methods: dict[str, Callable[[str], Any]] = {
            "index": lambda w: store.articles(text=w, limit=20),
            "index_sql": lambda w: index_top20(store.conn, w),
            "like": lambda w: like_top20(store.conn, w),
            "relevance": lambda w: store.articles(text=w, limit=20, rank="relevance"),
        }
        if label in ("zh 3 chars", "zh 4 chars", "English"):
            methods["trigram"] = lambda w: trigram_top20(store.conn, w)
        for method, call in methods.items():
            runs = repeat if method != "like" else max(1, repeat // 3)
            p50, p95 = p50_p95(timings(call, words, runs))
            figures[method] = {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}
        # the methods must agree on what the top 20 are (a benchmark of wrong answers is no use)
        for word in words:
            ours = [r["id"] for r in store.articles(text=word, limit=20)]
            like = [r[0] for r in like_top20(store.conn, word)]
            if ours != like:
                raise SystemExit(f"{label} {word!r}: index and LIKE disagree: {ours} vs {like}")
        result["queries"][label] = figures
        print(f"  {size:>9,}  {label:<11} {json.dumps(figures)}", flush=True)
    store.close()
    return result


def report(results: list[dict[str, Any]]) -> str:
    lines = [
        "| articles | query | index p50 / p95 ms | LIKE p50 / p95 ms | trigram p50 / p95 ms "
        "| index, plain SQL p50 / p95 ms | LIKE p95 / index p95 | relevance p95 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for label, f in result["queries"].items():
            tri = f.get("trigram")
            lines.append(
                f"| {result['articles']:,} | {label} | {f['index']['p50_ms']} / "
                f"{f['index']['p95_ms']} | {f['like']['p50_ms']} / {f['like']['p95_ms']} | "
                + (f"{tri['p50_ms']} / {tri['p95_ms']}" if tri else "n/a (< 3 chars)")
                + f" | {f['index_sql']['p50_ms']} / {f['index_sql']['p95_ms']}"
                + f" | {f['like']['p95_ms'] / max(f['index']['p95_ms'], 0.001):.0f}× "
                f"| {f['relevance']['p95_ms']} |"
            )
    lines.append("")
    for result in results:
        lines.append(
            f"{result['articles']:,} articles: index {result['index_bytes_per_article']} bytes/"
            f"article (trigram {result['trigram_bytes_per_article']}; text "
            f"{result['text_bytes_per_article']}), filled and indexed in "
            f"{result['fill_and_index_seconds']} s (without the index "
            f"{result['fill_without_index_seconds']} s; trigram "
            f"{result['trigram_build_seconds']} s)"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=6, help="timed rounds per query")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", type=Path, help="keep the databases in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        results = [run_size(size, folder, args.repeat) for size in args.sizes]
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False), "utf-8")


if __name__ == "__main__":
    main()
