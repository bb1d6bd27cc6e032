"""OPML 1.0/2.0 subscription lists: read the feeds out of one, write our feed sources as one."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.etree import ElementTree

from lxml import etree

from aggregator.errors import AggregatorError


class OpmlError(AggregatorError):
    """The file is not OPML we can read; the message says why."""


@dataclass(frozen=True)
class OpmlFeed:
    """One ``<outline xmlUrl=...>`` of an OPML file."""

    title: str
    xml_url: str
    html_url: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class OpmlFolder:
    """An ``<outline>`` that groups feeds (a category, in a reader's terms)."""

    title: str
    feeds: Sequence[OpmlFeed]


def read_opml(data: bytes, where: str = "<opml>") -> list[OpmlFeed]:
    """Every outline with an ``xmlUrl``, nested ones included, in document order."""
    # No entities, no DTDs, no network: an OPML file is untrusted input (and lxml still expands
    # internal entities in attribute values, so a file declaring any is refused outright).
    if b"<!ENTITY" in data.upper():
        raise OpmlError(f"{where}: entity declarations are not allowed in OPML")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise OpmlError(f"{where}: not well-formed XML: {exc}") from None
    if not isinstance(root.tag, str) or etree.QName(root).localname.lower() != "opml":
        raise OpmlError(f"{where}: not an OPML file (root element <{root.tag}>)")
    feeds = []
    for outline in root.iter("{*}outline"):
        attrs = {k.lower(): v for k, v in outline.attrib.items()}
        url = (attrs.get("xmlurl") or "").strip()
        if not url:
            continue  # a folder (category) outline
        title = (attrs.get("title") or attrs.get("text") or "").strip()
        feeds.append(OpmlFeed(title or url, url, (attrs.get("htmlurl") or "").strip() or None))
    return feeds


def write_opml(
    outlines: Iterable[OpmlFeed | OpmlFolder], title: str = "energy-news aggregator feeds"
) -> bytes:
    """An OPML 2.0 document listing ``outlines``, feeds and folders of feeds (UTF-8, with an XML
    declaration). Empty folders are left out."""
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = title
    body = ElementTree.SubElement(root, "body")
    for outline in outlines:
        if isinstance(outline, OpmlFolder):
            if outline.feeds:
                folder = ElementTree.SubElement(
                    body, "outline", {"text": outline.title, "title": outline.title}
                )
                for feed in outline.feeds:
                    _feed_outline(folder, feed)
        else:
            _feed_outline(body, outline)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _feed_outline(parent: ElementTree.Element, feed: OpmlFeed) -> None:
    attrs = {"type": "rss", "text": feed.title, "title": feed.title}
    if feed.description:
        attrs["description"] = feed.description
    attrs["xmlUrl"] = feed.xml_url
    if feed.html_url:
        attrs["htmlUrl"] = feed.html_url
    ElementTree.SubElement(parent, "outline", attrs)


def source_name(feed: OpmlFeed, taken: set[str]) -> str:
    """A source name (``[a-z0-9][a-z0-9_-]*``) for an imported feed, unique among ``taken``:
    from its title when that has ASCII letters or digits, else from its host."""
    ascii_title = unicodedata.normalize("NFKD", feed.title).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "_", ascii_title.lower()).strip("_")[:40].strip("_")
    if not base:
        host = (urlsplit(feed.xml_url).hostname or "feed").removeprefix("www.")
        base = re.sub(r"[^a-z0-9]+", "_", host.lower()).strip("_")[:40] or "feed"
    if not base[0].isalnum():
        base = "feed_" + base
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name
