"""``newsagg serve``: media types, validators, 304s, Cache-Control, nothing outside the folder,
and the index page in a real headless browser."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from aggregator.export import export_feeds
from aggregator.serve import FeedServer, make_server, serve_in_thread
from aggregator.store import Store
from tests.conftest import NOW
from tests.test_export import fill

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[FeedServer, Path]]:
    feeds = tmp_path / "feeds"
    with Store(":memory:") as store:
        fill(store, ["光伏组件降价", "风电招标"], source="alpha")
        export_feeds(store, feeds, formats=["atom", "json"], now=NOW)
    (tmp_path / "secret.txt").write_text("not for the web")
    server = make_server(feeds, port=0, max_age=120)
    serve_in_thread(server)
    yield server, feeds
    server.shutdown()
    server.server_close()


def get(
    server: FeedServer, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    conn.putrequest(method, path, skip_accept_encoding=True)
    for name, value in (headers or {}).items():
        conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/all.xml", "application/rss+xml; charset=utf-8"),
        ("/all.atom", "application/atom+xml; charset=utf-8"),
        ("/all.json", "application/feed+json; charset=utf-8"),
        ("/feeds.opml", "text/x-opml; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/sources/alpha.xml", "application/rss+xml; charset=utf-8"),
    ],
)
def test_content_types_and_caching_headers(
    site: tuple[FeedServer, Path], path: str, content_type: str
) -> None:
    server, feeds = site
    status, headers, body = get(server, path)
    assert status == 200
    assert headers["content-type"] == content_type
    assert headers["cache-control"] == "public, max-age=120"
    assert headers["etag"].startswith('"') and headers["last-modified"].endswith("GMT")
    served = feeds / (path.strip("/") or "index.html")
    assert body == served.read_bytes()
    assert int(headers["content-length"]) == len(body)


def test_etag_and_if_modified_since_give_304(site: tuple[FeedServer, Path]) -> None:
    server, feeds = site
    _, headers, _ = get(server, "/all.xml")
    status, again, body = get(server, "/all.xml", {"If-None-Match": headers["etag"]})
    assert (status, body) == (304, b"")
    assert again["etag"] == headers["etag"]
    status, _, _ = get(server, "/all.xml", {"If-Modified-Since": headers["last-modified"]})
    assert status == 304
    status, _, body = get(server, "/all.xml", {"If-None-Match": '"other"'})
    assert status == 200 and body
    old = formatdate((feeds / "all.xml").stat().st_mtime - 3600, usegmt=True)
    assert get(server, "/all.xml", {"If-Modified-Since": old})[0] == 200
    # the file changes: a new ETag
    os.utime(feeds / "all.xml", ns=(1, (feeds / "all.xml").stat().st_mtime_ns + 10**9))
    status, changed, _ = get(server, "/all.xml", {"If-None-Match": headers["etag"]})
    assert status == 200 and changed["etag"] != headers["etag"]


def test_head_has_headers_and_no_body(site: tuple[FeedServer, Path]) -> None:
    server, feeds = site
    status, headers, body = get(server, "/all.xml", method="HEAD")
    assert status == 200 and body == b""
    assert int(headers["content-length"]) == len((feeds / "all.xml").read_bytes())


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/sources/../../secret.txt",
        "/sources/%2E%2E/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/..\\secret.txt",
        "/.export-state.json",
        "/all.xml%00.html",
        "/missing.xml",
        "/link-out.txt",
    ],
)
def test_nothing_outside_the_folder(site: tuple[FeedServer, Path], path: str) -> None:
    server, feeds = site
    (feeds / "link-out.txt").symlink_to(feeds.parent / "secret.txt")
    status, _, body = get(server, path)
    assert status == 404
    assert b"not for the web" not in body and b"root:" not in body


def test_other_methods_are_refused(site: tuple[FeedServer, Path]) -> None:
    server, _ = site
    assert get(server, "/all.xml", method="POST")[0] == 501


def test_serve_command_refuses_a_missing_folder(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from aggregator.cli import cli

    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "n.db"), "serve", "--port", "0"])
    assert result.exit_code == 2
    assert "no feeds folder" in result.output


def test_index_page_in_a_headless_browser(site: tuple[FeedServer, Path], tmp_path: Path) -> None:
    """Chromium loads the page from the server: the DOM it builds lists every feed, with the
    autodiscovery links in the head. CI installs chromium (.ci/run) and sets
    NEWSAGG_REQUIRE_BROWSER=1, so there this test cannot be skipped."""
    if CHROMIUM is None:
        if os.environ.get("NEWSAGG_REQUIRE_BROWSER"):
            pytest.fail("chromium is required (NEWSAGG_REQUIRE_BROWSER) but not installed")
        pytest.skip("chromium not installed (apt-get install chromium)")
    server, feeds = site
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--dump-dom",
            server.url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "<title>energy news · feeds</title>" in dom
    alternates = re.findall(r'<link rel="alternate" type="([^"]+)"[^>]*href="([^"]+)"', dom)
    rss = sorted(str(p.relative_to(feeds)) for p in feeds.rglob("*.xml"))
    assert sorted(h for t, h in alternates if t == "application/rss+xml") == rss
    listed = re.findall(r'<a class="feed" href="([^"]+)">', dom)
    assert sorted(listed) == rss
    assert re.search(r'<ul class="feeds" data-section="sources">.*alpha', dom, re.S)


def test_serve_command_serves_until_stopped(site: tuple[FeedServer, Path]) -> None:
    """The real command in a subprocess on a free port (``--port 0``), stopped with SIGINT."""
    import signal
    import sys
    import urllib.request

    _, feeds = site
    process = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "serve", "--out", str(feeds), "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        url = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        assert url, line
        with urllib.request.urlopen(url[1] + "all.xml", timeout=10) as response:
            assert response.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
            assert response.read() == (feeds / "all.xml").read_bytes()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    assert process.returncode == 0
