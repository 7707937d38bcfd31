"""HTTP fetching: one shared httpx client with a connection pool per host, polite per host, bounded in time
and size."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import socket
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

import httpx

from monitor.core.config import HttpSettings
from monitor.core.errors import ConfigError, MonitorError
from monitor.ingest.decoding import BoundedDecoder, DecodingError
from monitor.ingest.netguard import AddressPolicy, literal_address, pinned, resolve, resolve_now
from monitor.store.base import storage_fault

if TYPE_CHECKING:
    from monitor.store import Store

log = logging.getLogger(__name__)

PERMANENT_REDIRECTS = {301, 308}
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.8"
Trace = Callable[[str, dict[str, object]], Awaitable[None]]  # httpcore's ``trace`` request extension


class FetchError(Exception):
    """A request that produced no usable body. Callers catch the subclasses; ``kind`` names the class in feed
    errors (``blocked: 127.0.0.1 is a loopback address``) and metrics."""

    kind: ClassVar[str] = "fetch"

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class FetchTimeout(FetchError):
    """No complete response in time (connect, read or the total deadline)."""

    kind = "timeout"


class ConnectFailed(FetchError):
    """The host could not be resolved or reached."""

    kind = "connect"


class Blocked(FetchError):
    """Refused before connecting: the address is one the SSRF guard does not allow (see netguard)."""

    kind = "blocked"


class TooLarge(FetchError):
    """The body, decompressed, exceeds ``http.max_body_bytes``."""

    kind = "too_large"


class HttpStatus(FetchError):
    """An error status (4xx, 5xx)."""

    kind = "http"


class Gone(HttpStatus):
    """410 Gone: the feed is to be disabled."""

    kind = "gone"


class ProtocolError(FetchError):
    """Anything else HTTP-level: too many redirects, a malformed response or body encoding, a bad URL."""

    kind = "protocol"


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


class RefusedUrl(MonitorError):
    """A URL given to be polled that will never be fetched: not http(s), or an address the guard refuses."""


def check_feed_url(url: str, settings: HttpSettings) -> str:
    """``url`` stripped, when it is an http(s) URL whose host the SSRF guard allows (a name that does not
    resolve now is accepted: it is checked again at every fetch). Raises RefusedUrl."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise RefusedUrl(f"not a valid URL: {url!r} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedUrl(f"not an http(s) URL: {url!r}")
    try:
        addresses = resolve_now(parts.hostname, port)
    except (OSError, UnicodeError):
        return url
    refusal = AddressPolicy(settings.allowed_networks).first_refusal(addresses)
    if refusal is not None:
        raise RefusedUrl(f"refused {url}: blocked: {refusal} (see http.allowed_networks)")
    return url


class _HostGate:
    """At most ``limit`` requests in flight to one host, starts at least ``gap`` seconds apart (this process's)."""

    def __init__(self, limit: int, gap: float):
        self._slots = asyncio.Semaphore(limit)
        self._gap = gap
        self._next_start = 0.0
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def slot(self, connections: asyncio.Semaphore) -> AsyncIterator[Trace | None]:
        """Held while one request to the host runs (with one of the fetcher's ``connections``); gives the
        request's httpcore ``trace`` extension, if the gate follows the request onto the wire."""
        async with self._slots:
            if self._gap:
                async with self._lock:
                    now = time.monotonic()
                    wait = self._next_start - now
                    self._next_start = max(now, self._next_start) + self._gap
                if wait > 0:
                    await asyncio.sleep(wait)
            async with connections:
                yield None

    def set_gap(self, gap: float) -> None:
        """Space later starts ``gap`` seconds apart, the next one ``gap`` from now when the gap grows (it is set
        right after a request to the host: robots.txt)."""
        if gap > self._gap:
            self._next_start = max(self._next_start, time.monotonic() + gap)
        self._gap = gap


class SharedBudgets:
    """Per-host budgets kept in the database the instances share (``Store.take_host_slot``): the gap and the
    concurrency hold for all of them together. Its calls run on threads of their own (not behind the pipeline's
    database thread); a slot is given back without waiting, so a cancelled request frees its slot too."""

    def __init__(self, store: Store, owner: str, lease: float):
        self._store, self._owner, self._lease = store, owner, lease
        self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="monitor-budget")

    async def take(self, host: str, gap: float, limit: int) -> str:
        """A slot's token once a request to ``host`` may start (asking again after each wait the budget names)."""
        while True:
            asked = self._threads.submit(self._store.take_host_slot, host, self._owner, gap, limit, self._lease)
            try:
                answer = await asyncio.wrap_future(asked)
            except asyncio.CancelledError:  # the answer may still be a slot: given back once it comes
                asked.add_done_callback(partial(self._give_back_unused, host=host))
                raise
            if isinstance(answer, str):
                return answer
            await asyncio.sleep(answer)

    def give_back(self, token: str, host: str, gap: float | None) -> None:
        """The request ended (``gap``: after its headers left; the two calls may run in either order)."""
        self._threads.submit(self._store.give_host_slot, token, host, gap).add_done_callback(_log_failure)

    def sent(self, token: str, host: str, gap: float) -> None:
        """The headers of ``token``'s request left: the host's next start is ``gap`` from now."""
        self._threads.submit(self._store.sent_on_host_slot, token, host, gap).add_done_callback(_log_failure)

    def _give_back_unused(self, asked: Future[str | float], host: str) -> None:
        if not asked.cancelled() and asked.exception() is None and isinstance(token := asked.result(), str):
            self.give_back(token, host, None)

    def close(self) -> None:
        self._threads.shutdown(wait=True)


