"""``newsagg``: each command opens what it needs and calls one library function.

Library errors become messages and exit codes here, at the edge: 0 ok, 1 every source failed or a
fatal error, 2 usage or configuration error, 3 a source has been failing for longer than its
``stale_after``, 75 another run holds the lock.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from aggregator import __version__
from aggregator.config import Source, load_sources, resolve_db_path, resolve_sources_path
from aggregator.errors import AggregatorError, ConfigError, LockedError
from aggregator.export import (
    DEFAULT_BASE_URL,
    DEFAULT_DIGEST_PERIODS,
    DEFAULT_DIGEST_TIMEZONE,
    DEFAULT_LIMIT,
    DEFAULT_TTL,
    DIGEST_STORIES_PER_TOPIC,
    ExportResult,
    export_feeds,
)
from aggregator.runstats import EXIT_FAILED, EXIT_LOCKED, EXIT_USAGE, RunStats
from aggregator.store import DatabaseError
from aggregator.text import count
from aggregator.timespec import parse_since

RELEVANCE_WINDOW = 5000  # mirrors aggregator.store.RELEVANCE_WINDOW (cli imports store lazily)

if TYPE_CHECKING:
    from aggregator.store import Store
    from aggregator.topics import Taxonomy


class Context:
    """What the global options resolve to, loaded lazily per command."""

    def __init__(
        self,
        db: str | None,
        sources: str | None,
        quiet: bool = False,
        verbose: int = 0,
        topics: str | None = None,
    ) -> None:
        self._db = db
        self._sources = sources
        self._topics = topics
        self.quiet = quiet
        self.verbose = verbose

    @property
    def log_level(self) -> str:
        """Scrapy's LOG_LEVEL for -q / (none) / -v / -vv."""
        if self.quiet:
            return "ERROR"
        return ("WARNING", "INFO")[self.verbose] if self.verbose < 2 else "DEBUG"

    def say(self, message: str) -> None:
        """A line of output that ``--quiet`` leaves out (the summary line is always printed)."""
        if not self.quiet:
            click.echo(message)

    @property
    def db_path(self) -> Path:
        return resolve_db_path(self._db)

    @property
    def sources_path(self) -> Path:
        return resolve_sources_path(self._sources)

    def load_sources(self) -> list[Source]:
        return load_sources(self.sources_path)

    @property
    def topics_path(self) -> Path | None:
        from aggregator.topics import resolve_topics_path

        return resolve_topics_path(self._topics)

    def load_taxonomy(self) -> Taxonomy:
        from aggregator.topics import load_taxonomy

        return load_taxonomy(self.topics_path)


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library exceptions into a message on stderr and the documented exit code."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE)
        except LockedError as exc:
            fail(str(exc), EXIT_LOCKED)
        except AggregatorError as exc:
            fail(str(exc), EXIT_FAILED)
        except DatabaseError as exc:  # a corrupt file found while reading it
            where = f"{args[0].db_path}: " if args and isinstance(args[0], Context) else ""
            fail(f"{where}database error: {exc}", EXIT_FAILED)
        except OSError as exc:  # disk full, read-only folder... while writing feeds or the lock
            where = f"{exc.filename}: " if exc.filename else ""
            fail(f"{where}{exc.strerror or exc}", EXIT_FAILED)

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper


def crawl_options(function: Callable[..., Any]) -> Callable[..., Any]:
    function = click.option(
        "-s",
        "--set",
        "settings",
        multiple=True,
        metavar="NAME=VALUE",
        help="Override a Scrapy setting, as in `scrapy crawl -s`.",
    )(function)
    function = click.option(
        "--max-time",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        metavar="SECONDS",
        help="Stop the crawl after SECONDS; the run record says which sources were cut.",
    )(function)
    return click.option(
        "--only", multiple=True, metavar="NAME", help="Crawl only this source (repeatable)."
    )(function)


