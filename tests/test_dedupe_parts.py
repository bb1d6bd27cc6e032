"""The parts of large time slots (``dedupe_parts``): what a batch filed there, stored instead of
the slot's groups rewritten, applied in order by every reader, folded into the groups every
few batches; the same stories and buckets as rewriting the groups every batch."""

from __future__ import annotations

import logging
import random
import sqlite3
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

import aggregator.store as store_module
from aggregator.dedupe import (
    SLOT_SHIFT,
    Buckets,
    DedupeOptions,
    Filing,
    apply_filing,
    batch_keys,
    fingerprints,
    pack_part,
    unpack_part,
)
from aggregator.store import Store, stored_buckets
from tests.conftest import NOW
from tests.test_dedupe_cache import _corpus
from tests.test_dedupe_index import BOUNDARY, TITLE, add, article, story
from tests.test_dedupe_verify import _held


def _filing(rng: random.Random, slot: int, n: int, wide: bool) -> Filing:
    keys = np.array(sorted(rng.sample(range(1, 1 << 40), n)), dtype=np.int64) | np.int64(
        slot << SLOT_SHIFT
    )
    length = np.array([rng.randrange(1, 300 if wide else 9) for _ in range(n)], dtype=np.int64)
    taken = np.array([rng.randrange(1, int(k) + 1) for k in length], dtype=np.int64)
    high = 1 << 40 if wide else 1 << 20
    ids = np.array(sorted(rng.sample(range(high), int(taken.sum()))), dtype=np.int64)
    return Filing(keys, length, taken, ids)


