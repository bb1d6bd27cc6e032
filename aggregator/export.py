"""Feeds from the database: RSS 2.0 always, Atom 1.0 and JSON Feed 1.1 on request.

The only module that knows the feed library (feedgen). Files under the feeds folder:
``all.xml``, ``sources/<name>.xml``, ``topics/<slug>.xml``, ``digest-daily.xml``,
``digest-weekly.xml`` (each also as ``.atom`` and ``.json`` when asked for), ``feeds.opml`` and
``index.html``. Every feed shows one entry per story (articles sharing ``story_id``): the
representative's title, link and date (:mod:`aggregator.stories`), a guid made from the story id,
and the other sources that carried it ("also: ...").

Feeds are valid for the W3C validator (0 errors, 0 warnings): RFC 822 dates, ``lastBuildDate``
from the newest item (so an unchanged feed keeps its bytes), ``atom:link rel="self"``,
``isPermaLink="false"`` on non-URL guids, and "&" and "<" in text written as ``&#x26;`` and
``&#x3C;``. Files are replaced atomically and only when their bytes change, so pollers get a
stable ``Last-Modified``; when the database's ``feed_version`` and the export's settings are those
of the last export, nothing is rendered at all.
"""

from __future__ import annotations

import bisect
import heapq
import html
import json
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import nh3
from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from lxml import etree

from aggregator import __version__
from aggregator.discovery import FeedLink, render_index, render_opml
from aggregator.errors import ConfigError
from aggregator.store import FeedArticle, Store
from aggregator.stories import rule_key
from aggregator.text import count, is_truncated
from aggregator.topics import Taxonomy

DEFAULT_BASE_URL = "http://localhost:8080/"
DEFAULT_LIMIT = 200
DEFAULT_TTL = 60
DEFAULT_DIGEST_TIMEZONE = "Asia/Shanghai"
DEFAULT_DIGEST_PERIODS = 7
DIGEST_STORIES_PER_TOPIC = 20  # a digest item lists at most this many stories per topic
FORMATS = ("rss", "atom", "json")
EXTENSIONS = {"rss": ".xml", "atom": ".atom", "json": ".json"}
STATE_FILE = ".export-state.json"
GENERATOR = f"energy-news-aggregator {__version__}"
SITE_TITLE = "energy news"
# Atom requires <updated> even on a feed with no entries: a fixed date keeps its bytes stable.
EMPTY_FEED_DATE = datetime(2026, 1, 1, tzinfo=UTC)
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_END_TAG = re.compile(r"</(?=[A-Za-z])")
# XML 1.0 cannot carry these at all, escaped or not.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_HTML_TAGS = {"p", "a", "h3", "ul", "li", "br"}
# What :func:`_stage` and :func:`write_if_changed` name their temporary files:
# ``.<name>.<8 random chars>.tmp`` (:func:`tempfile.mkstemp`'s alphabet).
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
# A temporary file older than this process was left by an earlier, killed one: never ours.
PROCESS_STARTED = time.time()


