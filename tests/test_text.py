"""Text is normalised once: NFKC, invisible characters, whitespace, HTML to text, cut markers."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from aggregator.text import (
    CUT_MARKS,
    ELLIPSIS,
    SNIPPET_MAX,
    TITLE_MAX,
    cap,
    clean_text,
    html_to_text,
    is_truncated,
    nfkc,
    strip_cut_marker,
    strip_markup,
)

# -- clean_text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３", "ABC123"),  # full-width letters and digits
        ("（光伏）：组件", "(光伏):组件"),  # full-width punctuation
        ("ﬁ①", "fi1"),  # ligature, circled digit
        ("风电\u3000装机", "风电 装机"),  # ideographic space
        ("a\u00a0b", "a b"),  # no-break space
        ("下行…", "下行..."),  # the ellipsis character decomposes to three dots
    ],
)
def test_clean_text_nfkc(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_text_keeps_chinese_characters() -> None:
    assert clean_text("光伏组件价格继续下行。") == "光伏组件价格继续下行。"


@pytest.mark.parametrize(
    "invisible",
    ["\x00", "\x07", "\x0b", "\x0c", "\x1f", "\x7f", "\ufffe", "\uffff", "\ud800"],
)
def test_clean_text_drops_control_and_xml_illegal(invisible: str) -> None:
    assert clean_text(f"光{invisible}伏") == "光伏"


@pytest.mark.parametrize(
    "invisible",
    [
        "\u200b",  # zero-width space
        "\u200c",  # zero-width non-joiner
        "\u200d",  # zero-width joiner
        "\u200e",  # left-to-right mark
        "\u200f",  # right-to-left mark
        "\u202a",  # left-to-right embedding
        "\u202e",  # right-to-left override
        "\u2060",  # word joiner
        "\u2066",  # left-to-right isolate
        "\u2069",  # pop directional isolate
        "\ufeff",  # byte order mark / zero-width no-break space
    ],
)
def test_clean_text_drops_zero_width_and_bidi(invisible: str) -> None:
    assert clean_text(f"{invisible}Solar{invisible} news{invisible}") == "Solar news"


def test_clean_text_collapses_whitespace() -> None:
    assert clean_text("  a \n\t b\r\n\r\nc   ") == "a b c"


@pytest.mark.parametrize("empty", [None, "", "   ", "\u200b\u200b", "\n\t"])
def test_clean_text_empty(empty: str | None) -> None:
    assert clean_text(empty) == ""


def test_clean_text_is_idempotent() -> None:
    once = clean_text(" ＡＢ\u200b  光伏\x00（新闻） ")
    assert clean_text(once) == once


# -- html_to_text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("&amp;amp;", "&amp;"),
        ("&amp;lt;b&amp;gt;", "&lt;b&gt;"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("&lt;script&gt;", "<script>"),
        ("&#20013;&#x6587;", "中文"),
        ("a &nbsp; b", "a b"),
        ("<p>a</p><p>b</p>", "a b"),
        ("<P>A</P><P>B</P>", "A B"),
        ("<div>x</div><div>y</div>", "x y"),
        ("<ul><li>1</li><li>2</li></ul>", "1 2"),
        ("<h2>Title</h2>body", "Title body"),
        ("a<br>b<br/>c<BR />d", "a b c d"),
        ("<b>bold</b> and <i>italic</i>", "bold and italic"),
        ('<a href="https://example.com/">link</a>text', "linktext"),
        ("<script>alert(1)</script>visible", "visible"),
        ("<style>p { color: red }</style>visible", "visible"),
        ("<!-- comment -->visible", "visible"),
        ("5 < 6 and AT&T", "5 < 6 and AT&T"),
        ("plain  text\n here", "plain text here"),
        ("<p>全角：ＡＢ</p>", "全角:AB"),
    ],
)
def test_html_to_text(markup: str, expected: str) -> None:
    assert html_to_text(markup) == expected


@pytest.mark.parametrize("empty", [None, "", "<p></p>", "<br>", "&#8203;"])
def test_html_to_text_empty(empty: str | None) -> None:
    assert html_to_text(empty) == ""


def test_html_to_text_decodes_exactly_once() -> None:
    # Decoding twice would turn the literal text "&lt;" into "<".
    text = html_to_text("<p>Use &amp;lt; for &lt;</p>")
    assert text == "Use &lt; for <"


# -- cut markers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "光伏组件价格...",
        "光伏组件价格....",
        "光伏组件价格…",
        "光伏组件价格……",
        "光伏组件价格。。。",
        "光伏组件价格．．．",
        "Solar prices fall ... ",
        "Solar prices fall…",
    ],
)
def test_is_truncated(text: str) -> None:
    assert is_truncated(text)


@pytest.mark.parametrize(
    "text",
    [
        "光伏组件价格继续下行",
        "光伏组件价格继续下行。",
        "Solar prices fall.",
        "Wait..",
        "U.S. policy",
        "…and then",
        "a ... b",
        "",
    ],
)
def test_is_not_truncated(text: str) -> None:
    assert not is_truncated(text)


def test_the_cut_marks_make_the_cut_rule() -> None:
    """The rule built from CUT_MARKS (which the clustering also reads) is the rule as written
    before: three or more dots, one or more "…", three or more "。" or "．", then spaces."""
    written = re.compile(r"(?:\.{3,}|…+|。{3,}|．{3,})\s*$")
    rng = random.Random(11)
    alphabet = "".join(CUT_MARKS) + "a光 \t\u3000"
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(9)))
        assert is_truncated(text) == bool(written.search(text)), repr(text)
        assert strip_cut_marker(text) == written.sub("", text).rstrip(), repr(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("光伏组件价格...", "光伏组件价格"),
        ("光伏组件价格 ……", "光伏组件价格"),
        ("光伏组件价格。。。 ", "光伏组件价格"),
        ("光伏组件价格", "光伏组件价格"),
        ("U.S.", "U.S."),
    ],
)
def test_strip_cut_marker(text: str, expected: str) -> None:
    assert strip_cut_marker(text) == expected


# -- cap ---------------------------------------------------------------------------------------


def test_cap_limits_and_constants() -> None:
    assert TITLE_MAX == 512
    assert SNIPPET_MAX == 2000
    assert ELLIPSIS == "…"


@pytest.mark.parametrize("limit", [2, 10, TITLE_MAX, SNIPPET_MAX])
def test_cap_is_exactly_limit_and_ends_with_ellipsis(limit: int) -> None:
    capped = cap("光" * (limit + 50), limit)
    assert len(capped) == limit
    assert capped.endswith("…")
    assert capped[:-1] == "光" * (limit - 1)


def test_cap_leaves_short_text_alone() -> None:
    assert cap("abcd", 4) == "abcd"
    assert cap("abc", 4) == "abc"
    assert cap("", 4) == ""


def test_cap_one_over() -> None:
    assert cap("abcde", 4) == "abc…"
    assert is_truncated(cap("abcde", 4))


def test_cap_does_not_end_in_space_before_ellipsis() -> None:
    capped = cap("ab cdef", 4)
    assert capped == "ab…"
    assert len(capped) <= 4


def test_cap_on_character_boundary_for_astral_characters() -> None:
    capped = cap("𠀀" * 10, 5)
    assert capped == "𠀀𠀀𠀀𠀀…"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<script>alert(1)</script>标题", "标题"),
        ("国家电网<b>特高压</b>工程 <img src=x onerror=alert(1)>投运", "国家电网 特高压 工程 投运"),
        ("a <!-- hidden --> b", "a b"),
        ("电价 ]]> 波动 <![CDATA[ 警报", "电价 ]]> 波动 警报"),
        ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
        ("价格<1元", "价格<1元"),
        ("no markup at all", "no markup at all"),
        ("<style>a{color:red}</style>text", "text"),
        ("unclosed <script>alert(1)", "unclosed"),
    ],
)
def test_strip_markup(text: str, expected: str) -> None:
    assert strip_markup(text) == expected


def test_nfkc_is_unicodedatas_nfkc() -> None:
    # Chinese with full-width punctuation, kana with voicing marks, Hangul jamo, Latin with
    # combining marks in and out of canonical order, compatibility characters: random mixes.
    rng = random.Random(20261202)
    pool = [chr(c) for c in range(0x20, 0x80)] + list("光伏储能风电，。（）：；！？“”　ａＢ１２")
    pool += list("ﾊﾟｶﾞ㍿①⑴㈱ﬁ\u3099\u309a\u0316\u0301\u0323\u0308\u0338가각\u1100\u1161\u11a8")
    pool += [chr(rng.randrange(0x80, 0x3100)) for _ in range(300)]
    pool += [chr(rng.randrange(0xF900, 0x10000)) for _ in range(100)]
    # beyond the BMP: mathematical letters, enclosed and CJK compatibility ideographs, emoji
    pool += list("𝐀𝒜𝟘🄰🅐🈀🈐丽丸😀🇨🇳󠁁𝅗𝅥𝅥")
    pool += [chr(rng.randrange(0x10000, 0x30000)) for _ in range(100)]
    for _ in range(20000):
        text = "".join(rng.choice(pool) for _ in range(rng.randrange(1, 16)))
        assert nfkc(text) == unicodedata.normalize("NFKC", text), [hex(ord(c)) for c in text]
    snippet = "据业内人士介绍，该项目总投资约二十亿元，建成后年发电量可达三亿千瓦时。"
    assert nfkc(snippet) == "据业内人士介绍,该项目总投资约二十亿元,建成后年发电量可达三亿千瓦时。"
