"""aggregator.dedupe: the batch path (``fingerprints``, ``match_texts``) gives exactly what the
per-headline path (``match_text``, ``Fingerprint.of``) gives, whatever the batch holds."""

from __future__ import annotations

import json
import random
import re
import unicodedata
import zlib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from aggregator.dedupe import (
    _CJK,
    _T2S,
    _TAG_OPENERS,
    _UNIT_SPACE_RE,
    _WIRE_TAG,
    _ZH_DECISIVE_LINES_RE,
    _ZH_DECISIVE_RE,
    BANDS,
    PLACES,
    PREFIX_CJK,
    PREFIX_LATIN,
    Fingerprint,
    _bmp_tables,
    _decisive,
    _latin_shingle_hashes,
    _latin_tokens,
    _nfkc_joined,
    _searched_text,
    _words_spaced,
    fingerprints,
    match_text,
    match_texts,
    number_bloom,
)
from aggregator.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Store,
    _migration_17,
    _migration_18,
    stored_buckets,
)
from aggregator.text import nfkc, strip_cut_marker
from tests.conftest import ROOT
from tests.dedupe_reference import NOT_WORD_LINES_RE, keys_of, probes_of, words_spaced

# The normalisation rules for one title, as they were written before match_text() became
# match_texts() of one title: the batch rules must give, on each line, what these give.
NOT_WORD_RE = re.compile(r"(?:[^\w.]|_|(?<!\d)\.|\.(?!\d))+")
PREFIX_TAG_RE = re.compile(
    r"^(?:\s*(?:【[^】]{1,16}】|\[[^\]]{1,16}\]|〔[^〕]{1,16}〕|「[^」]{1,16}」|\([^)]{1,8}\)"
    f"|{_WIRE_TAG}))+"
)
CJK_SPACE_RE = re.compile(f"(?<=[{_CJK}]) | (?=[{_CJK}])")


def one_title(title: str) -> tuple[str, bool]:
    """What match_text() gave, one title at a time."""
    whole = title.rstrip()
    title = strip_cut_marker(whole)
    cut = title != whole
    title = unicodedata.normalize("NFKC", title)
    if title[:1] in _TAG_OPENERS:
        title = PREFIX_TAG_RE.sub("", title)
    text = NOT_WORD_RE.sub(" ", title.translate(_T2S).casefold()).strip()
    return _UNIT_SPACE_RE.sub("", CJK_SPACE_RE.sub("", text)), cut


EDGE_CASES = [
    "",
    " ",
    "\t \u3000",
    "！？。，、",
    "...",
    "…",
    "……",
    "。。。",
    "．．．",
    "..",
    "  ...  ",
    "【人民日报】",
    "【人民日报】...",
    "【未闭合的标签",  # with the next: a tag that would close in the next title
    "闭合】国家能源局",
    "(图",
    "文)光伏",
    "「独家",
    "」储能",
    "[视频]\n【新华社】国家能源局发布指导意见",
    "国家能源局\n发布指导意见...",
    "line one\nline two",
    "\n",
    "\n\n【快讯】",
    "a\r\nb",
    "\u2028光伏\u2029储能",
    "\x00\x01光伏\x1f储能\x7f",
    "\u200b\u200d零宽\ufeff",
    "ＡＢＣ　光伏（２０２６）：第１批",
    "［视频］（图）「独家」〔快讯〕江苏省光伏",
    "e\u0301\u0327 cafe\u0301 Å",
    "\u0301开头是组合符",
    "ﬁ ﬂ ㎿ ㍱ ① ⅻ",
    "🔋⚡ 储能 🇨🇳 emoji 😀",
    "مرحبا بالعالم ٣٤٥ solar",
    "שלום 500MW",
    "\u202eevil\u202c 光伏",
    "Σ ΣΑΣ ὈΔΥΣΣΕΎΣ straße ǅ",
    "第四川三月",
    "长三角三月将有三",
    "四川第十四川",
    "一二三四川",
    "第十四个五年规划第二批项目",
    "2026年2月24日 10.8. .5 1.2.3 x_y __init__",
    "Solar... record… set in Spain...",
    "UPDATE 1-Solar record set in Spain as prices fall",
    "BREAKING: 1.2GW vs 1.2 GW offshore wind",
    "國家能源局發布2026年能源工作指導意見",
    "(图)[视频] 江苏" + "很长" * 300,
    "x" * 40 + "...",
]


