"""Offline stand-in for the W3C Feed Validation Service, limited to RSS 2.0.

Every RSS 2.0 file we export has to pass the W3C feed validator (the w3c/feedvalidator
project behind https://validator.w3.org/feed/) with zero errors and zero warnings. That
validator is not on PyPI and there is no network here, so this module re-implements, in
our own code and wording, the W3C rules that can apply to feeds like ours. Problem codes
reuse the W3C message names so a failure can be looked up in the W3C docs, and each keeps
the level W3C gives it. W3C "info" notes (MissingDCLanguage, NonstdPrefix, ...) are
neither errors nor warnings and are not reported. Where we cannot mirror W3C exactly, we
lean towards reporting more, never less.

Rules covered (w = warning, everything else is an error):
  document  SAXError, UndefinedNamedEntity, UnicodeError, UnknownEncoding, BadXmlVersion,
            ObscureEncoding (w), BadCharacters (w)
  structure rss root: InvalidNamespace, MissingAttribute/InvalidRSSVersion (version),
            MissingElement/DuplicateElement (channel); UndefinedElement (unknown core,
            dc:, atom: or content: child), UnexpectedText, UnexpectedAttribute,
            UseOfExtensionAttr (w), UnknownNamespace (w), ReservedPrefix (w),
            DuplicateElement, DuplicateEnclosure (w), MisplacedItem (w),
            DuplicateSemantics/DuplicateItemSemantics (w)
  channel   MissingTitle, MissingLink, MissingDescription, MissingAtomSelfLink (w),
            AvoidTextInput (w), InvalidPositiveInteger (ttl), InvalidLanguage
  item      ItemMustContainTitleOrDescription, MissingGuid (w), NeedDescriptionBeforeContent (w)
  values    InvalidFullLink, InvalidUriChar, InvalidURN, InvalidUUID, InvalidTAG,
            SchemeNotIANARegistered (w) for link/docs/comments/source; guid: InvalidHttpGUID,
            InvalidPermalink, InvalidBooleanAttribute, DuplicateValue, NotSufficientlyUnique
            (w); dates: InvalidRFC2822Date, IncorrectDOW, ProblematicalRFC822Date (w),
            ImplausibleDate (w), InvalidW3CDTFDate (dc:date); InvalidContact, EmailFormat (w),
            MissingRealName (w), UnknownHost (w) for author/managingEditor/webMaster;
            enclosure attributes; NotBlank (w)
  text      ContainsHTML (w) and its RSS-profile form CharacterData (w) for title, channel
            description, copyright, category, source and the e-mail elements: decoded text
            with an HTML end tag, an entity such as ``&amp;amp;``, or ``<b``/``&#`` text,
            unless the start tag's raw line contains ``&#x`` (the W3C per-line exemption)
  html      NotHtml, SecurityRisk, SecurityRiskAttr, DangerousStyleAttr, ContainsRelRef
            (all w) for item description and content:encoded
  atom:link MissingHref, InvalidMIMEType, InvalidUriChar, SelfNotAtom (w),
            UnregisteredAtomLinkRel (w), AttrNotBlank (w), AtomLinkNotEmpty (w), RelativeSelf
            (w), SelfDoesntMatchLocation (w, only when ``location`` is given)
"""

from __future__ import annotations

import calendar
import codecs
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import getaddresses, mktime_tz, parsedate_tz
from html import unescape
from html.entities import html5, name2codepoint
from urllib.parse import unquote, urlsplit, urlunsplit

from lxml import etree

Element = etree._Element


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _pairs(text: str) -> list[tuple[str, str]]:
    return [(a, b) for a, _, b in (p.partition("=") for p in text.split())]


ATOM, DC = "http://www.w3.org/2005/Atom", "http://purl.org/dc/elements/1.1/"
CONTENT, XML = "http://purl.org/rss/1.0/modules/content/", "http://www.w3.org/XML/1998/namespace"
RSSBOARD_DOCS = "http://www.rssboard.org/rss-specification"
# Namespaces W3C knows (uri=prefix it expects); declaring any other one earns UnknownNamespace.
KNOWN_NS = dict(
    _pairs(f"""{ATOM}=atom {DC}=dc {CONTENT}=content http://purl.org/dc/terms/=dcterms
    http://search.yahoo.com/mrss/=media http://www.itunes.com/dtds/podcast-1.0.dtd=itunes
    http://purl.org/rss/1.0/modules/syndication/=sy http://purl.org/rss/1.0/modules/slash/=slash
    http://wellformedweb.org/CommentAPI/=wfw http://www.georss.org/georss=georss
    http://www.w3.org/2003/01/geo/wgs84_pos#=geo http://purl.org/syndication/thread/1.0=thr
    http://www.w3.org/1999/xhtml=xhtml http://www.w3.org/1999/02/22-rdf-syntax-ns#=rdf
    http://rssnamespace.org/feedburner/ext/1.0=feedburner""")
)
CHANNEL_CORE = _words("""title link description language copyright managingEditor webMaster
    pubDate lastBuildDate category generator docs cloud ttl image rating textInput skipHours
    skipDays item""")
