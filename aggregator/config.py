"""Sources are data: load and validate ``sources.toml``.

Every error names the file, the source and the field, so a typo in a cron-run config is found in
one read of the log.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parsel import Selector

from aggregator.encodings import normalize_charset
from aggregator.errors import ConfigError
from aggregator.health import (
    BACKOFF_BASE,
    BACKOFF_MAX,
    DEFAULT_STALE_AFTER,
    format_duration,
    parse_duration,
)
from aggregator.urls import NO_URL_RULES, UrlRules, build_url_rules, is_host_name

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
KINDS = ("html", "feed", "auto")
FOLLOW = ("never", "truncated", "always")
LANGUAGES = ("zh", "en")
SELECTOR_KEYS = {"item", "title", "link", "snippet", "date"}
ARTICLE_KEYS = {"title", "date", "body", "date_format"}
PAGINATION_KEYS = {"next", "url_template", "max_pages"}
MAX_PAGES_LIMIT = 50
REQUIRED_SELECTORS = ("item", "title", "link")
SOURCE_KEYS = {
    "name",
    "title",
    "kind",
    "urls",
    "enabled",
    "language",
    "timezone",
    "topics",
    "follow",
    "selectors",
    "encoding",
    "headers",
    "user_agent",
    "article",
    "blocks",
    "pagination",
    "stale_after",
    "backoff_base",
    "backoff_max",
    "date_format",
    "host_aliases",
}
# sources.toml's optional top-level [backoff] table: defaults for every source
BACKOFF_KEYS = {"base", "max"}
# sources.toml's optional top-level [urls] table: configured URL rules (see aggregator/urls.py)
URLS_KEYS = {"host_aliases", "strip_www"}
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_PROBE = Selector(text="<html><body></body></html>")

DEFAULT_SOURCES = Path("data") / "sources.toml"
DEFAULT_DB = Path("data") / "news.db"


@dataclass(frozen=True)
class Selectors:
    """CSS selectors (parsel syntax) for a list page; the others apply inside each ``item``."""

    item: str
    title: str
    link: str
    snippet: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class ArticleSelectors:
    """``[source.article]``: CSS for an article page's parts, when the heuristics fail, and the
    ``strptime`` format of its date text."""

    title: str | None = None
    date: str | None = None
    body: str | None = None
    date_format: str | None = None


@dataclass(frozen=True)
class Pagination:
    """``[source.pagination]``: more list pages, by a "next" link or a URL template with ``{n}``
    (2, 3, ...), up to ``max_pages`` pages in all (the first included)."""

    next: str | None = None
    url_template: str | None = None
    max_pages: int = 1


@dataclass(frozen=True)
class Source:
    """One configured source, validated."""

    name: str
    title: str
    kind: str
    urls: tuple[str, ...]
    enabled: bool = True
    language: str = "zh"
    timezone: str = "Asia/Shanghai"
    topics: tuple[str, ...] = ()
    follow: str = "never"
    selectors: Selectors | None = None
    encoding: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    user_agent: str | None = None
    article: ArticleSelectors | None = None
    blocks: tuple[str, ...] = ()
    pagination: Pagination | None = None
    # failing for longer than this makes a run exit 3 (see aggregator/health.py)
    stale_after: timedelta = DEFAULT_STALE_AFTER
    # a failing source waits backoff_base * 2**(n-1) after its n-th failure, at most backoff_max
    backoff_base: timedelta = BACKOFF_BASE
    backoff_max: timedelta = BACKOFF_MAX
    # strptime format of the site's date texts, tried first on list and article pages
    date_format: str | None = None
    # other hosts of this site (www., m.): their links are canonicalised to the host of `url`
    host_aliases: tuple[str, ...] = ()
    # the URL rules in force for every source (sources.toml's [urls] and all host_aliases)
    url_rules: UrlRules = NO_URL_RULES

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def list_date_format(self) -> str | None:
        """The format for list pages: ``date_format``, else ``[source.article] date_format``
        (where it was first configured; kept as an alias)."""
        return self.date_format or (self.article.date_format if self.article else None)

    @property
    def article_selectors(self) -> ArticleSelectors | None:
        """``[source.article]`` for article pages, its ``date_format`` defaulting to the
        source's."""
        if self.date_format is None or (self.article and self.article.date_format):
            return self.article
        return replace(self.article or ArticleSelectors(), date_format=self.date_format)

    @property
    def tz(self) -> ZoneInfo:
        """The zone of the site's naive dates (ZoneInfo caches instances: this is cheap)."""
        return ZoneInfo(self.timezone)


