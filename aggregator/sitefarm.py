"""A loopback web server for offline sites: the demo, the tests and the benchmarks crawl it.

It serves a folder as a small web of sites and knows a few tricks real sites play:

* ``/a/b/`` serves ``a/b/index.html``; query strings are ignored when finding the file, so links
  with tracking parameters still resolve.
* A sidecar file ``<name>.headers`` sets the answer: an optional first line ``HTTP <status>`` and
  then ``Header: value`` lines (a ``Content-Type`` with a lying charset, a ``Location``...).
* A file whose sidecar sets ``ETag`` or ``Last-Modified`` is a conditional resource: a request whose
  ``If-None-Match`` or ``If-Modified-Since`` matches gets ``304 Not Modified`` and no body.
* ``/_farm/status/<code>`` answers with that status; ``/_farm/slow/<seconds>/<path>`` waits before
  serving ``<path>``; ``/_farm/redirect/<code>/<path>`` redirects to ``/<path>``;
  ``/_farm/broken/<path>`` promises more bytes than it sends and drops the connection;
  ``/_farm/bomb/<MiB>`` is a gzip bomb (that many MiB of spaces in an HTML page, sent gzipped:
  1 KiB on the wire per MiB); ``/_farm/gzip/<n>/<path>`` serves ``<path>`` gzipped ``n`` times
  under a single ``Content-Encoding: gzip`` (2 = the double-compressed bodies some servers send);
  ``/_farm/big/<MiB>`` is an uncompressed HTML page of that size.

It binds 127.0.0.1 only, on a free port, and runs in a daemon thread.
"""

from __future__ import annotations

import mimetypes
import sys
import threading
import time
import zlib
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

CONTENT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".json": "application/json",
    ".txt": "text/plain",
}
MAX_SLOW_SECONDS = 120.0


@lru_cache(maxsize=4)
def gzip_bomb(mib: int) -> bytes:
    """An HTML page of ``mib`` MiB (almost all spaces), gzipped."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b" " * (1024 * 1024)
    parts = [compressor.compress(b"<html><body><ul class='news'>")]
    parts += [compressor.compress(chunk) for _ in range(mib)]
    parts.append(compressor.compress(b"</ul></body></html>") + compressor.flush())
    return b"".join(parts)


def gzipped(body: bytes, times: int = 1) -> bytes:
    for _ in range(times):
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        body = compressor.compress(body) + compressor.flush()
    return body


class _Handler(BaseHTTPRequestHandler):
    server: _FarmServer
    protocol_version = "HTTP/1.1"
    gzip_times = 0

    def log_message(self, format: str, *args: object) -> None:
        self.server.requests.append(self.path)
        self.server.headers_seen.append((self.path, dict(self.headers.items())))

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def _answer(self, send_body: bool) -> None:
        self.gzip_times = 0  # one handler serves every request of a keep-alive connection
        path = unquote(urlsplit(self.path).path)
        query = urlsplit(self.path).query
        parts = path.strip("/").split("/")
        if parts[0] == "_farm" and len(parts) >= 3:
            trick, arg, rest = parts[1], parts[2], "/" + "/".join(parts[3:])
            if path.endswith("/") and rest != "/":
                rest += "/"
            if trick == "status" and arg.isdigit():
                self._send(
                    int(arg),
                    {"Content-Type": "text/html"},
                    b"<h1>status %s</h1>" % arg.encode(),
                    send_body,
                )
                return
            if trick == "slow":
                time.sleep(min(float(arg), MAX_SLOW_SECONDS))
                self._serve_file(rest, send_body)
                return
            if trick == "redirect" and arg.isdigit():
                target = rest + (f"?{query}" if query else "")
                self._send(int(arg), {"Location": target}, b"", send_body)
                return
            if trick == "bomb" and arg.isdigit():
                headers = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
                self._send(200, headers, gzip_bomb(min(int(arg), 4096)), send_body)
                return
            if trick == "big" and arg.isdigit():
                body = b"<html><body>" + b" " * (min(int(arg), 256) * 1024 * 1024)
                self._send(200, {"Content-Type": "text/html"}, body, send_body)
                return
            if trick == "gzip" and arg.isdigit():
                self.gzip_times = min(int(arg), 5)
                self._serve_file(rest, send_body)
                return
            if trick == "broken":
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(b"<html><body><ul><li><a href='/x'>cut")
                self.wfile.flush()
                self.close_connection = True
                return
        self._serve_file(path, send_body)

    def _serve_file(self, path: str, send_body: bool) -> None:
        root = self.server.root
        target = (root / path.lstrip("/")).resolve()
        if not target.is_relative_to(root):
            self._send(403, {"Content-Type": "text/plain"}, b"forbidden", send_body)
            return
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file() or target.name.endswith(".headers"):
            self._send(404, {"Content-Type": "text/html"}, b"<h1>404 Not Found</h1>", send_body)
            return
        status = 200
        content_type = CONTENT_TYPES.get(target.suffix) or (
            mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        )
        headers = {"Content-Type": content_type}
        sidecar = target.with_name(target.name + ".headers")
        if sidecar.is_file():
            for line in sidecar.read_text("utf-8").splitlines():
                if line.startswith("HTTP "):
                    status = int(line.split()[1])
                elif ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip()] = value.strip()
        if status == 200 and self._not_modified(headers):
            validators = {k: v for k, v in headers.items() if k in ("ETag", "Last-Modified")}
            self._send(304, validators, b"", send_body=False)
            return
        self._send(status, headers, target.read_bytes(), send_body)

    def _not_modified(self, headers: dict[str, str]) -> bool:
        etag, modified = headers.get("ETag"), headers.get("Last-Modified")
        if etag and self.headers.get("If-None-Match"):
            return etag in [tag.strip() for tag in self.headers["If-None-Match"].split(",")]
        return bool(modified) and self.headers.get("If-Modified-Since") == modified

    def _send(self, status: int, headers: dict[str, str], body: bytes, send_body: bool) -> None:
        if self.gzip_times and status == 200:
            body, headers = gzipped(body, self.gzip_times), headers | {"Content-Encoding": "gzip"}
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


class _FarmServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, port: int) -> None:
        self.root = root.resolve()
        self.requests: list[str] = []
        self.headers_seen: list[tuple[str, dict[str, str]]] = []
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up (a crawler refusing an oversized body) is not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class SiteFarm:
    """Serve ``root`` on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, root: str | Path, port: int = 0) -> None:
        self._server = _FarmServer(Path(root), port)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL, ending in a slash: ``http://127.0.0.1:PORT/``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def requests(self) -> list[str]:
        """Paths requested so far, in order (for tests that count fetches)."""
        return self._server.requests

    @property
    def headers_seen(self) -> list[tuple[str, dict[str, str]]]:
        """(path, request headers) of each request so far."""
        return self._server.headers_seen

    def start(self) -> SiteFarm:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SiteFarm:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
