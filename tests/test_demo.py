"""`newsagg demo`: the bundled sites, crawled and exported, end to end."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import ROOT, run_newsagg
from tests.feedcheck import validate_rss


def test_demo_crawls_stores_exports_and_says_where(tmp_path: Path) -> None:
    db = tmp_path / "data" / "news.db"
    result = run_newsagg("--db", str(db), "demo", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Served the demo sites at http://127.0.0.1:" in out
    assert f"Database: {db}" in out
    assert f"Feeds:    {tmp_path / 'data' / 'feeds'}/" in out
    assert out.strip().splitlines()[-1].startswith("4 sources, 60 new, 0 updated, 0 failed; ")
    conn = sqlite3.connect(db)
    per_source = dict(conn.execute("SELECT source, count(*) FROM articles GROUP BY source"))
    assert per_source == {"guangfu_hot": 20, "nengyuan_news": 20, "eia_today": 12, "pvmag": 8}
    # the sidebar's cut headlines were completed from the article pages
    cut = conn.execute(
        "SELECT count(*) FROM articles WHERE title LIKE '%...' OR title LIKE '%…'"
    ).fetchone()[0]
    assert cut == 0
    assert (
        conn.execute(
            "SELECT count(*) FROM articles"
            " WHERE source = 'guangfu_hot' AND published_from = 'article'"
        ).fetchone()[0]
        == 20
    )
    # tracking parameters are not part of any canonical URL
    assert (
        conn.execute(
            "SELECT count(*) FROM articles"
            " WHERE canonical_url LIKE '%utm_%' OR canonical_url LIKE '%spm=%'"
        ).fetchone()[0]
        == 0
    )
    conn.close()
    feeds = tmp_path / "data" / "feeds"
    assert (feeds / "all.xml").is_file()
    assert (feeds / "sources" / "guangfu_hot.xml").is_file()
    assert (feeds / "topics" / "solar.xml").is_file()
    # the demo's articles are from February 2026: the digests show their newest days anyway
    daily = (feeds / "digest-daily.xml").read_text("utf-8")
    assert daily.count("<item>") == 7
    assert "digest-daily:2026-02-27</guid>" in daily
    assert "digest-weekly:2026-02-23</guid>" in (feeds / "digest-weekly.xml").read_text("utf-8")
    for path in feeds.rglob("*.xml"):
        location = "http://localhost:8080/" + str(path.relative_to(feeds))
        assert validate_rss(path.read_bytes(), location) == [], path

    again = run_newsagg("--db", str(db), "demo", cwd=tmp_path)  # from another directory too
    assert again.returncode == 0, again.stderr
    assert "0 new" in again.stdout.splitlines()[-1]
    # every feed, feeds.opml and index.html (not the export's hidden state file)
    feeds_total = sum(1 for p in feeds.rglob("*") if p.is_file() and p.name[0] != ".")
    assert again.stdout.strip().endswith(f"0 written, {feeds_total} unchanged")