@pytest.mark.parametrize("wide", [False, True])
def test_a_part_row_gives_back_its_filing(wide: bool) -> None:
    rng = random.Random(3)
    filing = _filing(rng, 700, 50, wide)
    row = pack_part(700, 2, filing)
    widths = (len(row[3]) // 50, len(row[5]) // int(filing.taken.sum()))
    assert widths == ((4, 8) if wide else (1, 4))
    back = unpack_part(tuple(bytes(v) if isinstance(v, bytes) else v for v in row))
    assert back is not None
    for name in ("keys", "length", "taken", "ids"):
        assert getattr(back, name).tolist() == getattr(filing, name).tolist()


def test_a_part_row_that_is_not_what_is_written_reads_as_none() -> None:
    rng = random.Random(4)
    row = pack_part(700, 0, _filing(rng, 700, 6, False))
    keys = np.frombuffer(row[2], "<i8")
    damaged = [
        (701, *row[1:]),  # keys outside its slot
        (*row[:2], keys[::-1].tobytes(), *row[3:]),  # keys out of order
        (*row[:2], row[2][:-3], *row[3:]),  # a key cut short
        (*row[:3], row[3][:-1], *row[4:]),  # lengths and taken disagree
        (*row[:5], row[5][:-4]),  # an id missing
        (*row[:4], b"\x00" * len(row[4]), row[5]),  # nothing taken
        (*row[:4], b"\x09" * len(row[4]), row[5]),  # taken more than the length
        (*row[:5], "text"),
        (*row[:2], 7, *row[3:]),
    ]
    for bad in damaged:
        assert unpack_part(bad) is None


def test_a_filing_applied_gives_the_buckets_filing_gives() -> None:
    """What a reader replays (a part's filing, from its row) is what the writer's buckets
    became, batch after batch, full buckets too."""
    titles = [f"国家能源局发布2026年第{i}批可再生能源项目清单{i % 7}" for i in range(40)]
    options = DedupeOptions(bucket_cap=3)
    buckets = Buckets.of_arrays(*(np.zeros(0, dtype=np.int64),) * 3)
    for batch in range(4):
        prints = fingerprints(titles[batch * 7 : batch * 7 + 14])
        when = np.full(len(prints), BOUNDARY.timestamp() - 86400.0)  # one slot
        keys = batch_keys(prints, options, when, None, when[0])
        ids = [100 * (batch + 1) + i for i in range(len(prints))]
        filing, capped, after = store_module.file_batch_held(keys, ids, buckets, options)
        replayed = unpack_part(pack_part(int(filing.keys[0]) >> SLOT_SHIFT, batch, filing))
        assert replayed is not None
        assert _held(apply_filing(buckets, replayed)) == _held(after)
        buckets = after
    assert capped > 0


@pytest.fixture
def parted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every slot takes parts, and a slot folds after three."""
    monkeypatch.setattr(store_module, "PART_MIN_KEYS", 0)
    monkeypatch.setattr(store_module, "PART_MIN_GROUPS", 0)
    monkeypatch.setattr(store_module, "FOLD_PARTS", 4)


def _parts(store: Store) -> list[tuple[int, int]]:
    return store.conn.execute("SELECT slot, seq FROM dedupe_parts ORDER BY slot, seq").fetchall()


@pytest.mark.parametrize("dense", [0, store_module.DENSE_SLOT_GROUPS])
@pytest.mark.parametrize("seed", [1, 2])
def test_parts_give_the_stories_and_buckets_rewriting_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, dense: int
) -> None:
    """The same batches three ways: groups rewritten every batch; parts, read back by the same
    clusterer; parts, each batch clustered by a new one (reading the parts from the file)."""
    monkeypatch.setattr(store_module, "DENSE_SLOT_GROUPS", dense)
    rng = random.Random(seed)
    rows = _corpus(seed, 150)
    batches = []
    start = 0
    while start < len(rows):
        batches.append(rows[start : start + rng.randrange(1, 20)])
        start += len(batches[-1])
    options = DedupeOptions(bucket_cap=3)
    results = []
    most_parts = 0
    for name, min_keys in (("whole", 1 << 40), ("held", 0), ("read", 0)):
        monkeypatch.setattr(store_module, "PART_MIN_KEYS", min_keys)
        monkeypatch.setattr(store_module, "PART_MIN_GROUPS", 0)
        monkeypatch.setattr(store_module, "FOLD_PARTS", 4)
        path = tmp_path / f"{name}.db"
        store = Store(path)
        for batch in batches:
            if name == "read":
                store.close()
                store = Store(path)
            ids = store.upsert_articles(batch, NOW).new_ids
            store.assign_stories(ids, options)
            parts = _parts(store)
            most_parts = max(most_parts, len(parts))
            per_slot: dict[int, int] = {}
            for slot, _ in parts:
                per_slot[slot] = per_slot.get(slot, 0) + 1
            assert all(count <= 3 for count in per_slot.values())
        results.append(
            (
                store.conn.execute("SELECT id, story_id FROM articles ORDER BY id").fetchall(),
                list(stored_buckets(store.conn)),
            )
        )
        if name == "whole":
            assert _parts(store) == []
        store.close()
    assert results[0] == results[1] == results[2]
    assert most_parts >= 3  # parts were written and folded
    assert len({s for _, s in results[0][0]}) < len(rows) * 0.8


def test_a_damaged_part_is_logged_read_as_nothing_and_goes_at_the_fold(
    db_path: Path, parted: None, caplog: pytest.LogCaptureFixture
) -> None:
    start = BOUNDARY - timedelta(days=3)
    with Store(db_path) as db:
        (first,) = add(db, article(1, TITLE, start))
        (second,) = add(db, article(2, "国家能源局发布2026年能源工作指导意见", start, "b"))
        assert len(_parts(db)) == 2
        with db.write() as conn:
            conn.execute("UPDATE dedupe_parts SET ids = 'x' WHERE seq = 0")
    with caplog.at_level(logging.WARNING, logger="aggregator.store"), Store(db_path) as db:
        (repost,) = add(db, article(3, "【视频】" + TITLE, start + timedelta(hours=1), "c"))
        assert "dedupe_parts row" in caplog.text and "is damaged" in caplog.text
        assert story(db, repost) == repost  # the first article's part was lost
        (again,) = add(db, article(4, "国家能源局发布2026年能源工作指导意见（全文）", start, "d"))
        assert story(db, again) == second
        assert _parts(db) == []  # the fourth batch folded: the damaged part is gone
        held = {i for _, ids in stored_buckets(db.conn) for i in ids}
        assert first not in held and {second, repost, again} <= held


def test_prune_and_rebuild_drop_the_parts(db_path: Path, parted: None) -> None:
    with Store(db_path) as db:
        old, new = BOUNDARY - timedelta(days=400), BOUNDARY + timedelta(days=1)
        for number, title, when in (
            (1, TITLE, old),
            (2, "国家能源局发布2026年能源工作指导意见", new),
        ):
            db.assign_stories(db.upsert_articles([article(number, title, when)], when).new_ids)
        slots = {slot for slot, _ in _parts(db)}
        assert len(slots) == 2
        db.prune((old + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        assert {slot for slot, _ in _parts(db)} == {max(slots)}
        index = list(stored_buckets(db.conn))
        with db.write() as conn:
            store_module.rebuild_dedupe_index(conn)
        assert _parts(db) == [] and list(stored_buckets(db.conn)) == index


def test_another_writer_deleting_parts_is_not_undone(db_path: Path, parted: None) -> None:
    """Parts deleted by hand with their groups (the index emptied): the next batch finds
    nothing, as with the groups alone."""
    with Store(db_path) as db:
        add(db, article(1, TITLE, BOUNDARY - timedelta(days=1)))
        other = sqlite3.connect(db_path)
        with other:
            other.execute("DELETE FROM dedupe_groups")
            other.execute("DELETE FROM dedupe_parts")
        other.close()
        (repost,) = add(db, article(2, "【视频】" + TITLE, BOUNDARY - timedelta(hours=2), "b"))
        assert story(db, repost) == repost


def test_a_part_deleted_by_hand_is_not_written_over(db_path: Path, parted: None) -> None:
    """The next part of a slot takes the seq after the last one stored, not the count."""
    start = BOUNDARY - timedelta(days=3)
    with Store(db_path) as db:
        for number in range(3):
            add(db, article(number, f"{TITLE}第{number}期", start + timedelta(hours=number)))
        with db.write() as conn:
            conn.execute("DELETE FROM dedupe_parts WHERE seq = 0")
        (later,) = add(db, article(9, "国家能源局发布2026年能源工作指导意见", start))
        assert [seq for _, seq in _parts(db)] == [1, 2, 3]
        held = {i for _, ids in stored_buckets(db.conn) for i in ids}
        assert held == {2, 3, later}  # the first article went with its part


def test_a_small_batch_rewrites_its_groups_and_folds_the_parts(
    db_path: Path, parted: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch filing into fewer than PART_MIN_GROUPS groups of a slot (a cron crawl's) writes
    no part: it rewrites the groups, and with parts stored, the slot's every group (a fold)."""
    start = BOUNDARY - timedelta(days=3)
    with Store(db_path) as db:
        add(db, article(1, TITLE, start))
        assert len(_parts(db)) == 1
        keys_filed = len(list(stored_buckets(db.conn)))
        monkeypatch.setattr(store_module, "PART_MIN_GROUPS", keys_filed + 1)
        (repost,) = add(db, article(2, "【视频】" + TITLE, start + timedelta(hours=1), "b"))
        assert _parts(db) == [] and story(db, repost) == 1
        groups = db.conn.execute("SELECT count(*) FROM dedupe_groups").fetchone()[0]
        assert groups >= 1 and {i for _, ids in stored_buckets(db.conn) for i in ids} == {1, 2}
        add(db, article(3, "国家能源局发布2026年能源工作指导意见", start, "c"))
        assert _parts(db) == []