ITEM_CORE = _words("title link description author category comments enclosure guid pubDate source")
METADATA = (CHANNEL_CORE - {"item", "rating"}) | {"atom:link"}  # MisplacedItem if after <item>
DC_NAMES = _words("""creator subject date title description publisher contributor type format
    identifier source language relation coverage rights""")
CHANNEL_EXT = {
    DC: DC_NAMES,
    CONTENT: frozenset(),
    ATOM: _words("""link author category
    contributor generator id icon logo title subtitle rights updated"""),
}
ITEM_EXT = {
    DC: DC_NAMES,
    CONTENT: _words("encoded"),
    ATOM: _words("""id link title summary
    author contributor content published updated"""),
}
# A core element and an extension with the same meaning: having both earns a warning.
CHANNEL_DUPES = _pairs("""managingEditor=dc:creator category=dc:subject pubDate=dc:date
    language=dc:language copyright=dc:rights webMaster=dc:publisher""")
ITEM_DUPES = _pairs("""author=dc:creator category=dc:subject pubDate=dc:date source=dc:source
    guid=atom:id pubDate=atom:published""")
# How each element's value is checked; anything else is free text.
KINDS = dict(
    _pairs("""title=title link=uri docs=uri comments=uri language=lang dc:language=lang
    copyright=plain dc:rights=plain category=category source=source managingEditor=email
    webMaster=email author=email pubDate=date lastBuildDate=date dc:date=w3cdtf ttl=ttl
    guid=guid enclosure=enclosure content:encoded=html image=box cloud=box textInput=box
    skipHours=box skipDays=box""")
)
ATTRS = {"category": {"domain"}, "guid": {"isPermaLink"}, "source": {"url"}}
ATTRS["enclosure"] = {"url", "length", "type"}
ISO639 = _words("""aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co
    cr cs cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he
    hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku
    kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mo mr ms mt my na nb nd ne ng nl nn no
    nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg sh si sk sl sm sn so
    sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh
    yi yo za zh zu x xx eng zho chi fra fre deu ger spa jpn kor rus""")
HTML_TAGS = _words("""a abbr acronym address applet area article aside audio b base basefont bdi
    bdo big blockquote body br button canvas caption center cite code col colgroup command
    comment data datagrid datalist dd del details dfn dialog dir div dl dt em embed eventsource
    fieldset figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6 head header
    hgroup hr html i iframe img input ins isindex kbd label legend li link listing m main map
    mark menu meta meter nav noframes noscript object ol optgroup option output p param picture
    plaintext pre progress q rp rt ruby s samp script section select slot small source span
    strike strong style sub summary sup table tbody td template textarea tfoot th thead time
    title tr track tt u ul var video wbr xmp""")
UNSAFE_TAGS = _words("""applet base basefont body comment embed frame frameset head html iframe
    isindex link listing meta noframes object param plaintext script slot style title xmp""")
VOID_TAGS = _words("""area base basefont br col embed frame hr img input isindex link meta param
    source track wbr""")
OPTIONAL_END = _words("body dd dt html li optgroup option p rp rt tbody td tfoot th thead tr")
RAW_TEXT = _words("iframe noframes plaintext script style textarea title xmp")
SAFE_ATTRS = _words("""abbr align alt axis bgcolor border cellpadding cellspacing cite class
    clear color cols colspan coords datetime dir download face headers height hreflang href
    hspace id ismap itemprop label lang loading longdesc name nowrap poster rel rev reversed rows
    rowspan rules scope shape size sizes span src srcset start style summary target title
    translate type usemap valign value vspace width xml:lang""")
SAFE_CSS = _words("""color background-color font-family font-size font-style font-weight
    text-align text-decoration text-indent line-height letter-spacing vertical-align white-space
    width height direction display float clear list-style-type""")
ATOM_RELS = _words("""alternate current describedby edit edit-media enclosure first hub last
    license next next-archive payment prev-archive previous related replies search self service
    up via""")
SELF_TYPES = _words("application/atom+xml application/rss+xml application/rdf+xml")
IANA_SCHEMES = _words("""http https ftp mailto news nntp telnet file data tag urn tel fax sip sips
    ldap imap pop rtsp xmpp dns info cid mid""")
COMMON_ENCODINGS = _words("""UTF-8 UTF-16 US-ASCII ISO-8859-1 ISO-8859-2 ISO-8859-7 ISO-8859-15
    EUC-JP KOI8-R SHIFT_JIS WINDOWS-1250 WINDOWS-1251 WINDOWS-1252 WINDOWS-1254 WINDOWS-1255
    WINDOWS-1256 GB18030""")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_D, _M = "|".join(DAYS), "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
