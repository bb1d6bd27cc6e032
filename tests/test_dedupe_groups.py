"""The near-duplicate index's layout (schema 19): many keys a row in ``dedupe_groups`` — packing
and reading groups, the cap, damaged rows, the migration from a row per key, prune."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import aggregator.store as store_module
from aggregator.dedupe import (
    GROUP_SHIFT,
    Buckets,
    DedupeOptions,
    _lookup,
    fingerprints,
    key_groups,
    pack_groups,
    slot_group_bounds,
    slot_keys,
    time_slots,
)
from aggregator.store import MIGRATIONS, SCHEMA_VERSION, Store, _migration_19, stored_buckets
from tests.dedupe_reference import keys_of, slot_of_key
from tests.test_dedupe_index import BOUNDARY, TITLE, add, article, story


def _read(buckets: Buckets) -> dict[int, list[int]]:
    return {
        key: buckets.ids[start : start + n].tolist()
        for key, start, n in zip(
            buckets.keys.tolist(), buckets.starts.tolist(), buckets.counts.tolist(), strict=True
        )
    }


def _pack(held: dict[int, list[int]], blobs: bool = True) -> list[tuple[int, Any, Any, Any]]:
    """pack_groups' rows (memoryviews), with ``blobs`` as bytes (as SQLite gives them back)."""
    keys = sorted(held)
    rows = pack_groups(
        np.array(keys, dtype=np.int64),
        np.array([len(held[k]) for k in keys], dtype=np.int64),
        np.array([i for k in keys for i in held[k]], dtype=np.int64),
    )
    return [(g, bytes(k), bytes(c), bytes(i)) for g, k, c, i in rows] if blobs else rows


def _widths(keys: bytes, counts: bytes, ids: bytes) -> tuple[int, int]:
    """A group row's count and id widths, in bytes."""
    count_width = len(counts) // (len(keys) // 8)
    total = int(np.frombuffer(counts, "u1" if count_width == 1 else "<u4").sum())
    return count_width, len(ids) // total


def test_groups_round_trip_in_every_width() -> None:
    rng = random.Random(19)
    groups = [rng.randrange(-(1 << 27), 1 << 27) for _ in range(40)] + [0, (1 << 28) - 1]
    held = {
        (g << GROUP_SHIFT) | rng.randrange(1 << GROUP_SHIFT): [
            rng.randrange(1, 1 << 20) for _ in range(rng.choice([1, 1, 2, 5]))
        ]
        for g in groups
        for _ in range(rng.randrange(1, 30))
    }
    many, wide = sorted(held)[3], sorted(held)[-7]
    held[many] = list(range(1, 301))  # more ids than an 8-bit count holds
    held[wide] = [5, (1 << 40) + 3, -(1 << 35)]  # ids 32 bits do not hold
    views = _pack(held, blobs=False)
    assert all(isinstance(v, memoryview) and v.readonly for row in views for v in row[1:])
    rows = _pack(held)
    assert [row[0] for row in rows] == sorted(set(key_groups(np.array(list(held))).tolist()))
    assert _read(Buckets.from_groups(views)) == held  # what clustering writes, as SQLite reads
    widths = {g: _widths(k, c, i) for g, k, c, i in rows}
    assert widths[many >> GROUP_SHIFT] == (4, 4) and widths[wide >> GROUP_SHIFT] == (1, 8)
    assert {
        w for g, w in widths.items() if g not in (many >> GROUP_SHIFT, wide >> GROUP_SHIFT)
    } == {(1, 4)}
    read = Buckets.from_groups(rows)
    assert not read.damaged and _read(read) == held
    assert _read(Buckets.from_groups(rows[::-1])) == held  # in any order
    assert _read(Buckets.from_groups([])) == {} and pack_groups(*(np.zeros(0, np.int64),) * 3) == []


