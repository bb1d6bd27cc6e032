"""Absolute and canonical URLs: one article, one canonical URL."""

from __future__ import annotations

import re
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


def canonical_url(url: str) -> str:
    """Scheme and host lower-cased, default port and fragment dropped, tracking and session
    parameters removed (also a ``;jsessionid=`` in the path), the remaining query sorted, a
    directory's default document (``index.html``...) and a trailing slash dropped. Path case is
    kept (servers are case-sensitive). The scheme is kept: ``http`` and ``https`` are the same
    article by :func:`url_identity`, which the store matches on."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
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
