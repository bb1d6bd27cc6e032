"""Near-duplicate detection: which headlines tell the same story. Pure functions, no SQLite.

A headline is normalised once (:func:`match_text`), then turned into a :class:`Fingerprint`:
its shingles (character 3-grams for Chinese, words for English), a MinHash signature and the
index keys under which the store files it (:class:`IndexKeys`, kept in arrays for a batch):

* a **prefix key** (the first ``PREFIX_CJK``/``PREFIX_LATIN`` normalised characters), which
  finds a headline cut with "..." and the same text with anything appended;
* a **suffix key** (the last characters; not for a cut headline), which finds the same text
  with anything put in front;
* ``BANDS`` **LSH band keys** of ``ROWS`` MinHash values each, which find reworded headlines.

Candidates found under a key are only candidates: :func:`match_score` decides, and treats a
differing number or code ("000791" vs "601898", "2月24日" vs "2月25日") and a differing company
or place name in otherwise equal headlines as decisive. :func:`cluster_batch` assigns stories to
a batch of new articles, given what the index returned; the store does the reading and writing.

The store takes a batch through array operations first (:func:`batch_keys`, :func:`shortlist_batch`,
:func:`local_shortlist_batch`, :func:`prefilter`, :func:`file_batch`): the shortlists, and pairs
that a differing number, code or place (:func:`blooms_conflict`) or the time window would refuse
are dropped before any text is compared. (The per-headline way to the same shortlists, kept as
the reference these are checked against, is in the tests: ``tests/dedupe_reference.py``.)
"""

from __future__ import annotations

import gc
import re
import unicodedata
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher
from functools import cache
from itertools import chain, repeat
from operator import attrgetter
from typing import Any

import numpy as np

from aggregator.errors import ConfigError
from aggregator.text import CUT_MARKS, nfkc, strip_cut_marker

# The index scheme. Changing any of these changes every key: the store must rebuild its index.
NUM_PERM = 16
BANDS = 4
ROWS = NUM_PERM // BANDS
SHINGLE_CJK = 3
PREFIX_CJK = 8
PREFIX_LATIN = 16

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_rng = np.random.default_rng(20261201)
_PERM_A = (_rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) | np.uint64(1)).reshape(-1, 1)
_PERM_B = _rng.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64).reshape(-1, 1)
_BAND_MUL = _rng.integers(1, 2**63, size=ROWS, dtype=np.uint64) | np.uint64(1)
_BAND_SALT = _rng.integers(0, 2**63, size=BANDS, dtype=np.uint64)
_GRAM_MUL = _rng.integers(1, 2**63, size=SHINGLE_CJK, dtype=np.uint64) | np.uint64(1)


@dataclass(frozen=True)
class DedupeOptions:
    """The thresholds (defaults chosen on the dev split of ``tests/dedupe_pairs.jsonl``)."""

    enabled: bool = True
    # Two whole headlines: Jaccard similarity of their shingle sets.
    min_jaccard: float = 0.5
    # A cut headline: the share of its shingles found in the other headline.
    min_containment: float = 0.85
    # A cut headline shorter than this (normalised characters; words count 3) matches nothing.
    min_cut_chars: int = 8
    # Articles further apart in time (published, else first seen) are not compared.
    window_days: float = 14.0
    # At most this many articles are filed under one index key: a full one keeps the newest.
    bucket_cap: int = 64
    # A candidate shares at least this many band keys (or a prefix or suffix).
    min_shared_keys: int = 2
    # At most this many candidates are verified for one article (those sharing the most keys).
    max_candidates: int = 32

    def __post_init__(self) -> None:
        for name in _RANGES:
            if problem := _out_of_range(name, getattr(self, name), getattr(self, name)):
                raise ConfigError(f"dedupe option {name}: {problem}")


# The values each option may take (a bucket cap of 0 would file nothing and break the buckets).
_RANGES: dict[str, tuple[float, float]] = {
    "min_jaccard": (0.0, 1.0),
    "min_containment": (0.0, 1.0),
    "min_cut_chars": (0, float("inf")),
    "window_days": (0.0, float("inf")),
    "bucket_cap": (1, float("inf")),
    "min_shared_keys": (1, float("inf")),
    "max_candidates": (1, float("inf")),
}


def _out_of_range(name: str, value: Any, shown: Any) -> str | None:
    """Why an option's value cannot be used (``shown`` as the user gave it), or None."""
    low, high = _RANGES.get(name, (value, value))
    return None if low <= value <= high else f"{shown!r} is not in [{low}, {high}]"


# Scrapy settings (``-s NAME=VALUE``) that override the defaults, by field.
SETTINGS = {
    "enabled": "NEWSAGG_DEDUPE_ENABLED",
    "min_jaccard": "NEWSAGG_DEDUPE_MIN_JACCARD",
    "min_containment": "NEWSAGG_DEDUPE_MIN_CONTAINMENT",
    "min_cut_chars": "NEWSAGG_DEDUPE_MIN_CUT_CHARS",
    "window_days": "NEWSAGG_DEDUPE_WINDOW_DAYS",
    "bucket_cap": "NEWSAGG_DEDUPE_BUCKET_CAP",
    "min_shared_keys": "NEWSAGG_DEDUPE_MIN_SHARED_KEYS",
    "max_candidates": "NEWSAGG_DEDUPE_MAX_CANDIDATES",
}


def options_from_settings(settings: Any) -> DedupeOptions:
    """The options from Scrapy settings (anything with ``.get(name)``); unset ones default."""
    defaults = DedupeOptions()
    values: dict[str, Any] = {}
    for name, setting in SETTINGS.items():
        raw = settings.get(setting)
        if raw is None or raw == "":
            continue
        default = getattr(defaults, name)
        try:
            if isinstance(default, bool):
                value: Any = str(raw).strip().lower() in ("1", "true", "yes", "on")
            else:
                value = type(default)(raw)
        except ValueError:
            raise ConfigError(
                f"setting {setting}: not a {type(default).__name__}: {raw!r}"
            ) from None
        if problem := _out_of_range(name, value, raw):
            raise ConfigError(f"setting {setting}: {problem}")
        values[name] = value
    return DedupeOptions(**values)


# ---------------------------------------------------------------------------------------------
# Normalisation

# Traditional → Simplified for characters common in energy news (a full converter is not cheap;
# these cover most headlines from Taiwan and Hong Kong sites).
_T2S = str.maketrans(
    "電網國發開風項資東業價產儲氣離與會為時長點專權營運據萬億臺灣區縣場廠機組規劃設裝際級動實現進"
    "這們個來對還將過後從無當經濟環節約綠車鋰礦鐵鋼陽熱輸變壓線總計標準報導協議調買賣費貿稅說聯廣傳"
    "體學園員題類顯響頭應術圖書畫結構達遠選認證險勢戰歲漲續創紀錄雙輪齊參門問間關閉單氫擴數優擁護測"
    "試驗紅華蘇寧遼閩貴雲陝內蒙維爾吳鄉處備務額頓噸採擇損積極層辦錢銀鏈條葉倉燈煙態劑見視親觀規範圍層廳啟動獨並",
    "电网国发开风项资东业价产储气离与会为时长点专权营运据万亿台湾区县场厂机组规划设装际级动实现进"
    "这们个来对还将过后从无当经济环节约绿车锂矿铁钢阳热输变压线总计标准报导协议调买卖费贸税说联广传"
    "体学园员题类显响头应术图书画结构达远选认证险势战岁涨续创纪录双轮齐参门问间关闭单氢扩数优拥护测"
    "试验红华苏宁辽闽贵云陕内蒙维尔吴乡处备务额顿吨采择损积极层办钱银链条叶仓灯烟态剂见视亲观规范围层厅启动独并",
)
# A wire service's tag: "UPDATE 1-", "BREAKING:", "EXCLUSIVE-" (in capitals; repeatable).
_WIRE_WORDS = (
    r"UPDATE(?: \d+)?", r"BREAKING(?: NEWS)?", "EXCLUSIVE", "CORRECTED", "REFILE", "RPT",
    "URGENT", "FLASH", r"WRAPUP(?: \d+)?",
)  # fmt: skip
_WIRE_TAG = f"(?:{'|'.join(_WIRE_WORDS)})" + r"\s*[-:–—]"
# A bracketed source tag: its opening and closing brackets, and its longest text.
_TAG_BRACKETS = (
    ("【", "】", 16), ("[", "]", 16), ("〔", "〕", 16), ("「", "」", 16), ("(", ")", 8),
)  # fmt: skip
_CJK = "\u3400-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
# What a source tag starts with.
_TAG_OPENERS = frozenset([opener for opener, _, _ in _TAG_BRACKETS] + [w[0] for w in _WIRE_WORDS])
# A number and its unit are one word ("1.2 GW" is "1.2gw", as "1.2GW" is).
# (A space first, then the digit behind it: the engine searches for the space, faster.)
_UNIT_SPACE_RE = re.compile(r" (?<=\d )(?=(?:[kmgt]w[hp]?|kv|mva)(?![a-z0-9]))")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
# Chinese numerals: after "第" (an ordinal), or before a unit of dates and series.
_NUMERALS, _ORDINALS, _UNITS = (
    "零一二三四五六七八九十两",
    "零一二三四五六七八九十百两",
    "月日号批期届次季",
)
_ZH_NUMERAL_RE = re.compile(f"第[{_ORDINALS}]+|[{_NUMERALS}]+(?=[{_UNITS}])")
NUMBER_WORDS = frozenset({
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "twenty", "thirty", "forty", "fifty", "hundred", "thousand", "million", "billion",
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    "half", "quarter",
})  # fmt: skip


def match_text(title: str) -> tuple[str, bool]:
    """The headline as compared: NFKC, Traditional → Simplified, case-folded, a leading source
    tag dropped, punctuation dropped, words separated by one space (CJK characters are not
    separated; none before a unit). Returns ``(text, cut)``, where ``cut`` says the headline
    ended with a cut marker (which is removed). The rules are :func:`match_texts`'s."""
    (text,), (cut,) = match_texts([title])
    return text, cut


def is_latin(text: str) -> bool:
    """True when the text has (almost) no CJK characters: it is compared word by word."""
    letters = len(text) - text.count(" ")
    return len(_CJK_RE.findall(text)) * 4 < letters


# The rules, run once on a batch's titles joined with newlines (a title's own newlines are
# spaces first). A newline survives every step (NFKC, Traditional → Simplified and case folding
# map nothing to or from it; NFKC composes and reorders nothing across it) and no rule matches
# across it: "\n" is left out of every class, and the source tag is anchored at each line (re.M).
# A leading source tag: 【人民日报】, [视频], 〔快讯〕, (图), 「独家」, or a wire service's tag.
_PREFIX_TAG_LINES_RE = re.compile(
    f"^(?=[{re.escape(''.join(sorted(_TAG_OPENERS)))}])(?:[^\\S\\n]*(?:"
    + "|".join(
        f"{re.escape(opener)}[^{re.escape(closer)}\\n]{{1,{longest}}}{re.escape(closer)}"
        for opener, closer, longest in _TAG_BRACKETS
    )
    + "|"
    + _WIRE_TAG.replace(r"\s", r"[^\S\n]")
    + "))+",
    re.M,
)
# What a line the tag rule can change starts with (the rule matches only there).
_TAG_OPENER_CODES = np.array(sorted(map(ord, _TAG_OPENERS)), dtype=np.uint32)


def _tags_dropped(joined: str, points: np.ndarray) -> str:
    """The joined text (and its code points) without the source tags the lines start with: the
    tag rule tried at the start of each line that starts with a tag's opener, found in the
    code points (the rule anchors at each line and matches within it)."""
    starts = np.flatnonzero(points[:-1] == 0x0A) + 1
    if len(points):
        starts = np.concatenate(([0], starts))
    starts = starts[np.isin(points[starts], _TAG_OPENER_CODES)].tolist()
    pieces: list[str] = []
    kept = 0
    for start in starts:
        if found := _PREFIX_TAG_LINES_RE.match(joined, start):
            pieces.append(joined[kept:start])
            kept = found.end()
    return "".join([*pieces, joined[kept:]]) if pieces else joined


# Then, in array operations over the code points of the joined text (:func:`_words_spaced`):
# case folding and Traditional → Simplified (``_T2S``) in one table (they commute: no character
# folds to or from a Chinese one; a text with a character that folds to more than one, or one
# beyond the Basic Multilingual Plane, is folded by ``str.casefold`` first); punctuation and
# spaces dropped, except a decimal point ("10.8" stays one number): each run of
# (?:[^\w.\n]|_|(?<!\d)\.|\.(?!\d))+ becomes one space, and none beside a newline, at either end
# or beside a CJK character (one between Latin words).
# (``tests/dedupe_reference.py`` holds these rules as the regular expressions they were.)
_WORD, _DIGIT, _CJK_CLASS, _UNDERSCORE, _DOT, _NEWLINE = 1, 2, 4, 8, 16, 32


