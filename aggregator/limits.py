"""Limits that keep one slow or hostile site from holding or sinking a run.

Scrapy's own settings do most of it (``aggregator/settings.py``): ``DOWNLOAD_TIMEOUT`` per
request, ``REDIRECT_MAX_TIMES`` (meta-refresh hops count too, so a refresh loop ends),
``DOWNLOAD_MAXSIZE`` on the wire and again while decompressing (a gzip bomb is stopped once the
cap is passed, not inflated first). This module adds what Scrapy does not have:

* :class:`DeadlineMiddleware`: a per-source deadline (``NEWSAGG_SOURCE_DEADLINE`` seconds from
  the source's first request) and a whole-run one (``NEWSAGG_MAX_TIME``, ``--max-time``). A
  request is given at most the time left as its ``download_timeout``; once a deadline has passed
  the source's remaining requests are refused at once. Each cut is recorded in the run record
  (``cut``, and the source's ``errors``), so a run that was cut says so.
* :class:`LyingEncodingMiddleware`: a response whose ``Content-Encoding`` says gzip, deflate,
  br or zstd while the body is not fails with that reason in our words, not the decoder's
  ("Not a gzipped file", "Error -3 while decompressing data").
* :class:`NestedGzipMiddleware`: a body that is still gzip after Scrapy decoded its
  ``Content-Encoding`` (servers that compress twice) is inflated once more, under the same cap.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest
from scrapy.http import Request, Response
from twisted.internet.error import TCPTimedOutError, TimeoutError

GZIP_MAGIC = b"\x1f\x8b"


class DeadlineExceeded(IgnoreRequest):
    """A request cut because its source's deadline or the run's ``--max-time`` passed."""


class Deadlines:
    """The clocks: pure bookkeeping, given ``now`` (seconds, monotonic)."""

    def __init__(self, max_time: float, source_deadline: float, started: float) -> None:
        self.max_time = max_time
        self.source_deadline = source_deadline
        self.started = started
        self.source_started: dict[str, float] = {}

    def remaining(self, source: str | None, now: float) -> tuple[float | None, str]:
        """Seconds left for a request of ``source`` (None: no limit) and the limit that binds."""
        left: float | None = None
        reason = ""
        if self.max_time > 0:
            left = self.max_time - (now - self.started)
            reason = f"cut: the run's --max-time ({self.max_time:g} s) was reached"
        if source is not None and self.source_deadline > 0:
            began = self.source_started.setdefault(source, now)
            source_left = self.source_deadline - (now - began)
            if left is None or source_left < left:
                left = source_left
                reason = f"cut: the source's deadline ({self.source_deadline:g} s) was reached"
        return left, reason


def request_source(request: Request) -> str | None:
    """The source a request belongs to (the spider passes it in ``cb_kwargs``)."""
    source = request.cb_kwargs.get("source")
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else None


class DeadlineMiddleware:
    """Downloader middleware applying :class:`Deadlines` (see the module docstring)."""

    def __init__(self, crawler: Crawler, max_time: float, source_deadline: float) -> None:
        self.crawler = crawler
        self.deadlines = Deadlines(max_time, source_deadline, time.monotonic())

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DeadlineMiddleware:
        settings = crawler.settings
        return cls(
            crawler,
            settings.getfloat("NEWSAGG_MAX_TIME"),
            settings.getfloat("NEWSAGG_SOURCE_DEADLINE"),
        )

    def process_request(self, request: Request) -> None:
        source = request_source(request)
        left, reason = self.deadlines.remaining(source, time.monotonic())
        if left is None:
            return
        if left <= 0:
            self._record_cut(source, reason)
            raise DeadlineExceeded(reason)
        timeout = float(request.meta.get("download_timeout") or 0)
        if not timeout or left < timeout:
            request.meta["download_timeout"] = left
            request.meta["newsagg_deadline"] = reason

    def process_exception(self, request: Request, exception: Exception) -> None:
        reason = request.meta.get("newsagg_deadline")
        if reason and isinstance(exception, DownloadTimeoutError | TimeoutError | TCPTimedOutError):
            self._record_cut(request_source(request), reason)
            raise DeadlineExceeded(reason) from exception

    def _record_cut(self, source: str | None, reason: str) -> None:
        run: Any = getattr(self.crawler.spider, "run", None)
        cut = getattr(run, "cut", None)
        if source is not None and isinstance(cut, dict):
            cut.setdefault(source, reason)


class BodyTooLarge(IgnoreRequest):
    """A body that passed ``DOWNLOAD_MAXSIZE`` while being inflated."""


def inflate_gzip(data: bytes, max_size: int) -> bytes:
    """One gzip layer of ``data``, refusing to produce more than ``max_size`` bytes (0: no cap).
    Raises :class:`zlib.error` when ``data`` is not gzip."""
    inflater = zlib.decompressobj(31)
    parts: list[bytes] = []
    size = 0
    chunk = inflater.decompress(data, 1 << 16)
    while chunk:
        size += len(chunk)
        if max_size and size > max_size:
            raise BodyTooLarge(f"body exceeded DOWNLOAD_MAXSIZE ({max_size} B) while inflating")
        parts.append(chunk)
        chunk = inflater.decompress(inflater.unconsumed_tail, 1 << 16)
    return b"".join(parts)


NOT_GZIP = "response says gzip but the body is not gzip"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_PROBE = 1 << 14  # bytes of the body tried, and of output asked for: enough to tell


class WrongEncoding(IgnoreRequest):
    """A body that is not what its ``Content-Encoding`` says (gzip, deflate, br or zstd)."""


def outer_encoding(values: list[bytes]) -> str:
    """The last coding applied (the last listed) in ``Content-Encoding`` header values."""
    codings = [c.strip().lower() for v in values for c in v.decode("latin-1").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    return codings[-1] if codings else ""


def _starts_as_deflate(body: bytes) -> bool:
    for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):  # zlib-wrapped, then raw (as Scrapy tries)
        try:
            zlib.decompressobj(wbits).decompress(body[:_PROBE], _PROBE)
            return True
        except zlib.error:
            continue
    return False


def _starts_as_brotli(body: bytes) -> bool:
    try:
        import brotli
    except ImportError:  # Scrapy then does not ask for br, and cannot decode it either
        return True
    try:
        brotli.Decompressor().process(body[:_PROBE], output_buffer_limit=_PROBE)
        return True
    except brotli.error:
        return False


def body_matches_coding(body: bytes, coding: str) -> bool:
    """Whether ``body`` begins as ``coding`` says (only its first bytes are tried, so a bomb
    costs nothing here). Codings this does not know are not judged."""
    if coding in ("gzip", "x-gzip"):
        return body.startswith(GZIP_MAGIC)
    if coding == "deflate":
        return _starts_as_deflate(body)
    if coding == "br":
        return _starts_as_brotli(body)
    if coding == "zstd":
        return body.startswith(ZSTD_MAGIC)
    return True


class LyingEncodingMiddleware:
    """Before HttpCompressionMiddleware (590) in the response chain: a body must begin the way
    its ``Content-Encoding`` says, or the response fails with that reason in our words."""

    def process_response(self, request: Request, response: Response) -> Response:
        if request.method == "HEAD" or not response.body:
            return response
        coding = outer_encoding(response.headers.getlist("Content-Encoding"))
        if not body_matches_coding(response.body, coding):
            named = "gzip" if coding == "x-gzip" else coding
            raise WrongEncoding(
                f"response says {named} but the body is not {named} ({coding}): {response.url}"
            )
        return response


class NestedGzipMiddleware:
    """Inflate a body that is still gzip after ``Content-Encoding`` was decoded (under
    ``DOWNLOAD_MAXSIZE``), up to three layers; a body that is not valid gzip is left alone."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NestedGzipMiddleware:
        return cls(crawler.settings.getint("DOWNLOAD_MAXSIZE"))

    def process_response(self, request: Request, response: Response) -> Response:
        body = response.body
        if not body.startswith(GZIP_MAGIC):
            return response
        max_size = int(request.meta.get("download_maxsize", self.max_size))
        for _ in range(3):
            if not body.startswith(GZIP_MAGIC):
                break
            try:
                body = inflate_gzip(body, max_size)
            except zlib.error:
                break
            except BodyTooLarge as exc:
                raise BodyTooLarge(f"{exc}: {request.url}") from None
        return response if body is response.body else response.replace(body=body)


class SafeMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's meta-refresh handling, except that a refresh to something Scrapy cannot request
    (``javascript:alert(1)``) leaves the page as it is instead of failing it with ValueError."""

    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        try:
            return super().process_response(request, response)
        except ValueError:
            return response
