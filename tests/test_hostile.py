"""The hostile-input catalogue (tests/hostile/): every case through the real pure functions,
then through one loopback crawl of them all.

Each case file states what it tests and what must happen in a TOML comment at its top (see
tests/hostile/README.md). Whatever the case, these always hold:

* no crash: a bad page or feed is at most a clear per-source error (an ``AggregatorError``);
* nothing stored is lost: an article stored before the case is still there, unchanged;
* no markup, invisible or XML-illegal characters in stored text;
* no unsafe URL (javascript:, vbscript:, data:, file:..., entity-encoded or not) stored or
  exported; every exported RSS, Atom and JSON feed passes its checker (tests/feedcheck.py,
  tests/feedcheck_atom.py) with 0 errors, and feeds.opml and index.html carry no injected markup.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import time
import tomllib
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from lxml import etree

from aggregator.config import Selectors, Source
from aggregator.errors import AggregatorError
from aggregator.export import FORMATS, export_feeds
from aggregator.extract import decode_html, extract_list
from aggregator.feeds import parse_feed
from aggregator.items import Article
from aggregator.normalize import normalize
from aggregator.sitefarm import SiteFarm
from aggregator.store import Store
from aggregator.urls import canonical_url
from tests.conftest import ROOT, run_newsagg
from tests.feedcheck import validate_rss
from tests.feedcheck_atom import validate_atom, validate_json_feed

HOSTILE = ROOT / "tests" / "hostile"
CASE_SUFFIXES = (".html", ".xml", ".toml")
PURE_ORIGIN = "http://news.example"
NOW = datetime(2026, 2, 25, 3, 0, tzinfo=UTC)
DEFAULT_SELECTORS = {
    "item": "ul.news li",
    "title": "a",
    "link": "a::attr(href)",
    "snippet": "p",
    "date": "span.time",
}
SENTINEL = "http://sentinel.example/stored-before.html"

# Stored text must not carry these: tags, C0/C1 controls, lone surrogates, non-characters,
# bidi controls, zero-width characters.
_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?]")
_BAD_CHARS = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff]"
)
_DIGEST_TAGS = {"h3", "ul", "li", "a", "p"}
_UNSAFE_SCHEME = re.compile(r"^\s*(?:javascript|vbscript|data|file|about|blob):", re.I)


@dataclass
class Case:
    """One file of the catalogue and what it expects."""

    name: str  # "security/script_in_title"
    path: Path
    meta: dict[str, Any]
    body: bytes
    suffix: str  # how the crawl serves it: ".html" or ".xml" or ".json"

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")

    @property
    def host(self) -> str:
        """The case's own host name in the crawl (pinned to 127.0.0.1), so that no two cases
        share article URLs."""
        return f"c{hashlib.sha1(self.name.encode()).hexdigest()[:10]}.hostile.test"

    @property
    def kind(self) -> str:
        return str(self.meta["kind"])

    @property
    def rel_url(self) -> str:
        return f"{self.name}{self.suffix}"


def load_case(path: Path) -> Case:
    name = path.relative_to(HOSTILE).with_suffix("").as_posix()
    if path.suffix == ".toml":
        meta = tomllib.loads(path.read_text("utf-8"))
        if "file" in meta:
            data = path.with_name(meta["file"])
            body, suffix = data.read_bytes(), data.suffix
        else:
            body = GENERATORS[meta["generate"]]()
            suffix = ".xml" if meta["kind"] == "feed" else ".html"
    else:
        raw = path.read_bytes()
        header = re.search(rb"<!--(.*?)-->", raw, re.S)
        assert header, f"{path}: no TOML header comment"
        meta = tomllib.loads(header.group(1).decode("utf-8"))
        body, suffix = raw, path.suffix
    for key in ("tests", "expect", "kind"):
        assert key in meta, f"{path}: the header must say {key!r}"
    return Case(name, path, meta, body, suffix)


# -- generated cases (too big to keep as files) ------------------------------------------------


def _deep_nesting() -> bytes:
    depth = 20_000
    return (
        b"<html><body>"
        + b"<div>" * depth
        + '<ul class="news"><li><a href="/a/deep.html">嵌套很深的标题</a></li></ul>'.encode()
        + b"</div>" * depth
        + b"</body></html>"
    )


def _many_items() -> bytes:
    items = "".join(
        f'<li><a href="/a/{n}.html">第{n}条新闻：储能与电网</a><p>摘要 {n}</p></li>'
        for n in range(5000)
    )
    return f'<html><body><ul class="news">{items}</ul></body></html>'.encode()


def _huge_title() -> bytes:
    title = "光伏" * 500_000  # 1,000,000 characters
    return f'<ul class="news"><li><a href="/a/1.html">{title}</a></li></ul>'.encode()


def _quadratic_blowup() -> bytes:
    entity = "A" * 50_000
    refs = "&a;" * 5_000  # 250 MB if expanded
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{entity}">]>'
        f'<rss version="2.0"><channel><title>t</title><link>http://news.example/</link>'
        f"<description>d</description><item><title>{refs}</title>"
        f"<link>http://news.example/a/1.html</link></item></channel></rss>"
    ).encode()


def _many_entries_feed() -> bytes:
    items = "".join(
        f"<item><title>Entry {n}</title><link>http://news.example/e/{n}.html</link>"
        f"<description>Summary {n}</description></item>"
        for n in range(5000)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<link>http://news.example/</link><description>d</description>{items}</channel></rss>"
    ).encode()


def _png() -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


GENERATORS = {
    "png": _png,
    "dropped_connection": bytes,  # the farm's /_farm/broken/ answers; the body is not used
    "deep_nesting": _deep_nesting,
    "many_items": _many_items,
    "huge_title": _huge_title,
    "quadratic_blowup": _quadratic_blowup,
    "many_entries_feed": _many_entries_feed,
}


@cache
def all_cases() -> tuple[Case, ...]:
    paths = sorted(p for p in HOSTILE.rglob("*") if p.suffix in CASE_SUFFIXES and p.is_file())
    return tuple(load_case(p) for p in paths)


def _params(crawled: bool) -> list[Any]:
    params = []
    for case in all_cases():
        if crawled and case.meta.get("crawl") is False:
            continue
        if not crawled and case.meta.get("crawl_only"):
            continue
        reason = case.meta.get("xfail_crawl" if crawled else "xfail") or case.meta.get("xfail")
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


# -- the checks ------------------------------------------------------------------------------


@dataclass
class Outcome:
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def _subst(value: str, base: str, origin: str) -> str:
    return value.replace("{base}", base).replace("{origin}", origin)


def check_rows(case: Case, rows: list[dict[str, Any]], base: str, origin: str) -> None:
    """The catalogue's invariants on stored rows, then the case's own expectations."""
    for row in rows:
        for column in ("title", "snippet"):
            text = row[column] or ""
            assert not _MARKUP.search(text), f"markup in {column}: {text[:200]!r}"
            assert not _BAD_CHARS.search(text), f"bad character in {column}: {text[:200]!r}"
            # NFKC, but for the "…" that marks a cut (NFKC would make it "...")
            uncut = text[:-1] if text.endswith("…") else text
            assert unicodedata.is_normalized("NFKC", uncut), f"{column} is not NFKC"
            assert text == text.strip() and "  " not in text, f"{column} whitespace: {text!r}"
        assert row["title"], "a stored row has no title"
        assert len(row["title"]) <= 512
        for column in ("url", "canonical_url"):
            url = row[column] or ""
            if column == "url" and not url:
                continue  # a feed entry without a link: its key is a urn
            if url.startswith("urn:newsagg:"):
                continue
            parts = urlsplit(url)
            assert parts.scheme in ("http", "https") and parts.hostname, f"{column}: {url!r}"
            assert not re.search(r"[\s\\<>\"]", url), f"{column} not escaped: {url!r}"
        assert not _UNSAFE_SCHEME.match(row["guid"] or "") or not row["url"]
    meta = case.meta
    if "items" in meta:
        assert len(rows) == meta["items"], [r["title"] for r in rows][:10]
    if "titles" in meta:
        assert [r["title"] for r in rows] == meta["titles"]
    if "snippets" in meta:
        assert [r["snippet"] for r in rows] == meta["snippets"]
    if "dates" in meta:
        assert [r["published_at"] or "" for r in rows] == meta["dates"]
    if "flags" in meta:
        assert [r["flags"] for r in rows] == meta["flags"]
    if "urls" in meta:
        assert [r["canonical_url"] for r in rows] == [_subst(u, base, origin) for u in meta["urls"]]
    for forbidden in meta.get("absent", []):
        for row in rows:
            blob = json.dumps({k: v for k, v in row.items() if k != "source"}, ensure_ascii=False)
            assert forbidden not in blob, f"{forbidden!r} was stored: {blob[:300]}"


def check_error(case: Case, error: str | None) -> None:
    expected = case.meta.get("error")
    if expected is None:
        assert error is None, f"unexpected error: {error}"
    else:
        assert error is not None, "expected a clear error, got none"
        assert expected in error, error


EXPORT_BASE = "https://feeds.example/"
CHECK_NOW = NOW.timestamp() + 300
ATOM_NS = "{http://www.w3.org/2005/Atom}"
_HTML_PARSER = etree.HTMLParser(no_network=True)
_URL_ATTRS = ("href", "src", "action", "formaction", "xmlUrl", "htmlUrl", "url")


def check_safe_markup(markup: str, where: str) -> None:
    """HTML we export (a feed's content, index.html): no script-bearing elements, no event
    handlers or style attributes, every URL attribute a clean http(s) or relative one."""
    if not markup.strip():
        return
    root = etree.fromstring(f"<html><body>{markup}</body></html>", _HTML_PARSER)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower()
        assert tag not in {"script", "iframe", "object", "embed", "form", "base", "meta"} or (
            tag == "meta" and set(element.attrib) <= {"charset", "name", "content"}
        ), f"{where}: <{tag}> exported"
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), f"{where}: {name}= exported"
            if name in _URL_ATTRS:
                check_safe_url(value, where)


def check_safe_url(url: str, where: str, *, absolute: bool = False) -> None:
    assert not _UNSAFE_SCHEME.match(url), f"{where}: unsafe URL exported: {url!r}"
    assert not re.search(r"[\s\\<>\"]", url), f"{where}: URL not escaped: {url!r}"
    scheme = urlsplit(url).scheme
    if absolute or scheme:
        if url.startswith("urn:newsagg:") or url.startswith("tag:"):
            return
        assert scheme in ("http", "https"), f"{where}: {url!r}"


def check_plain_text(text: str, where: str) -> None:
    assert not _MARKUP.search(text), f"{where}: markup exported: {text[:200]!r}"


def check_rss_file(data: bytes, name: str, now: float = CHECK_NOW) -> None:
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    assert root.tag == "rss", name
    problems = validate_rss(data, EXPORT_BASE + name, now=now)
    errors = [p for p in problems if p.level == "error"]
    assert not errors, f"{name}: {errors[:3]}"
    for item in root.iter("item"):
        for tag in ("link", "guid"):
            value = item.findtext(tag) or ""
            assert not _UNSAFE_SCHEME.match(value), f"unsafe {tag} exported: {value!r}"
        description = item.findtext("description") or ""
        # sanitised HTML: a digest's body, "also: <a>...</a>" for a story several sources carry
        check_safe_markup(description, f"{name} description")
        if name.startswith("digest-"):  # our own digest HTML: only its few tags
            tags = set(re.findall(r"</?([A-Za-z0-9]+)", description))
            assert tags <= _DIGEST_TAGS, f"markup exported: {description[:200]!r}"
        for encoded in item.iter("{http://purl.org/rss/1.0/modules/content/}encoded"):
            check_safe_markup(encoded.text or "", f"{name} content:encoded")
        check_plain_text(item.findtext("title") or "", f"{name} title")


def check_atom_file(data: bytes, name: str, now: float = CHECK_NOW) -> None:
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    assert root.tag == ATOM_NS + "feed", name
    problems = validate_atom(data, EXPORT_BASE + name, now=now)
    errors = [p for p in problems if p.level == "error"]
    assert not errors, f"{name}: {errors[:3]}"
    for entry in root.iter(ATOM_NS + "entry"):
        check_safe_url(entry.findtext(ATOM_NS + "id") or "", f"{name} id", absolute=True)
        for link in entry.iter(ATOM_NS + "link"):
            check_safe_url(link.get("href", ""), f"{name} link", absolute=True)
        title = entry.find(ATOM_NS + "title")
        assert title is not None and title.get("type", "text") == "text", name
        check_plain_text(title.text or "", f"{name} title")
        for tag in ("summary", "content"):
            for element in entry.iter(ATOM_NS + tag):
                if element.get("type") == "html":
                    check_safe_markup(element.text or "", f"{name} {tag}")
                else:
                    assert element.get("type", "text") == "text", f"{name} {tag}"
                    check_plain_text(element.text or "", f"{name} {tag}")


def check_json_file(data: bytes, name: str) -> None:
    problems = validate_json_feed(data, EXPORT_BASE + name)
    assert not problems, f"{name}: {problems[:3]}"
    for item in json.loads(data)["items"]:
        for key in ("url", "external_url"):
            if key in item:
                check_safe_url(item[key], f"{name} {key}", absolute=True)
        check_plain_text(item.get("title", ""), f"{name} title")
        check_plain_text(item.get("summary", ""), f"{name} summary")
        check_plain_text(item.get("content_text", ""), f"{name} content_text")
        check_safe_markup(item.get("content_html", ""), f"{name} content_html")


OPML_ATTRS = {"version", "text", "title", "description", "type", "xmlUrl", "htmlUrl"}
INDEX_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "link",
    "body",
    "h1",
    "h2",
    "p",
    "ul",
    "li",
    "a",
    "small",
    "br",
}


def check_opml_file(data: bytes) -> None:
    """Well-formed, only OPML's own elements and attributes (text cannot have broken out of an
    attribute), every feed URL clean."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    assert root.tag == "opml"
    tags = {e.tag for e in root.iter() if isinstance(e.tag, str)}
    assert tags <= {"opml", "head", "title", "body", "outline"}, tags
    outlines = list(root.iter("outline"))
    assert any(o.get("xmlUrl") for o in outlines), "feeds.opml lists no feed"
    for outline in outlines:
        assert set(outline.attrib) <= OPML_ATTRS, outline.attrib
        for name in ("xmlUrl", "htmlUrl"):
            if outline.get(name) is not None:
                check_safe_url(outline.get(name, ""), f"feeds.opml {name}", absolute=True)


