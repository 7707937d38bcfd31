"""A small optional HTTP endpoint of the daemon: ``/healthz`` and ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.core.metrics import REGISTRY

log = logging.getLogger(__name__)
MAX_REQUEST_LINE = 8192


async def serve_ops(host: str, port: int, health: Callable[[], str | None]) -> asyncio.Server:
    """Start the endpoint; ``health`` returns None when healthy, else the reason."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = line[:MAX_REQUEST_LINE].decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) >= 2 else ""
            if parts[:1] != ["GET"]:
                status, ctype, body = "405 Method Not Allowed", "text/plain", b"GET only\n"
            elif path == "/metrics":
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
            elif path == "/healthz":
                problem = health()
                status = "200 OK" if problem is None else "503 Service Unavailable"
                ctype, body = "text/plain", (f"unhealthy: {problem}\n" if problem else "ok\n").encode()
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"try /healthz or /metrics\n"
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    log.info("ops endpoint listening", extra={"host": host, "port": port})
    return server