@dataclass
class ExportResult:
    out_dir: Path
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    skipped: bool = False  # nothing changed since the last export: nothing was rendered

    @property
    def feeds(self) -> list[Path]:
        return sorted(self.written + self.unchanged)

    def summary_line(self) -> str:
        return (
            f"{len(self.feeds)} feeds in {self.out_dir}, {len(self.written)} written, "
            f"{len(self.unchanged)} unchanged"
        )

    _jobs: list[tuple[Path, Future[Path | None]]] = field(default_factory=list, repr=False)
    _pool: ThreadPoolExecutor | None = field(default=None, repr=False)

    def record(self, path: Path, data: bytes) -> None:
        """Stage ``path`` to hold ``data``: unchanged, or written to a temporary file beside it
        and synced, which :meth:`commit` moves into place. The staging runs in a worker thread
        while the caller renders the next feed (file I/O releases the GIL)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="export-stage")
        self._jobs.append((path, self._pool.submit(_stage_synced, path, data)))

    def commit(self) -> None:
        """Wait until every staged file is durable, then move each into place (each reader, and a
        crash, sees the old or the new complete file); then sync each folder once, for the
        renames. The fsyncs of several files overlap, so they share the file system's journal
        commits instead of waiting for one each."""
        staged, error = self._settle()
        try:
            if error is not None:
                raise error
            for tmp, path in staged:
                os.replace(tmp, path)
        except BaseException:
            for tmp, _path in staged:
                tmp.unlink(missing_ok=True)
            raise
        self.written.extend(path for _tmp, path in staged)
        for folder in dict.fromkeys(path.parent for _tmp, path in staged):
            _fsync_path(folder)

    def discard(self) -> None:
        """Remove staged files that were not committed."""
        staged, _error = self._settle()
        for tmp, _path in staged:
            tmp.unlink(missing_ok=True)

    def _settle(self) -> tuple[list[tuple[Path, Path]], BaseException | None]:
        """Wait for every staging job (all of them, also after one failed, so that none is left
        writing): the (temporary, path) pairs staged, and the first error."""
        jobs, self._jobs = self._jobs, []
        staged: list[tuple[Path, Path]] = []
        error: BaseException | None = None
        for path, job in jobs:
            try:
                tmp = job.result()
            except BaseException as exc:  # re-raised by commit, after every job is done
                error = error or exc
                continue
            if tmp is None:
                self.unchanged.append(path)
            else:
                staged.append((tmp, path))
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        return staged, error


@dataclass(frozen=True)
class FeedSpec:
    """One feed: its path under the feeds folder (without extension) and the article filters it
    shows (keyword arguments of :meth:`Store.articles`)."""

    path: str
    title: str
    description: str
    filters: dict[str, str] = field(default_factory=dict)
    kind: str = "stories"  # or "digest-daily", "digest-weekly"


class Entry(NamedTuple):
    """One feed item, whatever the format (a named tuple: an export builds thousands, and one
    is made four times faster than a frozen dataclass)."""

    guid: str
    title: str
    link: str | None
    published: datetime
    html: str  # sanitised HTML body ("" for none)
    text: str  # plain-text summary
    topics: tuple[str, ...] = ()
    author: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Channel:
    title: str
    description: str
    self_url: str
    site_url: str
    language: str | None = None
    ttl: int | None = DEFAULT_TTL
    topic_names: Mapping[str, str] = field(default_factory=dict)


# Serialised items by format, then by ``id(entry)`` (hashing a whole Entry, HTML body and all, for
# every lookup costs more than the lookup saves), with the entry kept beside its bytes: the entry
# stays alive as long as its key means it, and a hit is checked to be that same object.
ItemCache = dict[str, dict[int, tuple[Entry, bytes]]]


@dataclass
class SharedWork:
    """What the feeds of one export have in common, kept so that it is done once: a story is in
    all.xml, its source's feed and its topics' feeds. ``members``: each story's articles (what a
    feed shows of them, :class:`FeedArticle`); ``entries``: each story's entry, by the ids of
    the articles a feed selected; ``items``: each entry's serialised item, by format (see
    :data:`ItemCache`)."""

    members: dict[int, list[FeedArticle]] = field(default_factory=dict)
    entries: dict[tuple[int, tuple[int, ...]], Entry] = field(default_factory=dict)
    items: ItemCache = field(default_factory=dict)


# -- the front door -----------------------------------------------------------------------------


def export_feeds(
    store: Store,
    out_dir: str | Path,
    *,
    base_url: str = DEFAULT_BASE_URL,
    limit: int = DEFAULT_LIMIT,
    formats: Iterable[str] = ("rss",),
    taxonomy: Taxonomy | None = None,
    digest_timezone: str = DEFAULT_DIGEST_TIMEZONE,
    digest_periods: int = DEFAULT_DIGEST_PERIODS,
    ttl: int = DEFAULT_TTL,
    now: datetime | None = None,
    digest_stories: int = DIGEST_STORIES_PER_TOPIC,
) -> ExportResult:
    """Write every feed, the digests, ``feeds.opml`` and ``index.html`` under ``out_dir``.
    A digest item lists at most ``digest_stories`` stories per topic. Every feed is read from
    one snapshot of the database (:meth:`Store.snapshot`), so a crawl committing meanwhile
    cannot make feeds disagree with each other or with the recorded ``feed_version``."""
    with store.snapshot():
        if digest_stories < 1:
            raise ConfigError(f"digest stories per topic must be at least 1, not {digest_stories}")
        out = Path(out_dir)
        base_url = base_url if base_url.endswith("/") else base_url + "/"
        taxonomy = taxonomy or Taxonomy()
        formats = _check_formats(formats)
        zone = _zone(digest_timezone)
        now = now or datetime.now(UTC)
        result = ExportResult(out)
        local_today = now.astimezone(zone).date()
        state = {
            "generator": GENERATOR,
            "feed_version": store.feed_version(),
            "options": [
                base_url,
                limit,
                formats,
                digest_timezone,
                digest_periods,
                ttl,
                digest_stories,
            ],
            "taxonomy": taxonomy.fingerprint,
            "today": local_today.isoformat(),
        }
        remove_stale_temp_files(out)
        previous = _read_state(out)
        if previous.get("state") == state:
            files = [out / name for name in previous.get("files", [])]
            if files and all(path.is_file() for path in files):
                result.unchanged = files
                result.skipped = True
                return result
        names = {**{t: t for t in store.article_topics()}, **taxonomy.names}
        titles = store.source_titles()
        links: list[FeedLink] = []
        shared = SharedWork()
        try:
            for spec in feed_specs(store, taxonomy, titles):
                if spec.kind == "stories":
                    entries = story_entries(
                        store, spec.filters, limit=limit, source_titles=titles, shared=shared
                    )
                else:
                    period = "week" if spec.kind == "digest-weekly" else "day"
                    entries = digest_entries(
                        store,
                        period=period,
                        zone=zone,
                        periods=digest_periods,
                        now=now,
                        taxonomy=taxonomy,
                        topic_names=names,
                        source_titles=titles,
                        base_url=base_url,
                        per_topic=digest_stories,
                    )
                channel = Channel(
                    title=spec.title,
                    description=spec.description,
                    self_url="",
                    site_url=base_url,
                    language=_language(entries),
                    ttl=ttl,
                    topic_names=names,
                )
                for fmt in formats:
                    rel = spec.path + EXTENSIONS[fmt]
                    body = render(
                        entries, _with_self(channel, base_url + quote(rel)), fmt, shared.items
                    )
                    result.record(out / rel, body)
                links.append(FeedLink(spec.path, spec.title, spec.description, formats))
            result.record(
                out / "feeds.opml", render_opml(links, title=SITE_TITLE, base_url=base_url)
            )
            result.record(out / "index.html", render_index(links, title=SITE_TITLE))
            result.commit()
        except BaseException:
            result.discard()
            raise
        files = sorted(str(p.relative_to(out)) for p in result.feeds)
        write_if_changed(
            out / STATE_FILE, json.dumps({"state": state, "files": files}, indent=1).encode()
        )
        return result


def export_feed(
    store: Store,
    path: str | Path,
    filters: Mapping[str, Any],
    *,
    title: str,
    base_url: str = DEFAULT_BASE_URL,
    self_url: str | None = None,
    limit: int = DEFAULT_LIMIT,
    ttl: int = DEFAULT_TTL,
    taxonomy: Taxonomy | None = None,
) -> bool:
    """One ad-hoc feed of the articles :meth:`Store.articles` finds with ``filters``, written to
    ``path``: JSON Feed for ``.json``, Atom for ``.atom``, else RSS. True when it was written."""
    path = Path(path)
    fmt = {".json": "json", ".atom": "atom"}.get(path.suffix.lower(), "rss")
    entries = story_entries(store, dict(filters), limit=limit, source_titles=store.source_titles())
    names = {**{t: t for t in store.article_topics()}, **(taxonomy or Taxonomy()).names}
    channel = Channel(
        title=title,
        description=f"Headlines matching {title}.",
        self_url=self_url or base_url + quote(path.name),
        site_url=base_url,
        language=_language(entries),
        ttl=ttl,
        topic_names=names,
    )
    return write_if_changed(path, render(entries, channel, fmt))


def feed_specs(
    store: Store,
    taxonomy: Taxonomy | None = None,
    source_titles: Mapping[str, str] | None = None,
) -> list[FeedSpec]:
    """``all``, one feed per source, one per topic (the taxonomy's, then any other in use) and
    the two digests. Names that are not ASCII slugs are skipped: they would not make safe file
    names."""
    taxonomy = taxonomy or Taxonomy()
    titles = store.source_titles() if source_titles is None else source_titles
    specs = [FeedSpec("all", f"{SITE_TITLE} · all sources", "Every story, newest first.")]
    specs.append(
        FeedSpec(
            "digest-daily",
            f"{SITE_TITLE} · daily digest",
            "One item a day: the day's stories by topic.",
            kind="digest-daily",
        )
    )
    specs.append(
        FeedSpec(
            "digest-weekly",
            f"{SITE_TITLE} · weekly digest",
            "One item a week: the week's stories by topic.",
            kind="digest-weekly",
        )
    )
    for name in sorted(titles):
        title = titles[name]
        specs.append(
            FeedSpec(
                f"sources/{name}",
                f"{SITE_TITLE} · {title}",
                f"Stories from {title}.",
                {"source": name},
            )
        )
    in_use = store.article_topics()
    names = taxonomy.names
    for slug in [*names, *(t for t in in_use if t not in names)]:
        name = names.get(slug, slug)
        specs.append(
            FeedSpec(
                f"topics/{slug}",
                f"{SITE_TITLE} · {name}",
                f"Stories about {name}.",
                {"topic": slug},
            )
        )
    return [spec for spec in specs if _SLUG_RE.match(Path(spec.path).name)]


# -- stories --------------------------------------------------------------------------------


def story_entries(
    store: Store,
    filters: Mapping[str, Any],
    *,
    limit: int,
    source_titles: Mapping[str, str],
    shared: SharedWork | None = None,
) -> list[Entry]:
    """The newest ``limit`` stories with an article matching ``filters``, one entry each.
    A source or a topic filter (every feed of an export) takes the light path
    (:func:`_light_story_entries`); other filters read :meth:`Store.articles`."""
    if set(filters) <= {"source", "topic"}:
        return _light_story_entries(
            store, filters, limit=limit, source_titles=source_titles, shared=shared or SharedWork()
        )
    fetch = _first_fetch(limit)
    while True:
        rows = store.articles(limit=fetch, **filters)
        matched: dict[int, list[FeedArticle]] = {}
        for row in rows:
            matched.setdefault(row["story_id"], []).append(_feed_article(row))
        if len(matched) >= limit or len(rows) < fetch:
            break
        fetch *= 4
    story_ids = list(matched)[:limit]
    others = store.feed_story_articles(
        story_ids, exclude=[article.id for sid in story_ids for article in matched[sid]]
    )
    entries = [
        story_entry(matched[sid], matched[sid] + others.get(sid, []), source_titles)
        for sid in story_ids
    ]
    entries.sort(key=_newest_first, reverse=True)
    return entries


_newest_first = attrgetter("published", "guid")  # an entry's sort key, with reverse=True


def _first_fetch(limit: int) -> int:
    return limit + limit // 4 + 8  # a few stories have several matching articles


def _light_story_entries(
    store: Store,
    filters: Mapping[str, Any],
    *,
    limit: int,
    source_titles: Mapping[str, str],
    shared: SharedWork,
) -> list[Entry]:
    """:func:`story_entries` for a source or a topic feed: which articles of which stories the
    feed shows comes first (ids only, :meth:`Store.feed_article_keys`); an entry ``shared``
    already holds for the same articles is reused, and only the stories not yet read are read,
    all their articles at once (:meth:`Store.feed_story_articles`). An article that left its
    story between the two reads (a crawl clustering meanwhile) is not shown; the next export,
    seeing ``feed_version`` moved, shows it."""
    fetch = _first_fetch(limit)
    while True:
        keys = store.feed_article_keys(limit=fetch, **filters)
        matched: dict[int, list[int]] = {}
        for article_id, story_id in keys:
            matched.setdefault(story_id, []).append(article_id)
        if len(matched) >= limit or len(keys) < fetch:
            break
        fetch *= 4
    chosen = [(sid, tuple(ids)) for sid, ids in list(matched.items())[:limit]]
    members = shared.members
    known = shared.entries
    unread = [sid for sid, ids in chosen if (sid, ids) not in known and sid not in members]
    if unread:
        found = store.feed_story_articles(unread)
        for sid in unread:
            members[sid] = found.get(sid, [])
    entries = []
    for key in chosen:
        entry = known.get(key)
        if entry is None:
            sid, ids = key
            group = members[sid]
            if len(group) == 1 and len(ids) == 1 and group[0].id == ids[0]:
                shown = group  # a story of one article, as most are
            else:
                by_id = {article.id: article for article in group}
                shown = [by_id[i] for i in ids if i in by_id]
                if not shown:
                    continue
            entry = known[key] = story_entry(shown, group, source_titles)
        entries.append(entry)
    entries.sort(key=_newest_first, reverse=True)
    return entries


def story_guid(story_id: int) -> str:
    """A story's guid: it never changes, whichever article represents the story."""
    return f"urn:newsagg:story:{story_id}"


def story_entry(
    shown: Sequence[FeedArticle],
    members: Sequence[FeedArticle],
    source_titles: Mapping[str, str],
) -> Entry:
    """The entry for a story: ``shown`` are its articles this feed selected (the representative
    is theirs, so a source's feed links to that source), ``members`` all its articles."""
    rep = shown[0] if len(shown) == 1 else min(shown, key=_representative_key)
    snippet = _xml_text(rep.snippet or "")
    body = html.escape(snippet, quote=False) if snippet else ""
    text = snippet
    if len(members) == 1:
        topics = _topics_of(rep.topics)
    else:
        also: dict[str, FeedArticle] = {}
        for member in sorted(members, key=_article_id):
            if member.source != rep.source:
                also.setdefault(member.source, member)
        if also:
            # Escaped text and http(s) links only: nothing here needs a sanitiser's second look.
            links = []
            for source, member in also.items():
                name = html.escape(_xml_text(source_titles.get(source, source)))
                url = member.canonical_url
                links.append(f'<a href="{html.escape(url)}">{name}</a>' if _is_http(url) else name)
            line = f"<p>also: {', '.join(links)}</p>"
            body = f"{body} {line}" if body else line
            names = ", ".join(source_titles.get(s, s) for s in also)
            text = snippet + _xml_text(f" (also: {names})")
        topics = tuple(sorted({t for m in members for t in _topics_of(m.topics)}))
    url = rep.canonical_url
    return Entry(
        story_guid(rep.story_id),
        _xml_text(rep.title),
        url if _is_http(url) else None,
        _parse_stamp(rep.published_at or rep.first_seen_at),
        body,
        text.strip(),
        topics,
        _xml_text(source_titles.get(rep.source, rep.source)),
        rep.language,
    )


def _representative_key(article: FeedArticle) -> tuple[bool, bool, str, int]:
    """:func:`aggregator.stories.representative_key` of a feed's article."""
    return rule_key(is_truncated(article.title), article.published_at, article.id)


_article_id = itemgetter(0)


@lru_cache(maxsize=4096)
def _topics_of(stored: str | None) -> tuple[str, ...]:
    """Topics from their stored JSON text; an export meets a few hundred distinct values."""
    return tuple(json.loads(stored) or ()) if stored else ()


def _feed_article(row: Mapping[str, Any]) -> FeedArticle:
    """What a feed shows of an ``articles`` row as :meth:`Store.articles` gives it."""
    values = {name: row.get(name) for name in FeedArticle._fields}
    values["topics"] = json.dumps(list(row.get("topics") or []), ensure_ascii=False)
    return FeedArticle(**values)


# -- digests --------------------------------------------------------------------------------


def digest_periods_of(
    period: str, zone: ZoneInfo, periods: int, now: datetime
) -> list[tuple[str, datetime, datetime]]:
    """The newest ``periods`` calendar days or weeks (Monday to Sunday) in ``zone`` up to the one
    holding ``now``, newest first, as (label, start, end) with UTC bounds."""
    today = now.astimezone(zone).date()
    step = timedelta(days=7 if period == "week" else 1)
    return [_period_of(period, zone, today - index * step) for index in range(periods)]


def digest_periods_with_stories(
    store: Store, period: str, zone: ZoneInfo, periods: int, now: datetime
) -> list[tuple[str, datetime, datetime]]:
    """The newest ``periods`` days or weeks in ``zone`` that have articles, up to and including
    the open one (holding ``now``), newest first, as (label, start, end) with UTC bounds. One
    index probe per period: a quiet week costs nothing, and old data still gets a digest."""
    result: list[tuple[str, datetime, datetime]] = []
    before = _stamp(digest_periods_of(period, zone, 1, now)[0][2])
    while len(result) < periods:
        stamp = store.newest_stamp_before(before)
        if stamp is None:
            break
        bounds = _period_of(period, zone, _parse_stamp(stamp).astimezone(zone).date())
        result.append(bounds)
        before = _stamp(bounds[1])
    return result


def _period_of(period: str, zone: ZoneInfo, day: date) -> tuple[str, datetime, datetime]:
    """The day, or the week (from its Monday), holding ``day``: (label, start, end), UTC."""
    if period == "week":
        day -= timedelta(days=day.weekday())
    after = day + timedelta(days=7 if period == "week" else 1)
    begin = datetime(day.year, day.month, day.day, tzinfo=zone)
    end = datetime(after.year, after.month, after.day, tzinfo=zone)
    return day.isoformat(), begin.astimezone(UTC), end.astimezone(UTC)


def digest_entries(
    store: Store,
    *,
    period: str,
    zone: ZoneInfo,
    periods: int,
    now: datetime,
    taxonomy: Taxonomy,
    topic_names: Mapping[str, str],
    source_titles: Mapping[str, str],
    base_url: str,
    read: Callable[[str], tuple[Sequence[StoryRow], Sequence[RecentRow]]] | None = None,
    per_topic: int = DIGEST_STORIES_PER_TOPIC,
) -> list[Entry]:
    """One entry per day or week that has stories: its stories grouped by topic, at most
    ``per_topic`` of each topic (the ones most sources carried, then the newest), and a line
    saying how many more that topic had. A story is placed by its representative among its
    articles of the digest's window (dated since the oldest period's start). ``read`` gives,
    for that start, the stories wholly inside the window as one row each and the window's
    articles of the other stories (default :meth:`Store.digest_stories`: the first from
    ``story_summary``); titles, links and the sources of the stories listed are read only for
    those."""
    bounds = digest_periods_with_stories(store, period, zone, periods, now)
    if not bounds:
        return []
    since = _stamp(bounds[-1][1])
    whole, split = (read or store.digest_stories)(since)
    kind = "digest-weekly" if period == "week" else "digest-daily"
    # Stored stamps are UTC ISO strings: they compare as the moments they name.
    starts = [_stamp(begin) for _label, begin, _end in reversed(bounds)]
    labels = [label for label, _begin, _end in reversed(bounds)]
    end = _stamp(bounds[0][2])
    order = taxonomy.order
    # period -> stored topics (JSON text) -> the stories placed there, each its row (sources,
    # date, representative's id, topics) as read: sorting a list of these stops at the id
    # (unique), so most sources first, then the newest, then the highest id
    by_period: list[dict[str | None, list[StoryRow]]] = [{} for _ in starts]
    first = starts[0]
    for row in _placed_stories(whole, split):
        when = row[1]
        if when < first or when >= end:
            continue
        groups = by_period[bisect.bisect_right(starts, when) - 1]
        group = groups.get(row[3])
        if group is None:
            groups[row[3]] = [row]
        else:
            group.append(row)
    first_topics: dict[str | None, str] = {}  # stored topics (JSON text) -> the group's topic
    newest_of: dict[str, str] = {}  # period -> its newest story's date
    listed: dict[str, list[tuple[str, list[StoryRow], int]]] = {}
    for label, groups in zip(labels, by_period, strict=True):
        by_topic: dict[str, list[StoryRow]] = {}
        for stored, group in groups.items():
            topic = first_topics.get(stored)
            if topic is None:
                topics = sorted(json.loads(stored or "[]"), key=lambda t: (order.get(t, 999), t))
                topic = first_topics[stored] = topics[0] if topics else ""
            if topic in by_topic:
                by_topic[topic] += group
            else:
                by_topic[topic] = group
        for topic in sorted(by_topic, key=lambda t: (t == "", order.get(t, 999), t)):
            group = by_topic[topic]
            shown = heapq.nlargest(per_topic, group) if len(group) > 1 else group
            listed.setdefault(label, []).append((topic, shown, len(group)))
            newest = max(map(itemgetter(1), group))
            if newest > newest_of.get(label, ""):
                newest_of[label] = newest
    links = store.digest_links(
        item[2] for chosen in listed.values() for _t, shown, _n in chosen for item in shown
    )
    several = store.story_sources(
        (
            links[item[2]][3]
            for chosen in listed.values()
            for _t, shown, _n in chosen
            for item in shown
            if item[0] > 1 and item[2] in links
        ),
        since,
    )
    noun = "week" if period == "week" else "day"
    entries = []
    for label, _begin, _end in bounds:
        chosen = listed.get(label)
        if not chosen:
            continue
        total = sum(found for _t, _shown, found in chosen)
        newest = newest_of[label]
        parts = []
        for topic, shown, found in chosen:
            heading = html.escape(_xml_text(topic_names.get(topic, topic) if topic else OTHER))
            parts.append(f"<h3>{heading}</h3><ul>")
            for sources_count, _when, rep_id, _topics in shown:
                title, url, rep_source, story_id = links.get(rep_id, ("", "", "", 0))
                title = html.escape(_xml_text(title))
                link = f'<a href="{html.escape(url)}">{title}</a>' if _is_http(url) else title
                # the linked (representative's) source first, then the others as first seen
                others = several.get(story_id, ()) if sources_count > 1 else ()
                sources = dict.fromkeys([rep_source, *others])
                names = ", ".join(_xml_text(source_titles.get(s, s)) for s in sources)
                parts.append(f"<li>{link} — {html.escape(names)}</li>")
            parts.append("</ul>")
            if found > len(shown):
                more = found - len(shown)
                parts.append(
                    f"<p>… and {count(more, 'more story', 'more stories')} "
                    f"about {heading} that {noun}</p>"
                )
        entries.append(
            Entry(
                guid=f"{kind}:{label}",
                title=f"{SITE_TITLE} · {'week of' if period == 'week' else 'day'} {label}: "
                f"{count(total, 'story', 'stories')}",
                link=None,
                published=_parse_stamp(newest),
                html=sanitise("".join(parts)),
                text=f"{count(total, 'story', 'stories')} in {len(chosen)} topics",
                topics=tuple(topic for topic, _shown, _count in chosen if topic),
            )
        )
    return entries


OTHER = "Other · 其他"


# What a digest reads of a story whose articles all lie in its window (from ``story_summary``,
# :meth:`Store.digest_stories`): how many sources carried the story, the representative's date
# (published_at, else first_seen_at), its id and its topics (JSON text). In this order, rows
# sort as a digest ranks stories, and are kept as read.
StoryRow = tuple[int, str, int, str | None]
# What a digest reads of an article (:meth:`Store.recent_articles`): id, story_id, source,
# cut (the title ends with a cut marker), published_at, first_seen_at, topics (stored JSON text).
RecentRow = tuple[int, int, str, int, str | None, str, str | None]


def _placed_stories(whole: Iterable[StoryRow], split: Iterable[RecentRow]) -> Iterator[StoryRow]:
    """``whole`` as they are, then one row for each story of the articles ``split``: its
    representative (the rule of :mod:`aggregator.stories`) and sources among those articles."""
    yield from whole
    stories: dict[int, list[RecentRow]] = {}
    for row in split:
        stories.setdefault(row[1], []).append(row)
    for members in stories.values():
        if len(members) == 1:
            rep, sources = members[0], 1
        else:
            rep = min(members, key=_rule_key)
            sources = len({m[2] for m in members})
        yield sources, rep[4] or rep[5], rep[0], rep[6]


def _rule_key(row: RecentRow) -> tuple[bool, bool, str, int]:
    """:func:`aggregator.stories.rule_key` of a digest row: its story's representative is the
    member with the smallest."""
    return rule_key(bool(row[3]), row[4], row[0])


# -- rendering ------------------------------------------------------------------------------


def render(
    entries: Sequence[Entry],
    channel: Channel,
    fmt: str,
    items: ItemCache | None = None,
) -> bytes:
    """One feed document: feedgen's channel with each entry's serialised item spliced in.
    ``items`` keeps those across the feeds of one export (:class:`SharedWork`), so an item in
    several feeds is built and serialised once."""
    if fmt == "json":
        return render_json_feed(entries, channel)
    atom = fmt == "atom"
    fg = _feed_generator(entries, channel, atom=atom)
    if atom:
        head, tail = fg.atom_str(pretty=True), _ATOM_TAIL
    else:
        head, tail = fg.rss_str(pretty=True), _RSS_TAIL
        if not entries:  # feedgen stamps "now"; an empty feed has no build date to give
            head = re.sub(rb"\s*<lastBuildDate>[^<]*</lastBuildDate>", b"", head)
    if not head.endswith(tail):
        raise AssertionError(f"feedgen's {fmt} document does not end with {tail!r}")
    body = _serialised_items(entries, channel, fmt, {} if items is None else items)
    return _numeric_refs(head[: -len(tail)]) + body + tail


# How feedgen's pretty-printed documents end: the items go just before.
_RSS_TAIL = b"  </channel>\n</rss>\n"
_ATOM_TAIL = b"</feed>\n"


# The validator warns on "&amp;"/"&lt;" in plain-text elements and accepts the numeric forms.
_AMP_REF, _LT_REF = "&#x26;", "&#x3C;"
_AMP_REF_BYTES, _LT_REF_BYTES = _AMP_REF.encode(), _LT_REF.encode()


def _numeric_refs(data: bytes) -> bytes:
    """Serialised XML with "&amp;" and "&lt;" in the numeric forms the validator accepts."""
    return data.replace(b"&amp;", _AMP_REF_BYTES).replace(b"&lt;", _LT_REF_BYTES)


def _serialised_items(
    entries: Sequence[Entry], channel: Channel, fmt: str, items: ItemCache
) -> bytes:
    """The entries' items as they read inside a pretty-printed feed (indented for their depth),
    from ``items`` or built now: RSS items by :func:`_rss_item_bytes`; Atom entries serialised
    together by lxml under a root like the feed's and cut apart at their end tags (text and
    attributes never hold a raw "<")."""
    done = items.setdefault(fmt, {})
    missing = []
    for entry in entries:
        hit = done.get(id(entry))
        if hit is None or hit[0] is not entry:
            missing.append(entry)
            done[id(entry)] = (entry, b"")  # also marks an entry listed twice
    if missing and fmt != "atom":
        for entry in missing:
            done[id(entry)] = (entry, _rss_item_bytes(entry))
    elif missing:
        root = etree.Element("feed")
        root.extend(_feed_entry(entry, channel).atom_entry() for entry in missing)
        data = etree.tostring(root, pretty_print=True, encoding="UTF-8")
        start, end = b"<feed>\n", b"</entry>\n"
        first = data.index(start) + len(start)
        pieces = data[first : len(data) - len(_ATOM_TAIL)].split(end)
        if len(pieces) != len(missing) + 1 or pieces[-1]:
            raise AssertionError(f"{fmt} items did not serialise one per entry")
        for entry, piece in zip(missing, pieces, strict=False):
            done[id(entry)] = (entry, _numeric_refs(piece + end))
    return b"".join([done[id(entry)][1] for entry in entries])


def render_rss(
    items: list[dict[str, Any]],
    *,
    title: str,
    description: str,
    self_url: str,
    site_url: str,
    language: str | None = None,
) -> bytes:
    """One RSS 2.0 document for ``articles`` rows (newest first), each its own story."""
    entries = [story_entry([row], [row], {}) for row in map(_feed_article, items)]
    channel = Channel(title, description, self_url, site_url, language=language, ttl=None)
    return render(entries, channel, "rss")


def _feed_generator(entries: Sequence[Entry], channel: Channel, *, atom: bool) -> FeedGenerator:
    """feedgen's channel (RSS) or feed (Atom) element for these entries, without the items."""
    fg = FeedGenerator()
    fg.title(_plain_text(channel.title))
    if atom:
        fg.id(channel.self_url)
        fg.author(name=SITE_TITLE)
        fg.link(href=channel.self_url, rel="self", type="application/atom+xml")
        fg.subtitle(_plain_text(channel.description))
    else:
        fg.link(href=channel.self_url, rel="self", type="application/rss+xml")
        fg.description(_plain_text(channel.description))
        if channel.ttl:
            fg.ttl(channel.ttl)
    fg.link(href=channel.site_url, rel="alternate")
    fg.generator(GENERATOR)
    if channel.language:
        fg.language(channel.language)
    newest = max((entry.published for entry in entries), default=None)
    if atom:
        fg.updated(newest or EMPTY_FEED_DATE)
    elif newest is not None:
        fg.lastBuildDate(newest)
    return fg


def _rss_item_bytes(entry: Entry) -> bytes:
    """The <item> that feedgen's ``FeedEntry.rss_entry()`` makes for the entry, as it reads in
    the pretty-printed feed (the same elements in the same order and the same bytes;
    tests/test_export.py compares them), written as text: building it with feedgen's per-item
    setters (checking each link and category dictionary, switching the locale for each date),
    or even as lxml elements serialised, was the largest part of an export's time. Text is
    escaped as libxml2 escapes element content, with the numeric forms of :func:`_numeric_refs`."""
    title = _plain_text(entry.title)
    parts = ["    <item>\n"]
    if title or not entry.html:
        parts.append(f"      <title>{_element_text(title)}</title>\n")
    if entry.link:
        parts.append(f"      <link>{_element_text(entry.link)}</link>\n")
    if entry.html:
        parts.append(f"      <description>{_element_text(entry.html)}</description>\n")
    parts.append(f'      <guid isPermaLink="false">{_element_text(entry.guid)}</guid>\n')
    for topic in entry.topics:
        parts.append(f"      <category>{_element_text(topic)}</category>\n")
    parts.append(f"      <pubDate>{_rfc822(entry.published)}</pubDate>\n    </item>\n")
    try:
        data = "".join(parts).encode()
    except UnicodeEncodeError:  # a lone surrogate
        data = b"\x00"
    # refused as lxml refuses them: control characters, U+FFFE and U+FFFF (a check of the
    # bytes costs a fifth of a search of the text)
    if len(data.translate(None, _CONTROL_BYTES)) != len(data) or any(
        char in data for char in _NONCHARACTERS
    ):
        raise ValueError(f"an item holds characters XML cannot carry: {entry.guid!r}")
    return data


# What of _XML_ILLEGAL a UTF-8 item can hold (a lone surrogate cannot be encoded): the C0
# control characters (all but tab, line feed, carriage return), and U+FFFE and U+FFFF.
_CONTROL_BYTES = bytes(code for code in range(32) if _XML_ILLEGAL.match(chr(code)))
_NONCHARACTERS = tuple(char.encode() for char in "\ufffe\uffff" if _XML_ILLEGAL.match(char))


def _element_text(text: str) -> str:
    """``text`` as libxml2 writes element content ("&", "<", ">" and carriage returns escaped),
    "&" and "<" in the numeric forms the validator accepts (:func:`_numeric_refs`)."""
    if "&" in text:
        text = text.replace("&", _AMP_REF)
    if "<" in text:
        text = text.replace("<", _LT_REF)
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _rfc822(moment: datetime) -> str:
    """:func:`email.utils.format_datetime` of an aware datetime (what feedgen writes in
    ``pubDate``), written directly for UTC ones: the library's goes through a time tuple."""
    if moment.utcoffset() != _ZERO:
        return format_datetime(moment)
    iso = moment.isoformat()  # YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00, the year in four digits
    day, month = _DAY_NAMES[moment.weekday()], _MONTH_NAMES[moment.month - 1]
    return f"{day}, {iso[8:10]} {month} {iso[:4]} {iso[11:19]} +0000"


_ZERO = timedelta(0)


def _feed_entry(entry: Entry, channel: Channel) -> FeedEntry:
    """feedgen's Atom entry for the entry."""
    item = FeedEntry()
    item.title(_plain_text(entry.title))
    if entry.link:
        item.link(href=entry.link, rel="alternate")
    # An Atom id must be an IRI with a known scheme.
    is_iri = entry.guid.startswith(("urn:", "http://", "https://"))
    item.guid(entry.guid if is_iri else f"urn:newsagg:{entry.guid}")
    if entry.html:
        item.content(entry.html, type="html")
    elif not entry.link:
        # Atom wants content or an alternate link: an entry with neither (a feed entry that had
        # no link) carries its text, or its title, as text content.
        item.content(_plain_text(entry.text or entry.title), type="text")
    item.updated(entry.published)
    item.published(entry.published)
    if entry.author:
        item.author(name=_plain_text(entry.author))
    for topic in entry.topics:
        label = channel.topic_names.get(topic)
        if label:
            item.category(term=topic, label=_plain_text(label))
        else:
            item.category(term=topic)
    return item


def render_json_feed(entries: Sequence[Entry], channel: Channel) -> bytes:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
    feed: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": _xml_text(channel.title),
        "home_page_url": channel.site_url,
        "feed_url": channel.self_url,
        "description": _xml_text(channel.description),
        "authors": [{"name": SITE_TITLE}],
    }
    if channel.language:
        feed["language"] = channel.language
    items = []
    for entry in entries:
        item: dict[str, Any] = {"id": entry.guid, "title": entry.title}
        if entry.link:
            item["url"] = entry.link
        if entry.html:
            item["content_html"] = entry.html
        else:
            item["content_text"] = entry.text or entry.title
        if entry.text:
            item["summary"] = entry.text
        item["date_published"] = entry.published.strftime("%Y-%m-%dT%H:%M:%SZ")
        if entry.topics:
            item["tags"] = list(entry.topics)
        if entry.author:
            item["authors"] = [{"name": entry.author}]
        if entry.language:
            item["language"] = entry.language
        items.append(item)
    feed["items"] = items
    return (json.dumps(feed, ensure_ascii=False, indent=1) + "\n").encode()


