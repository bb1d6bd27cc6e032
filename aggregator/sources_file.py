"""Editing ``sources.toml`` in place: append feed sources, keeping its comments and order.

The file's own text is kept byte for byte and the new ``[[source]]`` tables are appended after
it; tomlkit renders them (quoting and escaping any title a feed may have, as TOML requires), and
the result is loaded and validated like any sources file before it replaces the old one.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit

from aggregator.config import parse_sources
from aggregator.errors import ConfigError
from aggregator.opml import OpmlFeed, source_name
from aggregator.urls import NO_URL_RULES, canonical_url, url_identity


@dataclass
class ImportResult:
    added: list[tuple[str, str]] = field(default_factory=list)  # (name, url)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (url, why)


def append_feed_sources(
    path: Path,
    feeds: Iterable[OpmlFeed],
    *,
    language: str = "en",
    timezone: str = "UTC",
    comment: str | None = None,
) -> ImportResult:
    """Append one ``kind = "feed"`` source per feed whose URL is not configured yet.

    The file is created when missing; the result is validated like any sources file before it
    replaces the old one (atomically), so a failed import leaves the file as it was.
    """
    text = path.read_text("utf-8") if path.exists() else ""
    try:
        existing = parse_sources(tomllib.loads(text), str(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    rules = existing[0].url_rules if existing else NO_URL_RULES

    def identity(url: str) -> str:  # http = https, and the configured host aliases
        return url_identity(canonical_url(url, rules))

    known = {identity(url) for source in existing for url in source.urls}
    taken = {source.name for source in existing}
    result = ImportResult()
    blocks = []
    for feed in feeds:
        if not feed.xml_url.lower().startswith(("http://", "https://")):
            result.skipped.append((feed.xml_url, "not an http(s) URL"))
            continue
        key = identity(feed.xml_url)
        if key in known:
            result.skipped.append((feed.xml_url, "already configured"))
            continue
        known.add(key)
        name = source_name(feed, taken)
        taken.add(name)
        table = tomlkit.table()
        table.add("name", name)
        table.add("title", feed.title)
        table.add("kind", "feed")
        table.add("urls", [feed.xml_url])
        table.add("language", language)
        table.add("timezone", timezone)
        single = tomlkit.document()
        single.add("source", tomlkit.aot())
        single["source"].append(table)  # type: ignore[union-attr]
        header = f"# {comment}\n" if comment else ""
        blocks.append(header + tomlkit.dumps(single).strip() + "\n")
        result.added.append((name, feed.xml_url))
    if not blocks:
        return result
    new_text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + "\n".join(blocks)
    parse_sources(tomllib.loads(new_text), str(path))  # never write a file we would not load
    _write_atomically(path, new_text)
    return result


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