def _log_failure(done: Future[None]) -> None:
    exc = None if done.cancelled() else done.exception()
    # A storage fault (an unreachable database) is the daemon's outage, said once; the next cycle releases the
    # slots left (Pipeline._release_claims), or they lapse after their lease.
    if exc is not None and storage_fault(exc) is None:
        log.warning("host budget not updated (%s); a slot lapses after its lease", exc)


class _SharedHostGate(_HostGate):
    """The host's gap and concurrency for every instance together (``SharedBudgets``): this process's requests to
    the host queue here (at most ``limit``, one at a time asking the database), then the shared budget names the
    start. The connection is taken before asking, so a granted start is not spent waiting for one; the request's
    headers leaving (httpcore's ``trace`` extension) tell the budget, and the next start is a gap after that."""

    def __init__(self, host: str, limit: int, gap: float, budgets: SharedBudgets):
        super().__init__(limit, gap)
        self._host, self._limit, self._budgets = host, limit, budgets

    @asynccontextmanager
    async def slot(self, connections: asyncio.Semaphore) -> AsyncIterator[Trace | None]:
        async with self._slots:
            async with self._lock:
                await connections.acquire()
                try:
                    token = await self._budgets.take(self._host, self._gap, self._limit)
                except BaseException:
                    connections.release()
                    raise
            gap, leaving = self._gap, True

            async def trace(event: str, _info: dict[str, object]) -> None:
                nonlocal leaving
                if leaving and event.endswith(".send_request_headers.complete"):
                    leaving = False  # a redirect's later hops are not this start
                    self._budgets.sent(token, self._host, gap)

            try:
                yield trace
            finally:
                connections.release()
                self._budgets.give_back(token, self._host, None if leaving else gap)


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


def configured_proxies(settings: HttpSettings) -> dict[str, str]:
    """Proxy URL by scheme, plus ``no`` (the NO_PROXY list): ``http.proxy`` for http and https when set, else
    the standard HTTP_PROXY / HTTPS_PROXY / ALL_PROXY variables. Only http(s) proxies are supported."""
    found = {k: v for k, v in urllib.request.getproxies_environment().items() if k in ("http", "https", "all", "no")}
    if settings.proxy:
        found = {"http": settings.proxy, "https": settings.proxy} | ({"no": found["no"]} if "no" in found else {})
    for scheme, url in found.items():
        if scheme != "no" and urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError(f"unsupported proxy for {scheme} URLs: {url!r} (only http:// and https:// proxies)")
    return found


class _PoolPerHost(httpx.AsyncBaseTransport):
    """One httpcore connection pool per origin, through the proxy configured for it. httpcore checks every
    pooled connection (a system call each) whenever a request starts or ends, so one pool shared by many
    hosts spends more CPU per request than the request itself. A pool idle for longer than the keep-alive
    expiry is closed when a new one opens.

    Every request — each redirect hop is one — passes the SSRF guard first. Without a proxy the host is
    resolved here, every address it resolves to is checked, and the connection goes to the checked address
    (the name is kept for the Host header and TLS): a second, rebound answer cannot slip in between check
    and connect. Through a proxy the proxy resolves the name; its local resolution is checked when it has
    one, an IP literal always."""

    def __init__(self, per_host: int, policy: AddressPolicy, proxies: Mapping[str, str], keepalive_expiry: float = 5.0):
        self._limits = httpx.Limits(
            max_connections=per_host, max_keepalive_connections=per_host, keepalive_expiry=keepalive_expiry
        )
        self._policy = policy
        self._proxies = dict(proxies)
        self._ssl = httpx.create_ssl_context()  # one for all pools: building one costs milliseconds
        self._pools: dict[tuple[bytes, bytes, int | None], httpx.AsyncHTTPTransport] = {}
        self._in_use: dict[tuple[bytes, bytes, int | None], int] = {}
        self._last_used: dict[tuple[bytes, bytes, int | None], float] = {}

    def _proxy_for(self, url: httpx.URL) -> str | None:
        if urllib.request.proxy_bypass_environment(url.host, self._proxies):
            return None
        return self._proxies.get(url.scheme) or self._proxies.get("all")

    async def _guard(self, request: httpx.Request, proxy: str | None) -> httpx.Request:
        """The request to send, once its host passed the guard (raises Blocked or ConnectFailed)."""
        url = request.url
        host = url.raw_host.decode("ascii")
        try:
            addresses = await resolve(host, url.port or (443 if url.scheme == "https" else 80))
        except (socket.gaierror, UnicodeError) as exc:
            if proxy is not None:
                return request  # a name only the proxy can resolve
            raise ConnectFailed(f"cannot resolve {host}: {exc}") from None
        refusal = self._policy.first_refusal(addresses)
        if refusal is not None:
            raise Blocked(refusal)
        if proxy is not None or literal_address(host) is not None:
            return request
        return pinned(request, addresses[0])

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = (request.url.raw_scheme, request.url.raw_host, request.url.port)
        proxy = self._proxy_for(request.url)
        request = await self._guard(request, proxy)
        pool = self._pools.get(origin)
        if pool is None:
            await self._close_idle()
            pool = self._pools[origin] = httpx.AsyncHTTPTransport(verify=self._ssl, limits=self._limits, proxy=proxy)
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
        """Close the pools idle past the keep-alive expiry, every one taken out before the first await: a request
        to one of them starting while another closes would find its counters gone (a KeyError at its end)."""
        horizon = time.monotonic() - self._limits.keepalive_expiry
        idle = [o for o, t in self._last_used.items() if t < horizon and not self._in_use[o]]
        for origin in idle:
            del self._last_used[origin], self._in_use[origin]
        for pool in [self._pools.pop(origin) for origin in idle]:
            await pool.aclose()

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()


