"""Storing beside the crawl: the pipeline's batches are written by a process of their own.

The crawl runs in one thread (Twisted's reactor) and is CPU-bound. Writing a batch costs about
as much again per article (topics, eleven index updates and two triggers a row, search terms,
FTS5 inserts and segment writes at ``COMMIT``), so the batches go to a writer process
(``python -m aggregator.storewriter DB OPTIONS``) with its own connection to the same SQLite file
(WAL), and the reactor goes on parsing pages on the other core, as clustering does
(:mod:`aggregator.clusterer`).

- Order is kept: the process takes the batches first in, first out, each in one transaction
  (:meth:`aggregator.store.Store.upsert_articles`, then :meth:`~aggregator.store.Store.save_pages`
  for the pages whose articles those were), exactly as the pipeline did in process.
- What each batch did (an :class:`~aggregator.store.UpsertResult`) comes back to the reactor's
  thread (:meth:`StoreWriter.results`), which counts it and hands the new ids to clustering:
  they are committed by then. ``newsagg query`` finds a batch's articles once it is committed.
- A failed batch is reported in the reactor's thread, at the next call, by its error (a
  :class:`~aggregator.errors.StoreError` for the database file: disk full, read-only, corrupt;
  the process then writes nothing more). A writer process that dies is a ``StoreError`` too.
- At most ``depth`` batches wait to be sent, so a slow disk slows the crawl instead of filling
  memory. ``kill -9`` of the crawl: what was committed stays committed; the writer finishes the
  batch it holds and exits at the end of its input; batches not yet sent are lost, as an
  unflushed batch always was.

Messages are pickled (rows of plain values, :class:`~aggregator.items.PageSeen` records) over
the process's stdin and stdout, between two processes of this program.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from aggregator.errors import StoreError
from aggregator.store import Store, Tagger, UpsertResult
from aggregator.topics import Taxonomy, load_taxonomy

DEPTH = 4  # batches waiting to be sent at most before the crawl waits for the writer


def source_tagger(taxonomy: Taxonomy, source_topics: Mapping[str, Sequence[str]]) -> Tagger:
    """Topics at ingest: a row's source's topics ∪ the taxonomy's matches."""

    def tag(row: Mapping[str, Any]) -> list[str]:
        return taxonomy.tag(row, source_topics.get(row["source"], ()))

    return tag


class WriterFailed(Exception):
    """A batch failed in the writer process with an error that is not about the file."""


class StoreWriter:
    """Sends the pipeline's batches to the writer process and collects what they did."""

    def __init__(
        self,
        path: str,
        taxonomy_file: Path | None,
        source_topics: Mapping[str, Sequence[str]],
        *,
        depth: int = DEPTH,
    ) -> None:
        """``taxonomy_file``: the topics file the crawl read (resolved), or None for none."""
        self.path = path
        options = {
            "taxonomy_file": str(taxonomy_file.resolve()) if taxonomy_file else None,
            "source_topics": {name: list(topics) for name, topics in source_topics.items()},
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aggregator.storewriter", path, json.dumps(options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.sent = 0
        self.answered = 0
        self._outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._done: queue.SimpleQueue[UpsertResult | BaseException] = queue.SimpleQueue()
        self._closed = False
        self._sender = threading.Thread(target=self._send, name="newsagg-store-send", daemon=True)
        self._reader = threading.Thread(target=self._read, name="newsagg-store-read", daemon=True)
        self._sender.start()
        self._reader.start()

    def submit(
        self, rows: Sequence[dict[str, Any]], pages: Sequence[Any], now: datetime
    ) -> list[UpsertResult | BaseException]:
        """Send a batch (waits while ``depth`` are waiting); returns what is done so far."""
        if (rows or pages) and not self._closed:
            self.sent += 1
            self._outbox.put(pickle.dumps((list(rows), list(pages), now), pickle.HIGHEST_PROTOCOL))
        return self.results()

    def results(self) -> list[UpsertResult | BaseException]:
        """What the batches written since the last call did, in order: a result, or the error
        a batch raised (for the caller to raise once it has counted the others)."""
        ready: list[UpsertResult | BaseException] = []
        while True:
            try:
                ready.append(self._done.get_nowait())
            except queue.Empty:
                return ready

    def close(self) -> list[UpsertResult | BaseException]:
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
        self.process.kill()
        self._stop()
        self.results()  # dropped: the crawl has failed already

    def _stop(self) -> int:
        """End the input, wait for both threads and the process; its exit status."""
        self._outbox.put(None)
        self._sender.join()
        self._reader.join()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.wait()

    def _send(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            while (message := self._outbox.get()) is not None:
                stdin.write(len(message).to_bytes(8, "big") + message)
                stdin.flush()
        except (BrokenPipeError, OSError):
            # The process is gone; the reader reports it. Drain so that submit never blocks.
            while self._outbox.get() is not None:
                pass
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while (message := _receive(stdout)) is not None:
            self.answered += 1
            kind, value = message
            if kind == "ok":
                self._done.put(value)
            elif kind == "store_error":
                self._done.put(StoreError(value))
            else:
                self._done.put(WriterFailed(value))


def _receive(stream: IO[bytes]) -> Any:
    """One message, or None at the end of the stream (a partial message is the end too)."""
    header = stream.read(8)
    if len(header) < 8:
        return None
    size = int.from_bytes(header, "big")
    body = stream.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)


def work(path: str, tagger: Tagger, stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The writer's loop: store each batch and answer with its result or its error."""
    failed, failed_message = False, ""
    with Store(path) as store:
        while (message := _receive(stdin)) is not None:
            rows, pages, now = message
            if failed:  # after a StoreError nothing more is written
                answer: tuple[str, Any] = ("store_error", failed_message)
            else:
                try:
                    result = store.upsert_articles(rows, now, tagger=tagger)
                    store.save_pages(pages, now)
                    answer = ("ok", result)
                except StoreError as exc:
                    failed, failed_message = True, str(exc)
                    answer = ("store_error", failed_message)
                except Exception as exc:  # a batch's own failure: reported, the next one goes on
                    answer = ("error", f"storing a batch failed: {type(exc).__name__}: {exc}")
            body = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
            stdout.write(len(body).to_bytes(8, "big") + body)
            stdout.flush()


def main() -> int:
    path, options = sys.argv[1], json.loads(sys.argv[2])
    # The answers go to the real stdout; anything else printed goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr
    taxonomy = load_taxonomy(options["taxonomy_file"])
    tagger = source_tagger(taxonomy, options["source_topics"])
    try:
        work(path, tagger, sys.stdin.buffer, answers)
    except StoreError as exc:  # the file could not be opened: every batch fails with this
        body = pickle.dumps(("store_error", str(exc)), pickle.HIGHEST_PROTOCOL)
        try:
            while _receive(sys.stdin.buffer) is not None:
                answers.write(len(body).to_bytes(8, "big") + body)
                answers.flush()
        except OSError:
            pass
        return 1
    except (BrokenPipeError, KeyboardInterrupt):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
