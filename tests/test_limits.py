"""Limits: deadlines, redirects, meta-refresh loops, size caps, nested gzip (aggregator/limits.py
and the Scrapy settings). Behaviour is asserted, not timings; the crawls run in subprocesses."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import HtmlResponse, Request

from aggregator.limits import BodyTooLarge, Deadlines, NestedGzipMiddleware, inflate_gzip
from aggregator.sitefarm import SiteFarm, gzip_bomb, gzipped
from tests.conftest import run_newsagg

SELECTORS = (
    '[source.selectors]\nitem = "ul.news li"\ntitle = "a"\nlink = "a::attr(href)"\n'
    'snippet = "p"\ndate = "span.time"\n'
)
FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "RETRY_TIMES=0"]
MiB = 1024 * 1024


MAX_TIME = 12


def write_sources(path: Path, farm: SiteFarm, entries: dict[str, tuple[str, str]]) -> Path:
    text = ""
    for name, (kind, url_path) in entries.items():
        text += f'[[source]]\nname = "{name}"\nkind = "{kind}"\nurls = ["{farm.url}{url_path}"]\n'
        text += SELECTORS if kind == "html" else ""
    path.write_text(text, "utf-8")
    return path


def crawl(tmp: Path, sources: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_newsagg(
        "--db", str(tmp / "news.db"), "--sources", str(sources), "crawl", "--json", *FAST, *args
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


# -- pure parts --------------------------------------------------------------------------------


def test_deadlines_take_the_nearest_limit() -> None:
    clocks = Deadlines(max_time=100, source_deadline=10, started=0)
    assert clocks.remaining(None, 30) == (70, "cut: the run's --max-time (100 s) was reached")
    left, reason = clocks.remaining("a", 30)  # a's clock starts at its first request
    assert (left, reason) == (10, "cut: the source's deadline (10 s) was reached")
    assert clocks.remaining("a", 38)[0] == 2
    assert clocks.remaining("a", 45)[0] == -5
    assert clocks.remaining("b", 95) == (5, "cut: the run's --max-time (100 s) was reached")
    assert Deadlines(0, 0, 0).remaining("a", 1e9) == (None, "")


def test_inflate_gzip_is_capped() -> None:
    assert inflate_gzip(gzipped(b"<rss/>"), 100) == b"<rss/>"
    bomb = gzip_bomb(16)
    assert len(bomb) < 40_000
    with pytest.raises(BodyTooLarge, match=r"DOWNLOAD_MAXSIZE \(1048576 B\)"):
        inflate_gzip(bomb, MiB)
    with pytest.raises(zlib.error):
        inflate_gzip(b"\x1f\x8bnot gzip at all", MiB)


def test_nested_gzip_is_inflated_layer_by_layer() -> None:
    middleware = NestedGzipMiddleware(10 * MiB)
    feed = b"<?xml version='1.0'?><rss version='2.0'><channel/></rss>"
    for layers in (1, 2, 3):
        response = HtmlResponse("http://news.example/f.xml", body=gzipped(feed, layers))
        assert middleware.process_response(Request(response.url), response).body == feed
    plain = HtmlResponse("http://news.example/", body=b"<p>plain</p>")
    assert middleware.process_response(Request(plain.url), plain) is plain
    fake = HtmlResponse("http://news.example/", body=b"\x1f\x8b but not gzip")
    assert middleware.process_response(Request(fake.url), fake) is fake
    bomb = HtmlResponse("http://news.example/b", body=gzip_bomb(16))
    with pytest.raises(BodyTooLarge, match=r"http://news\.example/b"):
        NestedGzipMiddleware(MiB).process_response(Request(bomb.url), bomb)


# -- through real crawls -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, farm: SiteFarm) -> dict[str, Any]:
    """One crawl with --max-time of a source that takes 60 s and every other limit case (the
    time is generous so that the other sources finish on a loaded machine)."""
    tmp = tmp_path_factory.mktemp("limits")
    redirects = "_farm/redirect/302/"
    sources = write_sources(
        tmp / "sources.toml",
        farm,
        {
            "slow": ("html", "_farm/slow/60/utf8_list/"),
            "feed": ("feed", "feed_rss/rss.xml"),
            "bomb": ("html", "_farm/bomb/64"),
            "big": ("html", "_farm/big/11"),
            "redirects5": ("html", redirects * 5 + "utf8_list/"),
            "redirects6": ("html", redirects * 6 + "gbk_list/"),
            "refresh_loop": ("html", "limits/refresh_loop.html"),
            "double_gzip": ("feed", "_farm/gzip/2/feed_atom/atom.xml"),
            "gzip_html": ("html", "_farm/gzip/1/gbk_list/"),
        },
    )
    code, record = crawl(tmp, sources, "--max-time", str(MAX_TIME))
    return {"code": code, "record": record, "sources": record["sources"]}


def test_max_time_cuts_the_slow_source_and_says_so(limited: dict[str, Any]) -> None:
    assert limited["code"] == 0  # the other sources worked
    slow = limited["sources"]["slow"]
    assert slow["failed"]
    assert slow["errors"] == [f"cut: the run's --max-time ({MAX_TIME} s) was reached"]
    assert limited["record"]["cut"] == {
        "slow": f"cut: the run's --max-time ({MAX_TIME} s) was reached"
    }
    assert limited["sources"]["feed"]["new"] == 5


def test_a_gzip_bomb_stops_at_the_cap(limited: dict[str, Any]) -> None:
    (error,) = limited["sources"]["bomb"]["errors"]
    assert "exceeded DOWNLOAD_MAXSIZE (10485760 B) during decompression" in error
    inflated = int(re.search(r"(\d+) B decompressed so far", error).group(1))  # type: ignore[union-attr]
    assert 10 * MiB < inflated < 11 * MiB  # stopped just past the cap, not at 64 MiB


def test_a_page_over_the_cap_is_dropped(limited: dict[str, Any]) -> None:
    big = limited["sources"]["big"]
    assert big["failed"] and big["new"] == 0
    assert big["errors"][0].startswith(
        "Expected to receive 11534348 bytes which is larger than download max size (10485760)"
    )


def test_at_most_five_redirects(limited: dict[str, Any]) -> None:
    assert limited["sources"]["redirects5"]["new"] == 5
    assert limited["sources"]["redirects6"]["errors"] == ["max redirections reached"]


def test_a_meta_refresh_loop_ends(limited: dict[str, Any]) -> None:
    loop = limited["sources"]["refresh_loop"]
    assert loop["errors"] == ["max redirections reached"]
    assert loop["new"] == 0


def test_compressed_and_double_compressed_bodies_are_read(limited: dict[str, Any]) -> None:
    assert limited["sources"]["gzip_html"]["new"] == 5
    assert limited["sources"]["double_gzip"]["new"] == 3


def test_a_source_deadline_cuts_only_that_source(tmp_path: Path, farm: SiteFarm) -> None:
    sources = write_sources(
        tmp_path / "sources.toml",
        farm,
        {"slow": ("html", "_farm/slow/60/utf8_list/"), "feed": ("feed", "feed_rss/rss.xml")},
    )
    code, record = crawl(tmp_path, sources, "-s", "NEWSAGG_SOURCE_DEADLINE=2")
    assert code == 0
    assert record["sources"]["slow"]["errors"] == ["cut: the source's deadline (2 s) was reached"]
    assert record["cut"] == {"slow": "cut: the source's deadline (2 s) was reached"}
    assert record["sources"]["feed"]["new"] == 5
    assert not record["sources"]["feed"]["errors"]


def test_a_body_content_encoding_calls_gzip_must_be_gzip() -> None:
    import gzip as gzip_module

    from aggregator.limits import NOT_GZIP, LyingEncodingMiddleware, WrongEncoding, outer_encoding

    assert outer_encoding([b"identity, GZIP"]) == "gzip"
    assert outer_encoding([b"gzip", b"br"]) == "br"
    assert outer_encoding([]) == ""
    middleware = LyingEncodingMiddleware()
    request = Request("http://news.example/")

    def answer(body: bytes, encoding: str) -> HtmlResponse:
        headers = {"Content-Encoding": encoding}
        return HtmlResponse(request.url, body=body, headers=headers, request=request)

    plain = b"<html><body>not compressed</body></html>"
    with pytest.raises(WrongEncoding, match=rf"^{NOT_GZIP} \(x-gzip\): http://news.example/$"):
        middleware.process_response(request, answer(plain, "x-gzip"))
    packed = answer(gzip_module.compress(plain), "gzip")
    assert middleware.process_response(request, packed) is packed
    for encoding in ("deflate", "br", "zstd"):  # each lie is named in our words
        with pytest.raises(WrongEncoding, match=rf"^response says {encoding} but the body is not"):
            middleware.process_response(request, answer(plain, encoding))
    import brotli

    honest = {
        "deflate": zlib.compress(plain),
        "br": brotli.compress(plain),
        "zstd": b"\x28\xb5\x2f\xfd" + b"frame",  # the magic is what is checked
        "identity": plain,
        "compress": plain,  # a coding we do not know is not ours to judge
    }
    for encoding, body in honest.items():
        response = answer(body, encoding)
        assert middleware.process_response(request, response) is response
    raw = zlib.compressobj(wbits=-15)  # raw deflate, as some servers send, is deflate too
    raw_deflate = answer(raw.compress(plain) + raw.flush(), "deflate")
    assert middleware.process_response(request, raw_deflate) is raw_deflate
    empty = answer(b"", "gzip")  # a 204 or 304 has no body to lie about
    assert middleware.process_response(request, empty) is empty