def test_a_damaged_group_reads_as_empty_and_the_others_as_stored() -> None:
    held = {
        (g << GROUP_SHIFT) + k: [g * 100 + k, g * 100 + k + 1] for g in range(1, 8) for k in (1, 2)
    }
    rows = _pack(held)
    g = [row[0] for row in rows]
    bad = list(rows)
    bad[0] = (g[0], rows[0][1][:-3], rows[0][2], rows[0][3])  # keys cut short
    bad[1] = (g[1], rows[1][1], rows[1][2] + b"\x01", rows[1][3])  # a count too many
    bad[2] = (g[2], rows[2][1], b"\x00\x04", rows[2][3])  # an empty bucket
    bad[3] = (g[3], rows[3][1][8:] + rows[3][1][:8], rows[3][2], rows[3][3])  # keys out of order
    bad[4] = (g[4], rows[4][1], rows[4][2], rows[4][3][:-4])  # an id missing
    bad[5] = (g[5], rows[5][1], rows[5][2], "text")  # not a blob
    read = Buckets.from_groups(bad)
    assert read.damaged == g[:6]
    assert _read(read) == {k: v for k, v in held.items() if k >> GROUP_SHIFT == g[6]}


# A column of the wrong SQL type, what a hand-written row may hold: a TEXT as long as the BLOB
# (so that only its type is wrong), or an INTEGER.
_COLUMNS = ("keys", "counts", "ids")
_WRONG_TYPES = {"text": lambda blob: "x" * len(blob), "integer": lambda blob: 7}


@pytest.mark.parametrize("kind", sorted(_WRONG_TYPES))
@pytest.mark.parametrize("column", _COLUMNS)
def test_a_group_column_that_is_not_a_blob_reads_as_empty(column: str, kind: str) -> None:
    held = {(g << GROUP_SHIFT) + k: [g * 100 + k, g * 100 + k + 1] for g in (1, 2) for k in (1, 2)}
    rows = _pack(held)
    at = 1 + _COLUMNS.index(column)
    bad = list(rows[0])
    bad[at] = _WRONG_TYPES[kind](bad[at])
    assert len(bad[at]) == len(rows[0][at]) if kind == "text" else isinstance(bad[at], int)
    for order in (1, -1):  # in group order and not (sorted first)
        read = Buckets.from_groups([tuple(bad), rows[1]][::order])
        assert read.damaged == [rows[0][0]]
        assert _read(read) == {k: v for k, v in held.items() if k >> GROUP_SHIFT == rows[1][0]}


def test_a_group_key_given_twice_reads_as_empty() -> None:
    held = {(g << GROUP_SHIFT) + k: [g * 10 + k] for g in (1, 2, 3) for k in (1, 2)}
    rows = _pack(held)
    read = Buckets.from_groups([rows[2], rows[1], rows[0], rows[1]])  # out of order, 2 twice
    assert read.damaged == [rows[1][0]]
    assert _read(read) == {k: v for k, v in held.items() if k >> GROUP_SHIFT != rows[1][0]}


_DAMAGES = [("counts", "blob")] + [(c, kind) for c in _COLUMNS for kind in sorted(_WRONG_TYPES)]


@pytest.fixture
def file_db(tmp_path: Path) -> Iterator[Store]:
    """A store in a file (which a second ``Store`` can open)."""
    with Store(tmp_path / "news.db") as store:
        yield store


@pytest.mark.parametrize(("column", "kind"), _DAMAGES)
def test_a_damaged_group_in_the_store_is_logged_and_refiled(
    file_db: Store, caplog: pytest.LogCaptureFixture, column: str, kind: str
) -> None:
    db = file_db
    start = BOUNDARY - timedelta(days=1)
    (first,) = add(db, article(1, TITLE, start))
    filed = dict(stored_buckets(db.conn))
    damaged = next(iter(filed)) >> GROUP_SHIFT
    (stored,) = db.conn.execute(
        f"SELECT {column} FROM dedupe_groups WHERE group_key = ?", (damaged,)
    ).fetchone()
    value = b"\x00" if kind == "blob" else _WRONG_TYPES[kind](stored)
    with db.write() as conn:
        conn.execute(f"UPDATE dedupe_groups SET {column} = ? WHERE group_key = ?", (value, damaged))
    assert db.conn.execute(
        f"SELECT typeof({column}) FROM dedupe_groups WHERE group_key = ?", (damaged,)
    ).fetchone() == (kind,)
    assert {k for k, _ in stored_buckets(db.conn)} == {
        k for k in filed if k >> GROUP_SHIFT != damaged
    }
    # (read by a clusterer that has not held the group: one started since, as a crawl is)
    with caplog.at_level(logging.WARNING, logger="aggregator.store"), Store(db.path) as fresh:
        (repost,) = add(fresh, article(2, "【视频】" + TITLE, start + timedelta(hours=2), "b"))
    assert f"dedupe_groups row {damaged} is damaged" in caplog.text
    assert story(db, repost) == first  # the other keys still find it
    after = dict(stored_buckets(db.conn))
    # rewritten whole when filed into: the repost's keys there, the lost ids not
    rewritten = {k: ids for k, ids in after.items() if k >> GROUP_SHIFT == damaged}
    assert rewritten and all(ids == [repost] for ids in rewritten.values())
    shared = [k for k in filed if k >> GROUP_SHIFT != damaged and repost in after.get(k, [])]
    assert shared and all(after[k] == [first, repost] for k in shared)
    assert not Buckets.from_groups(list(db.conn.execute("SELECT * FROM dedupe_groups"))).damaged