@cache
def labelled_titles() -> tuple[str, ...]:
    titles: list[str] = []
    for name in ("dedupe_pairs.jsonl", "dedupe_pairs_hand.jsonl"):
        for line in (ROOT / "tests" / name).read_text("utf-8").splitlines():
            if line.strip():
                pair = json.loads(line)
                titles += [pair["a"], pair["b"]]
    return tuple(titles)


@cache
def hostile_titles() -> tuple[str, ...]:
    """Every hostile case's expected titles and the titles its pure run stores (but those of
    the cases of thousands of look-alike items)."""
    from tests.test_hostile import all_cases, run_pure

    titles: list[str] = []
    for case in all_cases():
        titles += case.meta.get("titles", [])
        if case.meta.get("items", 0) <= 100:
            titles += [row["title"] for row in run_pure(case).rows]
    return tuple(dict.fromkeys(titles))


# Pieces of generated headlines: Chinese and English words, tags, wire words, numbers and units,
# Traditional characters, full-width forms, punctuation of every kind, digits of other scripts.
PIECES = [
    *PLACES[:12], "国家能源局", "發電", "風電項目", "储能", "光伏", "第二批", "三月", "2026年",
    "39.5", "000791", "1.2", " GW", "MW", " mwh", "kV", "Solar", "WIND", "grid's", "UPDATE 1-",
    "BREAKING: ", "【快讯】", "[视频]", "(图)", "「独家」", "〔", "】", "：", "，", "（", "）",
    "、",
    "！", "？", "“", "”", "《", "》", "—", "-", "_", ".", "..", "…", " ", "  ", "\t", "\u3000",
    "ＡＢＣ", "２０２６", "١٢", "٣.٤", "ß", "Σ", "é", "e\u0301", "ﬁ", "㎿", "①", "🔋", "𠀀", "\n",
]  # fmt: skip


@cache
def generated_titles() -> tuple[str, ...]:
    rng = random.Random(20261202)
    return tuple(
        "".join(rng.choice(PIECES) for _ in range(rng.randrange(12)))
        + rng.choice(["", "", "...", "…", "。。。", " ..."])
        for _ in range(3000)
    )


def _key(kind: str, text: str) -> int:
    """The prefix/suffix key as the index defines it."""
    data = f"{kind}\x00{text}".encode()
    value = (zlib.crc32(data) << 32) | zlib.adler32(data)
    return value - (1 << 64) if value >= 1 << 63 else value