def _char_class(chars: str) -> np.ndarray:
    """Each character's class bits (``_WORD`` as ``\\w`` finds it, ``_DIGIT`` as ``\\d``,
    ``_CJK_CLASS``; "_", "." and newline alone in theirs), from the regular expressions' own
    classes: uint8, one a character."""
    bits = np.zeros(len(chars), dtype=np.uint8)
    for pattern, bit in ((r"\w", _WORD), (r"\d", _DIGIT), (f"[{_CJK}]", _CJK_CLASS)):
        bits[[m.start() for m in re.finditer(pattern, chars)]] |= bit
    for char, bit in (("_", _UNDERSCORE), (".", _DOT), ("\n", _NEWLINE)):
        bits[[m.start() for m in re.finditer(re.escape(char), chars)]] = bit
    return bits


@cache
def _bmp_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Over the Basic Multilingual Plane (~40 ms, once): :func:`_char_class` of every
    character, ``_T2S`` as a code point table, ``str.casefold`` then ``_T2S`` as one (a
    character folding to more than one keeps its code there), and which fold to more than one."""
    chars = [chr(code) for code in range(0x10000)]
    classes = _char_class("".join(chars))
    simplified = np.arange(0x10000, dtype=np.uint32)
    simplified[list(_T2S)] = list(_T2S.values())
    folds = [char.casefold() for char in chars]
    unfolded = np.fromiter((len(fold) != 1 for fold in folds), dtype=bool, count=len(folds))
    folded = np.fromiter(
        (code if len(fold) != 1 else ord(fold) for code, fold in enumerate(folds)),
        dtype=np.uint32,
        count=len(folds),
    )
    return classes, simplified, simplified[folded], unfolded


def _words_spaced(joined: str) -> str:
    """Case folding, Traditional → Simplified, and the punctuation and spacing rule, on the
    joined text."""
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return _spaced_points(points, joined).tobytes().decode("utf-32-le", "surrogatepass")


def _spaced_points(points: np.ndarray, joined: str) -> np.ndarray:
    """:func:`_words_spaced` of ``joined`` from its code points (uint32), as code points."""
    classes, simplified, folded, unfolded = _bmp_tables()
    wide = points > 0xFFFF
    if wide.any() or unfolded[points].any():  # (rare) folded by str.casefold()
        points = np.frombuffer(
            joined.casefold().encode("utf-32-le", "surrogatepass"), dtype=np.uint32
        )
        folded, wide = simplified, points > 0xFFFF
    if wide.any():  # beyond the BMP (rare): looked up one by one
        bmp = np.where(wide, 0, points)
        points = np.where(wide, points, folded[bmp])
        kind = classes[bmp]
        for code in np.unique(points[wide]).tolist():
            kind[points == code] = _char_class(chr(code))[0]
    else:
        points = folded[points]
        kind = classes[points]
    digit = (kind & _DIGIT).astype(bool)
    run = (kind & (_WORD | _NEWLINE)) == 0  # punctuation, spaces, "_" and "."
    dots = np.flatnonzero(kind[1:-1] == _DOT) + 1
    run[dots[digit[dots - 1] & digit[dots + 1]]] = False  # a decimal point
    after = np.empty(len(run) + 1, dtype=bool)  # run[i - 1], False before the first
    after[0], after[1:] = False, run
    firsts = np.flatnonzero(run & ~after[:-1])
    lasts = np.flatnonzero(run & ~np.append(run[1:], False))
    edge = np.ones(len(run) + 2, dtype=bool)  # a run beside one of them drops whole
    edge[1:-1] = (kind & (_CJK_CLASS | _NEWLINE)).astype(bool)
    spaced = firsts[~(edge[firsts] | edge[lasts + 2])]
    keep = ~run
    keep[spaced] = True
    points[spaced] = 0x20  # (a new array: the table's lookup made it)
    return points[keep]


_MANY = np.uint32(0xFFFFFFFF)  # (no code point)


@cache
def _nfkc_table() -> np.ndarray:
    """Each character of the Basic Multilingual Plane's own NFKC as one code point (uint32;
    itself when NFKC keeps it, a lone surrogate too), or ``_MANY`` when it is more than one
    character ("…" is "..."): ~10 ms, once."""
    table = np.arange(0x10000, dtype=np.uint32)
    for code in range(0x10000):
        if not 0xD800 <= code <= 0xDFFF:
            own = unicodedata.normalize("NFKC", chr(code))
            if own != chr(code):
                table[code] = ord(own) if len(own) == 1 else _MANY
    return table


def _nfkc_joined(text: str) -> str:
    """:func:`aggregator.text.nfkc` of a batch's joined text (the same steps: each character that
    NFKC changes on its own mapped to its own NFKC, then NFKC if that is not yet normalised),
    the characters mapped to one in an array operation (``_nfkc_table``), to more than one by
    ``str.replace``; a text with a character beyond the plane goes to ``nfkc`` (rare)."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if (points > 0xFFFF).any():
        return nfkc(text)
    mapped = _nfkc_table()[points]
    many = mapped == _MANY
    if many.any():
        mapped[many] = points[many]
    text = mapped.tobytes().decode("utf-32-le", "surrogatepass")
    for code in np.unique(points[many]).tolist() if many.any() else ():
        text = text.replace(chr(code), unicodedata.normalize("NFKC", chr(code)))
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def _latin_lines(points: np.ndarray) -> list[bool]:
    """:func:`is_latin` of each line of a joined text's code points (one at least)."""
    ends = np.append(np.flatnonzero(points == 0x0A), len(points))  # each line's end
    cjk = ((points >= 0x3400) & (points <= 0x9FFF)) | ((points >= 0xF900) & (points <= 0xFAFF))
    counts = np.zeros(len(points) + 1, dtype=np.int32)  # before each point, and in all
    np.cumsum(cjk, dtype=np.int32, out=counts[1:])
    chinese = np.diff(counts[ends], prepend=0)
    np.cumsum(points == 0x20, dtype=np.int32, out=counts[1:])
    letters = np.diff(ends, prepend=-1) - 1 - np.diff(counts[ends], prepend=0)
    return (chinese * 4 < letters).tolist()


_CUT_ENDS = frozenset(CUT_MARKS)  # the last character of every cut marker


def match_texts(titles: Sequence[str]) -> tuple[list[str], list[bool]]:
    """:func:`match_text` of many headlines: their texts and cut flags, each rule run once on
    the batch's titles joined with newlines (a fraction of the cost of one title at a time)."""
    texts, cuts, _latin = _normalised(titles)
    return texts, cuts


def _normalised(titles: Sequence[str]) -> tuple[list[str], list[bool], list[bool]]:
    """:func:`match_texts`, and :func:`is_latin` of each text (the rule for a unit's space
    drops a space, which changes neither count it compares)."""
    bare: list[str] = []
    cuts: list[bool] = []
    for title in titles:
        whole = title.rstrip()
        if whole[-1:] in _CUT_ENDS:  # a cut marker ends the text: strip_cut_marker() decides
            title = strip_cut_marker(whole)
            cuts.append(title != whole)
        else:
            title = whole
            cuts.append(False)
        bare.append(title)
    joined = "\n".join(bare)
    if joined.count("\n") != len(bare) - 1:  # a title's own newlines are spaces
        joined = "\n".join(title.replace("\n", " ") for title in bare)
    joined = _nfkc_joined(joined)
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if (tagless := _tags_dropped(joined, points)) is not joined:
        joined, points = (
            tagless,
            np.frombuffer(tagless.encode("utf-32-le", "surrogatepass"), dtype=np.uint32),
        )
    points = _spaced_points(points, joined)
    joined = points.tobytes().decode("utf-32-le", "surrogatepass")
    joined = _UNIT_SPACE_RE.sub("", joined)
    if not titles:
        return [], cuts, []
    return joined.split("\n"), cuts, _latin_lines(points)


# ---------------------------------------------------------------------------------------------
# Fingerprints


class Fingerprint:
    """What the index and the verification need to know about one headline.

    ``keys`` are the index keys (empty unless :func:`fingerprints` made it: it keeps a batch's
    keys in arrays, :class:`IndexKeys`, and a fingerprint its row there); shingles and numbers
    are computed when a verification first needs them."""

    __slots__ = (
        "_at", "_batch", "_bloom", "_grams", "_number_set", "_numbers", "_shingles", "cut",
        "latin", "text",
    )  # fmt: skip

    def __init__(
        self, text: str, cut: bool, latin: bool | None = None, bloom: int | None = None
    ) -> None:
        self.text = text
        self.cut = cut
        self.latin = is_latin(text) if latin is None else latin
        self._batch: IndexKeys | None = None
        self._at = 0
        self._shingles: frozenset[str] | None = None
        self._grams: frozenset[int] | None = None
        self._numbers: tuple[str, ...] | None = None
        self._number_set: frozenset[str] | None = None
        self._bloom = bloom

    @classmethod
    def of(cls, title: str) -> Fingerprint:
        """The fingerprint of one headline, without index keys."""
        return cls(*match_text(title))

    @property
    def size(self) -> int:
        """Length for the ``min_cut_chars`` rule: characters, two Latin ones counting one."""
        return len(self.text) // 2 if self.latin else len(self.text)

    @property
    def shingles(self) -> frozenset[str]:
        """Words (English) or character 3-grams (Chinese) of the normalised text."""
        if self._shingles is None:
            if self.latin:
                self._shingles = frozenset(_stem(w) for w in self.text.split())
            else:
                compact = self.text.replace(" ", "")
                n = SHINGLE_CJK
                self._shingles = frozenset(
                    compact[i : i + n] for i in range(max(len(compact) - n + 1, 1))
                )
        return self._shingles

    @property
    def grams(self) -> frozenset[int]:
        """A Chinese text's :attr:`shingles` as integers, three code points in one (a text
        shorter than a gram padded with a character no normalised text holds): the same set
        sizes and overlaps, built and compared faster."""
        if self._grams is None:
            _fill_grams([self])
        assert self._grams is not None
        return self._grams

    @property
    def numbers(self) -> tuple[str, ...]:
        """The decisive tokens of the text: numbers and codes ("000791", "39.5"), Chinese
        numerals in dates and ordinals ("第二批", "三月"), English number words ("third"), and
        place names ("江苏", "华北"). A cut text's last one is dropped: the cut may split it."""
        if self._numbers is None:
            text = self.text
            found = _latin_tokens(text) if self.latin else _ZH_DECISIVE_RE.findall(text)
            self._numbers = _decisive(text, self.cut, found)
        return self._numbers

    @property
    def number_set(self) -> frozenset[str]:
        if self._number_set is None:
            self._number_set = frozenset(self.numbers)
        return self._number_set

    @property
    def bloom(self) -> int:
        """:attr:`numbers` as a 63-bit set of bits, two a token (see :func:`number_bloom`)."""
        if self._bloom is None:
            self._bloom = number_bloom(self.numbers)
        return self._bloom


def _latin_tokens(text: str) -> list[str]:
    """An English text's decisive tokens, in the order :attr:`Fingerprint.numbers` cuts them."""
    found = _NUMBER_RE.findall(text)
    found += [w for w in text.split() if w in NUMBER_WORDS]
    return found


def _fill_numbers(prints: Sequence[Fingerprint]) -> None:
    """Compute :attr:`Fingerprint.numbers` (and :attr:`~Fingerprint.bloom`) of those of
    ``prints`` that lack them, with one search of all the Chinese texts, joined with newlines
    (:data:`_ZH_DECISIVE_LINES_RE`, on :func:`_searched_text`).

    The Chinese loop inlines :func:`_decisive` and :func:`number_bloom`: calling them costs
    0.14 µs a title (1.39 → 1.53 µs of this function, 2,000 bench titles, best of 5). A change
    to either rule must be made here too; tests/test_dedupe_batch.py checks that the two give
    the same on thousands of titles."""
    todo = [fp for fp in prints if fp._numbers is None]
    cjk = [fp for fp in todo if not fp.latin]
    if cjk:
        joined = _searched_text("\n".join([fp.text for fp in cjk]))
        tokens = iter(_ZH_DECISIVE_LINES_RE.findall(joined))
        upto, bits = tokens.__next__, _TOKEN_BITS.get
        for fp in cjk:  # a "\n" token ends each text's tokens
            found = list(iter(upto, "\n"))
            if not found:
                fp._numbers = ()
                if fp._bloom is None:
                    fp._bloom = 0
                continue
            if fp.cut and fp.text.endswith(found[-1]):  # as _decisive()
                found.pop()
            found.sort()
            fp._numbers = numbers = tuple(found)
            if fp._bloom is None:  # as number_bloom()
                bloom = 0
                for token in numbers:
                    bloom |= bits(token) or _token_bit(token)
                fp._bloom = bloom
    for fp in todo:
        if fp.latin:
            fp._numbers = _decisive(fp.text, fp.cut, _latin_tokens(fp.text))


