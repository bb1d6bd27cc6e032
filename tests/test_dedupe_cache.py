"""What a clusterer keeps of the near-duplicate index between batches (``store.IndexCache``):
the same stories and index as reading every batch's slots afresh, no read of a slot it holds,
and nothing held once another writer changed the index."""

from __future__ import annotations

import random
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import aggregator.store as store_module
from aggregator.dedupe import (
    SLOT_SHIFT,
    Buckets,
    DedupeOptions,
    batch_keys,
    distinct,
    file_batch,
    file_batch_held,
    fingerprints,
    held_rows,
    key_groups,
)
from aggregator.store import (
    INDEX_VERSION_TRIGGER,
    MIGRATIONS,
    PARTS_VERSION_TRIGGER,
    SCHEMA_VERSION,
    Store,
    _assign_stories,
    _migration_22,
    stored_buckets,
)
from tests.conftest import NOW
from tests.dedupe_reference import keys_of
from tests.test_dedupe_index import BOUNDARY, TITLE, add, article, story
from tests.test_dedupe_verify import _held, _packed

SCAN = "keys, counts, ids FROM dedupe_groups WHERE group_key BETWEEN"  # a slot read


def _corpus(seed: int, n: int) -> list[dict[str, Any]]:
    """Headlines that join and stay apart, reposted across slot boundaries, some out of
    order in time (an old article found late), in batches of a few."""
    rng = random.Random(seed)
    stems = [
        TITLE,
        "广东一200MW/400MWh独立储能电站全容量并网",
        "国家能源局发布2026年能源工作指导意见",
        "Texas approves 500 MW solar project near Austin",
    ]
    rows = []
    for i in range(n):
        stem = rng.choice(stems)
        title = rng.choice(
            [stem, "【视频】" + stem, stem + f"第{rng.randrange(3)}期", stem[:12] + "..."]
        )
        when = BOUNDARY + timedelta(days=rng.uniform(-40, 40))
        if rng.random() < 0.1:
            when -= timedelta(days=300)
        rows.append(article(i, title, when, "abc"[i % 3]))
    return rows


@pytest.fixture
def whole_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every slot a batch needs is read whole (and held after it), however few its groups."""
    monkeypatch.setattr(store_module, "DENSE_SLOT_GROUPS", 0)


@pytest.mark.parametrize("dense", [0, store_module.DENSE_SLOT_GROUPS])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_clustering_with_what_it_holds_gives_what_reading_afresh_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, dense: int
) -> None:
    """Held (every slot read whole), or each small batch's groups read (nothing held)."""
    monkeypatch.setattr(store_module, "DENSE_SLOT_GROUPS", dense)
    rng = random.Random(seed)
    rows = _corpus(seed, 160)
    options = DedupeOptions(bucket_cap=3)  # full buckets too
    cached, afresh = Store(tmp_path / "cached.db"), Store(tmp_path / "afresh.db")
    start = 0
    while start < len(rows):
        batch = rows[start : start + rng.randrange(1, 25)]
        start += len(batch)
        ids = cached.upsert_articles(batch, NOW).new_ids
        cached.assign_stories(ids, options)
        ids = afresh.upsert_articles(batch, NOW).new_ids
        with afresh.write() as conn:  # the batch's slots read from the file, as before
            _assign_stories(conn, ids, options)
    for query in ("SELECT id, story_id FROM articles ORDER BY id", "SELECT * FROM dedupe_groups"):
        assert cached.conn.execute(query).fetchall() == afresh.conn.execute(query).fetchall()
    assert len({s for (s,) in cached.conn.execute("SELECT story_id FROM articles")}) < 100
    assert list(stored_buckets(cached.conn)) == list(stored_buckets(afresh.conn))
    cached.close()
    afresh.close()


def test_a_batch_reads_only_the_slots_it_does_not_hold(db_path: Path, whole_slots: None) -> None:
    traced: list[str] = []
    with Store(db_path) as db:
        add(db, article(1, TITLE, BOUNDARY - timedelta(days=1)))
        db.conn.set_trace_callback(traced.append)
        (repost,) = add(db, article(2, "【视频】" + TITLE, BOUNDARY - timedelta(hours=20), "b"))
        assert story(db, repost) == 1 and not [q for q in traced if SCAN in q]
        add(db, article(3, TITLE + "（续）", BOUNDARY + timedelta(days=40), "c"))  # a new slot
        assert len([q for q in traced if SCAN in q]) == 1
        db.conn.set_trace_callback(None)


def test_rows_another_writer_deletes_are_not_held(db_path: Path) -> None:
    """Emptying the index by hand (a trigger counts it): the next batch finds nothing to join,
    and does not write back what it held."""
    with Store(db_path) as db:
        add(db, article(1, TITLE, BOUNDARY - timedelta(days=1)))
        other = sqlite3.connect(db_path)
        with other:
            other.execute("DELETE FROM dedupe_groups")
        other.close()
        (repost,) = add(db, article(2, "【视频】" + TITLE, BOUNDARY - timedelta(hours=20), "b"))
        assert story(db, repost) == repost
        assert {i for _, ids in stored_buckets(db.conn) for i in ids} == {repost}


