"""kind = "auto": news-list blocks found without selectors, on fixture layouts in the styles of
real Chinese portals (tests/sites/auto_*/, each with an expected.json of exact items)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aggregator.autolist import ListBlock, choose_blocks, extract_auto, find_blocks
from aggregator.dates import to_utc_string
from aggregator.encodings import decode_page
from aggregator.extract import extract_list
from aggregator.items import Article

SITES = Path(__file__).resolve().parent / "sites"
LAYOUTS = sorted(p.name for p in SITES.glob("auto_*") if p.is_dir())
FARM = "http://127.0.0.1:8000"
NOISE = (
    "/solar/",
    "/about/",
    "/tag/",
    "?p=",
    "nea.gov.cn",
    "/contact",
    "/t/",
    "/special/",
    "/zt/",
    "/login",
    "example-solar",
    "/k/",
    "/sitemap",
    "/hy/list_2",
)


def load(layout: str) -> tuple[str, dict[str, Any]]:
    folder = SITES / layout
    spec = json.loads((folder / "expected.json").read_text("utf-8"))
    content_type = None
    sidecar = folder / "index.html.headers"
    if sidecar.is_file():
        content_type = sidecar.read_text("utf-8").split(":", 1)[1].strip()
    return decode_page((folder / "index.html").read_bytes(), content_type).text, spec


def blocks_of(layout: str) -> tuple[list[ListBlock], dict[str, Any]]:
    html, spec = load(layout)
    now = datetime.fromisoformat(spec["now"].replace("Z", "+00:00"))
    tz = ZoneInfo(spec["timezone"])
    return find_blocks(html, f"{FARM}/{layout}/", tz=tz, now=now), spec


def rows(items: list[Article]) -> list[dict[str, str | None]]:
    return [
        {
            "title": a.title,
            "url": a.url.removeprefix(FARM),
            "published_at": to_utc_string(a.published_at) if a.published_at else None,
        }
        for a in items
    ]


def test_there_are_at_least_eight_layouts() -> None:
    assert len(LAYOUTS) >= 8


@pytest.mark.parametrize("layout", LAYOUTS)
def test_best_block_is_the_main_list_with_exact_items(layout: str) -> None:
    blocks, spec = blocks_of(layout)
    [best] = choose_blocks(blocks)
    assert best.heading == spec["heading"]
    assert rows(best.items) == spec["main"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_recall_and_extras_targets(layout: str) -> None:
    blocks, spec = blocks_of(layout)
    found = {a.url.removeprefix(FARM) for b in choose_blocks(blocks, ["*"]) for a in b.items}
    wanted = {e["url"] for e in spec["main"] + spec.get("others", [])} | {
        e["url"] for block in spec["blocks"].values() for e in block
    }
    assert len(found & wanted) >= 0.9 * len(wanted)
    assert len(found - wanted) <= 0.1 * len(found)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_navigation_pagination_tags_and_link_farms_are_skipped(layout: str) -> None:
    blocks, _ = blocks_of(layout)
    urls = [a.url for b in blocks for a in b.items]
    assert not [u for u in urls if any(n in u for n in NOISE)]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sidebar_blocks_are_chosen_by_heading(layout: str) -> None:
    blocks, spec = blocks_of(layout)
    for heading, expected in spec["blocks"].items():
        [block] = choose_blocks(blocks, [heading])
        assert block.heading == heading
        assert rows(block.items) == expected


@pytest.mark.parametrize("layout", LAYOUTS)
def test_inferred_selectors_extract_the_same_items(layout: str) -> None:
    html, spec = load(layout)
    blocks, _ = blocks_of(layout)
    now = datetime.fromisoformat(spec["now"].replace("Z", "+00:00"))
    for block in blocks:
        again = extract_list(
            html, f"{FARM}/{layout}/", block.selectors, tz=ZoneInfo(spec["timezone"]), now=now
        )
        assert [(a.url, a.title) for a in again] == [(a.url, a.title) for a in block.items], (
            block.heading
        )


def test_unknown_heading_chooses_nothing() -> None:
    blocks, _ = blocks_of("auto_bjx")
    assert choose_blocks(blocks, ["不存在的栏目"]) == []


def test_extract_auto_takes_each_link_once() -> None:
    html, _ = load("auto_bjx")
    items = extract_auto(html, f"{FARM}/auto_bjx/", blocks=["*"], tz=ZoneInfo("Asia/Shanghai"))
    assert len(items) == len({a.url for a in items}) == 28


def test_page_without_lists_has_no_blocks() -> None:
    html = "<html><body><h1>关于我们</h1><p>本站成立于二〇〇八年。</p></body></html>"
    assert find_blocks(html, "https://example.com/") == []


def test_block_json_form() -> None:
    blocks, _ = blocks_of("auto_items")
    data = blocks[0].to_dict()
    assert data["heading"] == "新闻中心"
    assert data["items"] == 15
    assert data["selectors"] == {
        "item": "div.list > div.item",
        "title": "h3 a",
        "link": "h3 a::attr(href)",
        "snippet": "p.summary",
        "date": "span.time",
    }


def test_cut_title_takes_the_title_attribute_and_flags_follow() -> None:
    blocks, _ = blocks_of("auto_bjx")
    first = blocks[0].items[0]
    assert first.title == "广东压缩空气储能项目首台设备吊装完成"
    assert first.title_truncated is False
    assert first.published_precision == "day"


def test_snippets_come_from_the_item_not_the_title() -> None:
    blocks, _ = blocks_of("auto_cards")
    first = blocks[0].items[0]
    assert first.snippet == (
        "当地能源主管部门表示,74年内将新增并网容量50万千瓦,配套储能比例不低于56%。"
    )
    whole = blocks_of("auto_wholelink")[0][0].items[0]  # a card that is one big link
    assert whole.title == "浙江独立储能电站完成可研评审"
    assert whole.snippet == (
        "项目总投资约13亿元,建成后年发电量可达71亿千瓦时,可满足约22万户家庭用电需求。"
    )


def test_relative_dates_are_read_against_now() -> None:
    html = (
        '<div class="list">'
        + "".join(
            f'<div class="item"><h3><a href="/a/{i}.html">储能电站第{i}批项目完成并网</a></h3>'
            f'<span class="time">{i}小时前</span></div>'
            for i in range(1, 5)
        )
        + "</div>"
    )
    now = datetime(2026, 2, 25, 3, 0, tzinfo=UTC)
    items = extract_auto(html, "https://example.com/", now=now)
    assert [to_utc_string(a.published_at) for a in items if a.published_at] == [
        "2026-02-25T02:00:00Z",
        "2026-02-25T01:00:00Z",
        "2026-02-25T00:00:00Z",
        "2026-02-24T23:00:00Z",
    ]


def test_sibling_sections_get_one_block_each_with_positional_selectors() -> None:
    html = (
        "<div class='cat'>"
        + "".join(
            f"<div class='c'><h3>栏目{c}</h3><ul>"
            + "".join(
                f"<li><a href='/n/{c}{i}.html'>栏目{c}的第{i}条储能行业新闻标题</a>"
                f"<span>02-2{i}</span></li>"
                for i in range(4)
            )
            + "</ul></div>"
            for c in "甲乙丙"
        )
        + "</div>"
    )
    blocks = find_blocks(html, "https://e.com/")
    assert [b.heading for b in blocks] == ["栏目甲", "栏目乙", "栏目丙"]
    assert blocks[1].selectors.item == "div.c:nth-of-type(2) > ul > li"
    for block in blocks:
        again = extract_list(html, "https://e.com/", block.selectors)
        assert [a.url for a in again] == [a.url for a in block.items]


def test_long_link_labels_without_dates_or_article_urls_are_not_news() -> None:
    html = (
        "<div class='x'><ul>"
        + "".join(
            f"<li><a href='/{slug}'>{label}</a></li>"
            for slug, label in [
                ("about-our-company", "About our company and the team"),
                ("terms-of-service", "Terms and conditions of service"),
                ("privacy-policy", "Privacy policy and the cookies"),
                ("advertise", "Advertise with us on the site"),
            ]
        )
        + "</ul></div>"
    )
    assert find_blocks(html, "https://e.com/") == []
