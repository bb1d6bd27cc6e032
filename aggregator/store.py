"""The SQLite file: the only module that touches it.

Column names are an interface: queries, Datasette and users' own code rely on them. Writes go in
batches, each in a ``BEGIN IMMEDIATE`` transaction (so a busy database waits ``busy_timeout``
instead of failing half-way); the file is in WAL mode so readers never block the crawler.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import textwrap
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import sqlite_utils

from aggregator.checkpointer import Checkpointer
from aggregator.dates import to_utc_string, utc_now
from aggregator.dedupe import (
    GROUP_SHIFT,
    GROUP_SLOT_SHIFT,
    LAST_GROUP,
    SLOT_LIMIT,
    SLOT_SHIFT,
    BatchResult,
    Buckets,
    ClusterStats,
    DedupeOptions,
    Filing,
    Fingerprint,
    GroupRow,
    Member,
    PartRow,
    RecentAttributes,
    _fill_numbers,
    apply_filing,
    batch_keys,
    cluster_batch,
    distinct,
    distinct_inverse,
    file_batch,
    file_batch_held,
    filed_keys,
    fingerprints,
    gc_paused,
    group_key_bounds,
    held_rows,
    key_groups,
    local_shortlist_batch,
    pack_groups,
    pack_part,
    prefilter,
    probe_slot_range,
    shortlist_batch,
    slot_group_bounds,
    slot_keys,
    slot_span,
    time_slots,
    timestamps,
    unpack_part,
)
from aggregator.errors import StoreError
from aggregator.querysyntax import parse_query
from aggregator.search import BM25_WEIGHTS, FTS_COLUMNS, fts_query, index_terms
from aggregator.stories import representative
from aggregator.text import CUT_MARKS, is_truncated, strip_cut_marker
from aggregator.urls import UrlRules, canonical_url, url_identity, url_variants

# Gives an article's topics from its row (title, snippet, source...): see aggregator.topics.
Tagger = Callable[[Mapping[str, Any]], list[str]]
BUSY_TIMEOUT_MS = 10_000
# What any SQLite failure raises, for the CLI's edge (which must not import sqlite3 itself).
DatabaseError = sqlite3.DatabaseError
# Errors about the database file (disk full, read-only, I/O, corruption), not about a statement.
_FILE_ERRORS = (
    "SQLITE_FULL",
    "SQLITE_IOERR",
    "SQLITE_READONLY",
    "SQLITE_CORRUPT",
    "SQLITE_CANTOPEN",
    "SQLITE_NOTADB",
)
CHUNK = 500
log = logging.getLogger(__name__)
# The page size of a new database file (SQLite's default is 4,096; an existing file keeps its
# own). A near-duplicate group row is ~2-2.5 KB, so a 4 KB page holds one or two with a third of
# it unused, and every batch rewrites a time slot's ~1,000 of them: with 16 KB pages a batch
# writes, commits and checkpoints about a fifth of the WAL frames, and `bench/dedupe.py`'s
# lookup + insert costs 3-5 µs an article less CPU (see bench/README.md), the same stories.
PAGE_SIZE = 16384

CLUSTER_CHUNK = 2000  # new articles clustered in one pass
CLUSTER_CACHE_KIB = 65536  # SQLite's page cache for a connection that clusters (default 2 MB)
# WAL pages after which a clustering connection's commit checkpoints (default 1000): a batch
# rewrites the same recent index pages, so a checkpoint every few batches copies each page once
# rather than once a batch.
CLUSTER_WAL_PAGES = 8000
# With a checkpoint thread (:mod:`aggregator.checkpointer`): it checkpoints after this many
# articles clustered, and the clustering connection's own automatic checkpoint stays on, at this
# higher value, only to bound the WAL should the thread fall behind.
CHECKPOINT_EVERY_ARTICLES = 3 * CLUSTER_CHUNK
CLUSTER_WAL_FALLBACK_PAGES = 4 * CLUSTER_WAL_PAGES
CHECKPOINT_THREAD = True  # False: checkpoints on commit only (as before; for A/B benchmarks)
_PRECISION_RANK = {None: 0, "day": 1, "minute": 2, "second": 3}

ARTICLE_COLUMNS = (
    "id",
    "url",
    "canonical_url",
    "source",
    "guid",
    "title",
    "snippet",
    "published_at",
    "published_precision",
    "published_from",
    "flags",
    "first_seen_at",
    "last_seen_at",
    "updated_at",
    "language",
    "topics",
    "story_id",
)
_UPSERT_SQL = f"""
INSERT INTO articles ({", ".join(ARTICLE_COLUMNS)})
VALUES ({", ".join(":" + c for c in ARTICLE_COLUMNS)})
ON CONFLICT(id) DO UPDATE SET
    title = excluded.title,
    snippet = excluded.snippet,
    published_at = excluded.published_at,
    published_precision = excluded.published_precision,
    published_from = excluded.published_from,
    flags = excluded.flags,
    guid = coalesce(articles.guid, excluded.guid),
    last_seen_at = excluded.last_seen_at,
    updated_at = excluded.updated_at,
    topics = excluded.topics
"""


def _migration_1(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            canonical_url TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            guid TEXT,
            title TEXT NOT NULL,
            snippet TEXT NOT NULL DEFAULT '',
            published_at TEXT,
            published_precision TEXT,
            published_from TEXT,
            flags TEXT NOT NULL DEFAULT '[]',
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            updated_at TEXT,
            language TEXT,
            topics TEXT NOT NULL DEFAULT '[]',
            story_id INTEGER NOT NULL
        )
        """
    )
    db["articles"].create_index(["source", "guid"])
    db["articles"].create_index(["published_at"])
    db["articles"].create_index(["source", "published_at"])
    db["articles"].create_index(["story_id"])
    db.execute(
        """
        CREATE TABLE sources (
            name TEXT PRIMARY KEY,
            title TEXT,
            kind TEXT,
            url TEXT,
            last_run_at TEXT,
            last_ok_at TEXT,
            last_new_at TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            consecutive_empty INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            stats TEXT NOT NULL DEFAULT '{}'
        )
        """
    )


def _migration_2(db: sqlite_utils.Database) -> None:
    """Page fingerprints: an unchanged list page or feed is not extracted again."""
    db.execute(
        """
        CREATE TABLE pages (
            url TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            article_keys TEXT NOT NULL DEFAULT '[]',
            seen_at TEXT NOT NULL
        )
        """
    )


# The search index's rowid is a sort key: the article's day (published_at, else first_seen_at;
# days since 1970, UTC) times 2**32, plus its id. "Newest first, top 20" then reads the index
# backwards and stops after 20 rows instead of sorting every match; --since is a range of rowids.
# (Days rather than minutes or seconds: consecutive keys of a term then differ by small numbers,
# which FTS5 stores in fewer bytes: 543 rather than 961 bytes an article in bench/query.py.)
KEY_SPAN = 2**32
KEY_BUCKET_SECONDS = 86400
RELEVANCE_WINDOW = 5000


def _sort_key_sql(table: str) -> str:
    return (
        f"((max(0, coalesce(CAST(strftime('%s', {table}.published_at) AS INTEGER), "
        f"CAST(strftime('%s', {table}.first_seen_at) AS INTEGER), 0)) / {KEY_BUCKET_SECONDS}) "
        f"* {KEY_SPAN} "
        f"+ {table}.id)"
    )


SEARCH_TRIGGERS = ("articles_search_insert", "articles_search_update", "articles_search_delete")


def _create_search_triggers(db: sqlite_utils.Database) -> None:
    """The triggers that queue changes for the search index (see :func:`_migration_3`)."""
    old = _sort_key_sql("OLD")
    db.execute(
        "CREATE TRIGGER articles_search_insert AFTER INSERT ON articles BEGIN "
        "INSERT INTO search_pending (id) VALUES (NEW.id); END"
    )
    db.execute(
        "CREATE TRIGGER articles_search_update "
        "AFTER UPDATE OF id, title, snippet, published_at, first_seen_at ON articles "
        "WHEN OLD.id IS NOT NEW.id OR OLD.title IS NOT NEW.title "
        "OR OLD.snippet IS NOT NEW.snippet "
        "OR coalesce(OLD.published_at, OLD.first_seen_at) "
        "IS NOT coalesce(NEW.published_at, NEW.first_seen_at) BEGIN "
        f"INSERT INTO search_pending (id, old_key, old_title, old_snippet) "
        f"VALUES (OLD.id, {old}, OLD.title, OLD.snippet); "
        "INSERT INTO search_pending (id) SELECT NEW.id WHERE NEW.id IS NOT OLD.id; END"
    )
    db.execute(
        "CREATE TRIGGER articles_search_delete AFTER DELETE ON articles BEGIN "
        f"INSERT INTO search_pending (id, old_key, old_title, old_snippet) "
        f"VALUES (OLD.id, {old}, OLD.title, OLD.snippet); END"
    )


