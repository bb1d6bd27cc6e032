"""What would be stored from one page or feed, storing nothing (``newsagg preview``)."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aggregator import __version__
from aggregator.autolist import choose_blocks, find_blocks
from aggregator.config import Source
from aggregator.dates import ParsedDate, utc_now
from aggregator.errors import AggregatorError
from aggregator.extract import decode_html, extract_article, extract_list
from aggregator.feeds import NotAFeed, looks_like_feed, parse_feed
from aggregator.items import Article
from aggregator.normalize import normalize

FETCH_TIMEOUT = 30
MAX_BYTES = 10 * 1024 * 1024


def fetch(url: str) -> tuple[bytes, str, str | None]:
    """GET ``url``: (body, final URL after redirects, Content-Type)."""
    request = urllib.request.Request(
        url, headers={"User-Agent": f"energy-news-aggregator/{__version__}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
            body = response.read(MAX_BYTES + 1)
            return body[:MAX_BYTES], response.geturl(), response.headers.get("Content-Type")
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the connection open
        raise AggregatorError(f"{url}: HTTP {exc.code}") from None
    except OSError as exc:
        raise AggregatorError(f"{url}: {exc}") from None


def load_target(target: str, base_url: str | None) -> tuple[bytes, str, str | None]:
    """Bytes, base URL and Content-Type of a URL or a local file."""
    if target.startswith(("http://", "https://")):
        body, final_url, content_type = fetch(target)
        return body, base_url or final_url, content_type
    path = Path(target)
    if not path.is_file():
        raise AggregatorError(f"{target}: no such file, and not an http(s) URL")
    return path.read_bytes(), base_url or path.resolve().as_uri(), None


def preview(
    target: str,
    *,
    source: Source | None = None,
    article: bool = False,
    auto: bool = False,
    base_url: str | None = None,
    timezone: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """``{"kind": "feed"|"list"|"article", "items": [rows keyed by articles column names]}``.

    A feed is recognised by its content; an HTML page needs a source's selectors (``source``),
    ``article=True`` for article-page extraction, or ``auto=True`` (or a ``kind = "auto"``
    source) to find its list blocks: then ``"blocks"`` lists every block found (heading, item
    count, selectors to paste into ``sources.toml``) and ``items`` are the chosen blocks' items.
    """
    now = now or utc_now()
    body, base, content_type = load_target(target, base_url)
    tz: tzinfo = ZoneInfo(timezone) if timezone else (source.tz if source else ZoneInfo("UTC"))
    name = source.name if source else "preview"
    if not article and (looks_like_feed(body) or (source is not None and source.kind == "feed")):
        try:
            feed = parse_feed(body, base, source=name, tz=tz, now=now, content_type=content_type)
        except NotAFeed as exc:
            raise AggregatorError(f"{target}: {exc}") from None
        return {"kind": "feed", "items": _rows(feed.items, source, now)}
    html = decode_html(
        body,
        content_type,
        language=source.language if source else "zh",
        encoding=source.encoding if source else None,
    )
    if auto or (source is not None and source.kind == "auto" and not article):
        date_format = source.list_date_format if source else None
        blocks = find_blocks(html, base, source=name, tz=tz, now=now, date_format=date_format)
        chosen = choose_blocks(blocks, source.blocks if source else ())
        items = [a for block in chosen for a in block.items]
        return {
            "kind": "list",
            "blocks": [block.to_dict() | {"chosen": block in chosen} for block in blocks],
            "items": _rows(items, source, now),
        }
    if article:
        page = extract_article(
            html, base, tz=tz, now=now, selectors=source.article_selectors if source else None
        )
        item = Article(url=base, source=name, title=page.title, snippet=page.snippet)
        _set_date(item, page.published, "article")
        return {"kind": "article", "items": _rows([item], source, now)}
    if source is None or source.selectors is None:
        raise AggregatorError(
            f"{target}: an HTML page: pass --source NAME (whose selectors to apply), --auto "
            "(find the lists) or --article"
        )
    items = extract_list(
        html,
        base,
        source.selectors,
        source=name,
        tz=tz,
        now=now,
        date_format=source.list_date_format,
    )
    return {"kind": "list", "items": _rows(items, source, now)}


def _set_date(item: Article, parsed: ParsedDate | None, origin: str) -> None:
    if parsed:
        item.published_at = parsed.value
        item.published_precision = parsed.precision
        item.published_from = origin


def _rows(items: list[Article], source: Source | None, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        row = normalize(item, source, now)
        if row is not None:
            row["first_seen_at"] = None
            rows.append(row)
    return rows