RFC2822 = re.compile(
    rf"(?:(?:{_D}), )?\d\d? (?:{_M}) \d{{4}} \d\d:\d\d(?::\d\d)? "
    r"(?:[+-]?\d\d[03]0|UT|GMT|[ECMP][SD]T|Z)$"
)
RFC822_LOOSE = re.compile(
    rf"(?:(?:{_D})\s*,\s*)?\d\d?\s+(?:{_M})\s+\d\d(?:\d\d)?\s+\d\d:\d\d(?::\d\d)?\s+"
    r"(?:[+-]\d{4}|UT|GMT|[ECMP][SD]T|[A-IK-Z])?$",
    re.I,
)
W3CDTF = re.compile(
    r"(\d{4})(?:-(\d\d)(?:-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d)(?:\.\d*)?)?(?:Z|[+-]\d\d:\d\d))?)?)?$"
)
_UC = r"0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,"  # characters allowed in a URI (plus '#')
URI_CHAR = re.compile(f"[{_UC}#]")
FULL_URI = re.compile(rf"[a-zA-Z][0-9a-zA-Z+.\-]*:(//)?[{_UC}#]+$")
TAG_URI = re.compile(
    rf"tag:([a-z0-9._-]+@)?[a-z0-9.-]+,\d{{4}}(-\d\d(-\d\d)?)?:[{_UC}]*(#[{_UC}]*)?$"
)
URN = re.compile(r"urn:[a-z0-9][a-z0-9-]{1,31}:([a-z0-9()+,.:=@;$_!*'-]|%[0-9a-f]{2})+$", re.I)
UUID = re.compile(r"urn:uuid:[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$", re.I)
_TOK = r'[^\s()<>@,;:\\"/\[\]?=]+'
MIME = re.compile(rf'{_TOK}/{_TOK}(\s*;\s*{_TOK}=("(\\"|[^"])*"|{_TOK}))*$')
_HOST = r"(\d{1,3}\.\d{1,3}\.\d{1,3}\.|([A-Z0-9-]+\.)+)[A-Z0-9][-A-Z0-9]*"
EMAIL = re.compile(rf"[A-Z0-9_\-+.']+@{_HOST}$", re.I)
LOOSE_EMAIL = re.compile(r"[\w.%+-]+@[A-Za-z][\w.-]+$")
HTTP_URL = re.compile(rf"https?://{_HOST}(:\d+)?(/|$)", re.I)
_AV = r"(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?"  # optional attribute value
HTML_TAG = re.compile(
    rf"<(/?)([A-Za-z][A-Za-z0-9]*)(?P<attrs>(?:\s+[^\s\"'>/=]+{_AV})*)\s*(?P<close>/?)>"
)
HTML_ATTR = re.compile(rf"([^\s\"'>/=]+){_AV}")
CHAR_REF = re.compile(r"&(?:#[0-9]+;|#[xX][0-9a-fA-F]+;|([A-Za-z][A-Za-z0-9]*;))")
XML_DECL = re.compile(
    r"<\?xml\s+version\s*=\s*[\"']([^\"']*)[\"'](?:\s+encoding\s*=\s*[\"']([\w.-]+)[\"'])?"
)


@dataclass(frozen=True)
class Problem:
    level: str  # "error" | "warning"
    code: str  # the W3C message name
    message: str
    line: int | None = None


def validate_rss(
    data: bytes, location: str | None = None, *, now: float | None = None
) -> list[Problem]:
    """Check RSS bytes; ``location`` is the URL the feed is served from (for rel=self)."""
    return _Checker(location, time.time() if now is None else now).run(data)


def _elements(parent: Element) -> Iterator[Element]:
    return (c for c in parent if isinstance(c.tag, str))


def _bad_chars(s: str) -> bool:
    """C1 controls, U+FFFD, or UTF-8 that was decoded as Latin-1 and re-encoded."""
    if re.search("[\u0080-\u009f\ufffd]", s):
        return True
    if not re.search("[\u00c2\u00c3][\u0080-\u00bf]", s):
        return False
    try:
        s.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return False
    return True


def _bad_ref(text: str, at: int) -> bool:
    """HTML5 reads '&' as a character reference unless a space, '<', '&' or the end follows."""
    follower = text[at + 1 : at + 2]
    if not follower or follower.isspace() or follower in "<&":
        return False
    m = CHAR_REF.match(text, at)
    return m is None or (m.group(1) is not None and m.group(1) not in html5)