def test_the_cap_keeps_each_buckets_newest_ids(tmp_path: Path) -> None:
    start = BOUNDARY - timedelta(days=1)
    options = DedupeOptions(bucket_cap=3)
    with Store(tmp_path / "news.db") as db:
        ids = db.upsert_articles(
            [article(i, f"{TITLE}第{i}批", start + timedelta(hours=i)) for i in range(7)],
            store_module.utc_now(),
        ).new_ids
        stats = db.assign_stories(ids[:4], options)
        stats.add(db.assign_stories(ids[4:], options))
        held = dict(stored_buckets(db.conn))
    assert all(1 <= len(v) <= 3 and v == sorted(v) for v in held.values())
    prefix = keys_of(fingerprints([TITLE])[0])[0]  # all seven share it
    (slot,) = time_slots(np.array([start.timestamp()]), 0.0)
    assert held[int(slot_keys(np.array([prefix]), np.array([slot]))[0])] == ids[-3:]
    assert stats.capped >= 4


def _pack_key_rows(ids: np.ndarray, counts: np.ndarray) -> list[int | bytes]:
    """Schema 18's ``article_ids`` of buckets of ``counts`` ids each (in turn from ``ids``): one
    id an INTEGER, more a BLOB of 32-bit ids (64-bit when one does not fit)."""
    values: list[int | bytes] = []
    for n, start in zip(counts.tolist(), (np.cumsum(counts) - counts).tolist(), strict=True):
        held = ids[start : start + n]
        wide = held.max() >= 1 << 31 or held.min() < -(1 << 31)
        values.append(int(held[0]) if n == 1 else held.astype("<i8" if wide else "<i4").tobytes())
    return values


def _as_schema_18(path: Path, extra: list[tuple[int, int, int | bytes]]) -> dict[int, list[int]]:
    """Turn a file of this code into what schema 18 kept: a ``dedupe_index`` row per key (one id
    an INTEGER, more 32-bit ids, some 64-bit as older files hold them), plus ``extra`` rows."""
    with Store(path) as store:
        held = dict(stored_buckets(store.conn))
        keys = sorted(held)
        counts = np.array([len(held[k]) for k in keys])
        ids = np.array([i for k in keys for i in held[k]], dtype=np.int64)
        values = _pack_key_rows(ids, counts)
        rows = [
            (k, int(n), np.array(held[k], "<i8").tobytes() if n > 1 and k % 2 else v)
            for k, n, v in zip(keys, counts.tolist(), values, strict=True)
        ]
        assert {type(v) for _, _, v in rows} == {int, bytes}
        with store.write() as conn:
            conn.execute(store_module._DEDUPE_INDEX_SQL)
            conn.executemany("INSERT INTO dedupe_index VALUES (?, ?, ?)", rows + extra)
            conn.execute("DROP TABLE dedupe_groups")
            conn.execute(f"PRAGMA user_version = {MIGRATIONS.index(_migration_19)}")
    return held


