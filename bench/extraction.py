"""Extraction quality on the fixture sites in tests/sites (no network, no timing).

For every ``tests/sites/auto_*`` layout: recall and extras of ``kind = "auto"`` (the best block,
against ``expected.json``'s main list; and ``blocks = ["*"]`` against main list + sidebars), and
whether titles and UTC times match exactly. For the article pages listed in
``tests/sites/auto_bjx/articles.json`` and ``tests/sites/articles_hw/articles.json``: the share
whose title and time are extracted right. Fixtures whose spec says ``"written": "by hand"``
(HTML and expected items typed by hand, never dumped from the extractor) are reported apart from
the generated ones, whose expectations agree with the extractor by construction.

    .venv/bin/python bench/extraction.py
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from aggregator.autolist import choose_blocks, find_blocks
from aggregator.dates import to_utc_string
from aggregator.encodings import decode_page
from aggregator.extract import extract_article
from aggregator.items import Article

SITES = Path(__file__).resolve().parents[1] / "tests" / "sites"
BASE = "http://127.0.0.1:8000"


@dataclass
class Score:
    expected: int
    found: int
    extras: int
    wrong_title: int
    wrong_time: int

    @property
    def recall(self) -> float:
        return self.found / self.expected if self.expected else 1.0

    @property
    def extra_share(self) -> float:
        total = self.found + self.extras
        return self.extras / total if total else 0.0


def read_page(path: Path) -> str:
    sidecar = path.with_name(path.name + ".headers")
    content_type = None
    if sidecar.is_file():
        for line in sidecar.read_text("utf-8").splitlines():
            if line.lower().startswith("content-type:"):
                content_type = line.split(":", 1)[1].strip()
    return decode_page(path.read_bytes(), content_type).text


def compare(items: list[Article], expected: list[dict[str, str | None]]) -> Score:
    want = {BASE + e["url"]: e for e in expected}  # type: ignore[operator]
    got = {a.url: a for a in items}
    found = [u for u in got if u in want]
    wrong_title = sum(1 for u in found if got[u].title != want[u]["title"])
    wrong_time = sum(
        1
        for u in found
        if (to_utc_string(got[u].published_at) if got[u].published_at else None)
        != want[u]["published_at"]
    )
    return Score(len(want), len(found), len(got) - len(found), wrong_title, wrong_time)


def layout_scores() -> dict[str, tuple[Score, Score, bool]]:
    """layout -> (best block vs main list, all blocks vs main + sidebars, written by hand)."""
    scores = {}
    for folder in sorted(p for p in SITES.glob("auto_*") if p.is_dir()):
        spec = json.loads((folder / "expected.json").read_text("utf-8"))
        html = read_page(folder / "index.html")
        now = datetime.fromisoformat(spec["now"].replace("Z", "+00:00"))
        blocks = find_blocks(html, f"{BASE}/{folder.name}/", tz=ZoneInfo(spec["timezone"]), now=now)
        best = [a for b in choose_blocks(blocks) for a in b.items]
        every = [a for b in choose_blocks(blocks, ["*"]) for a in b.items]
        sidebars = [e for block in spec["blocks"].values() for e in block]
        sidebars += spec.get("others", [])  # news blocks not asserted by heading (a carousel)
        scores[folder.name] = (
            compare(best, spec["main"]),
            compare(every, spec["main"] + sidebars),
            by_hand(spec),
        )
    return scores


ARTICLE_SPECS = (SITES / "auto_bjx" / "articles.json", SITES / "articles_hw" / "articles.json")


def by_hand(spec: dict[str, object]) -> bool:
    return spec.get("written") == "by hand"


def article_scores(spec_path: Path) -> tuple[int, int, int, int]:
    """(pages, titles right, pages with a time, times right)."""
    spec = json.loads(spec_path.read_text("utf-8"))
    now = datetime.fromisoformat(spec["now"].replace("Z", "+00:00"))
    titles = times = dated = 0
    for entry in spec["articles"]:
        html = read_page(SITES / entry["url"].lstrip("/"))
        page = extract_article(html, BASE + entry["url"], tz=ZoneInfo(spec["timezone"]), now=now)
        titles += page.title == entry["title"]
        got = to_utc_string(page.published.value) if page.published else None
        dated += entry["published_at"] is not None
        times += entry["published_at"] is not None and got == entry["published_at"]
    return len(spec["articles"]), titles, dated, times


def timing() -> list[tuple[str, float, float]]:
    """(layout, ms per page for kind = "auto", ms for kind = "html" with the inferred
    selectors): both parse the page; medians of 20 runs."""
    from statistics import median
    from time import perf_counter

    from aggregator.extract import extract_list

    figures = []
    for folder in sorted(p for p in SITES.glob("auto_*") if p.is_dir()):
        html = read_page(folder / "index.html")
        base = f"{BASE}/{folder.name}/"
        selectors = find_blocks(html, base)[0].selectors
        runs: dict[str, list[float]] = {"auto": [], "html": []}
        for _ in range(20):
            start = perf_counter()
            find_blocks(html, base)
            runs["auto"].append(perf_counter() - start)
            start = perf_counter()
            extract_list(html, base, selectors)
            runs["html"].append(perf_counter() - start)
        figures.append((folder.name, median(runs["auto"]) * 1e3, median(runs["html"]) * 1e3))
    return figures


def main() -> int:
    ok = True
    scores = layout_scores()
    for hand in (False, True):
        print("hand-written fixtures" if hand else "generated fixtures")
        print(f"{'layout':<16} {'best block':>26}   {'all blocks (*)':>26}")
        for name, (best, every, written) in scores.items():
            if written != hand:
                continue
            cells = []
            for score in (best, every):
                cells.append(
                    f"recall {score.recall:4.0%} extras {score.extra_share:4.0%} "
                    f"({score.wrong_title}t/{score.wrong_time}d)"
                )
                ok &= score.recall >= 0.9 and score.extra_share <= 0.1
            print(f"{name:<16} {cells[0]:>26}   {cells[1]:>26}")
    for spec_path in ARTICLE_SPECS:
        pages, titles, dated, times = article_scores(spec_path)
        hand = by_hand(json.loads(spec_path.read_text("utf-8")))
        print(
            f"articles ({spec_path.parent.name}, {'hand-written' if hand else 'generated'}): "
            f"{pages} pages, title right {titles / pages:.0%} ({titles}), "
            f"time right {times / dated:.0%} ({times} of {dated} dated)"
        )
        ok &= titles / pages >= 0.95 and times / dated >= 0.9
    print("(Nt/Nd: items found with a wrong title / a wrong UTC time)")
    for name, auto_ms, html_ms in timing():
        print(
            f"{name:<16} auto {auto_ms:5.1f} ms/page, html selectors {html_ms:4.1f} ms/page "
            f"({auto_ms / html_ms:.1f}x)"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