def test_another_clusterers_batch_is_read_and_kept(db_path: Path) -> None:
    """A second clusterer of the file (say, a crawl's parent after its worker): what it filed
    is found by the first one's next batch, and not overwritten by what that one held."""
    with Store(db_path) as db, Store(db_path) as second:
        add(db, article(1, "国家能源局发布2026年能源工作指导意见", BOUNDARY - timedelta(days=2)))
        (theirs,) = add(second, article(2, TITLE, BOUNDARY - timedelta(days=1), "b"))
        (repost,) = add(db, article(3, "【视频】" + TITLE, BOUNDARY - timedelta(hours=20), "c"))
        assert story(db, repost) == theirs
        held = {i for _, ids in stored_buckets(db.conn) for i in ids}
        assert held == {1, theirs, repost}


def test_every_writer_counts_its_change_and_a_batch_counts_one(db_path: Path) -> None:
    def count(store: Store) -> int:
        return store.conn.execute("SELECT n FROM dedupe_version").fetchone()[0]

    with Store(db_path) as db:
        before = count(db)
        add(db, article(1, TITLE, BOUNDARY - timedelta(days=1)),
            article(2, TITLE + "第二期", BOUNDARY - timedelta(days=1), "b"))  # fmt: skip
        assert count(db) == before + 1  # one batch, whatever its rows
        db.prune("2000-01-01T00:00:00Z")
        assert count(db) == before + 2
        with db.write() as conn:
            store_module.rebuild_dedupe_index(conn)
        rebuilt = count(db)
        assert rebuilt > before + 2
        deleted = db.conn.execute("SELECT count(*) FROM dedupe_groups").fetchone()[0]
        with db.write() as conn:
            conn.execute("DELETE FROM dedupe_groups")
        assert count(db) == rebuilt + deleted > rebuilt