def export_options(function: Callable[..., Any]) -> Callable[..., Any]:
    function = click.option(
        "--ttl",
        type=click.IntRange(1),
        default=DEFAULT_TTL,
        show_default=True,
        help="Minutes readers may cache a feed (<ttl>).",
    )(function)
    function = click.option(
        "--digest-stories",
        type=click.IntRange(1),
        default=DIGEST_STORIES_PER_TOPIC,
        show_default=True,
        metavar="N",
        help="Stories per topic a digest item lists (the rest are counted).",
    )(function)
    function = click.option(
        "--digest-periods",
        type=click.IntRange(1),
        default=DEFAULT_DIGEST_PERIODS,
        show_default=True,
        help="Days (weeks) the daily (weekly) digest keeps.",
    )(function)
    function = click.option(
        "--digest-timezone",
        default=DEFAULT_DIGEST_TIMEZONE,
        show_default=True,
        metavar="TZ",
        help="Time zone of the digests' days and weeks.",
    )(function)
    function = click.option(
        "--format",
        "formats",
        type=click.Choice(["atom", "json"]),
        multiple=True,
        help="Also write Atom 1.0 (.atom) or JSON Feed 1.1 (.json) beside RSS (repeatable).",
    )(function)
    function = click.option(
        "--limit",
        type=click.IntRange(1),
        default=DEFAULT_LIMIT,
        show_default=True,
        help="Items per feed.",
    )(function)
    function = click.option(
        "--base-url",
        default=DEFAULT_BASE_URL,
        show_default=True,
        help="Where the feeds folder is served (for atom:link rel=self).",
    )(function)
    return click.option(
        "--out",
        type=click.Path(file_okay=False),
        default=None,
        help="Feeds folder [default: feeds/ beside the database].",
    )(function)


def require_db(ctx: Context) -> Path:
    """The database path, which must exist (commands that only read never create it)."""
    if not ctx.db_path.exists():
        raise ConfigError(f"{ctx.db_path}: no database yet; run `newsagg crawl` first")
    return ctx.db_path


