"""``newsagg demo``: serve the bundled offline sites on 127.0.0.1, crawl them, export the feeds."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from aggregator.config import load_sources
from aggregator.crawl import crawl
from aggregator.errors import ConfigError
from aggregator.export import ExportResult, export_feeds
from aggregator.runstats import RunStats
from aggregator.sitefarm import SiteFarm
from aggregator.store import Store
from aggregator.topics import load_taxonomy, resolve_topics_path

PLACEHOLDER = "{farm}"
# A stable port keeps the demo's article URLs (and so their identity) the same from one demo run
# to the next; when it is taken, any free port will do.
PREFERRED_PORT = 8642
# The demo's sites are served from a loopback port; AutoThrottle's start delay would only slow it.
DEMO_SETTINGS = {"AUTOTHROTTLE_START_DELAY": 0.0, "AUTOTHROTTLE_TARGET_CONCURRENCY": 4.0}


@dataclass
class DemoResult:
    farm_url: str
    run: RunStats
    export: ExportResult
    db_path: Path
    articles: int


def find_demo_dir() -> Path:
    """``./data/demo``, else the one beside the package (a source checkout)."""
    for candidate in (
        Path.cwd() / "data" / "demo",
        Path(__file__).resolve().parents[1] / "data" / "demo",
    ):
        if (candidate / "sources.toml").is_file():
            return candidate
    raise ConfigError("demo sites not found: run `newsagg demo` from the repository root")


def sources_for_farm(template: Path, farm_url: str, into: Path) -> Path:
    """Write ``template`` with every ``{farm}`` replaced by the server's base URL."""
    text = template.read_text("utf-8").replace(PLACEHOLDER, farm_url)
    into.write_text(text, "utf-8")
    return into


def run_demo(
    db_path: Path, demo_dir: Path | None = None, base_url: str | None = None
) -> DemoResult:
    """Serve, crawl, export and stop the server. The feeds go to ``feeds/`` beside the database."""
    demo_dir = demo_dir or find_demo_dir()
    try:
        farm = SiteFarm(demo_dir, port=PREFERRED_PORT)
    except OSError:
        farm = SiteFarm(demo_dir)
    with farm, tempfile.TemporaryDirectory() as tmp:
        sources = load_sources(
            sources_for_farm(demo_dir / "sources.toml", farm.url, Path(tmp) / "sources.toml")
        )
        run = crawl(sources, db_path, settings=DEMO_SETTINGS)
    with Store(db_path) as store:
        exported = export_feeds(
            store,
            db_path.parent / "feeds",
            base_url=base_url or "http://localhost:8080/",
            taxonomy=load_taxonomy(resolve_topics_path(None)),
        )
        count = store.count_articles()
    return DemoResult(farm_url=farm.url, run=run, export=exported, db_path=db_path, articles=count)