def test_a_batch_that_fails_to_store_leaves_nothing_held(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(db_path) as db:
        (first,) = add(db, article(1, TITLE, BOUNDARY - timedelta(days=1)))
        write = store_module._write_stories

        def failing(*args: Any, **kwargs: Any) -> Any:
            write(*args, **kwargs)
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(store_module, "_write_stories", failing)
        ids = db.upsert_articles(
            [article(2, "【视频】" + TITLE, BOUNDARY - timedelta(hours=20), "b")], NOW
        ).new_ids
        with pytest.raises(sqlite3.OperationalError):
            db.assign_stories(ids)
        monkeypatch.setattr(store_module, "_write_stories", write)
        assert db._index_cache.slots == []  # read afresh next time
        db.assign_stories(ids)
        assert story(db, ids[0]) == first
        assert {i for _, held in stored_buckets(db.conn) for i in held} == {first, ids[0]}


def test_schema_22_counts_the_index_changes_and_keeps_the_index(db_path: Path) -> None:
    with Store(db_path) as db:
        add(db, article(1, TITLE, BOUNDARY - timedelta(days=1)))
        index = list(stored_buckets(db.conn))
        # as schema 21 left it
        for trigger in (INDEX_VERSION_TRIGGER, PARTS_VERSION_TRIGGER):
            db.conn.execute(f"DROP TRIGGER {trigger}")
        db.conn.execute("DROP TABLE dedupe_version")
        db.conn.execute("DROP TABLE dedupe_parts")
        db.conn.execute(f"PRAGMA user_version = {MIGRATIONS.index(_migration_22)}")
    with Store(db_path) as db:
        assert db.schema_version == SCHEMA_VERSION
        assert list(stored_buckets(db.conn)) == index
        assert db.conn.execute("SELECT n FROM dedupe_version").fetchall() == [(0,)]
        names = {r[0] for r in db.conn.execute("SELECT name FROM sqlite_master")}
        assert {"dedupe_parts", INDEX_VERSION_TRIGGER, PARTS_VERSION_TRIGGER} <= names
        (repost,) = add(db, article(2, "【视频】" + TITLE, BOUNDARY - timedelta(hours=20), "b"))
        assert story(db, repost) == 1
        assert db.conn.execute("SELECT n FROM dedupe_version").fetchall() == [(1,)]


def test_a_lost_trigger_is_made_again_on_open(db_path: Path) -> None:
    with Store(db_path) as db:
        db.conn.execute(f"DROP TRIGGER {INDEX_VERSION_TRIGGER}")
    with Store(db_path) as db:
        names = {r[0] for r in db.conn.execute("SELECT name FROM sqlite_master")}
        assert INDEX_VERSION_TRIGGER in names


def test_filing_what_is_held_gives_the_rows_filing_gives_and_every_bucket() -> None:
    rng = random.Random(4)
    titles = [f"国家能源局发布2026年第{i}批可再生能源项目清单{i % 7}" for i in range(50)]
    prints = fingerprints(titles + titles[:3])
    options = DedupeOptions(bucket_cap=4)
    keys = batch_keys(prints, options)
    held: dict[int, list[int]] = {}
    for key in keys.distinct.tolist()[::3]:
        held[key] = sorted(rng.sample(range(1, 500), rng.randrange(1, 7)))
    slot = int(keys.distinct[0]) >> SLOT_SHIFT
    for other in (slot - 1, slot + 2):  # slots the batch reads and does not file into
        for _ in range(20):
            held[(other << SLOT_SHIFT) | rng.randrange(1 << 40)] = [rng.randrange(1, 500)]
    ordered = sorted(held)
    buckets = Buckets.of_arrays(
        np.array(ordered, dtype=np.int64),
        np.array([len(held[k]) for k in ordered], dtype=np.int64),
        np.array([i for k in ordered for i in held[k]], dtype=np.int64),
    )
    ids = [1000 + i for i in range(len(prints))]
    rows, capped = file_batch(keys, ids, buckets, options)
    filing, capped_held, after = file_batch_held(keys, ids, buckets, options)
    assert filing.keys.tolist() == keys.distinct.tolist()
    rows_held = held_rows(after, distinct(key_groups(keys.distinct)))
    assert [tuple(map(bytes, r[1:])) for r in rows] == [tuple(map(bytes, r[1:])) for r in rows_held]
    assert [r[0] for r in rows] == [r[0] for r in rows_held] and capped == capped_held > 0
    expected = {k: list(v) for k, v in held.items()}
    for position, fp in enumerate(prints):
        for key in keys_of(fp):
            expected.setdefault(key, []).append(ids[position])
    for bucket in expected.values():
        del bucket[: -options.bucket_cap]
    assert _held(after) == dict(sorted(expected.items()))


def test_buckets_joined_and_cut_into_parts() -> None:
    held = {(s << SLOT_SHIFT) | k: [s * 10 + k, s * 10 + k + 1][: 1 + k % 2] for s in (3, 4, 7)
            for k in (1, 2, 5)}  # fmt: skip
    keys = sorted(held)
    whole = _packed(held)
    parts = [whole.part(0, 3), whole.part(3, 3), whole.part(3, 9)]
    assert [_held(p) for p in parts] == [
        {k: held[k] for k in keys[:3]},
        {},
        {k: held[k] for k in keys[3:]},
    ]
    assert _held(Buckets.joined(parts)) == held
    assert _held(Buckets.joined([])) == {}


def test_a_batch_from_many_slots_leaves_the_newest_held(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "HELD_SLOTS", 2)
    monkeypatch.setattr(store_module, "DENSE_SLOT_GROUPS", 0)
    with Store(db_path) as db:
        old = [
            article(i, f"{TITLE}第{i}期", BOUNDARY - timedelta(days=60 * i)) for i in range(1, 6)
        ]
        add(db, *old)
        held = db._index_cache.slots
        assert len(held) == 2 and held == sorted(held)
        assert {k >> SLOT_SHIFT for k in db._index_cache.held.keys.tolist()} <= set(held)
        (repost,) = add(
            db, article(9, "【视频】" + f"{TITLE}第5期", BOUNDARY - timedelta(days=299))
        )
        assert story(db, repost) == 5  # found in a slot no longer held: read again


def test_a_small_batch_reads_its_groups_and_holds_nothing(db_path: Path) -> None:
    """A batch needing fewer than half a slot's groups (a cron crawl's) probes them, as
    before, and leaves nothing held: the next one reads again."""
    traced: list[str] = []
    with Store(db_path) as db:
        add(db, article(1, TITLE, BOUNDARY - timedelta(days=1)))
        db.conn.set_trace_callback(traced.append)
        (repost,) = add(db, article(2, "【视频】" + TITLE, BOUNDARY - timedelta(hours=20), "b"))
        db.conn.set_trace_callback(None)
        assert story(db, repost) == 1 and not [q for q in traced if SCAN in q]
        assert [q for q in traced if "json_each" in q and "dedupe_groups" in q]
        assert db._index_cache.slots == []


@pytest.mark.usefixtures("whole_slots")
def test_a_batch_of_headlines_with_no_key_files_nothing(db_path: Path) -> None:
    with Store(db_path) as db:
        (first,) = add(db, article(1, TITLE, BOUNDARY - timedelta(days=1)))
        index = list(stored_buckets(db.conn))
        ids = add(db, article(2, "!", BOUNDARY), article(3, "。", BOUNDARY, "b"))
        assert [story(db, i) for i in ids] == ids and list(stored_buckets(db.conn)) == index
        (repost,) = add(db, article(4, "【视频】" + TITLE, BOUNDARY - timedelta(hours=20), "c"))
        assert story(db, repost) == first
