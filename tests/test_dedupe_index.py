"""The near-duplicate index in the store: time slots, which slots a batch probes, the rebuild and
the migration to slotted keys."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlite_utils

import aggregator.store as store_module
from aggregator.dedupe import (
    GROUP_SHIFT,
    SLOT_SECONDS,
    SLOT_SHIFT,
    DedupeOptions,
    Member,
    batch_keys,
    fingerprints,
    probe_slot_range,
    slot_keys,
    time_slots,
    timestamp,
)
from aggregator.store import (
    DEDUPE_TEXT_COLUMNS,
    MIGRATIONS,
    SCHEMA_VERSION,
    Store,
    _migration_15,
    dedupe_text_row,
    rebuild_dedupe_index,
    stored_buckets,
)
from tests.conftest import NOW
from tests.dedupe_reference import cluster_reference, keys_of, slot_of_key

TITLE = "江苏一200MW/400MWh独立储能电站全容量并网"
# The start of a slot, a little after NOW: articles either side of it are in two slots.
BOUNDARY = datetime.fromtimestamp((int(NOW.timestamp()) // SLOT_SECONDS + 1) * SLOT_SECONDS, tz=UTC)


def article(number: int, title: str, when: datetime, source: str = "a") -> dict[str, Any]:
    return {
        "url": f"https://{source}.example/{number}.html",
        "canonical_url": f"https://{source}.example/{number}.html",
        "source": source,
        "guid": None,
        "title": title,
        "snippet": "",
        "published_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "published_precision": "minute",
        "published_from": "list",
        "flags": [],
        "language": "zh",
        "topics": [],
    }


def add(store: Store, *articles: dict[str, Any]) -> list[int]:
    ids = store.upsert_articles(list(articles), NOW).new_ids
    store.assign_stories(ids)
    return ids


def story(store: Store, article_id: int) -> int:
    return store.conn.execute(
        "SELECT story_id FROM articles WHERE id = ?", (article_id,)
    ).fetchone()[0]


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every key the store reads from the index."""
    keys: list[int] = []
    read = store_module.IndexCache.buckets

    def recording(self: Any, conn: Any, wanted: np.ndarray) -> Any:
        keys.extend(wanted.tolist())
        return read(self, conn, wanted)

    monkeypatch.setattr(store_module.IndexCache, "buckets", recording)
    yield keys


def test_slot_keys_keep_the_fingerprint_key_under_the_slot() -> None:
    keys = np.array([-1, 0, 12345, -(1 << 63), (1 << 63) - 1], dtype=np.int64)
    slots = np.array([0, 1, 700, 5, 1 << 17], dtype=np.int64)
    slotted = slot_keys(keys, slots)
    assert (slotted >= 0).all()  # non-negative: the slots sort in time order
    assert [slot_of_key(k) for k in slotted.tolist()] == slots.tolist()
    assert ((slotted ^ keys) & ((1 << SLOT_SHIFT) - 1) == 0).all()
    when = np.array([0.0, SLOT_SECONDS - 1.0, SLOT_SECONDS, np.nan, -5e9])
    assert time_slots(when, now=3.5 * SLOT_SECONDS).tolist() == [0, 0, 1, 3, 0]


def test_an_article_probes_only_the_filled_slots_of_its_window() -> None:
    options = DedupeOptions(window_days=14)
    prints = fingerprints([TITLE, "【视频】" + TITLE])
    at = BOUNDARY.timestamp()
    when = np.array([at + 86400, at - 86400])  # one each side of the boundary
    own = time_slots(when, 0.0)
    assert own[0] == own[1] + 1
    old = int(own[1]) - 5  # far outside any window
    keys = batch_keys(prints, options, when, np.array([old, int(own[0]) + 1]), 0.0)
    probed = {slot_of_key(k) for k in keys.probe_keys.tolist()}
    assert probed == set(own.tolist())  # not the old slot, nor the empty next one
    filed = {slot_of_key(k) for k in keys.distinct.tolist()}
    assert filed == set(own.tolist())
    low, high = probe_slot_range(when, options, 0.0)
    assert (low <= own).all() and (own <= high).all() and (high - low <= 1).all()
    # no window: every filled slot
    everything = batch_keys(prints, DedupeOptions(window_days=0), when, np.array([old]), 0.0)
    assert {slot_of_key(k) for k in everything.probe_keys.tolist()} == {old, *own.tolist()}


def test_a_repost_across_a_slot_boundary_joins_the_story(db: Store) -> None:
    (first,) = add(db, article(1, TITLE, BOUNDARY - timedelta(days=2)))
    (repost,) = add(db, article(2, "【视频】" + TITLE, BOUNDARY + timedelta(days=3), "b"))
    assert story(db, repost) == first
    slots = {slot_of_key(k) for k, _ in stored_buckets(db.conn)}
    assert len(slots) == 2  # each filed in its own slot


