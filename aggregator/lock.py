"""One run at a time: an advisory lock file beside the database (safe for overlapping cron runs)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aggregator.errors import LockedError


@contextmanager
def run_lock(db_path: str | Path) -> Iterator[Path]:
    """Hold ``<db>.lock`` for the duration; raise :class:`LockedError` at once if it is held.

    The kernel drops the lock when the process dies, so a killed run never leaves it stale.
    """
    path = Path(f"{db_path}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "another process"
            raise LockedError(
                f"{path} is held by pid {holder}: another run is in progress"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield path
    finally:
        os.close(fd)
