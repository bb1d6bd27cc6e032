"""Bytes to text for HTML pages whose declarations lie, disagree or are missing.

The order (each step strict, so a wrong guess fails instead of producing mojibake):

1. a byte-order mark;
2. a per-source ``encoding`` override;
3. the declared charsets, HTTP header first, then ``<meta>`` / the XML declaration (searched in the
   whole head, not only the first 1024 bytes); ``gb2312`` and ``gbk`` are read as ``gb18030``, a
   superset. A declared GB or single-byte charset over bytes that are valid UTF-8 with non-ASCII
   text is taken for a lie: such bytes are practically never GBK text;
4. strict UTF-8;
5. strict GB18030, for Chinese sources;
6. detection with ``charset-normalizer``, checked: no U+FFFD, and for Chinese sources a plausible
   share of CJK characters (it guesses Korean cp949 for short GBK pages);
7. UTF-8 (when declared or nothing is) or, for Chinese sources, GB18030 with at most a handful
   of broken byte sequences dropped (a page cut mid-character, a corrupt byte, an encoded
   surrogate), whichever has fewer.

When nothing passes, :class:`UndecodablePage` is raised: the page is an error of its source, never
stored as mojibake.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from aggregator.errors import AggregatorError

# Charsets that are subsets of a better one we read instead.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "gb18030": "gb18030",
    "ascii": "cp1252",
    "latin_1": "cp1252",
    "iso8859_1": "cp1252",
}
_SINGLE_BYTE = {"cp1252", "latin_1", "iso8859_1", "ascii"}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(rb"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_META_CHARSET = re.compile(
    rb"<meta[^>]+?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)|"
    rb"<\?xml[^>]+encoding\s*=\s*[\"']([A-Za-z0-9_.:-]+)",
    re.I,
)
_HEAD_END = re.compile(rb"<body[\s>]|</head\s*>", re.I)
_HEAD_SCAN = 64 * 1024
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
MIN_CJK_SHARE = 0.6
MAX_REPAIRS = 3
MAX_REPLACED = 8  # replacement characters, or 2% of the text if that is more
MAX_REPLACED_SHARE = 0.02
_BROKEN = re.compile("\ufffd+")  # one run of replacement characters: one broken sequence


class UndecodablePage(AggregatorError):
    """No encoding reads the page cleanly."""


@dataclass(frozen=True)
class Decoded:
    """The text, the codec that read it and which step chose it ('bom', 'override', 'header',
    'meta', 'utf-8', 'gb18030', 'detected', 'repaired')."""

    text: str
    encoding: str
    method: str


def normalize_charset(name: str | None) -> str | None:
    """A Python codec name for a declared charset (``GBK`` → ``gb18030``), or None if unknown."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    return _SUPERSETS.get(codec.replace("-", "_"), codec)


def header_charset(content_type: str | None) -> str | None:
    """The charset named by a Content-Type header."""
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type.encode("latin-1", "replace"))
    return match.group(1).decode("ascii") if match else None


def meta_charset(body: bytes) -> str | None:
    """The charset of ``<meta charset>``, ``<meta http-equiv content-type>`` or ``<?xml
    encoding?>``, searched in the head (up to ``<body>``, at most 64 KiB): pages put it after
    1024 bytes of scripts and comments more often than the HTML standard allows."""
    head = body[:_HEAD_SCAN]
    end = _HEAD_END.search(head)
    if end:
        head = head[: end.start()]
    match = _META_CHARSET.search(head)
    if not match:
        return None
    return (match.group(1) or match.group(2)).decode("ascii")