def _bloom(numbers: tuple[str, ...]) -> int:
    bits = 0
    for token in numbers:  # two bits a token
        code = zlib.crc32(token.encode())
        bits |= 1 << (code % 63) | 1 << (code // 63 % 63)
    return bits


def expected(title: str) -> tuple[object, ...]:
    """What one headline's fingerprint must hold, from the per-headline path."""
    fp = Fingerprint.of(title)
    alone = fingerprints([title])[0]  # the band keys of a batch of one
    bands = keys_of(alone)[-BANDS:] if fp.text else []
    keys: list[int] = []
    probes: list[tuple[int, bool]] = []
    if fp.text:
        width = PREFIX_LATIN if fp.latin else PREFIX_CJK
        whole, cut = _key("p", fp.text[:width]), _key("c", fp.text[:width])
        if fp.cut:
            keys = [cut, *bands]
            probes = [(whole, True), (cut, True)]
        else:
            suffix = _key("s", fp.text[-width:])
            keys = [whole, suffix, *bands]
            probes = [(whole, True), (cut, True), (suffix, True)]
        probes += [(k, False) for k in bands]
    return (fp.text, fp.cut, fp.latin, fp.numbers, _bloom(fp.numbers), keys, probes)


def found(fp: Fingerprint) -> tuple[object, ...]:
    return (fp.text, fp.cut, fp.latin, fp.numbers, fp.bloom, keys_of(fp), probes_of(fp))


@pytest.mark.parametrize(
    "titles",
    [
        pytest.param(labelled_titles, id="labelled pairs"),
        pytest.param(hostile_titles, id="hostile cases"),
        pytest.param(lambda: tuple(EDGE_CASES), id="edge cases"),
        pytest.param(generated_titles, id="generated"),
    ],
)
def test_a_batch_fingerprints_each_headline_as_alone(titles: object) -> None:
    batch = list(titles())  # type: ignore[operator]
    assert len(batch) > 40
    rng = random.Random(4)
    mixed = batch + rng.sample(batch, len(batch))  # each title twice, among others
    texts, cuts = match_texts(mixed)
    assert list(zip(texts, cuts, strict=True)) == [one_title(t) for t in mixed]
    assert [match_text(t) for t in mixed] == [one_title(t) for t in mixed]
    prints = fingerprints(mixed)
    for title, fp in zip(mixed, prints, strict=True):
        assert found(fp) == expected(title), title
    for start in range(0, len(batch), 7):  # other batch sizes and neighbours
        chunk = batch[start : start + 7]
        assert [found(fp) for fp in fingerprints(chunk)] == [
            found(fp) for fp in prints[start:][: len(chunk)]
        ]


def test_a_batch_strips_trailing_spaces_and_cut_markers_as_one_title() -> None:
    """Trailing spaces and cut markers: a batch gives the same texts and cut flags as one title
    at a time, for every whitespace character and cut marker, and titles ending otherwise."""
    spaces = [chr(code) for code in range(0x3000 + 1) if chr(code).isspace() and chr(code) != "\n"]
    ends = ["...", "…", "。。。", "．．．", "..", ".", "。", "x", "光伏", "", "1.5", "...x"]
    rng = random.Random(20261207)
    titles = [
        rng.choice(["国家能源局发布", "Solar record", "", "【快讯】储能"])
        + rng.choice(ends)
        + "".join(rng.choice(spaces) for _ in range(rng.choice([0, 0, 1, 2])))
        for _ in range(3000)
    ]
    assert not any("\n" in title for title in titles)
    texts, cuts = match_texts(titles)
    assert list(zip(texts, cuts, strict=True)) == [one_title(title) for title in titles]
    assert 500 < sum(cuts) < 2500 and len(set(texts)) > 12


def test_the_edge_cases_cover_what_they_claim() -> None:
    prints = {title: fp for title, fp in zip(EDGE_CASES, fingerprints(EDGE_CASES), strict=True)}
    assert prints[""].text == prints["..."].text == prints["【人民日报】"].text == ""
    assert prints["..."].cut and not prints[".."].cut
    assert prints["国家能源局\n发布指导意见..."].text == "国家能源局发布指导意见"
    assert prints["[视频]\n【新华社】国家能源局发布指导意见"].text == "国家能源局发布指导意见"
    assert prints["第四川三月"].numbers == ("三", "第四")  # not "四川": 第四 took its first
    assert prints["ＡＢＣ　光伏（２０２６）：第１批"].text == "abc光伏2026第1批"
    assert fingerprints([]) == []


def test_the_batch_tokens_and_bits_are_those_of_decisive_and_number_bloom() -> None:
    """``_fill_numbers`` inlines ``_decisive`` and ``number_bloom`` (for speed): the same
    tokens and bits on thousands of titles, cut or not, ending on a token or not."""
    rng = random.Random(20261203)
    pieces = [*PLACES[:20], "第二批", "三月", "2026年", "39.5", "000791", "十四五", "第1"]
    pieces += ["光伏", "储能电站", "并网发电", "一期", "MW", " ", "national", "grid", "third", "12"]
    titles = [
        "".join(rng.choice(pieces) for _ in range(rng.randrange(7))) + rng.choice(["", "..."])
        for _ in range(4000)
    ]
    popped = none = 0
    for fp in fingerprints(titles):
        found = _latin_tokens(fp.text) if fp.latin else _ZH_DECISIVE_RE.findall(fp.text)
        popped += bool(fp.cut and found and fp.text.endswith(found[-1]))
        none += not found
        assert fp.numbers == _decisive(fp.text, fp.cut, found), fp.text
        assert fp.bloom == number_bloom(fp.numbers), fp.text
    assert popped > 500 and none > 100  # both short cuts of the inlined copy are taken


def test_the_array_rules_are_the_regular_expressions() -> None:
    """``_words_spaced`` (code points in arrays) gives what ``str.casefold`` and the regular
    expressions it replaced give (``tests/dedupe_reference.py``), on texts of every class of
    character, joined or not, with characters beyond the Basic Multilingual Plane, lone
    surrogates, characters that fold to more than one, and texts with none of those."""
    rng = random.Random(20261204)
    alphabet = [
        *"0123456789..._,:;!?-/ \t\n\u3000\u2028（）【】：，。、",
        *PIECES,
        "\ud800",
        "\U0001d7d8",
    ]
    alphabet += ["ABC", "ΑΣ", "İ", "ß", "ǅ", "ﬀ", "\U00010400", "Ⅻ"]  # some fold to more than one
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(16))) for _ in range(5000)]
    texts += ["".join(rng.choice("ABCabc光伏電網 .,1") for _ in range(12)) for _ in range(1000)]
    for text in texts:
        assert _words_spaced(text) == words_spaced(text), repr(text)
    joined = "\n".join(texts)
    assert _words_spaced(joined) == words_spaced(joined)
    lines = joined.split("\n")
    assert _words_spaced(joined).split("\n") == [words_spaced(line) for line in lines]


