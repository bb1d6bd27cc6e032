"""An extracted Article becomes an ``articles`` row: clean text, canonical URL, UTC dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aggregator.config import parse_sources
from aggregator.items import Article
from aggregator.normalize import article_key, normalize
from aggregator.store import ARTICLE_COLUMNS

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 2, 25, 3, 0, tzinfo=UTC)
# Filled in by the store, not by normalize.
STORE_COLUMNS = {"id", "first_seen_at", "last_seen_at", "updated_at", "story_id"}

SOURCE = parse_sources(
    {
        "source": [
            {
                "name": "example",
                "kind": "feed",
                "urls": ["https://www.example.com/rss"],
                "language": "en",
                "topics": ["solar", "grid"],
            }
        ]
    }
)[0]


def article(**overrides: object) -> Article:
    values: dict[str, object] = {
        "url": "https://WWW.Example.com/a/1.html?utm_source=rss&id=7#comments",
        "source": "example",
        "title": " 光伏组件价格\u200b继续下行 ",
        "snippet": "组件价格本周\n\n继续回落。",
        "published_at": datetime(2026, 2, 24, 15, 20, tzinfo=SHANGHAI),
        "published_precision": "minute",
        "published_from": "list",
    }
    values.update(overrides)
    return Article(**values)  # type: ignore[arg-type]


def row(item: Article | None = None, source: object = SOURCE, now: datetime = NOW) -> dict:
    result = normalize(item or article(), source, now)  # type: ignore[arg-type]
    assert result is not None
    return result


def test_keys_are_articles_columns() -> None:
    assert set(row()) == set(ARTICLE_COLUMNS) - STORE_COLUMNS


def test_row_values() -> None:
    assert row() == {
        "url": "https://WWW.Example.com/a/1.html?utm_source=rss&id=7#comments",
        "canonical_url": "https://www.example.com/a/1.html?id=7",
        "source": "example",
        "guid": None,
        "title": "光伏组件价格继续下行",
        "snippet": "组件价格本周 继续回落。",
        "published_at": "2026-02-24T07:20:00Z",
        "published_precision": "minute",
        "published_from": "list",
        "flags": [],
        "language": "en",
        "topics": ["grid", "solar"],
    }


def test_no_title_is_none() -> None:
    assert normalize(article(title=" \u200b\n "), SOURCE, NOW) is None
    assert normalize(article(title=""), SOURCE, NOW) is None


def test_title_capped_at_512() -> None:
    title = row(article(title="光" * 600))["title"]
    assert len(title) == 512
    assert title.endswith("…")


def test_title_of_exactly_512_is_kept() -> None:
    assert row(article(title="光" * 512))["title"] == "光" * 512


def test_snippet_capped_at_2000() -> None:
    snippet = row(article(snippet="电" * 2500))["snippet"]
    assert len(snippet) == 2000
    assert snippet.endswith("…")


def test_text_is_cleaned_before_capping() -> None:
    # 600 characters, but only 300 once the zero-width spaces are gone: no cap.
    title = "光\u200b" * 300
    assert row(article(title=title))["title"] == "光" * 300


def test_guid_is_cleaned() -> None:
    assert row(article(guid="  id-1\u200b "))["guid"] == "id-1"
    assert row(article(guid="   "))["guid"] is None


def test_future_date_is_replaced_by_now_and_flagged() -> None:
    result = row(article(published_at=NOW + timedelta(hours=2), published_precision="day"))
    assert result["published_at"] == "2026-02-25T03:00:00Z"
    assert result["published_precision"] == "second"
    assert result["published_from"] == "fetch_time"
    assert result["flags"] == ["date_suspect"]


def test_date_within_slack_is_kept() -> None:
    result = row(article(published_at=NOW + timedelta(minutes=5)))
    assert result["published_at"] == "2026-02-25T03:05:00Z"
    assert result["flags"] == []
    assert result["published_from"] == "list"


def test_ancient_date_is_dropped_and_flagged() -> None:
    result = row(article(published_at=datetime(1980, 1, 1, tzinfo=UTC)))
    assert result["published_at"] is None
    assert result["published_precision"] is None
    assert result["published_from"] is None
    assert result["flags"] == ["date_suspect"]


def test_undated() -> None:
    result = row(article(published_at=None, published_precision=None, published_from=None))
    assert result["published_at"] is None
    assert result["published_precision"] is None
    assert result["published_from"] is None
    assert result["flags"] == []


def test_flags_are_merged_and_sorted() -> None:
    result = row(article(flags=["zeta", "date_suspect"], published_at=NOW + timedelta(days=1)))
    assert result["flags"] == ["date_suspect", "zeta"]


def test_language_and_topics_from_the_article_and_source() -> None:
    result = row(article(language="zh", topics=["wind", "solar"]))
    assert result["language"] == "zh"  # the article's own language wins
    assert result["topics"] == ["grid", "solar", "wind"]


def test_without_a_source() -> None:
    result = row(article(topics=["wind"]), source=None)
    assert result["language"] is None
    assert result["topics"] == ["wind"]


# -- identity ----------------------------------------------------------------------------------


def test_key_is_the_canonical_url() -> None:
    same = [
        "https://www.example.com/a/1.html?id=7",
        "HTTPS://WWW.EXAMPLE.COM:443/a/1.html?spm=1&id=7#top",
        "https://www.example.com/a/1.html?id=7&utm_medium=x",
    ]
    assert {row(article(url=url))["canonical_url"] for url in same} == {
        "https://www.example.com/a/1.html?id=7"
    }


def test_no_url_with_guid_gets_a_guid_urn() -> None:
    result = row(article(url="", guid="tag:example.com,2026:1"))
    assert result["canonical_url"] == "urn:newsagg:example:guid:tag:example.com,2026:1"
    assert result["url"] == ""


def test_no_url_no_guid_gets_a_stable_hash_urn() -> None:
    first = row(article(url=""))["canonical_url"]
    again = row(article(url=""))["canonical_url"]
    assert first == again
    assert first.startswith("urn:newsagg:example:sha1:")
    assert len(first.rsplit(":", 1)[1]) == 20


def test_hash_urn_depends_on_title_date_and_source() -> None:
    base = row(article(url=""))["canonical_url"]
    assert row(article(url="", title="另一条新闻"))["canonical_url"] != base
    other_date = datetime(2026, 2, 23, 15, 20, tzinfo=SHANGHAI)
    assert row(article(url="", published_at=other_date))["canonical_url"] != base
    assert row(article(url="", source="other"))["canonical_url"].startswith(
        "urn:newsagg:other:sha1:"
    )


def test_hash_urn_ignores_invisible_title_differences() -> None:
    plain = row(article(url="", title="光伏新闻"))["canonical_url"]
    assert row(article(url="", title=" 光伏\u200b新闻 "))["canonical_url"] == plain


def test_article_key_function() -> None:
    assert article_key("s", "https://Example.com/a#x", "g", "t", None) == "https://example.com/a"
    assert article_key("s", "", "g", "t", None) == "urn:newsagg:s:guid:g"
    assert article_key("s", "", None, "t", "2026-02-24T07:20:00Z") == article_key(
        "s", "", None, "t", "2026-02-24T07:20:00Z"
    )
    assert article_key("s", "", None, "t", None) != article_key(
        "s", "", None, "t", "2026-02-24T07:20:00Z"
    )


def test_hash_urn_is_stable_across_runs_for_undated_entries() -> None:
    def fetched(now: datetime) -> dict:
        # What feeds.parse_feed yields for an <item> with only a title.
        item = article(
            url="", published_at=now, published_precision="second", published_from="fetch_time"
        )
        return row(item, now=now)

    assert fetched(NOW)["canonical_url"] == fetched(NOW + timedelta(hours=1))["canonical_url"]
