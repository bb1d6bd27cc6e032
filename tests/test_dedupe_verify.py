"""aggregator.dedupe between the fingerprints and the write: ranking a batch's shortlisted
pairs, filing a batch into the groups it touches and which articles ``cluster_batch``
compares."""

from __future__ import annotations

import random

import numpy as np
import pytest

from aggregator.dedupe import (
    GROUP_SHIFT,
    Buckets,
    DedupeOptions,
    Fingerprint,
    Member,
    _rank_pairs,
    batch_keys,
    cluster_batch,
    file_batch,
    fingerprints,
    key_groups,
    pack_groups,
)
from tests.dedupe_reference import keys_of


def _ranked(
    owner: list[int], other: list[int], weight: list[int], options: DedupeOptions
) -> list[tuple[int, int]]:
    """What ``_rank_pairs`` must give, pair by pair: by owner, then most shared, then the
    highest other; those reaching ``min_shared_keys``, ``max_candidates`` an owner."""
    shared: dict[tuple[int, int], int] = {}
    for pair in zip(owner, other, weight, strict=True):
        shared[pair[:2]] = shared.get(pair[:2], 0) + pair[2]
    kept = sorted(
        (pair for pair, count in shared.items() if count >= options.min_shared_keys),
        key=lambda pair: (pair[0], -shared[pair], -pair[1]),
    )
    taken: dict[int, int] = {}
    ranked = []
    for pair in kept:
        taken[pair[0]] = taken.get(pair[0], 0) + 1
        if taken[pair[0]] <= options.max_candidates:
            ranked.append(pair)
    return ranked


def test_ranking_is_the_pair_by_pair_one_for_every_width_of_id() -> None:
    """The codes are bit fields; ids too wide for them (or negative) are ranked by their order."""
    rng = random.Random(8)
    for trial in range(400):
        n = rng.randrange(0, 120)
        high = rng.choice([3, 40, 1 << 20, 1 << 40, 1 << 61])
        low = -high if trial % 5 == 0 else 0
        owner = [rng.randrange(rng.randrange(1, 12)) for _ in range(n)]
        other = [
            rng.randrange(low, high) if rng.random() < 0.5 else rng.randrange(4) for _ in owner
        ]
        weight = [rng.choice([1, 1, 2, rng.randrange(1, 9)]) for _ in owner]
        options = DedupeOptions(
            min_shared_keys=rng.randrange(1, 4), max_candidates=rng.randrange(1, 6)
        )
        got = _rank_pairs(np.array(owner, np.int64), np.array(other, np.int64),
                          np.array(weight, np.int64), options)  # fmt: skip
        assert list(zip(*(a.tolist() for a in got), strict=True)) == _ranked(
            owner, other, weight, options
        )


def _held(buckets: Buckets) -> dict[int, list[int]]:
    return {
        key: buckets.ids[start : start + n].tolist()
        for key, start, n in zip(
            buckets.keys.tolist(), buckets.starts.tolist(), buckets.counts.tolist(), strict=True
        )
    }


def _packed(held: dict[int, list[int]]) -> Buckets:
    keys = sorted(held)
    rows = pack_groups(
        np.array(keys, dtype=np.int64),
        np.array([len(held[k]) for k in keys], dtype=np.int64),
        np.array([i for k in keys for i in held[k]], dtype=np.int64),
    )
    return Buckets.from_groups([(g, bytes(k), bytes(c), bytes(i)) for g, k, c, i in rows])


