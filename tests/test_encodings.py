"""Decoding pages whose charset declarations lie, disagree, come late or are missing."""

from __future__ import annotations

import pytest

from aggregator.encodings import (
    UndecodablePage,
    decode_page,
    header_charset,
    meta_charset,
    normalize_charset,
)

TEXT = "光伏组件价格继续下行，企业利润承压。本周多晶硅料价格小幅回落"
RARE = "镕𠀀䶮"  # not in GB2312/GBK: only GB18030 (or UTF-8) holds them


def page(meta: str | None = None, body: str = TEXT, padding: int = 0) -> str:
    head = f'<meta charset="{meta}">' if meta else ""
    comment = f"<!-- {'x' * padding} -->" if padding else ""
    return f"<html><head>{comment}{head}<title>t</title></head><body><p>{body}</p></body></html>"


@pytest.mark.parametrize(
    ("name", "codec"),
    [("GB2312", "gb18030"), ("gbk", "gb18030"), ("UTF8", "utf-8"), ("latin1", "cp1252")],
)
def test_normalize_charset_reads_supersets(name: str, codec: str) -> None:
    assert normalize_charset(name) == codec


def test_normalize_charset_unknown() -> None:
    assert normalize_charset("klingon-8") is None
    assert normalize_charset(None) is None


def test_header_and_meta_charset() -> None:
    assert header_charset("text/html; charset=GBK") == "GBK"
    assert header_charset("text/html") is None
    assert meta_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=gb2312">')
    assert meta_charset(b'<?xml version="1.0" encoding="GB18030"?><html>') == "GB18030"


def test_meta_after_1024_bytes_is_found() -> None:
    body = page("gbk", padding=3000).encode("gbk")
    assert body.index(b"<meta") > 1024
    decoded = decode_page(body, language="en")  # en: no GB18030 guess to hide a miss
    assert TEXT in decoded.text
    assert decoded.method == "meta"


def test_meta_in_body_is_not_a_declaration() -> None:
    assert meta_charset(b"<html><head></head><body><meta charset='gbk'></body>") is None


@pytest.mark.parametrize(
    ("encoded", "content_type", "method"),
    [
        # BOM wins over a lying header and meta
        (b"\xef\xbb\xbf" + page("gbk").encode("utf-8"), "text/html; charset=gbk", "bom"),
        # meta says utf-8 over GBK bytes; nothing in the header: strict UTF-8 fails, GB18030 reads
        (page("utf-8").encode("gbk"), None, "gb18030"),
        # header says gbk over UTF-8 bytes: valid UTF-8 is not GBK
        (page().encode("utf-8"), "text/html; charset=gbk", "utf-8"),
        # meta says gb2312 over UTF-8 bytes
        (page("gb2312").encode("utf-8"), None, "utf-8"),
        # header and meta disagree; the header (gbk) is right
        (page("utf-8").encode("gbk"), "text/html; charset=gbk", "header"),
        # header and meta disagree; the meta (gbk) is right, the header's utf-8 fails
        (page("gbk").encode("gbk"), "text/html; charset=utf-8", "meta"),
        # header says ISO-8859-1 (a server default) over GBK bytes
        (page().encode("gbk"), "text/html; charset=ISO-8859-1", "gb18030"),
        # nothing declared, GBK bytes
        (page().encode("gbk"), None, "gb18030"),
        # nothing declared, UTF-8 bytes
        (page().encode("utf-8"), "text/html", "utf-8"),
    ],
)
def test_lying_and_missing_declarations(
    encoded: bytes, content_type: str | None, method: str
) -> None:
    decoded = decode_page(encoded, content_type)
    assert TEXT in decoded.text
    assert decoded.method == method
    assert "\ufffd" not in decoded.text


def test_gb2312_meta_over_gb18030_only_characters() -> None:
    decoded = decode_page(page("gb2312", TEXT + RARE).encode("gb18030"))
    assert TEXT + RARE in decoded.text
    assert decoded.encoding == "gb18030"


def test_override_wins_over_declarations() -> None:
    body = page("utf-8").encode("gb18030")
    decoded = decode_page(body, "text/html; charset=utf-8", override="GBK")
    assert TEXT in decoded.text
    assert decoded.method == "override"


def test_override_that_does_not_fit_is_an_error() -> None:
    with pytest.raises(UndecodablePage, match="not valid utf-8"):
        decode_page(page().encode("gbk"), override="utf-8")


def test_short_gbk_page_is_not_read_as_korean() -> None:
    # charset-normalizer alone guesses cp949 for a few GBK characters; the chain never gets there
    body = "<p>储能电站</p>".encode("gbk")
    decoded = decode_page(body)
    assert decoded.text == "<p>储能电站</p>"


def test_english_source_with_gbk_bytes_uses_checked_detection() -> None:
    body = page(body=TEXT * 20).encode("gbk")
    decoded = decode_page(body, language="en")
    assert decoded.method == "detected"
    assert TEXT in decoded.text


def test_one_corrupt_byte_is_dropped_not_mojibake() -> None:
    body = page().encode("gbk")
    cut = body.index("承".encode("gbk"))
    broken = body[:cut] + b"\xff" + body[cut:]
    decoded = decode_page(broken)
    assert decoded.method == "repaired"
    assert TEXT in decoded.text
    assert "\ufffd" not in decoded.text


def test_garbage_is_an_error_not_mojibake() -> None:
    garbage = bytes(range(128, 256)) * 8
    with pytest.raises(UndecodablePage, match="cannot decode"):
        decode_page(garbage, "text/html; charset=utf-8")


def test_utf16_bom() -> None:
    body = "\ufeff".encode("utf-16-le") + page().encode("utf-16-le")
    assert TEXT in decode_page(body).text


def test_utf8_page_with_an_encoded_surrogate_and_stray_bytes_is_read() -> None:
    body = (
        page("utf-8", "标题")
        .encode()
        .replace("标题".encode(), "标题".encode() + b"\xed\xa0\x80\xff\xfe" + "新".encode())
    )
    decoded = decode_page(body)
    assert decoded.method == "repaired"
    assert decoded.encoding == "utf-8"
    assert "<p>标题新</p>" in decoded.text
