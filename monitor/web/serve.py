"""Serving the web application with uvicorn: on its own (`monitor web`) or inside the daemon (`[web] enabled`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Generator

import uvicorn

from monitor.core.config import Settings
from monitor.store import Store
from monitor.web.security import WebError, check_bind

log = logging.getLogger(__name__)


def _config(settings: Settings, store: Store, host: str, port: int) -> uvicorn.Config:
    from monitor.web.app import create_app  # FastAPI loads only when something is served

    check_bind(host, settings.web.token)
    app = create_app(settings, store)
    from monitor.web.connections import HeaderDeadline

    return uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, server_header=False,
                          http=HeaderDeadline.with_timeout(settings.web.header_timeout))


def serve(settings: Settings, store: Store, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM (refuses a non-loopback address without a token before binding)."""
    config = _config(settings, store, host, port)
    server = uvicorn.Server(config)
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot bind; it logged why
        if not server.started:
            raise WebError(f"cannot listen on {host}:{port} (in use, or not an address of this machine)") from None
        raise


class _Embedded(uvicorn.Server):
    """A server inside the daemon's event loop: the daemon owns the signals and stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.asynccontextmanager
async def embedded_web(settings: Settings, store: Store) -> AsyncIterator[None]:
    """Serve the web interface in the running event loop while the block runs, when ``web.enabled``."""
    if not settings.web.enabled:
        yield
        return
    host, port = settings.web.host, settings.web.port
    server = _Embedded(_config(settings, store, host, port))
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if task.done():
        with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind; it logged why
            task.result()
        raise WebError(f"cannot listen on {host}:{port} (in use, or not an address of this machine)")
    log.info("web interface listening", extra={"url": f"http://{host}:{port}/"})
    try:
        yield
    finally:
        server.should_exit = True
        await task