def check_index_file(data: bytes, source_title: str) -> None:
    """Only the page's own elements (a title cannot have become markup), no script or event
    handler, every link clean; the hostile source title is shown as text."""
    text = data.decode("utf-8")
    assert text.startswith("<!DOCTYPE html>")
    root = etree.fromstring(data, _HTML_PARSER)
    tags = {e.tag for e in root.iter() if isinstance(e.tag, str)}
    assert tags <= INDEX_TAGS, tags - INDEX_TAGS
    check_safe_markup(etree.tostring(root.find("body"), encoding="unicode"), "index.html")
    for link in root.iter("link"):
        check_safe_url(link.get("href", ""), "index.html link")
    assert root.findall(".//link[@rel='alternate']"), "index.html: no autodiscovery links"
    shown = " ".join("".join(e.itertext()) for e in root.iter("a", "li", "p"))
    assert source_title in " ".join(shown.split()), "the source title is not shown as text"


def check_exported(rows: list[dict[str, Any]], tmp_path: Path, case: Case) -> None:
    """Store the rows beside an earlier article, export every format, and check the database,
    the RSS, Atom and JSON feeds, feeds.opml and index.html."""
    with Store(":memory:") as store:
        sentinel_row = normalize(
            Article(url=SENTINEL, source="sentinel", title="Stored before the case"), None, NOW
        )
        assert sentinel_row is not None
        store.upsert_articles([sentinel_row], NOW)
        before = store.articles(source="sentinel")
        # the source's title, shown in feeds.opml and index.html, is the case's first headline
        title = rows[0]["title"] if rows else case.meta["tests"]
        store.sync_sources([Source(name="hostile", title=title, kind=case.kind, urls=(SENTINEL,))])
        store.upsert_articles(rows, NOW)
        assert store.articles(source="sentinel") == before, "the earlier article changed"
        stored = store.articles(source="hostile", limit=None)
        assert len(stored) == len({r["canonical_url"] for r in rows}), "rows were lost"
        result = export_feeds(
            store, tmp_path / "feeds", base_url=EXPORT_BASE, formats=FORMATS, now=NOW
        )
    out = tmp_path / "feeds"
    suffixes = Counter(path.suffix for path in result.feeds)
    assert suffixes[".xml"] == suffixes[".atom"] == suffixes[".json"] >= 3, suffixes
    for path in result.feeds:
        data = path.read_bytes()
        name = path.relative_to(out).as_posix()
        for forbidden in case.meta.get("absent", []):
            assert forbidden.encode() not in data, f"{forbidden!r} exported in {name}"
        check = {
            ".xml": check_rss_file,
            ".atom": check_atom_file,
            ".json": check_json_file,
        }.get(path.suffix)
        if check is not None:
            check(data, name)
        elif path.name == "feeds.opml":
            check_opml_file(data)
        elif path.name == "index.html":
            check_index_file(data, title)
        else:
            raise AssertionError(f"an exported file nobody checks: {name}")


