"""aggregator.dedupe: normalisation, fingerprints, verification and batch clustering."""

from __future__ import annotations

import calendar
import gc
import random

import numpy as np
import pytest

from aggregator.dedupe import (
    DedupeOptions,
    Member,
    distinct,
    distinct_inverse,
    fingerprints,
    gc_paused,
    match_score,
    match_text,
    options_from_settings,
    timestamp,
    timestamps,
)
from aggregator.errors import ConfigError
from tests.dedupe_reference import (
    cluster_reference,
    keys_of,
    probes_of,
    shortlist,
    timestamps_parsed,
)

OPTIONS = DedupeOptions()


def score(a: str, b: str, options: DedupeOptions = OPTIONS) -> float | None:
    fa, fb = fingerprints([a, b])
    return match_score(fa, fb, options, a, b)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("【人民日报】国家能源局发布指导意见", "国家能源局发布指导意见"),
        ("[视频] 国家能源局：发布《指导意见》！", "国家能源局发布指导意见"),
        ("國家能源局發布指導意見", "国家能源局发布指导意见"),
        ("ＡＢＣ　光伏（２０２６）", "abc光伏2026"),
        ("Solar  Record, set in SPAIN!", "solar record set in spain"),
    ],
)
def test_match_text_normalises_once(raw: str, expected: str) -> None:
    assert match_text(raw) == (expected, False)


def test_match_text_reports_and_drops_the_cut_marker() -> None:
    assert match_text("全国多地开展可再生能源法宣传教...") == (
        "全国多地开展可再生能源法宣传教",
        True,
    )
    assert match_text("Solar record set in Sp…") == ("solar record set in sp", True)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("全国多地开展可再生能源法宣传教...", "全国多地开展《可再生能源法》宣传教育活动"),
        (
            "【人民日报】国家能源局发布2026年能源工作指导意见",
            "国家能源局发布2026年能源工作指导意见",
        ),
        ("国家能源局发布2026年能源工作指导意见", "国家能源局公布2026年能源工作指导意见"),
        ("國家能源局發布2026年能源工作指導意見", "国家能源局发布2026年能源工作指导意见"),
        (
            "Solar record set in Spain as prices fall",
            "Solar record set in Spain as power prices fall",
        ),
        ("Solar record set in Spain as pri...", "Solar record set in Spain as power prices fall"),
    ],
)
def test_near_duplicates_match(a: str, b: str) -> None:
    assert score(a, b) is not None
    assert score(b, a) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "股市必读:甘肃能源(000791)2月24日主力资金净流出",
            "股市必读:中煤能源(601898)2月24日主力资金净流出",
        ),
        (
            "晶科能源获得发明专利授权:一种太阳能电池及其制备方法",
            "隆基绿能获得发明专利授权:一种太阳能电池及其制备方法",
        ),
        ("甘肃能源2025年净利润同比增长12%", "甘肃能源2025年净利润同比增长15%"),
        ("国家电投江苏公司海上风电项目全容量并网", "国家电投广东公司海上风电项目全容量并网"),
        (
            "Tesla wins grid storage contract in Texas",
            "Fluence wins grid storage contract in Texas",
        ),
        (
            "股市必读:甘肃能源(000791)2月24日主力...",
            "股市必读:甘肃能源(000791)2月25日主力资金净流出",
        ),
        ("光伏组件价格", "风电整机价格"),
    ],
)
def test_template_headlines_stay_apart(a: str, b: str) -> None:
    assert score(a, b) is None
    assert score(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [  # found with the hand-written pairs (tests/dedupe_pairs_hand.jsonl, dev split)
        ("国内成品油价格迎年内第三次上调", "国内成品油价格迎年内第三次下调"),
        (
            "动力煤价格周报:秦皇岛5500大卡报价上涨15元/吨",
            "动力煤价格周报:秦皇岛5500大卡报价下跌15元/吨",
        ),
        ("全国首个“光伏+储能”智能微电网在青海投运", "全国首个“风电+储能”智能微电网在青海投运"),
        (
            "中国华能2026年光伏组件集中采购中标候选人公示",
            "中国华电2026年光伏组件集中采购中标候选人公示",
        ),
        ("华为数字能源与沙特签署储能合作协议", "华为数字能源与阿联酋签署储能合作协议"),
        (
            "阳光电源获得发明专利授权:一种逆变器的控制方法及装置",
            "阳光电源获得发明专利授权:一种储能变流器的控制方法及装置",
        ),
        ("海上风电平价时代来临 整机厂商加速大型化", "陆上风电平价时代来临 整机厂商加速大型化"),
    ],
)
def test_a_swapped_kind_company_country_or_direction_is_another_story(a: str, b: str) -> None:
    assert score(a, b) is None
    assert score(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [  # the same names on both sides, or words added: still one story
        ("广东电网最高负荷创历史新高 达1.58亿千瓦", "广东电网最高负荷达1.58亿千瓦 创历史新高"),
        ("宁夏首个“沙戈荒”大基地光伏项目全容量并网", "宁夏首个沙戈荒大基地光伏项目实现全容量并网"),
        ("国内首个百兆瓦级液流电池储能电站投运", "国内首个百兆瓦级液流电池储能电站正式投运"),
    ],
)
def test_unchanged_names_and_added_words_still_match(a: str, b: str) -> None:
    assert score(a, b) is not None
    assert score(b, a) is not None


