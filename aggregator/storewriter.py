"""Storing beside the crawl: the pipeline's batches are written by a process of their own.

The crawl runs in one thread (Twisted's reactor) and is CPU-bound. Storing a batch costs half
as much again per article (normalising, topics, index updates and two triggers a row, search
terms, FTS5 inserts and segment writes at ``COMMIT``), so the batches go to a writer process
(``python -m aggregator.storewriter DB``) with its own connection to the same SQLite file
(WAL), and the reactor goes on parsing pages on the other core, as clustering does
(:mod:`aggregator.clusterer`).

- Order is kept: the process takes the batches first in, first out, and writes each as the
  pipeline does in process (:func:`write_batch`: :func:`~aggregator.normalize.normalize`, then
  :meth:`aggregator.store.Store.upsert_articles` in one transaction, then
  :meth:`~aggregator.store.Store.save_pages` for the pages whose articles those were).
- What each batch did (a :class:`Written`) comes back to the reactor's thread
  (:meth:`StoreWriter.results`), which counts it and hands the new ids to clustering: they are
  committed by then. ``newsagg query`` finds a batch's articles once it is committed.
- A failed batch is reported in the reactor's thread, at the next call, by its error (a
  :class:`~aggregator.errors.StoreError` for the database file: disk full, read-only, corrupt;
  the process then writes nothing more). A writer process that dies is a ``StoreError`` too.
- At most ``depth`` batches wait to be sent, so a slow disk slows the crawl instead of filling
  memory. ``kill -9`` of the crawl: what was committed stays committed; the writer finishes the
  batch it holds and exits at the end of its input; batches not yet sent are lost, as an
  unflushed batch always was.

Messages (the sources, then :class:`~aggregator.items.Article` and
:class:`~aggregator.items.PageSeen` records) go over the process's stdin and stdout as
:mod:`aggregator.worker` frames them.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from aggregator.config import Source
from aggregator.errors import StoreError
from aggregator.items import Article
from aggregator.normalize import normalize
from aggregator.store import Store, Tagger, UpsertResult
from aggregator.topics import load_taxonomy, source_tagger
from aggregator.worker import Worker, child_streams, encode, receive, send

DEPTH = 4  # batches waiting to be sent at most before the crawl waits for the writer


@dataclass
class Written:
    """What storing one batch did: the upsert's result, and the items dropped per source (no
    usable title)."""

    result: UpsertResult
    dropped: dict[str, int] = field(default_factory=dict)


def write_batch(
    store: Store,
    articles: Sequence[Article],
    pages: Sequence[Any],
    now: datetime,
    sources: Mapping[str, Source],
    tagger: Tagger | None,
) -> Written:
    """Normalise and store a batch of extracted articles, then the pages that listed them."""
    rows: list[dict[str, Any]] = []
    dropped: dict[str, int] = {}
    for article in articles:
        row = normalize(article, sources.get(article.source), now)
        if row is None:
            dropped[article.source] = dropped.get(article.source, 0) + 1
        else:
            rows.append(row)
    result = store.upsert_articles(rows, now, tagger=tagger)
    store.save_pages(pages, now)
    return Written(result, dropped)


class WriterFailed(Exception):
    """A batch failed in the writer process with an error that is not about the file."""


class StoreWriter:
    """Sends the pipeline's batches to the writer process and collects what they did."""

    def __init__(
        self,
        path: str,
        taxonomy_file: Path | None,
        sources: Sequence[Source],
        *,
        depth: int = DEPTH,
    ) -> None:
        """``taxonomy_file``: the topics file the crawl read (resolved), or None for none."""
        self.path = path
        setup = {
            "taxonomy_file": str(taxonomy_file.resolve()) if taxonomy_file else None,
            "sources": list(sources),
        }
        self.worker = Worker("aggregator.storewriter", path)
        self.sent = 0
        self.answered = 0
        self._outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._done: queue.SimpleQueue[Written | BaseException] = queue.SimpleQueue()
        self._closed = False
        self._sender = threading.Thread(target=self._send, name="newsagg-store-send", daemon=True)
        self._reader = threading.Thread(target=self._read, name="newsagg-store-read", daemon=True)
        self._outbox.put(encode(setup))
        self._sender.start()
        self._reader.start()

    def submit(
        self, articles: Sequence[Article], pages: Sequence[Any], now: datetime
    ) -> list[Written | BaseException]:
        """Send a batch (waits while ``depth`` are waiting); returns what is done so far."""
        if (articles or pages) and not self._closed:
            self.sent += 1
            self._outbox.put(encode((list(articles), list(pages), now)))
        return self.results()

    def results(self) -> list[Written | BaseException]:
        """What the batches written since the last call did, in order: a result, or the error
        a batch raised (for the caller to raise once it has counted the others)."""
        ready: list[Written | BaseException] = []
        while True:
            try:
                ready.append(self._done.get_nowait())
            except queue.Empty:
                return ready

    def close(self) -> list[Written | BaseException]:
        """Write what is queued, wait for the process and return what is left of
        :meth:`results`."""
        if not self._closed:
            self._closed = True
            code = self._stop()
            if self.answered < self.sent:
                self._done.put(
                    StoreError(
                        f"{self.path}: the writer process stopped (exit status {code}) with "
                        f"{self.sent - self.answered} batch(es) not written"
                    )
                )
        return self.results()

    def abandon(self) -> None:
        """Stop at once (the crawl failed): what is not yet written is not written."""
        if self._closed:
            return
        self._closed = True
        self.worker.kill()
        self._stop()
        self.results()  # dropped: the crawl has failed already

    def _stop(self) -> int:
        """End the input, wait for both threads and the process; its exit status."""
        self._outbox.put(None)
        self._sender.join()
        self._reader.join()
        return self.worker.wait()

    def _send(self) -> None:
        while (message := self._outbox.get()) is not None:
            if not self.worker.write(message):
                # The process is gone; the reader reports it. Drain so that submit never blocks.
                while self._outbox.get() is not None:
                    pass
                break
        self.worker.end_input()

    def _read(self) -> None:
        while (message := self.worker.receive()) is not None:
            self.answered += 1
            kind, value = message
            if kind == "ok":
                self._done.put(value)
            elif kind == "store_error":
                self._done.put(StoreError(value))
            else:
                self._done.put(WriterFailed(value))