def _source(case: Case, name: str, urls: list[str]) -> Source:
    selectors = None
    if case.kind == "html":
        selectors = Selectors(**(DEFAULT_SELECTORS | case.meta.get("selectors", {})))
    return Source(
        name=name, title=name, kind=case.kind, urls=tuple(urls), selectors=selectors, language="zh"
    )


def run_pure(case: Case) -> Outcome:
    base = f"{PURE_ORIGIN}/{Path(case.name).parent.as_posix()}/".replace("/./", "/")
    url = base + Path(case.rel_url).name
    content_type = case.meta.get("content_type")
    outcome = Outcome()
    try:
        if case.kind == "feed":
            items = parse_feed(
                case.body, url, source="hostile", now=NOW, content_type=content_type
            ).items
        else:
            source = _source(case, "hostile", [url])
            assert source.selectors is not None
            html = decode_html(case.body, content_type)
            items = extract_list(html, url, source.selectors, source="hostile", now=NOW)
    except AggregatorError as exc:
        outcome.error = str(exc)
        return outcome
    source = _source(case, "hostile", [url])
    for article in items:
        article.canonical_url = canonical_url(article.url) if article.url else None
        row = normalize(article, source, NOW)
        if row is not None:
            outcome.rows.append(row)
    return outcome


@pytest.mark.parametrize("case", _params(crawled=False))
def test_case_through_the_pure_functions(case: Case, tmp_path: Path) -> None:
    outcome = run_pure(case)  # anything but an AggregatorError fails the test: a crash
    check_error(case, outcome.error)
    base = f"{PURE_ORIGIN}/{Path(case.name).parent.as_posix()}/"
    check_rows(case, outcome.rows, base, PURE_ORIGIN)
    check_exported(outcome.rows, tmp_path, case)


