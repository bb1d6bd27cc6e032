"""Text is normalised once, here, and the rest of the code trusts it."""

from __future__ import annotations

import html
import re
import unicodedata
from functools import cache

import nh3

TITLE_MAX = 512
SNIPPET_MAX = 2000
ELLIPSIS = "…"

# XML 1.0 forbids C0 controls but tab/newline/CR, lone surrogates and U+FFFE/U+FFFF; zero-width
# and bidi-control characters are invisible and only ever cause trouble in headlines.
_ILLEGAL_RE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_SPACE_RE = re.compile(r"\s+")
# A cut is marked with three or more dots, one or more "…", or "。。。": each marker's character
# and how many times at least it ends the text.
CUT_MARKS = {".": 3, "…": 1, "。": 3, "．": 3}
_CUT_RE = re.compile(
    "(?:"
    + "|".join(f"{re.escape(mark)}{{{least},}}" for mark, least in CUT_MARKS.items())
    + r")\s*$"
)


class _NFKCOfEach(dict[int, int | str]):
    """``str.translate`` table: each character to its own NFKC, filled as characters are met."""

    def __missing__(self, code: int) -> int | str:
        char = chr(code)
        mapped = unicodedata.normalize("NFKC", char)
        self[code] = value = code if mapped == char else mapped
        return value


_NFKC_OF_EACH = _NFKCOfEach()


@cache
def _changing_re() -> re.Pattern[str]:
    """A character that NFKC changes on its own: those of the Basic Multilingual Plane (found
    once, ~8 ms; Chinese text holds few: its full-width punctuation) and, to be looked up one
    by one, every character beyond it (rare)."""
    changed: list[list[int]] = []  # ranges of code points
    for code in range(0x10000):
        char = chr(code)
        if not 0xD800 <= code <= 0xDFFF and unicodedata.normalize("NFKC", char) != char:
            if changed and changed[-1][1] == code - 1:
                changed[-1][1] = code
            else:
                changed.append([code, code])
    ranges = "".join(
        re.escape(chr(low)) + ("" if low == high else "-" + re.escape(chr(high)))
        for low, high in changed
    )
    return re.compile(f"[{ranges}\U00010000-\U0010ffff]")


def _own_nfkc(char: str) -> str:
    mapped = _NFKC_OF_EACH[ord(char)]
    return chr(mapped) if isinstance(mapped, int) else mapped


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, several times as fast on Chinese text.

    Normalising a whole snippet with full-width punctuation costs ~40 µs; mapping each character
    that NFKC changes on its own to its own NFKC (a cached table; one search finds them) does the
    same work for text in which nothing combines or reorders, which is then already NFKC.
    Otherwise the mapped text is normalised: it is compatibility-equivalent to the original, so
    its NFKC is the original's.
    """
    if unicodedata.is_normalized("NFKC", text):
        return text
    mapped = text
    for char in set(_changing_re().findall(text)):  # few distinct ones: one replace() each
        mapped = mapped.replace(char, _own_nfkc(char))  # (none becomes one that changes)
    if unicodedata.is_normalized("NFKC", mapped):
        return mapped
    return unicodedata.normalize("NFKC", mapped)


def clean_text(text: str | None) -> str:
    """NFKC, drop XML-illegal and invisible characters, collapse whitespace, strip."""
    if not text:
        return ""
    text = nfkc(text)
    text = _ILLEGAL_RE.sub("", text)
    return _SPACE_RE.sub(" ", text).strip()


def html_to_text(markup: str | None) -> str:
    """Plain text of an HTML fragment: tags dropped (nh3), entities decoded once, then cleaned."""
    if not markup:
        return ""
    if "<" not in markup and "&" not in markup:
        return clean_text(markup)
    # nh3 returns escaped HTML; unescape once to get text. Block ends become spaces first so that
    # "<p>a</p><p>b</p>" does not read "ab".
    spaced = re.sub(r"(?i)<(br|/p|/div|/li|/h\d|/td|/th|/tr)\b[^>]*>", " ", markup)
    return clean_text(html.unescape(nh3.clean(spaced, tags=set())))


# Markup that survived into text (entity-escaped tags decoded once, JSON Feed titles, title
# attributes): script/style blocks with their content, comments, CDATA openers, declarations and
# processing instructions, and anything shaped like a tag. "1 < 2" and "价格<1元" are not tags.
_MARKUP_BLOCK = re.compile(r"(?is)<(script|style|template)\b[^>]*>.*?(?:</\1\s*>|$)")
_MARKUP_TAG = re.compile(
    r"(?s)<!--.*?(?:-->|$)|<!\[CDATA\[|<[!?][^<>]*>|</?[A-Za-z][A-Za-z0-9:-]*(?:[\s/][^<>]*)?>"
)


def strip_markup(text: str) -> str:
    """``text`` without anything that is markup rather than words (see ``_MARKUP_TAG``), then
    cleaned again (NFKC can turn full-width "＜" into "<", so callers clean first)."""
    if "<" not in text:
        return text
    return clean_text(_MARKUP_TAG.sub(" ", _MARKUP_BLOCK.sub(" ", text)))


def is_truncated(text: str) -> bool:
    """True when the text ends with a cut marker ("...", "…", "……", "。。。")."""
    return bool(_CUT_RE.search(text))


def strip_cut_marker(text: str) -> str:
    """The text without its trailing cut marker (for prefix matching against a full title)."""
    return _CUT_RE.sub("", text).rstrip()


def cap(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters on a character boundary, ending with "…"."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 article``, ``2 articles``, ``1,234 stories``: a count (thousands separated) with its
    noun in the right number."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