def parse_settings(pairs: tuple[str, ...]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigError(f"-s expects NAME=VALUE, got {pair!r}")
        settings[name] = value
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsagg")
@click.option(
    "--db",
    metavar="FILE",
    default=None,
    help="SQLite file [default: $NEWSAGG_DB, else ./data/news.db].",
)
@click.option(
    "--sources",
    metavar="FILE",
    default=None,
    help="Sources file [default: $NEWSAGG_SOURCES, else ./data/sources.toml].",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Only the summary line; errors on stderr (for cron)."
)
@click.option("-v", "--verbose", count=True, help="More log output on stderr: -v info, -vv debug.")
@click.option(
    "--topics",
    metavar="FILE",
    default=None,
    help="Topics file [default: $NEWSAGG_TOPICS, else ./data/topics.toml, else the bundled one].",
)
@click.pass_context
def cli(
    ctx: click.Context,
    db: str | None,
    sources: str | None,
    quiet: bool,
    verbose: int,
    topics: str | None,
) -> None:
    """Crawl energy-news sources into one SQLite file and publish RSS feeds.

    Example: newsagg --db /srv/news/news.db run
    """
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose exclude each other")
    ctx.obj = Context(db, sources, quiet, verbose, topics)


def _crawl(
    ctx: Context, only: tuple[str, ...], settings: tuple[str, ...], max_time: float | None
) -> RunStats:
    from aggregator.crawl import crawl

    # -s wins over -q/-v; no colour (Scrapy checks for a TTY too) when NO_COLOR is set.
    defaults: dict[str, Any] = {"LOG_LEVEL": ctx.log_level}
    if max_time:
        defaults["NEWSAGG_MAX_TIME"] = max_time
    if os.environ.get("NO_COLOR"):
        defaults["LOG_COLOR"] = False
    if not ctx.quiet and sys.stderr.isatty():  # a progress line on a terminal, never in cron
        defaults["NEWSAGG_PROGRESS"] = True
    return crawl(
        ctx.load_sources(),
        ctx.db_path,
        only=only,
        settings=defaults | parse_settings(settings),
        topics=ctx.topics_path,
    )


@cli.command("crawl")
@crawl_options
@click.option("--json", "as_json", is_flag=True, help="Print the run record as one JSON object.")
@click.pass_obj
@guarded
def crawl_command(
    ctx: Context,
    only: tuple[str, ...],
    max_time: float | None,
    settings: tuple[str, ...],
    as_json: bool,
) -> None:
    """Fetch every enabled source and store new and changed articles.

    Example: newsagg crawl --only guangfu_hot -s LOG_LEVEL=INFO
    """
    from aggregator.lock import run_lock

    with run_lock(ctx.db_path):
        run = _crawl(ctx, only, settings, max_time)
    if as_json:
        click.echo(json.dumps(run.to_dict(), ensure_ascii=False))
        if not ctx.quiet:
            click.echo(run.summary_line(), err=True)
    else:
        click.echo(run.summary_line())
    sys.exit(run.exit_code)


@cli.command("export")
@export_options
@click.option("--query", "text", metavar="TEXT", help="Ad-hoc feed: words in title or snippet.")
@click.option("--source", metavar="NAME", help="Ad-hoc feed: only this source.")
@click.option("--topic", metavar="SLUG", help="Ad-hoc feed: only this topic.")
@click.option("--since", help="Ad-hoc feed: only newer than 24h, 7d, 2w or a date.")
@click.option(
    "--to",
    "to_file",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write one ad-hoc feed of the matching stories to FILE (.atom: Atom, .json: JSON "
    "Feed, else RSS) instead of the feeds folder.",
)
@click.pass_obj
@guarded
def export_command(
    ctx: Context,
    to_file: str | None,
    text: str | None,
    source: str | None,
    topic: str | None,
    since: str | None,
    **options: Any,
) -> None:
    """Write the feeds (all, per source, per topic, digests, OPML, index.html), or one ad-hoc
    feed with --to.

    Example: newsagg export --out /var/www/feeds --base-url https://news.example.org/feeds/
    """
    filters = {"text": text, "source": source, "topic": topic, "since": since}
    if to_file is None:
        used = [f"--{'query' if k == 'text' else k}" for k, v in filters.items() if v]
        if used:
            raise ConfigError(f"{', '.join(used)} only apply to an ad-hoc feed (--to FILE)")
        click.echo(_export(ctx, **options).summary_line())
        return
    click.echo(_export_one(ctx, to_file, filters, options))


def _open_for_export(ctx: Context) -> Store:
    from aggregator.store import Store

    return Store(require_db(ctx))


def _export(
    ctx: Context,
    out: str | None,
    base_url: str,
    limit: int,
    formats: tuple[str, ...] = (),
    digest_timezone: str = DEFAULT_DIGEST_TIMEZONE,
    digest_periods: int = DEFAULT_DIGEST_PERIODS,
    ttl: int = DEFAULT_TTL,
    digest_stories: int = DIGEST_STORIES_PER_TOPIC,
) -> ExportResult:
    taxonomy = ctx.load_taxonomy()
    with _open_for_export(ctx) as store:
        return export_feeds(
            store,
            Path(out) if out else ctx.db_path.parent / "feeds",
            base_url=base_url,
            limit=limit,
            formats=formats,
            taxonomy=taxonomy,
            digest_timezone=digest_timezone,
            digest_periods=digest_periods,
            ttl=ttl,
            digest_stories=digest_stories,
        )


def _export_one(
    ctx: Context, to_file: str, filters: dict[str, str | None], options: dict[str, Any]
) -> str:
    from aggregator.export import export_feed

    if filters["since"]:
        try:
            filters["since"] = parse_since(filters["since"])
        except ValueError as exc:
            raise ConfigError(f"--since: {exc}") from None
    described = " ".join(f"{k}={v}" for k, v in filters.items() if v) or "everything"
    taxonomy = ctx.load_taxonomy()
    with _open_for_export(ctx) as store:
        written = export_feed(
            store,
            to_file,
            {k: v for k, v in filters.items() if v},
            title=f"energy news · {described}",
            base_url=options["base_url"],
            limit=options["limit"],
            ttl=options["ttl"],
            taxonomy=taxonomy,
        )
    return f"{to_file}: {'written' if written else 'unchanged'}"


@cli.command("retag")
@click.pass_obj
@guarded
def retag_command(ctx: Context) -> None:
    """Recompute every article's topics (source topics ∪ taxonomy matches) after a rule change.

    Example: newsagg --topics data/topics.toml retag
    """
    from aggregator.lock import run_lock
    from aggregator.topics import source_tagger

    taxonomy = ctx.load_taxonomy()
    source_topics = {s.name: s.topics for s in ctx.load_sources()}
    require_db(ctx)  # before the lock, which would leave news.db.lock (and its folder) behind
    with run_lock(ctx.db_path), _open_for_export(ctx) as store:
        changed = store.retag(source_tagger(taxonomy, source_topics))
        total = store.count_articles()
    click.echo(f"{changed} of {count(total, 'article')} re-tagged ({len(taxonomy.topics)} topics)")


@cli.command("recanon")
@click.option(
    "--force", is_flag=True, help="Recompute even when the URL rules are the ones recorded."
)
@click.pass_obj
@guarded
def recanon_command(ctx: Context, force: bool) -> None:
    """Apply changed URL rules ([urls], host_aliases) now: recompute canonical URLs and merge the
    rows that now name one article (crawl and run do this first by themselves).

    Example: newsagg --sources data/sources.toml recanon
    """
    from aggregator.crawl import url_rules_of
    from aggregator.lock import run_lock

    rules = url_rules_of(ctx.load_sources())
    require_db(ctx)  # before the lock, which would leave news.db.lock (and its folder) behind
    with run_lock(ctx.db_path), _open_for_export(ctx) as store:
        result = store.apply_url_rules(rules, force=force)
        total = store.count_articles()
    if not result.changed:
        click.echo(
            f"URL rules unchanged: {count(total, 'article')} as they were (--force recomputes)"
        )
        return
    click.echo(
        f"{count(result.renamed, 'canonical URL')} changed, {count(result.merged, 'row')} merged "
        f"(kept in merged_articles), {count(result.stories_joined, 'story', 'stories')} joined; "
        f"{count(total, 'article')}"
    )


@cli.command("serve")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Feeds folder [default: feeds/ beside the database].",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--max-age",
    type=click.IntRange(0),
    default=300,
    show_default=True,
    help="Cache-Control max-age in seconds.",
)
@click.pass_obj
@guarded
def serve_command(ctx: Context, out: str | None, host: str, port: int, max_age: int) -> None:
    """Serve the feeds folder over HTTP (ETag, Last-Modified, 304s) until interrupted.

    Example: newsagg serve --port 8080
    """
    from aggregator.serve import make_server

    root = Path(out) if out else ctx.db_path.parent / "feeds"
    if not root.is_dir():
        raise ConfigError(f"{root}: no feeds folder; run `newsagg export` first")
    try:
        server = make_server(root, host=host, port=port, max_age=max_age)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
    click.echo(f"Serving {root.resolve()} at {server.url} (Ctrl-C stops)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@cli.command("run")
@crawl_options
@export_options
@click.pass_obj
@guarded
def run_command(
    ctx: Context,
    only: tuple[str, ...],
    max_time: float | None,
    settings: tuple[str, ...],
    **options: Any,
) -> None:
    """Crawl, then export: the cron entry. A second run while one is going exits 75 at once.

    Example: newsagg --db /srv/news/news.db --sources /srv/news/sources.toml run
    """
    from aggregator.lock import run_lock

    with run_lock(ctx.db_path):
        run = _crawl(ctx, only, settings, max_time)
        exported = _export(ctx, **options)
    click.echo(f"{run.summary_line()}; {exported.summary_line()}")
    sys.exit(run.exit_code)


@cli.command("query")
@click.argument("text", required=False)
@click.option("--source", help="Only this source.")
@click.option("--topic", metavar="SLUG", help="Only articles with this topic.")
@click.option(
    "--since", help="Only published (else first seen) since 24h, 7d, 2w or a date (2026-02-24)."
)
@click.option(
    "--new-since-last-run",
    "new_since_last_run",
    is_flag=True,
    help="Only articles first seen in the latest finished run or later (for cron mail).",
)
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option(
    "--rank",
    type=click.Choice(["newest", "relevance"]),
    default="newest",
    show_default=True,
    help=f"relevance: the newest {RELEVANCE_WINDOW:,} matches ordered by bm25.",
)
@click.option("--stories", is_flag=True, help="One line per story (articles.story_id).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "ndjson"]),
    default="table",
    show_default=True,
)
@click.option(
    "--highlight/--no-highlight",
    default=None,
    help="Colour the matches in the table [default: only on a terminal].",
)
@click.pass_obj
def query_command(
    ctx: Context,
    text: str | None,
    source: str | None,
    topic: str | None,
    since: str | None,
    new_since_last_run: bool,
    limit: int,
    rank: str,
    stories: bool,
    fmt: str,
    highlight: bool | None,
) -> None:
    """Search stored articles, newest first. Exit 0 with matches, 1 with none, 2 on error.

    TEXT: words (all must match), "a phrase", -excluded, OR between alternatives; Chinese words
    of any length match inside longer text.

    Example: newsagg query '光伏 OR 储能 -煤电' --since 7d --format json
    """
    try:
        rows = _query(ctx, text, source, topic, since, new_since_last_run, limit, rank, stories)
    except AggregatorError as exc:
        fail(str(exc), EXIT_USAGE)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif fmt == "ndjson":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
    elif fmt == "csv":
        click.echo(_csv(rows), nl=False)
    else:
        if highlight is None:
            highlight = sys.stdout.isatty()
        marker = _highlighter(text) if highlight and text and text.strip() else None
        for row in rows:
            when = (row["published_at"] or row["first_seen_at"])[:16].replace("T", " ")
            title = marker(row["title"]) if marker else row["title"]
            if stories:
                title += f"  ({count(row['articles'], 'article')}: {', '.join(row['sources'])})"
            click.echo(
                f"{when}  {row['source']:<16} {title}\n{'':18}{row['canonical_url']}",
                color=bool(marker),  # click drops colour codes when piped unless told
            )
    noun = ("story", "stories") if stories else ("article", "articles")
    click.echo(count(len(rows), *noun), err=fmt != "table")
    sys.exit(0 if rows else 1)


def _query(
    ctx: Context,
    text: str | None,
    source: str | None,
    topic: str | None,
    since: str | None,
    new_since_last_run: bool,
    limit: int,
    rank: str,
    stories: bool,
) -> list[dict[str, Any]]:
    from aggregator.store import SCHEMA_VERSION, Store

    try:
        since_stamp = parse_since(since) if since else None
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from None
    if rank == "relevance" and not text:
        raise ConfigError("--rank relevance needs search TEXT")
    require_db(ctx)
    with Store(ctx.db_path, readonly=True) as probe:
        old = probe.schema_version < SCHEMA_VERSION
    if old:  # an older file: upgrade it in place once (builds the search index)
        Store(ctx.db_path).close()
    with Store(ctx.db_path, readonly=True) as store:
        first_seen = store.last_run_started_at() if new_since_last_run else None
        search = store.stories if stories else store.articles
        return search(
            text=text,
            source=source,
            topic=topic,
            since=since_stamp,
            first_seen_since=first_seen,
            limit=limit,
            rank=rank,
        )


def _highlighter(text: str) -> Callable[[str], str]:
    from aggregator.querysyntax import parse_query
    from aggregator.search import highlight_spans

    query = parse_query(text)

    def mark(value: str) -> str:
        out, last = [], 0
        for start, end in highlight_spans(value, query):
            out += [value[last:start], click.style(value[start:end], fg="red", bold=True)]
            last = end
        return "".join([*out, value[last:]])

    return mark


def _csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v
                for k, v in row.items()
            }
        )
    return buffer.getvalue()


