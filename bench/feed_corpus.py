"""Run feed ingestion over a folder of real feeds and compare entry counts with feedparser's.

Usage: python bench/feed_corpus.py /work/shared/corpus/feeds [--verbose]

For every ``*.xml`` / ``*.json`` feed file (``*.expected.json`` sidecars excluded, but their
``http_headers`` are passed on as the response headers), it runs
:func:`aggregator.feeds.parse_feed`, normalisation and the store's upsert (into one in-memory
database, a source per file), and a bare ``feedparser.parse``. It prints the number of files
tried, crashes (any exception other than ``NotAFeed``), files our parser refused, articles
stored, and the share whose entry count equals feedparser's. Nothing is written to disk; the
corpus is not needed by the tests.
"""

from __future__ import annotations

import io
import json
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aggregator.feeds import NotAFeed, parse_feed  # noqa: E402
from aggregator.normalize import normalize  # noqa: E402
from aggregator.store import Store  # noqa: E402

NOW = datetime(2026, 2, 25, 3, 0, tzinfo=UTC)


def feed_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.endswith(".expected.json"):
            continue
        if path.suffix in (".xml", ".json", ".rss", ".atom", ".rdf"):
            files.append(path)
    return files


def headers_for(path: Path) -> dict[str, str]:
    sidecar = path.with_name(path.name + ".expected.json")
    if sidecar.is_file():
        try:
            given = json.loads(sidecar.read_text())["http_headers"] or {}
            return {k.lower(): v for k, v in given.items()}
        except (ValueError, KeyError, AttributeError):
            return {}
    return {}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    root = Path(argv[0])
    verbose = "--verbose" in argv
    tried = crashes = refused = equal = accounted = stored = 0
    store = Store(":memory:")
    unequal: list[str] = []
    for path in feed_files(root):
        body = path.read_bytes()
        headers = headers_for(path)
        url = "http://127.0.0.1/" + path.relative_to(root).as_posix()
        tried += 1
        bare = feedparser.parse(
            io.BytesIO(body), response_headers={"content-location": url, **headers}
        )
        expected = len(bare.entries) if bare.get("version") else 0
        skipped = 0
        try:
            feed = parse_feed(
                body,
                url,
                source="corpus",
                tz=ZoneInfo("Asia/Shanghai"),
                now=NOW,
                content_type=headers.get("content-type"),
            )
            source = f"corpus{tried}"
            for item in feed.items:
                item.source = source
            rows = [normalize(item, None, NOW) for item in feed.items]
            stored += store.upsert_articles([r for r in rows if r], NOW).new
            got = len(feed.items)
            skipped = feed.skipped
        except NotAFeed as exc:
            refused += 1
            got = 0
            if verbose:
                print(f"refused  {path.relative_to(root)}: {exc}")
        except Exception:
            crashes += 1
            print(f"CRASH    {path.relative_to(root)}")
            traceback.print_exc()
            continue
        else:
            if any(r is None for r in rows):
                got -= sum(r is None for r in rows)
        if got == expected:
            equal += 1
        else:
            unequal.append(
                f"{path.relative_to(root)}: ours {got}, feedparser {expected}, "
                f"left out as truly empty {skipped}"
            )
        accounted += got + skipped == expected
    for line in unequal:
        print("differs ", line)
    share = 100.0 * equal / tried if tried else 0.0
    print(
        f"feeds tried: {tried}; crashes: {crashes}; refused as not a feed: {refused}; "
        f"articles stored: {stored}; "
        f"entry count equal to feedparser's: {equal}/{tried} ({share:.1f}%); "
        f"equal once empty entries left out are counted: {accounted}/{tried} "
        f"({100.0 * accounted / tried if tried else 0.0:.1f}%)"
    )
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
