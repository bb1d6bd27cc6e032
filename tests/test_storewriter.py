"""The writer process (aggregator/storewriter.py): batches stored in order, in another process,
with what each did coming back; failures reported in the caller's words."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from aggregator.config import Source
from aggregator.errors import StoreError
from aggregator.items import Article, PageSeen
from aggregator.store import Store
from aggregator.storewriter import StoreWriter, WriterFailed, Written
from tests.conftest import NOW, ROOT

TOPICS = ROOT / "data" / "topics.toml"
BASE = "https://example.com/"


SOURCES = [Source(name="example", title="Example", kind="html", urls=(BASE,), topics=("grid",))]


def articles(n: int, start: int = 0) -> list[Article]:
    return [
        Article(
            url=f"{BASE}a/{i}.html?utm_source=x",
            source="example",
            title=f" 第{i}号储能电站并网发电 ",
            snippet="组件价格本周继续回落。",
            published_at=NOW,
            published_precision="minute",
            published_from="list",
        )
        for i in range(start, start + n)
    ]


def writer_for(db_path: Path, taxonomy: Path | None = TOPICS) -> StoreWriter:
    return StoreWriter(str(db_path), taxonomy, SOURCES)


def wait_for(writer: StoreWriter, count: int) -> list[Written | BaseException]:
    done: list[Written | BaseException] = []
    deadline = time.monotonic() + 30
    while len(done) < count and time.monotonic() < deadline:
        done += writer.results()
        time.sleep(0.01)
    return done


def test_batches_are_stored_in_order_by_the_writer_process(db_path: Path) -> None:
    Store(db_path).close()
    writer = writer_for(db_path)
    page = PageSeen(url=f"{BASE}list", source="example", fingerprint="f", keys=[f"{BASE}a/0.html"])
    writer.submit(articles(3), [], NOW)
    # The same URL again, later: an update of the first batch's article, not a new one; and an
    # item without a title, dropped.
    again = (
        articles(1) + articles(2, start=3) + [Article(url=f"{BASE}x", source="example", title=" ")]
    )
    again[0].snippet = "更完整的摘要:储能电站今日并网。"
    done = writer.submit(again, [page], NOW)
    done += writer.close()
    assert all(isinstance(d, Written) for d in done)
    written = [d for d in done if isinstance(d, Written)]
    assert [(w.result.new, w.result.updated, w.dropped) for w in written] == [
        (3, 0, {}),
        (2, 1, {"example": 1}),
    ]
    assert [i for w in written for i in w.result.new_ids] == [1, 2, 3, 4, 5]
    with Store(db_path) as store:
        stored = store.articles(limit=None)
        # normalised in the writer: clean title, canonical URL
        assert sorted(a["canonical_url"] for a in stored)[0] == f"{BASE}a/0.html"
        assert all(a["title"] == a["title"].strip() for a in stored)
        # topics at ingest, in the writer: the source's ∪ the taxonomy's ("储能" is storage)
        assert all({"grid", "storage"} <= set(a["topics"]) for a in stored)
        assert store.keys_of_page(f"{BASE}list") == [f"{BASE}a/0.html"]
        assert len(store.articles(text="并网", limit=None)) == 5


def test_a_result_comes_back_only_once_its_batch_is_committed(db_path: Path) -> None:
    Store(db_path).close()
    writer = writer_for(db_path, None)
    writer.submit(articles(50), [], NOW)
    [written] = wait_for(writer, 1)
    assert isinstance(written, Written)
    result = written.result
    other = sqlite3.connect(db_path)  # another connection sees every new id at once
    ids = {i for (i,) in other.execute("SELECT id FROM articles")}
    other.close()
    assert set(result.new_ids) <= ids and len(ids) == 50
    assert writer.close() == []


def test_a_database_the_writer_cannot_use_is_a_store_error_naming_the_file(
    db_path: Path,
) -> None:
    db_path.write_bytes(b"this is not a database " * 200)
    writer = writer_for(db_path, None)
    writer.submit(articles(2), [], NOW)
    writer.submit(articles(2, start=2), [], NOW)
    done = wait_for(writer, 2) + writer.close()
    assert len(done) == 2 and all(isinstance(d, StoreError) for d in done)
    assert str(db_path) in str(done[0]) and "cannot use this file" in str(done[0])


def test_a_failing_batch_is_reported_and_the_next_one_is_written(db_path: Path) -> None:
    Store(db_path).close()
    writer = writer_for(db_path, None)
    broken = articles(1)
    broken[0].published_at = "2026-02-24"  # type: ignore[assignment]  # not a datetime
    writer.submit(broken, [], NOW)
    writer.submit(articles(1, start=7), [], NOW)
    first, second = wait_for(writer, 2) + writer.close()
    assert isinstance(first, WriterFailed) and "storing a batch failed" in str(first)
    assert isinstance(second, Written) and second.result.new == 1


def test_a_writer_process_that_dies_is_a_store_error(db_path: Path) -> None:
    Store(db_path).close()
    writer = writer_for(db_path, None)
    writer.worker.kill()
    writer.submit(articles(2), [], NOW)
    done = writer.close()
    assert len(done) == 1 and isinstance(done[0], StoreError)
    assert "writer process stopped" in str(done[0]) and "1 batch(es) not written" in str(done[0])


def test_abandon_stops_the_process_without_writing_the_rest(db_path: Path) -> None:
    Store(db_path).close()
    writer = writer_for(db_path, None)
    writer.abandon()
    assert not writer.worker.alive()
    writer.submit(articles(2), [], NOW)  # after abandon: nothing is sent, nothing is raised
    assert writer.close() == []
    with Store(db_path) as store:
        assert store.count_articles() == 0