# -- the same cases crawled from the loopback farm ---------------------------------------------


@pytest.fixture(scope="module")
def hostile_crawl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Serve the catalogue (generated cases written out, headers as sidecars) and crawl every
    case as one source, in one process."""
    tmp = tmp_path_factory.mktemp("hostile")
    root = tmp / "site"
    shutil.copytree(HOSTILE, root)
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", "utf-8")
    cases = [c for c in all_cases() if c.meta.get("crawl") is not False]
    with SiteFarm(root) as farm:
        port = farm.url.rstrip("/").rsplit(":", 1)[1]
        text = ""
        for case in cases:
            origin = f"http://{case.host}:{port}"
            target = root / case.rel_url
            # Absolute links to the pure run's origin point at the case's own host here.
            target.write_bytes(case.body.replace(PURE_ORIGIN.encode(), origin.encode()))
            headers = []
            if "status" in case.meta:
                headers.append(f"HTTP {case.meta['status']}")
            if "content_type" in case.meta:
                headers.append(f"Content-Type: {case.meta['content_type']}")
            for name, value in case.meta.get("headers", {}).items():
                headers.append(f"{name}: {_subst(value, '', origin)}")
            if headers:
                target.with_name(target.name + ".headers").write_text("\n".join(headers), "utf-8")
            path = case.meta.get("crawl_path", "{file}").replace("{file}", case.rel_url)
            text += (
                f'[[source]]\nname = "{case.slug}"\nkind = "{case.kind}"\n'
                f'urls = ["{origin}/{path}"]\nlanguage = "zh"\n'
            )
            if case.kind == "html":
                selectors = DEFAULT_SELECTORS | case.meta.get("selectors", {})
                text += "[source.selectors]\n" + "".join(
                    f"{key} = {json.dumps(value)}\n" for key, value in selectors.items()
                )
        pins = json.dumps({case.host: "127.0.0.1" for case in cases})
        sources = tmp / "sources.toml"
        sources.write_text(text, "utf-8")
        db = tmp / "news.db"
        result = run_newsagg(
            "--db",
            str(db),
            "--sources",
            str(sources),
            "crawl",
            "--json",
            "--max-time",
            "90",
            "-s",
            "AUTOTHROTTLE_START_DELAY=0",
            "-s",
            "RETRY_TIMES=0",
            "-s",
            f"NEWSAGG_RESOLVE={pins}",
            timeout=300,
        )
        assert result.stdout, result.stderr
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        export = run_newsagg(
            "--db", str(db), "export", "--base-url", EXPORT_BASE, "--format", "atom",
            "--format", "json",
        )  # fmt: skip
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute("SELECT * FROM articles ORDER BY id"):
        rows.setdefault(row["source"], []).append(dict(row))
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    return {
        "record": json.loads(result.stdout),
        "rows": rows,
        "port": port,
        "integrity": integrity,
        "export": export,
        "feeds": tmp / "feeds",
    }


@pytest.mark.parametrize("case", _params(crawled=True))
def test_case_crawled_from_the_farm(case: Case, hostile_crawl: dict[str, Any]) -> None:
    stats = hostile_crawl["record"]["sources"][case.slug]
    error = stats["errors"][0] if stats["failed"] else None
    check_error(case, error)
    rows = [
        dict(r, flags=json.loads(r["flags"]), topics=json.loads(r["topics"]))
        for r in hostile_crawl["rows"].get(case.slug, [])
    ]
    origin = f"http://{case.host}:{hostile_crawl['port']}"
    base = f"{origin}/{Path(case.name).parent.as_posix()}/"
    if "crawl_items" in case.meta:
        case = Case(case.name, case.path, case.meta | {"items": case.meta["crawl_items"]}, b"", "")
    check_rows(case, rows, base, origin)
    assert stats["new"] == len(rows)


def test_the_hostile_crawl_left_a_sound_database_and_valid_feeds(
    hostile_crawl: dict[str, Any],
) -> None:
    assert hostile_crawl["integrity"] == "ok"
    assert hostile_crawl["record"]["fatal"] is None
    assert hostile_crawl["export"].returncode == 0, hostile_crawl["export"].stderr
    out = hostile_crawl["feeds"]
    feeds = sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))
    suffixes = Counter(path.suffix for path in feeds)
    assert suffixes[".xml"] == suffixes[".atom"] == suffixes[".json"] > 10, suffixes
    now = time.time() + 300
    for path in feeds:
        data, name = path.read_bytes(), path.relative_to(out).as_posix()
        if path.suffix == ".xml":
            check_rss_file(data, name, now)
        elif path.suffix == ".atom":
            check_atom_file(data, name, now)
        elif path.suffix == ".json":
            check_json_file(data, name)
        elif path.name == "feeds.opml":
            check_opml_file(data)
        else:
            assert path.name == "index.html", name
            check_index_file(data, "")


def test_the_catalogue_is_large_enough() -> None:
    assert len(all_cases()) >= 60
    names = [case.slug for case in all_cases()]
    assert len(names) == len(set(names))