def _scan_html(text: str) -> tuple[str | None, list[tuple[str, list[tuple[str, str]]]]]:
    """Return (first HTML syntax problem or None, start tags with their attributes)."""
    tags: list[tuple[str, list[tuple[str, str]]]] = []
    stack: list[str] = []
    i = 0
    while (
        j := min((k for k in (text.find("<", i), text.find("&", i)) if k >= 0), default=-1)
    ) >= 0:
        i, snippet = j + 1, text[j : j + 12]
        if text[j] == "&":
            if _bad_ref(text, j):
                return f"bare '&' or unknown reference at {snippet!r}", tags
            continue
        if text.startswith("<!--", j):
            if (i := text.find("-->", j + 4) + 3) < 3:
                return "unterminated comment", tags
            continue
        if not (m := HTML_TAG.match(text, j)):
            return f"'<' that starts no tag at {snippet!r}", tags
        closing, tag, selfclose, i = m.group(1), m.group(2).lower(), m.group("close"), m.end()
        if closing:
            if tag not in stack:
                return f"stray end tag </{tag}>", tags
            while (top := stack.pop()) != tag:
                if top not in OPTIONAL_END:
                    return f"<{top}> closed by </{tag}>", tags
            continue
        attrs = [(a.lower(), v.strip("\"'")) for a, v in HTML_ATTR.findall(m.group("attrs"))]
        if len({a for a, _ in attrs}) != len(attrs):
            return f"duplicate attribute in <{tag}>", tags
        if any(_bad_ref(v, k) for _, v in attrs for k, c in enumerate(v) if c == "&"):
            return f"bare '&' in an attribute of <{tag}>", tags
        tags.append((tag, [(a, unescape(v)) for a, v in attrs]))
        if selfclose and tag not in VOID_TAGS:
            return f"<{tag}/> on a non-void element", tags
        if tag in RAW_TEXT and (i := text.lower().find(f"</{tag}", i)) < 0:
            return f"<{tag}> is never closed", tags
        if tag not in VOID_TAGS:
            stack.append(tag)
    unclosed = [t for t in stack if t not in OPTIONAL_END]
    return (f"<{unclosed[-1]}> is never closed" if unclosed else None), tags


def _safe_style(style: str) -> bool:
    low = style.lower()
    if not re.fullmatch(r"[\w\s:;#%.,!'\"()-]*", style) or "url(" in low or "expression" in low:
        return False
    decls = [d.partition(":") for d in low.split(";") if d.strip()]
    return all(sep and prop.strip() in SAFE_CSS for prop, sep, _ in decls)


def _norm_url(url: str) -> str:
    try:
        p = urlsplit(url.strip())
        port = p.port
    except ValueError:
        return url.strip()
    host = (p.hostname or "").lower()
    if port is not None and port != {"http": 80, "https": 443}.get(p.scheme.lower()):
        host = f"{host}:{port}"
    path = re.sub(r"%[0-9a-f]{2}", lambda m: m.group().upper(), p.path) or "/"
    return urlunsplit((p.scheme.lower(), host, path, p.query, ""))