@cli.command("prune")
@click.option(
    "--older-than",
    "older_than",
    required=True,
    metavar="AGE",
    help="Delete what is older than this: 365d, 52w or a date (2025-01-01).",
)
@click.pass_obj
@guarded
def prune_command(ctx: Context, older_than: str) -> None:
    """Delete articles dated and last seen before AGE, older runs and pages not seen since.

    Example: newsagg prune --older-than 365d
    """
    from aggregator.store import Store

    try:
        before = parse_since(older_than)
    except ValueError as exc:
        raise ConfigError(f"--older-than: {exc}") from None
    require_db(ctx)
    with Store(ctx.db_path) as store:
        counts = store.prune(before)
    click.echo(
        f"pruned before {before}: {count(counts['articles'], 'article')}, "
        f"{count(counts['runs'], 'run')}, {count(counts['pages'], 'page')}"
    )


@cli.command("backup")
@click.argument("target", metavar="FILE", type=click.Path(dir_okay=False))
@click.pass_obj
@guarded
def backup_command(ctx: Context, target: str) -> None:
    """Write a consistent, compacted copy of the database to FILE (safe while a crawl runs).

    Example: newsagg backup /backups/news-$(date +%F).db
    """
    from aggregator.store import Store

    require_db(ctx)
    with Store(ctx.db_path) as store:
        path = store.backup(target)
    click.echo(f"backed up {ctx.db_path} to {path} ({path.stat().st_size:,} bytes)")


