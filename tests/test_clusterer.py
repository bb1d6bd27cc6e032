"""aggregator.clusterer: clustering in a worker process beside the crawl, with an in-process
fallback that leaves no article out."""

from __future__ import annotations

from pathlib import Path

from aggregator.clusterer import Clusterer
from aggregator.dedupe import DedupeOptions
from aggregator.store import Store
from tests.conftest import NOW
from tests.test_store import row

TITLES = [
    ("a", "全国多地开展《可再生能源法》宣传教育活动"),
    ("b", "全国多地开展可再生能源法宣传教..."),
    ("c", "股市必读:甘肃能源(000791)2月24日主力资金净流出"),
    ("d", "股市必读:中煤能源(601898)2月24日主力资金净流出"),
]


def stored_ids(store: Store) -> list[int]:
    rows = [
        row(canonical_url=f"https://{s}.example/1", source=s, title=title) for s, title in TITLES
    ]
    return store.upsert_articles(rows, NOW).new_ids


def stories(store: Store) -> list[int]:
    return [r[0] for r in store.conn.execute("SELECT story_id FROM articles ORDER BY id")]


def test_the_worker_process_clusters_and_reports(db_path: Path) -> None:
    with Store(db_path) as store:
        ids = stored_ids(store)
        clusterer = Clusterer(store, DedupeOptions())
        assert clusterer.worker is not None
        clusterer.submit(ids)
        report = clusterer.finish()
        assert report["worker"] is True
        assert report["articles"] == 4 and report["joined"] == 1
        assert report["worker_peak_mb"] > 0
        assert stories(store) == [ids[0], ids[0], ids[2], ids[3]]
        assert store.unclustered() == []


def test_what_a_dead_worker_left_is_clustered_in_process(db_path: Path) -> None:
    with Store(db_path) as store:
        ids = stored_ids(store)
        clusterer = Clusterer(store, DedupeOptions())
        assert clusterer.worker is not None
        clusterer.worker.kill()
        clusterer.submit(ids)
        report = clusterer.finish()
        assert report["articles"] == 4
        assert stories(store) == [ids[0], ids[0], ids[2], ids[3]]


def test_an_interrupted_run_s_articles_are_clustered_by_the_next(db_path: Path) -> None:
    with Store(db_path) as store:
        ids = stored_ids(store)  # stored, never clustered (the run was killed)
        assert store.unclustered() == ids
        clusterer = Clusterer(store, DedupeOptions(), worker=False)
        assert clusterer.finish()["articles"] == 4
        assert stories(store)[1] == ids[0]


def test_a_database_error_in_the_worker_is_the_crawl_s_error(db_path: Path, tmp_path: Path) -> None:
    import pytest

    from aggregator.errors import StoreError

    with Store(db_path) as store:
        ids = stored_ids(store)
        not_a_database = tmp_path / "garbage.db"
        not_a_database.write_bytes(b"this is not an SQLite file" * 100)
        store.path = str(not_a_database)  # the worker opens this one and fails
        clusterer = Clusterer(store, DedupeOptions())
        clusterer.submit(ids)
        with pytest.raises(StoreError, match=r"garbage\.db"):
            clusterer.finish()