def resolve_sources_path(path: str | Path | None) -> Path:
    """``--sources``, else ``$NEWSAGG_SOURCES``, else ``./data/sources.toml``."""
    if path:
        candidate = Path(path)
        if not candidate.is_file():
            raise ConfigError(f"{candidate}: sources file not found")
        return candidate
    env = os.environ.get("NEWSAGG_SOURCES")
    if env:
        if not Path(env).is_file():
            raise ConfigError(f"{env}: sources file from $NEWSAGG_SOURCES not found")
        return Path(env)
    if DEFAULT_SOURCES.is_file():
        return DEFAULT_SOURCES
    raise ConfigError(
        "no sources file: tried --sources, $NEWSAGG_SOURCES and "
        f"{Path.cwd() / DEFAULT_SOURCES}; pass --sources FILE"
    )


def resolve_db_path(path: str | Path | None) -> Path:
    """``--db``, else ``$NEWSAGG_DB``, else ``./data/news.db``."""
    return Path(path or os.environ.get("NEWSAGG_DB") or DEFAULT_DB)


def load_sources(path: str | Path) -> list[Source]:
    """Read and validate a sources file; raise :class:`ConfigError` on the first problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: sources file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_sources(data, str(path))


def parse_sources(data: dict[str, Any], where: str = "<sources>") -> list[Source]:
    """Validate the parsed TOML document (``{"source": [...]}``)."""
    unknown = set(data) - {"source", "backoff", "urls"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown top-level key(s) {sorted(unknown)}; expected [[source]]"
        )
    defaults = _parse_backoff_defaults(data.get("backoff", {}), where)
    tables = data.get("source", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{where}: 'source' must be an array of tables ([[source]])")
    sources: list[Source] = []
    seen: set[str] = set()
    for index, table in enumerate(tables, 1):
        source = _parse_source(table, where, index, defaults)
        if source.name in seen:
            raise ConfigError(
                f"{where}: source {source.name!r}: field 'name': duplicate name "
                "(names identify sources in the database and feed paths)"
            )
        seen.add(source.name)
        sources.append(source)
    rules = _parse_url_rules(data.get("urls", {}), sources, where)
    return [replace(source, url_rules=rules) for source in sources]


def _parse_url_rules(raw: Any, sources: list[Source], where: str) -> UrlRules:
    """The ``[urls]`` table (``host_aliases`` groups, ``strip_www``) with every source's own
    ``host_aliases``, as one set of rules."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: 'urls' must be a table ([urls] with host_aliases, strip_www)")
    unknown = set(raw) - URLS_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: [urls]: field {sorted(unknown)[0]!r}: unknown key "
            f"(known keys: {', '.join(sorted(URLS_KEYS))})"
        )
    strip_www = raw.get("strip_www", False)
    if not isinstance(strip_www, bool):
        raise ConfigError(f"{where}: [urls]: field 'strip_www': must be true or false")
    groups = raw.get("host_aliases", [])
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and len(g) >= 2 and all(is_host_name(h) for h in g) for g in groups
    ):
        raise ConfigError(
            f"{where}: [urls]: field 'host_aliases': must be a list of host groups, each of two "
            'or more lower-case host names, the chosen one first: [["example.com", '
            '"www.example.com", "m.example.com"]]'
        )
    try:
        rules = build_url_rules(groups, strip_www=strip_www)
    except ValueError as exc:
        raise ConfigError(f"{where}: [urls]: field 'host_aliases': {exc}") from None
    sites: list[tuple[str, tuple[str, ...]]] = []
    for source in sources:
        if not source.host_aliases:
            continue
        sites.append((urlsplit(source.url).hostname or "", source.host_aliases))
        try:  # one source more at a time, so an error names the source
            rules = build_url_rules(groups, sites, strip_www=strip_www)
        except ValueError as exc:
            raise ConfigError(
                f"{where}: source {source.name!r}: field 'host_aliases': {exc}"
            ) from None
    return rules


def _parse_backoff_defaults(raw: Any, where: str) -> tuple[timedelta, timedelta]:
    """The ``[backoff]`` table: ``base`` and ``max`` durations for every source."""

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{where}: [backoff]: field {key!r}: {problem}")

    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: 'backoff' must be a table ([backoff] with base and max)")
    unknown = set(raw) - BACKOFF_KEYS
    if unknown:
        raise fail(sorted(unknown)[0], "unknown key (known keys: base, max)")
    return _backoff_pair(raw, "base", "max", (BACKOFF_BASE, BACKOFF_MAX), fail)


