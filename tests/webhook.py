"""A webhook receiver on loopback for the alert tests: checks each POST's HMAC-SHA256 signature, keeps every
request, drops repeated Idempotency-Keys as a careful receiver would, answers a chosen status, and can be
stopped and started again on the same port."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "hook-secret-0123456789"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def signed(self, secret: str = SECRET) -> bool:
        expected = hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers.get("x-monitor-signature", ""), expected)


class WebhookServer:
    def __init__(self, host: str = "127.0.0.1"):
        self.host, self.port = host, 0
        self.received: list[Received] = []
        self.delivered: dict[str, Received] = {}  # by Idempotency-Key: the first of each
        self.status, self.answer = 200, "ok"
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver._lock:
                    receiver.received.append(got)
                    status, answer = receiver.status, receiver.answer
                    key = got.headers.get("idempotency-key")
                    if 200 <= status < 300 and key is not None:
                        receiver.delivered.setdefault(key, got)
                data = answer.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