def _migration_3(db: sqlite_utils.Database) -> None:
    """Full-text search: CJK unigram + bigram and word terms (aggregator.search) in FTS5.

    Triggers queue every change to an article's searchable text or date in ``search_pending``
    (with the old values, which a contentless FTS5 table needs to delete an entry); the store
    applies the queue in the same transaction as the write (:meth:`Store.write`). Writes made
    with other tools are applied by the next write through the store.
    """
    columns = ", ".join(FTS_COLUMNS)
    db.execute(
        f"CREATE VIRTUAL TABLE articles_fts USING fts5({columns}, content='', "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    db.execute(
        """
        CREATE TABLE search_pending (
            seq INTEGER PRIMARY KEY,
            id INTEGER NOT NULL,
            old_key INTEGER,
            old_title TEXT,
            old_snippet TEXT
        )
        """
    )
    db.execute("CREATE INDEX search_pending_id ON search_pending (id, seq)")
    _create_search_triggers(db)
    db.execute("INSERT INTO search_pending (id) SELECT id FROM articles ORDER BY id")


_NEWEST = "coalesce(published_at, first_seen_at)"


# Mirrors aggregator.stories.representative_key (uncut title, earliest published, lowest id) for
# SQL readers; tests/test_store.py checks that the two agree.
def _cut_sql(a: str) -> str:
    """True when article ``a``'s title ends with a cut marker (the shortest run of each of
    :data:`aggregator.text.CUT_MARKS`; stored titles carry no trailing space)."""
    marks = [mark * least for mark, least in CUT_MARKS.items()]
    return "(" + " OR ".join(f"{a}.title LIKE '%{mark}'" for mark in marks) + ")"


def _representative_terms(a: str, *, comparable: bool = False) -> str:
    """The representative rule's sort terms for article ``a``: an ORDER BY list, or with
    ``comparable`` a row value to compare (an undated article's NULL as "", so that the
    comparison is never NULL: undated ones already sort last by the term before)."""
    published = f"coalesce({a}.published_at, '')" if comparable else f"{a}.published_at"
    terms = f"{_cut_sql(a)}, {a}.published_at IS NULL, {published}, {a}.id"
    return f"({terms})" if comparable else terms


_CUT_SQL = _cut_sql("a")
# A story's members, its representative first (the ORDER BY of every SQL reader of that rule).
_REPRESENTATIVE_ORDER = _representative_terms("a")


def _migration_4(db: sqlite_utils.Database) -> None:
    """Indexes for the common queries and the views latest_stories, source_health, daily_counts."""
    db.execute(f"CREATE INDEX articles_newest ON articles ({_NEWEST}, id)")
    db.execute(f"CREATE INDEX articles_source_newest ON articles (source, {_NEWEST}, id)")
    db.execute(f"CREATE INDEX articles_story_newest ON articles (story_id, {_NEWEST})")
    db.execute(f"CREATE INDEX articles_day ON articles (substr({_NEWEST}, 1, 10), source)")
    db.execute("CREATE INDEX articles_first_seen ON articles (first_seen_at)")
    db.execute(
        f"""
        CREATE VIEW latest_stories AS
        WITH recent AS (
            SELECT DISTINCT story_id FROM articles
            WHERE {_NEWEST} >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-7 days')
        ),
        members AS (
            SELECT a.*,
                row_number() OVER (
                    PARTITION BY a.story_id
                    ORDER BY {_REPRESENTATIVE_ORDER}
                ) AS position,
                count(*) OVER story AS articles,
                max(coalesce(a.published_at, a.first_seen_at)) OVER story AS last_at
            FROM articles a JOIN recent ON recent.story_id = a.story_id
            WINDOW story AS (PARTITION BY a.story_id)
        )
        SELECT story_id, title, canonical_url, source, published_at, articles,
            (SELECT group_concat(source, ', ') FROM (
                SELECT DISTINCT m.source FROM articles m
                WHERE m.story_id = members.story_id ORDER BY m.source
            )) AS sources,
            last_at
        FROM members WHERE position = 1
        ORDER BY last_at DESC, story_id DESC
        """
    )
    db.execute(
        """
        CREATE VIEW source_health AS
        SELECT s.name, s.title, s.kind, s.url,
            CASE
                WHEN s.consecutive_failures > 0 THEN 'failing'
                WHEN s.last_run_at IS NULL THEN 'never run'
                ELSE 'ok'
            END AS status,
            s.consecutive_failures, s.last_error, s.last_run_at, s.last_ok_at, s.last_new_at,
            s.consecutive_empty,
            (SELECT count(*) FROM articles a WHERE a.source = s.name) AS articles
        FROM sources s
        ORDER BY s.consecutive_failures DESC, s.name
        """
    )
    db.execute(
        f"""
        CREATE VIEW daily_counts AS
        SELECT substr({_NEWEST}, 1, 10) AS day, source, count(*) AS articles
        FROM articles
        GROUP BY substr({_NEWEST}, 1, 10), source
        ORDER BY day DESC, source
        """
    )


# What a feed shows of an article: a change to one of these columns (or to a source's title)
# makes the next export render the feeds again; anything else (last_seen_at) does not.
FEED_COLUMNS = (
    "canonical_url",
    "source",
    "title",
    "snippet",
    "published_at",
    "first_seen_at",
    "language",
    "topics",
    "story_id",
)


def _migration_5(db: sqlite_utils.Database) -> None:
    """Topics as a table (``article_topics``, mirrored in ``articles.topics``) and
    ``feed_version``, a counter triggers bump on every change a feed would show, so an export with
    nothing new is skipped without rendering (the newest-first indexes come from migration 4)."""
    db.execute(
        """
        CREATE TABLE article_topics (
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            topic TEXT NOT NULL,
            PRIMARY KEY (article_id, topic)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX article_topics_topic ON article_topics(topic, article_id)")
    db.execute(
        "INSERT OR IGNORE INTO article_topics (article_id, topic) "
        "SELECT articles.id, value FROM articles, json_each(articles.topics)"
    )
    db.execute(
        "CREATE TABLE feed_version (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "version INTEGER NOT NULL)"
    )
    db.execute("INSERT INTO feed_version (id, version) VALUES (1, 0)")
    bump = "BEGIN UPDATE feed_version SET version = version + 1 WHERE id = 1; END"
    db.execute(f"CREATE TRIGGER articles_feed_insert AFTER INSERT ON articles {bump}")
    db.execute(f"CREATE TRIGGER articles_feed_delete AFTER DELETE ON articles {bump}")
    db.execute(
        f"CREATE TRIGGER articles_feed_update AFTER UPDATE OF {', '.join(FEED_COLUMNS)} "
        f"ON articles {bump}"
    )  # (schema 21 adds a condition: see _create_feed_update_trigger)
    db.execute(f"CREATE TRIGGER sources_feed_insert AFTER INSERT ON sources {bump}")
    db.execute(
        "CREATE TRIGGER sources_feed_update AFTER UPDATE OF title ON sources "
        f"WHEN old.title IS NOT new.title {bump}"
    )


def _migration_6(db: sqlite_utils.Database) -> None:
    """Cheap polling and backoff: HTTP validators per feed URL; when a failing source is due."""
    db.execute("ALTER TABLE sources ADD COLUMN failing_since TEXT")
    db.execute("ALTER TABLE sources ADD COLUMN next_attempt_at TEXT")
    db.execute(
        """
        CREATE TABLE validators (
            url TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            saved_at TEXT NOT NULL
        )
        """
    )


def _migration_7(db: sqlite_utils.Database) -> None:
    """``validators.reader``: how the feed was read (program version, source settings), so a new
    version or changed settings fetch the whole body once instead of getting a 304."""
    db.execute("ALTER TABLE validators ADD COLUMN reader TEXT")


def _migration_8(db: sqlite_utils.Database) -> None:
    """Search keys by day instead of by minute (a smaller index): new triggers, index rebuilt."""
    for name in SEARCH_TRIGGERS:
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    _create_search_triggers(db)
    _requeue_all(db.conn)


def _requeue_all(conn: sqlite3.Connection) -> None:
    """Empty the search index and queue every article (applied when the transaction commits)."""
    conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('delete-all')")
    conn.execute("DELETE FROM search_pending")
    conn.execute("INSERT INTO search_pending (id) SELECT id FROM articles ORDER BY id")


def _migration_9(db: sqlite_utils.Database) -> None:
    """Stories: the near-duplicate index (see aggregator/dedupe.py); stored articles not yet
    filed are indexed and clustered once, in id order."""
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS dedupe_index (
            key INTEGER PRIMARY KEY,
            n INTEGER NOT NULL,
            article_ids TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS dedupe_texts (
            article_id INTEGER PRIMARY KEY,
            story_id INTEGER NOT NULL,
            seen REAL,
            text TEXT NOT NULL,
            cut INTEGER NOT NULL,
            latin INTEGER NOT NULL,
            title TEXT NOT NULL
        )
        """
    )
    # The stored articles are indexed and clustered by _migration_12, on its tables.


def _migration_10(db: sqlite_utils.Database) -> None:
    """URL rules (session parameters, ``index.html``, trailing slash; http = https): every
    ``canonical_url`` recomputed, and rows that now name one article merged into the oldest.
    Nothing is lost: each merged row is kept whole, as JSON, in ``merged_articles``."""
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS merged_articles (
            id INTEGER PRIMARY KEY,
            into_id INTEGER NOT NULL,
            merged_at TEXT NOT NULL,
            row TEXT NOT NULL
        )
        """
    )
    merge_url_duplicates(db.conn)


@dataclass
class UrlRulesResult:
    """What applying URL rules did: ``renamed`` rows got another canonical URL, ``merged``
    rows were folded into the row they now collide with (kept in ``merged_articles``),
    ``stories_joined`` stories were joined to the story of the row they merged into."""

    changed: bool = False
    renamed: int = 0
    merged: int = 0
    stories_joined: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def merge_url_duplicates(
    conn: sqlite3.Connection, now: datetime | None = None, rules: UrlRules | None = None
) -> UrlRulesResult:
    """Recompute every ``canonical_url`` with :func:`aggregator.urls.canonical_url` (and the
    configured ``rules``) and merge the rows that then name one article
    (:func:`aggregator.urls.url_identity`) into the oldest (lowest id), in an open write
    transaction. A merged row's story joins the kept row's (the older story id stays), and the
    pages' article keys follow the new URLs."""
    stamp = to_utc_string(now or utc_now())
    result = UrlRulesResult(changed=True)
    groups: dict[str, list[tuple[int, str, str, int]]] = {}
    for id, url, story_id in conn.execute(
        "SELECT id, canonical_url, story_id FROM articles ORDER BY id"
    ):
        new = _recanon(url, rules)
        groups.setdefault(url_identity(new), []).append((id, url, new, story_id))
    renames: list[tuple[str, int]] = []
    key_map: dict[str, str] = {}
    joined: list[tuple[int, int]] = []
    conn.row_factory = sqlite3.Row
    try:
        for members in groups.values():
            keep_id, keep_url, keep_new, keep_story = members[0]
            for _id, url, _new, _story in members:
                key_map[url] = keep_new
            if len(members) > 1:
                ids = [m[0] for m in members]
                joined += [(keep_story, m[3]) for m in members[1:] if m[3] != keep_story]
                rows = {
                    r["id"]: dict(r)
                    for r in conn.execute(
                        f"SELECT * FROM articles WHERE id IN ({','.join('?' * len(ids))})", ids
                    )
                }
                kept = rows[keep_id]
                for other_id in ids[1:]:
                    other = rows[other_id]
                    conn.execute(
                        "INSERT OR REPLACE INTO merged_articles (id, into_id, merged_at, row) "
                        "VALUES (?, ?, ?, ?)",
                        (other_id, keep_id, stamp, json.dumps(other, ensure_ascii=False)),
                    )
                    kept = _fold(kept, other)
                    conn.execute("DELETE FROM dedupe_texts WHERE article_id = ?", (other_id,))
                    conn.execute("DELETE FROM articles WHERE id = ?", (other_id,))
                    result.merged += 1
                columns = ("title", "snippet", "published_at", "published_precision",
                           "published_from", "flags", "guid", "first_seen_at", "last_seen_at",
                           "topics")  # fmt: skip
                conn.execute(
                    f"UPDATE articles SET {', '.join(c + ' = ?' for c in columns)} WHERE id = ?",
                    [kept[c] for c in columns] + [keep_id],
                )
                topics = json.loads(kept["topics"] or "[]")
                conn.executemany(
                    "INSERT OR IGNORE INTO article_topics (article_id, topic) VALUES (?, ?)",
                    [(keep_id, topic) for topic in topics],
                )
            if keep_new != keep_url:
                renames.append((keep_new, keep_id))
    finally:
        conn.row_factory = None
    conn.executemany("UPDATE articles SET canonical_url = ? WHERE id = ?", renames)
    result.renamed = len(renames)
    result.stories_joined = _join_stories(conn, joined)
    pages = conn.execute("SELECT url, article_keys FROM pages").fetchall()
    updates = []
    for url, keys in pages:
        old_keys = json.loads(keys)
        new_keys = [key_map.get(k) or _recanon(k, rules) for k in old_keys]
        if new_keys != old_keys:
            updates.append((json.dumps(new_keys, ensure_ascii=False), url))
    conn.executemany("UPDATE pages SET article_keys = ? WHERE url = ?", updates)
    # An article page read before is remembered under its canonical URL ('followed').
    for (url,) in conn.execute("SELECT url FROM pages WHERE fingerprint = 'followed'").fetchall():
        new = _recanon(url, rules)
        if new != url:
            conn.execute("UPDATE OR IGNORE pages SET url = ? WHERE url = ?", (new, url))
            conn.execute("DELETE FROM pages WHERE url = ?", (url,))  # when the new one existed
    return result


def _recanon(key: str, rules: UrlRules | None) -> str:
    """An article key under the current URL rules (``urn:`` keys have none)."""
    return canonical_url(key, rules) if key.startswith(("http://", "https://")) else key


def _join_stories(conn: sqlite3.Connection, pairs: Sequence[tuple[int, int]]) -> int:
    """Join each pair of stories (the same article was in both) into the older story id;
    returns how many stories were joined away."""
    parent: dict[int, int] = {}

    def find(story: int) -> int:
        parent.setdefault(story, story)
        while parent[story] != story:
            story = parent[story]
        return story

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    moves = [(find(story), story) for story in parent if find(story) != story]
    conn.executemany("UPDATE articles SET story_id = ? WHERE story_id = ?", moves)
    conn.executemany("UPDATE dedupe_texts SET story_id = ? WHERE story_id = ?", moves)
    return len(moves)


def _fold(kept: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """A stored row with another stored row of the same article folded in: the better title,
    snippet and date (as for a new sighting), the union of flags and topics, the earliest
    first sighting and the latest last one."""
    sighting = dict(other)
    sighting["flags"] = json.loads(other["flags"] or "[]")
    folded = _merge(kept, sighting) or dict(kept)
    folded["topics"] = json.dumps(
        sorted(set(json.loads(kept["topics"] or "[]")) | set(json.loads(other["topics"] or "[]"))),
        ensure_ascii=False,
    )
    folded["first_seen_at"] = min(kept["first_seen_at"], other["first_seen_at"])
    folded["last_seen_at"] = max(kept["last_seen_at"], other["last_seen_at"])
    return folded


def _migration_11(db: sqlite_utils.Database) -> None:
    """``meta``: the database's own settings. ``url_rules`` records the URL rules the stored
    canonical URLs follow: the configured ones (sources.toml's ``[urls]`` and ``host_aliases``)
    with the code's version, so a change is applied once (:meth:`Store.apply_url_rules`).
    Migration 10 applied the code's rules with nothing configured."""
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('url_rules', ?)", [UrlRules().to_json()]
    )


_DEDUPE_INDEX_SQL = """
CREATE TABLE dedupe_index (
    key INTEGER PRIMARY KEY,
    n INTEGER NOT NULL,
    article_ids BLOB NOT NULL
)
"""
_DEDUPE_GROUPS_SQL = """
CREATE TABLE IF NOT EXISTS dedupe_groups (
    group_key INTEGER PRIMARY KEY,
    keys BLOB NOT NULL,
    counts BLOB NOT NULL,
    ids BLOB NOT NULL
)
"""
_INSERT_GROUP = (
    "INSERT INTO dedupe_groups (group_key, keys, counts, ids) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (group_key) DO UPDATE SET keys = excluded.keys, counts = excluded.counts, "
    "ids = excluded.ids"
)
_DEDUPE_PARTS_SQL = """
CREATE TABLE IF NOT EXISTS dedupe_parts (
    slot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    keys BLOB NOT NULL,
    lengths BLOB NOT NULL,
    taken BLOB NOT NULL,
    ids BLOB NOT NULL,
    PRIMARY KEY (slot, seq)
)
"""
_INSERT_PART = (
    "INSERT OR REPLACE INTO dedupe_parts (slot, seq, keys, lengths, taken, ids) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_DEDUPE_TEXTS_SQL = """
CREATE TABLE dedupe_texts (
    article_id INTEGER PRIMARY KEY,
    story_id INTEGER NOT NULL,
    seen REAL,
    nums INTEGER NOT NULL,
    cut INTEGER NOT NULL,
    latin INTEGER NOT NULL,
    text TEXT NOT NULL,
    title TEXT NOT NULL
)
"""


def _migration_12(db: sqlite_utils.Database) -> None:
    """A faster near-duplicate index: a bucket's ids packed as 64-bit integers (a BLOB, read and
    written as arrays rather than comma-separated text), and each clustered article's decisive-token
    bits (``dedupe_texts.nums``, :func:`aggregator.dedupe.number_bloom`) for a first check that
    needs no text. Existing buckets and texts are converted; articles not yet clustered (a file
    from before stories) are then indexed and clustered once, in id order."""
    conn = db.conn
    columns = {row[1] for row in conn.execute("PRAGMA table_info(dedupe_texts)")}
    if "nums" not in columns:
        conn.execute("ALTER TABLE dedupe_index RENAME TO dedupe_index_v10")
        conn.execute("ALTER TABLE dedupe_texts RENAME TO dedupe_texts_v10")
        conn.execute(_DEDUPE_INDEX_SQL)
        conn.execute(_DEDUPE_TEXTS_SQL)
        old = conn.execute("SELECT key, n, article_ids FROM dedupe_index_v10")
        while rows := old.fetchmany(CLUSTER_CHUNK):
            conn.executemany(
                "INSERT INTO dedupe_index (key, n, article_ids) VALUES (?, ?, ?)",
                [
                    # little-endian 64-bit ids, as schemas 12 to 17 kept them
                    (key, n, np.array(ids.split(","), dtype=np.int64).astype("<i8").tobytes())
                    for key, n, ids in rows
                ],
            )
        old = conn.execute(
            "SELECT article_id, story_id, seen, cut, latin, text, title FROM dedupe_texts_v10"
        )
        while rows := old.fetchmany(CLUSTER_CHUNK):
            conn.executemany(
                "INSERT INTO dedupe_texts (article_id, story_id, seen, nums, cut, latin, text, "
                "title) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (id, story, seen, Fingerprint(text, bool(cut), bool(latin)).bloom, cut,
                     latin, text, title)
                    for id, story, seen, cut, latin, text, title in rows
                ],
            )  # fmt: skip
        conn.execute("DROP TABLE dedupe_index_v10")
        conn.execute("DROP TABLE dedupe_texts_v10")
    conn.execute(_DEDUPE_GROUPS_SQL)  # what clustering files into (schema 19's layout)
    ids = [
        row[0]
        for row in conn.execute(
            "SELECT id FROM articles WHERE id NOT IN (SELECT article_id FROM dedupe_texts) "
            "ORDER BY id"
        )
    ]
    for chunk in _chunks(ids, CLUSTER_CHUNK):
        _assign_stories(conn, chunk, DedupeOptions())


# Indexes of migration 1 that later ones made redundant: no query uses them (EXPLAIN QUERY
# PLAN, with and without ANALYZE: articles_newest, articles_source_newest and
# articles_story_newest serve the same filters), and each costs a B-tree insert per new article.
REDUNDANT_INDEXES = (
    "idx_articles_published_at",
    "idx_articles_source_published_at",
    "idx_articles_story_id",
)


def _migration_13(db: sqlite_utils.Database) -> None:
    """Fewer indexes to maintain on ``articles``: see :data:`REDUNDANT_INDEXES`."""
    for name in REDUNDANT_INDEXES:
        db.execute(f"DROP INDEX IF EXISTS {name}")


def _migration_14(db: sqlite_utils.Database) -> None:
    """A topic's articles newest first from one index: ``article_topics.newest`` copies the
    article's ``coalesce(published_at, first_seen_at)`` (triggers keep it, whoever writes either
    table) and ``article_topics_newest (topic, newest, article_id)`` orders them as
    ``articles_newest`` does, so a topic feed reads its own rows only, however rare the topic."""
    conn = db.conn
    columns = {row[1] for row in conn.execute("PRAGMA table_info(article_topics)")}
    if "newest" not in columns:
        conn.execute("ALTER TABLE article_topics ADD COLUMN newest TEXT")
    conn.execute(
        f"UPDATE article_topics SET newest = (SELECT {_NEWEST} FROM articles "
        "WHERE articles.id = article_topics.article_id)"
    )
    conn.execute(
        "CREATE INDEX IF NOT EXISTS article_topics_newest "
        "ON article_topics (topic, newest, article_id)"
    )
    conn.execute(
        "CREATE TRIGGER IF NOT EXISTS article_topics_newest_insert AFTER INSERT ON article_topics "
        f"BEGIN UPDATE article_topics SET newest = (SELECT {_NEWEST} FROM articles "
        "WHERE id = new.article_id) WHERE article_id = new.article_id AND topic = new.topic; END"
    )
    conn.execute(
        "CREATE TRIGGER IF NOT EXISTS articles_topics_newest_update "
        "AFTER UPDATE OF published_at, first_seen_at ON articles "
        "WHEN coalesce(old.published_at, old.first_seen_at) "
        "IS NOT coalesce(new.published_at, new.first_seen_at) "
        "BEGIN UPDATE article_topics SET newest = coalesce(new.published_at, new.first_seen_at) "
        "WHERE article_id = new.id; END"
    )


def rebuild_dedupe_index(
    conn: sqlite3.Connection,
    options: DedupeOptions | None = None,
    *,
    texts: bool = False,
    chunk: int = 5000,
) -> int:
    """Rebuild the near-duplicate index from the stored articles, in the caller's transaction.

    Every clustered article (a row of ``dedupe_texts``) is fingerprinted again from its title and
    filed under this code's index keys in its time slot (:func:`aggregator.dedupe.slot_keys`),
    each bucket keeping its newest ``bucket_cap`` ids, as clustering the articles in id order
    leaves it. Stories do not change. With ``texts`` the articles' normalised texts, cut and
    Latin flags and decisive-token bits are recomputed too (what a change of normalisation
    needs). The fingerprints are computed ``chunk`` titles at a time; the buckets are built by
    one sort of all (key, id) pairs. Returns the number of articles filed."""
    cap = (options or DedupeOptions()).bucket_cap
    now = time.time()
    articles, top = conn.execute("SELECT count(*), max(article_id) FROM dedupe_texts").fetchone()
    id_type = np.int32 if (top or 0) < 1 << 31 else np.int64  # half the memory when they fit
    # every (key, id) pair, in arrays grown as needed (about 6 keys an article)
    all_keys = np.zeros(articles * 6, dtype=np.int64)
    all_ids = np.zeros(articles * 6, dtype=id_type)
    filled = 0
    last, total = -(1 << 63), 0
    while rows := conn.execute(
        "SELECT d.article_id, d.seen, a.title, d.story_id FROM dedupe_texts d "
        "JOIN articles a ON a.id = d.article_id WHERE d.article_id > ? "
        "ORDER BY d.article_id LIMIT ?",
        (last, chunk),
    ).fetchall():
        last, total = rows[-1][0], total + len(rows)
        prints = fingerprints([row[2] for row in rows])
        at, flat = filed_keys(prints)  # each key's article (its row), and the key
        counts = np.bincount(at, minlength=len(rows))
        seen = np.array([row[1] for row in rows], dtype=np.float64)  # None is NaN
        if filled + len(flat) > len(all_keys):
            size = max(2 * len(all_keys), filled + len(flat))
            all_keys, all_ids = np.resize(all_keys, size), np.resize(all_ids, size)
        all_keys[filled : filled + len(flat)] = slot_keys(
            flat, np.repeat(time_slots(seen, now), counts)
        )
        all_ids[filled : filled + len(flat)] = np.repeat(
            np.array([row[0] for row in rows], dtype=np.int64), counts
        )
        filled += len(flat)
        if texts:
            conn.executemany(
                f"INSERT OR REPLACE INTO dedupe_texts ({DEDUPE_TEXT_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    dedupe_text_row(Member(article_id, story_id, title, seen, fp))
                    for (article_id, seen, title, story_id), fp in zip(rows, prints, strict=True)
                ],
            )
    conn.execute("DROP TABLE IF EXISTS dedupe_index")  # schema 18's layout
    conn.execute(_DEDUPE_GROUPS_SQL)
    conn.execute("DELETE FROM dedupe_groups")
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'dedupe_version'").fetchone():
        conn.execute("DELETE FROM dedupe_parts")  # (schema 22 on)
        count_index_change(conn)  # (an empty index gains rows: no delete counted)
    if not filled:
        return total
    all_keys, all_ids = all_keys[:filled], all_ids[:filled]
    order = np.argsort(all_keys, kind="stable")  # by key, then (as read) by id
    all_keys = all_keys[order]
    all_ids = all_ids[order]
    del order
    starts = np.flatnonzero(np.r_[True, all_keys[1:] != all_keys[:-1]])
    counts = np.diff(np.r_[starts, len(all_keys)])
    # a bucket keeps its newest cap ids: those from its start + (count - cap) on
    keep = np.arange(len(all_keys)) >= np.repeat(starts + np.maximum(counts - cap, 0), counts)
    kept_ids = all_ids[keep].astype(np.int64)
    del all_ids
    keys_kept, counts = all_keys[starts], np.minimum(counts, cap)
    del all_keys, keep
    offsets = np.cumsum(counts) - counts

    groups = key_groups(keys_kept)
    # about 65,536 keys at a time (few Python objects), each part ending at a group's end
    cuts = np.unique(np.searchsorted(groups, groups[::65536][1:]))

    def rows() -> Iterator[GroupRow]:
        for low, high in zip(
            np.r_[0, cuts].tolist(), np.r_[cuts, len(groups)].tolist(), strict=True
        ):
            first, last = int(offsets[low]), int(offsets[high - 1] + counts[high - 1])
            yield from pack_groups(keys_kept[low:high], counts[low:high], kept_ids[first:last])

    conn.executemany(_INSERT_GROUP, rows())
    return total


def _migration_15(db: sqlite_utils.Database) -> None:
    """A time-partitioned near-duplicate index: every key carries its article's time slot
    (:data:`aggregator.dedupe.SLOT_DAYS`) in its high bits, so a batch probes and rewrites only
    the slots of its time window. The index is rebuilt from the stored articles
    (:func:`rebuild_dedupe_index`); stories do not change."""
    rebuild_dedupe_index(db.conn)


def _story_summary_refresh(story: str, unless: str = "") -> str:
    """Trigger statements that make ``story_summary``'s row for ``story`` (``new.story_id`` or
    ``old.story_id``) what its articles say now, or remove it when it has none; with
    ``unless`` (an SQL condition), only when that condition is false."""
    skip = f" AND NOT {unless}" if unless else ""
    body = f"""
        DELETE FROM story_summary WHERE story_id = {story}{skip};
        INSERT INTO story_summary (story_id, rep_id, rep_when, rep_topics, sources, oldest, newest)
        SELECT {story}, r.id, coalesce(r.published_at, r.first_seen_at), r.topics,
            g.sources, g.oldest, g.newest
        FROM (
            SELECT a.id, a.published_at, a.first_seen_at, a.topics FROM articles a
            WHERE a.story_id = {story}
            ORDER BY {_REPRESENTATIVE_ORDER} LIMIT 1
        ) AS r, (
            SELECT count(DISTINCT source) AS sources, min({_NEWEST}) AS oldest,
                max({_NEWEST}) AS newest
            FROM articles WHERE story_id = {story}
        ) AS g{" WHERE NOT " + unless if unless else ""};
    """
    return "\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n"


# Columns whose change can change a story's summary row (its representative's topics are kept
# by a trigger of their own: a change of topics needs no new representative).
STORY_SUMMARY_COLUMNS = ("id", "story_id", "source", "title", "published_at", "first_seen_at")
STORY_SUMMARY_TRIGGERS = (
    "story_summary_article_insert",
    "story_summary_article_join",
    "story_summary_article_delete",
    "story_summary_article_leave",
    "story_summary_article_update",
    "story_summary_article_topics",
    "story_summary_article_leave_last",
    "story_summary_article_move",
)


def _migration_16(db: sqlite_utils.Database) -> None:
    """Stories as rows: ``story_summary`` holds one row per story (its representative by the
    rule of :mod:`aggregator.stories`, that one's date and topics, how many sources carried it,
    its oldest and newest article's date), kept by triggers whoever writes ``articles``
    (ingest, clustering, retag, prune), so the digests count a period's stories from these rows
    and an index instead of reading and grouping every article of their window."""
    conn = db.conn
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS story_summary (
            story_id INTEGER PRIMARY KEY,
            rep_id INTEGER NOT NULL,
            rep_when TEXT NOT NULL,
            rep_topics TEXT NOT NULL,
            sources INTEGER NOT NULL,
            oldest TEXT NOT NULL,
            newest TEXT NOT NULL
        )
        """
    )
    _build_story_summary(conn)
    # the digests' read: the stories with an article since a date, the narrow columns only
    conn.execute(
        "CREATE INDEX IF NOT EXISTS story_summary_newest "
        "ON story_summary (newest, oldest, rep_when, sources, rep_id, rep_topics)"
    )
    _create_story_summary_triggers(conn)


