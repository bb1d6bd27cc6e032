"""Crawl benchmark: ``newsagg crawl`` against a bare Scrapy spider on the same loopback site.

    python bench/crawl.py [--pages N] [--quick] [--repeat R] [--keep] [--json FILE]

It writes a site of N list pages (about 10 KB each, UTF-8, 20 items: a Chinese headline, a
snippet, a "2026-02-24 15:20" date, a link to an article page) into a temporary folder, serves it
with ``aggregator.sitefarm.SiteFarm`` on 127.0.0.1 and, against that one server, runs three crawls,
each in its own process:

(a) ``bench/bare_spider.py``: Scrapy fetching the pages and extracting the same four fields with
    ``response.css``, then dropping them;
(b) ``newsagg crawl`` into an empty database: everything is stored (N*20 new);
(c) the same crawl again: nothing is new (N*20 unchanged) and no article page may be fetched
    (headlines are whole and dates have minutes, so ``follow = "truncated"`` must not follow).

All three get the same speed-related Scrapy settings (``SHARED_SETTINGS``). Times are the wall time
of each process, interpreter start-up included; peak memory is that process's peak RSS (from
``os.wait4``). It prints pages/s, items/s and peak MB per run, b/a and c/a (ratios of pages/s) and
whether the targets are met: b/a >= 0.7, c/a >= 0.8 with no article page fetched, peak memory
< 300 MB at 10,000 pages. ``--repeat R`` runs (a), (b), (c) R times ((b) into a fresh database
each time) and reports the median runs: the machines are noisy.

Exit status: 0 when every run worked and stored what it should (targets met or not), 1 when a
run failed or a count is wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aggregator.sitefarm import SiteFarm

BENCH_DIR = Path(__file__).resolve().parent
ITEMS_PER_PAGE = 20
DEFAULT_PAGES = 2000
QUICK_PAGES = 200
MEMORY_TARGET_PAGES = 10_000

TARGET_B_OVER_A = 0.7
TARGET_C_OVER_A = 0.8
TARGET_PEAK_MB = 300.0

# The Scrapy settings that affect speed, given to (a), (b) and (c) alike.
SHARED_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "LOG_LEVEL": "WARNING",
    "ROBOTSTXT_OBEY": "True",
    "TELNETCONSOLE_ENABLED": "False",
    "COOKIES_ENABLED": "False",
}

# What the site's markup looks like to a source (bench/bare_spider.py uses the same CSS).
SOURCE_TEMPLATE = """\
# Written by bench/crawl.py: one source, every list page of the benchmark site.
[[source]]
name = "bench"
title = "能源资讯基准站"
kind = "html"
urls = [
{urls}
]
language = "zh"
timezone = "Asia/Shanghai"
topics = ["energy"]
# Headlines are whole and dates have minutes: nothing may be followed.
follow = "truncated"
[source.selectors]
item = "ul.news-list li"
title = "h3 a"
link = "h3 a::attr(href)"
snippet = "p.summary"
date = "span.date"
"""

# ---------------------------------------------------------------------------------------------
# The site


REGIONS = [
    "内蒙古", "新疆", "青海", "甘肃", "宁夏", "河北", "山东", "江苏", "浙江", "广东",
    "四川", "云南", "福建", "安徽", "湖北", "陕西", "山西", "吉林", "辽宁", "海南",
]  # fmt: skip
SUBJECTS = [
    "光伏", "风电", "储能", "氢能", "特高压", "抽水蓄能", "海上风电", "分布式光伏",
    "虚拟电厂", "充电基础设施", "天然气管网", "核电", "光热", "新型储能", "绿电交易",
]  # fmt: skip
ACTIONS = [
    "项目全容量并网", "项目开工建设", "招标结果公示", "装机规模创新高", "示范工程正式投运",
    "政策公开征求意见", "电价机制出台", "产业链价格企稳", "重点项目签约落地", "年度开发方案发布",
]  # fmt: skip
FRAGMENTS = [
    "据业内人士介绍，",
    "该项目总投资约二十亿元，",
    "建成后年发电量可达三亿千瓦时，",
    "每年可节约标准煤约九万吨，",
    "减少二氧化碳排放约二十四万吨。",
    "项目采用高效双面组件与智能跟踪支架，",
    "配套建设一座二百二十千伏升压站，",
    "并按百分之十五比例配置储能。",
    "地方能源主管部门表示，",
    "下一步将加快推进电网送出工程建设，",
    "进一步提升新能源消纳能力。",
    "今年以来，全国新增装机保持较快增长，",
    "市场化交易电量占比持续提高，",
    "行业企业普遍看好后续发展前景。",
    "专家建议完善容量电价与辅助服务市场机制，",
    "为高比例可再生能源接入提供支撑。",
]

PAGE_HEAD = """\
<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>能源资讯 - 第{page}页 - 能源资讯基准站</title>
<meta name="keywords" content="光伏,风电,储能,氢能,电网,能源资讯">
<meta name="description" content="能源资讯基准站：光伏、风电、储能、氢能、电网行业新闻。">
<link rel="stylesheet" href="/static/css/main.css">
</head>
<body>
<div class="header"><a class="logo" href="/">能源资讯基准站</a>
<ul class="nav"><li><a href="/">首页</a></li><li><a href="/list/0.html">资讯</a></li>
<li><a href="/solar/">光伏</a></li><li><a href="/wind/">风电</a></li>
<li><a href="/storage/">储能</a></li><li><a href="/hydrogen/">氢能</a></li>
<li><a href="/grid/">电网</a></li><li><a href="/policy/">政策</a></li></ul></div>
<div class="main"><div class="crumb">当前位置：<a href="/">首页</a> &gt; 资讯 &gt; 第{page}页</div>
<ul class="news-list">
"""
ITEM_HTML = """\
<li><h3><a href="/a/{page}-{i}.html" target="_blank">{title}</a></h3>
<p class="summary">{snippet}</p><span class="date">{date}</span></li>
"""
PAGE_FOOT = """\
</ul>
<div class="pager"><a href="/list/{prev}.html">上一页</a>
<a href="/list/{next}.html">下一页</a></div>
</div>
<div class="side"><h4>热门标签</h4><p><a href="/tag/pv">光伏</a> <a href="/tag/wind">风电</a>
<a href="/tag/ess">储能</a> <a href="/tag/h2">氢能</a> <a href="/tag/uhv">特高压</a></p></div>
<div class="footer">版权所有 © 能源资讯基准站 本站内容仅供基准测试使用</div>
</body>
</html>
"""


def headline(rng: random.Random, page: int, i: int) -> str:
    megawatts = rng.randrange(50, 2000, 10)
    return (
        f"{rng.choice(REGIONS)}{megawatts}兆瓦{rng.choice(SUBJECTS)}{rng.choice(ACTIONS)}"
        f"（第{page + 1}期第{i + 1}条）"
    )


def snippet(rng: random.Random) -> str:
    text = ""
    while len(text) < 80:
        text += rng.choice(FRAGMENTS)
    return text.rstrip("，") + "。" if not text.endswith("。") else text


def make_site(root: Path, pages: int, seed: int = 20261128) -> int:
    """Write ``robots.txt`` and ``list/0.html``… under ``root``; return the bytes written."""
    rng = random.Random(seed)
    (root / "list").mkdir(parents=True)
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", "utf-8")
    # Newest first, one minute apart, ending two days ago (read as Asia/Shanghai: in the past).
    newest = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=2)
    total = 0
    for page in range(pages):
        parts = [PAGE_HEAD.format(page=page + 1)]
        for i in range(ITEMS_PER_PAGE):
            date = newest - timedelta(minutes=page * ITEMS_PER_PAGE + i)
            parts.append(
                ITEM_HTML.format(
                    page=page,
                    i=i,
                    title=headline(rng, page, i),
                    snippet=snippet(rng),
                    date=date.strftime("%Y-%m-%d %H:%M"),
                )
            )
        parts.append(PAGE_FOOT.format(prev=max(page - 1, 0), next=min(page + 1, pages - 1)))
        data = "".join(parts).encode("utf-8")
        (root / "list" / f"{page}.html").write_bytes(data)
        total += len(data)
    return total


def list_urls(base_url: str, pages: int) -> list[str]:
    return [f"{base_url}list/{page}.html" for page in range(pages)]


def write_sources(path: Path, urls: list[str]) -> None:
    path.write_text(SOURCE_TEMPLATE.format(urls="\n".join(f'  "{url}",' for url in urls)), "utf-8")


# ---------------------------------------------------------------------------------------------
# Running and measuring


@dataclass
class Run:
    label: str
    returncode: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    peak_mb: float = 0.0
    timed_out: bool = False
    stdout: str = ""
    stderr: str = ""
    requests: list[str] = field(default_factory=list)
    pages: int = 0
    items: int = 0
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0

    def count_requests(self, prefix: str) -> int:
        return sum(1 for path in self.requests if path.startswith(prefix))


def run_child(label: str, argv: list[str], workdir: Path, farm: SiteFarm, timeout: float) -> Run:
    """Run ``argv`` in ``workdir``: wall time, peak RSS and the farm's requests while it ran."""
    run = Run(label)
    out_path = workdir / f"{label}.stdout"
    err_path = workdir / f"{label}.stderr"
    seen = len(farm.requests)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=workdir, stdout=out, stderr=err)

        def kill() -> None:
            run.timed_out = True
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            # wait4, not Popen.wait: its rusage is this child's alone (ru_maxrss in KiB on Linux).
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        run.seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    run.returncode = proc.returncode
    kib = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
    run.peak_mb = kib / 1024
    run.cpu_s = usage.ru_utime + usage.ru_stime
    run.stdout = out_path.read_text("utf-8", errors="replace")
    run.stderr = err_path.read_text("utf-8", errors="replace")
    run.requests = list(farm.requests[seen:])
    return run