def test_the_batch_nfkc_is_text_nfkc() -> None:
    """``_nfkc_joined`` (each character's own NFKC from a table, in arrays) gives what
    ``text.nfkc`` and ``unicodedata.normalize`` give: on every character of the Basic
    Multilingual Plane beside one NFKC changes, and on random texts of characters that
    combine, reorder, compose (Hangul jamo), map to more than one, lie beyond the plane, or are
    lone surrogates."""
    for code in range(0x10000):
        text = f"a{chr(code)}（"
        assert _nfkc_joined(text) == nfkc(text), hex(code)
    rng = random.Random(20261208)
    alphabet = ["a", "é", "e\u0301", "\u0301", "\u0327", "（", "：", "…", "ﬁ", "㎿", "①", "Å"]
    alphabet += ["\u212b", "\u1100", "\u1161", "\u11a8", "가", "ｶ", "\uff9e", "\u00a8", "\u0f73"]
    alphabet += ["\ud800", "𠀀", "\U0001d7d8", "光伏", "電", "\n", " ", "ǅ", "\u0344"]
    kinds = set()
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
        found = _nfkc_joined(text)
        assert found == nfkc(text), repr(text)
        if "\ud800" not in text:
            assert found == unicodedata.normalize("NFKC", text), repr(text)
        kinds.add((found == text, len(found) == len(text)))
    assert kinds == {(True, True), (False, True), (False, False)}


def test_the_folding_table_is_casefold_and_t2s_of_every_character() -> None:
    """One table folds case and maps Traditional → Simplified: on every character of the
    Basic Multilingual Plane that folds to one, what ``str.casefold`` after ``_T2S`` gives
    (the two commute), and the others are marked to be folded by ``str.casefold``."""
    _classes, _simplified, folded, unfolded = _bmp_tables()
    for code in range(0x10000):
        char = chr(code)
        fold = char.translate(_T2S).casefold()
        assert bool(unfolded[code]) == (len(char.casefold()) != 1), hex(code)
        if len(fold) == 1:
            assert folded[code] == ord(fold) == ord(char.casefold().translate(_T2S)), hex(code)
    assert unfolded.sum() > 50 and (folded != np.arange(0x10000)).sum() > 1000


def test_the_batch_rules_match_the_single_rules_on_every_line() -> None:
    """The rewritten regular expressions find, line by line, what the originals find."""
    rng = random.Random(20261202)
    places = "".join(PLACES)
    alphabet = "0123456789..第零一二三四五六七八九十百两月日号批期届次季" + places + "a _,。\n"
    alphabet += "\x00电网\U0001d7d8\U0001d7d9٣"  # NUL, unread ones, digits beyond the BMP
    for _ in range(4000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(24)))
        lines = text.split("\n")
        tokens = _ZH_DECISIVE_LINES_RE.findall(text)
        assert tokens == [t for line in lines for t in [*_ZH_DECISIVE_RE.findall(line), "\n"]][:-1]
        assert _ZH_DECISIVE_LINES_RE.findall(_searched_text(text)) == tokens
        spaced = NOT_WORD_LINES_RE.sub(" ", text)
        assert spaced.split("\n") == [NOT_WORD_RE.sub(" ", line) for line in lines]