def _build_story_summary(conn: sqlite3.Connection) -> None:
    """``story_summary`` computed afresh from ``articles`` (one pass: a window for the
    representatives, a ``GROUP BY`` for the rest; a few stories' rows:
    :func:`_refresh_story_summaries`)."""
    conn.execute("DELETE FROM story_summary")
    conn.execute(
        f"""
        INSERT INTO story_summary (story_id, rep_id, rep_when, rep_topics, sources, oldest, newest)
        SELECT r.story_id, r.id, r.stamp, r.topics, g.sources, g.oldest, g.newest
        FROM (
            SELECT a.story_id, a.id, {_NEWEST} AS stamp, a.topics,
                row_number() OVER (
                    PARTITION BY a.story_id
                    ORDER BY {_REPRESENTATIVE_ORDER}
                ) AS position
            FROM articles a
        ) AS r
        JOIN (
            SELECT story_id, count(DISTINCT source) AS sources, min({_NEWEST}) AS oldest,
                max({_NEWEST}) AS newest
            FROM articles GROUP BY story_id
        ) AS g ON g.story_id = r.story_id
        WHERE r.position = 1
        """
    )


def _refresh_story_summaries(conn: sqlite3.Connection, stories: Iterable[int]) -> None:
    """The ``story_summary`` rows of a few stories computed afresh: for each, its
    representative, sources and date bounds by probes of ``articles_story_newest`` (a little
    cheaper for a batch's ~200 stories than the window and join of the full build, which
    materialise both sides); a story without articles has no representative, so no row."""
    stories_json = json.dumps(sorted(set(stories)))
    conn.execute(
        "DELETE FROM story_summary WHERE story_id IN (SELECT value FROM json_each(?))",
        (stories_json,),
    )
    of_story = "FROM articles a WHERE a.story_id = j.value"
    conn.execute(
        f"""
        INSERT INTO story_summary (story_id, rep_id, rep_when, rep_topics, sources, oldest, newest)
        SELECT s.story_id, r.id, coalesce(r.published_at, r.first_seen_at), r.topics,
            s.sources, s.oldest, s.newest
        FROM (
            SELECT j.value AS story_id,
                (SELECT a.id {of_story} ORDER BY {_REPRESENTATIVE_ORDER} LIMIT 1) AS rep_id,
                (SELECT count(DISTINCT a.source) {of_story}) AS sources,
                (SELECT min({_NEWEST}) {of_story}) AS oldest,
                (SELECT max({_NEWEST}) {of_story}) AS newest
            FROM json_each(?) AS j
        ) AS s
        CROSS JOIN articles r ON r.id = s.rep_id
        """,
        (stories_json,),
    )


# Inside its own write transaction, clustering (:func:`_move_articles`) puts a row in
# ``story_summary_paused`` while it moves a batch's articles to their stories: the triggers an
# UPDATE of ``story_id`` fires then leave ``story_summary`` and ``feed_version`` to it, and it
# brings both up to date before the row goes, in the same transaction. No other writer (or
# reader) ever sees the row: for them the triggers do all they did.
_PAUSED_SQL = (
    "CREATE TABLE IF NOT EXISTS story_summary_paused (id INTEGER PRIMARY KEY CHECK (id = 1))"
)
_NOT_PAUSED = "NOT EXISTS (SELECT 1 FROM story_summary_paused)"


def _create_feed_update_trigger(conn: sqlite3.Connection) -> None:
    """``feed_version`` bumped by every update of an article a feed would show, but clustering's
    moves (which bump it themselves, by as many, in one statement: :data:`_NOT_PAUSED`)."""
    conn.execute(_PAUSED_SQL)
    conn.execute("DROP TRIGGER IF EXISTS articles_feed_update")
    conn.execute(
        f"CREATE TRIGGER articles_feed_update AFTER UPDATE OF {', '.join(FEED_COLUMNS)} "
        f"ON articles WHEN {_NOT_PAUSED} "
        "BEGIN UPDATE feed_version SET version = version + 1 WHERE id = 1; END"
    )


def _create_story_summary_triggers(conn: sqlite3.Connection) -> None:
    conn.execute(_PAUSED_SQL)
    for name in STORY_SUMMARY_TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    new, old = _story_summary_refresh("new.story_id"), _story_summary_refresh("old.story_id")
    # a new article is most often a new story of its own: its row is the article's
    alone = "NOT EXISTS (SELECT 1 FROM articles WHERE story_id = new.story_id AND id IS NOT new.id)"
    conn.execute(
        f"CREATE TRIGGER story_summary_article_insert AFTER INSERT ON articles WHEN {alone} "
        "BEGIN INSERT OR REPLACE INTO story_summary "
        "(story_id, rep_id, rep_when, rep_topics, sources, oldest, newest) VALUES (new.story_id, "
        "new.id, coalesce(new.published_at, new.first_seen_at), new.topics, 1, "
        "coalesce(new.published_at, new.first_seen_at), "
        "coalesce(new.published_at, new.first_seen_at)); END"
    )
    conn.execute(
        "CREATE TRIGGER story_summary_article_join AFTER INSERT ON articles "
        f"WHEN NOT {alone} BEGIN{new}END"
    )
    conn.execute(
        f"CREATE TRIGGER story_summary_article_delete AFTER DELETE ON articles BEGIN{old}END"
    )
    # An article leaving a story: the story's row afresh, or (the story was only that article,
    # as when clustering joins a new article to an earlier story) just deleted.
    left = "EXISTS (SELECT 1 FROM articles WHERE story_id = old.story_id)"
    # (Each trigger of a story_id change checks the pause first: see _NOT_PAUSED.)
    conn.execute(
        "CREATE TRIGGER story_summary_article_leave AFTER UPDATE OF story_id ON articles "
        f"WHEN old.story_id IS NOT new.story_id AND {_NOT_PAUSED} AND {left} BEGIN{old}END"
    )
    conn.execute(
        "CREATE TRIGGER story_summary_article_leave_last AFTER UPDATE OF story_id ON articles "
        f"WHEN old.story_id IS NOT new.story_id AND {_NOT_PAUSED} AND NOT {left} "
        "BEGIN DELETE FROM story_summary WHERE story_id = old.story_id; END"
    )
    # Only story_id changes (clustering joins an article to a story): one trigger, so that no
    # other trigger's effect on story_summary (SQLite does not document their order) changes
    # what it does. A story with a row (and its representative) has that row updated in place
    # (the dates' bounds, one more source if no other member has the article's, the article as
    # representative if it sorts first) instead of recomputed from every member; a story with
    # none has it computed. NULL dates sort last and tie among themselves, as in the ORDER BY
    # of the full refresh.
    same = " AND ".join(f"old.{c} IS new.{c}" for c in STORY_SUMMARY_COLUMNS if c != "story_id")
    moved = f"old.story_id IS NOT new.story_id AND {same}"
    # (the update trigger never fires for a move, paused or not: it needs no check)
    has_row = (
        "EXISTS (SELECT 1 FROM story_summary s JOIN articles r ON r.id = s.rep_id "
        "WHERE s.story_id = new.story_id)"
    )
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in STORY_SUMMARY_COLUMNS)
    conn.execute(
        "CREATE TRIGGER story_summary_article_update "
        f"AFTER UPDATE OF {', '.join(STORY_SUMMARY_COLUMNS)} ON articles "
        f"WHEN ({changed}) AND NOT ({moved}) BEGIN{new}END"
    )
    stamp = "coalesce(new.published_at, new.first_seen_at)"
    order = partial(_representative_terms, comparable=True)
    conn.execute(
        "CREATE TRIGGER story_summary_article_move AFTER UPDATE OF story_id ON articles "
        f"WHEN {moved} AND {_NOT_PAUSED} BEGIN UPDATE story_summary SET "
        f"oldest = min(oldest, {stamp}), "
        f"newest = max(newest, {stamp}), sources = sources + NOT EXISTS (SELECT 1 FROM articles "
        "WHERE story_id = new.story_id AND source = new.source AND id IS NOT new.id), "
        "(rep_id, rep_when, rep_topics) = (SELECT iif(first, new.id, story_summary.rep_id), "
        f"iif(first, {stamp}, story_summary.rep_when), "
        "iif(first, new.topics, story_summary.rep_topics) "
        f"FROM (SELECT {order('r')} > {order('new')} AS first FROM articles r "
        "WHERE r.id = story_summary.rep_id)) "
        f"WHERE story_id = new.story_id AND {has_row};"
        f"{_story_summary_refresh('new.story_id', unless=has_row)}END"
    )
    conn.execute(
        "CREATE TRIGGER story_summary_article_topics AFTER UPDATE OF topics ON articles "
        "WHEN old.topics IS NOT new.topics BEGIN UPDATE story_summary SET rep_topics = new.topics "
        "WHERE story_id = new.story_id AND rep_id = new.id; END"
    )


