"""Absolute and canonical URLs: one article, one canonical URL."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import safe_url_string

# Query parameters that track the reader, not the page.
TRACKING_PARAMS = frozenset(
    {
        "spm",
        "from",
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "_hsenc",
        "_hsmi",
        "ref",
        "ref_src",
        "share_token",
        "scene",
        "wfr",
        "isappinstalled",
    }
)
TRACKING_PREFIXES = ("utm_", "hmsr", "hmpl", "hmcu", "hmkw", "hmci")
# Query parameters that carry a server session, not the page.
SESSION_PARAMS = frozenset(
    {"jsessionid", "phpsessid", "sid", "sessionid", "session_id", "aspsessionid", "cfid", "cftoken"}
)
# A directory's default document: "/news/index.html" is "/news/".
INDEX_DOCUMENTS = frozenset(
    {"index.html", "index.htm", "index.shtml", "index.php", "default.htm", "default.html",
     "default.aspx", "default.asp"}
)  # fmt: skip
# ";jsessionid=..." in a path (Java servers put the session there).
_PATH_SESSION_RE = re.compile(r";(?:jsessionid|phpsessid|sid)=[^/?#]*", re.I)
SAFE_SCHEMES = ("http", "https")
# Printable ASCII without the characters a URL must have escaped, and no stray "%".
_PLAIN_URL = re.compile(r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$")


def absolute_url(href: str | None, base_url: str) -> str | None:
    """``href`` resolved against ``base_url``; None for empty or non-http(s) links."""
    if not href:
        return None
    href = href.strip().replace("\\", "/")
    if not href or href.startswith("#"):
        return None
    origin = _http_origin(base_url)
    if origin and href.startswith("/") and not href.startswith("//") and "/." not in href:
        url = origin + href  # the common root-relative link, without urljoin's parsing
    else:
        url = urljoin(base_url, href)
        parts = urlsplit(url)
        if parts.scheme.lower() not in SAFE_SCHEMES or not parts.hostname:
            return None
    if _PLAIN_URL.match(url):  # nothing to escape: skip w3lib's (comparatively slow) pass
        return url
    return safe_url_string(url)


@lru_cache(maxsize=256)
def _http_origin(base_url: str) -> str | None:
    """'http://host:port' of an http(s) base URL, else None."""
    parts = urlsplit(base_url)
    if parts.scheme.lower() not in SAFE_SCHEMES or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return (
        lowered in TRACKING_PARAMS
        or lowered in SESSION_PARAMS
        or lowered.startswith(TRACKING_PREFIXES)
    )


def canonical_url(url: str, rules: UrlRules | None = None) -> str:
    """Scheme and host lower-cased, default port and fragment dropped, tracking and session
    parameters removed (also a ``;jsessionid=`` in the path), the remaining query sorted, a
    directory's default document (``index.html``...) and a trailing slash dropped. Path case is
    kept (servers are case-sensitive). The scheme is kept: ``http`` and ``https`` are the same
    article by :func:`url_identity`, which the store matches on. ``rules`` (configured in
    sources.toml) maps host aliases (``www.``, ``m.``...) to one host."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if rules is not None and (rules.aliases or rules.strip_www):
        host = rules.host(host)
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    if parts.username or parts.password:
        host = f"{parts.username or ''}{':' + parts.password if parts.password else ''}@{host}"
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    )
    path = parts.path or "/"
    if ";" in path:
        path = _PATH_SESSION_RE.sub("", path)
    head, _, last = path.rpartition("/")
    if last in INDEX_DOCUMENTS:
        path = head + "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def url_identity(canonical: str) -> str:
    """What makes two canonical URLs the same article: everything but the scheme (a site seen
    over both ``http`` and ``https`` is one site)."""
    for scheme in ("https://", "http://"):
        if canonical.startswith(scheme):
            return "//" + canonical[len(scheme) :]
    return canonical