def _fill_grams(prints: Sequence[Fingerprint]) -> None:
    """Compute :attr:`Fingerprint.grams` of the Chinese ones of ``prints`` that lack them, in
    array operations over all their texts at once."""
    todo = [fp for fp in prints if fp._grams is None and not fp.latin]
    if not todo:
        return
    n = SHINGLE_CJK
    compacts = [fp.text.replace(" ", "") for fp in todo]
    padded = [c if len(c) >= n else c + "\x01" * (n - len(c)) for c in compacts]
    points = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    total = len(points) - n + 1
    codes = np.zeros(total, dtype=np.int64)
    for k in range(n):  # 21 bits a code point: exact for grams of up to 3
        codes |= points[k : k + total] << np.int64(21 * (n - 1 - k))
    every = codes.tolist()
    start = 0
    for fp, compact in zip(todo, padded, strict=True):
        fp._grams = frozenset(every[start : start + len(compact) - n + 1])
        start += len(compact)


def _shingle_sets(a: Fingerprint, b: Fingerprint) -> tuple[frozenset[Any], frozenset[Any]]:
    """Two headlines' shingle sets to compare: as integers (:attr:`~Fingerprint.grams`) when both
    are Chinese, else as strings (an English word can equal a Chinese text's 3-gram)."""
    if a.latin or b.latin:
        return a.shingles, b.shingles
    return a.grams, b.grams


def _decisive(text: str, cut: bool, found: list[str]) -> tuple[str, ...]:
    """:attr:`Fingerprint.numbers` from the tokens found in the text, in order."""
    if cut and found and text.endswith(found[-1]):
        found.pop()
    return tuple(sorted(found))


def number_bloom(numbers: Sequence[str]) -> int:
    """Two bits (of 63: a non-negative SQLite INTEGER) per decisive token. Two headlines whose bits
    say that each has a token the other lacks (:func:`blooms_conflict`) are never the same story,
    which rejects most template look-alikes without reading their text (with one bit a token,
    33,000 of the 62,000 pairs verified at 100k benchmark articles were look-alikes whose tokens'
    bits collided; with two, 3,000 of 32,000). The store keeps each clustered article's bits
    (``dedupe_texts.nums``): changing what :attr:`Fingerprint.numbers` finds or how a token's
    bits are chosen needs a migration that recomputes them."""
    bits = 0
    for token in numbers:
        bits |= _TOKEN_BITS.get(token) or _token_bit(token)
    return bits


def _token_bit(token: str) -> int:
    """:func:`token_bits`, remembered in :data:`_TOKEN_BITS` (never 0: a 0 there is no entry)."""
    if len(_TOKEN_BITS) >= 1 << 16:  # places and common numbers come back at once
        _TOKEN_BITS.clear()
    bit = _TOKEN_BITS[token] = token_bits(token)
    return bit


