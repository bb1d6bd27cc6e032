"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1), mapped to feedparser's vocabulary.

feedparser 6.0.x reads only XML, so this small mapper turns a JSON Feed into the same shape
``feedparser.parse`` returns (``version``, ``feed``, ``entries`` with ``title``, ``link``, ``id``,
``summary``, ``published``, ``updated``...) and :mod:`aggregator.feeds` treats both alike.
"""

from __future__ import annotations

import json
from typing import Any

VERSION_PREFIX = "https://jsonfeed.org/version/"
VERSIONS = {"https://jsonfeed.org/version/1": "json1", "https://jsonfeed.org/version/1.1": "json11"}


class NotAJsonFeed(ValueError):
    """The body is JSON but not a JSON Feed, or not JSON at all; the message says which."""


def looks_like_json(body: bytes) -> bool:
    """Does the document start like a JSON object (after a BOM and whitespace)?"""
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def parse_json_feed(body: bytes) -> dict[str, Any]:
    """``{"version": "json1"|"json11", "feed": {...}, "entries": [...]}``, or raise
    :class:`NotAJsonFeed`. Items that are not objects are left out; fields of the wrong type are
    ignored rather than fatal (a broken feed still gives what it can)."""
    try:
        data = json.loads(body)  # bytes: UTF-8/16/32 detected by json itself, BOM included
    except UnicodeDecodeError as exc:
        raise NotAJsonFeed(f"JSON that is not UTF-8 ({exc.reason})") from None
    except ValueError as exc:
        raise NotAJsonFeed(f"invalid JSON ({exc})") from None
    except RecursionError:
        raise NotAJsonFeed("JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise NotAJsonFeed(f"JSON {type(data).__name__}, not a JSON Feed object")
    version = data.get("version")
    if not isinstance(version, str) or not version.startswith(VERSION_PREFIX):
        raise NotAJsonFeed("JSON that is not a JSON Feed (no jsonfeed.org version)")
    items = data.get("items")
    if not isinstance(items, list):
        raise NotAJsonFeed("a JSON Feed without an 'items' array")
    feed = {"title": _string(data.get("title")), "link": _string(data.get("home_page_url"))}
    return {
        # A later 1.x keeps 1.1's fields; call it by its own number.
        "version": VERSIONS.get(version.rstrip("/"), "json" + version[len(VERSION_PREFIX) :]),
        "feed": feed,
        "entries": [_entry(item) for item in items if isinstance(item, dict)],
    }


def _entry(item: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    guid = item.get("id")
    if isinstance(guid, int | float) and not isinstance(guid, bool):
        guid = str(guid)  # 1.0 feeds in the wild use numbers; the spec says string
    if _string(guid):
        entry["id"] = guid
    link = _string(item.get("url")) or _string(item.get("external_url"))
    if link:
        entry["link"] = link
    title = _string(item.get("title"))
    if title:
        entry["title"] = title
        entry["title_detail"] = {"type": "text/plain"}  # JSON Feed titles are plain text
    summary = _string(item.get("summary"))
    html = _string(item.get("content_html"))
    text = _string(item.get("content_text"))
    if summary:
        entry["summary"], entry["summary_detail"] = summary, {"type": "text/plain"}
    elif html:
        entry["summary"], entry["summary_detail"] = html, {"type": "text/html"}
    elif text:
        entry["summary"], entry["summary_detail"] = text, {"type": "text/plain"}
    for ours, theirs in (("published", "date_published"), ("updated", "date_modified")):
        value = _string(item.get(theirs))
        if value:
            entry[ours] = value  # RFC 3339; read by aggregator.dates
    return entry


def _string(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
