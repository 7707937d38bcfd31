"""HTTP fetching: one shared httpx client with a connection pool per host, polite per host, bounded in time
and size."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from monitor.config import HttpSettings

PERMANENT_REDIRECTS = {301, 308}
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.8"


class FetchError(Exception):
    """A request that produced no usable body. ``kind`` is one of: timeout, connect, too_large,
    http (an error status), gone (410), protocol."""

    def __init__(self, kind: str, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class FetchResult:
    url: str  # final URL after redirects
    status: int
    content: bytes  # empty for 304
    content_type: str | None
    etag: str | None
    last_modified: str | None
    moved_to: str | None  # set when every redirect on the way was permanent
    fresh_for: float | None = None  # seconds the server says the response stays fresh (max-age or Expires)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def freshness(cache_control: str | None, expires: str | None, now: datetime | None = None) -> float | None:
    """Seconds a response stays fresh: ``Cache-Control: max-age`` (which wins), else ``Expires``; None when
    neither says (or they say it is stale)."""
    for directive in (cache_control or "").split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age" and value.strip().strip('"').isdigit():
            return float(value.strip().strip('"')) or None
    if expires:
        try:
            when = email.utils.parsedate_to_datetime(expires)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
        return seconds if seconds > 0 else None
    return None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _HostGate:
    """At most ``limit`` requests in flight to one host, starts at least ``gap`` seconds apart."""

    def __init__(self, limit: int, gap: float):
        self._slots = asyncio.Semaphore(limit)
        self._gap = gap
        self._next_start = 0.0
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        if self._gap:
            async with self._lock:
                now = time.monotonic()
                wait = self._next_start - now
                self._next_start = max(now, self._next_start) + self._gap
            if wait > 0:
                await asyncio.sleep(wait)

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that calls ``release`` once closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]):
        self._stream, self._release = stream, release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, lambda: None  # once, however often it is closed
            release()


class _PoolPerHost(httpx.AsyncBaseTransport):
    """One httpcore connection pool per origin. httpcore checks every pooled connection (a system call each)
    whenever a request starts or ends, so one pool shared by many hosts spends more CPU per request than
    the request itself. A pool idle for longer than the keep-alive expiry is closed when a new one opens."""

    def __init__(self, per_host: int, keepalive_expiry: float = 5.0):
        self._limits = httpx.Limits(
            max_connections=per_host, max_keepalive_connections=per_host, keepalive_expiry=keepalive_expiry
        )
        self._ssl = httpx.create_ssl_context()  # one for all pools: building one costs milliseconds
        self._pools: dict[tuple[bytes, bytes, int | None], httpx.AsyncHTTPTransport] = {}
        self._in_use: dict[tuple[bytes, bytes, int | None], int] = {}
        self._last_used: dict[tuple[bytes, bytes, int | None], float] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = (request.url.raw_scheme, request.url.raw_host, request.url.port)
        pool = self._pools.get(origin)
        if pool is None:
            await self._close_idle()
            pool = self._pools[origin] = httpx.AsyncHTTPTransport(verify=self._ssl, limits=self._limits)
        self._in_use[origin] = self._in_use.get(origin, 0) + 1
        try:
            response = await pool.handle_async_request(request)
        except BaseException:
            self._release(origin)
            raise
        stream = _ReleasingStream(response.stream, lambda: self._release(origin))  # open until the body is read
        return httpx.Response(response.status_code, headers=response.headers, stream=stream,
                              extensions=response.extensions)

    def _release(self, origin: tuple[bytes, bytes, int | None]) -> None:
        self._in_use[origin] -= 1
        self._last_used[origin] = time.monotonic()

    async def _close_idle(self) -> None:
        horizon = time.monotonic() - self._limits.keepalive_expiry
        for origin in [o for o, t in self._last_used.items() if t < horizon and not self._in_use[o]]:
            del self._last_used[origin], self._in_use[origin]
            await self._pools.pop(origin).aclose()

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()


class Fetcher:
    """Fetches feeds and pages over one shared ``httpx.AsyncClient``."""

    def __init__(self, settings: HttpSettings):
        self._settings = settings
        self._gates: dict[str, _HostGate] = {}
        self._connections = asyncio.Semaphore(settings.max_connections)
        self._client = httpx.AsyncClient(
            follow_redirects=True,
            max_redirects=10,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.total_timeout,
            ),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate, br"},
            transport=_PoolPerHost(settings.per_host_concurrency),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def _gate(self, url: str) -> _HostGate:
        host = urlsplit(url).netloc.lower()
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = _HostGate(
                self._settings.per_host_concurrency, self._settings.per_host_min_gap
            )
        return gate

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = PAGE_ACCEPT,
    ) -> FetchResult:
        """GET ``url``; conditional when ``etag``/``last_modified`` are given. Raises FetchError."""
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            async with self._gate(url), self._connections, asyncio.timeout(self._settings.total_timeout):
                return await self._get(url, headers)
        except TimeoutError:
            raise FetchError("timeout", f"no complete response within {self._settings.total_timeout:g}s") from None
        except httpx.TimeoutException as exc:
            raise FetchError("timeout", f"timed out ({type(exc).__name__})") from None
        except httpx.ConnectError as exc:
            raise FetchError("connect", f"cannot connect: {exc}") from None
        except httpx.TooManyRedirects:
            raise FetchError("protocol", "too many redirects") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchError("protocol", f"{type(exc).__name__}: {exc}") from None

    async def _get(self, url: str, headers: dict[str, str]) -> FetchResult:
        async with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                await response.aread()  # empty, but unread it would cost the connection its keep-alive
                return self._result(response, b"")
            if response.status_code >= 400:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                kind = "gone" if response.status_code == 410 else "http"
                raise FetchError(
                    kind, f"HTTP {response.status_code} {response.reason_phrase}".strip(),
                    status=response.status_code, retry_after=retry_after,
                )
            return self._result(response, await self._read_body(response))

    async def _read_body(self, response: httpx.Response) -> bytes:
        limit = self._settings.max_body_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit and "Content-Encoding" not in response.headers:
            raise FetchError("too_large", f"body of {declared} bytes exceeds the limit of {limit}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise FetchError("too_large", f"body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _result(response: httpx.Response, content: bytes) -> FetchResult:
        history = response.history
        moved = bool(history) and all(r.status_code in PERMANENT_REDIRECTS for r in history)
        return FetchResult(
            url=str(response.url),
            status=response.status_code,
            content=content,
            content_type=response.headers.get("Content-Type"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            moved_to=str(response.url) if moved else None,
            fresh_for=freshness(response.headers.get("Cache-Control"), response.headers.get("Expires")),
        )