def test_an_old_slot_outside_the_window_is_not_probed(db: Store, asked: list[int]) -> None:
    old_time = BOUNDARY - timedelta(days=90)
    (old,) = add(db, article(1, TITLE, old_time))
    old_slot = int(time_slots(np.array([old_time.timestamp()]), 0.0)[0])
    asked.clear()
    (new,) = add(db, article(2, TITLE, BOUNDARY + timedelta(days=1), "b"))
    assert asked and not {slot_of_key(k) for k in asked} & {old_slot}
    assert story(db, new) == new  # too far apart: another story
    # within a wide window, the old slot is probed and the repost found
    asked.clear()
    ids = db.upsert_articles([article(3, TITLE, BOUNDARY + timedelta(days=2), "c")], NOW).new_ids
    db.assign_stories(ids, DedupeOptions(window_days=200))
    assert old_slot in {slot_of_key(k) for k in asked}
    assert story(db, ids[0]) == old


TITLES = [
    TITLE,
    "【视频】" + TITLE,
    "广东一200MW/400MWh独立储能电站全容量并网",
    "江苏一200MW/400MWh独立储能电站全容量...",
    "江苏一300MW/600MWh独立储能电站全容量并网",
    "国家能源局发布2026年能源工作指导意见",
    "國家能源局發布2026年能源工作指導意見",
    "国家能源局发布2025年能源工作指导意见",
    "Texas approves 500 MW solar project",
    "[Video] Texas approves 500 MW solar project",
]


def _old_schema_database(path: Path, batches: list[list[tuple[str, datetime]]]) -> None:
    """A file at the schema before slotted keys, its articles clustered and filed as that code
    did: unslotted keys (what :func:`cluster_reference` files), buckets oldest first, capped."""
    version = MIGRATIONS.index(_migration_15)
    db = sqlite_utils.Database(path)
    for migration in MIGRATIONS[:version]:
        migration(db)
    options = DedupeOptions()
    buckets: dict[int, list[int]] = {}
    known: dict[int, Member] = {}
    number = 0
    for batch in batches:
        new = []
        for title, when in batch:
            number += 1
            stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
            db["articles"].insert(
                {
                    "id": number,
                    "url": f"https://s.example/{number}",
                    "source": "s",
                    "canonical_url": f"https://s.example/{number}",
                    "title": title,
                    "published_at": stamp,
                    "first_seen_at": stamp,
                    "last_seen_at": stamp,
                    "story_id": number,
                }
            )
            new.append((number, title, timestamp(stamp)))
        prints = fingerprints([title for _, title, _ in new])
        members = [
            Member(i, i, title, when, fp) for (i, title, when), fp in zip(new, prints, strict=True)
        ]
        result = cluster_reference(members, buckets, known, options)
        buckets.update(result.filed)
        for m in members:
            known[m.id] = m
            db.execute("UPDATE articles SET story_id = ? WHERE id = ?", [m.story_id, m.id])
            db.execute(
                f"INSERT INTO dedupe_texts ({DEDUPE_TEXT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                dedupe_text_row(m),
            )
    db.conn.executemany(
        "INSERT INTO dedupe_index (key, n, article_ids) VALUES (?, ?, ?)",
        [(k, len(v), np.array(v, dtype="<i8").tobytes()) for k, v in buckets.items()],
    )
    db.execute(f"PRAGMA user_version = {version}")
    db.conn.commit()
    db.close()


def test_an_old_index_migrates_and_keeps_clustering_the_same(tmp_path: Path) -> None:
    start = BOUNDARY - timedelta(days=3)
    stamped = [(title, start + timedelta(hours=7 * i)) for i, title in enumerate(TITLES)]
    batches = [stamped[i : i + 3] for i in range(0, len(stamped), 3)]
    _old_schema_database(tmp_path / "old.db", batches)
    with Store(tmp_path / "fresh.db") as fresh:  # the same articles clustered by this code
        number = 0
        for batch in batches:
            rows = []
            for title, when in batch:
                number += 1
                rows.append(article(number, title, when, "s"))
            add(fresh, *rows)
        expected_stories = list(fresh.conn.execute("SELECT id, story_id FROM articles"))
        expected_index = list(stored_buckets(fresh.conn))
    with Store(tmp_path / "old.db") as migrated:
        assert migrated.schema_version == SCHEMA_VERSION
        stories = list(migrated.conn.execute("SELECT id, story_id FROM articles"))
        assert stories == expected_stories  # story ids unchanged
        assert len({s for _, s in stories}) < len(stories)  # some had joined
        assert list(stored_buckets(migrated.conn)) == expected_index  # as this code files
        # and new articles cluster against it as against the fresh one
        later = [
            ("【人民日报】" + TITLE, BOUNDARY + timedelta(days=5)),
            ("国家能源局发布2026年能源工作指导...", BOUNDARY + timedelta(days=6)),
            ("浙江一200MW/400MWh独立储能电站全容量并网", BOUNDARY + timedelta(days=6)),
        ]
        ids = add(migrated, *(article(100 + i, t, w, "n") for i, (t, w) in enumerate(later)))
        assert story(migrated, ids[0]) == 1
        assert story(migrated, ids[1]) == 6
        assert story(migrated, ids[2]) == ids[2]


