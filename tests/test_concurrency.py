"""Readers never block the crawler, and the crawler never breaks readers (WAL)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from aggregator.sitefarm import SiteFarm
from aggregator.store import Store
from tests.conftest import NOW, run_newsagg
from tests.test_store import row

FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "RETRY_TIMES=0"]


def test_a_long_read_during_a_crawl(db_path: Path, sources_file: Path, farm: SiteFarm) -> None:
    with Store(db_path) as store:
        store.upsert_articles([row()], NOW)
    reader = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM articles").fetchone()[0] == 1  # snapshot taken

    stop = threading.Event()
    searches: list[int] = []
    errors: list[BaseException] = []

    def search_while_crawling() -> None:
        try:
            with Store(db_path, readonly=True) as store:
                while not stop.is_set():
                    searches.append(len(store.articles(text="光伏 OR 氢 OR storage")))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=search_while_crawling)
    thread.start()
    try:
        crawl = run_newsagg(
            "--db", str(db_path), "--sources", str(sources_file), "crawl", *FAST, timeout=180
        )
    finally:
        stop.set()
        thread.join()
    assert crawl.returncode == 0, crawl.stderr
    assert errors == []
    assert searches, "the reader ran no searches during the crawl"
    # The long read still sees its snapshot, unharmed; after it ends, it sees the crawl.
    assert reader.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    reader.execute("COMMIT")
    crawled = reader.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert crawled > 10
    with Store(db_path, readonly=True) as store:  # and the index kept up with the crawl
        expected = sum("光伏" in r["title"] + r["snippet"] for r in store.articles(limit=None))
        assert expected > 0
        assert len(store.articles(text="光伏", limit=None)) == expected
    reader.close()
