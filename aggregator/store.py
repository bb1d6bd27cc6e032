"""The SQLite file: the only module that touches it.

Column names are an interface: queries, Datasette and users' own code rely on them. Writes go in
batches, each in a ``BEGIN IMMEDIATE`` transaction (so a busy database waits ``busy_timeout``
instead of failing half-way); the file is in WAL mode so readers never block the crawler.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from aggregator.dates import to_utc_string, utc_now
from aggregator.errors import StoreError
from aggregator.text import is_truncated, strip_cut_marker

BUSY_TIMEOUT_MS = 10_000
CHUNK = 500
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
    updated_at = excluded.updated_at
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


# Append only: each function upgrades the schema by one version, in order.
MIGRATIONS = (_migration_1, _migration_2)
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
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        try:
            if not readonly:
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
        return SCHEMA_VERSION

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken with ``BEGIN IMMEDIATE`` (waits for the lock up front)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # -- articles --------------------------------------------------------------------------

    def upsert_articles(
        self, rows: Sequence[dict[str, Any]], now: datetime | None = None
    ) -> UpsertResult:
        """Store normalised rows (see :func:`aggregator.normalize.normalize`) in one transaction.

        Identity: ``canonical_url``, then ``(source, guid)``. A known article keeps its id and
        ``first_seen_at``; its title, snippet and date change only for better ones (an uncut
        title is never replaced by a cut one, a precise date never by a vaguer one).
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
                    result.count(row["source"], "updated")
                    writes.append(merged)
            if writes:
                conn.executemany(_UPSERT_SQL, writes)
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
            keys = [row["canonical_url"] for row in rows]
            for chunk in _chunks(keys, CHUNK):
                marks = ",".join("?" * len(chunk))
                for stored in conn.execute(
                    f"SELECT * FROM articles WHERE canonical_url IN ({marks})", chunk
                ):
                    found[stored["canonical_url"]] = dict(stored)
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

    def page_keys(self, url: str, fingerprint: str) -> list[str] | None:
        """The article keys a page listed when it last had exactly this body, else None."""
        found = self.conn.execute(
            "SELECT article_keys FROM pages WHERE url = ? AND fingerprint = ?", (url, fingerprint)
        ).fetchone()
        return json.loads(found[0]) if found else None

    def save_pages(self, pages: Sequence[Any], now: datetime | None = None) -> None:
        """Remember pages' fingerprints and keys (:class:`aggregator.items.PageSeen`); for
        unchanged ones, mark their articles seen."""
        if not pages:
            return
        stamp = to_utc_string(now or utc_now())
        with self.write() as conn:
            conn.executemany(
                "INSERT INTO pages (url, source, fingerprint, article_keys, seen_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET source = excluded.source, "
                "fingerprint = excluded.fingerprint, article_keys = excluded.article_keys, "
                "seen_at = excluded.seen_at",
                [
                    (p.url, p.source, p.fingerprint, json.dumps(p.keys, ensure_ascii=False), stamp)
                    for p in pages
                ],
            )
            keys = [key for page in pages if page.unchanged for key in page.keys]
            for chunk in _chunks(keys, CHUNK):
                conn.execute(
                    f"UPDATE articles SET last_seen_at = ? "
                    f"WHERE canonical_url IN ({','.join('?' * len(chunk))})",
                    [stamp, *chunk],
                )

    def known_complete(self, canonical_urls: Iterable[str]) -> set[str]:
        """Of these URLs, those stored with an uncut title and a minute- or second-precise date:
        their article pages need not be fetched again."""
        urls = list(canonical_urls)
        complete: set[str] = set()
        for chunk in _chunks(urls, CHUNK):
            marks = ",".join("?" * len(chunk))
            for url, title in self.conn.execute(
                f"SELECT canonical_url, title FROM articles WHERE canonical_url IN ({marks}) "
                "AND published_precision IN ('minute', 'second')",
                chunk,
            ):
                if not is_truncated(title):
                    complete.add(url)
        return complete

    def articles(
        self,
        *,
        source: str | None = None,
        topic: str | None = None,
        text: str | None = None,
        since: str | None = None,
        limit: int | None = 200,
    ) -> list[dict[str, Any]]:
        """Articles newest first (by ``published_at``, else ``first_seen_at``), JSON decoded."""
        where, params = [], []
        if source:
            where.append("source = ?")
            params.append(source)
        if topic:
            where.append("EXISTS (SELECT 1 FROM json_each(articles.topics) WHERE value = ?)")
            params.append(topic)
        if text:
            for word in text.split():
                where.append("(title LIKE ? ESCAPE '\\' OR snippet LIKE ? ESCAPE '\\')")
                pattern = (
                    "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                )
                params += [pattern, pattern]
        if since:
            where.append("coalesce(published_at, first_seen_at) >= ?")
            params.append(since)
        sql = "SELECT * FROM articles"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY coalesce(published_at, first_seen_at) DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_decode(row) for row in self.db.query(sql, params)]

    def count_articles(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM articles").fetchone()[0])

    def article_topics(self) -> list[str]:
        """Every topic slug in use."""
        return [
            row[0]
            for row in self.conn.execute(
                "SELECT DISTINCT value FROM articles, json_each(articles.topics) ORDER BY value"
            )
        ]

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
        self, name: str, *, ok: bool, new: int, error: str | None, now: datetime | None = None
    ) -> None:
        """Update a source's health after a run."""
        stamp = to_utc_string(now or utc_now())
        with self.write() as conn:
            if ok:
                conn.execute(
                    "UPDATE sources SET last_run_at = ?, last_ok_at = ?, "
                    "last_new_at = CASE WHEN ? > 0 THEN ? ELSE last_new_at END, "
                    "consecutive_failures = 0, "
                    "consecutive_empty = CASE WHEN ? > 0 THEN 0 ELSE consecutive_empty + 1 END, "
                    "last_error = NULL WHERE name = ?",
                    (stamp, stamp, new, stamp, new, name),
                )
            else:
                conn.execute(
                    "UPDATE sources SET last_run_at = ?, "
                    "consecutive_failures = consecutive_failures + 1, last_error = ? "
                    "WHERE name = ?",
                    (stamp, error, name),
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

    def checkpoint(self) -> None:
        """After a run: fold the WAL back into the main file and let SQLite refresh statistics."""
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self.conn.execute("PRAGMA optimize")


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
