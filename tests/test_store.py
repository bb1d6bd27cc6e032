"""The store: identity, merge rules, health bookkeeping, schema and transactions."""

from __future__ import annotations

import json
import random
import sqlite3
import struct
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aggregator.items import PageSeen
from aggregator.store import (
    ARTICLE_COLUMNS,
    MIGRATIONS,
    PAGE_SIZE,
    REDUNDANT_INDEXES,
    SCHEMA_VERSION,
    STORY_SUMMARY_TRIGGERS,
    Store,
    UrlRulesResult,
    _migration_16,
    _migration_20,
    _migration_21,
    _move_articles,
    stored_buckets,
)
from aggregator.stories import representative
from aggregator.urls import UrlRules, build_url_rules
from tests.conftest import NOW
from tests.dedupe_reference import keys_of


def row(**overrides: Any) -> dict[str, Any]:
    base = {
        "url": "https://example.com/a/1.html?utm_source=x",
        "canonical_url": "https://example.com/a/1.html",
        "source": "example",
        "guid": None,
        "title": "光伏组件价格继续下行",
        "snippet": "组件价格本周继续回落。",
        "published_at": "2026-02-24T08:30:00Z",
        "published_precision": "minute",
        "published_from": "list",
        "flags": [],
        "language": "zh",
        "topics": ["solar"],
    }
    return base | overrides


def stored(db: Store, key: str = "https://example.com/a/1.html") -> dict[str, Any]:
    rows = list(db.db.query("SELECT * FROM articles WHERE canonical_url = ?", [key]))
    assert len(rows) == 1
    return rows[0]


def test_schema_has_the_documented_columns(db: Store) -> None:
    columns = [c.name for c in db.db["articles"].columns]
    assert tuple(columns) == ARTICLE_COLUMNS
    assert {c.name for c in db.db["sources"].columns} >= {
        "name",
        "title",
        "kind",
        "url",
        "last_run_at",
        "last_ok_at",
        "last_new_at",
        "consecutive_failures",
        "consecutive_empty",
        "last_error",
    }
    assert {c.name for c in db.db["pages"].columns} == {
        "url",
        "source",
        "fingerprint",
        "article_keys",
        "seen_at",
    }
    assert {c.name for c in db.db["runs"].columns} == {
        "id",
        "started_at",
        "finished_at",
        "status",
        "stats",
    }


def test_new_article_gets_id_story_and_timestamps(db: Store) -> None:
    result = db.upsert_articles([row()], NOW)
    assert (result.new, result.updated, result.unchanged) == (1, 0, 0)
    article = stored(db)
    assert article["id"] == article["story_id"] == result.new_ids[0]
    assert article["first_seen_at"] == article["last_seen_at"] == "2026-02-25T03:00:00Z"
    assert article["updated_at"] is None
    assert json.loads(article["topics"]) == ["solar"]


def test_same_url_again_is_unchanged_but_seen(db: Store) -> None:
    db.upsert_articles([row()], NOW)
    result = db.upsert_articles([row()], NOW + timedelta(hours=1))
    assert (result.new, result.updated, result.unchanged) == (0, 0, 1)
    article = stored(db)
    assert article["first_seen_at"] == "2026-02-25T03:00:00Z"
    assert article["last_seen_at"] == "2026-02-25T04:00:00Z"
    assert db.count_articles() == 1


def test_changed_title_updates_and_keeps_id_and_first_seen(db: Store) -> None:
    first = db.upsert_articles([row()], NOW).new_ids[0]
    result = db.upsert_articles(
        [row(title="光伏组件价格继续下行 (更新)")], NOW + timedelta(hours=2)
    )
    assert result.updated == 1
    article = stored(db)
    assert article["id"] == first
    assert article["title"] == "光伏组件价格继续下行 (更新)"
    assert article["first_seen_at"] == "2026-02-25T03:00:00Z"
    assert article["updated_at"] == "2026-02-25T05:00:00Z"


def test_cut_title_never_replaces_the_full_one(db: Store) -> None:
    db.upsert_articles([row()], NOW)
    result = db.upsert_articles([row(title="光伏组件价格...", snippet="组件价格本周...")], NOW)
    assert result.unchanged == 1
    article = stored(db)
    assert article["title"] == "光伏组件价格继续下行"
    assert article["snippet"] == "组件价格本周继续回落。"


def test_full_title_replaces_a_cut_one(db: Store) -> None:
    db.upsert_articles([row(title="光伏组件价格...")], NOW)
    assert db.upsert_articles([row()], NOW).updated == 1
    assert stored(db)["title"] == "光伏组件价格继续下行"


def test_vaguer_date_never_replaces_a_precise_one(db: Store) -> None:
    db.upsert_articles(
        [
            row(
                published_at="2026-02-24T08:30:12Z",
                published_precision="second",
                published_from="article",
            )
        ],
        NOW,
    )
    db.upsert_articles([row(published_at="2026-02-23T16:00:00Z", published_precision="day")], NOW)
    article = stored(db)
    assert (article["published_at"], article["published_precision"], article["published_from"]) == (
        "2026-02-24T08:30:12Z",
        "second",
        "article",
    )


def test_fetch_time_never_overwrites_a_stored_date(db: Store) -> None:
    db.upsert_articles([row()], NOW)
    db.upsert_articles(
        [
            row(
                published_at="2026-02-25T03:00:00Z",
                published_precision="second",
                published_from="fetch_time",
            )
        ],
        NOW,
    )
    assert stored(db)["published_at"] == "2026-02-24T08:30:00Z"


def test_guid_matches_when_the_url_changes(db: Store) -> None:
    db.upsert_articles([row(guid="tag:example.com,2026:1")], NOW)
    moved = row(
        url="https://example.com/b/1",
        canonical_url="https://example.com/b/1",
        guid="tag:example.com,2026:1",
        title="新标题",
    )
    result = db.upsert_articles([moved], NOW)
    assert (result.new, result.updated) == (0, 1)
    assert db.count_articles() == 1
    assert stored(db)["title"] == "新标题"


def test_same_guid_in_another_source_is_another_article(db: Store) -> None:
    db.upsert_articles([row(guid="1")], NOW)
    other = row(
        source="other", url="https://other.org/1", canonical_url="https://other.org/1", guid="1"
    )
    assert db.upsert_articles([other], NOW).new == 1


def test_counts_per_source(db: Store) -> None:
    rows = [
        row(),
        row(source="b", url="https://b.org/1", canonical_url="https://b.org/1"),
        row(source="b", url="https://b.org/2", canonical_url="https://b.org/2"),
    ]
    result = db.upsert_articles(rows, NOW)
    assert result.by_source == {
        "example": {"new": 1, "updated": 0, "unchanged": 0},
        "b": {"new": 2, "updated": 0, "unchanged": 0},
    }


def test_known_complete_needs_uncut_title_and_minute_precision(db: Store) -> None:
    db.upsert_articles(
        [
            row(),
            row(
                url="https://e.com/cut", canonical_url="https://e.com/cut", title="被截断的标题..."
            ),
            row(
                url="https://e.com/day",
                canonical_url="https://e.com/day",
                published_precision="day",
            ),
        ],
        NOW,
    )
    keys = [
        "https://example.com/a/1.html",
        "https://e.com/cut",
        "https://e.com/day",
        "https://e.com/x",
    ]
    assert db.known_complete(keys) == {"https://example.com/a/1.html"}


def test_articles_newest_first_with_filters(db: Store) -> None:
    db.upsert_articles(
        [
            row(),
            row(
                url="https://e.com/2",
                canonical_url="https://e.com/2",
                title="风电装机创新高",
                published_at="2026-02-25T01:00:00Z",
                topics=["wind"],
            ),
            row(
                url="https://e.com/3",
                canonical_url="https://e.com/3",
                title="no date",
                published_at=None,
                published_precision=None,
                published_from=None,
                topics=[],
            ),
        ],
        NOW,
    )
    titles = [a["title"] for a in db.articles()]
    assert titles == ["no date", "风电装机创新高", "光伏组件价格继续下行"]
    assert [a["title"] for a in db.articles(topic="wind")] == ["风电装机创新高"]
    assert [a["title"] for a in db.articles(text="光伏")] == ["光伏组件价格继续下行"]
    assert [a["title"] for a in db.articles(text="100%")] == []
    assert [a["title"] for a in db.articles(since="2026-02-25T00:00:00Z")] == [
        "no date",
        "风电装机创新高",
    ]
    assert db.articles()[0]["topics"] == []
    assert db.articles(text="") == db.articles(text="  ") == db.articles()  # no text: no filter


