"""Peak memory of `newsagg crawl` on the limit cases: a 10 MB list page, a 5,000-item feed, a
gzip bomb (1 GiB inflated, 1 MiB on the wire), next to a one-item page (the process's baseline).

Each case is one `newsagg crawl` process against a loopback site farm; its peak resident set
size comes from the kernel (``wait4``'s ``ru_maxrss``). The target of issue 8 is < 300 MB.

    .venv/bin/python bench/limits.py            # all cases
    .venv/bin/python bench/limits.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aggregator.sitefarm import SiteFarm  # noqa: E402  (after the path is set)

SELECTORS = (
    '[source.selectors]\nitem = "ul.news li"\ntitle = "a"\nlink = "a::attr(href)"\n'
    'snippet = "p"\ndate = "span.time"\n'
)
TARGET_MB = 300


def write_site(root: Path) -> None:
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", "utf-8")
    (root / "tiny.html").write_text(
        '<ul class="news"><li><a href="/a/0.html">一条新闻</a></li></ul>', "utf-8"
    )
    items, size, n = [], 0, 0
    while size < 10_000_000 - 600:  # just under 10 MB, so under the 10 MiB cap: it is read
        item = (
            f'<li><a href="/a/{n}.html">第{n}条：储能电站并网与光伏组件价格的最新消息</a>'
            f"<p>{'摘要内容，电网调度与新能源消纳。' * 8}</p>"
            f'<span class="time">2026-02-24 15:{n % 60:02d}</span></li>\n'
        )
        items.append(item)
        size += len(item.encode())
        n += 1
    page = f'<html><body><ul class="news">\n{"".join(items)}</ul></body></html>'
    (root / "big.html").write_text(page, "utf-8")
    entries = "".join(
        f"<item><title>Entry {n}: grid storage and solar prices</title>"
        f"<link>http://127.0.0.1/e/{n}.html</link><guid>http://127.0.0.1/e/{n}.html</guid>"
        f"<description>Summary {n}: {'storage, grid, solar. ' * 10}</description>"
        f"<pubDate>Tue, 24 Feb 2026 {n % 24:02d}:{n % 60:02d}:00 +0000</pubDate></item>"
        for n in range(5000)
    )
    (root / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<link>http://127.0.0.1/</link><description>d</description>{entries}</channel></rss>",
        "utf-8",
    )


def run_case(farm: SiteFarm, tmp: Path, name: str, kind: str, path: str) -> dict[str, object]:
    sources = tmp / f"{name}.toml"
    text = f'[[source]]\nname = "{name}"\nkind = "{kind}"\nurls = ["{farm.url}{path}"]\n'
    sources.write_text(text + (SELECTORS if kind == "html" else ""), "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSAGG_")}
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aggregator",
            "--db",
            str(tmp / f"{name}.db"),
            "--sources",
            str(sources),
            "crawl",
            "--json",
            "-s",
            "AUTOTHROTTLE_START_DELAY=0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    assert process.stdout is not None
    out = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    record = json.loads(out)["sources"][name]
    return {
        "case": name,
        "peak_mb": round(usage.ru_maxrss / 1024, 1),
        "seconds": round(time.monotonic() - started, 2),
        "exit": process.returncode,
        "new": record["new"],
        "error": record["errors"][0][:90] if record["errors"] else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        site = tmp / "site"
        site.mkdir()
        write_site(site)
        with SiteFarm(site) as farm:
            cases = [
                ("baseline_1_item", "html", "tiny.html"),
                ("page_10mb", "html", "big.html"),
                ("feed_5000_items", "feed", "feed.xml"),
                ("gzip_bomb_1gib", "html", "_farm/bomb/1024"),
            ]
            results = [run_case(farm, tmp, *case) for case in cases]
        big = (site / "big.html").stat().st_size
    print(f"10 MB page: {big:,} bytes; target: peak < {TARGET_MB} MB per case")
    print(f"{'case':<18} {'peak MB':>8} {'seconds':>8} {'exit':>5} {'new':>6}  error")
    for r in results:
        print(
            f"{r['case']:<18} {r['peak_mb']:>8} {r['seconds']:>8} {r['exit']:>5} {r['new']:>6}  "
            f"{r['error']}"
        )
    base = float(results[0]["peak_mb"])  # type: ignore[arg-type]
    for r in results[1:]:
        print(f"{r['case']}: {float(r['peak_mb']) / base:.2f}x the baseline")  # type: ignore[arg-type]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), "utf-8")


if __name__ == "__main__":
    main()