def test_the_index_keys_stay_those_the_stored_index_holds() -> None:
    """Keys and bits as the scheme made them before the batch path (a stored index holds them:
    any change would need a migration that rebuilds it)."""
    titles = [
        "国家能源局发布2026年能源工作指导意见",
        "全国多地开展可再生能源法宣传教...",
        "Solar record set in Spain as prices fall",
    ]
    prints = fingerprints(titles)
    assert [keys_of(fp) for fp in prints] == [
        [-6794886108649091140, -8217337499357933156, 8156568607431839600,
         -2355694126667901423, -647987808338909479, 8820815540758836314],
        [-5853887429608140434, 425546594352249186, -7870616241107940631,
         -5826533607203847492, -3208810618817821162],
        [2388723500954748573, 3961411684231153211, 3013592850746080760,
         -2303909727023349101, -4348935895502731267, 4865403696670815221],
    ]  # fmt: skip
    assert [fp.bloom for fp in prints] == [1152923703630102528, 0, 0]  # 2199023255552 before 18


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("UPDATE 1-Adani Green commissions 1 GW of solar", "adani green commissions 1gw of solar"),
        ("BREAKING: Siemens Gamesa halts sales", "siemens gamesa halts sales"),
        ("[Video] EXCLUSIVE-CATL in talks", "catl in talks"),
        ("Vestas wins 1.2 GW order", "vestas wins 1.2gw order"),
        ("江苏100 MW/200 MWh储能电站", "江苏100mw 200mwh储能电站"),
        ("Update on 5 km of line", "update on 5 km of line"),  # not a tag, not a power unit
    ],
)
def test_wire_tags_and_the_space_before_a_unit_are_dropped(title: str, expected: str) -> None:
    assert match_text(title)[0] == expected
    assert match_texts([title, title])[0] == [expected, expected]


def test_the_upgrade_recomputes_texts_and_the_index(tmp_path: Path) -> None:
    """A store whose texts were normalised by the rules before (schema 16) gets this code's
    texts, bits and index keys; stories stay; a repost in the new spelling joins its story."""
    from tests.test_dedupe_index import add, article, story

    when = datetime(2026, 3, 2, tzinfo=UTC)
    titles = ["Vestas wins 1.2 GW order in Germany", "UPDATE 1-Shell to sell refinery stake"]
    path = tmp_path / "news.db"
    with Store(path) as store:
        ids = add(store, *(article(i, t, when, "s") for i, t in enumerate(titles)))
        fresh = list(stored_buckets(store.conn))
        with store.write() as conn:  # as schema 16 left them
            old = ["vestas wins 1.2 gw order in germany", "update 1 shell to sell refinery stake"]
            conn.executemany(
                "UPDATE dedupe_texts SET text = ?, nums = 0 WHERE article_id = ?",
                zip(old, ids, strict=True),
            )
            conn.execute("UPDATE dedupe_groups SET group_key = -group_key - 1")
            conn.execute(f"PRAGMA user_version = {MIGRATIONS.index(_migration_17)}")
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        texts = [row[0] for row in store.conn.execute("SELECT text FROM dedupe_texts ORDER BY 1")]
        assert texts == sorted(match_text(t)[0] for t in titles)
        assert list(stored_buckets(store.conn)) == fresh
        assert [story(store, i) for i in ids] == ids
        (repost,) = add(store, article(9, "Vestas wins 1.2GW order in Germany", when, "t"))
        assert story(store, repost) == ids[0]