def decode_page(
    body: bytes,
    content_type: str | None = None,
    *,
    language: str | None = "zh",
    override: str | None = None,
) -> Decoded:
    """Decode an HTML page (see the module docstring for the order).

    ``language`` is the source's: for ``"zh"`` GB18030 is tried before detection and detection
    must give mostly CJK text. ``override`` is the source's ``encoding`` setting.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            text = _strict(body[len(bom) :], codec)
            if text is not None:
                return Decoded(text, codec, "bom")
    zh = language == "zh"
    if override:
        codec = normalize_charset(override)
        if codec is None:
            raise UndecodablePage(f"unknown encoding {override!r}")
        text = _strict(body, codec)
        if text is None and codec in ("gb18030", "utf-8"):
            repaired = _repaired(body, codec, zh)
            text = repaired[0] if repaired else None
        if text is None:
            raise UndecodablePage(f"the page is not valid {override} (the source's encoding)")
        return Decoded(text, codec, "override")
    utf8 = _strict(body, "utf-8")
    has_non_ascii = utf8 is not None and bool(_NON_ASCII.search(utf8))
    declared = (
        ("header", normalize_charset(header_charset(content_type))),
        ("meta", normalize_charset(meta_charset(body))),
    )
    for method, codec in declared:
        if codec is None:
            continue
        if codec == "utf-8":
            if utf8 is not None:
                return Decoded(utf8, "utf-8", method)
            continue
        if has_non_ascii and (codec == "gb18030" or codec in _SINGLE_BYTE):
            assert utf8 is not None
            return Decoded(utf8, "utf-8", "utf-8")  # valid UTF-8 under a GB/Latin label: a lie
        text = _strict(body, codec)
        if text is None:
            continue
        if codec in _SINGLE_BYTE and zh and _NON_ASCII.search(text):
            gb = _strict(body, "gb18030")  # Latin-1 is the servers' default, rarely the truth
            if gb is not None and _plausible_cjk(gb):
                return Decoded(gb, "gb18030", "gb18030")
        return Decoded(text, codec, method)
    if utf8 is not None:
        return Decoded(utf8, "utf-8", "utf-8")
    if zh:
        text = _strict(body, "gb18030")
        if text is not None:
            return Decoded(text, "gb18030", "gb18030")
    detected = _detected(body, zh)
    if detected is not None:
        return detected
    codecs_to_repair = []
    if all(c in (None, "utf-8") for _, c in declared):
        codecs_to_repair.append("utf-8")
    if zh:
        codecs_to_repair.append("gb18030")
    repairs = [(r, c) for c in codecs_to_repair if (r := _repaired(body, c, zh)) is not None]
    if repairs:
        (text, _broken), codec = min(repairs, key=lambda pair: pair[0][1])
        return Decoded(text, codec, "repaired")
    names = [f"{m} {c}" for m, c in declared if c] or ["nothing declared"]
    raise UndecodablePage(
        f"cannot decode the page without mojibake ({', '.join(names)}; not valid UTF-8"
        + (" or GB18030" if zh else "")
        + "; detection found nothing plausible); set the source's encoding"
    )


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _plausible_cjk(text: str) -> bool:
    """Most non-ASCII characters are Chinese (ideographs, CJK and full-width punctuation)."""
    non_ascii = len(_NON_ASCII.findall(text))
    if non_ascii == 0:
        return True
    return len(_CJK.findall(text)) / non_ascii >= MIN_CJK_SHARE


def _detected(body: bytes, zh: bool) -> Decoded | None:
    from charset_normalizer import from_bytes  # imported lazily: needed only for odd pages

    best = from_bytes(body).best()
    if best is None:
        return None
    codec = normalize_charset(best.encoding)
    if codec is None:
        return None
    text = _strict(body, codec)
    if text is None or "\ufffd" in text:
        return None
    if zh and (not _plausible_cjk(text) or _HANGUL.search(text)):
        return None
    return Decoded(text, codec, "detected")


def _repaired(body: bytes, codec: str, zh: bool) -> tuple[str, int] | None:
    """The text with at most ``MAX_REPAIRS`` broken byte sequences dropped (and how many),
    if the rest is plausible (mostly Chinese, for ``zh``)."""
    text = body.decode(codec, errors="replace")
    broken = len(_BROKEN.findall(text))
    replaced = text.count("\ufffd")
    if broken > MAX_REPAIRS or replaced > max(MAX_REPLACED, MAX_REPLACED_SHARE * len(text)):
        return None
    if zh and not _plausible_cjk(text.replace("\ufffd", "")):
        return None
    return text.replace("\ufffd", ""), broken
