"""The news-world server: one process, asyncio, HTTP/1.1 keep-alive, every document pre-rendered in memory.

    python -m benchmarks.server --seed 1 --feeds 1000 --hosts 8 --entries 20 --pages 2500

Listens on 127.0.0.2 … 127.0.0.{hosts+1} (one port, the same on every host; past 254 hosts on 127.0.1.x …) and on
127.0.0.1 for control:

* ``GET /__stats``  → JSON: the server's own CPU seconds and response counts by kind (feed/page × 200/304), the
  pages asked for more than once, and per host its requests, the closest two of them (seconds between their
  arrivals) and the most answered at once;
* ``GET /__change?fraction=F&round=R`` → publish one new story on a fraction F of the feeds (new ETag);
* ``GET /__reset`` → zero the counters.

Feeds and pages have an ETag and a Last-Modified and answer conditional requests with 304; pages are served
gzip-compressed when the client accepts it (compressed once, at start); ``--delay S`` answers every request S
seconds late (slow hosts). Prints ``READY <port>`` when listening.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json
import resource
import socket
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

from benchmarks.world import World, add_world_arguments, host_address

LAST_MODIFIED = format_datetime(datetime(2024, 3, 1, 6, 0, tzinfo=UTC), usegmt=True)


class Doc:
    """One resource with its response heads and bodies prepared (identity and gzip) and its 304."""

    __slots__ = ("body", "common", "etag", "gz", "kind", "last_modified", "not_modified", "plain")

    def __init__(self, kind: str, body: bytes, content_type: str, compress: bool, last_modified: str):
        self.kind = kind
        self.body = body
        self.etag = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
        self.last_modified = last_modified
        self.common = (f"Content-Type: {content_type}\r\nETag: {self.etag}\r\nLast-Modified: {last_modified}\r\n"
                       "Accept-Ranges: bytes\r\n")
        self.plain = (self._head(200, self.common, len(body)), body)
        gz = gzip.compress(body, 6) if compress else b""
        self.gz = (self._head(200, self.common + "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n", len(gz)),
                   gz) if compress else None
        self.not_modified = (
            f"HTTP/1.1 304 Not Modified\r\nETag: {self.etag}\r\nLast-Modified: {last_modified}\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()

    @staticmethod
    def _head(status: int, headers: str, length: int, extra: str = "") -> bytes:
        reason = {200: "OK", 206: "Partial Content", 404: "Not Found", 416: "Range Not Satisfiable"}[status]
        return f"HTTP/1.1 {status} {reason}\r\n{headers}{extra}Content-Length: {length}\r\n\r\n".encode()

    @classmethod
    def _response(cls, status: int, headers: str, body: bytes) -> bytes:
        return cls._head(status, headers, len(body)) + body

    def ranged(self, spec: str) -> tuple[bytes, bytes]:
        """A single "bytes=a-b" range of the identity body (206), or 416 when it cannot be satisfied."""
        size = len(self.body)
        unit, _, rng = spec.partition("=")
        first, _, last = rng.partition("-")
        try:
            if unit.strip() != "bytes" or "," in rng:
                raise ValueError
            if first:
                start, end = int(first), min(int(last) if last else size - 1, size - 1)
            else:
                start, end = max(size - int(last), 0), size - 1
        except ValueError:
            return self.plain  # not a range this server serves: the whole body, as RFC 9110 allows
        if start > end or start >= size:
            return self._head(416, "", 0, f"Content-Range: bytes */{size}\r\n"), b""
        part = self.body[start : end + 1]
        return self._head(206, self.common, len(part), f"Content-Range: bytes {start}-{end}/{size}\r\n"), part


NOT_FOUND = Doc._response(404, "Content-Type: text/plain\r\n", b"not found")


@dataclass
class HostLog:
    """One host's requests as this server saw them: how many, the closest two arrivals, the most in flight."""

    requests: int = 0
    closest: float | None = None  # seconds
    closest_paths: tuple[str, str] | None = None
    most_at_once: int = 0
    in_flight: int = 0
    last: tuple[float, str] | None = None

    def arrived(self, now: float, path: str) -> None:
        self.requests += 1
        if self.last is not None:
            gap = now - self.last[0]
            if self.closest is None or gap < self.closest:
                self.closest, self.closest_paths = gap, (self.last[1], path)
        self.last = (now, path)
        self.in_flight += 1
        self.most_at_once = max(self.most_at_once, self.in_flight)

    def as_dict(self) -> dict[str, object]:
        return {"requests": self.requests, "closest": self.closest, "closest_paths": self.closest_paths,
                "most_at_once": self.most_at_once}