def test_source_health(db: Store) -> None:
    class S:
        name, title, kind, url = "a", "A", "html", "https://a.org/"

    db.sync_sources([S()])
    db.record_source_run("a", ok=False, new=0, error="HTTP 503", now=NOW)
    db.record_source_run("a", ok=False, new=0, error="timeout", now=NOW)
    health = db.sources()[0]
    assert (health["consecutive_failures"], health["last_error"]) == (2, "timeout")
    assert health["last_ok_at"] is None
    db.record_source_run("a", ok=True, new=0, error=None, now=NOW)
    db.record_source_run("a", ok=True, new=3, error=None, now=NOW)
    health = db.sources()[0]
    assert health["consecutive_failures"] == 0
    assert health["consecutive_empty"] == 0
    assert health["last_new_at"] == "2026-02-25T03:00:00Z"
    assert health["last_error"] is None


def test_runs_are_recorded(db: Store) -> None:
    run_id = db.start_run(NOW)
    db.finish_run(run_id, "ok", {"sources": {"a": {"new": 1}}}, NOW)
    run = next(db.db.query("SELECT * FROM runs"))
    assert run["status"] == "ok"
    assert json.loads(run["stats"]) == {"sources": {"a": {"new": 1}}}


def test_file_database_is_wal_with_busy_timeout_and_migrates_once(db_path: Path) -> None:
    with Store(db_path) as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
        assert store.schema_version == SCHEMA_VERSION
        store.upsert_articles([row()], NOW)
    with Store(db_path) as again:  # re-opening is a no-op migration and loses nothing
        assert again.schema_version == SCHEMA_VERSION
        assert again.count_articles() == 1


def test_newer_schema_is_refused(db_path: Path) -> None:
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this program"):
        Store(db_path)


def test_failed_batch_rolls_back_and_keeps_what_was_stored(db: Store) -> None:
    db.upsert_articles([row()], NOW)
    bad = row(url="https://e.com/x", canonical_url="https://e.com/x", title=None)
    with pytest.raises(sqlite3.IntegrityError):
        db.upsert_articles(
            [row(url="https://e.com/ok", canonical_url="https://e.com/ok"), bad], NOW
        )
    assert db.count_articles() == 1


def test_writer_waits_for_another_writer(db_path: Path) -> None:
    """BEGIN IMMEDIATE + busy_timeout: a second writer waits instead of failing."""
    holder = Store(db_path)
    other = Store(db_path)
    holder.conn.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: holder.conn.execute("COMMIT"))
    release.start()
    result = other.upsert_articles([row()], NOW)
    release.join()
    assert result.new == 1
    holder.close()
    other.close()


def test_readonly_store_reads_while_a_write_is_open(db_path: Path) -> None:
    with Store(db_path) as writer:
        writer.upsert_articles([row()], NOW)
        writer.conn.execute("BEGIN IMMEDIATE")
        writer.conn.execute("DELETE FROM articles")
        with Store(db_path, readonly=True) as reader:
            assert reader.count_articles() == 1
        writer.conn.execute("ROLLBACK")


def test_a_cut_title_later_in_the_same_batch_does_not_win(db: Store) -> None:
    result = db.upsert_articles([row(), row(title="光伏组件价格...")], NOW)
    assert result.new == 1
    assert stored(db)["title"] == "光伏组件价格继续下行"


def test_pages_remember_fingerprints_and_touch_unchanged_articles(db: Store) -> None:
    from aggregator.items import PageSeen

    db.upsert_articles([row()], NOW)
    key = "https://example.com/a/1.html"
    db.save_pages([PageSeen("https://example.com/list", "example", "f1", [key])], NOW)
    assert db.page_keys("https://example.com/list", "f1") == [key]
    assert db.page_keys("https://example.com/list", "f2") is None
    later = NOW + timedelta(hours=3)
    db.save_pages([PageSeen("https://example.com/list", "example", "f1", [key], True)], later)
    assert stored(db)["last_seen_at"] == "2026-02-25T06:00:00Z"


