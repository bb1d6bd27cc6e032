"""aggregator.dedupe: the name check's diff (``matching_blocks``, ``diff_regions``) gives exactly
what difflib gives, on real headline pairs and on generated ones."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from difflib import SequenceMatcher

from aggregator.dedupe import diff_regions, fingerprints, matching_blocks
from tests.conftest import ROOT


def difflib_regions(x: Sequence[str], y: Sequence[str]) -> list[tuple[int, int, int, int]]:
    """diff_regions() as it was written on difflib's opcodes: the reference."""
    regions: list[list[int]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, x, y, autojunk=False).get_opcodes():
        if tag == "equal":
            if i2 - i1 > 1 or not regions or i1 == 0 or i2 == len(x):
                regions.append([])  # a boundary
            continue
        if regions and regions[-1]:
            regions[-1][1], regions[-1][3] = i2, j2
        else:
            if regions and not regions[-1]:
                regions.pop()
            regions.append([i1, i2, j1, j2])
    return [(r[0], r[1], r[2], r[3]) for r in regions if r]


def labelled_texts() -> list[tuple[str, str]]:
    pairs = []
    for name in ("dedupe_pairs.jsonl", "dedupe_pairs_hand.jsonl"):
        for line in (ROOT / "tests" / name).read_text("utf-8").splitlines():
            if line.strip():
                pair = json.loads(line)
                a, b = fingerprints([pair["a"], pair["b"]])
                pairs.append((a.text, b.text))
    return pairs


def edited(rng: random.Random, text: str, alphabet: str) -> str:
    """The text with a few characters inserted, dropped or changed (as a repost edits it)."""
    chars = list(text)
    for _ in range(rng.randrange(1, 5)):
        at = rng.randrange(len(chars) + 1)
        kind = rng.randrange(3)
        if kind == 0 or not chars:
            chars[at:at] = rng.choices(alphabet, k=rng.randrange(1, 4))
        elif kind == 1:
            del chars[at : at + rng.randrange(1, 4)]
        else:
            chars[at : at + 2] = rng.choices(alphabet, k=2)
    return "".join(chars)


def string_pairs() -> Iterator[tuple[str, str]]:
    rng = random.Random(20261202)
    labelled = labelled_texts()
    for a, b in labelled:  # the labelled pairs, Chinese compact, English as characters
        yield a.replace(" ", ""), b.replace(" ", "")
        yield a, b
    texts = [text for pair in labelled for text in pair if text]
    for _ in range(3000):  # reposts of real headlines
        text = rng.choice(texts).replace(" ", "")
        yield text, edited(rng, text, text + "的江苏浙省")
    for _ in range(6000):  # few distinct characters: many runs of equal length
        alphabet = rng.choice(["ab", "abc", "江苏浙", "aab", "abcdefgh"])
        yield (
            "".join(rng.choices(alphabet, k=rng.randrange(14))),
            "".join(rng.choices(alphabet, k=rng.randrange(14))),
        )


def test_matching_blocks_are_difflibs() -> None:
    count = 0
    for a, b in string_pairs():
        expected = SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
        assert matching_blocks(a, b) == [tuple(block) for block in expected], (a, b)
        count += 1
    assert count > 9000


def test_diff_regions_are_those_of_difflib_on_characters_and_words() -> None:
    rng = random.Random(7)
    count = 0
    for a, b in string_pairs():
        assert diff_regions(a, b) == difflib_regions(a, b), (a, b)
        count += 1
    words = [
        "solar",
        "wind",
        "grid",
        "the",
        "a",
        "spain",
        "record",
        "prices",
        "fall",
        "set",
        "in",
        "1.2gw",
    ]
    for a, b in labelled_texts():  # English is compared word by word
        assert diff_regions(a.split(), b.split()) == difflib_regions(a.split(), b.split())
    for _ in range(3000):
        x = rng.choices(words, k=rng.randrange(10))
        y = edited(
            rng,
            "".join(chr(0x100 + words.index(w)) for w in x),
            "".join(chr(0x100 + i) for i in range(len(words))),
        )
        y_words = [words[ord(c) - 0x100] for c in y]
        assert diff_regions(x, y_words) == difflib_regions(x, y_words), (x, y_words)
        count += 1
    assert count > 12000


def test_the_diff_finds_swaps_and_merges_across_one_equal_item() -> None:
    assert diff_regions("新疆江苏省光伏", "新疆浙江省光伏") == [(2, 4, 2, 4)]  # across one "江"
    assert diff_regions("江苏省光伏", "浙江省光伏") == [(0, 0, 0, 1), (1, 2, 2, 2)]  # at the start
    assert diff_regions("甘肃能源000791", "中煤能源601898") == [(0, 2, 0, 2), (4, 10, 4, 10)]
    assert diff_regions("abc", "abc") == []
    assert diff_regions("", "abc") == [(0, 0, 0, 3)]
    assert diff_regions(["tesla", "wins"], ["fluence", "wins"]) == [(0, 1, 0, 1)]