def test_a_short_cut_headline_matches_nothing() -> None:
    assert score("全国多地...", "全国多地开展《可再生能源法》宣传教育活动") is None


def test_thresholds_change_the_decision() -> None:
    a, b = "国家能源局发布2026年能源工作指导意见", "国家能源局公布2026年能源工作指导意见"
    assert score(a, b, DedupeOptions(min_jaccard=0.95)) is None


def test_near_duplicates_share_index_keys_and_strangers_do_not() -> None:
    a, b, c = fingerprints(
        [
            "全国多地开展可再生能源法宣传教...",
            "全国多地开展《可再生能源法》宣传教育活动",
            "内蒙古500兆瓦风电项目开工建设",
        ]
    )
    assert set(keys_of(a)) & set(keys_of(b))
    assert not set(keys_of(c)) & (set(keys_of(a)) | set(keys_of(b)))
    assert keys_of(fingerprints(["全国多地开展《可再生能源法》宣传教育活动"])[0]) == keys_of(b)


def member(id: int, title: str, when: str = "2026-02-24T00:00:00Z") -> Member:
    return Member(id, id, title, timestamp(when), fingerprints([title])[0])


def test_cluster_batch_joins_the_best_verified_candidate() -> None:
    stored = member(3, "国家能源局发布2026年能源工作指导意见")
    lookalike = member(4, "国家能源局发布2025年能源工作指导意见")
    new = [
        member(10, "【新华社】国家能源局发布2026年能源工作指导意见"),
        member(11, "国家能源局公布2026年能源工作指导意见"),
        member(12, "内蒙古500兆瓦风电项目开工建设"),
    ]
    buckets: dict[int, list[int]] = {}
    for m in (stored, lookalike):
        for key in keys_of(m.fingerprint):
            buckets.setdefault(key, []).append(m.id)
    wanted = {k for m in new for k in keys_of(m.fingerprint)}
    result = cluster_reference(
        new, {k: v for k, v in buckets.items() if k in wanted}, {3: stored, 4: lookalike}, OPTIONS
    )
    assert result.stories == {10: 3, 11: 3}
    assert result.stats.joined == 2
    assert result.stats.rejected >= 1  # the 2025 look-alike was a candidate and was refused
    assert {a for held in result.filed.values() for a in held} == {3, 4, 10, 11, 12}


def test_cluster_batch_finds_duplicates_inside_the_batch_and_respects_the_window() -> None:
    new = [
        member(1, "江苏一200MW/400MWh独立储能电站全容量并网"),
        member(2, "江苏一200MW/400MWh独立储能电站全容量并网", "2026-02-25T00:00:00Z"),
        member(3, "江苏一200MW/400MWh独立储能电站全容量并网", "2026-06-01T00:00:00Z"),
    ]
    result = cluster_reference(new, {}, {}, OPTIONS)
    assert result.stories == {2: 1}


