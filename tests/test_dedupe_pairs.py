"""Precision and recall of story clustering on the labelled pairs.

Two sets, the same fields: tests/dedupe_pairs.jsonl (504 pairs, written by
tests/make_dedupe_pairs.py from hand-written headlines and mechanical cuts, tags and templates:
optimistic) and tests/dedupe_pairs_hand.jsonl (143 pairs written one by one, each with a
``note`` on its style: sidebar cuts of 北极星/国际能源网/中国电力新闻网, 【来源】 and [视频]
prefixes, Reuters/PV magazine headlines, rewordings; hard negatives such as 股市必读 and patent
templates, the same company with another MW, date, unit or phase). Both are split 50/50 into dev
and test by hand.

Each pair goes the way a crawl takes it: ``b`` is stored and filed in an index, ``a`` arrives new
and is clustered by :func:`aggregator.dedupe.cluster_batch` (index shortlist, then verification)
with the default options, which were chosen on the dev split. The assertions are on the test split.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from aggregator.dedupe import DedupeOptions, Member, fingerprints
from tests.dedupe_reference import cluster_reference, keys_of

PAIRS_FILE = Path(__file__).resolve().parent / "dedupe_pairs.jsonl"
HAND_FILE = Path(__file__).resolve().parent / "dedupe_pairs_hand.jsonl"


def _load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]


GENERATED = _load(PAIRS_FILE)
HAND = _load(HAND_FILE)
PAIRS: list[dict[str, Any]] = GENERATED + HAND
SETS = {"generated": GENERATED, "hand": HAND, "whole": PAIRS}
HARD = ("template", "reword-neg")


def same_story(a: str, b: str, options: DedupeOptions) -> bool:
    stored_fp, new_fp = fingerprints([b, a])
    stored = Member(1, 1, b, None, stored_fp)
    new = Member(2, 2, a, None, new_fp)
    buckets = {key: [1] for key in keys_of(stored_fp)}
    return cluster_reference([new], buckets, {1: stored}, options).stories.get(2) == 1


def scores(
    split: str, options: DedupeOptions, pairs: list[dict[str, Any]] = PAIRS
) -> tuple[float, float, list[str]]:
    tp = fp = fn = 0
    errors = []
    for pair in pairs:
        if pair["split"] != split:
            continue
        predicted = same_story(pair["a"], pair["b"], options)
        if predicted and pair["same"]:
            tp += 1
        elif predicted:
            fp += 1
            errors.append(f"merged {pair['kind']}: {pair['a']} | {pair['b']}")
        elif pair["same"]:
            fn += 1
            errors.append(f"missed {pair['kind']}: {pair['a']} | {pair['b']}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    return precision, tp / (tp + fn), errors


def test_the_labelled_set_is_what_the_issue_asks_for() -> None:
    assert len(PAIRS) >= 400
    hard = sum(1 for p in PAIRS if p["kind"] in HARD)
    assert hard / len(PAIRS) >= 0.4
    assert {p["lang"] for p in PAIRS} == {"zh", "en"}
    splits = Counter(p["split"] for p in PAIRS)
    assert abs(splits["dev"] - splits["test"]) <= len(PAIRS) * 0.02
    assert all(p["same"] == (p["kind"] not in (*HARD, "unrelated")) for p in PAIRS)
    assert len({(p["a"], p["b"]) for p in PAIRS}) == len(PAIRS)


def test_the_hand_written_set_is_realistic_and_apart() -> None:
    assert len(HAND) >= 120
    hard = sum(1 for p in HAND if p["kind"] in HARD)
    assert hard / len(HAND) >= 0.4
    assert Counter(p["lang"] for p in HAND)["en"] >= 30
    splits = Counter(p["split"] for p in HAND)
    assert abs(splits["dev"] - splits["test"]) <= 1
    assert all(p["note"] for p in HAND)
    assert not {(p["a"], p["b"]) for p in HAND} & {(p["a"], p["b"]) for p in GENERATED}


@pytest.mark.parametrize("which", list(SETS))
@pytest.mark.parametrize("split", ["dev", "test"])
def test_precision_and_recall(split: str, which: str, capsys: pytest.CaptureFixture[str]) -> None:
    precision, recall, errors = scores(split, DedupeOptions(), SETS[which])
    with capsys.disabled():
        print(f"\n{which} {split}: precision {precision:.3f}, recall {recall:.3f}")
        for error in errors:
            print("  " + error)
    if split == "test" and which != "hand":
        assert precision >= 0.98, errors
        assert recall >= 0.90, errors
    if split == "test" and which == "hand":  # realistic pairs: rewordings are missed more often
        assert precision >= 0.98, errors
        assert recall >= 0.80, errors


def test_stricter_thresholds_trade_recall_for_precision() -> None:
    _p, recall_default, _e = scores("dev", DedupeOptions())
    _p, recall_strict, _e = scores("dev", DedupeOptions(min_jaccard=0.9, min_containment=1.0))
    assert recall_strict < recall_default
