"""The shipped datasette.yaml and metadata.yaml, through Datasette's own test client."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from datasette.app import Datasette

from aggregator.dates import to_utc_string, utc_now
from aggregator.store import ARTICLE_COLUMNS, Store
from tests.conftest import ROOT
from tests.test_store import row

CONFIG = yaml.safe_load((ROOT / "datasette.yaml").read_text("utf-8"))
METADATA = yaml.safe_load((ROOT / "metadata.yaml").read_text("utf-8"))


@pytest.fixture
def news_db(tmp_path: Path) -> Path:
    path = tmp_path / "news.db"
    now = utc_now()
    with Store(path) as store:

        class Source:
            def __init__(self, name: str) -> None:
                self.name, self.title, self.kind, self.url = name, name, "feed", "https://e.com/"

        store.sync_sources([Source("example"), Source("broken")])
        store.record_source_run("broken", ok=False, new=0, error="HTTP 503", now=now)
        store.record_source_run("example", ok=True, new=2, error=None, now=now)
        store.upsert_articles(
            [
                row(published_at=to_utc_string(now)),
                row(
                    url="https://e.com/2",
                    canonical_url="https://e.com/2",
                    title="抽水蓄能电站 Battery storage",
                    published_at=to_utc_string(now),
                ),
                row(
                    url="https://e.com/3",
                    canonical_url="https://e.com/3",
                    title="绿氢",
                    published_at="2020-01-01T00:00:00Z",
                ),
            ],
            now,
        )
    return path


def get(path: Path, url: str) -> Any:
    async def fetch() -> Any:
        datasette = Datasette([str(path)], config=CONFIG, metadata=METADATA)
        await datasette.invoke_startup()
        response = await datasette.client.get(url)
        assert response.status_code == 200, (url, response.text[:500])
        return response.json() if ".json" in url else response.text

    return asyncio.run(fetch())


def rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    return data["rows"]


def test_metadata_describes_every_table_view_and_article_column(news_db: Path) -> None:
    with Store(news_db) as store:
        names = set(store.db.table_names()) | set(store.db.view_names())
    described = set(METADATA["databases"]["news"]["tables"])
    hidden = {"search_pending"} | {n for n in names if n.startswith("articles_fts_")}
    assert names - hidden == described
    assert tuple(METADATA["databases"]["news"]["tables"]["articles"]["columns"]) == ARTICLE_COLUMNS


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("光伏", ["光伏组件价格继续下行"]),
        ("蓄能电", ["抽水蓄能电站 Battery storage"]),
        ("氢", ["绿氢"]),
        ("battery storage", ["抽水蓄能电站 Battery storage"]),
    ],
)
def test_canned_search_query(news_db: Path, query: str, titles: list[str]) -> None:
    data = get(news_db, f"/news/search.json?q={query}&_shape=objects")
    assert [r["title"] for r in rows(data)] == titles


def test_canned_todays_stories_and_broken_sources(news_db: Path) -> None:
    stories = rows(get(news_db, "/news/todays_stories.json?_shape=objects"))
    assert sorted(s["title"] for s in stories) == [
        "光伏组件价格继续下行",
        "抽水蓄能电站 Battery storage",
    ]
    broken = rows(get(news_db, "/news/broken_sources.json?_shape=objects"))
    assert [(b["name"], b["last_error"]) for b in broken] == [("broken", "HTTP 503")]


def test_pages_show_the_titles_and_descriptions(news_db: Path) -> None:
    index = get(news_db, "/")
    assert METADATA["title"] in index
    database = get(news_db, "/news")
    assert "Today&#39;s stories" in database or "Today's stories" in database
    tables = {t["name"]: t for t in get(news_db, "/news.json")["tables"]}
    assert tables["search_pending"]["hidden"] is True
    assert tables["articles"]["hidden"] is False
    table = get(news_db, "/news/articles")
    assert "One row per article" in table


def test_the_readme_command_line(news_db: Path) -> None:
    """`datasette data/news.db -c datasette.yaml -m metadata.yaml`, one request, no server."""
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [
            *(sys.executable, "-m", "datasette", str(news_db)),
            *("-c", "datasette.yaml", "-m", "metadata.yaml"),
            *("--get", "/news/broken_sources.json?_shape=objects"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [r["name"] for r in json.loads(result.stdout)["rows"]] == ["broken"]