def token_bits(token: str) -> int:
    """A decisive token's two bits in :func:`number_bloom` (one when they fall together)."""
    code = zlib.crc32(token.encode())
    return (1 << (code % 63)) | (1 << (code // 63 % 63))


_TOKEN_BITS: dict[str, int] = {}  # token -> its bit in number_bloom(), for tokens seen lately


def blooms_conflict(bloom_a: int, cut_a: bool, bloom_b: int, cut_b: bool) -> bool:
    """True when :func:`numbers_conflict` is certainly true for headlines with these bits (a bit
    set in one and not in the other is a token the other lacks); False means "look closer"."""
    if cut_a == cut_b:
        return bool(bloom_a & ~bloom_b) and bool(bloom_b & ~bloom_a)
    return bool(bloom_a & ~bloom_b) if cut_a else bool(bloom_b & ~bloom_a)


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _mix64(x: np.ndarray) -> np.ndarray:
    """A 64-bit finaliser (splitmix64) on a uint64 array; wraps, never warns."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


# CRC-32 and Adler-32 of each kind's "kind\x00", from which both checksums continue over a text.
_KEY_START = {kind: (zlib.crc32(f"{kind}\x00".encode()), zlib.adler32(f"{kind}\x00".encode()))
              for kind in "pcs"}  # fmt: skip


def _cjk_shingle_hashes(compacts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every title's character 3-grams, in one array, and each title's first index.

    The titles are joined into one code-point array; a gram is kept when it does not cross into
    the next title. A title shorter than a gram is padded, so each has at least one."""
    n = SHINGLE_CJK
    padded = [c if len(c) >= n else c + "\x01" * (n - len(c)) for c in compacts]
    lengths = np.fromiter((len(c) for c in padded), dtype=np.int64, count=len(padded))
    points = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    ends = np.cumsum(lengths)
    keep = np.ones(len(points), dtype=bool)
    for offset in range(1, n):
        keep[ends - offset] = False
    total = len(points) - n + 1
    grams = points[:total] * _GRAM_MUL[0]
    for offset in range(1, n):
        grams = grams + points[offset : offset + total] * _GRAM_MUL[offset]
    hashes = _mix64(grams[keep[:total]])
    counts = lengths - (n - 1)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return hashes, starts


def _latin_shingle_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """CRC-32 of every English title's distinct stemmed words (:func:`_stem`, inlined), in one
    array, and each title's first index (a title without words has the empty one)."""
    values: list[int] = []
    starts: list[int] = []
    crc32, encode = zlib.crc32, str.encode
    for text in texts:
        starts.append(len(values))
        words = {w[:-1] if len(w) > 3 and w[-1] == "s" else w for w in text.split()} or {""}
        values += map(crc32, map(encode, words))
    return np.array(values, dtype=np.uint64), np.array(starts, dtype=np.int64)


def _band_keys(hashes: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """MinHash signatures (``NUM_PERM`` 2-universal hashes, minimum per title) cut into bands,
    each band hashed to one signed 64-bit key: an int64 array (titles, ``BANDS``)."""
    if not len(starts):
        return np.zeros((0, BANDS), dtype=np.int64)
    flat = hashes & np.uint64(0xFFFFFFFF)
    hashed = np.multiply(_PERM_A, flat)  # (NUM_PERM, total), wraps mod 2**64; in place:
    hashed += _PERM_B
    hashed >>= np.uint64(32)  # 32 bits left: the minima are taken on uint32, twice as fast
    signatures = np.minimum.reduceat(
        hashed.astype(np.uint32), starts, axis=1
    ).T  # (titles, NUM_PERM)
    signatures = signatures.astype(np.uint64)
    bands = signatures.reshape(len(starts), BANDS, ROWS)
    keys = _mix64((bands * _BAND_MUL).sum(axis=2, dtype=np.uint64) ^ _BAND_SALT)
    return keys.view(np.int64)


class IndexKeys:
    """The index keys of a batch of fingerprints (:func:`fingerprints`), one row each: the
    prefix key of a whole headline (``p``), of a cut one (``c``), the suffix key (``s``) and the
    band keys. A whole headline files under ``p``, ``s`` and its bands; a cut one under ``c`` and
    its bands (its end is the cut's, not the story's); both probe all of theirs and ``p`` and
    ``c``. A headline with no text has no keys."""

    def __init__(self, probes: np.ndarray, cut: np.ndarray, empty: np.ndarray) -> None:
        self.probes = probes  # int64 (headlines, 3 + BANDS): p, c, s, the bands
        self.probe_mask = np.ones(probes.shape, dtype=bool)  # which of them a row probes
        self.probe_mask[:, 2] = ~cut
        self.probe_mask[empty] = False
        # int64 (headlines, 2 + BANDS): p (c when cut), s, the bands; and which a row files under
        self.keys = np.concatenate(
            [np.where(cut, probes[:, 1], probes[:, 0])[:, None], probes[:, 2:]], axis=1
        )
        self.key_mask = np.delete(self.probe_mask, 1, axis=1)
        # which of the probes a row files under (in its own time slot): key_mask by probe column
        self.files = self.probe_mask.copy()
        self.files[:, 0] &= ~cut
        self.files[:, 1] &= cut


# Whether a match on each column of IndexKeys.probes alone makes a candidate.
_PROBE_ALONE = np.array([True] * 3 + [False] * BANDS)
# The keys of no fingerprint (what an empty batch's rows are read from).
_NO_KEYS = IndexKeys(np.zeros((0, 3 + BANDS), np.int64), np.zeros(0, bool), np.zeros(0, bool))


def _checksum_keys(data: Sequence[bytes], kind: str) -> np.ndarray:
    """The prefix or suffix key (``kind`` "p", "c" or "s") of each of ``data`` (encoded texts), as
    signed 64-bit keys (SQLite INTEGER) in an array: CRC-32 and Adler-32 of the kind, a NUL and
    the text (a collision only makes a candidate, which verification then refuses)."""
    crc, adler = _KEY_START[kind]
    count = len(data)
    high = np.fromiter(map(zlib.crc32, data, repeat(crc, count)), dtype=np.uint64, count=count)
    low = np.fromiter(map(zlib.adler32, data, repeat(adler, count)), dtype=np.uint64, count=count)
    return ((high << np.uint64(32)) | low).view(np.int64)


def _restarted_keys(keys: np.ndarray, data: Sequence[bytes], kind: str, other: str) -> np.ndarray:
    """:func:`_checksum_keys` of ``data`` for kind ``other``, from those for ``kind``
    (``keys``) without reading the data again: CRC-32 is affine in its starting value (two
    starts differ by what they give on as many zero bytes), and Adler-32's two sums shift by
    the starts' difference (the second once a byte)."""
    sizes = np.fromiter(map(len, data), dtype=np.int64, count=len(data))
    adler, adler_to = _KEY_START[kind][1], _KEY_START[other][1]
    shift = _crc_shifts(kind, other, int(sizes.max(initial=0)))
    value = keys.view(np.uint64)
    high = (value >> np.uint64(32)).astype(np.int64) ^ shift[sizes]
    low = (value & np.uint64(0xFFFFFFFF)).astype(np.int64)
    first = (adler_to & 0xFFFF) - (adler & 0xFFFF)
    a = ((low & 0xFFFF) + first) % _ADLER_BASE
    b = ((low >> 16) + (adler_to >> 16) - (adler >> 16) + sizes * first) % _ADLER_BASE
    return (high << 32) | (b << 16) | a  # (the high half wraps into the sign bit)


_ADLER_BASE = 65521


@cache
def _crc_shifts(kind: str, other: str, longest: int) -> np.ndarray:
    """What turns the CRC-32 of a text of each size up to ``longest`` started for ``kind`` into
    the one started for ``other`` (int64; cached: :func:`fingerprints` asks for prefixes only,
    of 64 bytes at most)."""
    crc, crc_to = _KEY_START[kind][0], _KEY_START[other][0]
    shifts = np.array(
        [zlib.crc32(bytes(size), crc) ^ zlib.crc32(bytes(size), crc_to) for size in
         range(longest + 1)], dtype=np.int64,
    )  # fmt: skip
    shifts.flags.writeable = False  # (shared)
    return shifts


def _encoded(texts: list[str]) -> list[bytes]:
    """Each text UTF-8 encoded (texts without a newline): one encoding of them all, split."""
    return "\n".join(texts).encode().split(b"\n") if texts else []


def fingerprints(titles: Sequence[str]) -> list[Fingerprint]:
    """Fingerprints of many headlines, with index keys and decisive tokens: the same as
    :meth:`Fingerprint.of` for each, but normalised (:func:`match_texts`), searched for decisive
    tokens and MinHashed once for the whole batch, the keys kept in arrays (:class:`IndexKeys`)."""
    texts, cuts, flags = _normalised(titles)
    cjk = [i for i, is_latin in enumerate(flags) if not is_latin]
    latin = [i for i, is_latin in enumerate(flags) if is_latin]
    probes = np.zeros((len(texts), 3 + BANDS), dtype=np.int64)
    if cjk:
        probes[cjk, 3:] = _band_keys(*_cjk_shingle_hashes([texts[i].replace(" ", "") for i in cjk]))
    if latin:
        probes[latin, 3:] = _band_keys(*_latin_shingle_hashes([texts[i] for i in latin]))
    heads = [text[:PREFIX_CJK] for text in texts]
    tails = [text[-PREFIX_CJK:] for text in texts]
    for i in latin:
        heads[i], tails[i] = texts[i][:PREFIX_LATIN], texts[i][-PREFIX_LATIN:]
    data = _encoded(heads)
    probes[:, 0] = whole = _checksum_keys(data, "p")
    probes[:, 1] = _restarted_keys(whole, data, "p", "c")
    probes[:, 2] = _checksum_keys(_encoded(tails), "s")
    batch = IndexKeys(
        probes,
        np.array(cuts, dtype=bool),
        np.fromiter((not text for text in texts), dtype=bool, count=len(texts)),
    )
    prints = list(map(Fingerprint, texts, cuts, flags))
    for i, fp in enumerate(prints):
        fp._batch, fp._at = batch, i
    _fill_numbers(prints)  # and the Chinese ones' bits
    for i in latin:
        fp = prints[i]
        fp._bloom = number_bloom(fp.numbers)
    return prints


# ---------------------------------------------------------------------------------------------
# Time slots

# The store files an article's keys in the time slot of its time (published, else first seen):
# the slot is in the high bits of every stored key, the fingerprint's key in the low bits. Pairs
# further apart than ``window_days`` are never accepted, so an article probes only the slots
# covering its window, and the keys of one slot are neighbours in the index's B-tree: a batch of
# recent articles reads and rewrites the pages of recent slots only, however large the store.
# Part of the index scheme: changing these needs a rebuild (:func:`aggregator.store
# .rebuild_dedupe_index`).
SLOT_DAYS = 28
SLOT_SECONDS = SLOT_DAYS * 86400
SLOT_SHIFT = 45  # slot in bits 45..62 (non-negative keys), key hash in bits 0..44
SLOT_LIMIT = (1 << (63 - SLOT_SHIFT)) - 1  # the last slot (year ~21,000)
_HASH_MASK = np.int64((1 << SLOT_SHIFT) - 1)


def time_slots(when: np.ndarray, now: float) -> np.ndarray:
    """The slot of each time (POSIX seconds; NaN, no time, is ``now``), clipped to the scheme's
    range (before 1970 is slot 0)."""
    when = np.where(np.isnan(when), now, np.asarray(when, dtype=np.float64))
    return np.clip(np.floor(when / SLOT_SECONDS), 0, SLOT_LIMIT).astype(np.int64)


def slot_keys(keys: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """Index keys (as :func:`filed_keys` gives them) put in time slots: aligned arrays."""
    return (np.asarray(slots, dtype=np.int64) << SLOT_SHIFT) | (
        np.asarray(keys, dtype=np.int64) & _HASH_MASK
    )


def probe_slot_range(
    when: np.ndarray, options: DedupeOptions, now: float
) -> tuple[np.ndarray, np.ndarray]:
    """The first and last slot each article's window ``when ± window_days`` covers (with no
    window, every slot: an article with no time is compared with every other)."""
    if options.window_days <= 0:
        return np.zeros(len(when), dtype=np.int64), np.full(len(when), SLOT_LIMIT, dtype=np.int64)
    when = np.where(np.isnan(when), now, np.asarray(when, dtype=np.float64))
    span = options.window_days * 86400
    return time_slots(when - span, now), time_slots(when + span, now)


@dataclass
class BatchKeys:
    """A batch's index keys as arrays, its fingerprints taken by position (in id order)."""

    size: int  # fingerprints in the batch
    distinct: np.ndarray  # the keys the batch files under, sorted
    filed: np.ndarray  # sorted codes: index in ``distinct`` * (size + 1) + position
    probe_keys: np.ndarray  # each probe: its key, the position probing, its weight
    probe_at: np.ndarray
    probe_weight: np.ndarray
    # the probes in key order (a stable sort: by position within a key), for searches
    # (:func:`_lookup`) that read the array searched in one pass
    probe_order: np.ndarray


def _rows_of(prints: Sequence[Fingerprint]) -> tuple[IndexKeys, np.ndarray]:
    """The key arrays of the batch ``prints`` come from, and their rows in it."""
    batch = prints[0]._batch if prints else _NO_KEYS
    if batch is None or any(fp._batch is not batch for fp in prints):
        raise ValueError("index keys are those of fingerprints from one fingerprints() call")
    return batch, np.fromiter((fp._at for fp in prints), dtype=np.int64, count=len(prints))


def filed_keys(prints: Sequence[Fingerprint]) -> tuple[np.ndarray, np.ndarray]:
    """The index keys fingerprints (from one :func:`fingerprints` call) file under, as two
    aligned arrays: each key's fingerprint (its position, ascending) and the key, a
    fingerprint's keys in the order prefix (cut prefix when cut), suffix, bands."""
    batch, rows = _rows_of(prints)
    mask = batch.key_mask[rows]
    at, _ = np.nonzero(mask)
    return at, batch.keys[rows][mask]


def batch_keys(
    prints: Sequence[Fingerprint],
    options: DedupeOptions,
    when: np.ndarray | None = None,
    filled: np.ndarray | None = None,
    now: float = 0.0,
) -> BatchKeys:
    """The keys of a batch's fingerprints (:class:`IndexKeys`: what each files under and probes)
    as arrays, for :func:`shortlist_batch`, :func:`local_shortlist_batch` and :func:`file_batch`;
    the fingerprints come from one :func:`fingerprints` call (:func:`filed_keys`).

    Given the articles' times ``when`` (POSIX seconds, NaN for none), keys are in time slots
    (:func:`slot_keys`): each article files under its own slot and probes the slots of its
    window (:func:`probe_slot_range`) that hold something — those in ``filled`` (sorted: the
    store's non-empty slots there) or filed by the batch itself."""
    batch, rows = _rows_of(prints)
    mask = batch.probe_mask[rows]
    probe_at, column = np.nonzero(mask)
    probe_keys = batch.probes[rows][mask]
    probe_weight = np.where(_PROBE_ALONE[column], options.min_shared_keys, 1)
    files = batch.files[rows][mask]  # the probes that are keys filed under
    if when is not None:
        when = np.asarray(when, dtype=np.float64)
        own = time_slots(when, now)
        held = distinct(np.concatenate([own, np.zeros(0, np.int64) if filled is None else filled]))
        low, high = probe_slot_range(when, options, now)
        first = np.searchsorted(held, low)
        number = np.searchsorted(held, high, side="right") - first  # slots probed, per article
        times = number[probe_at]
        slots = held[_expand(first[probe_at], times)]
        probe_keys = slot_keys(np.repeat(probe_keys, times), slots)
        probe_at, probe_weight = np.repeat(probe_at, times), np.repeat(probe_weight, times)
        files = np.repeat(files, times) & (slots == own[probe_at])  # (its window holds its slot)
    # One stable sort of the probes by key (by position within a key). The keys filed under are
    # the probes of their own slot in the columns filed under: the distinct keys, and (key's
    # rank, position) codes in order, come from the same order.
    probe_order = np.argsort(probe_keys, kind="stable")
    order = probe_order[files[probe_order]]
    ordered = probe_keys[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]] if len(ordered) else np.zeros(0, bool)
    span = len(prints) + 1
    return BatchKeys(
        size=len(prints),
        distinct=ordered[first],
        filed=(np.cumsum(first) - 1) * span + probe_at[order],
        probe_keys=probe_keys,
        probe_at=probe_at,
        probe_weight=probe_weight,
        probe_order=probe_order,
    )


def distinct_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`distinct` of an int64 array, and where each value is in it (``np.unique``'s
    ``return_inverse``): a mask over the values' range when it is small, else a search."""
    if not len(values):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    low, high = int(values.min()), int(values.max())
    if high - low <= 8 * len(values):
        seen = np.zeros(high - low + 1, dtype=bool)
        seen[values - low] = True
        rank = np.cumsum(seen) - 1
        return np.flatnonzero(seen) + low, rank[values - low]
    unique = distinct(values)
    return unique, np.searchsorted(unique, values)


def distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values of an int64 array, sorted (``np.unique``, several times faster: a
    mask over the values' range when it is small, else a sort)."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    low, high = int(values.min()), int(values.max())
    if high - low <= 8 * len(values):
        seen = np.zeros(high - low + 1, dtype=bool)
        seen[values - low] = True
        return np.flatnonzero(seen) + low
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]]


def _expand(low: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The indices ``low[i] .. low[i] + counts[i] - 1`` for every i, concatenated."""
    total = int(counts.sum())
    return np.repeat(low - np.cumsum(counts) + counts, counts) + np.arange(total)


# How schema 18 kept a bucket's ids (oldest first) in its row of ``dedupe_index``, by how many
# there are (``n``): one id as an INTEGER; more as a BLOB of little-endian signed 32-bit ids when
# they all fit, else 64-bit (the width is the BLOB's length over ``n``; older files hold 64-bit
# BLOBs only, read the same way). Read by schema 19's upgrade (``Buckets(rows)``); the same
# widths serve a group's ids (:func:`pack_groups`).
_NARROW = np.dtype("<i4")
_WIDE = np.dtype("<i8")
_NARROW_LIMIT = 1 << 31


def _bucket_width(n: int, value: int | bytes) -> int:
    """The width of a stored bucket's ids: 0 for one id (an INTEGER), 4 or 8 for a BLOB of
    ``n`` ids, -1 for a row that is neither (written by hand, or damaged; an old file's cap-0
    rows hold ``n`` = 0): read as an empty bucket, rewritten whole when next filed into."""
    if isinstance(value, int):
        return 0
    if isinstance(value, bytes) and isinstance(n, int) and n > 0 and len(value) in (4 * n, 8 * n):
        return len(value) // n
    return -1  # (also a TEXT or REAL value or count: SQLite keeps what it was given)


def _lookup(
    sorted_keys: np.ndarray, keys: np.ndarray, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``keys`` is in ``sorted_keys``, and whether it is there at all. Given
    ``order``, the order that sorts ``keys``, the keys are searched in that order (each search
    starts near the last one's end, in memory the cache holds: a batch's probes in two time
    slots' keys, 3.5x as fast) and the answers put back in the keys' order."""
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=np.int64), np.zeros(len(keys), dtype=bool)
    if order is None:
        slot = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
        return slot, sorted_keys[slot] == keys
    ordered = keys[order]
    found = np.minimum(np.searchsorted(sorted_keys, ordered), len(sorted_keys) - 1)
    slot = np.empty(len(keys), dtype=np.int64)
    hit = np.empty(len(keys), dtype=bool)
    slot[order], hit[order] = found, sorted_keys[found] == ordered
    return slot, hit


class Buckets:
    """What the index holds under some keys, as arrays: one sorted key array, the count and
    first position of each key's ids, one id array (each bucket's ids oldest first)."""

    def __init__(self, rows: Sequence[tuple[int, int, int | bytes]]) -> None:
        """From schema 18's ``(key, n, article_ids)`` rows of ``dedupe_index`` (what its
        upgrade reads; in key order, else sorted here). The store reads groups:
        :meth:`from_groups`."""
        keys = np.fromiter((k for k, _, _ in rows), dtype=np.int64, count=len(rows))
        if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():
            rows = sorted(rows, key=lambda row: row[0])
        self._fill(rows)

    def _fill(self, rows: Sequence[tuple[int, int, int | bytes]]) -> None:
        count = len(rows)
        self.keys = np.fromiter((k for k, _, _ in rows), dtype=np.int64, count=count)
        # 0: one id (an INTEGER); 4 or 8: the width of a BLOB's ids; -1: a damaged row, empty
        widths = [_bucket_width(n, v) for _, n, v in rows]
        width = np.array(widths, dtype=np.int64)
        self.counts = np.array(
            [1 if w == 0 else n if w > 0 else 0 for (_, n, _), w in zip(rows, widths, strict=True)],
            dtype=np.int64,
        )
        self.starts = np.cumsum(self.counts) - self.counts
        self.ids = np.zeros(int(self.counts.sum()), dtype=np.int64)
        single = np.flatnonzero(width == 0)
        self.ids[self.starts[single]] = np.fromiter(
            (rows[i][2] for i in single.tolist()), dtype=np.int64, count=len(single)
        )
        for size, dtype in ((4, _NARROW), (8, _WIDE)):
            group = np.flatnonzero(width == size).tolist()
            if group:
                blob = b"".join([rows[i][2] for i in group])  # bytes: width 4 or 8
                at = _expand(self.starts[group], self.counts[group])
                self.ids[at] = np.frombuffer(blob, dtype=dtype)

    @classmethod
    def of_arrays(cls, keys: np.ndarray, counts: np.ndarray, ids: np.ndarray) -> Buckets:
        """Buckets from their arrays: ``keys`` ascending, ``counts[i]`` ids each, ``ids`` every
        bucket's ids in key order."""
        self = cls.__new__(cls)
        self.damaged = []
        self.keys, self.counts, self.ids = keys, counts, ids
        self.starts = np.cumsum(counts) - counts
        return self

    @classmethod
    def joined(cls, parts: Sequence[Buckets]) -> Buckets:
        """The buckets of ``parts``, which hold distinct keys, each part's above the last's."""
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return cls.of_arrays(*(np.zeros(0, dtype=np.int64),) * 3)
        return cls.of_arrays(
            np.concatenate([p.keys for p in parts]),
            np.concatenate([p.counts for p in parts]),
            np.concatenate([p.ids for p in parts]),
        )

    def part(self, low: int, high: int) -> Buckets:
        """The buckets from the ``low``-th key up to the ``high``-th (views, no copy)."""
        first = int(self.starts[low]) if low < len(self.keys) else len(self.ids)
        last = int(self.starts[high - 1] + self.counts[high - 1]) if high > low else first
        return Buckets.of_arrays(self.keys[low:high], self.counts[low:high], self.ids[first:last])

    @classmethod
    def from_groups(cls, rows: Sequence[GroupRow]) -> Buckets:
        """From ``dedupe_groups`` rows ``(group_key, keys, counts, ids)`` in group order
        (:func:`pack_groups`; else sorted here), decoded all at once: each column joined, read
        by numpy. A row that is not what :func:`pack_groups` writes (damaged, or written by
        hand: a column that is not a BLOB, lengths that do not agree, keys out of order, a
        group key given twice) reads as empty; its group keys are in :attr:`damaged`."""
        self = cls.__new__(cls)
        self.damaged = []
        if not rows:
            self.keys = self.counts = self.starts = self.ids = np.zeros(0, dtype=np.int64)
            return self
        group = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        if len(group) > 1 and not (group[1:] > group[:-1]).all():
            order = np.argsort(group, kind="stable")
            rows, group = [rows[i] for i in order.tolist()], group[order]
        _, key_col, count_col, id_col = zip(*rows, strict=True)
        # A column's length, or -1 when it is not a BLOB (an INTEGER, a TEXT): never one that fits
        key_len = np.array([len(v) if isinstance(v, _BLOBS) else -1 for v in key_col], np.int64)
        count_len = np.array([len(v) if isinstance(v, _BLOBS) else -1 for v in count_col], np.int64)
        id_len = np.array([len(v) if isinstance(v, _BLOBS) else -1 for v in id_col], np.int64)
        size = key_len // _KEY_OFFSET.itemsize  # keys a row
        fits = (key_len % _KEY_OFFSET.itemsize == 0) & (size > 0)
        fits &= (count_len == size) | (count_len == 4 * size)
        same = group[1:] == group[:-1]  # a group key in more than one row: each damaged
        if same.any():
            fits[1:] &= ~same
            fits[:-1] &= ~same
        good = np.flatnonzero(fits)
        every = len(good) == len(rows)  # the common case: whole columns, no selection

        def joined(column: tuple[bytes, ...], which: np.ndarray) -> bytes:
            return b"".join(column if every and len(which) == len(rows) else
                            [column[i] for i in which.tolist()])  # fmt: skip

        size = size[good]
        start = np.cumsum(size) - size  # each good row's first key
        offsets = np.frombuffer(joined(key_col, good), _KEY_OFFSET)
        keys = (np.repeat(group[good], size) << GROUP_SHIFT) | offsets.astype(np.int64)
        wide = count_len[good] == 4 * size
        if not wide.any():  # 8-bit counts only: one contiguous read
            counts = np.frombuffer(joined(count_col, good), _COUNT).astype(np.int64)
        else:
            counts = np.zeros(len(keys), dtype=np.int64)
            for is_wide, dtype in ((False, _COUNT), (True, _WIDE_COUNT)):
                which = np.flatnonzero(wide == is_wide)
                if len(which):
                    blob = joined(count_col, good[which])
                    counts[_expand(start[which], size[which])] = np.frombuffer(blob, dtype)
        total = np.add.reduceat(counts, start) if len(start) else counts[:0]
        ok = np.minimum.reduceat(counts, start) > 0 if len(start) else np.zeros(0, bool)
        rising = np.diff(keys, prepend=0) > 0  # ascending within a row, offsets in range
        rising[start] = True
        rising &= (offsets >= 0) & (offsets <= _OFFSET_MASK)
        ok &= np.logical_and.reduceat(rising, start) if len(start) else ok
        id_width = np.where(total > 0, id_len[good] // np.maximum(total, 1), 0)
        ok &= ((id_width == 4) | (id_width == 8)) & (id_len[good] == id_width * total)
        self.damaged = sorted({*group[~fits].tolist(), *group[good[~ok]].tolist()})
        if ok.all():
            self.keys, self.counts = keys, counts
        else:
            keep = np.repeat(ok, size)
            self.keys, self.counts = keys[keep], counts[keep]
            every = False
        self.starts = np.cumsum(self.counts) - self.counts
        good, total, id_width = good[ok], total[ok], id_width[ok]
        if (id_width == 4).all():  # 32-bit ids only: one contiguous read
            self.ids = np.frombuffer(joined(id_col, good), _NARROW).astype(np.int64)
            return self
        self.ids = np.zeros(int(self.counts.sum()), dtype=np.int64)
        id_start = np.cumsum(total) - total
        for width, dtype in ((4, _NARROW), (8, _WIDE)):
            which = np.flatnonzero(id_width == width)
            if len(which):
                blob = joined(id_col, good[which])
                self.ids[_expand(id_start[which], total[which])] = np.frombuffer(blob, dtype)
        return self


# The store's near-duplicate index keeps many keys a row (``dedupe_groups``): a row per group of
# keys, the group being the key's high bits (its time slot, then the top bits of its hash: see
# :data:`GROUP_SHIFT`), holding its keys ascending — each as its offset in the group — with
# each key's count of ids and the ids themselves (oldest first, key after key). Counts are 8-bit
# when the group's all fit, else 32-bit; ids 32-bit when the group's all fit, else 64-bit (each
# width is a column's length over its count). A batch reads the groups its keys fall in and
# rewrites each group it files into once. Part of the index scheme: changing it needs a
# migration.
GROUP_SHIFT = 35  # a group's keys share bits 35..62: slot (bits 45..62) and 10 bits of hash
GROUP_SLOT_SHIFT = SLOT_SHIFT - GROUP_SHIFT  # 1,024 groups a slot
_KEY_OFFSET = np.dtype("<i8")  # a key's bits below GROUP_SHIFT
_OFFSET_MASK = np.int64((1 << GROUP_SHIFT) - 1)
LAST_GROUP = (SLOT_LIMIT + 1 << GROUP_SLOT_SHIFT) - 1
_COUNT = np.dtype("u1")
_WIDE_COUNT = np.dtype("<u4")
Blob = bytes | memoryview  # a BLOB column's value: SQLite gives bytes, pack_groups memoryviews
_BLOBS = (bytes, memoryview)
GroupRow = tuple[int, Blob, Blob, Blob]  # a dedupe_groups row: (group_key, keys, counts, ids)


def key_groups(keys: np.ndarray) -> np.ndarray:
    """The group of each key (its ``dedupe_groups.group_key``)."""
    return np.asarray(keys, dtype=np.int64) >> GROUP_SHIFT


def group_key_bounds(group: int) -> tuple[int, int]:
    """The first and the last key of a group."""
    return group << GROUP_SHIFT, (group << GROUP_SHIFT) | int(_OFFSET_MASK)


def slot_group_bounds(slot: int) -> tuple[int, int]:
    """The first and the last group of a time slot."""
    return slot << GROUP_SLOT_SHIFT, ((slot + 1) << GROUP_SLOT_SHIFT) - 1


def pack_groups(keys: np.ndarray, counts: np.ndarray, ids: np.ndarray) -> list[GroupRow]:
    """The ``dedupe_groups`` rows ``(group_key, keys, counts, ids)`` of buckets: ``keys``
    ascending and distinct, ``counts[i]`` ≥ 1 ids each, ``ids`` every bucket's ids in key order
    (see :data:`GROUP_SHIFT`); each column's value a read-only ``memoryview`` of bytes. Array
    operations but for one slice of each column per group."""
    if not len(keys):
        return []
    keys = np.asarray(keys, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    ids = np.asarray(ids, dtype=np.int64)
    group = keys >> GROUP_SHIFT
    start = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    end = np.r_[start[1:], len(keys)]
    id_offset = np.cumsum(counts) - counts
    id_start = id_offset[start]
    id_end = np.r_[id_start[1:], len(ids)]
    narrow = [False] * len(start)  # the common case, found with no per-group reduction
    wide_count = (
        (np.maximum.reduceat(counts, start) > 255).tolist() if counts.max() > 255 else narrow
    )
    wide_id = (
        (
            (np.maximum.reduceat(ids, id_start) >= _NARROW_LIMIT)
            | (np.minimum.reduceat(ids, id_start) < -_NARROW_LIMIT)
        ).tolist()
        if ids.max() >= _NARROW_LIMIT or ids.min() < -_NARROW_LIMIT
        else narrow
    )
    # Each column's bytes once, a group's value a slice of them: memoryview slices copy nothing
    # (half the cost of bytes slices, each a copy), and SQLite stores them as BLOBs.
    key_bytes = memoryview((keys & _OFFSET_MASK).astype(_KEY_OFFSET).tobytes())
    narrow_counts = memoryview(counts.astype(_COUNT).tobytes())  # wraps above 255: wide groups
    wide_counts = memoryview(counts.astype(_WIDE_COUNT).tobytes() if any(wide_count) else b"")
    narrow_ids = memoryview(ids.astype(_NARROW).tobytes())  # wraps past 32 bits: wide groups
    wide_ids = memoryview(ids.astype(_WIDE).tobytes() if any(wide_id) else b"")
    k = _KEY_OFFSET.itemsize
    return [
        (
            g,
            key_bytes[s * k : e * k],
            wide_counts[s * 4 : e * 4] if wc else narrow_counts[s:e],
            wide_ids[i * 8 : j * 8] if wi else narrow_ids[i * 4 : j * 4],
        )
        for g, s, e, i, j, wc, wi in zip(
            group[start].tolist(),
            start.tolist(),
            end.tolist(),
            id_start.tolist(),
            id_end.tolist(),
            wide_count,
            wide_id,
            strict=True,
        )
    ]


def shortlist_batch(
    keys: BatchKeys, buckets: Buckets, options: DedupeOptions
) -> tuple[np.ndarray, np.ndarray]:
    """The shortlist of every fingerprint of a batch, in array operations: the articles the
    index holds under its probes that share its prefix or suffix, or at least
    ``min_shared_keys`` band keys (two headlines sharing one band only are seldom the same story
    and are most of the noise); at most ``max_candidates`` of them, those sharing the most keys
    (then the most recent). Returns two aligned arrays: the position of a fingerprint and an
    article on its shortlist."""
    slot, hit = _lookup(buckets.keys, keys.probe_keys, keys.probe_order)
    slot, owner, weight = slot[hit], keys.probe_at[hit], keys.probe_weight[hit]
    counts = buckets.counts[slot]
    if not counts.sum():
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    ids = buckets.ids[_expand(buckets.starts[slot], counts)]
    return _rank_pairs(np.repeat(owner, counts), ids, np.repeat(weight, counts), options)


def _rank_pairs(
    owner: np.ndarray, other: np.ndarray, weight: np.ndarray, options: DedupeOptions
) -> tuple[np.ndarray, np.ndarray]:
    """Sum the weights of each (owner, other) pair; keep the pairs reaching ``min_shared_keys``
    and, per owner, the ``max_candidates`` sharing the most (then the highest ``other``)."""
    if not len(other):
        return owner, other
    # One sort of (pair, weight) codes: equal pairs end up together, their weights summed.
    top = int(weight.max()) + 1
    span = int(other.max()) + 1
    unique_ids = None
    if other.min() < 0 or span * (int(owner.max()) + 1) * top >= 1 << 62:
        unique_ids, dense = np.unique(other, return_inverse=True)  # ids too large to combine
        span, other = len(unique_ids), dense.ravel()
    # (The codes come in runs, ascending per article and bucket: a merge sort is quickest.)
    codes = np.sort((owner * span + other) * top + weight, kind="stable")
    pairs = codes // top
    starts = np.flatnonzero(np.r_[True, pairs[1:] != pairs[:-1]])
    shared = np.add.reduceat(codes % top, starts)
    pairs = pairs[starts]
    keep = shared >= options.min_shared_keys
    pairs, shared = pairs[keep], shared[keep]
    most = int(shared.max(initial=0)) + 1
    if (int(pairs.max(initial=0)) // span + 1) * most * span < 1 << 62:
        # One sort by owner, then most shared, then highest other: a code of all three.
        order = np.sort(
            pairs // span * (most * span) + (most - 1 - shared) * span + (span - 1 - pairs % span),
            kind="stable",
        )
        owner, other = order // (most * span), span - 1 - order % span
    else:
        owner, other = pairs // span, pairs % span
        order = np.lexsort((-other, -shared, owner))
        owner, other = owner[order], other[order]
    if unique_ids is not None:
        other = unique_ids[other]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    rank = np.arange(len(owner)) - np.repeat(starts, np.diff(np.r_[starts, len(owner)]))
    keep = rank < options.max_candidates
    return owner[keep], other[keep]


def local_shortlist_batch(keys: BatchKeys, options: DedupeOptions) -> tuple[np.ndarray, np.ndarray]:
    """What :func:`cluster_batch` shortlists for each of a batch's fingerprints among the
    batch's earlier ones — those filed before it under its probes, at most ``bucket_cap`` a
    key — in array operations. Returns aligned positions: (later, earlier)."""
    empty = np.zeros(0, dtype=np.int64)
    span = keys.size + 1
    # The probes in key order (then position): the searches read distinct and filed in order.
    order = keys.probe_order
    slot, hit = _lookup(keys.distinct, keys.probe_keys[order])
    order = order[hit]
    slot, probe_at, weight = slot[hit], keys.probe_at[order], keys.probe_weight[order]
    # Filed before this fingerprint under the key: the last bucket_cap of them.
    high = np.searchsorted(keys.filed, slot * span + probe_at)
    first = np.searchsorted(keys.filed, np.arange(len(keys.distinct)) * span)  # each key's
    low = np.maximum(first[slot], high - options.bucket_cap)
    counts = np.maximum(high - low, 0)
    if not counts.sum():
        return empty, empty
    earlier = keys.filed[_expand(low, counts)] % span
    later = np.repeat(probe_at, counts)
    return _rank_pairs(later, earlier, np.repeat(weight, counts), options)


@dataclass
class Filing:
    """What a batch files, key by key: the keys (ascending, distinct), each bucket's length once
    filed, how many of the batch's ids it keeps (its newest, at least one), and those ids (key
    after key, ascending). Applied to the buckets held before (:func:`apply_filing`) it gives
    them after; it is also what a part of a large slot stores (:func:`pack_part`)."""

    keys: np.ndarray
    length: np.ndarray
    taken: np.ndarray
    ids: np.ndarray


def file_batch(
    keys: BatchKeys, ids: Sequence[int], buckets: Buckets, options: DedupeOptions
) -> tuple[list[GroupRow], int]:
    """The index rows a batch leaves — every group it files into, rewritten whole
    (:func:`pack_groups`): its keys' buckets as ``buckets`` holds them, with the batch's ids
    added, a full bucket keeping its newest ``bucket_cap`` — and how many articles that cap
    dropped. ``buckets`` must hold every group the batch files into (what the store read);
    ``ids`` are the batch's article ids by position (ascending)."""
    if not len(keys.distinct):
        return [], 0
    filing, capped = batch_filing(keys, ids, buckets, options)
    return pack_groups(*_replaced(buckets, filing, whole=False)), capped


def file_batch_held(
    keys: BatchKeys, ids: Sequence[int], buckets: Buckets, options: DedupeOptions
) -> tuple[Filing, int, Buckets]:
    """What a batch files, how many articles the cap dropped, and all that ``buckets`` holds
    once it is filed: every key of it, those the batch files under with their new ids (for a
    process that keeps what it read for its next batches, :class:`aggregator.store.IndexCache`;
    :func:`held_rows` gives the rows to store)."""
    if not len(keys.distinct):  # (headlines with no key: nothing filed)
        empty = np.zeros(0, dtype=np.int64)
        return Filing(empty, empty, empty, empty), 0, buckets
    filing, capped = batch_filing(keys, ids, buckets, options)
    return filing, capped, apply_filing(buckets, filing)


def slot_span(keys: np.ndarray, first: int, last: int) -> tuple[int, int]:
    """Where the keys of the slots ``first`` to ``last`` are in ``keys`` (ascending): from the
    first index up to the second (the last slot's bound too: no key beyond 63 bits)."""
    low = np.searchsorted(keys, first << SLOT_SHIFT)
    high = np.searchsorted(keys, ((last + 1) << SLOT_SHIFT) - 1, side="right")
    return int(low), int(high)


def held_rows(held: Buckets, groups: np.ndarray) -> list[GroupRow]:
    """The ``dedupe_groups`` rows of these groups (ascending) as ``held`` holds them (a group
    with no key in it has none)."""
    if not len(groups) or not len(held.keys):
        return []
    groups = np.asarray(groups, dtype=np.int64)
    low = np.searchsorted(held.keys, groups << GROUP_SHIFT)
    high = np.searchsorted(held.keys, (groups << GROUP_SHIFT) | _OFFSET_MASK, side="right")
    some = high > low
    low, high = low[some], high[some]
    at = _expand(low, high - low)
    id_low = held.starts[low]
    id_at = _expand(id_low, held.starts[high - 1] + held.counts[high - 1] - id_low)
    return pack_groups(held.keys[at], held.counts[at], held.ids[id_at])


def batch_filing(
    keys: BatchKeys, ids: Sequence[int], buckets: Buckets, options: DedupeOptions
) -> tuple[Filing, int]:
    """What a batch files into ``buckets`` (:class:`Filing`), and how many articles the cap
    dropped."""
    span = keys.size + 1
    at = keys.filed % span
    new_ids = np.asarray(ids, dtype=np.int64)[at]  # grouped by key, in id order
    groups = np.flatnonzero(np.r_[True, np.diff(keys.filed // span) != 0])
    ends = np.r_[groups[1:], len(at)]
    slot, hit = _lookup(buckets.keys, keys.distinct)
    old = np.zeros(len(slot), dtype=np.int64)
    old[hit] = buckets.counts[slot[hit]]
    added = ends - groups
    length = np.minimum(old + added, options.bucket_cap)  # what each bucket holds from now on
    capped = int((old + added - length).sum())
    taken = np.minimum(added, length)  # the newest ids: the batch's last, then the held ones
    filing = Filing(keys.distinct, length, taken, new_ids[_expand(ends - taken, taken)])
    return filing, capped


def apply_filing(buckets: Buckets, filing: Filing) -> Buckets:
    """``buckets`` with a filing applied (each key's newest held ids, then its filed ones)."""
    if not len(filing.keys):
        return buckets
    return Buckets.of_arrays(*_replaced(buckets, filing, whole=True))


def _replaced(
    buckets: Buckets, filing: Filing, *, whole: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The buckets once filed, as (keys, counts, ids) arrays: those of the groups the filing
    touches, or (``whole``) every bucket of ``buckets``."""
    slot, hit = _lookup(buckets.keys, filing.keys)
    old = np.zeros(len(slot), dtype=np.int64)
    old[hit] = buckets.counts[slot[hit]]
    old_end = np.zeros(len(slot), dtype=np.int64)
    old_end[hit] = buckets.starts[slot[hit]] + old[hit]
    length, taken = filing.length, filing.taken
    take_old = np.minimum(length - taken, old)  # (as filed: never more than held)
    length = take_old + taken
    offset = np.cumsum(length) - length
    filed = np.empty(int(length.sum()), dtype=np.int64)
    filed[_expand(offset, take_old)] = buckets.ids[_expand(old_end - take_old, take_old)]
    filed[_expand(offset + take_old, taken)] = filing.ids
    # the held buckets the batch leaves as they are (in the groups it rewrites, each group's
    # keys a span of the sorted held keys; or all), and the filed ones put in their places:
    # masks and contiguous copies, no per-id gather
    if whole:
        stay = np.ones(len(buckets.keys), dtype=bool)
    else:
        touched = distinct(key_groups(filing.keys))
        low = np.searchsorted(buckets.keys, touched << GROUP_SHIFT)
        high = np.searchsorted(buckets.keys, (touched << GROUP_SHIFT) | _OFFSET_MASK, side="right")
        stay = np.zeros(len(buckets.keys), dtype=bool)
        stay[_expand(low, high - low)] = True
    stay[slot[hit]] = False
    held_keys = buckets.keys[stay]
    placed = np.searchsorted(held_keys, filing.keys) + np.arange(len(filing.keys))
    is_filed = np.zeros(len(held_keys) + len(placed), dtype=bool)
    is_filed[placed] = True
    every = np.empty(len(is_filed), dtype=np.int64)
    every[placed], every[~is_filed] = filing.keys, held_keys
    count = np.empty(len(is_filed), dtype=np.int64)
    count[placed], count[~is_filed] = length, buckets.counts[stay]
    first_id = np.cumsum(count) - count
    filed_at = _expand(first_id[placed], length)
    id_is_filed = np.zeros(int(count.sum()), dtype=bool)
    id_is_filed[filed_at] = True
    out = np.empty(len(id_is_filed), dtype=np.int64)
    out[filed_at] = filed
    out[~id_is_filed] = buckets.ids[np.repeat(stay, buckets.counts)]
    return every, count, out


# A part of a large time slot (``dedupe_parts``): what one batch filed there (:class:`Filing`),
# stored instead of the slot's every group rewritten; readers apply a slot's parts in order to
# its groups, and every few batches the slot's groups are rewritten and its parts deleted.
# Columns: ``keys`` (little-endian 64-bit, ascending), ``lengths`` and ``taken`` (8-bit when
# all fit, else 32-bit), ``ids`` (32-bit when all fit, else 64-bit); widths as in the groups.
PartRow = tuple[int, int, Blob, Blob, Blob, Blob]  # (slot, seq, keys, lengths, taken, ids)


def pack_part(slot: int, seq: int, filing: Filing) -> PartRow:
    """The ``dedupe_parts`` row of a filing into one slot."""
    small = int(filing.length.max(initial=0)) <= 255
    width = _COUNT if small else _WIDE_COUNT
    low, high = int(filing.ids.min(initial=0)), int(filing.ids.max(initial=0))
    narrow = low >= -_NARROW_LIMIT and high < _NARROW_LIMIT
    return (
        slot,
        seq,
        filing.keys.astype(_WIDE).tobytes(),
        filing.length.astype(width).tobytes(),
        filing.taken.astype(width).tobytes(),
        filing.ids.astype(_NARROW if narrow else _WIDE).tobytes(),
    )


def unpack_part(row: Sequence[Any]) -> Filing | None:
    """A ``dedupe_parts`` row's filing, or None when it is not what :func:`pack_part` writes
    (damaged, or written by hand)."""
    slot, _seq, keys, lengths, taken, ids = row
    if not all(isinstance(v, _BLOBS) for v in (keys, lengths, taken, ids)):
        return None
    if not len(keys) or len(keys) % 8 or not isinstance(slot, int):
        return None
    n = len(keys) // 8
    if len(lengths) != len(taken) or len(lengths) not in (n, 4 * n):
        return None
    width = _COUNT if len(lengths) == n else _WIDE_COUNT
    key_array = np.frombuffer(keys, _WIDE).astype(np.int64)
    length = np.frombuffer(lengths, width).astype(np.int64)
    take = np.frombuffer(taken, width).astype(np.int64)
    total = int(take.sum())
    if (
        (key_array >> SLOT_SHIFT != slot).any()
        or (np.diff(key_array) <= 0).any()
        or (take < 1).any()
        or (length < take).any()
        or len(ids) not in (4 * total, 8 * total)
    ):
        return None
    id_array = np.frombuffer(ids, _NARROW if len(ids) == 4 * total else _WIDE).astype(np.int64)
    return Filing(key_array, length, take, id_array)


class RecentAttributes:
    """What :func:`prefilter` needs of clustered articles — time, decisive-token bits, cut flag —
    for the most recent ids, in arrays a batch indexes instead of reading them back. They never
    change once an article is filed, so a long-lived clusterer keeps the ones it filed or read
    (at most ``limit`` ids, the newest); ids not held are read from the store."""

    def __init__(self, limit: int = 1 << 20) -> None:
        self.limit = limit
        self.low = 0  # ids low .. low + len(held) - 1
        self.held = np.zeros(0, dtype=bool)
        self.seen = np.zeros(0, dtype=np.float64)
        self.nums = np.zeros(0, dtype=np.int64)
        self.cut = np.zeros(0, dtype=bool)

    def add(self, ids: np.ndarray, seen: np.ndarray, nums: np.ndarray, cut: np.ndarray) -> None:
        if not len(ids):
            return
        if not self.held.any():
            self.low = int(ids.min())
        high = int(ids.max()) + 1
        if high - self.low > len(self.held):  # grow (doubling), dropping the oldest past limit
            size = min(max(high - self.low, 2 * len(self.held), 4096), self.limit)
            low = max(self.low, high - size)
            keep = slice(low - self.low, len(self.held))
            for name, dtype in (("held", bool), ("seen", np.float64), ("nums", np.int64),
                                ("cut", bool)):  # fmt: skip
                grown = np.zeros(size, dtype=dtype)
                old = getattr(self, name)[keep]
                grown[: len(old)] = old
                setattr(self, name, grown)
            self.low = low
        inside = ids >= self.low
        at = ids[inside] - self.low
        self.held[at] = True
        self.seen[at] = seen[inside]
        self.nums[at] = nums[inside]
        self.cut[at] = cut[inside]

    def get(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Whether each id is held, and its time, bits and cut flag (meaningless where not)."""
        at = ids - self.low
        inside = (at >= 0) & (at < len(self.held))
        at = np.where(inside, at, 0)
        if not len(self.held):
            zero = np.zeros(len(ids))
            return inside, zero, zero.astype(np.int64), zero.astype(bool)
        held = inside & self.held[at]
        return held, self.seen[at], self.nums[at], self.cut[at]


def prefilter(
    new_when: np.ndarray,
    new_bloom: np.ndarray,
    new_cut: np.ndarray,
    other_when: np.ndarray,
    other_bloom: np.ndarray,
    other_cut: np.ndarray,
    options: DedupeOptions,
) -> np.ndarray:
    """For aligned arrays of pairs (times as POSIX seconds, NaN for none; :func:`number_bloom`
    bits; cut flags), True where the pair still needs :func:`match_score`: False only where
    ``cluster_batch`` would refuse it anyway (outside ``window_days``, or :func:`blooms_conflict`).
    """
    within = np.ones(len(new_when), dtype=bool)
    if options.window_days > 0:
        with np.errstate(invalid="ignore"):
            within = ~(np.abs(new_when - other_when) > options.window_days * 86400)
    a, b = np.asarray(new_bloom, dtype=np.int64), np.asarray(other_bloom, dtype=np.int64)
    a_extra, b_extra = (a & ~b) != 0, (b & ~a) != 0
    conflict = np.where(
        new_cut == other_cut, a_extra & b_extra, np.where(new_cut, a_extra, b_extra)
    )
    return within & ~conflict


# ---------------------------------------------------------------------------------------------
# Verification

# Words that end a company, organisation or place name (a name swapped for another before one of
# these, as in "甘肃能源" / "中煤能源", makes a different story).
ENTITY_SUFFIXES = (
    "能源", "电力", "集团", "公司", "股份", "科技", "电气", "控股", "实业", "环保", "银行",
    "证券", "基金", "石油", "石化", "化工", "煤业", "矿业", "电子", "材料", "动力", "汽车",
    "电池", "绿能", "智能", "发展", "投资", "国际", "重工", "装备", "核电", "水电", "热电",
    "燃气", "电网", "光电", "新材", "省", "市", "县", "区", "镇", "村", "局", "厅", "委",
    "大学", "研究院", "有限",
)  # fmt: skip
PLACES = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江",
    "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州",
    "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港",
    "澳门", "深圳", "广州", "杭州", "南京", "苏州", "成都", "武汉", "西安", "青岛", "宁波",
    "厦门", "大连", "沈阳", "长沙", "郑州", "济南", "合肥", "福州", "昆明", "南宁", "兰州",
    "银川", "西宁", "拉萨", "乌鲁木齐", "呼和浩特", "石家庄", "太原", "长春", "哈尔滨",
    "东北", "华北", "华东", "华南", "华中", "西北", "西南", "长三角", "珠三角", "京津冀",
    "粤港澳", "大湾区",
)  # fmt: skip


# One pass over a Chinese headline finds its numbers, numerals and places.
_ZH_DECISIVE_RE = re.compile(
    "|".join([_NUMBER_RE.pattern, _ZH_NUMERAL_RE.pattern, *sorted(PLACES, key=len, reverse=True)])
)


def _decisive_lines_re() -> re.Pattern[str]:
    """:data:`_ZH_DECISIVE_RE` for texts joined with newlines, which it also finds (each ends a
    text), about three times as fast: it reads one character from a class of every
    alternative's first (which lets the engine skip the others quickly), then tries each
    alternative's rest behind a look-behind for its first, in the same order, so each position
    matches as before. A place's rest starts with its second character, before the look-behind:
    the engine skips an alternative that starts with a character at once, and the places are
    grouped by that character (the places that start with one character are tried in the same
    order; those that start with another cannot match there)."""
    by_second: dict[str, list[str]] = {}
    for place in sorted(PLACES, key=len, reverse=True):  # every place has two characters or more
        by_second.setdefault(place[1], []).append(place)
    firsts = "".join(dict.fromkeys(place[0] for place in sorted(PLACES, key=len, reverse=True)))
    rests = [
        "(?<=\n)",
        r"(?<=\d)\d*(?:\.\d+)?",  # _NUMBER_RE
        f"(?<=第)[{_ORDINALS}]+",  # _ZH_NUMERAL_RE
        f"(?<=[{_NUMERALS}])[{_NUMERALS}]*(?=[{_UNITS}])",
        *(
            re.escape(second)
            + f"(?:{'|'.join(f'(?<={re.escape(p[:2])}){re.escape(p[2:])}' for p in places)})"
            for second, places in by_second.items()
        ),
    ]
    return re.compile(f"[\n\\d第{_NUMERALS}{firsts}](?:{'|'.join(rests)})")


_ZH_DECISIVE_LINES_RE = _decisive_lines_re()


@cache
def _read_by_search() -> np.ndarray:
    """Which characters of the Basic Multilingual Plane :data:`_ZH_DECISIVE_LINES_RE` may read
    (match, or look at around a match): those written in it and those of ``\\d``. A superset
    does no harm; a character beyond the plane counts as read."""
    read = (_bmp_tables()[0] & _DIGIT).astype(bool)
    read[[ord(char) for char in set(_ZH_DECISIVE_LINES_RE.pattern) if ord(char) <= 0xFFFF]] = True
    read[0] = False
    return read


def _searched_text(joined: str) -> str:
    """``joined`` with each run of characters the decisive-token search never reads shortened to
    one NUL (which it does not read either): the search finds the same tokens in half the text
    of a Chinese headline."""
    if not joined:
        return joined
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    wide = points > 0xFFFF
    read = (
        _read_by_search()[np.where(wide, 0, points)] | wide
        if wide.any()
        else _read_by_search()[points]
    )
    keep = read.copy()  # and the first of each run of unread ones
    keep[0] = True
    keep[1:] |= read[:-1]
    return np.where(read, points, 0)[keep].tobytes().decode("utf-32-le", "surrogatepass")


def _lacks(have: tuple[str, ...], other: tuple[str, ...]) -> bool:
    """``have`` holds a token (counting repeats) that ``other`` does not."""
    rest = list(other)
    for token in have:
        if token in rest:
            rest.remove(token)
        else:
            return True
    return False


def numbers_conflict(a: Fingerprint, b: Fingerprint) -> bool:
    """Each headline has a number, code or place the other lacks, counting repeats ("4月9日" /
    "4月4日"); a cut one only up to its cut, and then it alone must lack nothing."""
    na, nb = a.numbers, b.numbers
    if na == nb:
        return False
    sa, sb = a.number_set, b.number_set
    if a.cut != b.cut:
        (cut, whole), (cut_set, whole_set) = ((na, nb), (sa, sb)) if a.cut else ((nb, na), (sb, sa))
        return bool(cut_set - whole_set) or _lacks(cut, whole)
    if sa - sb and sb - sa:
        return True  # the common case, decided without counting
    return _lacks(na, nb) and _lacks(nb, na)


_LONG_SUFFIX_RE = re.compile("|".join(x for x in ENTITY_SUFFIXES if len(x) > 1))


def diff_regions(x: Sequence[str], y: Sequence[str]) -> list[tuple[int, int, int, int]]:
    """Where two sequences differ: runs of changes, merged across single equal items (so
    "江苏" / "浙江" is one region, not an insertion, a match on "江" and a deletion). The
    changes are difflib's (``SequenceMatcher(None, x, y, autojunk=False).get_opcodes()``),
    found by :func:`matching_blocks`."""
    if not isinstance(x, str) or not isinstance(y, str):  # words: one character each
        codes: dict[str, str] = {}
        x = "".join([codes.setdefault(word, chr(len(codes) + 1)) for word in x])
        y = "".join([codes.setdefault(word, chr(len(codes) + 1)) for word in y])
    regions: list[list[int]] = []
    i = j = 0
    last = len(x)
    for ai, bj, size in matching_blocks(x, y):
        if i < ai or j < bj:  # a change: x[i:ai] for y[j:bj]
            if regions and regions[-1]:
                regions[-1][1], regions[-1][3] = ai, bj
            else:
                if regions:
                    regions.pop()
                regions.append([i, ai, j, bj])
        i, j = ai + size, bj + size
        if size and (size > 1 or not regions or ai == 0 or i == last):
            regions.append([])  # a boundary
    return [(r[0], r[1], r[2], r[3]) for r in regions if r]


def matching_blocks(a: str, b: str) -> list[tuple[int, int, int]]:
    """``SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()`` of two strings, as
    tuples, several times faster: the same blocks, each the longest common run of what is left
    between the blocks found (the earliest in ``a``, then in ``b``), found by growing a run
    and searching for it with ``str.find``, where difflib counts runs item by item."""
    queue = [(0, len(a), 0, len(b))]
    blocks: list[tuple[int, int, int]] = []
    find = b.find
    while queue:
        alo, ahi, blo, bhi = queue.pop()
        i, j, k = alo, blo, 0  # the longest run: found first at the earliest start in a
        start = alo
        while start + k < ahi:
            at = find(a[start : start + k + 1], blo, bhi)
            if at < 0:
                start += 1
            else:
                i, j, k = start, at, k + 1
        if k:
            blocks.append((i, j, k))
            if alo < i and blo < j:
                queue.append((alo, i, blo, j))
            if i + k < ahi and j + k < bhi:
                queue.append((i + k, ahi, j + k, bhi))
    blocks.sort()
    joined: list[tuple[int, int, int]] = []  # adjacent blocks joined, as difflib does
    i1 = j1 = k1 = 0
    for i2, j2, k2 in blocks:
        if i1 + k1 == i2 and j1 + k1 == j2:
            k1 += k2
        else:
            if k1:
                joined.append((i1, j1, k1))
            i1, j1, k1 = i2, j2, k2
    if k1:
        joined.append((i1, j1, k1))
    joined.append((len(a), len(b), 0))
    return joined


def _overlaps_name(text: str, start: int, end: int) -> bool:
    return any(m.start() < end and start < m.end() for m in _LONG_SUFFIX_RE.finditer(text))


# Names whose swap for another of their kind makes another story (found with the hand-written
# labelled pairs, tests/dedupe_pairs_hand.jsonl): kinds of energy and plant, the large energy
# groups by their short names, countries (Chinese places are decided with the numbers).
SWAPPABLE_NAMES = (
    "光伏", "风电", "风机", "水电", "核电", "火电", "煤电", "气电", "储能", "氢能", "光热",
    "地热", "生物质", "海上风电", "陆上风电", "海上光伏",
    "华能", "大唐", "华电", "国家电投", "国电投", "国家能源集团", "三峡", "中广核", "中核",
    "华润", "国投", "中节能", "中石油", "中石化", "中海油", "宁德时代", "比亚迪", "隆基",
    "通威", "晶科", "晶澳", "天合", "阳光电源", "华为",
    "美国", "英国", "德国", "法国", "日本", "韩国", "印度", "沙特", "阿联酋", "卡塔尔",
    "澳大利亚", "巴西", "越南", "埃及", "南非", "西班牙", "意大利", "俄罗斯", "巴基斯坦",
    "印尼", "马来西亚", "泰国", "智利", "墨西哥", "土耳其", "哈萨克斯坦", "乌兹别克斯坦",
    "欧盟",
)  # fmt: skip
_SWAPPABLE_RE = re.compile("|".join(sorted(SWAPPABLE_NAMES, key=len, reverse=True)))
# One side of a change says up, the other down: "上调" / "下调", "上涨" / "下跌", "增长" / "下降".
_UP, _DOWN = frozenset("涨升增上扩盈"), frozenset("跌降减下缩亏")


def _names_at(text: str, start: int, end: int) -> set[str]:
    return {m.group() for m in _SWAPPABLE_RE.finditer(text) if m.start() < end and start < m.end()}


def _swap_decides(x: str, i1: int, i2: int, y: str, j1: int, j2: int) -> bool:
    """A change of ``x[i1:i2]`` into ``y[j1:j2]`` that alone makes another story: a name of
    :data:`SWAPPABLE_NAMES` for another, up for down, or any change in a patent's name."""
    old, new = set(x[i1:i2]), set(y[j1:j2])
    if (old & _UP and new & _DOWN) or (old & _DOWN and new & _UP):
        return True
    if "专利" in x and "专利" in y:  # "X获得发明专利授权：一种..." for two patents
        return True
    names_x, names_y = _names_at(x, i1, i2), _names_at(y, j1, j2)
    return bool(names_x and names_y and not names_x & names_y)


def entity_conflict(a: Fingerprint, b: Fingerprint, original_a: str, original_b: str) -> bool:
    """The headlines differ in a name: a company, organisation or place swapped for another —
    a changed subject at the start or changed last words, or a change that touches a word ending
    names ("能源", "集团"...) or comes just before "省", "市", "局"..."""
    if a.latin and b.latin:
        return _latin_entity_conflict(a.text, b.text, original_a, original_b)
    x, y = a.text.replace(" ", ""), b.text.replace(" ", "")
    for i1, i2, j1, j2 in diff_regions(x, y):
        if i1 == i2 or j1 == j2:
            continue  # words added or left out, nothing swapped
        if (
            i2 - i1 >= 2
            and j2 - j1 >= 2
            and ((i1 == 0 and j1 == 0) or (i2, j2) == (len(x), len(y)))
        ):
            return True  # the subject at the start, or the last words, swapped
        if _overlaps_name(x, i1, i2) or _overlaps_name(y, j1, j2):
            return True
        if x[i2:].startswith(ENTITY_SUFFIXES) and (i2 - i1 >= 2 or j2 - j1 >= 2):
            return True  # "甘肃能源" / "中煤能源", "江苏省" / "浙江省"
        if _swap_decides(x, i1, i2, y, j1, j2):
            return True  # "光伏" / "风电", "华能" / "华电", "上调" / "下调"
    return False


def _capitalised_words(original: str) -> set[str]:
    words = re.findall(r"[A-Za-z][A-Za-z0-9&'-]*", original)
    if not words:
        return set()
    capital = [w for w in words if w[0].isupper()]
    if len(capital) * 2 > len(words) + 1:  # Title Case: capitals say nothing
        return set()
    return {w.casefold().replace("'", "").replace("-", "").replace("&", "") for w in capital[1:]}


def _latin_entity_conflict(x: str, y: str, original_x: str, original_y: str) -> bool:
    wx, wy = x.split(), y.split()
    names = _capitalised_words(original_x) | _capitalised_words(original_y)
    for i1, i2, j1, j2 in diff_regions(wx, wy):
        if i1 == i2 or j1 == j2:
            continue
        if i1 == 0 and j1 == 0 and i2 < len(wx) and j2 < len(wy):
            return True  # the subject swapped: "Tesla wins ..." / "Fluence wins ..."
        if names & (set(wx[i1:i2]) | set(wy[j1:j2])):
            return True
        old, new = " ".join(wx[i1:i2]), " ".join(wy[j1:j2])
        content = [w for w in (*wx[i1:i2], *wy[j1:j2]) if len(w) > 3 and w not in STOPWORDS]
        if content and SequenceMatcher(None, old, new).ratio() < SPELLING_RATIO:
            return True  # a content word swapped ("delays" / "commissions"), not re-spelt
    return False


# English words whose swap does not change a story; swapping any other word does, unless it is
# the same word spelt another way ("electrolyser" / "electrolyzer": similarity >= this).
STOPWORDS = frozenset({
    "a", "an", "the", "this", "that", "these", "those", "its", "their", "over", "into", "onto",
    "from", "with", "about", "after", "before", "amid", "during", "while", "more", "most",
    "than", "then", "also", "will", "would", "could", "should", "says", "said", "report",
    "reports", "new", "news", "update", "updated",
})  # fmt: skip
SPELLING_RATIO = 0.75


def match_score(
    a: Fingerprint,
    b: Fingerprint,
    options: DedupeOptions,
    original_a: str = "",
    original_b: str = "",
) -> float | None:
    """How alike two headlines are (0..1) when they tell the same story, else None.

    Same normalised text: 1. A cut headline: its text is a prefix of the other (1) or enough of
    its shingles are in the other (``min_containment``). Two whole ones: Jaccard of shingles
    (``min_jaccard``). A differing number or code, or a swapped name, is decisive (None)."""
    if not a.text or not b.text:
        return None
    if a.text == b.text:
        return 1.0
    if numbers_conflict(a, b):
        return None
    if a.cut or b.cut:
        short, long = (a, b) if a.cut and (not b.cut or a.size <= b.size) else (b, a)
        if short.size < options.min_cut_chars:
            return None
        if long.text.startswith(short.text):
            score = 1.0
        else:
            held, other = _shingle_sets(short, long)
            score = len(held & other) / max(len(held), 1)
            if score < options.min_containment:
                return None
        # Compare names only where both headlines have text.
        head = Fingerprint(long.text[: len(short.text)], False, long.latin)
        body = Fingerprint(short.text, False, short.latin)
        if entity_conflict(body, head, original_a, original_b):
            return None
        return score
    held, other = _shingle_sets(a, b)
    size_a, size_b = len(held), len(other)
    if size_a and size_b:  # jaccard(), inlined (most pairs verified end here)
        if (size_a / size_b if size_a <= size_b else size_b / size_a) < options.min_jaccard:
            return None  # Jaccard similarity is at most that: refused before counting
        common = len(held & other)
        score = common / (size_a + size_b - common)
    else:
        score = 0.0
    if score < options.min_jaccard:
        return None
    if entity_conflict(a, b, original_a, original_b):
        return None
    return score


# ---------------------------------------------------------------------------------------------
# Clustering a batch


@dataclass(slots=True)
class Member:
    """An article as the clustering sees it."""

    id: int
    story_id: int
    title: str
    when: float | None  # published_at, else first_seen_at: a POSIX timestamp
    fingerprint: Fingerprint


def timestamp(iso: str | None) -> float | None:
    """A stored UTC ISO 8601 time as a POSIX timestamp (None stays None)."""
    return datetime.fromisoformat(iso).timestamp() if iso else None


# Many stored times in the store's own form ('YYYY-MM-DDTHH:MM:SSZ'), one a line.
_STAMP_LINES_RE = re.compile(r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\n)*")


def timestamps(isos: Sequence[str | None]) -> list[float | None]:
    """:func:`timestamp` of many times: computed in array operations when all are in the
    store's own form (whole seconds in UTC, exact as floats), else one by one."""
    stamps = [iso or "" for iso in isos]
    if isos and all(stamps):
        if (seconds := _stamp_seconds(stamps)) is not None:
            return seconds.astype(np.float64).tolist()
        if _STAMP_LINES_RE.fullmatch("\n".join(stamps) + "\n"):
            try:  # a day, hour... out of range (or year 0): as numpy and fromisoformat() say
                found = np.array([stamp[:19] for stamp in stamps], dtype="datetime64[s]")
            except ValueError:
                pass
            else:
                return found.astype(np.int64).astype(np.float64).tolist()
    return [timestamp(iso) for iso in isos]


# The store's form of a time: where its digits are, and the largest of each pair of them
# (century, year, month, day, hour, minute, second).
_STAMP_FORM = np.frombuffer(b"0000-00-00T00:00:00Z\n", dtype=np.uint8)
_STAMP_DIGITS = np.equal(_STAMP_FORM, ord("0"))
_STAMP_HIGHEST = np.array([99, 99, 12, 31, 23, 59, 59], dtype=np.uint8)
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.uint8)


def _stamp_seconds(stamps: Sequence[str]) -> np.ndarray | None:
    """POSIX seconds (int64) of times all in the store's form, or None when one is not, or has
    a field out of range (year 0, February 30th, hour 24, second 60): the days from the civil
    calendar's formula."""
    data = ("\n".join(stamps) + "\n").encode()
    if len(data) != len(_STAMP_FORM) * len(stamps):
        return None
    rows = np.frombuffer(data, dtype=np.uint8).reshape(len(stamps), len(_STAMP_FORM))
    digits = rows[:, _STAMP_DIGITS] - np.uint8(ord("0"))  # (wraps below "0")
    if (digits > 9).any() or (rows[:, ~_STAMP_DIGITS] != _STAMP_FORM[~_STAMP_DIGITS]).any():
        return None
    pairs = digits[:, 0::2] * np.uint8(10) + digits[:, 1::2]  # (times, 7), each at most 99
    month, day = pairs[:, 2], pairs[:, 3]
    if (pairs > _STAMP_HIGHEST).any() or not (month.all() and day.all()):
        return None
    year = pairs[:, 0].astype(np.int64) * 100 + pairs[:, 1]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    if not year.all() or (day > _MONTH_DAYS[month] + (leap & (month == 2))).any():
        return None
    march = year - (month <= 2)  # years from March (a leap day ends one), 0 or more
    era = march // 400
    of_era = march - era * 400
    of_year = (153 * np.where(month > 2, month - 3, month + 9).astype(np.int64) + 2) // 5 + day - 1
    days = era * 146097 + of_era * 365 + of_era // 4 - of_era // 100 + of_year - 719468
    clock = pairs[:, 4:].astype(np.int64) @ np.array([3600, 60, 1], dtype=np.int64)
    return days * 86400 + clock  # (719,468 days from 0000-03-01 to 1970-01-01)


@dataclass
class ClusterStats:
    """What clustering did; ``capped`` counts articles dropped from full index buckets."""

    articles: int = 0
    joined: int = 0
    candidates: int = 0
    rejected: int = 0
    capped: int = 0
    seconds: float = 0.0

    def add(self, other: ClusterStats) -> None:
        for name in ("articles", "joined", "candidates", "rejected", "capped", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_dict(self) -> dict[str, float | int]:
        return {
            "articles": self.articles,
            "joined": self.joined,
            "candidates": self.candidates,
            "rejected": self.rejected,
            "capped": self.capped,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class BatchResult:
    stories: dict[int, int]  # article id -> story id, for articles that joined a story
    stats: ClusterStats


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused (for clustering batches): a batch allocates some
    hundred thousand short-lived objects, none in a cycle, which reference counting frees, and
    the collector's passes over them cost about a tenth of the clustering time."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _prepare(
    new: Sequence[Member],
    known: Mapping[int, Member],
    shortlists: Mapping[int, Sequence[int]],
    local_shortlists: Mapping[int, Sequence[int]],
) -> None:
    """Compute, for all at once, the decisive tokens and shingles of the articles that
    :func:`cluster_batch` may verify: the known ones and the new ones on either side of a pair."""
    ids = set(shortlists).union(local_shortlists, *local_shortlists.values())
    involved = [m.fingerprint for m in known.values()]
    involved += [m.fingerprint for m in new if m.id in ids]
    _fill_numbers(involved)
    _fill_grams(involved)


def cluster_batch(
    new: Sequence[Member],
    known: Mapping[int, Member],
    options: DedupeOptions,
    shortlists: Mapping[int, Sequence[int]],
    local_shortlists: Mapping[int, Sequence[int]],
) -> BatchResult:
    """Assign stories to ``new`` articles (in id order: the earlier one founds a story).

    ``shortlists`` holds each new article's candidates among the stored articles
    (:func:`shortlist_batch`), ``local_shortlists`` among the batch's earlier articles
    (:func:`local_shortlist_batch`); an article in neither has none. A caller may leave out of
    either what it knows would be refused (:func:`prefilter`). ``known`` holds the stored
    candidates and the founders of their stories. A new article joins the story of its
    best-scoring verified candidate (ties: the lower story id); with none it keeps its own story
    (its id). Stored articles never change story, so a story id, once given, is stable. Filing
    the batch in the index is the caller's (:func:`file_batch`).
    """
    stats = ClusterStats(articles=len(new))
    stories: dict[int, int] = {}
    members: dict[int, Member] = dict(known)
    _prepare(new, known, shortlists, local_shortlists)
    listed = set(shortlists).union(local_shortlists)  # the articles with candidates: few
    candidates = rejected = 0
    # articles further apart in time than this are not compared (0: no window; no time: any)
    window = options.window_days * 86400 if options.window_days > 0 else 0
    for member in sorted(new, key=attrgetter("id")):
        if member.id not in listed:
            members[member.id] = member  # its own story
            continue
        fp = member.fingerprint
        bloom, cut, at = fp.bloom, fp.cut, member.when
        best: tuple[float, int] | None = None
        for other_id in chain(shortlists.get(member.id, ()), local_shortlists.get(member.id, ())):
            other = members.get(other_id)
            if other is None or other_id == member.id:
                continue
            candidates += 1
            score = None
            theirs = other.fingerprint
            if blooms_conflict(bloom, cut, theirs.bloom, theirs.cut):
                pass  # a number, code or place each lacks: the same as numbers_conflict()
            elif not window or at is None or other.when is None or abs(at - other.when) <= window:
                score = match_score(fp, theirs, options, member.title, other.title)
            if score is not None and other.fingerprint.cut and not fp.cut:
                # A cut headline fits several stories: the story's founder must fit too.
                founder = members.get(other.story_id)
                if (
                    founder is not None
                    and founder is not other
                    and not founder.fingerprint.cut
                    and match_score(fp, founder.fingerprint, options, member.title, founder.title)
                    is None
                ):
                    score = None
            if score is None:
                rejected += 1
                continue
            if best is None or (-score, other.story_id) < (-best[0], best[1]):
                best = (score, other.story_id)
        if best is not None:
            member.story_id = best[1]
            stories[member.id] = best[1]
            stats.joined += 1
        members[member.id] = member
    stats.candidates, stats.rejected = candidates, rejected
    return BatchResult(stories, stats)