def _migration_17(db: sqlite_utils.Database) -> None:
    """Normalisation drops wire-service tags ("UPDATE 1-", "BREAKING:") and the space between a
    number and its unit ("1.2 GW"): every clustered article's normalised text, flags and bits are
    recomputed and the index rebuilt from them (:func:`rebuild_dedupe_index`); stories do not
    change."""
    rebuild_dedupe_index(db.conn, texts=True)


def _migration_18(db: sqlite_utils.Database) -> None:
    """Two bits per decisive token in ``dedupe_texts.nums`` (:func:`aggregator.dedupe
    .number_bloom`), where there was one: every clustered article's bits are recomputed from its
    stored normalised text; texts, index and stories do not change."""
    conn, last = db.conn, -(1 << 63)
    while rows := conn.execute(
        "SELECT article_id, text, cut, latin FROM dedupe_texts WHERE article_id > ? "
        "ORDER BY article_id LIMIT ?",
        (last, CLUSTER_CHUNK),
    ).fetchall():
        prints = [Fingerprint(text, bool(cut), bool(latin)) for _, text, cut, latin in rows]
        _fill_numbers(prints)  # one search of the chunk's texts
        conn.executemany(
            "UPDATE dedupe_texts SET nums = ? WHERE article_id = ?",
            [(fp.bloom, row[0]) for fp, row in zip(prints, rows, strict=True)],
        )
        last = rows[-1][0]


def _migration_19(db: sqlite_utils.Database) -> None:
    """Many keys a row: the near-duplicate index's buckets move from ``dedupe_index`` (a row
    per key) into ``dedupe_groups`` (a row per group of keys, :data:`aggregator.dedupe
    .GROUP_SHIFT`), re-filed as they are, without fingerprinting anything; stories do not
    change. A damaged bucket row is left out (it read as empty)."""
    conn = db.conn
    conn.execute(_DEDUPE_GROUPS_SQL)
    if not conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'dedupe_index'"
    ).fetchone():
        return
    start: int | None = -(1 << 63)
    while start is not None:
        rows = conn.execute(
            "SELECT key, n, article_ids FROM dedupe_index WHERE key >= ? ORDER BY key LIMIT ?",
            (start, CLUSTER_CHUNK * 16),
        ).fetchall()
        start = None
        if len(rows) == CLUSTER_CHUNK * 16:  # more to come: this chunk's last group whole next
            last = rows[-1][0] >> GROUP_SHIFT
            cut = bisect_left([key >> GROUP_SHIFT for key, _, _ in rows], last)
            if cut:
                rows, start = rows[:cut], last << GROUP_SHIFT
            else:  # one group fills the chunk: read it whole
                start = rows[0][0]
                rows = conn.execute(
                    "SELECT key, n, article_ids FROM dedupe_index WHERE key BETWEEN ? AND ? "
                    "ORDER BY key",
                    (start, group_key_bounds(last)[1]),
                ).fetchall()
                start = None if last >= LAST_GROUP else (last + 1) << GROUP_SHIFT
        buckets = Buckets(rows)
        keep = buckets.counts > 0  # a damaged row read as empty: nothing to keep
        conn.executemany(
            _INSERT_GROUP, pack_groups(buckets.keys[keep], buckets.counts[keep], buckets.ids)
        )
    conn.execute("DROP TABLE dedupe_index")


def _migration_20(db: sqlite_utils.Database) -> None:
    """Cheaper ``story_summary`` triggers for clustering's joins, the same rows: an article
    moved to a story that has a row updates that row in place, and a story left empty has its
    row deleted, instead of both being recomputed from their members."""
    _create_story_summary_triggers(db.conn)


def _migration_21(db: sqlite_utils.Database) -> None:
    """Clustering keeps ``story_summary`` and ``feed_version`` for a batch's moves itself, with
    a few set-based statements (:func:`_move_articles`), instead of a trigger program per moved
    article: ``story_summary_paused``, and a check of it in the triggers a change of
    ``story_id`` fires. Every other writer's changes are kept by the triggers as before; the
    rows do not change."""
    _create_feed_update_trigger(db.conn)
    _create_story_summary_triggers(db.conn)


# ``dedupe_version`` (one row) counts the changes of the near-duplicate index a clusterer holding
# what it read (:class:`IndexCache`) must not miss: each batch clustering stores counts one
# (:func:`_write_stories`), and so does every other writer of ``dedupe_groups`` here
# (:func:`count_index_change`); triggers count the rows anyone deletes from ``dedupe_groups`` and
# ``dedupe_parts`` (``DELETE FROM dedupe_groups`` in the sqlite3 shell, to empty the index).
# Inserts and updates by hand are not counted: a trigger on them would make every clustering
# write keep a statement journal (~3 µs an article at 1M), and only clustering writes the
# index's rows.
_INDEX_VERSION_SQL = (
    "CREATE TABLE IF NOT EXISTS dedupe_version (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "n INTEGER NOT NULL)"
)
INDEX_VERSION_TRIGGER = "dedupe_groups_delete"
PARTS_VERSION_TRIGGER = "dedupe_parts_delete"


def _create_index_version_trigger(conn: sqlite3.Connection) -> None:
    """``dedupe_version`` and the triggers that count rows deleted from ``dedupe_groups`` and
    ``dedupe_parts`` (each kept if there)."""
    conn.execute(_INDEX_VERSION_SQL)
    conn.execute("INSERT OR IGNORE INTO dedupe_version (id, n) VALUES (1, 0)")
    for name, table in ((INDEX_VERSION_TRIGGER, "dedupe_groups"),
                        (PARTS_VERSION_TRIGGER, "dedupe_parts")):  # fmt: skip
        conn.execute(
            f"CREATE TRIGGER IF NOT EXISTS {name} AFTER DELETE ON {table} "
            "BEGIN UPDATE dedupe_version SET n = n + 1 WHERE id = 1; END"
        )


def count_index_change(conn: sqlite3.Connection, before: int | None = None) -> int:
    """Count one change of the near-duplicate index (in an open write transaction); returns the
    count before it. Given ``before`` (the count as the transaction found it), the change counts
    as one whatever the triggers counted of it."""
    if before is None:
        before = index_count(conn)
    conn.execute("UPDATE dedupe_version SET n = ? WHERE id = 1", (before + 1,))
    return before


def index_count(conn: sqlite3.Connection) -> int:
    """``dedupe_version.n``."""
    return int(conn.execute("SELECT n FROM dedupe_version WHERE id = 1").fetchone()[0])


def _migration_22(db: sqlite_utils.Database) -> None:
    """A count of the near-duplicate index's changes (``dedupe_version``: each writer counts
    its change, :func:`count_index_change`, and triggers count the rows anyone deletes from
    ``dedupe_groups`` and ``dedupe_parts``), so that a clusterer can keep what it read for its
    next batches (:class:`IndexCache`) and know when another writer changed it; and the parts of
    large slots (``dedupe_parts``: what a batch filed there, instead of the slot's groups
    rewritten, :data:`PART_MIN_KEYS`). The index's rows do not change."""
    db.conn.execute(_DEDUPE_GROUPS_SQL)
    db.conn.execute(_DEDUPE_PARTS_SQL)
    _create_index_version_trigger(db.conn)


