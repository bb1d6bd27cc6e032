"""``newsagg serve``: the feeds folder over HTTP, cheap to poll.

GET and HEAD only; the right media type per file; a strong ``ETag`` (size and modification time)
and ``Last-Modified``; ``304 Not Modified`` for ``If-None-Match``/``If-Modified-Since``;
``Cache-Control``. Nothing outside the folder is ever served: paths are decoded once, dot-files
and ``..`` segments are refused, and the resolved file must lie inside the folder (so a symlink
pointing out is refused too).
"""

from __future__ import annotations

import threading
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from aggregator import __version__

CONTENT_TYPES = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
DEFAULT_PORT = 8080
DEFAULT_MAX_AGE = 300


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, host: str, port: int, max_age: int) -> None:
        self.root = root.resolve()
        self.max_age = max_age
        super().__init__((host, port), FeedHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"


class FeedHandler(BaseHTTPRequestHandler):
    server: FeedServer
    server_version = f"newsagg/{__version__}"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _resolve(self) -> Path | None:
        path = unquote(urlsplit(self.path).path)
        if "\x00" in path or "\\" in path:
            return None
        parts = [part for part in path.split("/") if part]
        if any(part.startswith(".") for part in parts):  # "..", ".export-state.json", ".tmp"
            return None
        candidate = self.server.root.joinpath(*parts)
        if candidate.is_dir():
            candidate = candidate / "index.html"
        try:
            resolved = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not resolved.is_relative_to(self.server.root) or not resolved.is_file():
            return None
        return resolved

    def _serve(self, *, body: bool) -> None:
        path = self._resolve()
        if path is None:
            self._answer(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", body)
            return
        stat = path.stat()
        etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
        modified = formatdate(stat.st_mtime, usegmt=True)
        headers = {
            "ETag": etag,
            "Last-Modified": modified,
            "Cache-Control": f"public, max-age={self.server.max_age}",
        }
        if self._not_modified(etag, int(stat.st_mtime)):
            self._answer(HTTPStatus.NOT_MODIFIED, b"", None, False, headers)
            return
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        self._answer(HTTPStatus.OK, path.read_bytes(), content_type, body, headers)

    def _not_modified(self, etag: str, mtime: int) -> bool:
        match = self.headers.get("If-None-Match")
        if match is not None:
            tags = [tag.strip().removeprefix("W/") for tag in match.split(",")]
            return etag in tags or "*" in tags
        since = self.headers.get("If-Modified-Since")
        if since:
            try:
                return mtime <= parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError):
                return False
        return False

    def _answer(
        self,
        status: HTTPStatus,
        data: bytes,
        content_type: str | None,
        body: bool,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        if status != HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body and data:
            self.wfile.write(data)


def make_server(
    root: str | Path, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, max_age: int = 300
) -> FeedServer:
    """A server for ``root`` bound to ``host:port`` (port 0: any free port); not yet serving."""
    return FeedServer(Path(root), host, port, max_age)


def serve_in_thread(server: FeedServer) -> threading.Thread:
    """Run ``server`` in a daemon thread (tests); stop it with ``server.shutdown()``."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread
