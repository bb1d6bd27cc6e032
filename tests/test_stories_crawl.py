"""Stories end to end: `newsagg crawl` (in a subprocess) on two sites of the farm that share
stories (tests/sites/stories_a, stories_b)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from aggregator.sitefarm import SiteFarm
from tests.conftest import run_newsagg

SOURCE = """
[[source]]
name = "{name}"
title = "{name}"
kind = "html"
urls = ["{farm}{name}/"]
language = "zh"
timezone = "Asia/Shanghai"
follow = "never"
[source.selectors]
item = "ul.news li"
title = "a"
link = "a::attr(href)"
snippet = "p"
date = "span.time"
"""
FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "RETRY_TIMES=0"]


def crawl(db: Path, sources: Path, *only: str) -> dict[str, Any]:
    args = [a for name in only for a in ("--only", name)]
    result = run_newsagg(
        "--db", str(db), "--sources", str(sources), "crawl", "--json", *FAST, *args
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def stories(db: Path) -> dict[str, int]:
    """canonical path (site/page) -> story_id"""
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT canonical_url, story_id FROM articles").fetchall()
    conn.close()
    return {url.split("/", 3)[3]: story for url, story in rows}


def ids(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT canonical_url, id FROM articles").fetchall()
    conn.close()
    return {url.split("/", 3)[3]: id for url, id in rows}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, farm: SiteFarm) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("stories")
    sources = tmp / "sources.toml"
    sources.write_text(
        "".join(SOURCE.format(name=n, farm=farm.url) for n in ("stories_a", "stories_b")), "utf-8"
    )
    db = tmp / "news.db"
    first = crawl(db, sources, "stories_a")
    after_a = stories(db)
    again = crawl(db, sources, "stories_a")
    after_again = stories(db)
    second = crawl(db, sources, "stories_b")
    return {
        "db": db,
        "first": first,
        "again": again,
        "second": second,
        "after_a": after_a,
        "after_again": after_again,
        "after_b": stories(db),
        "ids": ids(db),
    }


def test_each_article_of_the_first_site_is_its_own_story(crawled: dict[str, Any]) -> None:
    after_a = crawled["after_a"]
    assert len(after_a) == 6
    assert after_a == {path: crawled["ids"][path] for path in after_a}
    assert crawled["first"]["dedupe"]["articles"] == 6
    assert crawled["first"]["dedupe"]["joined"] == 0


def test_recrawling_the_same_site_adds_no_story(crawled: dict[str, Any]) -> None:
    assert crawled["again"]["totals"]["new"] == 0
    assert crawled["after_again"] == crawled["after_a"]


def test_a_second_site_s_reposts_join_the_existing_stories(crawled: dict[str, Any]) -> None:
    after_b, ids = crawled["after_b"], crawled["ids"]
    assert {path: after_b[path] for path in crawled["after_a"]} == crawled["after_a"]
    assert after_b["stories_b/n/1.html"] == ids["stories_a/a/1.html"]  # cut with "..."
    assert after_b["stories_b/n/2.html"] == ids["stories_a/a/2.html"]  # 【人民日报】
    assert after_b["stories_b/n/3.html"] == ids["stories_a/a/5.html"]  # Traditional
    assert after_b["stories_b/n/4.html"] == ids["stories_a/a/6.html"]  # reworded (English)
    assert crawled["second"]["dedupe"]["joined"] == 4


def test_look_alike_template_headlines_stay_apart(crawled: dict[str, Any]) -> None:
    after_b, ids = crawled["after_b"], crawled["ids"]
    for page in (5, 6, 7, 8, 9):
        path = f"stories_b/n/{page}.html"
        assert after_b[path] == ids[path], path  # a story of its own
    assert len(set(after_b.values())) == 6 + 5
