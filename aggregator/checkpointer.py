"""Checkpoints off the clustering path: a thread folds the WAL back into the database file while
the clustering connection goes on planning its next batch.

In WAL mode every commit appends pages to the ``-wal`` file; a *checkpoint* copies them back into
the main file so the WAL can start again from its beginning. By default the connection that
commits past ``wal_autocheckpoint`` pages runs that checkpoint inside its ``COMMIT``, on the
clustering path. SQLite's documentation suggests the alternative used here: turn the automatic
checkpoint (mostly) off on the writer and run ``PRAGMA wal_checkpoint(PASSIVE)`` from another
thread with its own connection. Python's :mod:`sqlite3` releases the GIL while SQLite works, so
the copy overlaps the next batch's fingerprinting and verification.

- **PASSIVE only.** A passive checkpoint copies what no reader still needs and never waits for,
  or locks out, a writer: the crawl's own writer and the clustering writer go on committing.
- **The WAL stays bounded.** The owner keeps an automatic checkpoint on its writer at a higher
  fallback value (:data:`aggregator.store.CLUSTER_WAL_FALLBACK_PAGES`): should this thread fall
  behind (or a long reader hold it back), the writer checkpoints itself, as it did before.
- **Errors are never lost.** A failed checkpoint is logged; the thread then stops, and the owner
  (told by :meth:`reading` returning False) goes back to ordinary automatic checkpoints.
- **Stopping.** :meth:`stop` (the store's ``close``, or interpreter exit) wakes the thread, which
  ends after at most the checkpoint it is running, closes its connection and is joined with a
  timeout. A killed process loses nothing: a checkpoint only copies committed pages, and SQLite
  replays whatever the WAL still holds on the next open.
"""

from __future__ import annotations

import atexit
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 30.0  # how long stop() waits for a running checkpoint to end
# The pauses between a checkpoint and its follow-ups (see _run).
FOLLOW_UP_PAUSES_S = (0.02, 0.05, 0.1, 0.2, 0.4)


@dataclass
class CheckpointStats:
    """What the thread did: checkpoints run, WAL frames copied, the thread's CPU seconds."""

    checkpoints: int = 0
    frames: int = 0  # the copied frames each checkpoint reported, summed
    busy: int = 0  # checkpoints that could not copy everything (a reader or writer was ahead)
    cpu_s: float = 0.0


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on ``path`` in a daemon thread, when the owner
    starts reading (:meth:`reading`) and at least ``every`` units of work (the owner counts
    articles clustered) were committed since the last one. The thread starts with the first
    :meth:`wrote`."""

    def __init__(self, path: str, every: int) -> None:
        self.path = path
        self.every = every
        self.stats = CheckpointStats()
        self.error: BaseException | None = None
        self._pending = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wrote(self, units: int) -> None:
        """Count work just committed (the thread starts with the first)."""
        if self._thread is None and not self._stop.is_set() and self.error is None:
            self._thread = threading.Thread(
                target=self._run, name="newsagg-checkpoint", daemon=True
            )
            self._thread.start()
            atexit.register(self.stop)
        self._pending += units

    def reading(self) -> bool:
        """The owner starts a stretch of reading and computing (its next batch): wake the
        thread if a checkpoint is due, so that it overlaps that stretch and, ideally, finds
        no commit arriving while it copies. False once the thread has failed (the owner then
        checkpoints itself)."""
        if self.error is not None:
            return False
        if self._pending >= self.every and self._thread is not None:
            self._pending = 0
            self._wake.set()
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """End the thread and wait for it (at most ``timeout`` seconds). Idempotent."""
        self._stop.set()
        atexit.unregister(self.stop)
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._wake.set()
        thread.join(timeout)
        if thread.is_alive():
            log.warning("%s: the checkpoint thread did not stop within %.0f s", self.path, timeout)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stop.is_set():
                    return
                # The WAL starts again from its beginning only at a write that finds it wholly
                # copied; a writer that committed during the copy left new frames. So follow up
                # (cheap: only new frames, or none) until a check finds nothing added since the
                # previous one, or the pauses run out.
                last = -1
                for pause in FOLLOW_UP_PAUSES_S:
                    frames = self._checkpoint(conn)
                    if (frames is not None and frames == last) or self._stop.wait(pause):
                        break
                    last = frames
        except Exception as exc:  # any failure: logged, and the owner checkpoints itself
            self.error = exc
            log.error(
                "%s: background checkpoint failed (%s: %s); checkpointing on commit instead",
                self.path,
                type(exc).__name__,
                exc,
            )
        finally:
            if conn is not None:
                conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> int | None:
        """One passive checkpoint: the WAL's frames when it copied them all, else None."""
        started = time.thread_time()
        busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.stats.cpu_s += time.thread_time() - started
        self.stats.checkpoints += 1
        self.stats.frames += max(copied, 0)
        if busy or copied != frames:
            self.stats.busy += 1
            return None
        return int(frames)