@pytest.mark.parametrize("apart", [False, True])
def test_filing_rewrites_the_touched_groups_as_a_dict_would(apart: bool) -> None:
    """Every group the batch files into comes back whole: its held buckets, the batch's ids
    added, each capped; whether the touched groups' held keys meet or held groups the batch
    leaves alone lie between them (many spans of the held keys)."""
    rng = random.Random(5)
    titles = [f"国家能源局发布2026年第{i}批可再生能源项目清单{i % 7}" for i in range(60)]
    titles += titles[:4]  # keys filed twice in the batch
    prints = fingerprints(titles)
    options = DedupeOptions(bucket_cap=4)
    keys = batch_keys(prints, options)
    touched = set(key_groups(keys.distinct).tolist())
    held: dict[int, list[int]] = {}
    for key in keys.distinct.tolist()[::2]:  # some filed keys already hold ids
        held[key] = sorted(rng.sample(range(1, 500), rng.randrange(1, 7)))
    for group in sorted(touched):  # other keys of the touched groups
        held[(group << GROUP_SHIFT) | rng.randrange(1 << 20)] = [rng.randrange(1, 500)]
        if apart and group + 1 not in touched:  # a group the batch leaves alone, between
            held[((group + 1) << GROUP_SHIFT) | 7] = [1, 2]
    buckets = _packed(held)
    groups = np.array(sorted(touched))
    low = np.searchsorted(buckets.keys, groups << GROUP_SHIFT)
    high = np.searchsorted(buckets.keys, (groups + 1) << GROUP_SHIFT)
    runs = 1 + int((low[1:] != high[:-1]).sum())  # spans of held keys that do not meet
    assert (runs > 16) == apart  # (the two layouts)
    ids = [1000 + i for i in range(len(prints))]
    rows, capped = file_batch(keys, ids, buckets, options)
    expected = {k: v for k, v in held.items() if k >> GROUP_SHIFT in touched}
    dropped = 0
    for position, fp in enumerate(prints):
        for key in keys_of(fp):
            expected.setdefault(key, []).append(ids[position])
    for bucket in expected.values():
        dropped += max(len(bucket) - options.bucket_cap, 0)
        del bucket[: -options.bucket_cap]
    assert [row[0] for row in rows] == sorted(touched)
    assert _held(Buckets.from_groups(rows)) == expected
    assert capped == dropped > 0


def test_packing_leaves_the_callers_arrays_writable() -> None:
    keys = np.array([1 << GROUP_SHIFT | 5, 2 << GROUP_SHIFT | 9], dtype=np.int64)
    counts, ids = np.array([1, 2], dtype=np.int64), np.array([7, 8, 9], dtype=np.int64)
    rows = pack_groups(keys, counts, ids)
    assert [bytes(row[3]) for row in rows] == [np.array([7], "<i4").tobytes(),
                                               np.array([8, 9], "<i4").tobytes()]  # fmt: skip
    assert all(a.flags.writeable for a in (keys, counts, ids))
    assert all(value.readonly for row in rows for value in row[1:])


def _member(id: int, title: str) -> Member:
    return Member(id, id, title, None, Fingerprint.of(title))


def test_a_new_article_is_compared_only_with_earlier_ones() -> None:
    """A shortlist naming a later article of the batch (or the article itself) is not compared:
    that article is not clustered yet, as a shortlist of the index never names one."""
    title = "国家能源局发布2026年能源工作指导意见"
    new = [_member(10, title), _member(11, title), _member(12, title)]
    result = cluster_batch(new, {}, DedupeOptions(), {10: [10, 11, 12]}, {12: [11, 10]})
    assert result.stories == {12: 10}
    assert result.stats.candidates == 2
    # nor a story's founder that is a later article of the batch (a cut candidate's founder
    # must fit too, once it is clustered)
    cut = Member(5, 30, "国家能源局发布2026年能源工作...", None,
                 Fingerprint.of("国家能源局发布2026年能源工作..."))  # fmt: skip
    assert cut.fingerprint.cut
    new = [_member(21, title), _member(30, "Solar record set in Spain as prices fall")]
    result = cluster_batch(new, {5: cut}, DedupeOptions(), {21: [5]}, {})
    assert result.stories == {21: 30}
    result = cluster_batch(
        [_member(31, title)], {5: cut, 30: new[1]}, DedupeOptions(), {31: [5]}, {}
    )
    assert result.stories == {}  # a clustered founder that does not fit refuses it