def test_a_version_1_file_upgrades_in_place(db_path: Path) -> None:
    import sqlite_utils

    from aggregator.store import MIGRATIONS

    old = sqlite_utils.Database(db_path)
    MIGRATIONS[0](old)
    old.execute("PRAGMA user_version = 1")
    old["articles"].insert(
        {
            "id": 7,
            "url": "https://e.com/1",
            "canonical_url": "https://e.com/1",
            "source": "s",
            "title": "旧文章",
            "first_seen_at": "2026-01-01T00:00:00Z",
            "last_seen_at": "2026-01-01T00:00:00Z",
            "story_id": 7,
        }
    )
    old.conn.commit()
    old.close()
    with Store(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert "pages" in store.db.table_names()
        assert stored(store, "https://e.com/1")["title"] == "旧文章"


# -- search index, views, upkeep (issue 7) ---------------------------------------------------


def search_ids(store: Store, text: str) -> list[int]:
    return [r["id"] for r in store.articles(text=text, limit=None)]


def fts_ok(store: Store) -> None:
    store.conn.execute(
        "INSERT INTO articles_fts (articles_fts, rank) VALUES ('integrity-check', 0)"
    )
    assert store.conn.execute("SELECT count(*) FROM search_pending").fetchone()[0] == 0


def test_search_index_follows_inserts_updates_and_deletes(db: Store) -> None:
    db.upsert_articles([row()], NOW)
    (first,) = search_ids(db, "光伏")
    db.upsert_articles([row(title="氢能示范项目投运", published_at="2026-02-24T09:00:00Z")], NOW)
    assert search_ids(db, "光伏") == []
    assert search_ids(db, "示范项目") == [first]
    fts_ok(db)
    with db.write() as conn:  # any write, even plain SQL, is indexed at commit
        conn.execute("UPDATE articles SET snippet = 'Battery storage' WHERE id = ?", (first,))
        conn.execute("UPDATE articles SET snippet = 'offshore wind' WHERE id = ?", (first,))
    assert search_ids(db, "battery") == []
    assert search_ids(db, "offshore wind") == [first]
    fts_ok(db)
    with db.write() as conn:
        conn.execute("DELETE FROM articles")
    assert search_ids(db, "wind") == search_ids(db, "氢") == []
    fts_ok(db)


def test_writes_by_other_tools_are_indexed_by_the_next_store_write(db_path: Path) -> None:
    with Store(db_path) as store:
        store.upsert_articles([row()], NOW)
    other = sqlite3.connect(db_path)
    other.execute("UPDATE articles SET title = '风电装机创新高'")
    other.commit()
    other.close()
    with Store(db_path) as store:  # opening read-write applies the queue
        assert search_ids(store, "风电") == [1]
        assert search_ids(store, "光伏") == []
        fts_ok(store)


def test_search_is_newest_first_to_the_second_with_filters(db: Store) -> None:
    rows = [
        row(
            url=f"https://e.com/{i}",
            canonical_url=f"https://e.com/{i}",
            source="a" if i % 2 else "b",
            title=f"光伏新闻 {i}",
            published_at=f"2026-02-24T08:30:{59 - i:02d}Z",  # one minute, seconds descending
            topics=["solar"] if i % 3 == 0 else [],
        )
        for i in range(10)
    ]
    db.upsert_articles(rows, NOW)
    every = [r["title"] for r in db.articles(text="光伏")]
    assert every == [f"光伏新闻 {i}" for i in range(10)]
    assert [r["title"] for r in db.articles(text="光伏", limit=3)] == every[:3]
    assert [r["title"] for r in db.articles(text="光伏", source="a", limit=2)] == every[1:4:2]
    assert [r["title"] for r in db.articles(text="新闻", topic="solar")] == every[0::3]
    since = [r["title"] for r in db.articles(text="光伏", since="2026-02-24T08:30:55Z")]
    assert since == every[:5]


def test_relevance_prefers_title_matches(db: Store) -> None:
    db.upsert_articles(
        [
            row(title="光伏装机", snippet="其他", published_at="2026-02-20T00:00:00Z"),
            row(
                url="https://e.com/2",
                canonical_url="https://e.com/2",
                title="风电新闻",
                snippet="顺带提到光伏",
                published_at="2026-02-24T00:00:00Z",
            ),
        ],
        NOW,
    )
    assert [r["title"] for r in db.articles(text="光伏")] == ["风电新闻", "光伏装机"]
    assert [r["title"] for r in db.articles(text="光伏", rank="relevance")] == [
        "光伏装机",
        "风电新闻",
    ]


def test_stories_group_by_story_id_with_the_representative(db: Store) -> None:
    db.upsert_articles(
        [
            row(url=f"https://e.com/{i}", canonical_url=f"https://e.com/{i}", **fields)
            for i, fields in enumerate(
                [
                    {"title": "光伏组件价格...", "published_at": "2026-02-20T00:00:00Z"},
                    {"title": "光伏组件价格继续下行", "published_at": "2026-02-22T00:00:00Z"},
                    {"title": "储能电站", "source": "other", "published_at": "2026-02-23T00:00Z"},
                    {"title": "光伏 新闻", "published_at": "2026-02-21T00:00:00Z"},
                ]
            )
        ],
        NOW,
    )
    with db.write() as conn:  # what clustering (issue 4) does: one story of 1, 2 and 3
        conn.execute("UPDATE articles SET story_id = 1 WHERE id IN (1, 2, 3)")
    stories = db.stories(text="光伏")
    assert [(s["story_id"], s["title"], s["articles"]) for s in stories] == [
        (1, "光伏组件价格继续下行", 3),
        (4, "光伏 新闻", 1),
    ]
    assert stories[0]["sources"] == ["example", "other"]
    assert stories[0]["article_ids"] == [1, 2, 3]
    assert [s["story_id"] for s in db.stories(text="光伏", limit=1)] == [1]


def test_latest_stories_view_agrees_with_the_stories_module(db: Store) -> None:
    from aggregator.dates import to_utc_string, utc_now
    from aggregator.stories import representative

    now = utc_now()
    fresh = [
        ("光伏组件价格...", to_utc_string(now - timedelta(days=2))),  # cut: never the title
        ("光伏组件价格继续下行", to_utc_string(now - timedelta(days=1))),
        ("光伏组件价格继续下行!", None),  # no date: after the dated ones
        ("旧闻", to_utc_string(now - timedelta(days=30))),  # its story is not recent
    ]
    db.upsert_articles(
        [
            row(
                url=f"https://e.com/{i}",
                canonical_url=f"https://e.com/{i}",
                title=t,
                published_at=p,
            )
            for i, (t, p) in enumerate(fresh)
        ],
        now,
    )
    with db.write() as conn:
        conn.execute("UPDATE articles SET story_id = 1 WHERE id IN (1, 2, 3)")
    view = list(db.db.query("SELECT * FROM latest_stories"))
    members = db.articles(limit=None)
    expected = representative([m for m in members if m["story_id"] == 1])
    assert [(v["story_id"], v["title"], v["articles"]) for v in view] == [(1, expected["title"], 3)]
    assert expected["title"] == "光伏组件价格继续下行"


def test_source_health_and_daily_counts_views(db: Store) -> None:
    class Source:
        def __init__(self, name: str) -> None:
            self.name, self.title, self.kind, self.url = name, name, "feed", "https://e.com/"

    db.sync_sources([Source("example"), Source("broken"), Source("new")])
    db.record_source_run("example", ok=True, new=1, error=None, now=NOW)
    db.record_source_run("broken", ok=False, new=0, error="HTTP 503", now=NOW)
    db.upsert_articles(
        [
            row(),
            row(url="https://e.com/2", canonical_url="https://e.com/2", title="x"),
            row(url="https://e.com/3", canonical_url="https://e.com/3", published_at=None),
        ],
        NOW,
    )
    health = {r["name"]: r for r in db.db.query("SELECT * FROM source_health")}
    assert [health[n]["status"] for n in ("example", "broken", "new")] == [
        "ok",
        "failing",
        "never run",
    ]
    assert health["example"]["articles"] == 3
    assert health["broken"]["last_error"] == "HTTP 503"
    assert list(db.db.query("SELECT * FROM daily_counts")) == [
        {"day": "2026-02-25", "source": "example", "articles": 1},
        {"day": "2026-02-24", "source": "example", "articles": 2},
    ]


def test_common_queries_use_indexes(db: Store) -> None:
    def plan(sql: str) -> str:
        return " ".join(r[3] for r in db.conn.execute("EXPLAIN QUERY PLAN " + sql))

    newest = "ORDER BY coalesce(published_at, first_seen_at) DESC, id DESC LIMIT 20"
    assert "articles_newest" in plan(f"SELECT * FROM articles {newest}")
    assert "articles_source_newest" in plan(f"SELECT * FROM articles WHERE source = 'x' {newest}")
    assert "story" in plan("SELECT * FROM articles WHERE story_id = 3")
    assert "articles_day" in plan("SELECT * FROM daily_counts")
    assert "TEMP B-TREE" not in plan(f"SELECT * FROM articles {newest}")


def test_redundant_article_indexes_are_dropped_and_queries_keep_an_index(db: Store) -> None:
    indexes = {
        row[0]
        for row in db.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'articles'"
        )
    }
    assert not indexes & set(REDUNDANT_INDEXES)
    assert {"articles_newest", "articles_story_newest", "idx_articles_source_guid"} <= indexes

    def plan(sql: str) -> str:
        return " ".join(r[3] for r in db.conn.execute("EXPLAIN QUERY PLAN " + sql))

    # What the dropped ones served: a story's members, a source's newest, a date range.
    assert "articles_story_newest" in plan("SELECT * FROM articles WHERE story_id IN (1, 2)")
    assert "articles_source_newest" in plan("SELECT count(*) FROM articles WHERE source = 'x'")
    since = "SELECT id FROM articles WHERE coalesce(published_at, first_seen_at) >= '2026'"
    assert "articles_newest" in plan(since)


def test_prune_deletes_old_articles_runs_and_pages_and_unindexes_them(db: Store) -> None:
    from aggregator.items import PageSeen

    old = NOW - timedelta(days=400)
    db.upsert_articles([row(published_at="2025-01-01T00:00:00Z")], old)
    db.upsert_articles(
        [row(url="https://e.com/2", canonical_url="https://e.com/2", title="光伏新闻")], NOW
    )
    db.upsert_articles(  # old date but still listed: kept
        [row(url="https://e.com/3", canonical_url="https://e.com/3", published_at=None)], old
    )
    db.upsert_articles(
        [row(url="https://e.com/3", canonical_url="https://e.com/3", published_at=None)], NOW
    )
    db.finish_run(db.start_run(old), "ok", {}, old)
    db.save_pages([PageSeen("https://e.com/list", "example", "f", [])], old)
    counts = db.prune("2025-06-01T00:00:00Z")
    assert counts == {"articles": 1, "runs": 1, "pages": 1, "dedupe_groups": 0}
    assert search_ids(db, "光伏") == [2, 3]  # 3 is dated long ago but was seen again: kept
    fts_ok(db)


def test_prune_drops_the_index_slots_older_than_every_article_it_keeps(db: Store) -> None:
    import numpy as np

    from aggregator.dedupe import slot_group_bounds, time_slots, timestamp
    from tests.dedupe_reference import slot_of_key

    old = NOW - timedelta(days=400)
    title = "国家能源局发布2025年光伏发电建设运行情况"
    dated = {  # url -> date; all last seen long ago but the last
        "https://e.com/1": "2024-07-01T00:00:00Z",  # pruned, and its slot
        "https://e.com/2": "2025-06-05T00:00:00Z",  # after the cutoff: kept, and its slot
        "https://e.com/3": "2025-05-10T00:00:00Z",  # pruned, and its slot
        "https://e.com/4": "2024-11-01T00:00:00Z",  # dated long ago, still listed: kept
    }
    for i, (url, when) in enumerate(dated.items()):
        stored_ids = db.upsert_articles(
            [row(url=url, canonical_url=url, title=f"{title}第{i}期", published_at=when)], old
        ).new_ids
        db.assign_stories(stored_ids)
    listed = "https://e.com/4"
    seen_again = row(url=listed, canonical_url=listed, title=f"{title}第3期")
    db.upsert_articles([seen_again | {"published_at": dated[listed]}], NOW)

    def slot(when: str) -> int:
        return int(time_slots(np.array([timestamp(when)]), 0.0)[0])

    def slots() -> set[int]:
        return {slot_of_key(k) for k, _ in stored_buckets(db.conn)}

    assert {slot(when) for when in dated.values()} == slots()
    doomed = db.conn.execute(
        "SELECT count(*) FROM dedupe_groups WHERE group_key < ?",
        (slot_group_bounds(slot(dated[listed]))[0],),
    ).fetchone()[0]
    assert doomed > 0
    counts = db.prune("2025-06-01T00:00:00Z")
    assert counts["articles"] == 2 and counts["dedupe_groups"] == doomed
    # the old article still listed keeps its slot and everything after it, the 3rd's included:
    # a slot is dropped only when it is older than every article the index holds
    assert slots() == {slot(dated[u]) for u in ("https://e.com/2", "https://e.com/3", listed)}
    for i, kept in ((1, "https://e.com/2"), (3, listed)):  # reposts of both still join them
        again = f"https://other.cn/{i}"
        when = dated[kept].replace("T00", "T02")
        repost = db.upsert_articles(
            [row(url=again, canonical_url=again, source="other", title=f"【转载】{title}第{i}期",
                 published_at=when)],
            old,
        )  # fmt: skip
        db.assign_stories(repost.new_ids)
        assert stored(db, again)["story_id"] == stored(db, kept)["id"]
    # when nothing is left in the index, nothing in it is kept
    assert db.prune("2027-01-01T00:00:00Z")["articles"] == 4
    assert db.conn.execute("SELECT count(*) FROM dedupe_groups").fetchone()[0] == 0


