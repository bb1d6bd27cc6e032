"""Story clustering beside the crawl: new article ids go to a worker process, which puts them into
stories (:meth:`aggregator.store.Store.assign_stories`) while the crawler goes on fetching.

The crawl runs in one thread (Twisted's reactor); clustering is CPU work that would otherwise
stop it. The worker (``python -m aggregator.clusterer DB OPTIONS``) has its own connection to the
same SQLite file (WAL: it reads while the crawl writes; it holds the write lock only to write a
batch's results). It takes one message of ids per batch (:mod:`aggregator.worker`) and, at the
end of its input, answers with what it did. ``finish()`` waits for it and clusters in process
whatever it did not do (it died, or could not start), so no article is left out. Without a worker
(``NEWSAGG_DEDUPE_WORKER = False``, or an in-memory database) everything is clustered in process,
at ``submit`` time.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import IO, Any

from aggregator.dedupe import ClusterStats, DedupeOptions
from aggregator.errors import StoreError
from aggregator.store import Store
from aggregator.worker import Worker, child_streams, peak_mb, receive, send

# How long finish() waits for the worker to drain its input before clustering the rest itself.
FINISH_TIMEOUT_S = 600.0
_COUNTS = ("articles", "joined", "candidates", "rejected", "capped", "seconds")


def work(db_path: str, options: DedupeOptions, messages: IO[bytes], out: IO[bytes]) -> None:
    """The worker's loop: cluster each message's ids; at the end, report stats and peak memory."""
    stats = ClusterStats()
    with Store(db_path) as store:
        while (ids := receive(messages)) is not None:
            if ids:
                stats.add(store.assign_stories(ids, options))
    send(out, stats.to_dict() | {"worker_peak_mb": peak_mb()})


class Clusterer:
    """Feeds new articles to the clustering worker (or clusters them in process)."""

    def __init__(self, store: Store, options: DedupeOptions, *, worker: bool = True) -> None:
        self.store = store
        self.options = options
        self.stats = ClusterStats()
        self.submitted: list[int] = []
        self.worker_report: dict[str, Any] = {}
        self.worker: Worker | None = None
        if not options.enabled:
            return
        # Articles an earlier, interrupted run stored without clustering them go first.
        backlog = store.unclustered()
        if worker and store.path != ":memory:":
            with contextlib.suppress(OSError):  # cannot start: everything is clustered here
                options_json = json.dumps(asdict(options))
                self.worker = Worker("aggregator.clusterer", store.path, options_json)
        if backlog:
            self.submit(backlog)

    def submit(self, ids: Sequence[int]) -> None:
        """Cluster these newly stored (committed) articles, soon."""
        if not ids or not self.options.enabled:
            return
        self.submitted.extend(ids)
        if self.worker is not None and self.worker.alive() and self.worker.send(list(ids)):
            return
        # No worker, or it is gone: cluster here (finish() clusters what the worker did not).
        self.stats.add(self.store.assign_stories(ids, self.options))

    def finish(self) -> dict[str, Any]:
        """Wait for the worker; cluster what it left; return what clustering did."""
        if self.worker is not None:
            answers, _status = self.worker.finish(FINISH_TIMEOUT_S)
            if answers and isinstance(answers[-1], dict):
                self.worker_report = answers[-1]
            if self.worker_report.get("database"):
                # The database failed the worker (full, read-only, corrupt): it is the crawl's
                # error too, as it would have been without a worker.
                raise StoreError(self.worker_report["worker_error"])
            for name in _COUNTS:
                value = getattr(self.stats, name) + self.worker_report.get(name, 0)
                setattr(self.stats, name, value)
            left = self.store.unclustered(self.submitted)
            if left:
                self.stats.add(self.store.assign_stories(left, self.options))
        report: dict[str, Any] = self.stats.to_dict()
        report["worker"] = self.worker is not None
        for name in ("worker_peak_mb", "worker_error"):
            if name in self.worker_report:
                report[name] = self.worker_report[name]
        return report


def main() -> int:
    """The worker process: errors (a full disk...) are reported as its answer, never as a
    traceback; the crawl's process then clusters what was left, or reports the error itself."""
    messages, answers = child_streams()
    try:
        work(sys.argv[1], DedupeOptions(**json.loads(sys.argv[2])), messages, answers)
    except Exception as exc:  # any failure: the parent process takes over
        database = isinstance(exc, StoreError | sqlite3.DatabaseError)
        if isinstance(exc, StoreError):
            message = str(exc)
        elif database:
            message = f"{sys.argv[1]}: cannot write to the database: {exc}"
        else:
            message = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(OSError):  # the crawl is gone
            send(answers, {"worker_error": message, "database": database})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
