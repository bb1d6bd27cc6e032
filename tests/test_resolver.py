"""The network policy where names are resolved and on the peer address (aggregator/resolver.py)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import CannotResolveHostError
from scrapy.http import HtmlResponse, Request
from twisted.python.failure import Failure

from aggregator.netpolicy import RefusedAddress
from aggregator.resolver import (
    PeerAddressMiddleware,
    PolicyResolver,
    RefusedResolution,
    allowed_hosts,
    check_peer,
    check_resolved,
    is_non_public_address,
    parse_pins,
)
from aggregator.sitefarm import SiteFarm
from tests.conftest import run_newsagg

SELECTORS = """[source.selectors]
item = "ul.news li"
title = "a"
link = "a::attr(href)"
date = "span.time"
"""


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.5", "169.254.169.254", "::1", "::ffff:127.0.0.1", "fe80::1", "0.0.0.0"],
)
def test_non_public_addresses(address: str) -> None:
    assert is_non_public_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses(address: str) -> None:
    assert not is_non_public_address(address)


def test_a_name_may_resolve_privately_only_when_it_is_a_sources_host() -> None:
    allowed = allowed_hosts(["intranet.example:8080", "[::1]:8000"])
    assert allowed == frozenset({"intranet.example", "::1"})
    assert check_resolved("intranet.example", "10.0.0.5", allowed) is None
    assert check_resolved("Intranet.Example", "10.0.0.5", allowed) is None
    assert check_resolved("www.eia.gov", "8.8.8.8", allowed) is None
    assert check_resolved("metadata.example", "169.254.169.254", allowed) == (
        "refused: metadata.example resolves to non-public address 169.254.169.254"
    )
    assert check_resolved("metadata.example", "169.254.169.254", allowed, allow_all=True) is None


def test_peer_check_includes_the_port() -> None:
    allowed = frozenset({"127.0.0.1:8642", "intranet.example:80"})
    assert check_peer("http://127.0.0.1:8642/a.html", "127.0.0.1", allowed) is None
    assert check_peer("http://intranet.example/a", "10.0.0.5", allowed) is None
    assert check_peer("http://www.eia.gov/", "8.8.8.8", allowed) is None
    assert check_peer("http://www.eia.gov/", None, allowed) is None  # no peer known (a cache)
    assert check_peer("http://127.0.0.1:9999/", "127.0.0.1", allowed) == (
        "refused: response for http://127.0.0.1:9999/ came from non-public address 127.0.0.1"
    )
    assert check_peer("http://news.example/", "10.1.1.1", allowed) is not None


def test_pins_are_validated() -> None:
    assert parse_pins('{"A.example": "127.0.0.1"}') == {"a.example": "127.0.0.1"}
    assert parse_pins({}) == {}
    with pytest.raises(ValueError):
        parse_pins({"a.example": "not-an-address"})
    with pytest.raises(ValueError):
        parse_pins('["a.example"]')


def _outcome(resolver: PolicyResolver, name: str) -> Any:
    results: list[Any] = []
    resolver.getHostByName(name).addBoth(results.append)
    assert results, "a pinned name resolves synchronously"
    return results[0]


def test_resolver_applies_the_policy_to_pinned_answers() -> None:
    resolver = PolicyResolver(
        object(),  # type: ignore[arg-type]  # no lookup reaches the reactor: every name is pinned
        0,
        5.0,
        allowed=frozenset({"source.example"}),
        pins={"source.example": "127.0.0.1", "evil.example": "127.0.0.1", "pub.example": "8.8.8.8"},
    )
    assert _outcome(resolver, "source.example") == "127.0.0.1"
    assert _outcome(resolver, "pub.example") == "8.8.8.8"
    refused = _outcome(resolver, "EVIL.example")
    assert isinstance(refused, Failure) and refused.check(RefusedResolution)
    assert resolver.refused == {
        "evil.example": "refused: EVIL.example resolves to non-public address 127.0.0.1"
    }


def test_middleware_drops_a_response_from_a_refused_peer() -> None:
    middleware = PeerAddressMiddleware(frozenset({"127.0.0.1:8642"}), refusals=dict)
    url = "http://news.example/list"
    request = Request(url)
    response = HtmlResponse(url, body=b"<p>x</p>", ip_address=ipaddress.ip_address("10.0.0.7"))
    with pytest.raises(RefusedAddress, match=r"came from non-public address 10\.0\.0\.7"):
        middleware.process_response(request, response)
    public = HtmlResponse(url, body=b"<p>x</p>", ip_address=ipaddress.ip_address("8.8.8.8"))
    assert middleware.process_response(request, public) is public


def test_a_proxied_response_comes_from_the_proxy() -> None:
    middleware = PeerAddressMiddleware(frozenset(), refusals=dict)
    url = "http://news.example/list"
    request = Request(url, meta={"proxy": "http://10.0.0.3:3128"})
    response = HtmlResponse(url, body=b"<p>x</p>", ip_address=ipaddress.ip_address("10.0.0.3"))
    assert middleware.process_response(request, response) is response


def test_middleware_restores_the_resolvers_reason() -> None:
    refusals = {"evil.example": "refused: evil.example resolves to non-public address 10.0.0.1"}
    middleware = PeerAddressMiddleware(frozenset(), refusals=lambda: refusals)
    error = CannotResolveHostError("DNS lookup failed: no results for hostname lookup")
    with pytest.raises(RefusedAddress, match=r"resolves to non-public address 10\.0\.0\.1"):
        middleware.process_exception(Request("http://evil.example/a"), error)
    # a real DNS failure stays what it is (and is retried)
    assert middleware.process_exception(Request("http://gone.example/a"), error) is None


# -- through a real crawl --------------------------------------------------------------------


@pytest.fixture(scope="module")
def policy_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two farms serving one folder: the hub source on 127.0.0.1:P links to addresses that
    resolve to 127.0.0.1 in several ways; ``pinned.example`` is a source's own host on port Q."""
    tmp = tmp_path_factory.mktemp("policy")
    root = tmp / "site"
    for folder in ("hub", "a", "pinned"):
        (root / folder).mkdir(parents=True)
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", "utf-8")
    with SiteFarm(root) as farm, SiteFarm(root) as other:
        port = farm.url.rstrip("/").rsplit(":", 1)[1]
        other_port = other.url.rstrip("/").rsplit(":", 1)[1]
        links = {
            "ok": f"http://127.0.0.1:{port}/a/ok.html",
            "short": f"http://127.1:{port}/a/short.html",  # getaddrinfo: 127.0.0.1
            "decimal": f"http://2130706433:{port}/a/decimal.html",  # = 127.0.0.1
            "pinned": f"http://evil.example:{port}/a/pinned.html",
            "localhost": f"http://localhost:{port}/a/localhost.html",
            "redirect": f"http://127.0.0.1:{port}/a/redirect.html",
            "peer": f"http://pinned.example:{port}/a/peer.html",  # allowed name, other port
        }
        items = "".join(
            f'<li><a href="{url}">能源新闻 {key}</a><span class="time">2026-02-24 15:20</span></li>'
            for key, url in links.items()
        )
        (root / "hub" / "index.html").write_text(f'<ul class="news">{items}</ul>', "utf-8")
        for key in ("ok", "short", "decimal", "pinned", "localhost", "target", "peer"):
            (root / "a" / f"{key}.html").write_text(f"<h1>全文 {key}</h1>", "utf-8")
        (root / "a" / "redirect.html").write_text("", "utf-8")
        (root / "a" / "redirect.html.headers").write_text(
            f"HTTP 302\nLocation: http://evil.example:{port}/a/target.html\n", "utf-8"
        )
        (root / "pinned" / "index.html").write_text(
            '<ul class="news"><li><a href="/a/ok.html">固定名称的新闻</a></li></ul>', "utf-8"
        )
        sources = tmp / "sources.toml"
        sources.write_text(
            f'[[source]]\nname = "hub"\nkind = "html"\nurls = ["{farm.url}hub/"]\n'
            f'follow = "always"\n{SELECTORS}\n'
            f'[[source]]\nname = "pinned_source"\nkind = "html"\n'
            f'urls = ["http://pinned.example:{other_port}/pinned/"]\n{SELECTORS}',
            "utf-8",
        )
        pins = json.dumps({"pinned.example": "127.0.0.1", "evil.example": "127.0.0.1"})
        result = run_newsagg(
            "--db",
            str(tmp / "news.db"),
            "--sources",
            str(sources),
            "crawl",
            "--json",
            "-s",
            "AUTOTHROTTLE_START_DELAY=0",
            "-s",
            f"NEWSAGG_RESOLVE={pins}",
        )
        assert result.returncode == 0, result.stderr
        yield {
            "record": json.loads(result.stdout),
            "requests": farm.requests + other.requests,
            "stderr": result.stderr,
            "port": port,
        }