def test_a_pruned_story_is_not_joined_by_a_new_repost(db: Store) -> None:
    old = NOW - timedelta(days=400)
    title = "国家能源局发布2025年光伏发电建设运行情况"
    first = db.upsert_articles([row(title=title, published_at="2025-01-01T00:00:00Z")], old)
    db.assign_stories(first.new_ids)
    again = row(url="https://other.cn/1", canonical_url="https://other.cn/1", source="other")
    again["published_at"] = "2025-01-01T02:00:00Z"
    repost = db.upsert_articles([again | {"title": "【转载】" + title}], old)
    db.assign_stories(repost.new_ids)
    assert stored(db, "https://other.cn/1")["story_id"] == first.new_ids[0]  # joined, then
    assert db.prune("2025-06-01T00:00:00Z")["articles"] == 2
    assert db.conn.execute("SELECT count(*) FROM dedupe_texts").fetchone()[0] == 0
    late = row(url="https://late.cn/1", canonical_url="https://late.cn/1", source="late")
    fresh = db.upsert_articles([late | {"title": title, "published_at": None}], NOW)
    db.assign_stories(fresh.new_ids)
    assert stored(db, "https://late.cn/1")["story_id"] == fresh.new_ids[0]  # a story of its own


def test_backup_is_a_complete_copy_and_refuses_to_overwrite(db_path: Path, tmp_path: Path) -> None:
    from aggregator.errors import StoreError

    with Store(db_path) as store:
        store.upsert_articles([row()], NOW)
        copy = store.backup(tmp_path / "backups" / "news-copy.db")
        with pytest.raises(StoreError, match="already exists"):
            store.backup(copy)
    with Store(copy, readonly=True) as restored:
        assert restored.schema_version == SCHEMA_VERSION
        assert search_ids(restored, "组件价格") == [1]