def test_the_upgrade_to_two_bits_a_token_recomputes_the_bits(tmp_path: Path) -> None:
    """A store whose bits were one a token (schema 17) gets two a token; the texts, the index
    and the stories stay; a look-alike with another number still starts its own story."""
    from tests.test_dedupe_index import add, article, story

    when = datetime(2026, 3, 2, tzinfo=UTC)
    titles = ["华能江苏540MW光伏项目全容量并网", "国家能源局发布2026年第三批能源工作指导意见"]
    path = tmp_path / "news.db"
    with Store(path) as store:
        ids = add(store, *(article(i, t, when, "s") for i, t in enumerate(titles)))
        rows = "SELECT article_id, story_id, text, cut, latin FROM dedupe_texts ORDER BY 1"
        texts = list(store.conn.execute(rows))
        index = list(store.conn.execute("SELECT * FROM dedupe_groups ORDER BY group_key"))
        prints = fingerprints(titles)
        with store.write() as conn:  # as schema 17 left them: one bit a token
            for article_id, fp in zip(ids, prints, strict=True):
                one = 0
                for token in fp.numbers:
                    one |= 1 << (zlib.crc32(token.encode()) % 63)
                conn.execute(
                    "UPDATE dedupe_texts SET nums = ? WHERE article_id = ?", (one, article_id)
                )
            conn.execute(f"PRAGMA user_version = {MIGRATIONS.index(_migration_18)}")
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        nums = [row[0] for row in store.conn.execute("SELECT nums FROM dedupe_texts ORDER BY 1")]
        assert nums == [_bloom(fp.numbers) for fp in prints]
        assert all(bin(n).count("1") > len(fp.numbers) for n, fp in zip(nums, prints, strict=True))
        assert list(store.conn.execute(rows)) == texts
        assert list(store.conn.execute("SELECT * FROM dedupe_groups ORDER BY group_key")) == index
        (other,) = add(store, article(5, "华能江苏560MW光伏项目全容量并网", when, "t"))
        (repost,) = add(store, article(6, "【新华社】华能江苏540MW光伏项目全容量并网", when, "u"))
        assert story(store, other) == other
        assert story(store, repost) == ids[0]


def test_new_members_read_a_run_of_ids_as_any_other_ids(tmp_path: Path) -> None:
    """``_new_members`` reads a run of ids by a range scan, any other ids one by one: the same
    members (in id order; an id with no article is none), whatever the ids given."""
    from aggregator.dedupe import timestamp
    from aggregator.store import _new_members
    from tests.test_dedupe_index import article

    when = datetime(2026, 3, 2, tzinfo=UTC)
    with Store(tmp_path / "news.db") as store:
        rows = [article(i, f"华能{PLACES[i]}{i}00MW光伏项目并网", when, "s") for i in range(12)]
        ids = store.upsert_articles(rows, when).new_ids
        store.conn.execute("UPDATE articles SET published_at = NULL WHERE id = ?", (ids[3],))

        def expected(wanted: list[int]) -> list[tuple[object, ...]]:
            found = []
            for i in sorted(set(wanted)):
                row = store.conn.execute(
                    "SELECT id, story_id, title, coalesce(published_at, first_seen_at) "
                    "FROM articles WHERE id = ?",
                    (i,),
                ).fetchone()
                if row:
                    text = Fingerprint.of(row[2]).text
                    found.append((row[0], row[1], row[2], timestamp(row[3]), text))
            return found

        def read(wanted: list[int]) -> list[tuple[object, ...]]:
            members = _new_members(store.conn, wanted)
            return [(m.id, m.story_id, m.title, m.when, m.fingerprint.text) for m in members]

        after = ids[-1] + 1
        for wanted in (
            ids, ids[2:9], [ids[4]], ids[:5] + ids[6:], ids[::-1], ids + ids[:2], [],
            [after], [*ids, after], [ids[0] - 1, *ids],
        ):  # fmt: skip
            assert read(list(wanted)) == expected(list(wanted)), wanted
        assert len(read(ids)) == 12


def test_the_english_index_hashes_are_the_verified_words() -> None:
    """The English MinHash input (``_latin_shingle_hashes``, its stem rule inlined) is the CRC-32
    of the words verification compares (``Fingerprint.shingles``, by ``_stem``): a change to one
    rule alone would file English titles under keys their words do not give."""
    rng = random.Random(20261209)
    words = ["solar", "grids", "gas", "bus", "news", "wind", "us", "ess", "pass", "s", "oils", "is"]
    titles = [" ".join(rng.choice(words) for _ in range(rng.randrange(1, 9))) for _ in range(500)]
    prints = fingerprints(titles)
    texts = [fp.text for fp in prints]
    assert all(fp.latin for fp in prints)
    hashes, starts = _latin_shingle_hashes(texts)
    ends = [*starts[1:].tolist(), len(hashes)]
    stemmed = 0
    for fp, start, end in zip(prints, starts.tolist(), ends, strict=True):
        assert set(hashes[start:end].tolist()) == {zlib.crc32(w.encode()) for w in fp.shingles}
        stemmed += any(w not in fp.shingles for w in fp.text.split())
    assert stemmed > 100  # the stem rule was exercised, not only whole words