def test_a_full_bucket_keeps_its_newest_articles() -> None:
    title = "股市必读:今日光伏板块主力资金净流入"
    new = [member(i, title) for i in range(1, 6)]
    result = cluster_reference(new, {}, {}, DedupeOptions(bucket_cap=2))
    keys = set(keys_of(new[0].fingerprint))
    assert set(result.filed) == keys
    assert all(held == [4, 5] for held in result.filed.values())
    assert result.stats.capped == 3 * len(keys)
    assert set(result.stories.values()) == {1}  # each found the earlier ones before eviction


def test_options_from_settings() -> None:
    options = options_from_settings(
        {"NEWSAGG_DEDUPE_MIN_JACCARD": "0.7", "NEWSAGG_DEDUPE_ENABLED": "False"}
    )
    assert options.min_jaccard == 0.7
    assert options.enabled is False
    assert options.bucket_cap == OPTIONS.bucket_cap
    with pytest.raises(ConfigError, match="NEWSAGG_DEDUPE_BUCKET_CAP"):
        options_from_settings({"NEWSAGG_DEDUPE_BUCKET_CAP": "many"})
    # values that would file nothing or compare nothing are refused, naming the setting
    for setting, raw in (
        ("NEWSAGG_DEDUPE_BUCKET_CAP", "0"),
        ("NEWSAGG_DEDUPE_MAX_CANDIDATES", "-1"),
        ("NEWSAGG_DEDUPE_MIN_JACCARD", "1.5"),
        ("NEWSAGG_DEDUPE_WINDOW_DAYS", "-3"),
    ):
        with pytest.raises(ConfigError, match=f"{setting}: '{raw}' is not in"):
            options_from_settings({setting: raw})
    with pytest.raises(ConfigError, match="dedupe option bucket_cap: 0"):
        DedupeOptions(bucket_cap=0)


def test_damaged_bucket_rows_read_as_empty_buckets() -> None:
    import numpy as np

    from aggregator.dedupe import Buckets
    from tests.dedupe_reference import bucket_ids

    three = np.array([7, 8, 9], dtype="<i4").tobytes()
    rows = [
        (1, 1, 5),  # one id, an INTEGER
        (2, 3, three),  # three 32-bit ids
        (3, 0, b""),  # what a cap of 0 once wrote
        (4, 2, b"\x01\x02\x03"),  # neither 4 nor 8 bytes an id
        (5, 2, np.array([10, 11], dtype="<i8").tobytes()),  # two 64-bit ids (an older file)
    ]
    buckets = Buckets(rows)
    read = {
        key: buckets.ids[start : start + n].tolist()
        for key, start, n in zip(
            buckets.keys.tolist(), buckets.starts.tolist(), buckets.counts.tolist(), strict=True
        )
    }
    assert read == {1: [5], 2: [7, 8, 9], 3: [], 4: [], 5: [10, 11]}
    assert {key: bucket_ids(n, value) for key, n, value in rows} == read


# -- the batch paths the store takes: the same decisions as the per-article ones -------------


def _corpus_titles() -> list[str]:
    import json
    from pathlib import Path

    pairs = Path(__file__).resolve().parent / "dedupe_pairs.jsonl"
    titles = []
    for line in pairs.read_text("utf-8").splitlines():
        if line:
            pair = json.loads(line)
            titles += [pair["a"], pair["b"]]
    return titles


