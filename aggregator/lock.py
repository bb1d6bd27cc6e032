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


def lock_holder(db_path: str | Path) -> str | None:
    """The pid written by the run holding ``<db>.lock``, or None when no run holds it.

    It only tests the lock (and releases it at once); a lock file left by a killed run is not
    held, since the kernel dropped the lock with the process."""
    path = Path(f"{db_path}.lock")
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
