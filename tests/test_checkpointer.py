"""The checkpoint thread of a clustering store (aggregator/checkpointer.py): it starts with the
first clustering write and stops with the store, keeps the WAL bounded, never waits for a reader
or a writer, reports its failures and hands checkpointing back, and loses nothing when killed."""

from __future__ import annotations

import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import aggregator.checkpointer as checkpointer_module
import aggregator.store as store_module
from aggregator.doctor import check_database, check_database_writable
from aggregator.store import Store
from tests.conftest import NOW, ROOT

PLACES = ["江苏", "浙江", "广东", "四川", "青海", "甘肃", "内蒙古", "山东", "河北", "新疆"]
KINDS = ["独立储能电站", "光伏电站", "风电项目", "抽水蓄能电站", "氢能示范项目"]


def rows(first: int, count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Distinct headlines, every fifth a reposted near-duplicate of an earlier one."""
    rng = random.Random(seed + first)
    out = []
    for n in range(first, first + count):
        place, kind = PLACES[n % len(PLACES)], KINDS[(n // 10) % len(KINDS)]
        title = f"{place}一{n}MW/{2 * n}MWh{kind}全容量并网发电"
        if n % 5 == 4:
            m = rng.randrange(max(first, n - 20), n)
            place, kind = PLACES[m % len(PLACES)], KINDS[(m // 10) % len(KINDS)]
            title = f"【能源网】{place}一{m}MW/{2 * m}MWh{kind}全容量并网发电"
        url = f"https://s{n % 3}.example/{n}.html"
        out.append(
            {
                "url": url,
                "canonical_url": url,
                "source": f"s{n % 3}",
                "guid": None,
                "title": title,
                "snippet": "",
                "published_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "published_precision": "minute",
                "published_from": "list",
                "flags": [],
                "language": "zh",
                "topics": [],
            }
        )
    return out


def cluster(store: Store, first: int, count: int) -> list[int]:
    ids = store.upsert_articles(rows(first, count), NOW).new_ids
    store.assign_stories(ids)
    return ids


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "newsagg-checkpoint"]


def wal_size(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_the_thread_starts_with_the_first_clustering_write_and_stops_on_close(
    db_path: Path,
) -> None:
    store = Store(db_path)
    store.upsert_articles(rows(0, 50), NOW)
    assert store.checkpointer is None and not checkpoint_threads()  # storing alone: no thread
    cluster(store, 50, 50)
    assert store.checkpointer is not None and store.checkpointer.running
    assert len(checkpoint_threads()) == 1
    checkpointer = store.checkpointer
    store.close()
    assert not checkpointer.running and not checkpoint_threads()
    checkpointer.stop()  # idempotent


def test_an_in_memory_store_has_no_thread(db: Store) -> None:
    cluster(db, 0, 30)
    assert db.checkpointer is None and not checkpoint_threads()


def test_the_thread_checkpoints_and_the_clustering_connection_barely_does(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "CHECKPOINT_EVERY_ARTICLES", 100)
    with Store(db_path) as store:
        for batch in range(6):
            cluster(store, batch * 100, 100)
        checkpointer = store.checkpointer
        assert checkpointer is not None
        wait_for(lambda: checkpointer.stats.checkpoints >= 1)
        assert checkpointer.stats.frames > 0
        fallback = store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert fallback == store_module.CLUSTER_WAL_FALLBACK_PAGES > store_module.CLUSTER_WAL_PAGES
    # everything folded back and the WAL gone with the last connection
    assert wal_size(db_path) == 0


def test_without_the_thread_the_connection_checkpoints_on_commit(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "CHECKPOINT_THREAD", False)
    with Store(db_path) as store:
        cluster(store, 0, 100)
        assert store.checkpointer is None and not checkpoint_threads()
        pages = store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert pages == store_module.CLUSTER_WAL_PAGES


def _wal_high_water(db_path: Path, batches: int) -> tuple[int, int]:
    """Cluster ``batches`` batches of 100; the largest the WAL grew, and the page size."""
    high = 0
    with Store(db_path) as store:
        for batch in range(batches):
            cluster(store, batch * 100, 100)
            high = max(high, wal_size(db_path))
        page = store.conn.execute("PRAGMA page_size").fetchone()[0]
    return high, page


def test_the_wal_stays_bounded_when_the_thread_falls_behind(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A thread that never gets round to a checkpoint: the writer's fallback bounds the WAL.
    monkeypatch.setattr(store_module, "CHECKPOINT_EVERY_ARTICLES", 10**9)
    monkeypatch.setattr(store_module, "CLUSTER_WAL_FALLBACK_PAGES", 40)
    high, page = _wal_high_water(db_path, 40)
    # a commit checkpoints once past 40 pages: the WAL holds at most that plus one commit's
    # frames (a batch of 100 writes well under 200 pages)
    bound = (40 + 200) * (page + 24)
    assert 0 < high < bound
    # the same batches with no checkpoint at all grow the WAL past that bound
    monkeypatch.setattr(store_module, "CLUSTER_WAL_FALLBACK_PAGES", 10**7)
    unbounded, _ = _wal_high_water(tmp_path / "unbounded.db", 40)
    assert unbounded > max(bound, 2000 * (page + 24))


def test_the_wal_stays_bounded_with_the_thread_keeping_up(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "CHECKPOINT_EVERY_ARTICLES", 100)
    monkeypatch.setattr(store_module, "CLUSTER_WAL_FALLBACK_PAGES", 10**7)  # the thread alone
    real = checkpointer_module.Checkpointer.reading

    def reading_and_waiting(self: checkpointer_module.Checkpointer) -> bool:
        done, due = self.stats.checkpoints, self._pending >= self.every and self.running
        alive = real(self)
        if due:  # one checkpoint a batch, in the thread, before the batch goes on
            wait_for(lambda: self.stats.checkpoints > done)
        return alive

    monkeypatch.setattr(checkpointer_module.Checkpointer, "reading", reading_and_waiting)
    high, page = _wal_high_water(db_path, 40)
    # a few batches of frames (a checkpoint may miss a restart), whatever the batch count: 40
    # batches with no checkpoint grow past 2,000 pages (the test above)
    assert 0 < high < 1000 * (page + 24)


def test_a_reader_holding_a_snapshot_never_stops_clustering(db_path: Path) -> None:
    """PASSIVE: the thread copies what it can and waits for nobody; the rest goes later."""
    with Store(db_path) as store:
        cluster(store, 0, 100)
        reader = sqlite3.connect(db_path, isolation_level=None)
        reader.execute("BEGIN")
        seen = reader.execute("SELECT count(*) FROM articles").fetchone()[0]
        checkpointer = store.checkpointer
        assert checkpointer is not None
        checkpointer.every = 1
        for batch in range(1, 5):
            cluster(store, batch * 100, 100)  # commits while the old snapshot is held
        wait_for(lambda: checkpointer.stats.busy >= 1)
        assert checkpointer.error is None and checkpointer.running
        assert reader.execute("SELECT count(*) FROM articles").fetchone()[0] == seen
        reader.execute("COMMIT")
        reader.close()
        copied = checkpointer.stats.frames
        cluster(store, 500, 100)
        wait_for(lambda: checkpointer.stats.frames > copied)
        assert store.count_articles() == 600


def test_a_failing_thread_is_logged_and_the_writer_checkpoints_again(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def failing(self: Any, conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(checkpointer_module.Checkpointer, "_checkpoint", failing)
    monkeypatch.setattr(store_module, "CHECKPOINT_EVERY_ARTICLES", 1)
    with caplog.at_level(logging.ERROR, logger="aggregator.checkpointer"), Store(db_path) as store:
        cluster(store, 0, 100)  # starts the thread
        cluster(store, 100, 100)  # wakes it: its checkpoint fails
        checkpointer = store.checkpointer
        assert checkpointer is not None
        wait_for(lambda: not checkpointer.running)
        assert isinstance(checkpointer.error, sqlite3.OperationalError)
        cluster(store, 200, 100)  # the next batch notices and takes checkpointing back
        assert store.checkpointer is None
        pages = store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert pages == store_module.CLUSTER_WAL_PAGES
        cluster(store, 300, 100)
        assert store.count_articles() == 400
    assert "background checkpoint failed (OperationalError: disk I/O error)" in caplog.text
    assert str(db_path) in caplog.text


def test_closing_leaves_a_consistent_file_with_every_row(db_path: Path) -> None:
    with Store(db_path) as store:
        for batch in range(8):
            cluster(store, batch * 100, 100)
        stories = dict(store.conn.execute("SELECT id, story_id FROM articles"))
        texts = store.conn.execute("SELECT count(*) FROM dedupe_texts").fetchone()[0]
    assert len(set(stories.values())) < len(stories) == texts == 800  # reposts were joined
    with Store(db_path) as again:
        assert dict(again.conn.execute("SELECT id, story_id FROM articles")) == stories
    assert check_database(db_path).ok and check_database_writable(db_path).ok
    assert "quick_check ok" in check_database(db_path).detail


_CLUSTER_FOREVER = """
import atexit
import sys
sys.path.insert(0, sys.argv[2])
import aggregator.store as store_module
from tests.test_checkpointer import cluster
store_module.CHECKPOINT_EVERY_ARTICLES = 100


def report():  # registered first, so it runs last: after the checkpointer's own stop
    checkpointer = store.checkpointer
    if checkpointer is None:
        print("no checkpointer", flush=True)
    else:
        state = "running" if checkpointer.running else "stopped"
        print(state, checkpointer.stats.checkpoints, checkpointer.error, flush=True)


atexit.register(report)
store = store_module.Store(sys.argv[1])
batch = 0
while True:
    cluster(store, batch * 100, 100)
    batch += 1
    print(batch, flush=True)
    if batch == int(sys.argv[3]):
        break
"""


def test_a_killed_process_loses_nothing_committed(db_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CLUSTER_FOREVER, str(db_path), str(ROOT), "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert child.stdout is not None
    done = 0
    for line in child.stdout:  # kill it in the middle of a batch, checkpoints running
        done = int(line)
        if done == 12:
            time.sleep(random.Random(4).uniform(0.0, 0.05))
            os.kill(child.pid, signal.SIGKILL)
            break
    child.stdout.close()
    child.wait(10)
    assert child.returncode == -signal.SIGKILL
    with Store(db_path) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        clustered = store.conn.execute("SELECT count(*) FROM dedupe_texts").fetchone()[0]
        assert clustered >= done * 100  # every batch reported done is there
        store.assign_stories(store.unclustered())  # what a killed batch left goes now
        assert store.unclustered() == []
    assert check_database(db_path).ok


def test_a_process_that_never_closes_its_store_stops_the_thread_at_exit(db_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CLUSTER_FOREVER, str(db_path), str(ROOT), "3"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    *batches, at_exit = done.stdout.splitlines()
    assert batches == ["1", "2", "3"] and done.stderr == ""
    # the checkpointer's atexit handler ran before the child's last one: its thread had ended
    state, checkpoints, error = at_exit.split()
    assert (state, error) == ("stopped", "None"), at_exit
    assert int(checkpoints) >= 1  # it had started and checkpointed
    with Store(db_path) as store:
        assert store.conn.execute("SELECT count(*) FROM dedupe_texts").fetchone()[0] == 300
