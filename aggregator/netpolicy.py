"""Network policy: only http(s), and no loopback or private addresses unless a source lives there.

The demo and the tests serve their sites on 127.0.0.1, so a source whose own URL is on such an
address may fetch from that host (and port); a redirect or a followed link to any other non-public
address is refused. Host names are checked as written here; what a name resolves to, and the
address a response came from, are checked by :mod:`aggregator.resolver`. ``NEWSAGG_ALLOW_PRIVATE``
lifts the address rule (not the scheme rule) everywhere.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class RefusedAddress(IgnoreRequest):
    """A request to an address the policy does not allow."""


def is_non_public_address(address: str) -> bool:
    """True for an IP address (as a string) that is not globally routable; anything that is not
    an address at all is never trusted either."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return not ip.is_global


def is_non_public(host: str) -> bool:
    """True for loopback, private, link-local, reserved and unspecified addresses and localhost
    (a host as written in a URL: a name other than localhost is judged when it is resolved)."""
    host = host.strip("[]").lower()
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return is_non_public_address(host)


def netloc(url: str) -> str:
    parts = urlsplit(url)
    return (
        f"{(parts.hostname or '').lower()}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    )


def allowed_private_netlocs(urls: Iterable[str]) -> frozenset[str]:
    """The host:port pairs of configured URLs that are on non-public addresses."""
    return frozenset(netloc(u) for u in urls if is_non_public(urlsplit(u).hostname or ""))


def check_url(url: str, allowed: frozenset[str], *, allow_all: bool = False) -> str | None:
    """None when ``url`` may be fetched, else the reason it may not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme!r} is not allowed"
    host = parts.hostname or ""
    if not allow_all and is_non_public(host) and netloc(url) not in allowed:
        return f"refused non-public address {host}"
    return None


class AddressPolicyMiddleware:
    """Downloader middleware applying :func:`check_url` to every request, redirects included."""

    def __init__(self, allowed: frozenset[str], allow_all: bool = False) -> None:
        self.allowed = allowed
        self.allow_all = allow_all

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressPolicyMiddleware:
        settings = crawler.settings
        return cls(
            frozenset(settings.getlist("NEWSAGG_ALLOWED_PRIVATE")),
            settings.getbool("NEWSAGG_ALLOW_PRIVATE"),
        )

    def process_request(self, request: Request) -> None:
        reason = check_url(request.url, self.allowed, allow_all=self.allow_all)
        if reason:
            raise RefusedAddress(f"{reason}: {request.url}")
