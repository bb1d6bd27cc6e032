"""Offline checks for Atom 1.0 (RFC 4287) and JSON Feed 1.1, the way tests/feedcheck.py checks RSS.

Atom: the W3C feed validator's rules that can apply to feeds like ours, with its message names
and levels (w = warning, else error):
  document  the same XML, encoding and character checks as RSS (SAXError, BadCharacters (w)...)
  structure root <feed> in the Atom namespace (InvalidNamespace), UndefinedElement for unknown
            Atom elements, MissingElement/DuplicateElement for id, title, updated (feed and
            entry), MissingAuthor (feed or every entry), MissingSelf (w), DuplicateEntries (w)
  values    id: InvalidFullLink/InvalidURN/SchemeNotIANARegistered (w); updated/published:
            InvalidRFC3339Date, ImplausibleDate (w); link: MissingHref, UnregisteredAtomLinkRel
            (w), SelfDoesntMatchLocation (w), DuplicateAtomLink (alternate with the same type);
            category: MissingAttribute (term); xml:lang: InvalidLanguage
  text      type must be text, html or xhtml (InvalidTextType); text: ContainsHTML (w) /
            CharacterData (w) as for RSS; html: NotHtml, SecurityRisk, SecurityRiskAttr (w)
  entry     MissingContentOrAlternate (no content and no rel=alternate link)

JSON Feed: ``validate_json_feed`` checks a document against ``tests/schemas/jsonfeed-1.1.json``
(our own transcription of https://www.jsonfeed.org/version/1.1/) with jsonschema, plus the rules
a schema cannot state: unique item ids, and feed_url equal to where the file is served.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import jsonschema
from lxml import etree

from tests.feedcheck import ATOM, ATOM_RELS, Element, Problem, _Checker, _elements, _words

RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")
FEED_CHILDREN = _words("""author category contributor generator icon id link logo rights
    subtitle title updated entry""")
ENTRY_CHILDREN = _words("""author category content contributor id link published rights
    source summary title updated""")
TEXT_CONSTRUCTS = {"title", "subtitle", "rights", "summary", "content"}
SCHEMA = Path(__file__).resolve().parent / "schemas" / "jsonfeed-1.1.json"


def validate_atom(
    data: bytes, location: str | None = None, *, now: float | None = None
) -> list[Problem]:
    """Check Atom bytes; ``location`` is the URL the feed is served from (for rel=self)."""
    return _AtomChecker(location, time.time() if now is None else now).run(data)


def validate_json_feed(data: bytes, location: str | None = None) -> list[str]:
    """Problems with a JSON Feed 1.1 document ([] when valid)."""
    try:
        feed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return [f"not UTF-8 JSON: {exc}"]
    schema = json.loads(SCHEMA.read_text("utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    problems = [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in validator.iter_errors(feed)
    ]
    if problems:
        return problems
    ids = [item["id"] for item in feed["items"]]
    if len(ids) != len(set(ids)):
        problems.append("items: duplicate id")
    if location and feed.get("feed_url") not in (None, location):
        problems.append(f"feed_url {feed['feed_url']!r} is not {location!r}")
    return problems


class _AtomChecker(_Checker):
    def _root(self, root: Element) -> None:
        q, line = etree.QName(root), root.sourceline
        if q.localname != "feed" or q.namespace != ATOM:
            self.e(line, "InvalidNamespace", f"root element {root.tag!r} is not Atom's <feed>")
            return
        self.version = "atom"
        self._lang_attr(root)
        children = self._children(root, FEED_CHILDREN, "feed")
        for name in ("id", "title", "updated"):
            self._exactly_one(root, children, name, "feed")
        self._links(children.get("link", []), "feed", feed=True)
        feed_author = bool(children.get("author"))
        ids: set[tuple[str, str]] = set()
        for entry in children.get("entry", []):
            self._entry(entry, feed_author, ids)

    def _children(
        self, el: Element, allowed: frozenset[str], where: str
    ) -> dict[str, list[Element]]:
        found: dict[str, list[Element]] = {}
        for child in _elements(el):
            q = etree.QName(child)
            if q.namespace != ATOM:
                continue  # extensions are not checked
            if q.localname not in allowed:
                self.e(child.sourceline, "UndefinedElement", f"<{q.localname}> in <{where}>")
                continue
            found.setdefault(q.localname, []).append(child)
            self._value(child, q.localname, where)
        return found

    def _exactly_one(
        self, el: Element, children: dict[str, list[Element]], name: str, where: str
    ) -> None:
        count = len(children.get(name, []))
        if count == 0:
            self.e(el.sourceline, "MissingElement", f"<{where}> has no <{name}>")
        elif count > 1:
            self.e(el.sourceline, "DuplicateElement", f"<{where}> has {count} <{name}>")

    def _entry(self, entry: Element, feed_author: bool, ids: set[tuple[str, str]]) -> None:
        children = self._children(entry, ENTRY_CHILDREN, "entry")
        for name in ("id", "title", "updated"):
            self._exactly_one(entry, children, name, "entry")
        if len(children.get("published", [])) > 1:
            self.e(entry.sourceline, "DuplicateElement", "<entry> has more than one <published>")
        if not feed_author and not children.get("author"):
            self.e(entry.sourceline, "MissingAuthor", "no <author> in the entry or the feed")
        links = children.get("link", [])
        self._links(links, "entry", feed=False)
        alternate = any(link.get("rel", "alternate") == "alternate" for link in links)
        if not children.get("content") and not alternate:
            self.e(entry.sourceline, "MissingContentOrAlternate", "no <content>, no alternate")
        key = (
            "".join(children["id"][0].itertext()) if children.get("id") else "",
            "".join(children["updated"][0].itertext()) if children.get("updated") else "",
        )
        if key in ids:
            self.w(entry.sourceline, "DuplicateEntries", f"two entries with id {key[0]!r}")
        ids.add(key)

    def _links(self, links: list[Element], where: str, *, feed: bool) -> None:
        seen: set[tuple[str, str]] = set()
        has_self = False
        for link in links:
            line, href = link.sourceline, link.get("href")
            rel = link.get("rel", "alternate")
            if not href:
                self.e(line, "MissingHref", f"<link> in <{where}> has no href")
                continue
            self._uri(href, "InvalidFullLink", "link", line)
            if rel not in ATOM_RELS and not rel.startswith(("http://", "https://")):
                self.w(line, "UnregisteredAtomLinkRel", f"rel={rel!r}")
            if rel == "alternate":
                key = (link.get("type", ""), link.get("hreflang", ""))
                if key in seen:
                    self.e(line, "DuplicateAtomLink", f"two alternate links of type {key[0]!r}")
                seen.add(key)
            if rel == "self":
                has_self = True
                if self.location and href != self.location:
                    self.w(line, "SelfDoesntMatchLocation", f"self is {href!r}")
        if feed and not has_self:
            self.w(None, "MissingSelf", "the feed has no <link rel='self'>")

    def _lang_attr(self, el: Element) -> None:
        lang = el.get("{http://www.w3.org/XML/1998/namespace}lang")
        if lang:
            self._lang(lang, "xml:lang", el.sourceline)

    def _value(self, el: Element, name: str, where: str) -> None:  # type: ignore[override]
        line, text = el.sourceline, "".join(el.itertext()).strip()
        self._lang_attr(el)
        if name == "id":
            if not text:
                self.e(line, "MissingElement", f"empty <id> in <{where}>")
            else:
                self._uri(text, "InvalidFullLink", "id", line)
        elif name in ("updated", "published"):
            self._rfc3339(text, name, line)
        elif name == "category" and not el.get("term"):
            self.e(line, "MissingAttribute", "<category> has no term")
        elif name in ("author", "contributor"):
            names = [c for c in _elements(el) if etree.QName(c).localname == "name"]
            if len(names) != 1 or not "".join(names[0].itertext()).strip():
                self.e(line, "MissingElement", f"<{name}> needs exactly one non-empty <name>")
        elif name in TEXT_CONSTRUCTS:
            kind = el.get("type", "text")
            if kind not in ("text", "html", "xhtml") and not (name == "content" and "/" in kind):
                self.e(line, "InvalidTextType", f"<{name}> type={kind!r}")
            elif kind == "html":
                self._html(el.text or "", name, line)
            elif kind == "text":
                self._plain(el, el.text or "", name)

    def _rfc3339(self, value: str, name: str, line: int | None) -> None:
        m = RFC3339.match(value)
        if not m:
            self.e(line, "InvalidRFC3339Date", f"<{name}> {value!r} is not an RFC 3339 date")
            return
        tomorrow = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now + 86400))
        if value < "1990-01-01" or value > tomorrow:
            self.w(line, "ImplausibleDate", f"<{name}> {value!r} is before 1990 or future")


def problems_of(path: Path, location: str, now: float) -> list[Any]:
    """Whichever checker fits the file's extension."""
    from tests.feedcheck import validate_rss

    data = path.read_bytes()
    if path.suffix == ".atom":
        return validate_atom(data, location, now=now)
    if path.suffix == ".json":
        return validate_json_feed(data, location)
    return validate_rss(data, location, now=now)