def test_only_allowed_addresses_are_fetched(policy_crawl: dict[str, Any]) -> None:
    fetched = {path for path in policy_crawl["requests"] if path.startswith("/a/")}
    # peer.html is requested (the resolver allows pinned.example) but its response is dropped
    assert fetched == {"/a/ok.html", "/a/redirect.html", "/a/peer.html"}
    assert "/pinned/" in policy_crawl["requests"]  # a source's own pinned name works


def test_refusals_are_reported_per_source(policy_crawl: dict[str, Any]) -> None:
    port = policy_crawl["port"]
    errors = policy_crawl["record"]["sources"]["hub"]["errors"]
    assert sorted(errors) == sorted(
        [
            f"refused non-public address localhost: http://localhost:{port}/a/localhost.html",
            f"refused: evil.example resolves to non-public address 127.0.0.1: "
            f"http://evil.example:{port}/a/pinned.html",
            f"refused: 127.1 resolves to non-public address 127.0.0.1: "
            f"http://127.1:{port}/a/short.html",
            f"refused: 2130706433 resolves to non-public address 127.0.0.1: "
            f"http://2130706433:{port}/a/decimal.html",
            f"refused: evil.example resolves to non-public address 127.0.0.1: "
            f"http://evil.example:{port}/a/target.html",
            f"refused: response for http://pinned.example:{port}/a/peer.html came from "
            f"non-public address 127.0.0.1",
        ]
    )
    assert "CRITICAL" not in policy_crawl["stderr"]