def test_rebuild_refiles_from_the_stored_articles_with_the_cap(db: Store) -> None:
    start = BOUNDARY - timedelta(days=1)
    add(db, *(article(i, f"{TITLE}第{i}批", start + timedelta(hours=i)) for i in range(12)))
    before = list(db.conn.execute("SELECT * FROM dedupe_groups ORDER BY group_key"))
    with db.write() as conn:
        conn.execute("DELETE FROM dedupe_groups")
        conn.execute("UPDATE dedupe_texts SET text = 'stale', nums = 0")
        assert rebuild_dedupe_index(conn, texts=True) == 12
    assert list(db.conn.execute("SELECT * FROM dedupe_groups ORDER BY group_key")) == before
    assert (
        db.conn.execute("SELECT count(*) FROM dedupe_texts WHERE text = 'stale'").fetchone()[0] == 0
    )
    with db.write() as conn:  # a cap of 5: each bucket keeps its newest 5
        rebuild_dedupe_index(conn, DedupeOptions(bucket_cap=5), chunk=4)
    buckets = dict(stored_buckets(db.conn))
    assert all(len(ids) <= 5 and ids == sorted(ids) for ids in buckets.values())
    prefix = keys_of(fingerprints([TITLE])[0])[0]  # all twelve share it
    (slot,) = time_slots(np.array([start.timestamp()]), 0.0)
    assert buckets[int(slot_keys(np.array([prefix]), np.array([slot]))[0])] == [8, 9, 10, 11, 12]


def test_groups_stored_with_64_bit_ids_read_the_same(db: Store) -> None:
    """A group may hold its ids as 64-bit ones (when one does not fit in 32 bits): clustering
    reads them as the compact ones and rewrites a group it files into in the compact form."""
    start = BOUNDARY - timedelta(days=1)
    first = add(db, *(article(i, f"{TITLE}第{i}批", start + timedelta(hours=i)) for i in range(3)))
    rows = list(db.conn.execute("SELECT group_key, keys, counts, ids FROM dedupe_groups"))
    assert rows and all(len(ids) == 4 * sum(counts) for _, _, counts, ids in rows)
    old = dict(stored_buckets(db.conn))
    with db.write() as conn:
        conn.executemany(
            "UPDATE dedupe_groups SET ids = ? WHERE group_key = ?",
            [(np.frombuffer(ids, "<i4").astype("<i8").tobytes(), g) for g, _, _, ids in rows],
        )
    assert dict(stored_buckets(db.conn)) == old
    (repost,) = add(db, article(9, "【视频】" + f"{TITLE}第1批", start + timedelta(hours=5), "b"))
    assert story(db, repost) == first[1]
    after = dict(stored_buckets(db.conn))
    touched = [k for k in after if repost in after[k]]
    assert touched and all(after[k] == [*old.get(k, []), repost] for k in touched)
    assert all(after[k] == old[k] for k in old if k not in touched)
    widths = {
        g: len(ids) // sum(counts)
        for g, _, counts, ids in db.conn.execute("SELECT * FROM dedupe_groups")
    }
    assert {widths[k >> GROUP_SHIFT] for k in touched} == {4}
    assert 8 in widths.values()  # the groups not filed into are as they were


def test_a_batch_files_under_its_keys_in_its_own_slot_in_key_order() -> None:
    """The keys a batch files under come from the sort of its probes: they must be each
    article's filed keys in its own slot, as filed_keys gives them, sorted, positions ascending
    within a key."""
    from aggregator.dedupe import filed_keys

    titles = [
        TITLE,
        "【视频】" + TITLE,
        TITLE[:12] + "...",
        "",
        TITLE,
        "Texas approves 40 MW solar",
    ]
    prints = fingerprints(titles * 30)
    start = BOUNDARY.timestamp()
    rng = np.random.default_rng(5)
    when = start + rng.uniform(-40, 40, len(prints)) * 86400
    when[::7] = np.nan  # no time: now's slot
    now = start + 3 * 86400
    for days in (14, 40, 0):
        options = DedupeOptions(window_days=days)
        own = time_slots(when, now)
        keys = batch_keys(prints, options, when, np.array([int(own.min()) - 3]), now)
        at, plain = filed_keys(prints)
        expected = sorted(zip(slot_keys(plain, own[at]).tolist(), at.tolist(), strict=True))
        span = len(prints) + 1
        got = [(int(keys.distinct[c // span]), int(c % span)) for c in keys.filed.tolist()]
        assert got == expected
        assert keys.distinct.tolist() == sorted({k for k, _ in expected})
        order = keys.probe_order
        assert (np.diff(keys.probe_keys[order]) >= 0).all()
        same = keys.probe_keys[order][1:] == keys.probe_keys[order][:-1]
        assert (order[1:][same] > order[:-1][same]).all()  # stable
        assert len(keys.probe_keys) > len(keys.filed) > 0
