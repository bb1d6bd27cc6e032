"""Which addresses the crawler may fetch."""

from __future__ import annotations

import pytest

from aggregator.netpolicy import allowed_private_netlocs, check_url, is_non_public


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "10.1.2.3",
        "192.168.0.10",
        "172.16.5.4",
        "169.254.169.254",
        "[::1]",
        "0.0.0.0",
        "foo.localhost",
        "fc00::1",
    ],
)
def test_non_public_hosts(host: str) -> None:
    assert is_non_public(host)


@pytest.mark.parametrize("host", ["8.8.8.8", "www.eia.gov", "guangfu.bjx.com.cn", "2001:4860::1"])
def test_public_hosts(host: str) -> None:
    assert not is_non_public(host)


def test_a_source_on_loopback_may_fetch_its_own_host_and_port_only() -> None:
    allowed = allowed_private_netlocs(["http://127.0.0.1:8642/guangfu/", "https://www.eia.gov/rss"])
    assert allowed == frozenset({"127.0.0.1:8642"})
    assert check_url("http://127.0.0.1:8642/guangfu/a.html", allowed) is None
    assert (
        check_url("http://127.0.0.1:9999/admin", allowed) == "refused non-public address 127.0.0.1"
    )
    assert check_url("http://169.254.169.254/latest/meta-data/", allowed) is not None
    assert check_url("https://www.eia.gov/todayinenergy/", allowed) is None


def test_only_http_and_https() -> None:
    assert check_url("ftp://example.com/file", frozenset()) == "scheme 'ftp' is not allowed"
    assert check_url("file:///etc/passwd", frozenset()) is not None