class _Checker:
    def __init__(self, location: str | None, now: float) -> None:
        self.location, self.now = location, now
        self.problems: list[Problem] = []
        self.hex_lines: set[int] = set()
        self.guids: set[str] = set()
        self.version, self.rssboard = "2.0", False

    def e(self, line: int | None, code: str, message: str) -> None:
        self.problems.append(Problem("error", code, message, line))

    def w(self, line: int | None, code: str, message: str) -> None:
        self.problems.append(Problem("warning", code, message, line))

    def run(self, data: bytes) -> list[Problem]:
        if (text := self._decode(data)) is None:
            return self.problems
        # W3C exempts a plain-text element from the escaped-markup checks when the raw line of
        # its start tag contains "&#x" (hex character references, as the RSS profile advises).
        self.hex_lines = {n for n, ln in enumerate(text.split("\n"), 1) if "&#x" in ln}
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError as exc:
            code = "UndefinedNamedEntity" if "Entity '" in str(exc) else "SAXError"
            self.e(exc.lineno, code, f"not well-formed XML: {exc.msg}")
            return self.problems
        self._namespaces_and_chars(root)
        self._root(root)
        return self.problems

    def _decode(self, data: bytes) -> str | None:
        bom, head = None, data[:300].decode("latin-1")
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            bom, head = "utf-16", data.decode("utf-16", "replace")[:300]
        elif data.startswith(codecs.BOM_UTF8):
            bom, head = "utf-8", head[3:]
        m = XML_DECL.match(head)
        if m and m.group(1) != "1.0":
            self.e(1, "BadXmlVersion", f"XML version {m.group(1)!r} is not 1.0")
        declared = m.group(2) if m else None
        try:
            codec = codecs.lookup(declared or bom or "utf-8").name
        except LookupError:
            self.e(1, "UnknownEncoding", f"unknown encoding {declared!r}")
            return None
        if bom and codecs.lookup(bom).name != codec:
            self.e(1, "UnicodeError", f"byte-order mark contradicts encoding {declared!r}")
            return None
        if declared and declared.upper() not in COMMON_ENCODINGS:
            self.w(1, "ObscureEncoding", f"encoding {declared!r} is not widely supported")
        try:
            text = data.decode("utf-8-sig" if codec == "utf-8" else codec)
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            self.e(line, "UnicodeError", f"bytes are not {declared or codec}: {exc.reason}")
            return None
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def _namespaces_and_chars(self, root: Element) -> None:
        reserved = set(KNOWN_NS.values())
        for el in root.iter():
            texts = [el.tail or ""]
            if isinstance(el.tag, str):
                texts += [el.text or "", *el.attrib.values()]
                parent = el.getparent()
                inherited = {} if parent is None else parent.nsmap
                for prefix, uri in el.nsmap.items():
                    if inherited.get(prefix) == uri:
                        continue
                    if prefix in reserved and KNOWN_NS.get(uri) != prefix:
                        self.w(el.sourceline, "ReservedPrefix", f"{prefix!r} bound to {uri}")
                    elif uri and uri not in KNOWN_NS:
                        self.w(el.sourceline, "UnknownNamespace", f"unknown namespace {uri}")
            if any(_bad_chars(s) for s in texts):
                self.w(el.sourceline, "BadCharacters", "C1 control or mis-encoded characters")

    def _attrs(self, el: Element, allowed: set[str], core: bool = True) -> None:
        name = etree.QName(el).localname
        for key, value in el.attrib.items():
            q = etree.QName(key)
            if q.namespace == XML:
                if q.localname == "lang" and value:
                    self._lang(value, "xml:lang", el.sourceline)
            elif (q.namespace is None and q.localname not in allowed) or q.namespace in KNOWN_NS:
                self.e(el.sourceline, "UnexpectedAttribute", f"{key!r} not allowed on <{name}>")
            elif q.namespace is not None and core and not self.rssboard:
                self.w(el.sourceline, "UseOfExtensionAttr", f"{key!r} on <{name}>")

    def _no_text(self, el: Element) -> None:
        if (el.text or "").strip() or any((c.tail or "").strip() for c in el):
            self.e(el.sourceline, "UnexpectedText", f"stray text in <{etree.QName(el).localname}>")

    def _key(
        self, el: Element, core: frozenset[str], ext: dict[str, frozenset[str]], parent: str
    ) -> str | None:
        ns, local = etree.QName(el).namespace, etree.QName(el).localname
        if ns is None and local in core:
            return local
        if ns in ext and local in ext[ns]:
            return f"{KNOWN_NS[ns]}:{local}"
        if ns is None or ns in ext:
            name = f"{KNOWN_NS[ns]}:{local}" if ns else local
            self.e(el.sourceline, "UndefinedElement", f"<{name}> is not allowed in <{parent}>")
        return None  # elements of other namespaces are extensions we do not check

    def _root(self, root: Element) -> None:
        q, line = etree.QName(root), root.sourceline
        if q.localname != "rss":
            self.e(line, "UndefinedElement", f"root element <{q.localname}> is not <rss>")
            return
        if q.namespace:
            self.e(line, "InvalidNamespace", "<rss> must not be in a namespace")
        docs = root.find("channel/docs")
        self.rssboard = docs is not None and (docs.text or "").strip() == RSSBOARD_DOCS
        self._attrs(root, {"version"})
        self._no_text(root)
        if (version := root.get("version")) is None:
            self.e(line, "MissingAttribute", "<rss> has no version attribute")
        elif version not in ("0.91", "0.92", "2.0"):
            self.e(line, "InvalidRSSVersion", f"unsupported RSS version {version!r}")
        self.version = version or "2.0"
        no_ext = {ATOM: frozenset(), DC: frozenset(), CONTENT: frozenset()}
        channels = [c for c in _elements(root) if self._key(c, _words("channel"), no_ext, "rss")]
        if not channels:
            self.e(line, "MissingElement", "<rss> has no <channel>")
        for extra in channels[1:]:
            self.e(extra.sourceline, "DuplicateElement", "more than one <channel>")
        if channels:
            self._channel(channels[0])

    def _channel(self, ch: Element) -> None:
        self._attrs(ch, set())
        self._no_text(ch)
        seen: list[str] = []
        items_before: list[int | None] = []
        has_self = False
        for child in _elements(ch):
            if (key := self._key(child, CHANNEL_CORE, CHANNEL_EXT, "channel")) is None:
                continue
            if key in METADATA:
                for line in items_before:
                    self.w(line, "MisplacedItem", "<item> precedes channel metadata")
                items_before.clear()
            if key in seen and key in CHANNEL_CORE - {"category", "item"}:
                self.e(child.sourceline, "DuplicateElement", f"more than one <{key}> in channel")
            seen.append(key)
            if key == "item":
                items_before.append(child.sourceline)
                self._item(child)
            elif key == "atom:link":
                has_self |= self._atom_link(child, in_channel=True)
            else:
                self._value(child, key, "channel")
        for need in ("title", "link", "description"):
            if need not in seen:
                self.e(ch.sourceline, f"Missing{need.title()}", f"<channel> lacks <{need}>")
        if self.version == "2.0" and not has_self:
            self.w(ch.sourceline, "MissingAtomSelfLink", "no <atom:link rel='self'> in channel")
        self._dupes(seen, CHANNEL_DUPES, "DuplicateSemantics", ch.sourceline)

    def _item(self, item: Element) -> None:
        self._attrs(item, set())
        self._no_text(item)
        seen: list[str] = []
        for child in _elements(item):
            if (key := self._key(child, ITEM_CORE, ITEM_EXT, "item")) is None:
                continue
            line = child.sourceline
            if key == "enclosure" and key in seen:
                self.w(line, "DuplicateEnclosure", "more than one <enclosure> in item")
            elif key in seen and key in ITEM_CORE - {"category"}:
                self.e(line, "DuplicateElement", f"more than one <{key}> in item")
            if key == "content:encoded" and "description" not in seen:
                self.w(line, "NeedDescriptionBeforeContent", "no <description> before it")
            seen.append(key)
            if key == "atom:link":
                self._atom_link(child, in_channel=False)
            else:
                self._value(child, key, "item")
        line = item.sourceline
        if "title" not in seen and "description" not in seen:
            self.e(line, "ItemMustContainTitleOrDescription", "<item> lacks title and description")
        if "guid" not in seen and self.version.startswith("2."):
            self.w(line, "MissingGuid", "<item> has no <guid>")
        self._dupes(seen, ITEM_DUPES, "DuplicateItemSemantics", line)

    def _dupes(self, seen: list[str], pairs: list[tuple[str, str]], code: str, line: int | None):
        for core, ext in pairs:
            if core in seen and ext in seen:
                self.w(line, code, f"both <{core}> and <{ext}> are present")

    def _value(self, el: Element, key: str, scope: str) -> None:
        kind, line = KINDS.get(key, "text"), el.sourceline
        if key == "description":
            kind = "html" if scope == "item" and self.version != "0.91" else "plain"
        if kind == "box":  # image, cloud, textInput, skipHours, skipDays: contents unchecked
            if key == "textInput":
                self.w(line, "AvoidTextInput", "<textInput> is poorly supported")
            return
        self._attrs(el, ATTRS.get(key, set()))
        if len(el):
            self.e(line, "UndefinedElement", f"<{key}> may only contain text")
        value = "".join(el.itertext()).strip()
        if not value and (key == "title" or kind == "ttl" or (kind, scope) == ("category", "item")):
            self.w(line, "NotBlank", f"<{key}> is empty")
        if kind in ("title", "plain", "category", "source"):
            self._plain(el, value, key)
        if kind == "source":
            if (url := el.get("url")) is None:
                self.e(line, "MissingAttribute", "<source> needs a url attribute")
            else:
                self._uri(url, "InvalidFullLink", "source@url", line)
        elif kind == "uri":
            self._uri(value, "InvalidFullLink", key, line)
        elif kind == "lang":
            self._lang(value, key, line)
        elif kind == "email":
            self._email(el, value, key)
        elif kind == "date":
            self._rfc822(value, key, line)
        elif kind == "w3cdtf":
            self._w3cdtf(value, key, line)
        elif kind == "ttl" and not (value.isdigit() and int(value) > 0):
            self.e(line, "InvalidPositiveInteger", f"<ttl> {value!r} is not a positive integer")
        elif kind == "guid":
            self._guid(el, value)
        elif kind == "enclosure":
            self._enclosure(el)
        elif kind == "html":
            self._html(value, key, line)

    def _plain(self, el: Element, value: str, name: str) -> None:
        line, exempt = el.sourceline, el.sourceline in self.hex_lines
        tags = [t for t in re.findall(r"</(\w+)>", value) if t.lower() in HTML_TAGS]
        entities = re.findall(r"&(#?\w+)", value)
        if tags:
            self.w(line, "ContainsHTML", f"<{name}> is plain text but contains </{tags[0]}>")
        elif entities:
            bad = [x for x in entities if x in name2codepoint or x == "apos" or not x.isalpha()]
            if bad and not exempt:
                self.w(line, "ContainsHTML", f"<{name}> contains the escaped entity &{bad[0]};")
        elif (
            not exempt
            and self.version.startswith("2.")
            and re.search(r"&#[x0-9]|<[/a-zA-Z]", value)
        ):
            self.w(line, "CharacterData", f"<{name}> has markup-like text; use &#x3C; / &#x26;")

    def _uri(self, value: str, bad: str, name: str, line: int | None) -> bool:
        scheme = value.split(":")[0].lower()
        if scheme in ("tag", "urn"):
            if scheme == "urn" and value.lower().startswith("urn:uuid:") and not UUID.match(value):
                self.e(line, "InvalidUUID", f"<{name}> {value!r} is not a valid UUID URN")
                return False
            if (TAG_URI if scheme == "tag" else URN).match(value):
                return True
            self.e(line, f"Invalid{scheme.upper()}", f"<{name}> {value!r} is malformed")
            return False
        if not FULL_URI.match(value):
            if char := next((c for c in value if ord(c) < 128 and not URI_CHAR.match(c)), ""):
                self.e(line, "InvalidUriChar", f"<{name}> {value!r} contains {char!r}")
            else:
                self.e(line, bad, f"<{name}> {value!r} is not an absolute URI")
            return False
        if scheme in ("http", "https", "ftp") and not re.match(r"\w+://[^/]", value):
            self.e(line, bad, f"<{name}> {value!r} has no host")
            return False
        if scheme.isalpha() and scheme not in IANA_SCHEMES:
            self.w(line, "SchemeNotIANARegistered", f"<{name}> uses scheme {scheme!r}")
            return False
        return True

    def _lang(self, value: str, name: str, line: int | None) -> None:
        if value.split("-", 1)[0].lower() not in ISO639:
            self.e(line, "InvalidLanguage", f"<{name}> {value!r} is not an ISO 639 code")

    def _email(self, el: Element, value: str, name: str) -> None:
        line = el.sourceline
        if value.startswith("mailto:"):
            value = unquote(value[7:])
        if value.find("@") > 0 and not value.endswith(")"):
            code = "EmailFormat" if value.find(" ") > 0 else "MissingRealName"
            self.w(line, code, f"<{name}> should read 'address (Real Name)'")
            return
        self._plain(el, value, name)
        found = getaddresses([value])
        if EMAIL.match(addr := (found[0][1] if len(found) == 1 else "") or value):
            return
        if LOOSE_EMAIL.match(addr):  # W3C would look the host up in DNS
            self.w(line, "UnknownHost", f"<{name}> host cannot be checked offline")
        else:
            self.e(line, "InvalidContact", f"<{name}> {value!r} is not an e-mail address")

    def _rfc822(self, value: str, name: str, line: int | None) -> None:
        if RFC2822.match(value) and (parts := parsedate_tz(value)) is not None:
            year, month, day = parts[:3]
            if year > 1900:
                try:
                    weekday = DAYS[calendar.weekday(year, month, day)]
                except ValueError:
                    self.e(line, "InvalidRFC2822Date", f"<{name}> {value!r} is not a real day")
                    return
                if value.find(",") > 0 and weekday.lower() != value[:3].lower():
                    self.e(line, "IncorrectDOW", f"<{name}> {value!r} falls on a {weekday}")
                    return
            if year < 1990 or mktime_tz(parts) > self.now + 600:
                self.w(line, "ImplausibleDate", f"<{name}> {value!r} is before 1990 or future")
            return
        loose, previous = re.sub(r"\\.", "", value), ""
        while previous != loose:  # drop RFC 822 comments, innermost first
            previous, loose = loose, re.sub(r"\([^(]*?\)", " ", loose)
        if RFC822_LOOSE.match(loose.strip()):
            self.w(line, "ProblematicalRFC822Date", f"<{name}> {value!r} is not RFC 2822 style")
        else:
            self.e(line, "InvalidRFC2822Date", f"<{name}> {value!r} is not an RFC 822 date")

    def _w3cdtf(self, value: str, name: str, line: int | None) -> None:
        m = W3CDTF.match(value)
        nums = [int(g) for g in m.groups() if g is not None] if m else []
        try:
            if m is None or (len(nums) > 3 and (nums[3] > 23 or max(nums[4:]) > 60)):
                raise ValueError(value)
            if len(nums) >= 3:
                calendar.weekday(*nums[:3])  # ValueError for a day that does not exist
        except ValueError:
            self.e(line, "InvalidW3CDTFDate", f"<{name}> {value!r} is not a W3C-DTF date")
            return
        tomorrow = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now + 86400))
        if value < "1990-01-01" or value > tomorrow:
            self.w(line, "ImplausibleDate", f"<{name}> {value!r} is before 1990 or future")

    def _guid(self, el: Element, value: str) -> None:
        line, perma = el.sourceline, el.get("isPermaLink")
        if perma is not None and perma not in ("true", "false"):
            self.e(line, "InvalidBooleanAttribute", f"isPermaLink={perma!r} is not true/false")
        if not value:
            self.w(line, "NotBlank", "<guid> is empty")
        elif value in self.guids:
            self.e(line, "DuplicateValue", f"<guid> {value!r} is used by another item")
        self.guids.add(value)
        if perma in (None, "true"):
            is_uri = self._uri(value, "InvalidHttpGUID", "guid", line)
            if is_uri and value.lower().startswith(("tag:", "urn:uuid:")):
                self.e(line, "InvalidPermalink", f"<guid> {value!r} is not a permalink")
        elif len(value) < 9 and value.isdigit():
            self.w(line, "NotSufficientlyUnique", f"<guid> {value!r} is too short to be unique")

    def _enclosure(self, el: Element) -> None:
        line, length, typ, url = el.sourceline, el.get("length"), el.get("type"), el.get("url")
        for attr, val in (("url", url), ("length", length), ("type", typ)):
            if val is None:
                self.e(line, "MissingAttribute", f"<enclosure> needs a {attr} attribute")
        if length is not None and not re.fullmatch(r"-?\d+", length.strip()):
            self.e(line, "InvalidIntegerAttribute", f"enclosure length {length!r}")
        elif length is not None and int(length) < 0:
            code = "UseZeroForUnknown" if int(length) == -1 else "InvalidNonNegativeInteger"
            self.e(line, code, f"enclosure length {length!r} is negative")
        if typ is not None and not MIME.match(typ):
            self.e(line, "InvalidMIMEAttribute", f"enclosure type {typ!r}")
        if url is not None and not (HTTP_URL.match(url) and FULL_URI.match(url)):
            self.e(line, "InvalidURLAttribute", f"enclosure url {url!r} is not an http(s) URL")

    def _html(self, value: str, name: str, line: int | None) -> None:
        problem, tags = _scan_html(value)
        if problem:
            self.w(line, "NotHtml", f"<{name}> is not valid HTML: {problem}")
        for tag, attrs in [] if problem else tags:
            if tag not in HTML_TAGS or tag in UNSAFE_TAGS:
                code = "SecurityRisk" if tag in HTML_TAGS else "NotHtml"
                self.w(line, code, f"<{name}> contains <{tag}>")
                continue
            for attr, val in attrs:
                if attr == "style" and not _safe_style(val):
                    self.w(line, "DangerousStyleAttr", f"<{name}> has style {val!r}")
                elif attr not in SAFE_ATTRS and not attr.startswith("data-"):
                    self.w(line, "SecurityRiskAttr", f"<{name}> uses attribute {attr!r}")
        for tag, attrs in tags:
            for attr, ref in attrs:
                if (tag, attr) not in (("a", "href"), ("img", "src")) or re.match(r"\w+:", ref):
                    continue
                if any(ord(c) < 128 and not URI_CHAR.match(c) for c in ref.strip()):
                    self.e(line, "InvalidUriChar", f"<{name}> links to malformed {ref!r}")
                else:
                    self.w(line, "ContainsRelRef", f"<{name}> links to relative {ref!r}")

    def _atom_link(self, el: Element, in_channel: bool) -> bool:
        line, where = el.sourceline, "<atom:link>"
        self._attrs(el, {"type", "title", "rel", "href", "length", "hreflang"}, core=False)
        if (el.text or "").strip():
            self.w(line, "AtomLinkNotEmpty", f"{where} should be empty")
        rel = el.get("rel", "alternate").removeprefix("http://www.iana.org/assignments/relation/")
        if not rel:
            self.w(line, "AttrNotBlank", f"{where} has an empty rel")
        elif rel not in ATOM_RELS and not FULL_URI.match(rel):
            self.w(line, "UnregisteredAtomLinkRel", f"{where} rel {rel!r} is unregistered")
        if (typ := el.get("type")) is not None and not MIME.match(typ):
            self.e(line, "InvalidMIMEType", f"{where} type {typ!r} is not a MIME type")
        elif rel == "self" and typ is not None and typ.split(";")[0] not in SELF_TYPES:
            self.w(line, "SelfNotAtom", f"rel=self {where} has type {typ!r}")
        if (hreflang := el.get("hreflang")) is not None:
            self._lang(hreflang, "atom:link@hreflang", line)
        if (href := el.get("href")) is None:
            self.e(line, "MissingHref", f"{where} has no href")
        elif any(ord(c) < 128 and not URI_CHAR.match(c) for c in href):
            self.e(line, "InvalidUriChar", f"{where} href {href!r} has illegal characters")
        if href is not None and rel == "self" and in_channel:
            if not urlsplit(href).netloc:
                self.w(line, "RelativeSelf", f"rel=self href {href!r} is relative")
            elif self.location is not None and _norm_url(href) != _norm_url(self.location):
                msg = f"rel=self href {href!r} is not the feed's location {self.location!r}"
                self.w(line, "SelfDoesntMatchLocation", msg)
        return rel == "self"
