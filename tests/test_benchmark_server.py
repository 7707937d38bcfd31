"""The benchmark world's server speaks HTTP/1.1 as a fair peer for other clients: HEAD has no body, Range is
honoured, and a kept-alive connection stays in step across them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import pytest

from benchmarks.server import NewsWorldServer
from benchmarks.world import World, host_address


@pytest.fixture
def world_server() -> Iterator[tuple[str, NewsWorldServer]]:
    world = World(1, 2, 1, 3, 6, port=0)
    server = NewsWorldServer(world)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, asyncio.base_events.Server] = {}

    async def start() -> None:
        holder["server"] = await asyncio.start_server(server.handle, host_address(0), 0)
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    assert started.wait(30)
    port = holder["server"].sockets[0].getsockname()[1]
    try:
        yield f"http://{host_address(0)}:{port}", server
    finally:
        loop.call_soon_threadsafe(holder["server"].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


def test_head_range_and_get_share_one_connection(world_server: tuple[str, NewsWorldServer]) -> None:
    base, server = world_server
    path = next(p for (_h, p), d in server.docs.items() if d.kind == "page")
    body = next(d.body for (_h, p), d in server.docs.items() if p == path)
    with httpx.Client(base_url=base, http2=False) as client:
        head = client.head(path, headers={"Accept-Encoding": "identity"})
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == len(body)
        part = client.get(path, headers={"Range": "bytes=10-19", "Accept-Encoding": "identity"})
        assert part.status_code == 206 and part.content == body[10:20]
        assert part.headers["content-range"] == f"bytes 10-19/{len(body)}"
        tail = client.get(path, headers={"Range": "bytes=-5"})
        assert tail.status_code == 206 and tail.content == body[-5:]
        beyond = client.get(path, headers={"Range": f"bytes={len(body) + 10}-"})
        assert beyond.status_code == 416
        full = client.get(path)
        assert full.status_code == 200 and full.content == body  # still in step after HEAD and ranges
    assert server.counts["page_head"] == 1