def work(stdin: IO[bytes], stdout: IO[bytes], path: str) -> None:
    """The writer's loop: the sources first, then each batch, answered with what it did or
    with its error."""
    setup = receive(stdin)
    if setup is None:
        return
    sources = {source.name: source for source in setup["sources"]}
    taxonomy = load_taxonomy(setup["taxonomy_file"])
    tagger = source_tagger(taxonomy, {name: s.topics for name, s in sources.items()})
    try:
        store = Store(path)
    except StoreError as exc:  # the file cannot be used: every batch fails with this
        while receive(stdin) is not None:
            send(stdout, ("store_error", str(exc)))
        return
    failed, failed_message = False, ""
    with store:
        while (message := receive(stdin)) is not None:
            articles, pages, now = message
            if failed:  # after a StoreError nothing more is written
                answer: tuple[str, Any] = ("store_error", failed_message)
            else:
                try:
                    answer = ("ok", write_batch(store, articles, pages, now, sources, tagger))
                except StoreError as exc:
                    failed, failed_message = True, str(exc)
                    answer = ("store_error", failed_message)
                except Exception as exc:  # a batch's own failure: reported, the next one goes on
                    answer = ("error", f"storing a batch failed: {type(exc).__name__}: {exc}")
            send(stdout, answer)


def main() -> int:
    messages, answers = child_streams()
    try:
        work(messages, answers, sys.argv[1])
    except (BrokenPipeError, KeyboardInterrupt):  # the crawl is gone
        return 1
    return 0


if __name__ == "__main__":
    # Run the imported module's main, so that what it pickles (Written, UpsertResult) is named
    # aggregator.storewriter.Written, not __main__.Written.
    from aggregator import storewriter

    sys.exit(storewriter.main())
