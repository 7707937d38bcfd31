import asyncio
import ipaddress
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import pytest

from monitor.core.config import HttpSettings
from monitor.ingest.fetcher import Fetcher, FetchError, FetchResult, _PoolPerHost, parse_retry_after
from monitor.ingest.netguard import AddressPolicy
from tests.newsworld import NewsServer, Reply, Request

T = TypeVar("T")
LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]  # the test servers; the SSRF guard refuses loopback otherwise
FAST = HttpSettings(connect_timeout=1, read_timeout=1, total_timeout=2, max_body_bytes=50_000, per_host_min_gap=0,
                    allowed_networks=LOOPBACK)


def run(settings: HttpSettings, use: Callable[[Fetcher], Awaitable[T]]) -> T:
    async def go() -> T:
        fetcher = Fetcher(settings)
        try:
            return await use(fetcher)
        finally:
            await fetcher.aclose()

    return asyncio.run(go())


def fetch(url: str, settings: HttpSettings = FAST, **kw: str) -> FetchResult:
    return run(settings, lambda f: f.fetch(url, **kw))


def test_conditional_get_with_etag_and_last_modified(server: NewsServer) -> None:
    doc = server.static("/feed", b"<rss/>", "application/rss+xml")
    first = fetch(server.url("/feed"))
    assert first.status == 200 and first.etag == doc.etag and first.last_modified == doc.last_modified
    second = fetch(server.url("/feed"), etag=first.etag or "")
    assert second.not_modified and second.content == b""
    third = fetch(server.url("/feed"), last_modified=first.last_modified or "")
    assert third.not_modified
    assert server.hits("/feed")[1].headers["if-none-match"] == doc.etag


def test_conditional_requests_reuse_the_connection(server: NewsServer) -> None:
    server.static("/feed", b"<rss/>", "application/rss+xml")

    async def poll_three_times(fetcher: Fetcher) -> list[int]:
        first = await fetcher.fetch(server.url("/feed"))
        again = [await fetcher.fetch(server.url("/feed"), etag=first.etag or "") for _ in range(2)]
        return [first.status, *(r.status for r in again)]

    assert run(FAST, poll_three_times) == [200, 304, 304]
    assert len({seen.client_port for seen in server.hits("/feed")}) == 1  # a 304 must not cost a new connection


def test_user_agent_and_gzip(server: NewsServer) -> None:
    server.static("/big", b"<p>hello</p>" * 1000, gzip=True)
    result = fetch(server.url("/big"))
    assert result.content == b"<p>hello</p>" * 1000
    seen = server.hits("/big")[0].headers
    assert seen["user-agent"].startswith("monitor/") and "gzip" in seen["accept-encoding"]


def test_oversize_body_is_refused(server: NewsServer) -> None:
    server.static("/huge", b"x" * 60_000)
    with pytest.raises(FetchError) as err:
        fetch(server.url("/huge"))
    assert err.value.kind == "too_large"


def test_gzip_bomb_is_refused_after_decompression(server: NewsServer) -> None:
    server.static("/bomb", b"\0" * 5_000_000, gzip=True)  # about 5 KB on the wire
    with pytest.raises(FetchError) as err:
        fetch(server.url("/bomb"))
    assert err.value.kind == "too_large"


def test_slow_headers_time_out(server: NewsServer) -> None:
    server.route("/slow", lambda r: Reply(200, b"late", delay=3))
    with pytest.raises(FetchError) as err:
        fetch(server.url("/slow"))
    assert err.value.kind == "timeout"


def test_slow_drip_body_is_cut_by_the_total_timeout(server: NewsServer) -> None:
    server.route("/drip", lambda r: Reply(200, b"x" * 100, drip=0.1))  # each read is quick, the whole is not
    with pytest.raises(FetchError) as err:
        fetch(server.url("/drip"))
    assert err.value.kind == "timeout"


def test_429_carries_retry_after(server: NewsServer) -> None:
    server.route("/busy", lambda r: Reply(429, b"", {"Retry-After": "120"}))
    with pytest.raises(FetchError) as err:
        fetch(server.url("/busy"))
    assert (err.value.kind, err.value.status, err.value.retry_after) == ("http", 429, 120.0)


