"""Sources are data: load and validate ``sources.toml``.

Every error names the file, the source and the field, so a typo in a cron-run config is found in
one read of the log.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parsel import Selector

from aggregator.errors import ConfigError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
KINDS = ("html", "feed")
FOLLOW = ("never", "truncated", "always")
LANGUAGES = ("zh", "en")
SELECTOR_KEYS = {"item", "title", "link", "snippet", "date"}
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
}
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")

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

    @property
    def url(self) -> str:
        return self.urls[0]

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
    unknown = set(data) - {"source"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown top-level key(s) {sorted(unknown)}; expected [[source]]"
        )
    tables = data.get("source", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{where}: 'source' must be an array of tables ([[source]])")
    sources: list[Source] = []
    seen: set[str] = set()
    for index, table in enumerate(tables, 1):
        source = _parse_source(table, where, index)
        if source.name in seen:
            raise ConfigError(
                f"{where}: source {source.name!r}: field 'name': duplicate name "
                "(names identify sources in the database and feed paths)"
            )
        seen.add(source.name)
        sources.append(source)
    return sources


def _parse_source(table: Any, where: str, index: int) -> Source:
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
    selectors = None
    raw = table.get("selectors")
    if kind == "html":
        if not isinstance(raw, dict):
            raise fail("selectors", "required for kind = 'html' ([source.selectors])")
        selectors = _parse_selectors(raw, fail)
    elif raw is not None:
        raise fail("selectors", f"only used by kind = 'html', not {kind!r}")
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
    )


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
    probe = Selector(text="<html><body></body></html>")
    for key, css in raw.items():
        if not isinstance(css, str) or not css.strip():
            raise fail(f"selectors.{key}", "must be a non-empty CSS selector")
        try:
            probe.css(css)
        except Exception as exc:  # cssselect raises several unrelated types for bad syntax
            raise fail(f"selectors.{key}", f"bad CSS selector {css!r}: {exc}") from None
    return Selectors(**raw)


def _is_http_url(url: object) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