@cli.command("schema")
@click.pass_obj
@guarded
def schema_command(ctx: Context) -> None:
    """Print the SQL schema this version creates (the README's schema section is this output).

    Example: newsagg schema > schema.sql
    """
    from aggregator.store import Store

    with Store(":memory:") as store:
        click.echo(store.schema_sql(), nl=False)


@cli.group("sources", invoke_without_command=True)
@click.pass_context
def sources_group(ctx: click.Context) -> None:
    """List, check, import and export sources; bare `sources` is `sources list`.

    Example: newsagg sources check eia_today
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(sources_list_command)


@sources_group.command("list")
@click.pass_obj
@guarded
def sources_list_command(ctx: Context) -> None:
    """List the configured sources with their health from the database.

    Example: newsagg --sources data/sources.toml sources list
    """
    from aggregator.dates import utc_now
    from aggregator.store import Store

    configured = ctx.load_sources()
    health: dict[str, dict[str, Any]] = {}
    if ctx.db_path.exists():
        with Store(ctx.db_path, readonly=True) as store:
            health = {row["name"]: row for row in store.sources()}
    now = utc_now()
    failing = 0
    for source in configured:
        row = health.get(source.name, {})
        states = source_states(source, row, now)
        failing += any(state.startswith(("FAILING", "EMPTY")) for state in states)
        click.echo(
            f"{source.name:<20} {source.kind:<5} {row.get('articles', 0):>6} articles  "
            f"last ok {row.get('last_ok_at') or '-':<20}  {'; '.join(states)}"
        )
    click.echo(f"{count(len(configured), 'source')}, {failing} failing")


def source_states(source: Source, row: dict[str, Any], now: Any) -> list[str]:
    """What `sources list` says about a source's health, most important first. Each check adds
    its own words, so another health signal is one more ``if`` here."""
    from aggregator.health import is_due, stale_reason

    if not source.enabled:
        return ["disabled"]
    if not row.get("last_run_at"):
        return ["never run"]
    states = []
    if row.get("consecutive_failures"):
        states.append(f"FAILING x{row['consecutive_failures']}: {row['last_error']}")
        stale = stale_reason(row, source.stale_after, now)
        if stale:
            states.append(f"STALE ({stale.split(' (')[0]})")
        if not is_due(row, now):
            states.append(f"backing off until {row['next_attempt_at']}")
    elif row.get("consecutive_empty") and row.get("last_error"):
        states.append(f"EMPTY x{row['consecutive_empty']}: {row['last_error']}")
    elif row.get("last_error"):  # it gave items, but some of its pages none (selector drift)
        states.append(f"WARNING: {row['last_error']}")
    return states or ["ok"]


@sources_group.command("check")
@click.argument("name")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_obj
@guarded
def sources_check_command(ctx: Context, name: str, fmt: str) -> None:
    """Fetch one source now (whatever its backoff) and show what would be stored, storing
    nothing.

    Example: newsagg sources check eia_today --format json
    """
    from aggregator.preview import preview

    by_name = {s.name: s for s in ctx.load_sources()}
    if name not in by_name:
        raise ConfigError(f"unknown source {name!r}; known: {', '.join(by_name)}")
    source = by_name[name]
    results = []
    for url in source.urls:
        try:
            results.append({"url": url} | preview(url, source=source))
        except AggregatorError as exc:
            raise AggregatorError(f"source {name}: {exc}") from None
    if fmt == "json":
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
        return
    if ctx.db_path.exists():  # what the crawls so far said, for comparison
        from aggregator.dates import utc_now
        from aggregator.store import Store

        with Store(ctx.db_path, readonly=True) as store:
            row = next((r for r in store.sources() if r["name"] == name), {})
        click.echo(f"health so far: {'; '.join(source_states(source, row, utc_now()))}")
    total = 0
    for result in results:
        click.echo(f"{result['url']}: {result['kind']}, {len(result['items'])} items")
        for row in result["items"]:
            when = (row["published_at"] or "-")[:16].replace("T", " ")
            click.echo(f"  {when:<16}  {row['title']}\n  {'':18}{row['canonical_url']}")
        total += len(result["items"])
    click.echo(f"{name}: {total} items would be stored")


@sources_group.command("import-opml")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--language", type=click.Choice(["zh", "en"]), default="en", show_default=True)
@click.option("--timezone", "zone", default="UTC", show_default=True, help="Zone of naive dates.")
@click.pass_obj
@guarded
def sources_import_command(ctx: Context, file: str, language: str, zone: str) -> None:
    """Append the OPML file's feeds to the sources file as feed sources, keeping its comments
    and order; feeds already configured (same canonical URL) are skipped.

    Example: newsagg --sources data/sources.toml sources import-opml subscriptions.opml
    """
    from aggregator.opml import read_opml
    from aggregator.sources_file import append_feed_sources

    path = _sources_path_for_writing(ctx)
    feeds = read_opml(Path(file).read_bytes(), file)
    result = append_feed_sources(
        path,
        feeds,
        language=language,
        timezone=zone,
        comment=f"imported from {Path(file).name}",
    )
    for added, url in result.added:
        click.echo(f"added    {added:<24} {url}")
    for url, why in result.skipped:
        click.echo(f"skipped  {url} ({why})")
    click.echo(f"{path}: {len(result.added)} added, {len(result.skipped)} skipped")


def _sources_path_for_writing(ctx: Context) -> Path:
    """The sources file to edit: the configured one, or a new one where it would be looked for."""
    import os

    from aggregator.config import DEFAULT_SOURCES

    try:
        return ctx.sources_path
    except ConfigError:
        return Path(ctx._sources or os.environ.get("NEWSAGG_SOURCES") or DEFAULT_SOURCES)


@sources_group.command("export-opml")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="File [default: stdout].")
@click.pass_obj
@guarded
def sources_export_command(ctx: Context, out_file: str | None) -> None:
    """Write the feed sources as an OPML 2.0 subscription list.

    Example: newsagg sources export-opml --out feeds.opml
    """
    from aggregator.opml import OpmlFeed, write_opml

    feeds = [
        OpmlFeed(source.title, url)
        for source in ctx.load_sources()
        if source.kind == "feed"
        for url in source.urls
    ]
    data = write_opml(feeds)
    if out_file:
        Path(out_file).write_bytes(data)
        click.echo(f"{out_file}: {len(feeds)} feeds", err=True)
    else:
        click.echo(data.decode("utf-8"), nl=False)


@cli.command("preview")
@click.argument("target", metavar="URL_OR_FILE")
@click.option("--source", "source_name", metavar="NAME", help="Apply this source's selectors.")
@click.option("--article", is_flag=True, help="Run article-page extraction instead.")
@click.option(
    "--auto",
    is_flag=True,
    help="Find the page's news-list blocks without selectors; print each with its selectors.",
)
@click.option("--base-url", help="Resolve relative links against this URL (for files).")
@click.option("--timezone", help="Zone of naive dates [default: the source's, else UTC].")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_obj
@guarded
def preview_command(
    ctx: Context,
    target: str,
    source_name: str | None,
    article: bool,
    auto: bool,
    base_url: str | None,
    timezone: str | None,
    fmt: str,
) -> None:
    """Show what would be stored from a page or feed, storing nothing. With --auto, find the
    page's news lists and print CSS selectors to paste into sources.toml.

    Example: newsagg preview https://guangfu.bjx.com.cn/yw/ --auto
    """
    from aggregator.preview import preview

    if source_name and article:
        raise ConfigError("--source and --article exclude each other")
    if auto and article:
        raise ConfigError("--auto and --article exclude each other")
    source = None
    if source_name:
        by_name = {s.name: s for s in ctx.load_sources()}
        if source_name not in by_name:
            raise ConfigError(f"unknown source {source_name!r}; known: {', '.join(by_name)}")
        source = by_name[source_name]
    if timezone:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"--timezone: unknown time zone {timezone!r}") from None
    result = preview(
        target, source=source, article=article, auto=auto, base_url=base_url, timezone=timezone
    )
    if fmt == "json":
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for number, block in enumerate(result.get("blocks", []), 1):
        mark = "*" if block["chosen"] else " "
        click.echo(
            f"{mark} block {number}: {block['heading'] or '(no heading)'} "
            f"- {block['items']} items, score {block['score']}"
        )
        click.echo("    [source.selectors]")
        for key, css in block["selectors"].items():
            click.echo(f"    {key} = {json.dumps(css, ensure_ascii=False)}")
    if result.get("blocks"):
        click.echo('(* = the block(s) kind = "auto" stores; blocks = ["*"] takes all)\n')
    for row in result["items"]:
        when = (row["published_at"] or "-")[:16].replace("T", " ")
        click.echo(f"{when:<16}  {row['title']}\n{'':18}{row['canonical_url']}")
    click.echo(f"{result['kind']}: {len(result['items'])} items")


@cli.command("demo")
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True)
@click.pass_obj
@guarded
def demo_command(ctx: Context, base_url: str) -> None:
    """Serve the bundled demo sites on 127.0.0.1, crawl them, write the database and feeds.

    Example: newsagg demo
    """
    from aggregator.demo import run_demo
    from aggregator.lock import run_lock

    with run_lock(ctx.db_path):
        result = run_demo(ctx.db_path, base_url=base_url)
    run = result.run
    ctx.say(f"Served the demo sites at {result.farm_url} (stopped now).")
    for name, stats in run.sources.items():
        state = f"FAILED ({stats.error})" if stats.failed else "ok"
        ctx.say(
            f"  {name:<16} {stats.items:>3} items, {stats.new:>3} new, {stats.updated:>3} updated, "
            f"{stats.articles_fetched:>3} article pages fetched  {state}"
        )
    ctx.say(f"Database: {result.db_path.resolve()} ({count(result.articles, 'article')})")
    ctx.say(f"Feeds:    {result.export.out_dir.resolve()}/ ({len(result.export.feeds)} files)")
    ctx.say("Try:      newsagg query 光伏")
    ctx.say(f"          sqlite3 {result.db_path} 'select title from articles limit 5'")
    click.echo(f"{run.summary_line()}; {result.export.summary_line()}")
    sys.exit(run.exit_code)


@cli.command("doctor")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Feeds folder to check [default: feeds/ beside the database].",
)
@click.pass_obj
@guarded
def doctor_command(ctx: Context, out: str | None) -> None:
    """Check what a cron run needs: configuration, database (quick_check, writable), feeds
    folder, run lock. Exits 1 when something is wrong.

    Example: newsagg --db /srv/news/news.db --sources /srv/news/sources.toml doctor
    """
    from aggregator.doctor import doctor

    report = doctor(ctx.db_path, lambda: ctx.sources_path, Path(out) if out else None)
    for check in report.checks:
        if check.ok:
            ctx.say(check.line())
        else:
            click.echo(check.line(), err=ctx.quiet)
    click.echo(report.summary_line())
    sys.exit(0 if report.ok else EXIT_FAILED)


def main() -> None:
    cli(prog_name="newsagg")