def test_the_bloom_check_never_refuses_what_verification_would_accept() -> None:
    from aggregator.dedupe import blooms_conflict, numbers_conflict

    titles = _corpus_titles()
    titles += [t[: len(t) * 2 // 3] + "..." for t in titles[::3]]  # cut ones too
    prints = fingerprints(titles)
    refused = 0
    for i, a in enumerate(prints):
        for b in prints[max(0, i - 40) : i]:
            if blooms_conflict(a.bloom, a.cut, b.bloom, b.cut):
                refused += 1
                assert numbers_conflict(a, b), (a.text, b.text)
                assert match_score(a, b, OPTIONS) is None
    assert refused > 1000  # it does refuse most template look-alikes


def _decoded(rows: list[tuple[int, bytes, bytes, bytes]]) -> dict[int, list[int]]:
    """Index group rows as buckets (key -> ids)."""
    from aggregator.dedupe import Buckets

    read = Buckets.from_groups(rows)
    assert not read.damaged
    return {
        key: read.ids[start : start + n].tolist()
        for key, start, n in zip(
            read.keys.tolist(), read.starts.tolist(), read.counts.tolist(), strict=True
        )
    }


def test_shortlists_and_filing_in_arrays_are_the_per_article_ones() -> None:
    import random
    import struct

    from aggregator.dedupe import (
        GROUP_SHIFT,
        Buckets,
        batch_keys,
        file_batch,
        local_shortlist_batch,
        shortlist_batch,
    )

    rng = random.Random(4)
    titles = _corpus_titles()[:300]
    titles += [titles[5]] * 8  # one key filed more often than the cap in one batch
    prints = fingerprints(titles)
    options = DedupeOptions(bucket_cap=5, max_candidates=3)
    keys = batch_keys(prints, options)
    # Stored: buckets of random earlier ids under the batch's probe keys (some over the cap).
    buckets = {
        key: rng.sample(range(1, 60), rng.randrange(1, 8))
        for fp in prints
        for key, _alone in probes_of(fp)
        if rng.random() < 0.5
    }
    packed = Buckets(
        [(key, len(ids), struct.pack(f"<{len(ids)}q", *ids)) for key, ids in buckets.items()]
    )
    owner, other = shortlist_batch(keys, packed, options)
    got: dict[int, set[int]] = {}
    for position, article in zip(owner.tolist(), other.tolist(), strict=True):
        got.setdefault(position, set()).add(article)
    expected = {i: set(shortlist(fp, buckets, options)) for i, fp in enumerate(prints)}
    assert got == {i: ids for i, ids in expected.items() if ids}
    # Local: what cluster_batch's own buckets (filled as it goes, capped) shortlist.
    later, earlier = local_shortlist_batch(keys, options)
    got = {}
    for position, before in zip(later.tolist(), earlier.tolist(), strict=True):
        got.setdefault(position, set()).add(before)
    local: dict[int, list[int]] = {}
    expected = {}
    for i, fp in enumerate(prints):
        expected[i] = set(shortlist(fp, local, options))
        for key in keys_of(fp):
            local.setdefault(key, []).append(i)
            del local[key][: -options.bucket_cap]
    assert got == {i: ids for i, ids in expected.items() if ids}
    assert sum(map(len, got.values())) > 50
    # Filing: what cluster_batch files, as index rows, with the same capped count.
    ids = [100 + i for i in range(len(prints))]
    members = [Member(i, i, t, None, fp) for i, t, fp in zip(ids, titles, prints, strict=True)]
    result = cluster_reference(members, buckets, {}, options)
    rows, capped = file_batch(keys, ids, packed, options)
    # whole groups: the filed buckets, and the held ones of the groups filed into, as held
    touched = {key >> GROUP_SHIFT for key in result.filed}
    assert _decoded(rows) == result.filed | {
        key: ids for key, ids in buckets.items() if key >> GROUP_SHIFT in touched
        and key not in result.filed
    }  # fmt: skip
    assert [row[0] for row in rows] == sorted(touched)
    # as stored: 8-bit counts and 32-bit ids when they fit (64-bit when one does not)
    assert all(len(r[2]) == len(r[1]) // 8 and len(r[3]) == 4 * sum(r[2]) for r in rows)
    wide = [(1 << 40) + i for i in ids]
    rows, _ = file_batch(keys, wide, packed, options)
    assert {key: held for key, held in _decoded(rows).items() if key in result.filed} == {
        key: [(1 << 40) + i if i >= 100 else i for i in filed]
        for key, filed in result.filed.items()
    }
    assert any(len(r[3]) == 8 * sum(r[2]) for r in rows)
    # read back in any order, the same buckets
    assert _decoded(rows[::-1]) == _decoded(rows)
    assert capped == result.stats.capped > 0


def test_prefilter_is_the_window_and_bloom_checks() -> None:
    import numpy as np

    from aggregator.dedupe import blooms_conflict, prefilter

    prints = fingerprints([*_corpus_titles()[:200], "国家能源局发布2026年能源工作指导...", "无"])
    when = [None if i % 7 == 0 else 1.7e9 + i * 86400 for i in range(len(prints))]
    pairs = [(i, j) for i in range(len(prints)) for j in range(max(0, i - 30), i)]
    a, b = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    w = np.array(when, dtype=np.float64)
    bloom = np.array([fp.bloom for fp in prints], dtype=np.int64)
    cut = np.array([fp.cut for fp in prints])
    keep = prefilter(w[a], bloom[a], cut[a], w[b], bloom[b], cut[b], OPTIONS).tolist()
    for (i, j), kept in zip(pairs, keep, strict=True):
        x, y = prints[i], prints[j]
        near = when[i] is None or when[j] is None or abs(when[i] - when[j]) <= 14 * 86400
        assert kept == (near and not blooms_conflict(x.bloom, x.cut, y.bloom, y.cut))
    assert 0 < sum(keep) < len(keep)


def test_latin_flags_in_arrays_are_is_latin() -> None:
    """The English flags counted in the normalisation's arrays, before the rule for a unit's
    space, are :func:`is_latin` of the texts it gives."""
    from aggregator.dedupe import _normalised, is_latin

    titles = [*_corpus_titles(), "", " ", "abc 光伏", "光伏 储能 abcdefghi", "光伏 1 GW ab"]
    titles += ["江苏 5 MW abcdefgh", "5 MW 光伏 ab", "abc\n光伏", "電網 ab"]
    texts, _cuts, flags = _normalised(titles)
    assert texts == [match_text(t)[0] for t in titles]
    assert flags == [is_latin(t) for t in texts]
    assert 0 < sum(flags) < len(texts)
    assert _normalised([]) == ([], [], [])


def test_recent_attributes_hold_the_newest_ids() -> None:
    import numpy as np

    from aggregator.dedupe import RecentAttributes

    recent = RecentAttributes(limit=5000)
    for start in range(100, 20_100, 1000):
        ids = np.arange(start, start + 1000)
        recent.add(ids, ids * 1.5, ids * 2, ids % 2 == 0)
    asked = np.array([50, 100, 14_999, 15_100, 20_099, 20_100, 99_999])
    held, seen, nums, cut = recent.get(asked)
    assert held.tolist() == [False, False, False, True, True, False, False]
    assert seen[held].tolist() == [15_100 * 1.5, 20_099 * 1.5]
    assert nums[held].tolist() == [30_200, 40_198]
    assert cut[held].tolist() == [True, False]
    assert len(recent.held) <= 5000
    assert not RecentAttributes(0).get(asked)[0].any()


def test_lookup_in_key_order_is_the_plain_lookup() -> None:
    from aggregator.dedupe import _lookup

    rng = np.random.default_rng(3)
    for held, asked in ((5000, 3000), (1, 50), (0, 10), (300, 0)):
        keys = np.unique(rng.integers(-(1 << 62), 1 << 62, held))
        some = rng.choice(keys, asked // 2) if held else keys[:0]
        probes = np.concatenate([some, rng.integers(-(1 << 62), 1 << 62, asked - len(some))])
        plain = _lookup(keys, probes)
        slot, hit = _lookup(keys, probes, np.argsort(probes, kind="stable"))
        assert hit.tolist() == plain[1].tolist()
        assert slot[hit].tolist() == plain[0][hit].tolist()
        assert (keys[slot[hit]] == probes[hit]).all() and hit.sum() >= (asked // 2 if held else 0)


def test_distinct_is_numpy_unique_whatever_the_range() -> None:
    rng = np.random.default_rng(7)
    for values in (
        np.zeros(0, dtype=np.int64),
        np.array([5], dtype=np.int64),
        rng.integers(60_000, 61_000, 5_000),  # ids of recent articles: a mask over the range
        rng.integers(-(1 << 62), 1 << 62, 5_000),  # index keys: a sort
        np.array([-3, 7, -3, 2**62, 7, 0], dtype=np.int64),
    ):
        found = distinct(values)
        assert found.dtype == np.int64
        assert found.tolist() == np.unique(values).tolist()
        unique, inverse = distinct_inverse(values)
        expected, where = np.unique(values, return_inverse=True)
        assert unique.tolist() == expected.tolist()
        assert inverse.tolist() == where.ravel().tolist()
        assert unique[inverse].tolist() == values.tolist()


@pytest.mark.parametrize(
    "stamps",
    [
        ["2026-01-01T00:00:00Z", "2024-02-29T23:59:59Z", "0001-01-01T00:00:00Z"],
        ["9999-12-31T23:59:59Z", "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z"],
        ["2026-01-01T00:00:00Z", None],  # no time: one by one
        ["2026-01-01T00:00:00.250000+00:00", "2026-01-01T08:00:00+08:00"],  # other forms
        ["2026-01-01 00:00:00Z", "2026-01-01T00:00:00"],
        [],
    ],
)
def test_timestamps_are_timestamp_of_each(stamps: list[str | None]) -> None:
    assert timestamps(stamps) == [timestamp(stamp) for stamp in stamps]


@pytest.mark.parametrize(
    "bad", ["2026-02-29T00:00:00Z", "2026-01-01T24:00:00Z", "2026-12-31T23:59:60Z", "２０２６"]
)
def test_timestamps_refuse_what_timestamp_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        timestamp(bad)
    with pytest.raises(ValueError):
        timestamps(["2026-01-01T00:00:00Z", bad])


def _stamp(rng: random.Random, valid: bool) -> str | None:
    """A time in the store's form: a valid one (any year, leap days, the ends of months and
    days), or one that may have any field out of range or be in another form."""
    year = rng.choice([rng.randint(1, 9999), rng.randint(1896, 2104), 1, 9999, 1900, 2000, 2100])
    month = rng.randint(1, 12)
    last = calendar.monthrange(year, month)[1]
    day = rng.choice([rng.randint(1, 28), last, last, min(29, last)])
    clock = [rng.choice([rng.randint(0, high), high]) for high in (23, 59, 59)]
    if not valid:
        year, month = rng.choice([year, 0]), rng.choice([month, 0, 13, 99])
        day, clock[rng.randrange(3)] = rng.choice([day, 0, last + 1, 32]), rng.choice([24, 60])
    stamp = f"{year:04d}-{month:02d}-{day:02d}T{clock[0]:02d}:{clock[1]:02d}:{clock[2]:02d}Z"
    if valid:
        return stamp
    return rng.choice([
        stamp, stamp, stamp[:-1] + "+00:00", stamp.replace("-", "/", 1), stamp[:-1], None,
        stamp + "\n" + stamp, stamp.replace("0", "０", 1), stamp.replace("T", " "),
    ])  # fmt: skip


def test_timestamps_in_arrays_are_those_parsed_one_by_one() -> None:
    """The civil calendar's formula gives what numpy's parser and ``timestamp`` give, on valid
    times of every year, month end and leap day; a batch with a time out of range or in another
    form gives or refuses what the parser did (tests/dedupe_reference.py)."""
    rng = random.Random(20261205)
    valid = [_stamp(rng, True) for _ in range(20000)]
    found = timestamps(valid)
    assert found == timestamps_parsed(valid) == [timestamp(stamp) for stamp in valid]
    assert sum(stamp[5:10] == "02-29" for stamp in valid if stamp) > 50  # leap days, valid or not
    outcomes = set()
    for _ in range(3000):
        batch = [_stamp(rng, rng.random() < 0.8) for _ in range(rng.randrange(1, 4))]
        try:
            expected: object = timestamps_parsed(batch)
        except ValueError:
            expected = ValueError
        try:
            got: object = timestamps(batch)
        except ValueError:
            got = ValueError
        assert got == expected, batch
        outcomes.add(expected is ValueError)
    assert outcomes == {True, False}


def test_gc_paused_restores_the_collector() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("inside")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # paused by someone else: left so
    finally:
        gc.enable()
