"""Finding the feeds: ``feeds.opml`` for feed readers, ``index.html`` for people.

Both are plain documents written with the standard library's escaping; they list the feeds the
export wrote, in its order, and change only when that list does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from aggregator.opml import OpmlFeed, OpmlFolder, write_opml

MEDIA_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
EXTENSIONS = {"rss": ".xml", "atom": ".atom", "json": ".json"}
LABELS = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}
SECTIONS = (("", "All"), ("digest-", "Digests"), ("topics/", "Topics"), ("sources/", "Sources"))


@dataclass(frozen=True)
class FeedLink:
    """One feed as the discovery documents list it: path without extension, its formats."""

    path: str
    title: str
    description: str
    formats: Sequence[str] = ("rss",)

    def href(self, fmt: str = "rss") -> str:
        return quote(self.path + EXTENSIONS[fmt])


def _section(link: FeedLink) -> str:
    for prefix, name in reversed(SECTIONS):
        if prefix and link.path.startswith(prefix):
            return name
    return "All"


def render_opml(links: Sequence[FeedLink], *, title: str, base_url: str) -> bytes:
    """OPML 2.0: one outline per feed (its RSS version), in folders like the index page's."""
    folders = [
        OpmlFolder(
            section,
            [
                OpmlFeed(link.title, base_url + link.href(), base_url, link.description)
                for link in links
                if _section(link) == section
            ],
        )
        for _prefix, section in SECTIONS
    ]
    return write_opml(folders, title=f"{title} · feeds")


def render_index(links: Sequence[FeedLink], *, title: str) -> bytes:
    """An HTML page listing every feed, with ``<link rel="alternate">`` for autodiscovery
    (links are relative: the page works wherever the folder is served)."""
    head = [
        "<!DOCTYPE html>",
        '<html lang="zh">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)} · feeds</title>",
    ]
    for link in links:
        for fmt in link.formats:
            head.append(
                f'<link rel="alternate" type="{MEDIA_TYPES[fmt]}" '
                f'title="{escape(link.title)} ({LABELS[fmt]})" href="{escape(link.href(fmt))}">'
            )
    head.append(
        "<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.5}li{margin:.3rem 0}small{color:#555}</style>"
    )
    body = [
        "</head>",
        "<body>",
        f"<h1>{escape(title)} · feeds</h1>",
        "<p>Subscribe to any of these in a feed reader, or import them all at once with "
        '<a href="feeds.opml" id="opml">feeds.opml</a>.</p>',
    ]
    for _prefix, section in SECTIONS:
        members = [link for link in links if _section(link) == section]
        if not members:
            continue
        body.append(f"<h2>{escape(section)}</h2>")
        body.append(f'<ul class="feeds" data-section="{escape(section.lower())}">')
        for link in members:
            others = ", ".join(
                f'<a href="{escape(link.href(fmt))}">{LABELS[fmt]}</a>'
                for fmt in link.formats
                if fmt != "rss"
            )
            extra = f" ({others})" if others else ""
            body.append(
                f'<li><a class="feed" href="{escape(link.href())}">{escape(link.title)}</a>'
                f"{extra}<br><small>{escape(link.description)}</small></li>"
            )
        body.append("</ul>")
    body += ["</body>", "</html>", ""]
    return "\n".join(head + body).encode()
