"""The store: identity, merge rules, health bookkeeping, schema and transactions."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from aggregator.store import ARTICLE_COLUMNS, SCHEMA_VERSION, Store
from tests.conftest import NOW


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
        assert store.schema_version == SCHEMA_VERSION == 2
        assert "pages" in store.db.table_names()
        assert stored(store, "https://e.com/1")["title"] == "旧文章"
