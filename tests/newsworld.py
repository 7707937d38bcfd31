"""A real HTTP server on loopback for tests: feeds and article pages with scripted behaviour."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit
from xml.sax.saxutils import escape


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the headers
    drip: float = 0.0  # seconds between body bytes (a slow-drip server)
    gzip: bool = False


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    at: float
    client_port: int = 0  # one per connection: requests on a kept-alive connection share it


Handler = Callable[["Request"], Reply]


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class Resource:
    """A static document with ETag/Last-Modified and 304 support."""

    def __init__(self, body: bytes, content_type: str, gzip: bool = False, conditional: bool = True):
        self.content_type = content_type
        self.gzip = gzip
        self.conditional = conditional
        self.set(body)

    def set(self, body: bytes) -> None:
        self.body = body
        self.etag = f'"{abs(hash(body)):x}"'
        self.last_modified = format_datetime(datetime.now(UTC), usegmt=True)

    def __call__(self, request: Request) -> Reply:
        # RFC 9110: If-Modified-Since is ignored when If-None-Match is present.
        if "if-none-match" in request.headers:
            fresh = request.headers["if-none-match"] == self.etag
        else:
            fresh = request.headers.get("if-modified-since") == self.last_modified
        if self.conditional and fresh:
            return Reply(304, headers={"ETag": self.etag})
        headers = {"Content-Type": self.content_type}
        if self.conditional:
            headers |= {"ETag": self.etag, "Last-Modified": self.last_modified}
        return Reply(200, self.body, headers, gzip=self.gzip)


class NewsServer:
    """Serves registered paths on ``host`` (any 127.x.y.z address); records every request."""

    def __init__(self, host: str = "127.0.0.1"):
        self.routes: dict[str, Handler] = {}
        self.requests: list[Seen] = []
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                path = urlsplit(self.path).path
                server.requests.append(Seen(path, headers, time.monotonic(), self.client_address[1]))
                handler = server.routes.get(path)
                reply = handler(Request(self.path, headers)) if handler else Reply(404, b"not found")
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body
                if reply.gzip and "gzip" in headers.get("accept-encoding", ""):
                    body = gzip.compress(body)
                    reply.headers["Content-Encoding"] = "gzip"
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if reply.drip:
                        for i in range(len(body)):
                            self.wfile.write(body[i : i + 1])
                            self.wfile.flush()
                            time.sleep(reply.drip)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._httpd = ThreadingHTTPServer((host, 0), _Handler)
        self._httpd.daemon_threads = True
        self.host = host
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def static(
        self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8", **kw: bool
    ) -> Resource:
        resource = Resource(body.encode() if isinstance(body, str) else body, content_type, **kw)
        self.routes[path] = resource
        return resource

    def hits(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


# --- documents ----------------------------------------------------------------------------------------

LOREM = (
    "Officials in Kyiv said air defence units intercepted most of the drones overnight, while emergency crews "
    "worked to restore power to districts on the left bank of the Dnipro. Residents described hearing several "
    "explosions shortly after midnight. The regional governor said repair teams would need several days."
)


def article_text(n: int, paragraphs: int = 6) -> list[str]:
    """Distinct, deterministic article paragraphs for story ``n``."""
    return [f"Story {n}, paragraph {p}: {LOREM} Reference code {n * 1000 + p}." for p in range(paragraphs)]


def article_page(
    title: str, paragraphs: list[str], canonical: str | None = None, padding: int = 0, byline: bool = True
) -> str:
    """A page with navigation, related links, comments, scripts and ads around the story."""
    head = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    nav = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(12))
    related = "".join(f'<li><a href="/related/{i}">Related story number {i}</a></li>' for i in range(8))
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    by = "<p class='byline'>By Jane Reporter</p>" if byline else ""
    filler = "<!-- " + "x" * padding + " -->" if padding else ""
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>{head}"
        f"<script>var tracking = {{'id': 1}};</script></head><body>"
        f"<header><nav><ul>{nav}</ul></nav></header>"
        f"<main><article><h1>{escape(title)}</h1>{by}{body}</article></main>"
        f"<aside><h2>Related</h2><ul>{related}</ul><div class='ad'>Advertisement: buy now</div></aside>"
        f"<section class='comments'><p>Comment: first!</p></section>{filler}"
        f"<footer><p>Copyright News Ltd</p></footer></body></html>"
    )


@dataclass
class Item:
    title: str
    link: str | None
    guid: str | None = None
    description: str = ""
    published: datetime | None = None


def rss(items: list[Item], title: str = "Test feed", encoding: str = "utf-8") -> bytes:
    parts = []
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(item.title)}</title>")
        if item.link:
            parts.append(f"<link>{escape(item.link)}</link>")
        if item.guid:
            parts.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
        if item.description:
            parts.append(f"<description>{escape(item.description)}</description>")
        if item.published:
            parts.append(f"<pubDate>{format_datetime(item.published)}</pubDate>")
        parts.append("</item>")
    doc = (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>{escape(title)}</title>'
        f"<link>http://example.invalid/</link><description>test</description>{''.join(parts)}</channel></rss>"
    )
    return doc.encode(encoding)


def atom(items: list[Item], title: str = "Test Atom feed") -> bytes:
    entries = []
    for item in items:
        updated = (item.published or datetime(2022, 3, 1, tzinfo=UTC)).isoformat()
        entries.append(
            f"<entry><title>{escape(item.title)}</title><link rel='alternate' href='{escape(item.link or '')}'/>"
            f"<id>{escape(item.guid or item.link or item.title)}</id><updated>{updated}</updated>"
            f"<summary>{escape(item.description)}</summary></entry>"
        )
    return (
        f"<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'><title>{escape(title)}"
        f"</title><id>urn:test:feed</id><updated>2022-03-01T00:00:00Z</updated>{''.join(entries)}</feed>"
    ).encode()
