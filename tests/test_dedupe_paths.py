"""aggregator.dedupe: the store's one path for a batch's index keys (``filed_keys``,
``batch_keys``) reads the arrays ``fingerprints`` made, as the per-headline reference does."""

from __future__ import annotations

import numpy as np
import pytest

from aggregator.dedupe import DedupeOptions, Fingerprint, batch_keys, filed_keys, fingerprints
from tests.dedupe_reference import keys_of, probes_of

TITLES = [
    "国家能源局发布2026年能源工作指导意见",
    "全国多地开展可再生能源法宣传教...",
    "Solar record set in Spain as prices fall",
    "",
    "【人民日报】",
]


def test_filed_keys_are_each_headlines_keys_in_order() -> None:
    prints = fingerprints(TITLES)
    at, keys = filed_keys(prints)
    assert keys.tolist() == [key for fp in prints for key in keys_of(fp)]
    assert at.tolist() == [i for i, fp in enumerate(prints) for _ in keys_of(fp)]
    assert not keys_of(prints[3]) and not keys_of(prints[4])  # no text, no keys
    picked = [prints[2], prints[0]]  # any rows of the batch, in any order
    at, keys = filed_keys(picked)
    assert keys.tolist() == keys_of(prints[2]) + keys_of(prints[0])
    assert at.tolist() == [0] * len(keys_of(prints[2])) + [1] * len(keys_of(prints[0]))


def test_batch_keys_probe_what_each_headline_probes() -> None:
    prints = fingerprints(TITLES)
    options = DedupeOptions(min_shared_keys=3)
    keys = batch_keys(prints, options)
    probes = [(i, key, alone) for i, fp in enumerate(prints) for key, alone in probes_of(fp)]
    assert keys.probe_at.tolist() == [i for i, _, _ in probes]
    assert keys.probe_keys.tolist() == [key for _, key, _ in probes]
    assert keys.probe_weight.tolist() == [3 if alone else 1 for _, _, alone in probes]
    assert keys.distinct.tolist() == sorted({key for fp in prints for key in keys_of(fp)})
    empty = batch_keys([], options)
    assert empty.size == 0 and not len(empty.distinct) and not len(empty.probe_keys)


def test_keys_need_fingerprints_of_one_batch() -> None:
    (a,), (b,) = fingerprints(TITLES[:1]), fingerprints(TITLES[1:2])
    with pytest.raises(ValueError, match="one fingerprints"):
        batch_keys([a, b], DedupeOptions())
    with pytest.raises(ValueError, match="one fingerprints"):
        filed_keys([Fingerprint("光伏", False)])  # made without keys


def test_pairs_of_ids_too_large_to_combine_rank_as_small_ones() -> None:
    """Ids that do not fit in one code with the owner and weight are ranked by their order
    (the branch used to fail: its rank table was never bound)."""
    from aggregator.dedupe import _rank_pairs

    owner = np.array([0, 0, 0, 1, 1, 1, 1, 2])
    other = np.array([5, 5, 9, 3, 7, 7, 8, 4])
    weight = np.array([1, 1, 1, 3, 1, 1, 1, 1])
    options = DedupeOptions(min_shared_keys=2, max_candidates=1)
    small = _rank_pairs(owner, other, weight, options)
    assert [a.tolist() for a in small] == [[0, 1], [5, 3]]
    for shift in (1 << 60, -(1 << 40)):
        large = _rank_pairs(owner, other + shift, weight, options)
        assert large[0].tolist() == small[0].tolist()
        assert large[1].tolist() == (small[1] + shift).tolist()
