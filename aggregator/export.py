"""RSS 2.0 files from the database: ``all.xml``, ``sources/<name>.xml``, ``topics/<slug>.xml``.

The only module that knows the feed library (feedgen). Feeds are valid for the W3C validator
(0 errors, 0 warnings): RFC 822 dates, ``lastBuildDate`` from the newest item (so an unchanged feed
keeps its bytes), ``atom:link rel="self"``, ``isPermaLink="false"`` on non-URL guids, and "&" and
"<" in text written as ``&#x26;`` and ``&#x3C;``. Files are replaced atomically and only when their
bytes change, so pollers get a stable ``Last-Modified``.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from feedgen.feed import FeedGenerator

from aggregator import __version__
from aggregator.store import Store

DEFAULT_BASE_URL = "http://localhost:8080/"
DEFAULT_LIMIT = 200
GENERATOR = f"energy-news-aggregator {__version__}"
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# XML 1.0 cannot carry these at all, escaped or not.
_END_TAG = re.compile(r"</(?=[A-Za-z])")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass
class ExportResult:
    out_dir: Path
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)

    @property
    def feeds(self) -> list[Path]:
        return sorted(self.written + self.unchanged)

    def summary_line(self) -> str:
        return (
            f"{len(self.feeds)} feeds in {self.out_dir}, {len(self.written)} written, "
            f"{len(self.unchanged)} unchanged"
        )


def export_feeds(
    store: Store,
    out_dir: str | Path,
    *,
    base_url: str = DEFAULT_BASE_URL,
    limit: int = DEFAULT_LIMIT,
) -> ExportResult:
    """Write every feed under ``out_dir`` and return which files changed."""
    out = Path(out_dir)
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    result = ExportResult(out)
    for spec in feed_specs(store):
        body = render_rss(
            store.articles(limit=limit, **spec.filters),
            title=spec.title,
            description=spec.description,
            self_url=base_url + quote(spec.path),
            site_url=base_url,
        )
        path = out / spec.path
        if write_if_changed(path, body):
            result.written.append(path)
        else:
            result.unchanged.append(path)
    return result


@dataclass(frozen=True)
class FeedSpec:
    """One feed file: its path under the feeds folder and the article filters it shows."""

    path: str
    title: str
    description: str
    filters: dict[str, str] = field(default_factory=dict)


def feed_specs(store: Store) -> list[FeedSpec]:
    """``all.xml``, one feed per source and one per topic (names that are not ASCII slugs are
    skipped: they would not make safe file names)."""
    titles = {row["name"]: row["title"] or row["name"] for row in store.sources()}
    specs = [FeedSpec("all.xml", "energy news · all sources", "Every headline, newest first.")]
    for name in sorted(set(titles) | set(store.source_names())):
        title = titles.get(name, name)
        specs.append(
            FeedSpec(
                f"sources/{name}.xml",
                f"energy news · {title}",
                f"Headlines from {title}.",
                {"source": name},
            )
        )
    for topic in store.article_topics():
        specs.append(
            FeedSpec(
                f"topics/{topic}.xml",
                f"energy news · {topic}",
                f"Headlines tagged {topic}.",
                {"topic": topic},
            )
        )
    return [spec for spec in specs if _SLUG_RE.match(Path(spec.path).stem)]


def render_rss(
    items: list[dict[str, Any]],
    *,
    title: str,
    description: str,
    self_url: str,
    site_url: str,
    language: str | None = None,
) -> bytes:
    """One RSS 2.0 document for ``items`` (``articles`` rows, newest first)."""
    fg = FeedGenerator()
    fg.title(_plain_text(title))
    fg.link(href=self_url, rel="self", type="application/rss+xml")
    fg.link(href=site_url, rel="alternate")
    fg.description(_plain_text(description))
    fg.generator(GENERATOR)
    if language:
        fg.language(language)
    newest: datetime | None = None
    for row in items:
        entry = fg.add_entry(order="append")
        entry.title(_plain_text(row["title"]))
        # The canonical URL is the link (tracking parameters gone) and the guid; an entry without
        # a link has a urn: key, which is not a permalink.
        key = row["canonical_url"]
        is_url = key.startswith(("http://", "https://"))
        if is_url:
            entry.link(href=key)
        entry.guid(key, permalink=is_url)
        if row.get("snippet"):
            # <description> is HTML to readers (and the validator): plain text is HTML-escaped
            # first, so "R&D" or "1 < 2" reads as text, not as broken markup.
            entry.description(html.escape(_xml_text(row["snippet"]), quote=False))
        when = _parse_stamp(row["published_at"] or row["first_seen_at"])
        entry.pubDate(when)
        newest = max(newest, when) if newest else when
        for topic in row.get("topics") or []:
            entry.category(term=topic)
    if newest is not None:
        fg.lastBuildDate(newest)
    rss = fg.rss_str(pretty=True)
    if newest is None:  # feedgen stamps "now"; an empty feed has no build date to give
        rss = re.sub(rb"\s*<lastBuildDate>[^<]*</lastBuildDate>", b"", rss)
    # The validator warns on "&amp;"/"&lt;" in plain-text elements and accepts the numeric forms.
    return rss.replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")


def _xml_text(text: str) -> str:
    return _XML_ILLEGAL.sub("", text or "")


def _plain_text(text: str) -> str:
    """Text for a plain-text element (a title). Readers that render titles as HTML would act on a
    closing tag in the text, and the validator warns on one even when escaped, so "</b>" is
    written with a full-width "＜"."""
    return _END_TAG.sub("\uff1c/", _xml_text(text))


def _parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically replace ``path`` with ``data`` unless it already holds exactly that.
    Returns True when the file was written."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
