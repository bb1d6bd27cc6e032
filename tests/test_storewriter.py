"""The writer process (aggregator/storewriter.py): batches stored in order, in another process,
with what each did coming back; failures reported in the caller's words."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from aggregator.errors import StoreError
from aggregator.items import PageSeen
from aggregator.store import Store, UpsertResult
from aggregator.storewriter import StoreWriter, WriterFailed
from tests.conftest import NOW, ROOT
from tests.test_store import row

TOPICS = ROOT / "data" / "topics.toml"


def articles(n: int, start: int = 0, source: str = "example") -> list[dict[str, Any]]:
    return [
        row(
            url=f"https://example.com/a/{i}.html",
            canonical_url=f"https://example.com/a/{i}.html",
            source=source,
            title=f"第{i}号储能电站并网发电",
            topics=[],
        )
        for i in range(start, start + n)
    ]


def wait_for(writer: StoreWriter, count: int) -> list[UpsertResult | BaseException]:
    done: list[UpsertResult | BaseException] = []
    deadline = time.monotonic() + 30
    while len(done) < count and time.monotonic() < deadline:
        done += writer.results()
        time.sleep(0.01)
    return done


def test_batches_are_stored_in_order_by_the_writer_process(db_path: Path) -> None:
    Store(db_path).close()
    writer = StoreWriter(str(db_path), TOPICS, {"example": ["grid"]})
    page = PageSeen(url="https://example.com/list", source="example", fingerprint="f", keys=[])
    writer.submit(articles(3), [], NOW)
    # The same URL again, later: an update of the first batch's article, not a new one.
    again = articles(1) + articles(2, start=3)
    again[0]["snippet"] = "更完整的摘要:储能电站今日并网。"
    done = writer.submit(again, [page], NOW)
    done += writer.close()
    assert all(isinstance(d, UpsertResult) for d in done)
    results = [d for d in done if isinstance(d, UpsertResult)]
    assert [(r.new, r.updated) for r in results] == [(3, 0), (2, 1)]
    assert [i for r in results for i in r.new_ids] == [1, 2, 3, 4, 5]
    with Store(db_path) as store:
        stored = store.articles(limit=None)
        assert len(stored) == 5
        # topics at ingest, in the writer: the source's ∪ the taxonomy's ("储能" is storage)
        assert all({"grid", "storage"} <= set(a["topics"]) for a in stored)
        assert store.keys_of_page("https://example.com/list") == []
        assert [a["id"] for a in store.articles(text="并网", limit=None)] != []


def test_a_result_comes_back_only_once_its_batch_is_committed(db_path: Path) -> None:
    Store(db_path).close()
    writer = StoreWriter(str(db_path), None, {})
    writer.submit(articles(50), [], NOW)
    [result] = wait_for(writer, 1)
    assert isinstance(result, UpsertResult)
    other = sqlite3.connect(db_path)  # another connection sees every new id at once
    ids = {i for (i,) in other.execute("SELECT id FROM articles")}
    other.close()
    assert set(result.new_ids) <= ids and len(ids) == 50
    assert writer.close() == []


def test_a_database_the_writer_cannot_use_is_a_store_error_naming_the_file(
    db_path: Path,
) -> None:
    db_path.write_bytes(b"this is not a database " * 200)
    writer = StoreWriter(str(db_path), None, {})
    writer.submit(articles(2), [], NOW)
    writer.submit(articles(2, start=2), [], NOW)
    done = wait_for(writer, 2) + writer.close()
    assert len(done) == 2 and all(isinstance(d, StoreError) for d in done)
    assert str(db_path) in str(done[0]) and "cannot use this file" in str(done[0])


def test_a_failing_batch_is_reported_and_the_next_one_is_written(db_path: Path) -> None:
    Store(db_path).close()
    writer = StoreWriter(str(db_path), None, {})
    broken = articles(1)
    del broken[0]["title"]  # not a normalised row
    writer.submit(broken, [], NOW)
    writer.submit(articles(1, start=7), [], NOW)
    first, second = wait_for(writer, 2) + writer.close()
    assert isinstance(first, WriterFailed) and "binding parameter :title" in str(first)
    assert isinstance(second, UpsertResult) and second.new == 1


def test_a_writer_process_that_dies_is_a_store_error(db_path: Path) -> None:
    Store(db_path).close()
    writer = StoreWriter(str(db_path), None, {})
    writer.process.kill()
    writer.process.wait()
    writer.submit(articles(2), [], NOW)
    done = writer.close()
    assert len(done) == 1 and isinstance(done[0], StoreError)
    assert "writer process stopped" in str(done[0]) and "1 batch(es) not written" in str(done[0])


def test_abandon_stops_the_process_without_writing_the_rest(db_path: Path) -> None:
    Store(db_path).close()
    writer = StoreWriter(str(db_path), None, {})
    writer.abandon()
    assert writer.process.poll() is not None
    writer.submit(articles(2), [], NOW)  # after abandon: nothing is sent, nothing is raised
    assert writer.close() == []
    with Store(db_path) as store:
        assert store.count_articles() == 0
