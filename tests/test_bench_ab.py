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


def test_a_size_below_one_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "bench/dedupe_ab.py", ".", ".", "--size", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "argument --size: must be 1 or more, not 0" in done.stderr


def test_a_tree_whose_worker_stops_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    (broken / "aggregator").mkdir(parents=True)
    (broken / "bench").mkdir()
    (broken / "aggregator" / "__init__.py").write_text("")
    (broken / "aggregator" / "store.py").write_text("raise ImportError('a broken tree (test)')\n")
    (broken / "bench" / "dedupe.py").write_text("")
    done = subprocess.run(
        [sys.executable, "bench/dedupe_ab.py", ".", str(broken), "--size", "4000"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1
    assert "a broken tree (test)" in done.stderr  # the worker's own traceback
    assert f"{broken}: its clustering worker stopped (exit 1), see above" in done.stderr
    assert "Traceback" not in done.stderr.split("a broken tree (test)")[-1]  # no second one