def _backoff_pair(
    raw: dict[str, Any],
    base_key: str,
    max_key: str,
    defaults: tuple[timedelta, timedelta],
    fail: Any,
) -> tuple[timedelta, timedelta]:
    """Backoff base and cap from ``raw`` (durations such as 15m, 1h, 2d), validated."""
    base, cap = defaults
    for key in (base_key, max_key):
        if key not in raw:
            continue
        try:
            value = parse_duration(raw[key])
        except ValueError as exc:
            raise fail(key, str(exc)) from None
        if key == base_key:
            base = value
        else:
            cap = value
    if base > cap:
        key = max_key if max_key in raw else base_key
        raise fail(
            key,
            f"the backoff cap ({format_duration(cap)}) must be at least "
            f"its base ({format_duration(base)})",
        )
    return base, cap


def _parse_source(
    table: Any,
    where: str,
    index: int,
    defaults: tuple[timedelta, timedelta] = (BACKOFF_BASE, BACKOFF_MAX),
) -> Source:
    label = f"source #{index}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: {label}: must be a table")
    name = table.get("name")
    if isinstance(name, str):
        label = f"source {name!r}"

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{where}: {label}: field {key!r}: {problem}")

    unknown = set(table) - SOURCE_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise fail(key, f"unknown key (known keys: {', '.join(sorted(SOURCE_KEYS))})")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise fail("name", "required; lowercase letters, digits, '_' and '-'")
    kind = table.get("kind")
    if kind not in KINDS:
        raise fail("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    title = table.get("title", name)
    if not isinstance(title, str) or not title.strip():
        raise fail("title", "must be a non-empty string")
    urls = table.get("urls")
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not urls:
        raise fail("urls", "required: a list of http(s) URLs")
    for url in urls:
        if not _is_http_url(url):
            raise fail("urls", f"not an absolute http(s) URL: {url!r}")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise fail("enabled", "must be true or false")
    language = table.get("language", "zh")
    if language not in LANGUAGES:
        raise fail("language", f"must be one of {', '.join(LANGUAGES)}, got {language!r}")
    timezone = table.get("timezone", "Asia/Shanghai")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise fail("timezone", f"unknown time zone {timezone!r}") from None
    topics = table.get("topics", [])
    if not isinstance(topics, list) or not all(
        isinstance(t, str) and SLUG_RE.match(t) for t in topics
    ):
        raise fail("topics", "must be a list of ASCII slugs (a-z, 0-9, '-')")
    follow = table.get("follow", "never")
    if follow not in FOLLOW:
        raise fail("follow", f"must be one of {', '.join(FOLLOW)}, got {follow!r}")
    stale_after = DEFAULT_STALE_AFTER
    if "stale_after" in table:
        try:
            stale_after = parse_duration(table["stale_after"])
        except ValueError as exc:
            raise fail("stale_after", str(exc)) from None
    backoff_base, backoff_max = _backoff_pair(table, "backoff_base", "backoff_max", defaults, fail)
    selectors = None
    raw = table.get("selectors")
    if kind == "auto":
        if raw is not None:
            raise fail("selectors", "kind = 'auto' finds the list itself; use kind = 'html'")
    elif kind == "html":
        if not isinstance(raw, dict):
            raise fail("selectors", "required for kind = 'html' ([source.selectors])")
        selectors = _parse_selectors(raw, fail)
    elif raw is not None:
        raise fail("selectors", f"only used by kind = 'html', not {kind!r}")
    encoding = table.get("encoding")
    if encoding is not None and (
        not isinstance(encoding, str) or normalize_charset(encoding) is None
    ):
        raise fail("encoding", f"unknown encoding {encoding!r} (e.g. 'gb18030', 'utf-8')")
    headers = table.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and _HEADER_NAME.match(k) and "\n" not in v
        for k, v in headers.items()
    ):
        raise fail("headers", "must be a table of header names to string values")
    user_agent = table.get("user_agent")
    if user_agent is not None and (not isinstance(user_agent, str) or not user_agent.strip()):
        raise fail("user_agent", "must be a non-empty string")
    blocks = table.get("blocks", [])
    if kind != "auto" and "blocks" in table:
        raise fail("blocks", "only used by kind = 'auto'")
    if not isinstance(blocks, list) or not all(isinstance(b, str) and b.strip() for b in blocks):
        raise fail("blocks", 'must be a list of block headings, or ["*"] for every block')
    date_format = table.get("date_format")
    if date_format is not None:
        _check_date_format(date_format, "date_format", fail)
    article = _parse_article(table.get("article"), fail)
    pagination = _parse_pagination(table.get("pagination"), kind, fail)
    host_aliases = table.get("host_aliases", [])
    if not isinstance(host_aliases, list) or not all(is_host_name(h) for h in host_aliases):
        raise fail(
            "host_aliases",
            'must be a list of lower-case host names, e.g. ["www.example.com", "m.example.com"]',
        )
    return Source(
        name=name,
        title=title.strip(),
        kind=kind,
        urls=tuple(urls),
        enabled=enabled,
        language=language,
        timezone=timezone,
        topics=tuple(topics),
        follow=follow,
        selectors=selectors,
        encoding=encoding,
        headers=tuple(headers.items()),
        user_agent=user_agent.strip() if user_agent else None,
        article=article,
        blocks=tuple(b.strip() for b in blocks),
        pagination=pagination,
        stale_after=stale_after,
        backoff_base=backoff_base,
        backoff_max=backoff_max,
        date_format=date_format,
        host_aliases=tuple(host_aliases),
    )


