"""bench/dedupe_ab.py: two code trees' clustering in lockstep (run here on this tree twice)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_same_tree_twice_gives_the_same_stories(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "bench/dedupe_ab.py", ".", str(ROOT), "--size", "4000"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len([line for line in lines if "CPU µs an article" in line]) == 2
    assert lines[-2].startswith("second / first: ") and lines[-1] == "stories: the same"
    ratio = float(lines[-2].split()[3])
    assert 0.2 < ratio < 5


def test_a_directory_without_the_code_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "bench/dedupe_ab.py", ".", str(tmp_path), "--size", "4000"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"{tmp_path}: no aggregator/store.py there" in done.stderr
