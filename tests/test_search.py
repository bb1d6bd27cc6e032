"""Search terms and their FTS5 expressions, checked against a real FTS5 table in the store."""

from __future__ import annotations

from typing import Any

import pytest

from aggregator.querysyntax import parse_query
from aggregator.search import RUN_BREAK, field_terms, fts_query, highlight_spans, index_terms
from aggregator.store import Store
from tests.conftest import NOW

HEADLINES = [
    ("国家能源局：抽水蓄能电站建设提速", "储能站并网,绿氢项目落地"),
    ("光伏组件价格继续下行", "TOPCon电池片出货量增长"),
    ("Battery storage prices fall again", "Grid-scale lithium-ion projects in China"),
    ("氢能产业链：电解槽订单", "Green hydrogen, storage and solar"),
    ("风电装机创新高", "海上风电。光伏配套"),
]


def test_field_terms_split_words_bigrams_and_characters() -> None:
    words, pairs, chars = field_terms("TOPCon电池 N型，光伏")
    assert words == "topcon n"
    assert pairs.split(" ") == ["电池", RUN_BREAK, "型", RUN_BREAK, "光伏"]
    assert chars.split(" ") == ["电", "池", "型", "光", "伏"]


def test_index_terms_has_title_and_snippet_columns() -> None:
    assert index_terms("氢", "") == ("", "氢", "氢", "", "", "")


def test_fts_query_shapes() -> None:
    assert fts_query(parse_query("氢")) == '({title_cjk1 snippet_cjk1} : "氢")'
    assert fts_query(parse_query("储能站")) == '({title_cjk2 snippet_cjk2} : "储能 能站")'
    assert fts_query(parse_query("Solar")) == '({title_words snippet_words} : "solar")'
    assert fts_query(parse_query("a -b")) == (
        '(({title_words snippet_words} : "a")) NOT ({title_words snippet_words} : "b")'
    )


@pytest.fixture
def store() -> Any:
    store = Store(":memory:")
    rows = [
        {
            "url": f"https://e.com/{i}",
            "canonical_url": f"https://e.com/{i}",
            "source": "s",
            "guid": None,
            "title": title,
            "snippet": snippet,
            "published_at": f"2026-02-2{i}T08:00:00Z",
            "published_precision": "minute",
            "published_from": "list",
            "flags": [],
            "language": "zh",
            "topics": [],
        }
        for i, (title, snippet) in enumerate(HEADLINES)
    ]
    store.upsert_articles(rows, NOW)
    yield store
    store.close()


def titles(store: Store, text: str) -> list[str]:
    return [row["title"] for row in store.articles(text=text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("氢", [3, 0]),  # one character: in 绿氢 (snippet) and 氢能 (title)
        ("光伏", [4, 1]),  # two
        ("储能站", [0]),  # three: 储能站 in a snippet, not 蓄能电站
        ("抽水蓄能", [0]),  # four
        ("能电站", [0]),
        ("电站建设提速", [0]),
        ("battery", [2]),
        ("STORAGE", [3, 2]),  # case-folded, title or snippet
        ('"storage prices"', [2]),
        ('"prices storage"', []),
        ("storage -hydrogen", [2]),
        ("光伏 OR 氢能", [4, 3, 1]),
        ("topcon电池", [1]),
        ("lithium ion", [2]),
        ("光伏组件价格", [1]),
        ("风电光伏", []),  # 风电。光伏 are two runs: no phrase across punctuation
        ('"海上风电 光伏"', [4]),  # a quoted phrase may span it
        ("光伏 海上", [4]),
        ("solar", [3]),
        ("sola", []),  # whole words, not prefixes
        ("价格 -光伏", []),
    ],
)
def test_every_word_length_matches(store: Store, text: str, expected: list[int]) -> None:
    assert titles(store, text) == [HEADLINES[i][0] for i in expected]


def test_search_agrees_with_a_substring_scan_for_chinese_words(store: Store) -> None:
    corpus = [t + " " + s for t, s in HEADLINES]
    probes = {text[i : i + n] for text in corpus for n in (1, 2, 3, 4) for i in range(len(text))}
    probes = {p for p in probes if all("\u4e00" <= ch <= "\u9fff" for ch in p)}
    assert len(probes) > 150
    for probe in sorted(probes):
        expected = sorted(
            (HEADLINES[i][0] for i, text in enumerate(corpus) if probe in text), reverse=True
        )
        assert sorted(titles(store, probe), reverse=True) == expected, probe


def test_highlight_spans_merge_overlaps() -> None:
    query = parse_query("光伏 伏组 solar")
    text = "光伏组件 Solar solarcity"
    assert highlight_spans(text, query) == [(0, 3), (5, 10)]