class NewsWorldServer:
    def __init__(self, world: World, delay: float = 0.0):
        self.world = world
        self.delay = delay
        self.docs: dict[tuple[str, str], Doc] = {}
        self.counts: Counter[str] = Counter()
        self.page_hits: Counter[tuple[str, str]] = Counter()
        self.hosts: defaultdict[str, HostLog] = defaultdict(HostLog)
        for i in range(len(world.pages)):
            self._page(i)
        for f in range(world.n_feeds):
            self._feed(f)

    def _page(self, i: int) -> None:
        page = self.world.pages[i]
        self.docs[(host_address(page.host), page.path)] = Doc(
            "page", self.world.page_html(i), "text/html; charset=utf-8", True, LAST_MODIFIED
        )

    def _feed(self, f: int) -> None:
        w = self.world
        atom = w.feed_path(f).endswith(".atom")
        version = w.feed_version[f]
        modified = LAST_MODIFIED if not version else format_datetime(datetime.now(UTC), usegmt=True)
        self.docs[(host_address(f % w.hosts), w.feed_path(f))] = Doc(
            "feed", w.feed_document(f),
            "application/atom+xml; charset=utf-8" if atom else "application/rss+xml; charset=utf-8",
            False, modified,
        )

    def control(self, target: str) -> bytes:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/__stats":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            payload = {"cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss, "counts": self.counts,
                       "pages_asked_twice": sum(1 for n in self.page_hits.values() if n > 1),
                       "hosts": {host: log.as_dict() for host, log in self.hosts.items()}}
        elif parts.path == "/__reset":
            self.counts.clear()
            self.page_hits.clear()
            self.hosts.clear()
            payload = {"ok": True}
        elif parts.path == "/__change":
            before = len(self.world.pages)
            changed = self.world.change_feeds(float(query.get("fraction", "0.1")), int(query.get("round", "1")))
            for i in range(before, len(self.world.pages)):
                self._page(i)
            for f in changed:
                self._feed(f)
            payload = {"changed": len(changed), "new_pages": len(self.world.pages) - before}
        else:
            return NOT_FOUND
        body = json.dumps(payload).encode()
        return Doc._response(200, "Content-Type: application/json\r\n", body)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host = writer.get_extra_info("sockname")[0]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        key, _, value = line.partition(":")
                        headers[key.strip().lower()] = value.strip()
                if host == "127.0.0.1":
                    writer.write(self.control(target))
                    await writer.drain()
                    continue
                log = self.hosts[host]
                log.arrived(time.monotonic(), target)
                try:
                    await self.answer(writer, host, method, target, headers)
                finally:
                    log.in_flight -= 1
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def answer(self, writer: asyncio.StreamWriter, host: str, method: str, target: str,
                     headers: dict[str, str]) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        doc = self.docs.get((host, urlsplit(target).path))
        if doc is None:
            self.counts["404"] += 1
            writer.write(NOT_FOUND)
        else:
            inm, ims = headers.get("if-none-match"), headers.get("if-modified-since")
            fresh = inm == doc.etag if inm is not None else ims == doc.last_modified
            if fresh:
                self.counts[f"{doc.kind}_304"] += 1
                writer.write(doc.not_modified)
            else:
                # HEAD gets the head alone (a body would desynchronise a kept-alive connection);
                # a Range request gets its bytes of the identity body.
                self.counts[f"{doc.kind}_{'head' if method == 'HEAD' else '200'}"] += 1
                if doc.kind == "page" and method == "GET":
                    self.page_hits[(host, urlsplit(target).path)] += 1
                gz = doc.gz is not None and "gzip" in headers.get("accept-encoding", "")
                if "range" in headers:
                    head_bytes, body = doc.ranged(headers["range"])
                else:
                    head_bytes, body = doc.gz if gz and doc.gz else doc.plain
                writer.write(head_bytes if method == "HEAD" else head_bytes + body)
        await writer.drain()


def bind_all(hosts: int) -> tuple[int, list[socket.socket]]:
    """Sockets on 127.0.0.1 and every host's address (``host_address``), all on one free port."""
    for _attempt in range(50):
        first = socket.create_server((host_address(0), 0), backlog=1024)
        port = first.getsockname()[1]
        socks = [first]
        try:
            for h in range(1, hosts):
                socks.append(socket.create_server((host_address(h), port), backlog=1024))
            socks.append(socket.create_server(("127.0.0.1", port), backlog=64))
            return port, socks
        except OSError:
            for s in socks:
                s.close()
    raise SystemExit("no common free port on the loopback hosts")


async def serve(args: argparse.Namespace) -> None:
    port, socks = bind_all(args.hosts)
    started = time.perf_counter()
    world = World(args.seed, args.feeds, args.hosts, args.entries, args.pages, port=port)
    server = NewsWorldServer(world, args.delay)
    servers = [await asyncio.start_server(server.handle, sock=s) for s in socks]
    size = sum(len(d.body) for d in server.docs.values())
    print(f"READY {port} docs={len(server.docs)} bytes={size} render_s={time.perf_counter() - started:.1f}",
          flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_world_arguments(parser, feeds=100, hosts=8, entries=20, pages=300)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds every answer waits (slow hosts)")
    args = parser.parse_args()
    try:
        import uvloop  # optional: a cheaper event loop when installed

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
