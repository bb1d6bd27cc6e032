"""Network policy where names are resolved, and again on the address a response came from.

:mod:`aggregator.netpolicy` checks URLs as written (scheme, IP literals, ``localhost``). A name
can still lead somewhere private: ``intranet.example`` resolving to 10.0.0.5, ``127.1`` or
``2130706433`` (both 127.0.0.1 to ``getaddrinfo``), a DNS answer that changes between two
lookups. Two checks close that:

* :class:`PolicyResolver` (the ``TWISTED_DNS_RESOLVER``) refuses to hand a non-public address to
  the downloader unless the name is the host of a configured source URL (the operator chose it)
  or ``NEWSAGG_ALLOW_PRIVATE`` is set. Nothing is sent to a refused address.
* :class:`PeerAddressMiddleware` checks ``response.ip_address``, the peer the bytes came from,
  against the same rule, port included, and drops a response that should not have been fetched.

``NEWSAGG_RESOLVE`` (a dict or JSON object ``{"name": "address"}``, like ``curl --resolve``)
pins names to addresses before the system resolver is asked; the policy applies to pinned
answers exactly as to DNS answers, which is how the tests point a public-looking name at the
loopback site farm.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import CannotResolveHostError
from scrapy.http import Request, Response
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import defer
from twisted.internet.base import ReactorBase
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

from aggregator.netpolicy import RefusedAddress, is_non_public_address, netloc


def allowed_hosts(netlocs: Iterable[str]) -> frozenset[str]:
    """The host names of ``host:port`` pairs (the resolver does not see ports)."""
    return frozenset(n.rsplit(":", 1)[0].strip("[]").lower() for n in netlocs)


def check_resolved(
    name: str, address: str, allowed: frozenset[str], *, allow_all: bool = False
) -> str | None:
    """None when ``name`` may be used at ``address``, else the reason it may not."""
    if allow_all or not is_non_public_address(address):
        return None
    if name.strip("[]").lower() in allowed:
        return None
    return f"refused: {name} resolves to non-public address {address}"


def check_peer(
    url: str, peer: str | None, allowed: frozenset[str], *, allow_all: bool = False
) -> str | None:
    """None when a response for ``url`` may come from ``peer``, else the reason it may not.

    ``allowed`` holds ``host:port`` pairs: a non-public peer is accepted only for a URL whose
    host and port are those of a configured source."""
    if allow_all or peer is None or not is_non_public_address(peer):
        return None
    if netloc(url) in allowed:
        return None
    return f"refused: response for {url} came from non-public address {peer}"


def parse_pins(value: Any) -> dict[str, str]:
    """``NEWSAGG_RESOLVE`` as a dict of lower-cased names to addresses (validated)."""
    if not value:
        return {}
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, Mapping):
        raise ValueError("NEWSAGG_RESOLVE must map names to addresses")
    pins = {}
    for name, address in value.items():
        ipaddress.ip_address(str(address))  # raises ValueError on a non-address
        pins[str(name).lower()] = str(address)
    return pins


class RefusedResolution(DNSLookupError):
    """A name resolved to an address the policy refuses.

    A :class:`DNSLookupError` because Twisted reports any other resolver error as a CRITICAL
    traceback; it also drops the message, so the resolver keeps the reason in ``refused`` and
    :class:`PeerAddressMiddleware` puts it back on the failed request."""


@implementer(IResolverSimple)
class PolicyResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, refusing names that resolve to non-public addresses."""

    def __init__(
        self,
        reactor: ReactorBase,
        cache_size: int,
        timeout: float,
        *,
        allowed: frozenset[str] = frozenset(),
        allow_all: bool = False,
        pins: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.allowed = allowed
        self.allow_all = allow_all
        self.pins = dict(pins or {})
        self.refused: dict[str, str] = {}  # name -> reason, for PeerAddressMiddleware

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> PolicyResolver:
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        return cls(
            reactor,
            cache_size,
            settings.getfloat("DNS_TIMEOUT"),
            allowed=allowed_hosts(settings.getlist("NEWSAGG_ALLOWED_PRIVATE")),
            allow_all=settings.getbool("NEWSAGG_ALLOW_PRIVATE"),
            pins=parse_pins(settings.get("NEWSAGG_RESOLVE")),
        )

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        pinned = self.pins.get(name.lower())
        resolved: Deferred[str] = (
            defer.succeed(pinned) if pinned else super().getHostByName(name, timeout)
        )
        return resolved.addCallback(self._check, name)

    def _check(self, address: str, name: str) -> str:
        reason = check_resolved(name, address, self.allowed, allow_all=self.allow_all)
        if reason:
            self.refused[name.lower()] = reason
            raise RefusedResolution(reason)
        return address


class PeerAddressMiddleware:
    """Downloader middleware: drop a response whose peer address the policy does not allow, and
    turn a lookup the resolver refused into :class:`RefusedAddress` with its reason (not
    retried, unlike a DNS failure)."""

    def __init__(
        self,
        allowed: frozenset[str],
        allow_all: bool = False,
        refusals: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self.allowed = allowed
        self.allow_all = allow_all
        self.refusals = refusals or _installed_refusals

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PeerAddressMiddleware:
        settings = crawler.settings
        return cls(
            frozenset(settings.getlist("NEWSAGG_ALLOWED_PRIVATE")),
            settings.getbool("NEWSAGG_ALLOW_PRIVATE"),
        )

    def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get("proxy"):  # the peer is the proxy, which resolved the name itself
            return response
        peer = str(response.ip_address) if response.ip_address is not None else None
        reason = check_peer(response.url, peer, self.allowed, allow_all=self.allow_all)
        if reason:
            raise RefusedAddress(reason)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        if isinstance(exception, CannotResolveHostError | DNSLookupError):
            reason = self.refusals().get((urlparse_cached(request).hostname or "").lower())
            if reason:
                raise RefusedAddress(reason) from exception


def _installed_refusals() -> Mapping[str, str]:
    """What the reactor's resolver refused, when it is a :class:`PolicyResolver`."""
    from twisted.internet import reactor

    return getattr(getattr(reactor, "resolver", None), "refused", {})