@pytest.mark.parametrize("chunk", [store_module.CLUSTER_CHUNK, 1])
def test_the_migration_from_a_row_per_key_keeps_every_bucket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(store_module, "CLUSTER_CHUNK", chunk)  # 1: 16 rows a read, groups cut
    path = tmp_path / "news.db"
    start = BOUNDARY - timedelta(days=2)
    with Store(path) as store:
        titles = [f"{TITLE}第{i}批" for i in range(8)] + ["国家能源局发布2026年能源工作指导意见"]
        first = add(
            store, *(article(i, t, start + timedelta(hours=i)) for i, t in enumerate(titles))
        )
        add(store, article(20, "华能江苏540MW光伏项目全容量并网", BOUNDARY + timedelta(days=3)))
    crowded = {(7 << 45) + 1000 * i: [i + 1] for i in range(40)}  # 40 keys in one group
    damaged = [  # damaged rows: read as empty
        ((5 << 45) + 77, 3, b"\x01\x02"),  # a blob of another length
        ((5 << 45) + 78, 2, "abcdefgh"),  # TEXT as long as two 32-bit ids
        ((5 << 45) + 79, "two", b"\x01\x00\x00\x00\x02\x00\x00\x00"),  # a TEXT count
        ((5 << 45) + 80, 1, 1.5),  # a REAL id
    ]
    held = _as_schema_18(path, [(k, 1, ids[0]) for k, ids in crowded.items()] + damaged)
    assert len(held) > 16 and not set(held) & set(crowded)
    held |= crowded
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert dict(stored_buckets(store.conn)) == held  # every bucket, the damaged one left out
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master")}
        assert "dedupe_index" not in tables and "dedupe_groups" in tables
        (repost,) = add(store, article(30, "【视频】" + titles[3], start + timedelta(hours=9), "b"))
        assert story(store, repost) == first[3]


def test_prune_drops_whole_groups_of_old_slots(db: Store) -> None:
    old, new = BOUNDARY - timedelta(days=400), BOUNDARY + timedelta(days=1)
    for number, title, when in ((1, TITLE, old), (2, "国家能源局发布2026年能源工作指导意见", new)):
        db.assign_stories(db.upsert_articles([article(number, title, when)], when).new_ids)
    slots = {slot_of_key(k) for k, _ in stored_buckets(db.conn)}
    assert len(slots) == 2
    groups = db.conn.execute(
        "SELECT count(*) FROM dedupe_groups WHERE group_key < ?",
        (slot_group_bounds(max(slots))[0],),
    ).fetchone()[0]
    counts = db.prune((old + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert counts["articles"] == 1 and counts["dedupe_groups"] == groups > 0
    assert {slot_of_key(k) for k, _ in stored_buckets(db.conn)} == {max(slots)}


def test_a_slot_read_whole_gives_what_probing_its_groups_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``_read_buckets`` (what clustering in a migration reads with) reads a slot it needs many
    groups of by one range scan, the others by probes: the same buckets either way."""
    start = BOUNDARY - timedelta(days=2)
    titles = [f"{TITLE}第{i}批" for i in range(6)] + ["国家能源局发布2026年能源工作指导意见"]
    with Store(tmp_path / "news.db") as db:
        for i, title in enumerate(titles):
            add(db, article(i, title, start + timedelta(hours=i), "ab"[i % 2]))
        held = [key for key, _ in stored_buckets(db.conn)]
        rng = random.Random(5)
        wanted = np.array(held[::2] + [k ^ rng.randrange(1, 1 << 20) for k in held[:9]])
        read, scans = [], []
        for dense in (1 << 20, 1):
            monkeypatch.setattr(store_module, "DENSE_SLOT_GROUPS", dense)
            traced: list[str] = []
            db.conn.set_trace_callback(traced.append)
            buckets = store_module._read_buckets(db.conn, wanted)
            db.conn.set_trace_callback(None)
            slot, hit = _lookup(buckets.keys, wanted)
            read.append(
                [
                    buckets.ids[buckets.starts[i] : buckets.starts[i] + buckets.counts[i]].tolist()
                    if found
                    else []
                    for i, found in zip(slot.tolist(), hit.tolist(), strict=True)
                ]
            )
            scans.append(sum("dedupe_groups WHERE group_key BETWEEN" in q for q in traced))
    assert read[0] == read[1] and any(read[0])
    assert scans == [0, len({slot_of_key(k) for k in wanted.tolist()})]