def test_a_version_2_file_with_articles_gets_a_search_index(db_path: Path) -> None:
    import sqlite_utils

    from aggregator.store import MIGRATIONS

    old = sqlite_utils.Database(db_path)
    MIGRATIONS[0](old)
    MIGRATIONS[1](old)
    old.execute("PRAGMA user_version = 2")
    for i, title in enumerate(["抽水蓄能电站获批", "Battery storage", "绿氢"], 1):
        old["articles"].insert(
            {
                "id": i,
                "url": f"https://e.com/{i}",
                "canonical_url": f"https://e.com/{i}",
                "source": "s",
                "title": title,
                "first_seen_at": f"2026-01-0{i}T00:00:00Z",
                "last_seen_at": "2026-01-01T00:00:00Z",
                "story_id": i,
            }
        )
    old.conn.commit()
    old.close()
    with Store(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert search_ids(store, "抽水蓄能") == [1]
        assert search_ids(store, "storage OR 氢") == [3, 2]
        assert {"latest_stories", "source_health", "daily_counts"} <= set(store.db.view_names())
        fts_ok(store)


def test_checkpoint_folds_the_wal_into_the_file_a_bare_copy_is_missing_it(
    db_path: Path, tmp_path: Path
) -> None:
    import shutil

    def articles_in(copy: Path) -> int:
        conn = sqlite3.connect(copy)
        try:
            return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
        except sqlite3.OperationalError:  # not even the table: it was only in the -wal file
            return 0
        finally:
            conn.close()

    with Store(db_path) as store:
        store.upsert_articles([row()], NOW)
        shutil.copy(db_path, tmp_path / "before.db")  # news.db without its -wal
        store.checkpoint()
        shutil.copy(db_path, tmp_path / "after.db")
    assert articles_in(tmp_path / "before.db") == 0
    assert articles_in(tmp_path / "after.db") == 1


def test_a_rebuilt_articles_table_gets_its_triggers_and_index_back(db_path: Path) -> None:
    with Store(db_path) as store:
        store.upsert_articles([row()], NOW)
        store.db["articles"].transform(types={"language": str})  # drops the table's triggers
        with store.write() as conn:
            conn.execute("UPDATE articles SET title = '风电装机创新高'")  # not queued
    with Store(db_path) as store:
        assert search_ids(store, "风电") == [1]
        assert search_ids(store, "光伏") == []
        fts_ok(store)


def test_search_order_matches_the_plain_order_for_every_limit(db: Store) -> None:
    import random

    rng = random.Random(4)
    rows = []
    for i in range(120):  # ids in one order, dates in another (backfilled articles), some undated
        day, hour, minute = rng.randint(1, 6), rng.randint(0, 23), rng.randint(0, 59)
        rows.append(
            row(
                url=f"https://e.com/{i}",
                canonical_url=f"https://e.com/{i}",
                source=rng.choice(["a", "b"]),
                title=rng.choice(["光伏组件", "储能电站", "光伏储能"]) + f" {i}",
                published_at=None
                if rng.random() < 0.1
                else f"2026-02-{day:02d}T{hour:02d}:{minute:02d}:{rng.randint(0, 59):02d}Z",
            )
        )
    db.upsert_articles(rows, NOW)
    for text, source in (("光伏", None), ("储能", "a"), ("光伏 储能", "b")):
        plain = [
            r["id"]
            for r in db.articles(source=source, limit=None)
            if all(word in r["title"] for word in text.split())
        ]
        for limit in (1, 5, 20, 37, 200):
            found = [r["id"] for r in db.articles(text=text, source=source, limit=limit)]
            assert found == plain[:limit], (text, source, limit)
        since = "2026-02-04T12:00:00Z"
        expected = [
            r["id"]
            for r in db.articles(source=source, since=since, limit=None)
            if all(word in r["title"] for word in text.split())
        ]
        assert [r["id"] for r in db.articles(text=text, source=source, since=since)] == (
            expected[:200]
        )


def test_a_search_index_keyed_by_minute_is_rebuilt(db_path: Path) -> None:
    from aggregator import store as store_module

    before_rekey = store_module.MIGRATIONS.index(store_module._migration_8)
    with Store(db_path) as store:
        store.upsert_articles([row()], NOW)
        with store.write() as conn:  # as if indexed with other keys: _migration_8 starts over
            conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('delete-all')")
            conn.execute(f"PRAGMA user_version = {before_rekey}")
        assert search_ids(store, "光伏") == []
    with Store(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert search_ids(store, "光伏") == [1]
        fts_ok(store)


# -- stories --------------------------------------------------------------------------------


def store_batch(db: Store, *titles_and_sources: tuple[str, str], now: datetime = NOW) -> list[int]:
    rows = [
        row(
            url=f"https://{source}.example/a/{len(title)}.html",
            canonical_url=f"https://{source}.example/a/{title}",
            source=source,
            title=title,
        )
        for title, source in titles_and_sources
    ]
    result = db.upsert_articles(rows, now)
    db.assign_stories(result.new_ids)
    return result.new_ids


def story_of(db: Store, source: str, title: str) -> int:
    return stored(db, f"https://{source}.example/a/{title}")["story_id"]


def test_reposts_join_the_first_article_s_story_and_stay_there(db: Store) -> None:
    (first,) = store_batch(db, ("全国多地开展《可再生能源法》宣传教育活动", "a"))
    store_batch(
        db,
        ("全国多地开展可再生能源法宣传教...", "b"),
        ("【人民日报】全国多地开展《可再生能源法》宣传教育活动", "c"),
        ("股市必读:甘肃能源(000791)2月24日主力资金净流出", "a"),
    )
    assert story_of(db, "b", "全国多地开展可再生能源法宣传教...") == first
    assert story_of(db, "c", "【人民日报】全国多地开展《可再生能源法》宣传教育活动") == first
    template = story_of(db, "a", "股市必读:甘肃能源(000791)2月24日主力资金净流出")
    assert template != first
    store_batch(db, ("股市必读:中煤能源(601898)2月24日主力资金净流出", "b"))
    assert story_of(db, "b", "股市必读:中煤能源(601898)2月24日主力资金净流出") not in (
        first,
        template,
    )

    def stored(story_id: int) -> dict[int, dict]:
        return {
            row["id"]: row
            for row in db.db.query("SELECT * FROM articles WHERE story_id = ?", [story_id])
        }

    # what a feed reads of the stories: their articles, the columns a feed shows
    light = db.feed_story_articles([first, template, first])
    assert set(light) == {first, template}
    assert sorted(a.source for a in light[first]) == ["a", "b", "c"]
    for story_id, articles in light.items():
        full = stored(story_id)
        assert sorted(a.id for a in articles) == sorted(full)
        for article in articles:
            row = full[article.id]
            assert article.title == row["title"] and article.source == row["source"]
            assert article.topics == row["topics"]
            assert article._asdict().keys() <= row.keys()
    # except the articles the caller already holds
    held = sorted(full := stored(first))[:2]
    rest = db.feed_story_articles([first], exclude=held)
    assert sorted(a.id for a in rest[first]) == sorted(set(full) - set(held))
    assert db.feed_story_articles([template], exclude=list(stored(template))) == {}
    # a re-run changes nothing: no new article, no story moves
    before = list(db.db.query("SELECT id, story_id FROM articles ORDER BY id"))
    store_batch(
        db,
        ("全国多地开展可再生能源法宣传教...", "b"),
        ("全国多地开展《可再生能源法》宣传教育活动", "a"),
    )
    assert list(db.db.query("SELECT id, story_id FROM articles ORDER BY id")) == before


def test_the_index_is_persistent(db_path: Path) -> None:
    with Store(db_path) as store:
        (first,) = store_batch(store, ("江苏一200MW/400MWh独立储能电站全容量并网", "a"))
        assert len(list(stored_buckets(store.conn))) >= 3
    with Store(db_path) as store:
        store_batch(store, ("江苏一200MW/400MWh独立储能电站全容量并网投运", "b"))
        assert story_of(store, "b", "江苏一200MW/400MWh独立储能电站全容量并网投运") == first


def test_disabled_clustering_leaves_articles_alone(db: Store) -> None:
    from aggregator.dedupe import DedupeOptions

    result = db.upsert_articles(
        [row(), row(canonical_url="https://other.example/1", source="other")], NOW
    )
    stats = db.assign_stories(result.new_ids, DedupeOptions(enabled=False))
    assert stats.articles == 0
    assert [r["story_id"] for r in db.db.query("SELECT story_id FROM articles")] == result.new_ids


def test_a_version_2_file_is_clustered_on_upgrade(db_path: Path) -> None:
    import sqlite_utils

    from aggregator.store import MIGRATIONS

    old = sqlite_utils.Database(db_path)
    MIGRATIONS[0](old)
    MIGRATIONS[1](old)
    old.execute("PRAGMA user_version = 2")
    for id, source, title in [
        (1, "a", "江苏一200MW/400MWh独立储能电站全容量并网"),
        (2, "b", "【视频】江苏一200MW/400MWh独立储能电站全容量并网"),
        (3, "b", "广东一200MW/400MWh独立储能电站全容量并网"),
    ]:
        old["articles"].insert(
            {
                "id": id,
                "url": f"https://{source}.example/{id}",
                "canonical_url": f"https://{source}.example/{id}",
                "source": source,
                "title": title,
                "first_seen_at": "2026-01-01T00:00:00Z",
                "last_seen_at": "2026-01-01T00:00:00Z",
                "story_id": id,
            }
        )
    old.conn.commit()
    old.close()
    with Store(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        stories = dict(store.conn.execute("SELECT id, story_id FROM articles"))
    assert stories == {1: 1, 2: 1, 3: 3}


# -- URL rules (schema: merge_url_duplicates) -------------------------------------------------


def test_the_same_url_under_the_other_scheme_is_the_same_article(db: Store) -> None:
    db.upsert_articles([row(canonical_url="http://example.com/a/1.html")], NOW)
    later = NOW + timedelta(hours=1)
    result = db.upsert_articles(
        [row(canonical_url="https://example.com/a/1.html", title="光伏组件价格继续下行 全文")],
        later,
    )
    assert result.new == 0 and result.updated == 1
    assert db.count_articles() == 1
    assert stored(db, "http://example.com/a/1.html")["title"] == "光伏组件价格继续下行 全文"


def test_a_url_rule_change_merges_the_rows_that_now_collide(db_path: Path) -> None:
    from aggregator.store import MIGRATIONS, _migration_10

    before = MIGRATIONS.index(_migration_10)
    with Store(db_path) as store:
        store.upsert_articles(
            [
                row(canonical_url="http://e.com/a/1.html", title="储能电站并网...", topics=["a"]),
                row(
                    canonical_url="https://e.com/a/1.html/", title="储能电站并网发电", topics=["b"]
                ),
                row(canonical_url="http://e.com/news/index.html", title="新闻"),
                row(canonical_url="https://e.com/x?sid=77&id=1", title="会话"),
            ],
            NOW,
        )
        with store.write() as conn:
            conn.execute("DROP TABLE merged_articles")
            conn.execute(f"PRAGMA user_version = {before}")
    with Store(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        rows = {r["id"]: r for r in store.db.query("SELECT * FROM articles")}
        assert sorted(rows) == [1, 3, 4]
        assert rows[1]["canonical_url"] == "http://e.com/a/1.html"
        assert rows[1]["title"] == "储能电站并网发电"  # the uncut title of the merged row
        assert json.loads(rows[1]["topics"]) == ["a", "b"]
        assert rows[3]["canonical_url"] == "http://e.com/news"
        assert rows[4]["canonical_url"] == "https://e.com/x?id=1"
        (merged,) = store.db.query("SELECT * FROM merged_articles")
        assert (merged["id"], merged["into_id"]) == (2, 1)
        assert json.loads(merged["row"])["canonical_url"] == "https://e.com/a/1.html/"
        topics = store.conn.execute(
            "SELECT topic FROM article_topics WHERE article_id = 1 ORDER BY topic"
        ).fetchall()
        assert [t[0] for t in topics] == ["a", "b"]


# -- configured URL rules (Store.apply_url_rules) ---------------------------------------------


def test_known_complete_matches_the_other_scheme(db: Store) -> None:
    db.upsert_articles([row(canonical_url="http://example.com/a/1.html")], NOW)
    db.save_pages([PageSeen("http://e.com/read", "example", "followed", ["http://e.com/read"])])
    asked = ["https://example.com/a/1.html", "https://e.com/read", "https://e.com/other"]
    assert db.known_complete(asked) == {"https://example.com/a/1.html", "https://e.com/read"}
    assert db.known_complete(["http://example.com/a/1.html"]) == {"http://example.com/a/1.html"}


def test_a_new_database_records_the_default_url_rules(db: Store) -> None:
    assert db.url_rules() == UrlRules()
    assert db.apply_url_rules(UrlRules()) == UrlRulesResult(changed=False)


def test_changed_url_rules_merge_rows_join_stories_and_keep_everything(db: Store) -> None:
    db.upsert_articles(
        [
            row(canonical_url="https://www.e.cn/a/1.html", title="风电项目并网...", topics=["a"]),
            row(canonical_url="https://e.cn/b", title="另一条新闻"),
            row(canonical_url="http://m.e.cn/a/1.html", title="风电项目并网发电", topics=["b"]),
            row(canonical_url="https://x.org/repost", title="转载:风电项目并网发电"),
            row(canonical_url="urn:newsagg:example:guid:7", title="没有链接"),
        ],
        NOW,
    )
    join_stories = "UPDATE articles SET story_id = 3 WHERE id = 4"  # the repost joined 3
    with db.write() as conn:
        conn.execute(join_stories)
    db.save_pages(
        [
            PageSeen("https://list.cn/", "example", "fp", ["https://www.e.cn/a/1.html"]),
            PageSeen("https://m.e.cn/a/1.html", "example", "followed", ["https://m.e.cn/a/1.html"]),
        ]
    )
    before = list(db.db.query("SELECT * FROM articles ORDER BY id"))
    rules = build_url_rules([["e.cn", "www.e.cn", "m.e.cn"]])
    result = db.apply_url_rules(rules, now=NOW)
    assert result == UrlRulesResult(changed=True, renamed=1, merged=1, stories_joined=1)
    rows = {r["id"]: r for r in db.db.query("SELECT * FROM articles")}
    assert sorted(rows) == [1, 2, 4, 5]
    assert rows[1]["canonical_url"] == "https://e.cn/a/1.html"
    assert rows[1]["title"] == "风电项目并网发电"  # the uncut title of the merged row
    assert json.loads(rows[1]["topics"]) == ["a", "b"]
    assert rows[4]["story_id"] == 1  # the merged row's story joined the kept row's
    assert rows[5]["canonical_url"] == "urn:newsagg:example:guid:7"
    (merged,) = db.db.query("SELECT * FROM merged_articles")
    assert (merged["id"], merged["into_id"]) == (3, 1)
    assert json.loads(merged["row"]) == before[2]  # kept whole
    assert db.keys_of_page("https://list.cn/") == ["https://e.cn/a/1.html"]
    assert db.known_complete(["https://e.cn/a/1.html"]) == {"https://e.cn/a/1.html"}
    assert db.url_rules() == rules
    assert db.apply_url_rules(rules) == UrlRulesResult(changed=False)  # once
    again = db.apply_url_rules(rules, force=True)
    assert (again.changed, again.renamed, again.merged) == (True, 0, 0)


def test_url_rules_survive_reopening_and_a_new_row_joins_the_merged_one(db_path: Path) -> None:
    rules = build_url_rules([["e.cn", "www.e.cn"]])
    with Store(db_path) as store:
        store.upsert_articles([row(canonical_url="https://www.e.cn/1")], NOW)
        store.apply_url_rules(rules)
    with Store(db_path) as store:
        assert store.url_rules() == rules
        result = store.upsert_articles([row(canonical_url="http://e.cn/1", title="新标题")], NOW)
        assert (result.new, store.count_articles()) == (0, 1)


def test_a_version_11_index_is_converted(db_path: Path) -> None:
    """Schema 11 kept buckets as comma-separated text and no decisive-token bits: the upgrade
    packs the buckets, computes the bits, and the converted index still finds the story."""
    import numpy as np
    import sqlite_utils

    from aggregator.dedupe import fingerprints, slot_keys, time_slots, timestamp
    from aggregator.store import MIGRATIONS, _migration_12

    title = "江苏一200MW/400MWh独立储能电站全容量并网"
    old = sqlite_utils.Database(db_path)
    for migration in MIGRATIONS[: MIGRATIONS.index(_migration_12)]:
        migration(old)
    old["articles"].insert(
        {
            "id": 7,
            "url": "https://a.example/7",
            "canonical_url": "https://a.example/7",
            "source": "a",
            "title": title,
            "first_seen_at": "2026-02-24T00:00:00Z",
            "last_seen_at": "2026-02-24T00:00:00Z",
            "story_id": 7,
        }
    )
    (fp,) = fingerprints([title])
    old.conn.executemany(
        "INSERT INTO dedupe_index (key, n, article_ids) VALUES (?, ?, ?)",
        [(key, 2, "3,7") for key in keys_of(fp)],
    )
    old.conn.execute(
        "INSERT INTO dedupe_texts (article_id, story_id, seen, text, cut, latin, title) "
        "VALUES (7, 7, ?, ?, 0, 0, '')",
        (timestamp("2026-02-24T00:00:00Z"), fp.text),
    )
    _migration_12(old)  # the conversion alone (a later migration re-files the index)
    blobs = [r[0] for r in old.conn.execute("SELECT article_ids FROM dedupe_index")]
    assert blobs and all(b == struct.pack("<2q", 3, 7) for b in blobs)
    assert old.conn.execute("SELECT nums FROM dedupe_texts").fetchone()[0] == fp.bloom
    assert fp.bloom != 0  # 200, 400 and 江苏 set bits
    old.execute(f"PRAGMA user_version = {MIGRATIONS.index(_migration_12) + 1}")
    old.conn.commit()
    old.close()
    with Store(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        (new,) = store_batch(store, ("【视频】" + title, "b"), now=NOW)
        assert stored(store, f"https://b.example/a/【视频】{title}")["story_id"] == 7
        seen = np.array([timestamp("2026-02-24T00:00:00Z")])
        key = int(slot_keys(np.array(keys_of(fp)[:1]), time_slots(seen, 0.0))[0])
        assert dict(stored_buckets(store.conn))[key] == [7, new]  # 3 is no clustered article


def test_clustering_in_one_process_matches_a_fresh_one_per_batch(tmp_path: Path) -> None:
    """The clusterer keeps what it filed (RecentAttributes): the stories must be the ones a
    process that reads everything back from the file finds."""
    titles = [
        "江苏一200MW/400MWh独立储能电站全容量并网",
        "【视频】江苏一200MW/400MWh独立储能电站全容量并网",
        "广东一200MW/400MWh独立储能电站全容量并网",
        "江苏一200MW/400MWh独立储能电站全容量...",
        "江苏一300MW/600MWh独立储能电站全容量并网",
        "国家能源局发布2026年能源工作指导意见",
        "國家能源局發布2026年能源工作指導意見",
        "国家能源局发布2025年能源工作指导意见",
    ]
    batches = [titles[i : i + 2] for i in range(0, len(titles), 2)] * 2

    def run(path: Path, fresh: bool) -> list[tuple[int, int]]:
        store = Store(path)
        for number, batch in enumerate(batches):
            if fresh:
                store.close()
                store = Store(path)
            rows = [
                row(canonical_url=f"https://s{number}.example/{i}", source=f"s{number}", title=t)
                for i, t in enumerate(batch)
            ]
            store.assign_stories(store.upsert_articles(rows, NOW).new_ids)
        found = list(store.conn.execute("SELECT id, story_id FROM articles ORDER BY id"))
        store.close()
        return found

    kept, fresh = run(tmp_path / "kept.db", False), run(tmp_path / "fresh.db", True)
    assert kept == fresh
    assert len({story for _, story in kept}) < len(kept)  # some joined


def test_topic_feed_keys_read_the_topics_own_rows_newest_first(db: Store) -> None:
    rows = [
        row(
            canonical_url=f"https://example.com/t/{i}.html",
            url=f"https://example.com/t/{i}.html",
            title=f"新闻 {i}",
            published_at=None if i % 7 == 0 else f"2026-02-{1 + i % 20:02d}T08:{i:02d}:00Z",
            topics=["solar", "wind"] if i % 3 else ["solar"],
        )
        for i in range(40)
    ]
    rows.append(row(canonical_url="https://example.com/rare.html", topics=["rare"]))
    db.upsert_articles(rows)
    with db.write() as conn:  # a date corrected after the topics were written
        conn.execute(
            "UPDATE articles SET published_at = '2099-03-01T00:00:00Z' WHERE canonical_url = ?",
            ("https://example.com/t/5.html",),
        )
    for topic in ("solar", "wind", "rare", "none-at-all"):
        for limit in (1, 10, 100):
            expected = [(a["id"], a["story_id"]) for a in db.articles(topic=topic, limit=limit)]
            assert db.feed_article_keys(topic=topic, limit=limit) == expected, (topic, limit)
    moved = stored(db, "https://example.com/t/5.html")["id"]
    assert db.feed_article_keys(topic="wind", limit=1)[0][0] == moved
    both = db.feed_article_keys(topic="solar", source="example", limit=5)
    assert both == [(a["id"], a["story_id"]) for a in db.articles(topic="solar", limit=5)]
    assert db.feed_article_keys(topic="solar", source="nobody", limit=5) == []
    plan = " ".join(
        str(step[3])
        for step in db.conn.execute(
            "EXPLAIN QUERY PLAN SELECT t.article_id, a.story_id FROM article_topics t "
            "JOIN articles a ON a.id = t.article_id WHERE t.topic = ? "
            "ORDER BY t.newest DESC, t.article_id DESC LIMIT 200",
            ("rare",),
        )
    )
    assert "article_topics_newest (topic=?)" in plan and "TEMP B-TREE" not in plan, plan


# -- story_summary: one row per story, kept by triggers ------------------------------------


def summary_from_articles(db: Store) -> list[tuple[Any, ...]]:
    """What ``story_summary`` must hold, from the articles and the Python rule
    (:func:`aggregator.stories.representative`)."""
    stories: dict[int, list[dict[str, Any]]] = {}
    for article in db.db.query("SELECT * FROM articles ORDER BY id"):
        stories.setdefault(article["story_id"], []).append(article)
    expected = []
    for story_id, members in sorted(stories.items()):
        rep = representative(members)
        stamps = [m["published_at"] or m["first_seen_at"] for m in members]
        expected.append(
            (
                story_id,
                rep["id"],
                rep["published_at"] or rep["first_seen_at"],
                rep["topics"],
                len({m["source"] for m in members}),
                min(stamps),
                max(stamps),
            )
        )
    return expected


def summary(db: Store) -> list[tuple[Any, ...]]:
    return db.conn.execute(
        "SELECT story_id, rep_id, rep_when, rep_topics, sources, oldest, newest "
        "FROM story_summary ORDER BY story_id"
    ).fetchall()


def test_story_summary_follows_every_write_to_articles(db: Store) -> None:
    def article(n: int, **overrides: Any) -> dict[str, Any]:
        fields = {
            "url": f"https://example.com/s/{n}.html",
            "canonical_url": f"https://example.com/s/{n}.html",
            "source": f"src{n % 3}",
            "title": f"储能电站 {n}" + ("..." if n % 4 == 0 else ""),
            "published_at": None if n % 5 == 0 else f"2026-02-{10 + n % 15:02d}T0{n % 10}:00:00Z",
            "topics": ["storage"] if n % 2 else ["grid", "solar"],
        }
        return row(**(fields | overrides))

    ids = db.upsert_articles([article(n) for n in range(24)], NOW).new_ids
    assert summary(db) == summary_from_articles(db) and len(summary(db)) == 24
    with db.write() as conn:  # clustering joins stories (a cut copy, an undated one...)
        conn.executemany(
            "UPDATE articles SET story_id = ? WHERE id = ?",
            [(ids[0], ids[n]) for n in (1, 4, 5, 8)] + [(ids[9], ids[n]) for n in (10, 11)],
        )
    assert summary(db) == summary_from_articles(db) and len(summary(db)) == 24 - 6
    with db.write() as conn:  # an article written straight into a story: the earliest, uncut
        conn.execute(
            "INSERT INTO articles (url, canonical_url, source, title, published_at, "
            "first_seen_at, last_seen_at, topics, story_id) VALUES ('https://x.org/1', "
            "'https://x.org/1', 'srcx', '储能', '2026-01-05T00:00:00Z', ?, ?, '[\"wind\"]', ?)",
            ("2026-02-25T00:00:00Z", "2026-02-25T00:00:00Z", ids[9]),
        )
    assert summary(db) == summary_from_articles(db) and len(summary(db)) == 24 - 6
    assert {r[0]: r[3] for r in summary(db)}[ids[9]] == '["wind"]'
    # the cut copy gets its whole title; another copy an earlier date
    db.upsert_articles(
        [article(4, title="储能电站 4 全文"), article(8, published_at="2026-01-02T00:00:00Z")], NOW
    )
    assert summary(db) == summary_from_articles(db)
    with db.write() as conn:  # topics change (retag) and an article leaves its story
        conn.execute(
            "UPDATE articles SET topics = '[\"hydrogen\"]' WHERE id IN (?, ?)", (ids[0], ids[4])
        )
        conn.execute("UPDATE articles SET story_id = id WHERE id = ?", (ids[10],))
        conn.execute(
            "UPDATE articles SET source = 'src9', first_seen_at = '2026-01-01T00:00:00Z' "
            "WHERE id = ?",
            (ids[5],),
        )
    assert summary(db) == summary_from_articles(db)
    with db.write() as conn:  # some members of stories and whole stories go (prune's delete)
        gone = conn.execute(
            "DELETE FROM articles WHERE coalesce(published_at, first_seen_at) < '2026-02-14'"
        ).rowcount
    assert gone > 3 and summary(db) == summary_from_articles(db)
    with db.write() as conn:
        conn.execute("DELETE FROM articles")
    assert summary(db) == []


def _recreate_triggers_reversed(conn: sqlite3.Connection) -> None:
    """The story_summary triggers created again in the opposite order (SQLite fires the ones
    made last first; the rows must not depend on it)."""
    made = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'story_summary%'"
        " ORDER BY rowid"
    ).fetchall()
    assert {name for name, _ in made} == set(STORY_SUMMARY_TRIGGERS)
    for name, _ in made:
        conn.execute(f"DROP TRIGGER {name}")
    for _, sql in reversed(made):
        conn.execute(sql)


def random_articles(
    rng: random.Random, count: int, dates: list[str | None], title: str
) -> list[dict[str, Any]]:
    """Articles of three sources with random dates, cut titles and topics."""
    return [
        row(
            url=f"https://e.org/m/{n}",
            canonical_url=f"https://e.org/m/{n}",
            source=rng.choice(["a", "b", "c"]),
            title=f"{title} {n}" + rng.choice(["", "", "...", "…"]),
            published_at=rng.choice(dates),
            topics=[rng.choice(["grid", "solar", "wind"])],
        )
        for n in range(count)
    ]


@pytest.mark.parametrize("order", ["created", "reversed"])
def test_story_summary_follows_random_story_moves(db: Store, order: str) -> None:
    """Clustering's joins (only ``story_id`` changes, to a story that has a row) update that
    row in place and delete an emptied story's row; every other change recomputes. Random
    moves, leaves, moves to storyless ids and moves with other changes keep the rows exact,
    whatever order the triggers fire in."""
    if order == "reversed":
        _recreate_triggers_reversed(db.conn)
    rng = random.Random(19)
    # many undated ones: an undated representative and an undated newcomer tie until the id
    dates = [None, None, None, "2026-02-10T01:00:00Z", "2026-02-11T00:00:00Z"]
    ids = db.upsert_articles(random_articles(rng, 60, dates, "光伏电站"), NOW).new_ids
    kinds: dict[str, int] = {"join": 0, "leave": 0, "storyless": 0, "with_change": 0}
    for _ in range(20):
        with db.write() as conn:
            for _ in range(10):
                article = rng.choice(ids)
                kind = rng.choice(list(kinds))
                stories = [s for (s,) in conn.execute("SELECT story_id FROM story_summary")]
                if kind == "join":
                    conn.execute(
                        "UPDATE articles SET story_id = ? WHERE id = ?",
                        (rng.choice(stories), article),
                    )
                elif kind == "leave":
                    conn.execute("UPDATE articles SET story_id = id WHERE id = ?", (article,))
                elif kind == "storyless":
                    conn.execute(
                        "UPDATE articles SET story_id = ? WHERE id = ?", (10_000 + article, article)
                    )
                else:
                    conn.execute(
                        "UPDATE articles SET story_id = ?, published_at = ? WHERE id = ?",
                        (rng.choice(stories), rng.choice(dates), article),
                    )
                kinds[kind] += 1
        assert summary(db) == summary_from_articles(db)
    assert min(kinds.values()) > 5


_TRIGGERS = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"


def _four_articles_and_older_triggers(
    store: Store, names: Sequence[str]
) -> tuple[list[int], list[tuple[Any, ...]]]:
    """Four articles, and the triggers as this schema made them; then each of ``names``
    replaced by one that does nothing (it keeps the name, so opening does not repair it), as an
    older schema left them."""
    ids = store.upsert_articles(
        [row(url=f"https://e.com/{n}", canonical_url=f"https://e.com/{n}") for n in range(4)],
        NOW,
    ).new_ids
    made = store.conn.execute(_TRIGGERS).fetchall()
    for name in names:
        store.conn.execute(f"DROP TRIGGER {name}")
        store.conn.execute(
            f"CREATE TRIGGER {name} AFTER UPDATE OF title ON articles WHEN 0 BEGIN SELECT 1; END"
        )
    return ids, made


def test_schema_20_replaces_the_story_move_triggers_and_keeps_the_rows(db_path: Path) -> None:
    with Store(db_path) as store:
        ids, made = _four_articles_and_older_triggers(store, STORY_SUMMARY_TRIGGERS)
        store.conn.execute(f"PRAGMA user_version = {MIGRATIONS.index(_migration_20)}")
        expected = summary(store)
    with Store(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert summary(store) == expected
        assert store.conn.execute(_TRIGGERS).fetchall() == made
        with store.write() as conn:  # a join, through the new trigger
            conn.execute("UPDATE articles SET story_id = ? WHERE id = ?", (ids[0], ids[3]))
        assert summary(store) == summary_from_articles(store) and len(summary(store)) == 3


def _paused(store: Store) -> list[tuple[Any, ...]]:
    return store.conn.execute("SELECT * FROM story_summary_paused").fetchall()


def test_clustering_moves_keep_story_summary_and_feed_version_as_the_triggers_do() -> None:
    """Clustering moves a batch's articles with the triggers paused and recomputes the rows of
    the stories they left and joined (:func:`_move_articles`): the same ``story_summary`` rows
    and ``feed_version`` as the same moves made by plain UPDATEs, every trigger firing."""
    rng = random.Random(21)
    dates = [None, None, "2026-02-10T01:00:00Z", "2026-02-11T00:00:00Z", "2026-02-12T03:00:00Z"]
    rows = random_articles(rng, 80, dates, "风电项目")
    by_trigger, set_based = Store(":memory:"), Store(":memory:")
    ids = by_trigger.upsert_articles(rows, NOW).new_ids
    assert set_based.upsert_articles(rows, NOW).new_ids == ids
    for _ in range(15):
        stories = [s for (s,) in by_trigger.conn.execute("SELECT story_id FROM story_summary")]
        moves = [  # joins (most), leaves, moves to an id that is no story yet, non-moves
            (rng.choice([*[rng.choice(stories)] * 4, article, 50_000 + article]), article)
            for article in rng.sample(ids, 12)
        ]
        with by_trigger.write() as conn:
            conn.executemany("UPDATE articles SET story_id = ? WHERE id = ?", moves)
        with set_based.write() as conn:
            _move_articles(conn, moves)
        assert summary(set_based) == summary(by_trigger) == summary_from_articles(set_based)
        assert set_based.feed_version() == by_trigger.feed_version()
        assert _paused(set_based) == []
    assert by_trigger.feed_version() > 15 * 12
    by_trigger.close()
    set_based.close()


def test_clustering_keeps_story_summary_and_other_writers_still_do(db_path: Path) -> None:
    """Stories joined by clustering (``assign_stories``) have exact rows; the pause is gone when
    its transaction ends, committed or not, so another program's writes to ``articles`` (the
    sqlite3 shell, Datasette) are kept by the triggers as before."""
    titles = ["国家能源局发布2026年一季度光伏新增装机数据", "宁德时代发布新一代钠离子电池"]
    with Store(db_path) as store:
        first = store.upsert_articles(
            [row(url=f"https://a.com/{n}", canonical_url=f"https://a.com/{n}", title=t)
             for n, t in enumerate(titles)],
            NOW,
        ).new_ids  # fmt: skip
        store.assign_stories(first)
        again = store.upsert_articles(
            [row(url=f"https://b.com/{n}", canonical_url=f"https://b.com/{n}", source="b",
                 title=f"【转载】{t}") for n, t in enumerate(titles)],
            NOW,
        ).new_ids  # fmt: skip
        version = store.feed_version()
        assert store.assign_stories(again).joined == 2
        assert store.feed_version() == version + 2
        assert summary(store) == summary_from_articles(store) and len(summary(store)) == 2
        assert {r[4] for r in summary(store)} == {2}  # two sources each
        assert _paused(store) == []

        def fail(*args: Any) -> None:
            raise sqlite3.OperationalError("disk I/O error (test)")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("aggregator.store._refresh_story_summaries", fail)
            with pytest.raises(sqlite3.OperationalError), store.write() as conn:
                _move_articles(conn, [(first[0], first[1])])
        assert _paused(store) == [] and summary(store) == summary_from_articles(store)
    other = sqlite3.connect(db_path, isolation_level=None)  # not the store: triggers only
    other.execute("UPDATE articles SET story_id = ? WHERE id = ?", (first[0], first[1]))
    other.execute("UPDATE articles SET story_id = id WHERE id = ?", (again[0],))
    other.close()
    with Store(db_path) as store:  # a story joined, one left: three stories
        assert summary(store) == summary_from_articles(store) and len(summary(store)) == 3


def test_schema_21_adds_the_pause_to_the_story_triggers_and_keeps_the_rows(db_path: Path) -> None:
    with Store(db_path) as store:
        # as schema 20 left it: no pause table, triggers without the check
        ids, made = _four_articles_and_older_triggers(
            store, (*STORY_SUMMARY_TRIGGERS, "articles_feed_update")
        )
        assert all("story_summary_paused" in sql for name, sql in made if "leave" in name)
        store.conn.execute("DROP TABLE story_summary_paused")
        store.conn.execute(f"PRAGMA user_version = {MIGRATIONS.index(_migration_21)}")
        expected = summary(store)
    with Store(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert summary(store) == expected and _paused(store) == []
        assert store.conn.execute(_TRIGGERS).fetchall() == made
        version = store.feed_version()
        with store.write() as conn:  # a join by another writer, through the triggers
            conn.execute("UPDATE articles SET story_id = ? WHERE id = ?", (ids[0], ids[3]))
        assert summary(store) == summary_from_articles(store) and len(summary(store)) == 3
        assert store.feed_version() == version + 1


def test_unclustered_of_a_run_of_ids_and_of_scattered_ones(db: Store) -> None:
    ids = db.upsert_articles(
        [row(url=f"https://e.com/u/{n}", canonical_url=f"https://e.com/u/{n}",
             title=f"第{n}批分布式光伏项目备案公示") for n in range(10)],
        NOW,
    ).new_ids  # fmt: skip
    db.assign_stories([ids[2], ids[5]])
    rest = [i for n, i in enumerate(ids) if n not in (2, 5)]
    assert db.unclustered(ids) == rest  # one run of ids: one range read
    assert db.unclustered(list(reversed(ids)) + ids[:3]) == rest  # any order, repeats
    assert db.unclustered(ids[::3]) == [i for i in ids[::3] if i in rest]  # not a run
    assert db.unclustered() == rest
    assert db.unclustered([]) == []


def test_clustering_after_prune_keeps_one_checkpoint_thread(db_path: Path) -> None:
    """``prune`` forgets what clustering cached of the articles, not the connection's set-up:
    the store still has one checkpoint thread, and closing it stops that one."""

    def threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "newsagg-checkpoint"]

    def titles(first: int) -> list[dict[str, Any]]:
        return [
            row(
                url=f"https://e.com/p/{n}",
                canonical_url=f"https://e.com/p/{n}",
                title=f"江苏{n}MW光伏项目全容量并网",
            )
            for n in range(first, first + 20)
        ]

    with Store(db_path) as store:
        store.assign_stories(store.upsert_articles(titles(0), NOW).new_ids)
        first = store.checkpointer
        assert first is not None and first.running and len(threads()) == 1
        store.prune("2025-06-01T00:00:00Z")
        store.assign_stories(store.upsert_articles(titles(20), NOW).new_ids)
        assert store.checkpointer is first and len(threads()) == 1
    assert not first.running and not threads()


def test_story_summary_is_built_by_its_migration_and_repaired(db_path: Path) -> None:
    with Store(db_path) as store:
        ids = store.upsert_articles(
            [
                row(url=f"https://e.com/{n}", canonical_url=f"https://e.com/{n}", source=f"s{n}")
                for n in range(5)
            ],
            NOW,
        ).new_ids
        with store.write() as conn:
            conn.execute("UPDATE articles SET story_id = ? WHERE id IN (?, ?)", ids[:3])
        expected = summary_from_articles(store)
        # as a file of the schema before: no table, no triggers
        for name in STORY_SUMMARY_TRIGGERS:
            store.conn.execute(f"DROP TRIGGER {name}")
        store.conn.execute("DROP TABLE story_summary")
        store.conn.execute(f"PRAGMA user_version = {MIGRATIONS.index(_migration_16)}")
    with Store(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert summary(store) == expected and expected[0][4] == 3
        # a rebuilt articles table loses its triggers: the next open restores them, and the rows
        store.conn.execute("DROP TRIGGER story_summary_article_insert")
        store.upsert_articles([row(url="https://e.com/9", canonical_url="https://e.com/9")], NOW)
    with Store(db_path) as store:
        assert summary(store) == summary_from_articles(store) and len(summary(store)) == 4
        plan = store.conn.execute(
            "EXPLAIN QUERY PLAN SELECT rep_id, rep_when, sources, rep_topics FROM story_summary "
            "WHERE newest >= ? AND oldest >= ?",
            ("2026-01-01", "2026-01-01"),
        ).fetchall()
        assert "COVERING INDEX story_summary_newest" in plan[0][3]


def test_opening_the_store_does_not_look_up_sqlite_utils_plugins(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No sqlite-utils plugin is used; looking their entry points up costs every process (each
    cron export) ~20-30 ms."""
    import sqlite_utils
    from sqlite_utils import plugins

    def refuse(group: str) -> int:
        raise AssertionError(f"looked up {group} plugins")

    monkeypatch.setattr(plugins, "_plugins_loaded", False)
    monkeypatch.setattr(plugins.pm, "load_setuptools_entrypoints", refuse)
    with Store(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
    with pytest.raises(AssertionError, match="looked up"):  # what Database() does by default
        sqlite_utils.Database(db_path)


def test_shortlists_by_owner_are_the_pairs_in_order() -> None:
    import numpy as np

    from aggregator.store import _by_owner

    rng = np.random.default_rng(2)
    for size in (0, 1, 50, 2000):
        owner = np.sort(rng.integers(1000, 1100, size))
        other = rng.integers(0, 10**6, size)
        for owners in (owner, owner[::-1].copy(), rng.permutation(owner)):
            expected: dict[int, list[int]] = {}
            for a, b in zip(owners.tolist(), other.tolist(), strict=True):
                expected.setdefault(a, []).append(b)
            got = _by_owner(owners, other)
            assert got == expected and list(got) == sorted(expected)


def test_a_new_file_gets_the_store_page_size_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    with Store(tmp_path / "new.db") as store:
        assert store.conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE != 4096
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA page_size = 4096")
    conn.execute("CREATE TABLE notes (x)")  # a file that already has pages
    conn.commit()
    conn.close()
    with Store(old) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.conn.execute("PRAGMA page_size").fetchone()[0] == 4096
        other = row(url="https://b.example/2.html", canonical_url="https://b.example/2.html")
        new = store.upsert_articles([row(), other | {"source": "b"}], NOW).new_ids
        store.assign_stories(new)
        assert len(list(stored_buckets(store.conn))) > 0
    with Store(tmp_path / "new.db") as store:  # reopened: as it was created
        assert store.conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