def url_variants(canonical: str) -> tuple[str, ...]:
    """The canonical URL and the same under the other scheme."""
    if canonical.startswith("https://"):
        return canonical, "http://" + canonical[len("https://") :]
    if canonical.startswith("http://"):
        return canonical, "https://" + canonical[len("http://") :]
    return (canonical,)


# Bumped when the code's own URL rules change in a way the configured ones depend on; part of
# :attr:`UrlRules.fingerprint`, so the store recomputes canonical URLs once (see Store.recanon).
URL_RULES_VERSION = 1
_HOST_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_-]{1,63})*$")


@dataclass(frozen=True)
class UrlRules:
    """The configured part of canonicalisation (sources.toml's ``[urls]`` and each source's
    ``host_aliases``): ``aliases`` maps a host to the one host that stands for it;
    ``strip_www`` drops a leading ``www.`` from every other host. An alias wins over
    ``strip_www`` (a group may choose ``www.example.com`` as its host)."""

    aliases: tuple[tuple[str, str], ...] = ()
    strip_www: bool = False
    _map: dict[str, str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_map", dict(self.aliases))

    def host(self, host: str) -> str:
        """The host that stands for ``host`` (lower-case, without port)."""
        mapped = self._map.get(host)
        if mapped is not None:
            return mapped
        if self.strip_www and host.startswith("www.") and "." in host[4:]:
            return host[4:]
        return host

    def to_json(self) -> str:
        """The rules as stored in the database (``meta.url_rules``), with the code's version."""
        return json.dumps(
            {
                "version": URL_RULES_VERSION,
                "aliases": [list(pair) for pair in self.aliases],
                "strip_www": self.strip_www,
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> UrlRules:
        data = json.loads(text)
        return cls(
            aliases=tuple((str(a), str(b)) for a, b in data.get("aliases", [])),
            strip_www=bool(data.get("strip_www", False)),
        )

    @property
    def fingerprint(self) -> str:
        """Changes exactly when canonical URLs may change."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


# No configured rules: the code's own only.
NO_URL_RULES = UrlRules()


def is_host_name(host: object) -> bool:
    """A bare, lower-case host name (no scheme, port, path or user): what an alias names."""
    return isinstance(host, str) and bool(_HOST_RE.match(host))


def build_url_rules(
    groups: Iterable[Sequence[str]],
    sites: Iterable[tuple[str, Iterable[str]]] = (),
    *,
    strip_www: bool = False,
) -> UrlRules:
    """Rules from alias groups (``[urls] host_aliases``: the first host of a group stands for
    the others) and ``(site host, its aliases)`` pairs (each source's ``host_aliases``, in file
    order). Hosts linked through any of them are one site; its host is the group's first, else
    the first source's. Raises ValueError when two groups' chosen hosts end up as one site."""
    parent: dict[str, str] = {}

    def find(host: str) -> str:
        parent.setdefault(host, host)
        while parent[host] != host:
            parent[host] = parent[parent[host]]
            host = parent[host]
        return host

    def join(a: str, b: str) -> None:
        parent[find(a)] = find(b)

    heads: list[str] = []
    for group in groups:
        hosts = [h.lower() for h in group]
        for host in hosts:
            join(host, hosts[0])
        heads.append(hosts[0])
    order: list[str] = []
    for site, aliases in sites:
        site = site.lower()
        find(site)
        for host in aliases:
            join(host.lower(), site)
        order.append(site)
    chosen: dict[str, str] = {}
    for head in heads:
        root = find(head)
        if chosen.setdefault(root, head) != head:
            raise ValueError(
                f"{chosen[root]!r} and {head!r} are each chosen to stand for the other's hosts "
                "(their alias groups share a host)"
            )
    for site in order:
        chosen.setdefault(find(site), site)
    pairs = tuple(sorted((h, chosen[find(h)]) for h in list(parent) if h != chosen[find(h)]))
    return UrlRules(aliases=pairs, strip_www=strip_www)
