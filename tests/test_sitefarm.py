"""The loopback server the demo, tests and benchmarks crawl."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from aggregator.sitefarm import SiteFarm


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "index.html").write_bytes("<p>光伏</p>".encode("gbk"))
    (tmp_path / "news" / "index.html.headers").write_text(
        "Content-Type: text/html; charset=gbk\nX-Test: yes\n", "utf-8"
    )
    (tmp_path / "feed.xml").write_text("<rss version='2.0'/>", "utf-8")
    (tmp_path / "moved.html").write_text("", "utf-8")
    (tmp_path / "moved.html.headers").write_text("HTTP 301\nLocation: /news/\n", "utf-8")
    return tmp_path


def test_serves_files_with_sidecar_headers_and_ignores_queries(site: Path) -> None:
    with SiteFarm(site) as farm:
        assert farm.url.startswith("http://127.0.0.1:")
        status, headers, body = get(farm.url + "news/?utm_source=x")
        assert status == 200
        assert headers["Content-Type"] == "text/html; charset=gbk"
        assert headers["X-Test"] == "yes"
        assert body.decode("gbk") == "<p>光伏</p>"
        assert get(farm.url + "feed.xml")[1]["Content-Type"] == "application/xml"
        assert farm.requests == ["/news/?utm_source=x", "/feed.xml"]


def test_status_redirect_and_missing(site: Path) -> None:
    with SiteFarm(site) as farm:
        assert get(farm.url + "_farm/status/503")[0] == 503
        assert get(farm.url + "nothing.html")[0] == 404
        assert get(farm.url + "news/index.html.headers")[0] == 404
        assert get(farm.url + "../../etc/passwd")[0] in (403, 404)
        status, _headers, body = get(farm.url + "moved.html")  # urllib follows the 301
        assert (status, body.decode("gbk")) == (200, "<p>光伏</p>")
        assert get(farm.url + "_farm/redirect/302/feed.xml")[2] == b"<rss version='2.0'/>"


def test_slow_waits(site: Path) -> None:
    with SiteFarm(site) as farm:
        started = time.monotonic()
        assert get(farm.url + "_farm/slow/0.3/feed.xml")[0] == 200
        assert time.monotonic() - started >= 0.3


def test_conditional_resources_answer_304(tmp_path: Path) -> None:
    (tmp_path / "f.xml").write_text("<rss version='2.0'/>", "utf-8")
    (tmp_path / "f.xml.headers").write_text(
        'ETag: "v1"\nLast-Modified: Tue, 24 Feb 2026 07:00:00 GMT\n', "utf-8"
    )
    (tmp_path / "plain.xml").write_text("<rss version='2.0'/>", "utf-8")

    def conditional(url: str, **headers: str) -> int:
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            with exc:
                return int(exc.code)

    with SiteFarm(tmp_path) as farm:
        url = farm.url + "f.xml"
        assert conditional(url) == 200
        assert conditional(url, **{"If-None-Match": '"v1"'}) == 304
        assert conditional(url, **{"If-None-Match": '"v0", "v1"'}) == 304
        assert conditional(url, **{"If-None-Match": '"v2"'}) == 200
        assert conditional(url, **{"If-Modified-Since": "Tue, 24 Feb 2026 07:00:00 GMT"}) == 304
        assert conditional(url, **{"If-Modified-Since": "Mon, 23 Feb 2026 07:00:00 GMT"}) == 200
        # If-None-Match wins over If-Modified-Since when both are sent (RFC 9110)
        both = {"If-None-Match": '"v2"', "If-Modified-Since": "Tue, 24 Feb 2026 07:00:00 GMT"}
        assert conditional(url, **both) == 200
        assert conditional(farm.url + "plain.xml", **{"If-None-Match": "*"}) == 200