def _check_css(css: Any, key: str, fail: Any) -> None:
    if not isinstance(css, str) or not css.strip():
        raise fail(key, "must be a non-empty CSS selector")
    try:
        _PROBE.css(css)
    except Exception as exc:  # cssselect raises several unrelated types for bad syntax
        raise fail(key, f"bad CSS selector {css!r}: {exc}") from None


def _parse_article(raw: Any, fail: Any) -> ArticleSelectors | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise fail("article", "must be a table ([source.article])")
    unknown = set(raw) - ARTICLE_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise fail(f"article.{key}", f"unknown key (known: {', '.join(sorted(ARTICLE_KEYS))})")
    for key in ("title", "date", "body"):
        if key in raw:
            _check_css(raw[key], f"article.{key}", fail)
    if raw.get("date_format") is not None:
        _check_date_format(raw["date_format"], "article.date_format", fail)
    return ArticleSelectors(**raw)


def _check_date_format(date_format: Any, key: str, fail: Any) -> None:
    if not isinstance(date_format, str) or "%" not in date_format:
        raise fail(key, "must be a strptime format such as '%Y年%m月%d日 %H:%M'")
    sample = datetime(2026, 2, 24, 15, 20, 30, tzinfo=UTC).strftime(date_format)
    try:  # a format must read back what it writes ("%Q", a stray "%" do not)
        datetime.strptime(sample, date_format)  # noqa: DTZ007 (only the syntax is checked)
    except ValueError as exc:
        raise fail(key, f"bad strptime format {date_format!r}: {exc}") from None


def _parse_pagination(raw: Any, kind: str, fail: Any) -> Pagination | None:
    if raw is None:
        return None
    if kind == "feed":
        raise fail("pagination", "only used by list pages (kind = 'html' or 'auto')")
    if not isinstance(raw, dict):
        raise fail("pagination", "must be a table ([source.pagination])")
    unknown = set(raw) - PAGINATION_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise fail(
            f"pagination.{key}", f"unknown key (known: {', '.join(sorted(PAGINATION_KEYS))})"
        )
    if ("next" in raw) == ("url_template" in raw):
        raise fail("pagination", "give exactly one of 'next' (a CSS selector) or 'url_template'")
    if "next" in raw:
        _check_css(raw["next"], "pagination.next", fail)
    template = raw.get("url_template")
    if template is not None and (
        not isinstance(template, str) or "{n}" not in template or not _is_http_url(template)
    ):
        raise fail("pagination.url_template", "must be an http(s) URL containing {n}")
    max_pages = raw.get("max_pages", 5)
    if not isinstance(max_pages, int) or isinstance(max_pages, bool):
        raise fail("pagination.max_pages", "must be an integer")
    if not 1 <= max_pages <= MAX_PAGES_LIMIT:
        raise fail("pagination.max_pages", f"must be between 1 and {MAX_PAGES_LIMIT}")
    return Pagination(next=raw.get("next"), url_template=template, max_pages=max_pages)


def _parse_selectors(raw: dict[str, Any], fail: Any) -> Selectors:
    unknown = set(raw) - SELECTOR_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise fail(
            f"selectors.{key}", f"unknown selector (known: {', '.join(sorted(SELECTOR_KEYS))})"
        )
    for key in REQUIRED_SELECTORS:
        if key not in raw:
            raise fail(f"selectors.{key}", "required")
    for key, css in raw.items():
        _check_css(css, f"selectors.{key}", fail)
    return Selectors(**raw)


def _is_http_url(url: object) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
