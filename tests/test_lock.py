"""One run at a time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.errors import LockedError
from aggregator.lock import run_lock


def test_second_holder_is_refused_at_once(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    with run_lock(db) as path:
        assert path == tmp_path / "news.db.lock"
        with pytest.raises(LockedError, match="another run is in progress"), run_lock(db):
            pass
    with run_lock(db):  # released on exit
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from aggregator.lock import run_lock\n"
            f"with run_lock({str(db)!r}):\n    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout and holder.stdout.readline().strip() == "held"
    with pytest.raises(LockedError, match=str(holder.pid)), run_lock(db):
        pass
    holder.kill()
    holder.wait()
    holder.stdout.close()
    with run_lock(db):
        pass