def test_410_is_gone(server: NewsServer) -> None:
    server.route("/gone", lambda r: Reply(410))
    with pytest.raises(FetchError) as err:
        fetch(server.url("/gone"))
    assert err.value.kind == "gone"


def test_connection_refused(server: NewsServer) -> None:
    with pytest.raises(FetchError) as err:
        fetch("http://127.0.0.4:9/")
    assert err.value.kind == "connect"


@pytest.mark.parametrize(("code", "permanent"), [(301, True), (308, True), (302, False), (307, False)])
def test_redirects(server: NewsServer, code: int, permanent: bool) -> None:
    server.static("/new", b"<rss/>")
    server.route("/old", lambda r: Reply(code, headers={"Location": server.url("/new")}))
    result = fetch(server.url("/old"))
    assert result.url == server.url("/new")
    assert result.moved_to == (server.url("/new") if permanent else None)


def test_per_host_gap_and_concurrency(server: NewsServer, server2: NewsServer) -> None:
    gap = 0.2
    in_flight: dict[str, int] = {server.host: 0, server2.host: 0}
    most: dict[str, int] = dict(in_flight)
    host2_seen = threading.Event()
    waited_for_host2: list[bool] = []
    lock = threading.Lock()

    def handler(host: str) -> Callable[[Request], Reply]:
        def reply(_request: Request) -> Reply:
            with lock:
                in_flight[host] += 1
                most[host] = max(most[host], in_flight[host])
            if host == server2.host:
                host2_seen.set()
            elif not waited_for_host2:  # host 1's first request is answered only once host 2 has one too
                waited_for_host2.append(host2_seen.wait(60))
            time.sleep(0.05)
            with lock:
                in_flight[host] -= 1
            return Reply(200, b"ok")

        return reply

    for s in (server, server2):
        s.route("/p", handler(s.host))
    settings = HttpSettings(per_host_concurrency=1, per_host_min_gap=gap, read_timeout=90, total_timeout=90,
                            allowed_networks=LOOPBACK)

    async def many(fetcher: Fetcher) -> list[tuple[str, float]]:
        start = time.monotonic()

        async def one(url: str) -> tuple[str, float]:
            await fetcher.fetch(url)
            return url, time.monotonic() - start

        urls = [server.url("/p")] * 4 + [server2.url("/p")] * 4
        return await asyncio.gather(*(one(u) for u in urls))

    done = run(settings, many)
    for s in (server, server2):
        # The k-th request to a host cannot start before k gaps have passed, so it cannot end before either; a
        # loaded machine only makes it later. Without the gap the four would end ~0.05 s apart.
        ends = sorted(t for url, t in done if url.startswith(s.url("/")))
        assert all(end >= k * gap for k, end in enumerate(ends)), ends
        assert most[s.host] == 1  # one request in flight at a time
    # two hosts are polled side by side, not one after the other: host 1's first request waited for host 2's
    assert waited_for_host2 == [True]


def test_parse_retry_after() -> None:
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_one_pool_per_host_idle_pools_close_but_never_mid_body(server: NewsServer, server2: NewsServer) -> None:
    server.static("/a", b"a")
    server.route("/slow", lambda _: Reply(body=b"0123456789", drip=0.05))
    server2.static("/b", b"b")
    third = NewsServer("127.0.0.4")
    third.static("/c", b"c")
    transport = _PoolPerHost(per_host=2, policy=AddressPolicy(LOOPBACK), proxies={}, keepalive_expiry=0.2)

    async def go() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.get(server.url("/a"))).content == b"a"
            await asyncio.sleep(0.3)  # host A's pool is idle past its expiry, but nothing new has opened yet
            async with client.stream("GET", server.url("/slow")) as slow:
                await asyncio.sleep(0.3)
                assert (await client.get(server2.url("/b"))).content == b"b"  # a new pool: A is busy, kept
                assert len(transport._pools) == 2
                assert await slow.aread() == b"0123456789"
            await asyncio.sleep(0.3)
            assert (await client.get(third.url("/c"))).content == b"c"  # A and B idle: closed
            assert len(transport._pools) == 1
            assert (await client.get(server.url("/a"))).content == b"a"  # and opened again when needed

    try:
        asyncio.run(go())
    finally:
        third.close()