# Append only: each function upgrades the schema by one version, in order.
MIGRATIONS = (
    _migration_1,
    _migration_2,
    _migration_3,
    _migration_4,
    _migration_5,
    _migration_6,
    _migration_7,
    _migration_8,
    _migration_9,
    _migration_10,
    _migration_11,
    _migration_12,
    _migration_13,
    _migration_14,
    _migration_15,
    _migration_16,
    _migration_17,
    _migration_18,
    _migration_19,
    _migration_20,
    _migration_21,
    _migration_22,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass
class UpsertResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    new_ids: list[int] = field(default_factory=list)
    # source name -> {"new": n, "updated": n, "unchanged": n}
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, source: str, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        counts = self.by_source.setdefault(source, {"new": 0, "updated": 0, "unchanged": 0})
        counts[outcome] += 1


class Store:
    """The news database. ``Store(path)`` opens (and creates or upgrades) it."""

    # What clustering knows of the articles it filed or read lately (they never change).
    _recent: RecentAttributes
    # Checkpoints the WAL while this store clusters (file databases only).
    checkpointer: Checkpointer | None = None
    _clustering = False  # the connection is set up for clustering (cache, checkpoints)

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = str(path)
        if self.path != ":memory:" and not readonly:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        if readonly:
            uri = Path(self.path).resolve().as_uri() + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # REPLACE deletes rows; with this the delete trigger sees it and the index stays in sync.
        conn.execute("PRAGMA recursive_triggers = ON")
        self.conn = conn
        self._search_ready = False
        # No sqlite-utils plugin is used: looking their entry points up (scanning every installed
        # package's metadata) cost each process ~20-30 ms, a cold export's twentieth.
        self.db = sqlite_utils.Database(conn, execute_plugins=False)
        try:
            if not readonly:
                if not conn.execute("PRAGMA page_count").fetchone()[0]:  # a new, empty file
                    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # (before WAL fixes it)
                if self.path != ":memory:":
                    conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
                self.migrate()
            else:
                self.schema_version  # noqa: B018 (reads the header: fails early on a bad file)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(
                f"{self.path}: cannot use this file as the news database: {exc}"
            ) from None
        except StoreError:
            conn.close()
            raise

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()  # before the connection: its last checkpoint may be running
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ----------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> int:
        """Bring the schema up to date; a no-op when it already is. Returns the version."""
        with self.write():
            version = self.schema_version
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: schema version {version} is newer than this program "
                    f"({SCHEMA_VERSION}); upgrade energy-news-aggregator"
                )
            for number in range(version, SCHEMA_VERSION):
                MIGRATIONS[number](self.db)
                self.conn.execute(f"PRAGMA user_version = {number + 1}")
            self._repair_triggers()
            _create_index_version_trigger(self.conn)  # (a rebuilt dedupe_groups drops it)
        return SCHEMA_VERSION

    def _repair_triggers(self) -> None:
        """Rebuilding the articles table (e.g. sqlite-utils' ``transform()``) drops its triggers:
        recreate those of the search index and of ``story_summary``, then bring what they keep
        up to date (re-index every article; compute the summaries afresh)."""
        present = {
            row[0]
            for row in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'articles'"
            )
        }
        for names, table, create, refresh in (
            (SEARCH_TRIGGERS, "search_pending", lambda: _create_search_triggers(self.db),
             _requeue_all),
            (STORY_SUMMARY_TRIGGERS, "story_summary",
             lambda: _create_story_summary_triggers(self.conn), _build_story_summary),
        ):  # fmt: skip
            if (
                present >= set(names)
                or not self.conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = ?", (table,)
                ).fetchone()
            ):
                continue
            for name in names:
                self.conn.execute(f"DROP TRIGGER IF EXISTS {name}")
            create()
            refresh(self.conn)

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every read inside sees the database as it was at the first
        one, whatever a crawl commits meanwhile (WAL). Nested use is a no-op."""
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN")
        try:
            yield self.conn
        finally:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")  # nothing was written: this only ends the read

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken with ``BEGIN IMMEDIATE`` (waits for the lock up front)."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                self._apply_search_queue()
            except BaseException:
                if self.conn.in_transaction:  # SQLite has already rolled back after some errors
                    self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "").startswith(_FILE_ERRORS):
                # The file, not the statement: say which file, and stop writing to it.
                raise StoreError(f"{self.path}: cannot write to the database: {exc}") from exc
            raise
        except sqlite3.DatabaseError as exc:
            if type(exc) is sqlite3.DatabaseError:  # a corrupt file ("malformed", "not a database")
                raise StoreError(f"{self.path}: cannot write to the database: {exc}") from exc
            raise

    # -- search index ----------------------------------------------------------------------

    def _apply_search_queue(self) -> None:
        """Bring ``articles_fts`` up to date with the changes queued in ``search_pending``."""
        conn = self.conn
        if not self._search_ready:
            if not conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'search_pending'"
            ).fetchone():
                return
            self._search_ready = True
        if not conn.execute("SELECT 1 FROM search_pending LIMIT 1").fetchone():
            return
        marks = ", ".join("?" * len(FTS_COLUMNS))
        columns = ", ".join(FTS_COLUMNS)
        # The earliest queued entry of an article holds what the index has for it (if anything).
        indexed = conn.execute(
            "SELECT p.old_key, p.old_title, p.old_snippet FROM search_pending p "
            "JOIN (SELECT id, min(seq) AS seq FROM search_pending GROUP BY id) first "
            "ON first.seq = p.seq WHERE p.old_key IS NOT NULL"
        )
        while batch := indexed.fetchmany(CHUNK):
            conn.executemany(
                f"INSERT INTO articles_fts (articles_fts, rowid, {columns}) "
                f"VALUES ('delete', ?, {marks})",
                [(key, *index_terms(title, snippet)) for key, title, snippet in batch],
            )
        current = conn.execute(
            f"SELECT {_sort_key_sql('a')}, a.title, a.snippet FROM articles a "
            "WHERE a.id IN (SELECT id FROM search_pending)"
        )
        while batch := current.fetchmany(CHUNK):
            conn.executemany(
                f"INSERT INTO articles_fts (rowid, {columns}) VALUES (?, {marks})",
                [(key, *index_terms(title, snippet)) for key, title, snippet in batch],
            )
        conn.execute("DELETE FROM search_pending")

    def rebuild_search(self) -> None:
        """Rebuild the search index from the articles (after a repair or a change of terms)."""
        with self.write() as conn:
            _requeue_all(conn)

    # -- URL rules -------------------------------------------------------------------------

    def url_rules(self) -> UrlRules:
        """The URL rules the stored canonical URLs follow (see :meth:`apply_url_rules`)."""
        found = self.recorded_url_rules()
        return UrlRules.from_json(found) if found else UrlRules()

    def recorded_url_rules(self) -> str | None:
        """The URL rules recorded as the stored URLs' (``meta.url_rules``, JSON), or None when
        none are (a new database, or one older than the ``meta`` table)."""
        try:
            found = self.conn.execute("SELECT value FROM meta WHERE key = 'url_rules'").fetchone()
        except sqlite3.OperationalError:  # no meta table: a schema before the URL rules
            return None
        return found[0] if found else None

    def apply_url_rules(
        self, rules: UrlRules, *, force: bool = False, now: datetime | None = None
    ) -> UrlRulesResult:
        """Make the stored canonical URLs follow ``rules`` (the configured URL rules): when
        they differ from the ones recorded (or ``force``), recompute every ``canonical_url`` and
        merge the rows that now collide, as a schema migration of the URL rules does (the merged
        rows are kept in ``merged_articles``; their stories join). One transaction; a no-op when
        nothing changed. ``newsagg crawl`` and ``run`` call it first; ``newsagg recanon`` too."""
        wanted = rules.to_json()
        if not force and self.recorded_url_rules() == wanted:  # without the write lock
            return UrlRulesResult()
        with self.write() as conn:
            if not force and self.recorded_url_rules() == wanted:  # another process did it
                return UrlRulesResult()
            result = merge_url_duplicates(conn, now, rules)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('url_rules', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (wanted,),
            )
        return result

    # -- articles --------------------------------------------------------------------------

    def upsert_articles(
        self,
        rows: Sequence[dict[str, Any]],
        now: datetime | None = None,
        *,
        tagger: Tagger | None = None,
    ) -> UpsertResult:
        """Store normalised rows (see :func:`aggregator.normalize.normalize`) in one transaction.

        Identity: ``canonical_url``, then ``(source, guid)``. A known article keeps its id and
        ``first_seen_at``; its title, snippet and date change only for better ones (an uncut
        title is never replaced by a cut one, a precise date never by a vaguer one).
        ``tagger`` gives the topics of each row as it will be stored (new or changed); without
        one a row keeps the topics it came with. ``article_topics`` follows ``topics``.
        """
        result = UpsertResult()
        if not rows:
            return result
        stamp = to_utc_string(now or utc_now())
        unique: dict[str, dict[str, Any]] = {}
        for row in rows:  # the same URL twice in a batch: the later sighting wins, unless it
            key = row["canonical_url"]  # would put a cut title over a whole one
            earlier = unique.get(key)
            if earlier is None or not is_truncated(row["title"]) or is_truncated(earlier["title"]):
                unique[key] = row
        with self.write() as conn:
            existing = self._find_existing(conn, list(unique.values()))
            next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM articles").fetchone()[0]
            writes: list[dict[str, Any]] = []
            touched: list[tuple[str, int]] = []
            for key, row in unique.items():
                old = existing.get(key)
                if old is None:
                    if tagger is not None:
                        row = {**row, "topics": tagger(row)}
                    record = _encode(row)
                    record.update(
                        id=next_id,
                        story_id=next_id,
                        first_seen_at=stamp,
                        last_seen_at=stamp,
                        updated_at=None,
                    )
                    result.new_ids.append(next_id)
                    next_id += 1
                    result.count(row["source"], "new")
                    writes.append(record)
                    continue
                merged = _merge(old, row)
                if merged is None:
                    result.count(row["source"], "unchanged")
                    touched.append((stamp, old["id"]))
                else:
                    merged.update(last_seen_at=stamp, updated_at=stamp)
                    if tagger is not None:
                        merged["topics"] = json.dumps(tagger(merged), ensure_ascii=False)
                    result.count(row["source"], "updated")
                    writes.append(merged)
            if writes:
                conn.executemany(_UPSERT_SQL, writes)
                _sync_topics(conn, [(r["id"], json.loads(r["topics"])) for r in writes])
            if touched:
                conn.executemany("UPDATE articles SET last_seen_at = ? WHERE id = ?", touched)
        return result

    def _find_existing(
        self, conn: sqlite3.Connection, rows: list[dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """Stored rows matching the batch, keyed by the batch row's canonical_url."""
        found: dict[str, dict[str, Any]] = {}
        conn.row_factory = sqlite3.Row
        try:
            # The same URL under the other scheme is the same article (urls.url_identity).
            wanted = {
                v: row["canonical_url"] for row in rows for v in url_variants(row["canonical_url"])
            }
            for chunk in _chunks(list(wanted), CHUNK):
                marks = ",".join("?" * len(chunk))
                for stored in conn.execute(
                    f"SELECT * FROM articles WHERE canonical_url IN ({marks})", chunk
                ):
                    key = wanted[stored["canonical_url"]]
                    if key not in found or stored["canonical_url"] == key:
                        found[key] = dict(stored)
            by_guid = [row for row in rows if row["canonical_url"] not in found and row["guid"]]
            for row in by_guid:
                stored = conn.execute(
                    "SELECT * FROM articles WHERE source = ? AND guid = ? ORDER BY id LIMIT 1",
                    (row["source"], row["guid"]),
                ).fetchone()
                if stored is not None:
                    found[row["canonical_url"]] = dict(stored)
        finally:
            conn.row_factory = None
        return found

    def assign_stories(
        self, ids: Sequence[int], options: DedupeOptions | None = None
    ) -> ClusterStats:
        """Put newly stored articles into stories (``articles.story_id``) and file them in the
        near-duplicate index, in one transaction. See :func:`aggregator.dedupe.cluster_batch`."""
        options = options or DedupeOptions()
        stats = ClusterStats()
        if not ids or not options.enabled:
            return stats
        if not hasattr(self, "_recent"):  # (prune() drops it)
            self._recent = RecentAttributes()
        if not hasattr(self, "_index_cache"):
            self._index_cache = IndexCache()
        if not self._clustering:
            self._clustering = True
            # the index pages of the slots a batch probes and rewrites stay in memory
            self.conn.execute(f"PRAGMA cache_size = -{CLUSTER_CACHE_KIB}")
            pages = CLUSTER_WAL_PAGES
            if CHECKPOINT_THREAD and self.path != ":memory:":
                self.checkpointer = Checkpointer(self.path, CHECKPOINT_EVERY_ARTICLES)
                pages = CLUSTER_WAL_FALLBACK_PAGES
            self.conn.execute(f"PRAGMA wal_autocheckpoint = {pages}")
        try:
            return self._assign_stories(ids, options, stats)
        except sqlite3.DatabaseError as exc:
            if type(exc) is sqlite3.DatabaseError:  # a corrupt file, found while reading
                raise StoreError(f"{self.path}: cannot write to the database: {exc}") from exc
            raise

    def _assign_stories(
        self, ids: Sequence[int], options: DedupeOptions, stats: ClusterStats
    ) -> ClusterStats:
        for chunk in _chunks(self.unclustered(ids), CLUSTER_CHUNK):  # each article once
            # Reading and verifying need no write lock (only clustering writes the index, and
            # one crawl runs at a time): the crawl's own writes wait only for the short write.
            # That rests on one clusterer a file (the run lock; a crawl's clusterer worker,
            # then its parent, never both at once): the groups a batch read are rewritten whole,
            # so a second clusterer's writes to any key of them in between would be lost.
            started = time.perf_counter()
            if self.checkpointer is not None and not self.checkpointer.reading():
                self._checkpoint_on_commit()
            with gc_paused():  # a batch's objects hold no cycles: no collection needed
                new, result, rows, filed = _plan_stories(
                    self.conn, chunk, options, self._recent, self._index_cache
                )
            try:
                with self.write() as conn:
                    version = _write_stories(conn, new, result, rows, set_based=True)
            except BaseException:
                self._index_cache.clear()
                raise
            self._index_cache.stored(version if version is not None else -1)
            if self.checkpointer is not None:
                self.checkpointer.wrote(len(chunk))
            self._recent.add(*filed)  # once the batch is stored
            result.stats.seconds = time.perf_counter() - started
            stats.add(result.stats)
        return stats

    def _checkpoint_on_commit(self) -> None:
        """The checkpoint thread failed (it logged why): checkpoint on commit, as without it."""
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.checkpointer = None
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {CLUSTER_WAL_PAGES}")

    def unclustered(self, ids: Iterable[int] | None = None) -> list[int]:
        """Of these articles (default: all), those not yet put into a story, in id order."""
        try:
            return self._unclustered(ids)
        except sqlite3.DatabaseError as exc:
            if type(exc) is sqlite3.DatabaseError:  # a corrupt file
                raise StoreError(f"{self.path}: cannot write to the database: {exc}") from exc
            raise

    def _unclustered(self, ids: Iterable[int] | None) -> list[int]:
        if ids is None:
            sql = "SELECT id FROM articles WHERE id NOT IN (SELECT article_id FROM dedupe_texts)"
            return [row[0] for row in self.conn.execute(sql + " ORDER BY id")]
        wanted = sorted(set(ids))
        if wanted and wanted[-1] - wanted[0] == len(wanted) - 1:  # one run (a batch of new ones)
            done = {
                row[0]
                for row in self.conn.execute(
                    "SELECT article_id FROM dedupe_texts WHERE article_id BETWEEN ? AND ?",
                    (wanted[0], wanted[-1]),
                )
            }
            return [i for i in wanted if i not in done] if done else wanted
        done = set()
        for chunk in _chunks(wanted, CHUNK):
            done.update(
                row[0]
                for row in self.conn.execute(
                    "SELECT article_id FROM dedupe_texts "
                    f"WHERE article_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
            )
        return [i for i in wanted if i not in done]

    def page_keys(self, url: str, fingerprint: str) -> list[str] | None:
        """The article keys a page listed when it last had exactly this body, else None."""
        found = self.conn.execute(
            "SELECT article_keys FROM pages WHERE url = ? AND fingerprint = ?", (url, fingerprint)
        ).fetchone()
        return json.loads(found[0]) if found else None

    def keys_of_page(self, url: str) -> list[str]:
        """The article keys a page listed when it was last read, whatever its body was."""
        found = self.conn.execute("SELECT article_keys FROM pages WHERE url = ?", (url,)).fetchone()
        return json.loads(found[0]) if found else []

    def validators(self, url: str, reader: str | None = None) -> tuple[str | None, str | None]:
        """The ``ETag`` and ``Last-Modified`` a feed URL last answered with (for a conditional
        GET), or (None, None); also (None, None) when ``reader`` is given and the body was read
        with another one (another program version or source settings)."""
        found = self.conn.execute(
            "SELECT etag, last_modified, reader FROM validators WHERE url = ?", (url,)
        ).fetchone()
        if not found or (reader is not None and found[2] != reader):
            return None, None
        return found[0], found[1]

    def save_pages(self, pages: Sequence[Any], now: datetime | None = None) -> None:
        """Remember pages' fingerprints and keys (:class:`aggregator.items.PageSeen`); for
        unchanged ones, mark their articles seen. A page read with HTTP validators (``ETag``,
        ``Last-Modified``) keeps them for the next conditional GET of its URL."""
        if not pages:
            return
        stamp = to_utc_string(now or utc_now())
        with self.write() as conn:
            validated = [p for p in pages if getattr(p, "request_url", None)]
            conn.executemany(
                "INSERT INTO validators (url, source, etag, last_modified, saved_at, reader) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET "
                "source = excluded.source, etag = excluded.etag, "
                "last_modified = excluded.last_modified, saved_at = excluded.saved_at, "
                "reader = excluded.reader",
                [
                    (p.request_url, p.source, p.etag, p.last_modified, stamp, p.reader)
                    for p in validated
                ],
            )
            fingerprinted = [p for p in pages if p.fingerprint]  # a 304 has no body
            # A redirected feed is also remembered under the URL requested, so a later 304 from
            # another final URL still finds the articles it listed.
            fingerprinted += [
                replace(p, url=p.request_url)
                for p in validated
                if p.fingerprint and p.request_url != p.url
            ]
            conn.executemany(
                "INSERT INTO pages (url, source, fingerprint, article_keys, seen_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET source = excluded.source, "
                "fingerprint = excluded.fingerprint, article_keys = excluded.article_keys, "
                "seen_at = excluded.seen_at",
                [
                    (p.url, p.source, p.fingerprint, json.dumps(p.keys, ensure_ascii=False), stamp)
                    for p in fingerprinted
                ],
            )
            keys = [
                v for page in pages if page.unchanged for k in page.keys for v in url_variants(k)
            ]
            for chunk in _chunks(keys, CHUNK):
                conn.execute(
                    f"UPDATE articles SET last_seen_at = ? "
                    f"WHERE canonical_url IN ({','.join('?' * len(chunk))})",
                    [stamp, *chunk],
                )

    def known_complete(self, canonical_urls: Iterable[str]) -> set[str]:
        """Of these URLs, those stored with an uncut title and a minute- or second-precise date,
        and those whose article page was read before (a ``pages`` row with the fingerprint
        ``followed``): their article pages need not be fetched again. A URL matches its
        article under the other scheme too (:func:`aggregator.urls.url_identity`); host
        aliases are the same host already (the stored URLs follow the configured rules)."""
        wanted = {v: url for url in canonical_urls for v in url_variants(url)}
        complete: set[str] = set()
        for chunk in _chunks(list(wanted), CHUNK):
            marks = ",".join("?" * len(chunk))
            complete.update(
                wanted[row[0]]
                for row in self.conn.execute(
                    f"SELECT url FROM pages WHERE fingerprint = 'followed' AND url IN ({marks})",
                    chunk,
                )
            )
            for url, title in self.conn.execute(
                f"SELECT canonical_url, title FROM articles WHERE canonical_url IN ({marks}) "
                "AND published_precision IN ('minute', 'second')",
                chunk,
            ):
                if not is_truncated(title):
                    complete.add(wanted[url])
        return complete

    def articles(
        self,
        *,
        source: str | None = None,
        topic: str | None = None,
        text: str | None = None,
        since: str | None = None,
        limit: int | None = 200,
        first_seen_since: str | None = None,
        rank: str = "newest",
    ) -> list[dict[str, Any]]:
        """Articles newest first (by ``published_at``, else ``first_seen_at``), JSON decoded.

        ``text`` is a search (:mod:`aggregator.querysyntax`: words, "phrases", -exclusion, OR)
        over title and snippet; with ``rank="relevance"`` the newest
        :data:`RELEVANCE_WINDOW` matches are ordered by bm25 instead. ``since`` filters on
        ``published_at`` (else ``first_seen_at``), ``first_seen_since`` on ``first_seen_at``.
        """
        if rank not in ("newest", "relevance"):
            raise ValueError(f"rank must be 'newest' or 'relevance', not {rank!r}")
        where, params = self._article_filters(source, topic, since, first_seen_since)
        if text and text.strip():  # no text (None, "", blanks): every article
            return self._search(text, where, params, since, limit, rank)
        sql = "SELECT * FROM articles a"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY coalesce(a.published_at, a.first_seen_at) DESC, a.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_decode(row) for row in self.db.query(sql, params)]

    def feed_article_keys(
        self, *, source: str | None = None, topic: str | None = None, limit: int
    ) -> list[tuple[int, int]]:
        """(id, story_id) of the newest ``limit`` articles (of ``source``, about ``topic``),
        newest first as :meth:`articles` orders them: what a feed needs to know which stories
        it shows before it reads any of their text (:meth:`feed_story_articles`)."""
        if topic:
            # from the topic's own rows, newest first (article_topics_newest): a rare topic
            # costs its few rows, not a walk of every article
            sql = (
                "SELECT t.article_id, a.story_id FROM article_topics t "
                "JOIN articles a ON a.id = t.article_id WHERE t.topic = ?"
            )
            params: list[Any] = [topic]
            if source:
                sql += " AND a.source = ?"
                params.append(source)
            sql += " ORDER BY t.newest DESC, t.article_id DESC LIMIT ?"
            return self.conn.execute(sql, [*params, limit]).fetchall()
        where, params = self._article_filters(source, None, None, None)
        sql = "SELECT a.id, a.story_id FROM articles a"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY coalesce(a.published_at, a.first_seen_at) DESC, a.id DESC LIMIT ?"
        return self.conn.execute(sql, [*params, limit]).fetchall()

    def _article_filters(
        self,
        source: str | None,
        topic: str | None,
        since: str | None,
        first_seen_since: str | None,
    ) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if source:
            where.append("a.source = ?")
            params.append(source)
        if topic:
            where.append(
                "EXISTS (SELECT 1 FROM article_topics t WHERE t.article_id = a.id AND t.topic = ?)"
            )
            params.append(topic)
        if since:
            where.append("coalesce(a.published_at, a.first_seen_at) >= ?")
            params.append(since)
        if first_seen_since:
            where.append("a.first_seen_at >= ?")
            params.append(first_seen_since)
        return where, params

    def _search(
        self,
        text: str,
        where: list[str],
        params: list[Any],
        since: str | None,
        limit: int | None,
        rank: str,
    ) -> list[dict[str, Any]]:
        match = fts_query(parse_query(text))
        sql = (
            "FROM articles_fts CROSS JOIN articles a ON a.id = articles_fts.rowid % "
            f"{KEY_SPAN} WHERE articles_fts MATCH ?"
        )
        args: list[Any] = [match]
        if since:  # the sort key starts with the date: a range of rowids, read backwards
            sql += (
                " AND articles_fts.rowid >= "
                f"(max(0, CAST(strftime('%s', ?) AS INTEGER)) / {KEY_BUCKET_SECONDS}) * {KEY_SPAN}"
            )
            args.append(since)
        for condition in where:
            sql += " AND " + condition
        args += params
        if rank == "relevance":
            weights = ", ".join(str(w) for w in BM25_WEIGHTS)
            rows = self.db.query(
                f"SELECT a.* FROM (SELECT articles_fts.rowid AS sort_key, "
                f"bm25(articles_fts, {weights}) AS score {sql} "
                "ORDER BY articles_fts.rowid DESC LIMIT ?) hits "
                f"JOIN articles a ON a.id = hits.sort_key % {KEY_SPAN} "
                "ORDER BY hits.score, hits.sort_key DESC" + (" LIMIT ?" if limit else ""),
                [*args, RELEVANCE_WINDOW] + ([limit] if limit else []),
            )
            return [_decode(row) for row in rows]
        newest = "ORDER BY coalesce(a.published_at, a.first_seen_at) DESC, a.id DESC"
        if limit:
            # The key orders by day: the limit-th match's day is where the exact order must
            # start; only matches from that day on are sorted.
            last = list(
                self.conn.execute(
                    f"SELECT articles_fts.rowid {sql} ORDER BY articles_fts.rowid DESC "
                    "LIMIT 1 OFFSET ?",
                    [*args, limit - 1],
                )
            )
            if last:
                sql += " AND articles_fts.rowid >= ?"
                args.append(last[0][0] // KEY_SPAN * KEY_SPAN)
        rows = self.db.query(
            f"SELECT a.* {sql} {newest}" + (" LIMIT ?" if limit else ""),
            args + [limit] * bool(limit),
        )
        return [_decode(row) for row in rows]

    def stories(
        self,
        *,
        source: str | None = None,
        topic: str | None = None,
        text: str | None = None,
        since: str | None = None,
        limit: int | None = 20,
        first_seen_since: str | None = None,
        rank: str = "newest",
    ) -> list[dict[str, Any]]:
        """The stories of the matching articles, in the order of their best match.

        Each is its representative article's row (:func:`aggregator.stories.representative`,
        over all the story's articles) plus ``articles`` (how many), ``sources`` and
        ``article_ids``.
        """
        wanted = limit * 5 if limit else None
        while True:
            matches = self.articles(
                source=source,
                topic=topic,
                text=text,
                since=since,
                limit=wanted,
                first_seen_since=first_seen_since,
                rank=rank,
            )
            story_ids = list(dict.fromkeys(row["story_id"] for row in matches))
            exhausted = wanted is None or len(matches) < wanted
            if exhausted or (limit and len(story_ids) >= limit):
                break
            wanted *= 4
        story_ids = story_ids[:limit] if limit else story_ids
        members: dict[int, list[dict[str, Any]]] = {}
        for chunk in _chunks(story_ids, CHUNK):
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(
                f"SELECT * FROM articles WHERE story_id IN ({marks})", list(chunk)
            ):
                members.setdefault(row["story_id"], []).append(_decode(row))
        stories = []
        for story_id in story_ids:
            group = members[story_id]
            story = dict(representative(group))
            story["articles"] = len(group)
            story["sources"] = sorted({m["source"] for m in group})
            story["article_ids"] = sorted(m["id"] for m in group)
            stories.append(story)
        return stories

    def count_articles(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM articles").fetchone()[0])

    def article_topics(self) -> list[str]:
        """Every topic slug in use."""
        return [
            row[0]
            for row in self.conn.execute("SELECT DISTINCT topic FROM article_topics ORDER BY 1")
        ]

    def source_article_count(self, source: str) -> int:
        sql = "SELECT count(*) FROM articles WHERE source = ?"
        return int(self.conn.execute(sql, (source,)).fetchone()[0])

    # -- topics and stories (feeds) --------------------------------------------------------

    def retag(self, tagger: Tagger, *, batch: int = 5000) -> int:
        """Recompute every article's topics with ``tagger`` (after a rule change); returns how
        many articles' topics changed."""
        changed = 0
        last_id = 0
        while True:
            rows = list(
                self.db.query(
                    "SELECT id, source, title, snippet, topics FROM articles WHERE id > ? "
                    "ORDER BY id LIMIT ?",
                    [last_id, batch],
                )
            )
            if not rows:
                return changed
            last_id = rows[-1]["id"]
            updates = []
            for row in rows:
                topics = tagger(row)
                if topics != json.loads(row["topics"] or "[]"):
                    updates.append((row["id"], topics))
            if updates:
                with self.write() as conn:
                    conn.executemany(
                        "UPDATE articles SET topics = ? WHERE id = ?",
                        [(json.dumps(t, ensure_ascii=False), i) for i, t in updates],
                    )
                    _sync_topics(conn, updates)
                changed += len(updates)

    def feed_story_articles(
        self, story_ids: Iterable[int], *, exclude: Iterable[int] = ()
    ) -> dict[int, list[FeedArticle]]:
        """The articles of these stories, by story_id, except the ids in ``exclude`` (those the
        caller already holds), as much of each as a feed shows (:class:`FeedArticle`, topics as
        the stored JSON text): named tuples as SQLite gives them, no dictionary built and no
        JSON decoded per row."""
        members: dict[int, list[FeedArticle]] = {}
        columns = ", ".join(FeedArticle._fields)
        make = FeedArticle._make
        skip = set(exclude)  # (in Python: no statement with a variable per excluded id)
        for chunk in _chunks(list(dict.fromkeys(story_ids)), CHUNK):
            sql = f"SELECT {columns} FROM articles WHERE story_id IN ({','.join('?' * len(chunk))})"
            for row in map(make, self.conn.execute(sql, chunk).fetchall()):
                if row.id in skip:
                    continue
                found = members.get(row.story_id)
                if found is None:
                    members[row.story_id] = [row]
                else:
                    found.append(row)
        return members

    def recent_articles(self, since: str, *, split_only: bool = False) -> list[tuple[Any, ...]]:
        """What a digest needs to place every article dated ``since`` or later, as narrow
        tuples: (id, story_id, source, cut, published_at, first_seen_at, topics), ``cut`` the
        title's cut marker (``_CUT_SQL``, the SQL mirror of :func:`aggregator.text.is_truncated`)
        and topics the stored JSON text. ``split_only``: only the articles of stories that also
        have articles dated before ``since`` (the ones :meth:`digest_stories` cannot place from
        ``story_summary``)."""
        columns = (
            f"a.id, a.story_id, a.source, {_CUT_SQL}, a.published_at, a.first_seen_at, a.topics"
        )
        if not split_only:
            sql = f"SELECT {columns} FROM articles a WHERE {_NEWEST} >= ?"
            return self.conn.execute(sql, (since,)).fetchall()
        # those stories first (a few index entries), then their articles by story: CROSS JOIN
        # keeps SQLite from walking every recent article instead
        sql = (
            f"SELECT {columns} FROM story_summary s CROSS JOIN articles a "
            "ON a.story_id = s.story_id WHERE s.newest >= ? AND s.oldest < ? "
            "AND coalesce(a.published_at, a.first_seen_at) >= ?"
        )
        return self.conn.execute(sql, (since, since, since)).fetchall()

    def digest_stories(self, since: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """What a digest needs to place every story with an article dated ``since`` or later:
        the stories whose articles are all that recent, from ``story_summary`` as (sources,
        rep_when, rep_id, rep_topics) — one narrow row per story, read from the
        ``story_summary_newest`` index —, and the recent articles of the others (the stories
        that began before ``since``), as :meth:`recent_articles` reads them, so that the caller
        places those on what they have since then."""
        whole = self.conn.execute(
            "SELECT sources, rep_when, rep_id, rep_topics FROM story_summary "
            "WHERE newest >= ? AND oldest >= ?",
            (since, since),
        ).fetchall()
        return whole, self.recent_articles(since, split_only=True)

    def digest_links(self, ids: Iterable[int]) -> dict[int, tuple[str, str, str, int]]:
        """(title, canonical_url, source, story_id) of these articles, by id."""
        found: dict[int, tuple[str, str, str, int]] = {}
        for chunk in _chunks(list(dict.fromkeys(ids)), CHUNK):
            marks = ",".join("?" * len(chunk))
            sql = (
                "SELECT id, title, canonical_url, source, story_id FROM articles "
                f"WHERE id IN ({marks})"
            )
            for article_id, *values in self.conn.execute(sql, chunk):
                found[article_id] = tuple(values)  # type: ignore[assignment]
        return found

    def story_sources(self, story_ids: Iterable[int], since: str) -> dict[int, list[str]]:
        """The source of each article dated ``since`` or later of these stories, in id order,
        by story_id."""
        found: dict[int, list[str]] = {}
        for chunk in _chunks(list(dict.fromkeys(story_ids)), CHUNK):
            marks = ",".join("?" * len(chunk))
            sql = (
                f"SELECT story_id, source FROM articles a WHERE story_id IN ({marks}) "
                f"AND {_NEWEST} >= ? ORDER BY id"
            )
            for story_id, source in self.conn.execute(sql, [*chunk, since]):
                found.setdefault(story_id, []).append(source)
        return found

    def newest_stamp_before(self, before: str) -> str | None:
        """The newest article date (``coalesce(published_at, first_seen_at)``) earlier than
        ``before``, or None: one probe of the ``articles_newest`` index."""
        row = self.conn.execute(
            "SELECT coalesce(published_at, first_seen_at) AS stamp FROM articles "
            "WHERE coalesce(published_at, first_seen_at) < ? ORDER BY stamp DESC LIMIT 1",
            (before,),
        ).fetchone()
        return None if row is None else str(row[0])

    def feed_version(self) -> int:
        """A counter that moves whenever something a feed shows changed (see FEED_COLUMNS)."""
        return int(self.conn.execute("SELECT version FROM feed_version").fetchone()[0])

    def source_titles(self) -> dict[str, str]:
        """Source name -> title (the name when no title is known)."""
        # Every source that has articles, by a skip-scan of the source index (one probe per
        # source, not a scan of every article), then the configured titles.
        found = self.conn.execute(
            "WITH RECURSIVE names(name) AS (SELECT min(source) FROM articles UNION ALL "
            "SELECT (SELECT min(source) FROM articles WHERE source > names.name) FROM names "
            "WHERE names.name IS NOT NULL) SELECT name FROM names WHERE name IS NOT NULL"
        )
        titles = {name: name for (name,) in found}
        for name, title in self.conn.execute("SELECT name, title FROM sources"):
            titles[name] = title or name
        return titles

    def source_names(self) -> list[str]:
        return [
            row[0] for row in self.conn.execute("SELECT DISTINCT source FROM articles ORDER BY 1")
        ]

    # -- sources and runs ------------------------------------------------------------------

    def sync_sources(self, sources: Iterable[Any]) -> None:
        """Insert or refresh the configured sources' descriptive columns (health is kept)."""
        with self.write() as conn:
            conn.executemany(
                "INSERT INTO sources (name, title, kind, url) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET title = excluded.title, kind = excluded.kind, "
                "url = excluded.url",
                [(s.name, s.title, s.kind, s.url) for s in sources],
            )

    def record_source_run(
        self,
        name: str,
        *,
        ok: bool,
        new: int,
        error: str | None,
        now: datetime | None = None,
        items: int | None = None,
        retry_after: float | None = None,
        backoff_base: timedelta | None = None,
        backoff_max: timedelta | None = None,
        warning: str | None = None,
    ) -> None:
        """Update a source's health after a run. ``warning`` is kept as ``last_error`` of a run
        that gave items (some of its pages gave none). ``consecutive_empty`` counts runs whose pages
        gave no items (``items``; without it, no new items); such a run keeps its ``error``.
        A failure also sets ``failing_since`` (when the failures began) and ``next_attempt_at``
        (exponential backoff from ``backoff_base`` capped at ``backoff_max``, or the server's
        ``retry_after`` seconds when longer); a success clears both, except that a success with
        a ``retry_after`` (one URL of several answered 429/503) is not due before it."""
        from aggregator.health import BACKOFF_BASE, BACKOFF_MAX, next_attempt

        base, cap = backoff_base or BACKOFF_BASE, backoff_max or BACKOFF_MAX

        moment = now or utc_now()
        stamp = to_utc_string(moment)
        found = new if items is None else items
        polite = None  # a working source asked to wait by one of its URLs
        if ok and retry_after:
            polite = to_utc_string(next_attempt(0, moment, retry_after, base, cap))
        with self.write() as conn:
            if ok:
                conn.execute(
                    "UPDATE sources SET last_run_at = ?, last_ok_at = ?, "
                    "last_new_at = CASE WHEN ? > 0 THEN ? ELSE last_new_at END, "
                    "consecutive_failures = 0, "
                    "consecutive_empty = CASE WHEN ? > 0 THEN 0 ELSE consecutive_empty + 1 END, "
                    "last_error = CASE WHEN ? > 0 THEN ? ELSE ? END, "
                    "failing_since = NULL, next_attempt_at = ? WHERE name = ?",
                    (stamp, stamp, new, stamp, found, found, warning, error, polite, name),
                )
            else:
                current = conn.execute(
                    "SELECT consecutive_failures FROM sources WHERE name = ?", (name,)
                ).fetchone()
                failures = (current[0] if current else 0) + 1
                due = to_utc_string(next_attempt(failures, moment, retry_after, base, cap))
                conn.execute(
                    "UPDATE sources SET last_run_at = ?, "
                    "consecutive_failures = consecutive_failures + 1, last_error = ?, "
                    "failing_since = coalesce(failing_since, ?), next_attempt_at = ? "
                    "WHERE name = ?",
                    (stamp, error, stamp, due, name),
                )

    def sources(self) -> list[dict[str, Any]]:
        """Every source row with its article count."""
        return list(
            self.db.query(
                "SELECT sources.*, (SELECT count(*) FROM articles WHERE articles.source = "
                "sources.name) AS articles FROM sources ORDER BY name"
            )
        )

    def start_run(self, now: datetime | None = None) -> int:
        with self.write() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (started_at, status) VALUES (?, 'running')",
                (to_utc_string(now or utc_now()),),
            )
        return int(cursor.lastrowid or 0)

    def finish_run(
        self, run_id: int, status: str, stats: dict[str, Any], now: datetime | None = None
    ) -> None:
        with self.write() as conn:
            conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, stats = ? WHERE id = ?",
                (
                    to_utc_string(now or utc_now()),
                    status,
                    json.dumps(stats, ensure_ascii=False),
                    run_id,
                ),
            )

    def last_run_started_at(self) -> str | None:
        """When the latest finished run started: its new articles have this ``first_seen_at``."""
        found = self.conn.execute(
            "SELECT started_at FROM runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return found[0] if found else None

    def last_run(self) -> dict[str, Any] | None:
        """The latest run's id, started_at, finished_at and status (None before the first)."""
        found = self.conn.execute(
            "SELECT id, started_at, finished_at, status FROM runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if found is None:
            return None
        return dict(zip(("id", "started_at", "finished_at", "status"), found, strict=True))

    # -- upkeep ----------------------------------------------------------------------------

    def prune(self, before: str) -> dict[str, int]:
        """Delete articles dated (``published_at``, else ``first_seen_at``) and last seen before
        ``before``, runs started before it and pages not seen since. The near-duplicate index
        drops the pruned articles and every whole time slot older than the oldest article it
        still holds (:func:`_first_needed_slot`): whatever the clustering window, such a slot
        holds only pruned ids. Returns counts per table (``dedupe_groups``: the index's group rows
        deleted)."""
        old = "coalesce(published_at, first_seen_at) < ? AND last_seen_at < ?"
        with self.write() as conn:
            # out of the near-duplicate index too (its buckets skip ids it no longer holds), so a
            # new article cannot join the story of articles that are gone
            conn.execute(
                "DELETE FROM dedupe_texts WHERE article_id IN "
                f"(SELECT id FROM articles WHERE {old})",
                (before, before),
            )
            first = _first_needed_slot(conn)
            if first is None:  # no article left in the index: nothing in it is needed
                index_rows = conn.execute("DELETE FROM dedupe_groups").rowcount
                conn.execute("DELETE FROM dedupe_parts")
            else:
                index_rows = conn.execute(
                    "DELETE FROM dedupe_groups WHERE group_key < ?", (slot_group_bounds(first)[0],)
                ).rowcount
                conn.execute("DELETE FROM dedupe_parts WHERE slot < ?", (first,))
            counts = {
                "articles": conn.execute(
                    f"DELETE FROM articles WHERE {old}", (before, before)
                ).rowcount,
                "runs": conn.execute("DELETE FROM runs WHERE started_at < ?", (before,)).rowcount,
                "pages": conn.execute("DELETE FROM pages WHERE seen_at < ?", (before,)).rowcount,
                "dedupe_groups": index_rows,
            }
            count_index_change(conn)  # another process's clusterer reads the index afresh
        self.__dict__.pop("_recent", None)  # what clustering cached of the pruned articles
        self.__dict__.pop("_index_cache", None)
        self.conn.execute("PRAGMA optimize")
        return counts

    def backup(self, target: str | Path) -> Path:
        """A consistent, compacted copy of the database (``VACUUM INTO``), safe during a crawl."""
        path = Path(target)
        if path.exists():
            raise StoreError(f"{path}: already exists; back up to a new file")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn.execute("VACUUM INTO ?", (str(path),))
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: backup failed: {exc}") from None
        return path

    def schema_sql(self) -> str:
        """The schema as SQL (tables, indexes, views, triggers; not FTS5's own shadow tables)."""
        rows = self.conn.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "AND name NOT LIKE 'articles_fts_%' ORDER BY CASE type WHEN 'table' THEN 0 "
            "WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, tbl_name, name"
        )
        return "".join(_tidy_sql(sql) + ";\n" for (sql,) in rows)

    def quick_check(self) -> list[str]:
        """``PRAGMA quick_check``: an empty list when the file is sound, else SQLite's findings."""
        try:
            found = [row[0] for row in self.conn.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return [] if found == ["ok"] else found

    @staticmethod
    def probe_write(path: str | Path, timeout_ms: int = 2000) -> str | None:
        """Take and release the write lock of an existing file without changing anything: None
        when it is writable, else why not ("database is locked": a run is writing right now)."""
        uri = Path(path).resolve().as_uri() + "?mode=rw"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout_ms / 1000)
        except sqlite3.Error as exc:
            return str(exc)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            return str(exc)
        finally:
            conn.close()
        return None

    def checkpoint(self) -> None:
        """After a run: fold the WAL back into the main file and let SQLite refresh statistics."""
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self.conn.execute("PRAGMA optimize")


def _tidy_sql(sql: str) -> str:
    """Stored SQL with the indentation of the Python source it came from removed."""
    lines = [line.rstrip() for line in sql.strip().splitlines()]
    body = [line for line in lines[1:] if line.strip()]
    indent = min((len(line) - len(line.lstrip()) for line in body), default=0)
    return "\n".join([lines[0], *(line[indent:] for line in body)])


def _sync_topics(conn: sqlite3.Connection, rows: Sequence[tuple[int, list[str]]]) -> None:
    """Make ``article_topics`` hold exactly these articles' topics."""
    for chunk in _chunks(rows, CHUNK):
        marks = ",".join("?" * len(chunk))
        conn.execute(
            f"DELETE FROM article_topics WHERE article_id IN ({marks})", [i for i, _ in chunk]
        )
    conn.executemany(
        "INSERT OR IGNORE INTO article_topics (article_id, topic) VALUES (?, ?)",
        [(article_id, topic) for article_id, topics in rows for topic in topics],
    )


def _new_members(conn: sqlite3.Connection, ids: Sequence[int]) -> list[Member]:
    """New articles by id, fingerprinted (with index keys) for clustering (in id order). A batch
    of new articles is usually one run of ids: then read by one range scan of the table."""
    ids = list(ids)
    columns = "SELECT id, story_id, title, coalesce(published_at, first_seen_at) FROM articles"
    if ids and ids == list(range(ids[0], ids[0] + len(ids))):
        rows = conn.execute(
            f"{columns} WHERE id BETWEEN ? AND ? ORDER BY id", (ids[0], ids[-1])
        ).fetchall()
    else:
        rows = conn.execute(
            f"{columns} WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            (json.dumps(ids),),
        ).fetchall()
    prints = fingerprints([row[2] for row in rows])
    times = timestamps([row[3] for row in rows])
    return [
        Member(id, story_id, title, when, fp)
        for (id, story_id, title, _), when, fp in zip(rows, times, prints, strict=True)
    ]


def _known_members(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, Member]:
    """Clustered articles by id, as filed (a stored article never changes story)."""
    return {
        id: Member(id, story_id, title, seen, Fingerprint(text, bool(cut), bool(latin), nums))
        for id, story_id, seen, nums, cut, latin, text, title in conn.execute(
            "SELECT d.article_id, d.story_id, d.seen, d.nums, d.cut, d.latin, d.text, d.title "
            "FROM json_each(?) AS j CROSS JOIN dedupe_texts AS d ON d.article_id = j.value",
            (json.dumps(sorted(set(ids))),),
        )
    }


def _first_needed_slot(conn: sqlite3.Connection) -> int | None:
    """The oldest time slot an article still in the near-duplicate index was filed under (the
    slot of its ``seen``), or None when it holds none; 0 (keep every slot) when one has no
    ``seen``: it was filed under the time it was clustered, which is not kept."""
    oldest, untimed, held = conn.execute(
        "SELECT min(seen), count(*) - count(seen), count(*) FROM dedupe_texts"
    ).fetchone()
    if not held:
        return None
    if untimed:
        return 0
    return int(time_slots(np.array([float(oldest)]), 0.0)[0])


def _filled_slots(conn: sqlite3.Connection, low: int, high: int, parts: bool = False) -> np.ndarray:
    """The time slots from ``low`` to ``high`` in which the index holds something (with
    ``parts``, schema 22 on: in its groups or its parts): a primary-key probe per slot found (and
    one more), skipping the empty ones."""
    found: list[int] = []
    slot = low
    while slot <= high:
        first = conn.execute(
            "SELECT min(group_key) FROM dedupe_groups WHERE group_key BETWEEN ? AND ?",
            (slot_group_bounds(slot)[0], slot_group_bounds(high)[1]),
        ).fetchone()[0]
        if first is not None:
            first >>= GROUP_SLOT_SHIFT
        if parts:
            parted = conn.execute(
                "SELECT min(slot) FROM dedupe_parts WHERE slot BETWEEN ? AND ?",
                (slot, high if first is None else first - 1),
            ).fetchone()[0]
            first = parted if parted is not None else first
        if first is None:
            break
        found.append(first)
        slot = found[-1] + 1
    return np.array(found, dtype=np.int64)


# A slot of which a batch needs at least half the groups is read whole, by one range scan (about
# half the cost a row of a primary-key probe a group: a benchmark batch of 2,000 needs them all);
# a small batch (a cron crawl's 50 articles need ~280 groups a slot) probes its groups.
DENSE_SLOT_GROUPS = (1 << GROUP_SLOT_SHIFT) // 2


# A batch filing into a time slot that holds this many keys or more stores what it filed there
# as a part (``dedupe_parts``) instead of rewriting the groups it files into, as long as the slot
# has fewer than FOLD_PARTS - 1 parts; else it rewrites the slot's groups whole and deletes its
# parts (a "fold"). A batch of 2,000 benchmark articles files ~12,000 ids under ~10,000 keys
# of a slot holding up to ~70,000: a part is ~150 KB where the groups are ~1.2 MB.
PART_MIN_KEYS = 20_000
FOLD_PARTS = 8
# ... and only when it files into half the slot's groups or more (a batch of 2,000 files into
# all of them): a small batch's part would save little writing, and each process that reads the
# slot afresh (a cron crawl's, every run) applies every part, a pass over the slot each.
PART_MIN_GROUPS = (1 << GROUP_SLOT_SHIFT) // 2
# A clusterer holds at most this many slots between batches, the newest (a crawl probes two; a
# batch of old articles from many slots reads them all, and the next one reads them again).
HELD_SLOTS = 8


@dataclass
class IndexWrites:
    """What a batch writes to the index: group rows, part rows, and the slots whose parts go
    (their groups rewritten whole)."""

    rows: list[GroupRow]
    parts: list[PartRow] = field(default_factory=list)
    folded: list[int] = field(default_factory=list)


class IndexCache:
    """What a clusterer read of the near-duplicate index, kept for its next batches: the
    buckets of whole time slots, decoded (their groups with their parts applied), with what it
    filed since. A crawl's batches probe the same two slots again and again, so each reads the
    store only for a slot it has not seen; a batch's cost then no longer includes reading and
    decoding a slot's rows. A small batch (:data:`DENSE_SLOT_GROUPS`) reads only the groups it
    needs of a slot with no part, and then nothing is held after it.

    It holds while the index is only written by this clusterer: ``dedupe_version.n`` counts
    the changes of every writer (:func:`count_index_change`), and a count it did not cause
    drops everything held."""

    def __init__(self) -> None:
        self.version: int | None = None
        self.held = Buckets.of_arrays(*(np.zeros(0, dtype=np.int64),) * 3)
        self.slots: list[int] = []  # the slots held, ascending (a slot held may have no key)
        # each slot held: how many parts it has stored, and the next part's seq
        self.parts: dict[int, tuple[int, int]] = {}
        self.pending: tuple[Buckets, list[int], dict[int, tuple[int, int]]] | None = None
        self.partial = False  # some slot of the last read read in part: none held after it

    def buckets(self, conn: sqlite3.Connection, keys: np.ndarray) -> Buckets:
        """The buckets of every slot these keys fall in: those held, the others read from the
        store (:func:`_read_slot`: whole, or only the groups a small batch needs; a damaged row
        reads as empty, with a log line)."""
        version = index_count(conn)
        if version != self.version:
            self.clear()
            self.version = version
        groups = distinct(key_groups(keys))
        wanted = distinct(groups >> GROUP_SLOT_SHIFT).tolist()
        held = {slot: at for at, slot in enumerate(self.slots)}
        self.partial = False
        pieces: list[Buckets] = []
        run: list[int] = []  # slots held one after the other: one view of the held arrays
        for slot in wanted:
            if run and held.get(slot) == held[run[-1]] + 1:
                run.append(slot)
                continue
            if run:
                pieces.append(self._view(run))
                run = []
            if slot in held:
                run.append(slot)
            else:
                first, last = slot_group_bounds(slot)
                low, high = np.searchsorted(groups, first), np.searchsorted(groups, last, "right")
                read, self.parts[slot], whole = _read_slot(conn, slot, groups[low:high])
                self.partial |= not whole
                pieces.append(read)
        if run:
            pieces.append(self._view(run))
        self.pending = None
        self.held, self.slots = Buckets.joined(pieces), wanted
        self.parts = {slot: self.parts.get(slot, (0, 0)) for slot in wanted}
        return self.held

    def _view(self, slots: list[int]) -> Buckets:
        """The held buckets of these slots, held one after the other (no other slot held
        between them)."""
        return self.held.part(*slot_span(self.held.keys, slots[0], slots[-1]))

    def writes(self, filing: Filing, held: Buckets) -> IndexWrites:
        """What to store of a batch's filing, slot by slot (``held``: the buckets once filed,
        kept as pending until the batch is stored): the groups it files into rewritten, a part
        (a large slot with room for one: :data:`PART_MIN_KEYS`), or the slot's every group
        rewritten and its parts deleted (a fold)."""
        writes = IndexWrites([])
        counts = dict(self.parts)
        self.pending = (held, self.slots, counts)
        if not len(filing.keys):
            return writes
        slots = filing.keys >> SLOT_SHIFT
        starts = np.flatnonzero(np.r_[True, slots[1:] != slots[:-1]])
        ends = np.r_[starts[1:], len(slots)]
        before = self.held.keys
        for slot, low, high in zip(
            slots[starts].tolist(), starts.tolist(), ends.tolist(), strict=True
        ):
            held_from, held_to = slot_span(before, slot, slot)
            size = held_to - held_from
            stored, seq = counts.get(slot, (0, 0))
            groups = distinct(key_groups(filing.keys[low:high]))
            if size >= PART_MIN_KEYS and len(groups) >= PART_MIN_GROUPS and stored < FOLD_PARTS - 1:
                part = Filing(*(a[low:high] for a in (filing.keys, filing.length, filing.taken)),
                              filing.ids[_id_span(filing, low, high)])  # fmt: skip
                writes.parts.append(pack_part(slot, seq, part))
                counts[slot] = (stored + 1, seq + 1)
            elif stored:
                lo, hi = slot_group_bounds(slot)
                writes.rows += held_rows(held, np.arange(lo, hi + 1, dtype=np.int64))
                writes.folded.append(slot)
                counts[slot] = (0, 0)
            else:
                writes.rows += held_rows(held, groups)
        return writes

    def stored(self, version: int) -> None:
        """The batch is stored and ``version`` is the index's count before it: keep what it
        filed, or (another writer counted since this read) nothing."""
        if self.pending is None or version != self.version or self.partial:
            self.clear()
            return
        self.held, self.slots, self.parts = self.pending
        self.pending = None
        self.version = version + 1  # the batch's own count
        if len(self.slots) > HELD_SLOTS:  # (a batch of old articles from many slots)
            self.slots = self.slots[-HELD_SLOTS:]
            kept = self.held.part(*slot_span(self.held.keys, self.slots[0], self.slots[-1]))
            self.held = Buckets.of_arrays(kept.keys.copy(), kept.counts.copy(), kept.ids.copy())
            self.parts = {slot: self.parts.get(slot, (0, 0)) for slot in self.slots}

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]


def _id_span(filing: Filing, low: int, high: int) -> slice:
    """The ids of the filing's keys from ``low`` up to ``high``."""
    before = int(filing.taken[:low].sum())
    return slice(before, before + int(filing.taken[low:high].sum()))


def _read_slot(
    conn: sqlite3.Connection, slot: int, groups: np.ndarray | None = None, parts: bool = True
) -> tuple[Buckets, tuple[int, int], bool]:
    """A time slot's buckets as stored (its groups, its parts applied in order), how many parts
    it has, the seq a next one takes, and whether the slot was read whole. Given the ``groups``
    a batch needs of it, a slot with no part of which they are fewer than
    :data:`DENSE_SLOT_GROUPS` (a cron crawl's) has only those read, by a primary-key probe each.
    A damaged group reads as empty and a damaged part as nothing filed, with a log line naming
    it. Without ``parts`` (a schema before 22) the slot's groups only."""
    rows = (
        conn.execute(
            "SELECT slot, seq, keys, lengths, taken, ids FROM dedupe_parts WHERE slot = ? "
            "ORDER BY seq",
            (slot,),
        ).fetchall()
        if parts
        else []
    )
    whole = bool(rows) or groups is None or len(groups) >= DENSE_SLOT_GROUPS
    read = Buckets.from_groups(
        _slot_rows(conn, slot) if whole or groups is None else _group_rows(conn, groups)
    )
    _log_damaged(read)
    for row in rows:
        filing = unpack_part(row)
        if filing is None:
            log.warning(
                "near-duplicate index: dedupe_parts row (%d, %r) is damaged; read as nothing "
                "filed (deleted when the slot is next rewritten)",
                slot,
                row[1],
            )
            continue
        read = apply_filing(read, filing)
    seqs = [row[1] for row in rows if isinstance(row[1], int)]
    return read, (len(rows), max(seqs, default=-1) + 1), bool(whole)


def _log_damaged(buckets: Buckets) -> None:
    for group in buckets.damaged:
        log.warning(
            "near-duplicate index: dedupe_groups row %d is damaged; read as empty "
            "(rewritten when next filed into)",
            group,
        )


def _read_buckets(conn: sqlite3.Connection, keys: np.ndarray) -> Buckets:
    """What the index holds in the groups of these keys: every group of a slot the keys need
    :data:`DENSE_SLOT_GROUPS` groups of or more, by a range scan, and the other groups by one
    query, one primary-key probe each, in group order (no temporary index of them, no sort);
    every row decoded at once (:meth:`Buckets.from_groups`). A damaged row reads as empty,
    with a log line naming it."""
    groups = distinct(key_groups(keys))
    slots, count = np.unique(groups >> GROUP_SLOT_SHIFT, return_counts=True)
    dense = count >= DENSE_SLOT_GROUPS
    rows: list[GroupRow] = []
    for slot in slots[dense].tolist():
        rows += _slot_rows(conn, slot)
    rows += _group_rows(conn, groups[~np.repeat(dense, count)])
    buckets = Buckets.from_groups(rows)  # (sorted there when the parts are not in order)
    _log_damaged(buckets)
    return buckets


def _slot_rows(conn: sqlite3.Connection, slot: int) -> list[GroupRow]:
    """Every ``dedupe_groups`` row of a time slot, by one range scan."""
    return conn.execute(
        "SELECT group_key, keys, counts, ids FROM dedupe_groups WHERE group_key BETWEEN ? AND ?",
        slot_group_bounds(slot),
    ).fetchall()


def _group_rows(conn: sqlite3.Connection, groups: np.ndarray) -> list[GroupRow]:
    """The ``dedupe_groups`` rows of these groups (ascending), by one query, a primary-key probe
    each, in group order (no temporary index of them, no sort)."""
    if not len(groups):
        return []
    return conn.execute(
        "SELECT d.group_key, d.keys, d.counts, d.ids FROM json_each(?) AS j "
        "CROSS JOIN dedupe_groups AS d ON d.group_key = j.value",
        (json.dumps(groups.tolist()),),
    ).fetchall()


def stored_buckets(conn: sqlite3.Connection) -> Iterator[tuple[int, list[int]]]:
    """Every bucket of the near-duplicate index, in key order: ``(key, ids oldest first)``,
    slot by slot as a clusterer reads it (:func:`_read_slot`: its groups, its parts applied; a
    damaged group holds none)."""
    parted = (
        conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'dedupe_parts'").fetchone()
        is not None
    )
    slot = 0
    while True:
        first = conn.execute(
            "SELECT min(group_key) FROM dedupe_groups WHERE group_key >= ?",
            (slot_group_bounds(slot)[0],),
        ).fetchone()[0]
        found = [] if first is None else [first >> GROUP_SLOT_SHIFT]
        if parted:
            (parts_from,) = conn.execute(
                "SELECT min(slot) FROM dedupe_parts WHERE slot >= ?", (slot,)
            ).fetchone()
            found += [] if parts_from is None else [parts_from]
        if not found:
            return
        slot = min(found)  # the next slot holding something
        buckets, _, _ = _read_slot(conn, slot, parts=parted)
        ids = buckets.ids.tolist()
        for key, start, count in zip(
            buckets.keys.tolist(), buckets.starts.tolist(), buckets.counts.tolist(), strict=True
        ):
            yield key, ids[start : start + count]
        if slot >= SLOT_LIMIT:
            return
        slot += 1


def _assign_stories(
    conn: sqlite3.Connection, ids: Sequence[int], options: DedupeOptions
) -> ClusterStats:
    """Cluster the articles ``ids`` (new) against the index, in an open write transaction: what
    schema 12's upgrade runs (reading each batch's groups afresh and rewriting those it files
    into; the index has no parts then)."""
    started = time.perf_counter()
    new, result, rows, _filed = _plan_stories(conn, ids, options)
    _write_stories(conn, new, result, rows)
    result.stats.seconds = time.perf_counter() - started
    return result.stats


def _plan_stories(
    conn: sqlite3.Connection,
    ids: Sequence[int],
    options: DedupeOptions,
    recent: RecentAttributes | None = None,
    cache: IndexCache | None = None,
) -> tuple[
    list[Member],
    BatchResult,
    IndexWrites,
    tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
]:
    """Read what clustering the articles ``ids`` needs, decide their stories and the index rows
    they leave, and give the new articles' :func:`_attributes` (for ``recent`` once stored).
    ``recent`` holds what the process knows of recently filed articles.

    One query reads every bucket the batch probes; the shortlists are computed in arrays; one
    query reads the shortlisted articles' times, cut flags and decisive-token bits, which refuse
    most pairs (:func:`aggregator.dedupe.prefilter`); only the pairs left are verified in
    :func:`aggregator.dedupe.cluster_batch`, with the texts of those articles and their founders.
    """
    recent = recent or RecentAttributes(0)
    new = _new_members(conn, ids)  # in id order
    attributes = _attributes(new)
    new_ids, new_when, new_bloom, new_cut = attributes
    now = time.time()
    low, high = probe_slot_range(new_when, options, now)
    filled = _filled_slots(
        conn, int(low.min(initial=0)), int(high.max(initial=0)), parts=cache is not None
    )
    keys = batch_keys([m.fingerprint for m in new], options, new_when, filled, now)
    # the groups the batch probes and those it files into (rewritten whole)
    needed = np.concatenate([keys.probe_keys, keys.distinct])
    buckets = _read_buckets(conn, needed) if cache is None else cache.buckets(conn, needed)
    owner, other = shortlist_batch(keys, buckets, options)
    candidates, at = distinct_inverse(other)  # at: where each shortlisted article is in it
    present, seen, nums, cut = recent.get(candidates)
    found = conn.execute(  # those the process does not hold: from the store, one probe each
        "SELECT d.article_id, d.seen, d.nums, d.cut FROM json_each(?) AS j "
        "CROSS JOIN dedupe_texts AS d ON d.article_id = j.value",
        (json.dumps(candidates[~present].tolist()),),
    ).fetchall()
    if found:
        columns = [np.array(column) for column in zip(*found, strict=True)]
        found_ids, found_seen = columns[0], columns[1].astype(np.float64)  # None is NaN
        found_cut = columns[3].astype(bool)
        recent.add(found_ids, found_seen, columns[2], found_cut)
        slot = np.searchsorted(candidates, found_ids)
        present[slot] = True
        seen[slot], nums[slot], cut[slot] = found_seen, columns[2], found_cut
    kept = present[at]  # a shortlisted article deleted since is no candidate
    keep = kept & prefilter(
        new_when[owner], new_bloom[owner], new_cut[owner],
        seen[at], nums[at], cut[at], options,
    )  # fmt: skip
    later, earlier = local_shortlist_batch(keys, options)
    keep_local = prefilter(
        new_when[later], new_bloom[later], new_cut[later],
        new_when[earlier], new_bloom[earlier], new_cut[earlier], options,
    )  # fmt: skip
    refused = int(kept.sum() - keep.sum() + len(keep_local) - keep_local.sum())
    ids_of = [m.id for m in new]
    shortlists = _by_owner(new_ids[owner[keep]], other[keep])
    local_shortlists = _by_owner(new_ids[later[keep_local]], new_ids[earlier[keep_local]])
    known = _known_members(conn, other[keep].tolist())
    founders = {m.story_id for m in known.values()} - set(known) - set(ids_of)
    known.update(_known_members(conn, founders))
    result = cluster_batch(new, known, options, shortlists, local_shortlists)
    if cache is None:
        rows, capped = file_batch(keys, ids_of, buckets, options)
        writes = IndexWrites(rows)
    else:
        filing, capped, held = file_batch_held(keys, ids_of, buckets, options)
        writes = cache.writes(filing, held)
    result.stats.capped += capped
    result.stats.candidates += refused
    result.stats.rejected += refused
    return new, result, writes, attributes


def _by_owner(owner: np.ndarray, other: np.ndarray) -> dict[int, list[int]]:
    """Aligned arrays of pairs as lists by owner, each in the pairs' order (slices of one list,
    the pairs ordered by owner first when they are not, as the shortlists give them)."""
    if not len(owner):
        return {}
    if (owner[1:] < owner[:-1]).any():
        order = np.argsort(owner, kind="stable")
        owner, other = owner[order], other[order]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    bounds = [*starts.tolist(), len(owner)]
    others = other.tolist()
    return {
        key: others[low:high]
        for key, low, high in zip(owner[starts].tolist(), bounds, bounds[1:], strict=False)
    }


def _attributes(new: Sequence[Member]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ids, times, decisive-token bits and cut flags of members, as arrays."""
    count = len(new)
    return (
        np.fromiter([m.id for m in new], dtype=np.int64, count=count),
        np.array([m.when for m in new], dtype=np.float64),  # None is NaN
        np.fromiter([m.fingerprint.bloom for m in new], dtype=np.int64, count=count),
        np.fromiter([m.fingerprint.cut for m in new], dtype=bool, count=count),
    )


DEDUPE_TEXT_COLUMNS = "article_id, story_id, seen, nums, cut, latin, text, title"


def dedupe_text_row(m: Member) -> tuple[Any, ...]:
    """A clustered article's ``dedupe_texts`` row (:data:`DEDUPE_TEXT_COLUMNS`): what a later
    batch verifies against without re-fingerprinting (the title only for English, whose name
    rules read capitals)."""
    fp = m.fingerprint
    title = m.title if fp.latin else ""
    return (m.id, m.story_id, m.when, fp.bloom, int(fp.cut), int(fp.latin), fp.text, title)


def _write_stories(
    conn: sqlite3.Connection,
    new: Sequence[Member],
    result: BatchResult,
    writes: IndexWrites,
    *,
    set_based: bool = False,
) -> int | None:
    """Store what :func:`_plan_stories` decided: stories, index rows and parts, normalised
    texts. With ``set_based`` (schema 22 on), the moves keep ``story_summary`` themselves
    (:func:`_move_articles`), and the batch counts as one change of the index
    (``dedupe_version``, :class:`IndexCache`): returns the count before it."""
    if result.stories:
        moves = [(story, article) for article, story in result.stories.items()]
        if set_based:
            _move_articles(conn, moves)
        else:
            conn.executemany("UPDATE articles SET story_id = ? WHERE id = ?", moves)
    before = index_count(conn) if set_based else None
    if writes.folded:
        conn.execute(
            "DELETE FROM dedupe_parts WHERE slot IN (SELECT value FROM json_each(?))",
            (json.dumps(writes.folded),),
        )
    conn.executemany(_INSERT_GROUP, writes.rows)
    if writes.parts:
        conn.executemany(_INSERT_PART, writes.parts)
    version = count_index_change(conn, before) if set_based else None
    conn.executemany(
        f"INSERT OR REPLACE INTO dedupe_texts ({DEDUPE_TEXT_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [dedupe_text_row(m) for m in new],
    )
    return version


def _move_articles(conn: sqlite3.Connection, moves: Sequence[tuple[int, int]]) -> None:
    """Move articles to stories (``(story_id, article id)`` pairs), in an open write
    transaction, with ``story_summary`` and ``feed_version`` kept in a few statements rather
    than by a trigger program per article (:data:`_NOT_PAUSED`): the rows of the stories they
    left and joined are computed afresh from their articles (a story left empty loses its row),
    and ``feed_version`` moves by one an updated article, as the triggers would have done."""
    left = conn.execute(
        "SELECT story_id FROM articles WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps([article for _, article in moves]),),
    ).fetchall()
    conn.execute("INSERT INTO story_summary_paused (id) VALUES (1)")
    updated = conn.executemany("UPDATE articles SET story_id = ? WHERE id = ?", moves).rowcount
    _refresh_story_summaries(conn, {*(story for (story,) in left), *(s for s, _ in moves)})
    conn.execute("UPDATE feed_version SET version = version + ? WHERE id = 1", (updated,))
    conn.execute("DELETE FROM story_summary_paused")


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """The stored row updated with a new sighting, or None when nothing worth storing changed."""
    merged = dict(old)
    title, old_title = new["title"], old["title"]
    cut_new, cut_old = is_truncated(title), is_truncated(old_title)
    if title != old_title and not (
        cut_new and not cut_old and old_title.startswith(strip_cut_marker(title))
    ):
        merged["title"] = title
    snippet, old_snippet = new["snippet"], old["snippet"]
    if (
        snippet
        and snippet != old_snippet
        and not (is_truncated(snippet) and old_snippet and not is_truncated(old_snippet))
    ):
        merged["snippet"] = snippet
    if new["published_at"] and (
        old["published_at"] is None
        or (
            new["published_from"] != "fetch_time"
            and _PRECISION_RANK[new["published_precision"]]
            >= _PRECISION_RANK[old["published_precision"]]
            and (new["published_at"], new["published_precision"])
            != (old["published_at"], old["published_precision"])
        )
    ):
        merged["published_at"] = new["published_at"]
        merged["published_precision"] = new["published_precision"]
        merged["published_from"] = new["published_from"]
    flags = json.dumps(sorted(set(json.loads(old["flags"])) | set(new["flags"])))
    merged["flags"] = flags
    if not old["guid"] and new["guid"]:
        merged["guid"] = new["guid"]
    keys = ("title", "snippet", "published_at", "published_precision", "flags", "guid")
    if all(merged[k] == old[k] for k in keys):
        return None
    return merged


class FeedArticle(NamedTuple):
    """What a feed entry is made of, of one article (:meth:`Store.feed_story_articles`,
    ``aggregator.export.story_entry``)."""

    id: int
    story_id: int
    source: str
    title: str
    snippet: str | None
    canonical_url: str
    published_at: str | None
    first_seen_at: str
    language: str | None
    topics: str | None  # the stored JSON text


def _encode(row: dict[str, Any]) -> dict[str, Any]:
    record = dict(row)
    record["flags"] = json.dumps(row["flags"])
    record["topics"] = json.dumps(row["topics"], ensure_ascii=False)
    return record


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["flags"] = json.loads(row["flags"] or "[]")
    row["topics"] = json.loads(row["topics"] or "[]")
    return row


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