def test_refused_follows_keep_the_list_items(policy_crawl: dict[str, Any]) -> None:
    hub = policy_crawl["record"]["sources"]["hub"]
    assert (hub["new"], hub["articles_fetched"], hub["articles_failed"]) == (7, 1, 6)
    assert not hub["failed"]
    assert policy_crawl["record"]["sources"]["pinned_source"]["new"] == 1


def test_allow_private_setting_lifts_the_policy(tmp_path: Path) -> None:
    # The names still have to resolve: with the setting on, 127.1 is fetched like any host.
    root = tmp_path / "site"
    (root / "a").mkdir(parents=True)
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", "utf-8")
    with SiteFarm(root) as farm:
        port = farm.url.rstrip("/").rsplit(":", 1)[1]
        (root / "index.html").write_text(
            f'<ul class="news"><li><a href="http://127.1:{port}/a/1.html">短地址新闻</a></li></ul>',
            "utf-8",
        )
        (root / "a" / "1.html").write_text("<h1>短地址新闻全文</h1>", "utf-8")
        sources = tmp_path / "sources.toml"
        sources.write_text(
            f'[[source]]\nname = "s"\nkind = "html"\nurls = ["{farm.url}"]\n'
            f'follow = "always"\n{SELECTORS}',
            "utf-8",
        )
        result = run_newsagg(
            "--db",
            str(tmp_path / "news.db"),
            "--sources",
            str(sources),
            "crawl",
            "--json",
            "-s",
            "AUTOTHROTTLE_START_DELAY=0",
            "-s",
            "NEWSAGG_ALLOW_PRIVATE=true",
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["sources"]["s"]["articles_fetched"] == 1
        assert "/a/1.html" in farm.requests
