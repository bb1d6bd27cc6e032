"""Shared fixtures: databases, the loopback site farm, and a runner for crawling commands."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.sitefarm import SiteFarm
from aggregator.store import Store

ROOT = Path(__file__).resolve().parents[1]
SITES = ROOT / "tests" / "sites"
NOW = datetime(2026, 2, 25, 3, 0, tzinfo=UTC)


@pytest.fixture
def db() -> Iterator[Store]:
    store = Store(":memory:")
    yield store
    store.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "news.db"


@pytest.fixture(scope="session")
def farm() -> Iterator[SiteFarm]:
    """The tests' web (tests/sites/) on 127.0.0.1."""
    with SiteFarm(SITES) as site_farm:
        yield site_farm


@pytest.fixture
def sources_file(farm: SiteFarm, tmp_path: Path) -> Path:
    """tests/sites/sources.toml with ``{farm}`` pointing at the running farm."""
    path = tmp_path / "sources.toml"
    path.write_text(
        (SITES / "sources.toml").read_text("utf-8").replace("{farm}", farm.url), "utf-8"
    )
    return path


def run_newsagg(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m aggregator ARGS`` in a subprocess (crawls need a fresh reactor)."""
    # The caller's own NEWSAGG_* must not leak into a test; a test passes what it means.
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSAGG_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "aggregator", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