class Fetcher:
    """Fetches feeds and pages over one shared ``httpx.AsyncClient``."""

    def __init__(self, settings: HttpSettings, budgets: SharedBudgets | None = None):
        self._settings = settings
        self._budgets = budgets  # None: this process alone asks the hosts (SQLite); budgets kept in memory
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
            transport=_PoolPerHost(
                settings.per_host_concurrency, AddressPolicy(settings.allowed_networks), configured_proxies(settings)
            ),
        )

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._budgets is not None:
            self._budgets.close()

    def _gate(self, url: str) -> _HostGate:
        host = urlsplit(url).netloc.lower()
        gate = self._gates.get(host)
        if gate is None:
            limit, gap = self._settings.per_host_concurrency, self._settings.per_host_min_gap
            gate = _HostGate(limit, gap) if self._budgets is None else _SharedHostGate(host, limit, gap, self._budgets)
            self._gates[host] = gate
        return gate

    def set_crawl_delay(self, url: str, delay: float | None) -> None:
        """Space the requests to ``url``'s host by its robots.txt ``Crawl-delay`` (None: by
        ``http.per_host_min_gap`` again); never closer than ``http.per_host_min_gap``."""
        self._gate(url).set_gap(max(self._settings.per_host_min_gap, delay or 0.0))

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
            async with self._gate(url).slot(self._connections) as trace, asyncio.timeout(self._settings.total_timeout):
                return await self._get(url, headers, trace)
        except TimeoutError:
            raise FetchTimeout(f"no complete response within {self._settings.total_timeout:g}s") from None
        except httpx.TimeoutException as exc:
            raise FetchTimeout(f"timed out ({type(exc).__name__})") from None
        except httpx.ConnectError as exc:
            raise ConnectFailed(f"cannot connect: {exc}") from None
        except httpx.TooManyRedirects:
            raise ProtocolError("too many redirects") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ProtocolError(f"{type(exc).__name__}: {exc}") from None

    async def _get(self, url: str, headers: dict[str, str], trace: Trace | None) -> FetchResult:
        extensions = {"trace": trace} if trace else None
        async with self._client.stream("GET", url, headers=headers, extensions=extensions) as response:
            if response.status_code == 304:
                await response.aread()  # empty, but unread it would cost the connection its keep-alive
                return self._result(response, b"")
            if response.status_code >= 400:
                error = Gone if response.status_code == 410 else HttpStatus
                raise error(
                    f"HTTP {response.status_code} {response.reason_phrase}".strip(),
                    status=response.status_code, retry_after=parse_retry_after(response.headers.get("Retry-After")),
                )
            return self._result(response, await self._read_body(response))

    async def _read_body(self, response: httpx.Response) -> bytes:
        """The decoded body, read and decoded piece by piece: reading stops as soon as the decoded size passes
        the limit, however small the compressed body is."""
        limit = self._settings.max_body_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit and "Content-Encoding" not in response.headers:
            raise TooLarge(f"body of {declared} bytes exceeds the limit of {limit}")
        decoder = BoundedDecoder(response.headers.get("Content-Encoding"))
        body = bytearray()
        try:
            async for chunk in response.aiter_raw():
                if response.num_bytes_downloaded > limit:  # more on the wire than a body may decode to
                    raise TooLarge(f"body exceeds the limit of {limit} bytes")
                for piece in decoder.feed(chunk):
                    body += piece
                    if len(body) > limit:
                        raise TooLarge(f"body exceeds the limit of {limit} bytes")
        except DecodingError as exc:
            raise ProtocolError(f"cannot decode the {response.headers.get('Content-Encoding')} body: {exc}") from None
        return bytes(body)
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