def last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return {}


def scrapy_args(settings: dict[str, str]) -> list[str]:
    return [arg for name, value in settings.items() for arg in ("-s", f"{name}={value}")]


def warm_up(workdir: Path) -> None:
    """Import Scrapy and the aggregator once, so that (a) does not pay for a cold disk cache."""
    subprocess.run(
        [sys.executable, "-c", "import scrapy.crawler, aggregator.cli, spiders.news"],
        cwd=workdir,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# ---------------------------------------------------------------------------------------------
# Report

NAMES = {
    "a": "(a) bare Scrapy spider, CSS, drop",
    "b": "(b) newsagg crawl, stores all",
    "c": "(c) newsagg crawl again",
}


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def tail(text: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def median_run(runs: list[Run]) -> Run:
    """The run with the median pages/s (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda run: run.pages_per_s)
    return ordered[(len(ordered) - 1) // 2]


def ratio(x: float, y: float) -> float:
    return x / y if y else 0.0


def report(
    pages: int, site_bytes: int, runs: dict[str, list[Run]], problems: list[str]
) -> dict[str, Any]:
    repeat = len(runs["a"])
    mid = {key: median_run(group) for key, group in runs.items()}
    a, b, c = mid["a"], mid["b"], mid["c"]
    expected = pages * ITEMS_PER_PAGE
    print(
        f"\ncrawl benchmark: {pages} list pages x {ITEMS_PER_PAGE} items = {expected} items, "
        f"{site_bytes / pages / 1024:.1f} KB a page; Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print("seconds: process wall time, start-up included; cpu s: its user+sys; peak: max RSS")
    if repeat > 1:
        print(f"{repeat} repetitions: each row is the median one (by pages/s); range = min-max")
    print()
    header = f"{'run':<34}{'pages':>7}{'items':>8}{'seconds':>9}{'cpu s':>7}{'pages/s':>9}"
    header += f"{'items/s':>9}{'peak MB':>9}"
    print(header + (f"{'pages/s range':>16}" if repeat > 1 else ""))
    for key, run in mid.items():
        line = (
            f"{NAMES[key]:<34}{run.pages:>7}{run.items:>8}{run.seconds:>9.1f}{run.cpu_s:>7.1f}"
            f"{run.pages_per_s:>9.1f}{run.items_per_s:>9.0f}"
            f"{max(r.peak_mb for r in runs[key]):>9.0f}"
        )
        if repeat > 1:
            speeds = [r.pages_per_s for r in runs[key]]
            line += f"{min(speeds):>10.1f}-{max(speeds):<5.1f}"
        print(line)
    b_over_a = ratio(b.pages_per_s, a.pages_per_s)
    c_over_a = ratio(c.pages_per_s, a.pages_per_s)
    articles_b = sum(run.count_requests("/a/") for run in runs["b"])
    articles_c = sum(run.count_requests("/a/") for run in runs["c"])
    peak = max(run.peak_mb for run in runs["b"] + runs["c"])
    b_ok = b_over_a >= TARGET_B_OVER_A
    c_ok = c_over_a >= TARGET_C_OVER_A and articles_c == 0
    print()
    print(f"b/a = {b_over_a:.2f}   target >= {TARGET_B_OVER_A}: {verdict(b_ok)}")
    print(
        f"c/a = {c_over_a:.2f}   target >= {TARGET_C_OVER_A} with no article page fetched "
        f"({articles_c} fetched): {verdict(c_ok)}"
    )
    per_rep: dict[str, list[float]] = {"b/a": [], "c/a": []}
    for ra, rb, rc in zip(runs["a"], runs["b"], runs["c"], strict=True):
        per_rep["b/a"].append(ratio(rb.pages_per_s, ra.pages_per_s))
        per_rep["c/a"].append(ratio(rc.pages_per_s, ra.pages_per_s))
    cpu_b_over_a = ratio(a.cpu_s, b.cpu_s)
    cpu_c_over_a = ratio(a.cpu_s, c.cpu_s)
    if repeat > 1:
        for name, values in per_rep.items():
            print(f"{name} per repetition: " + ", ".join(f"{v:.2f}" for v in values))
    print(f"by CPU time instead of wall time: b/a = {cpu_b_over_a:.2f}, c/a = {cpu_c_over_a:.2f}")
    if pages >= MEMORY_TARGET_PAGES:
        memory = f"target < {TARGET_PEAK_MB:.0f} MB: {verdict(peak < TARGET_PEAK_MB)}"
    else:
        memory = f"(the < {TARGET_PEAK_MB:.0f} MB target is for {MEMORY_TARGET_PAGES} pages)"
    print(f"peak memory of newsagg = {peak:.0f} MB   {memory}")
    print(f"article pages requested: {articles_b} during (b), {articles_c} during (c)")
    totals_b = b.record.get("totals", {})
    totals_c = c.record.get("totals", {})
    print(
        f"stored: (b) new {totals_b.get('new')} / expected {expected}; "
        f"(c) new {totals_c.get('new')}, updated {totals_c.get('updated')}, "
        f"unchanged {totals_c.get('unchanged')} / expected {expected}"
    )
    if problems:
        print("\nBROKEN:")
        for problem in problems:
            print(f"  - {problem}")
    else:
        print("\nall runs worked and stored the expected counts")
    return {
        "pages": pages,
        "items_per_page": ITEMS_PER_PAGE,
        "page_kb": round(site_bytes / pages / 1024, 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "repeat": repeat,
        "runs": {
            key: [
                {
                    "pages": run.pages,
                    "items": run.items,
                    "seconds": round(run.seconds, 3),
                    "cpu_s": round(run.cpu_s, 3),
                    "pages_per_s": round(run.pages_per_s, 2),
                    "items_per_s": round(run.items_per_s, 1),
                    "peak_mb": round(run.peak_mb, 1),
                    "article_requests": run.count_requests("/a/"),
                }
                for run in group
            ]
            for key, group in runs.items()
        },
        "b_over_a": round(b_over_a, 3),
        "c_over_a": round(c_over_a, 3),
        "b_over_a_per_repetition": [round(v, 3) for v in per_rep["b/a"]],
        "c_over_a_per_repetition": [round(v, 3) for v in per_rep["c/a"]],
        "cpu_b_over_a": round(cpu_b_over_a, 3),
        "cpu_c_over_a": round(cpu_c_over_a, 3),
        "peak_mb": round(peak, 1),
        "targets": {
            "b_over_a": b_ok,
            "c_over_a": c_ok,
            "peak_mb": peak < TARGET_PEAK_MB if pages >= MEMORY_TARGET_PAGES else None,
        },
        "problems": problems,
    }


# ---------------------------------------------------------------------------------------------
# Main


def check(runs: dict[str, list[Run]], pages: int) -> list[str]:
    """What is broken: a failed run or wrong counts (a missed target is not broken)."""
    expected = pages * ITEMS_PER_PAGE
    problems = []
    for key, group in runs.items():
        for rep, run in enumerate(group, 1):
            name = f"({key})" if len(group) == 1 else f"({key}, repetition {rep})"
            if run.timed_out:
                problems.append(f"{name} timed out and was killed")
            if run.returncode != 0:
                detail = f":\n{tail(run.stderr)}" if run.stderr.strip() else ""
                problems.append(f"{name} exited {run.returncode}{detail}")
            if run.pages != pages:
                problems.append(f"{name} read {run.pages} list pages, expected {pages}")
            if run.items != expected:
                problems.append(f"{name} extracted {run.items} items, expected {expected}")
            totals = run.record.get("totals", {})
            if key == "b" and totals.get("new") != expected:
                problems.append(f"{name} stored {totals.get('new')} new, expected {expected}")
            if key == "c" and (totals.get("new") != 0 or totals.get("unchanged") != expected):
                problems.append(
                    f"{name} new {totals.get('new')}, unchanged {totals.get('unchanged')}: "
                    f"expected 0 new and {expected} unchanged"
                )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Crawl benchmark: newsagg crawl vs a bare Scrapy spider on a loopback site."
    )
    parser.add_argument("--pages", type=int, default=DEFAULT_PAGES, help="list pages (2000)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_PAGES} pages: a smoke run")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run a, b, c this many times; report medians (1)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--timeout", type=float, help="seconds allowed per run (default 300 + 0.2 s a page)"
    )
    args = parser.parse_args(argv)
    pages = QUICK_PAGES if args.quick else args.pages
    if pages < 1 or args.repeat < 1:
        parser.error("--pages and --repeat must be at least 1")
    timeout = args.timeout or 300 + 0.2 * pages

    workdir = Path(tempfile.mkdtemp(prefix="newsagg-bench-"))
    try:
        site = workdir / "site"
        print(f"writing {pages} list pages under {site} ...", flush=True)
        site_bytes = make_site(site, pages)
        warm_up(workdir)
        runs: dict[str, list[Run]] = {"a": [], "b": [], "c": []}
        with SiteFarm(site) as farm:
            urls = list_urls(farm.url, pages)
            urls_file = workdir / "urls.txt"
            urls_file.write_text("\n".join(urls) + "\n", "utf-8")
            sources = workdir / "sources.toml"
            write_sources(sources, urls)
            settings = scrapy_args(SHARED_SETTINGS)
            bare = [sys.executable, str(BENCH_DIR / "bare_spider.py"), str(urls_file), *settings]
            for rep in range(1, args.repeat + 1):
                db = workdir / f"bench-{rep}.db"  # (b) starts from an empty database each time
                newsagg = [sys.executable, "-m", "aggregator", "--db", str(db)]
                newsagg += ["--sources", str(sources), "crawl", "--json", *settings]
                for key, command in (("a", bare), ("b", newsagg), ("c", newsagg)):
                    label = key if args.repeat == 1 else f"{key}{rep}"
                    print(f"run ({label}) ...", flush=True)
                    run = run_child(label, command, workdir, farm, timeout)
                    if key == "a":
                        stats = last_json(run.stdout)
                        run.pages = int(stats.get("pages", 0))
                        run.items = int(stats.get("items", 0))
                    else:
                        run.record = last_json(run.stdout)
                        per_source = run.record.get("sources", {}).values()
                        run.pages = sum(s.get("pages_ok", 0) for s in per_source)
                        run.items = int(run.record.get("totals", {}).get("items", 0))
                    runs[key].append(run)
        problems = check(runs, pages)
        results = report(pages, site_bytes, runs, problems)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n", "utf-8")
        return 1 if problems else 0
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