def sanitise(markup: str) -> str:
    """HTML we generated, cleaned by nh3: only a few tags, http(s) links, no scripts."""
    return nh3.clean(
        markup,
        tags=_HTML_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https"},
        link_rel=None,
    )


# -- helpers --------------------------------------------------------------------------------


def _with_self(channel: Channel, self_url: str) -> Channel:
    return Channel(
        channel.title,
        channel.description,
        self_url,
        channel.site_url,
        channel.language,
        channel.ttl,
        channel.topic_names,
    )


def _language(entries: Sequence[Entry]) -> str:
    """The feed's language: its entries' most common one (ties: alphabetical), else zh."""
    counts = Counter(entry.language for entry in entries if entry.language)
    if not counts:
        return "zh"
    return min(counts, key=lambda lang: (-counts[lang], lang))


def _check_formats(formats: Iterable[str]) -> list[str]:
    chosen = {"rss", *formats}
    unknown = chosen - set(FORMATS)
    if unknown:
        raise ConfigError(f"unknown feed format(s) {sorted(unknown)}; known: {', '.join(FORMATS)}")
    return [fmt for fmt in FORMATS if fmt in chosen]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"digest time zone: unknown time zone {name!r}") from None


def _read_state(out: Path) -> dict[str, Any]:
    try:
        data = json.loads((out / STATE_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _is_http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _xml_text(text: str) -> str:
    return _XML_ILLEGAL.sub("", text or "")


def _plain_text(text: str) -> str:
    """Text for a plain-text element (a title). Readers that render titles as HTML would act on a
    closing tag in the text, and the validator warns on one even when escaped, so "</b>" is
    written with a full-width "＜"."""
    text = _xml_text(text)
    return _END_TAG.sub("\uff1c/", text) if "</" in text else text


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_stamp(stamp: str) -> datetime:
    """A stored UTC stamp ('YYYY-MM-DDTHH:MM:SSZ'); fromisoformat is ~20× faster than strptime."""
    return datetime.fromisoformat(stamp)


def _stage(path: Path, data: bytes) -> Path | None:
    """None when ``path`` already holds ``data``, else a new temporary file beside it holding
    ``data`` (not yet synced)."""
    try:
        if path.read_bytes() == data:
            return None
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _stage_synced(path: Path, data: bytes) -> Path | None:
    """:func:`_stage`, then the temporary file synced to disk."""
    tmp = _stage(path, data)
    if tmp is not None:
        try:
            _fsync_path(tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return tmp


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stale_temp_files(out_dir: str | Path, before: float | None = None) -> list[Path]:
    """Temporary files of :func:`_stage` under ``out_dir`` last modified before
    ``before`` (default: when this process started), i.e. left by an export that was killed
    before its rename. Only that naming pattern; nothing else in the folder is looked at."""
    out = Path(out_dir)
    before = PROCESS_STARTED if before is None else before
    if not out.is_dir():
        return []
    found = []
    for path in out.rglob(".*.tmp"):
        if not _TEMP_NAME.match(path.name):
            continue
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if path.is_file() and not path.is_symlink() and info.st_mtime < before:
            found.append(path)
    return sorted(found)


def remove_stale_temp_files(out_dir: str | Path, before: float | None = None) -> list[Path]:
    """Remove :func:`stale_temp_files`; returns what was removed."""
    removed = []
    for path in stale_temp_files(out_dir, before):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically replace ``path`` with ``data`` unless it already holds exactly that.
    Returns True when the file was written."""
    tmp = _stage(path, data)
    if tmp is None:
        return False
    try:
        _fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True
