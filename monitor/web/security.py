"""Who may use the interface: loopback only without a token; with one, every request must carry it (the API as a
bearer token, a browser as a server-side session made by signing in). Only the configured host names are
answered; state-changing requests must come from this site."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
import threading
import time
from collections import deque
from urllib.parse import urlsplit

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from monitor.core.errors import MonitorError

log = logging.getLogger(__name__)

COOKIE = "monitor_session"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
}
# No script at all; styles and images only from this server (inline SVG is markup, not script).
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
OPEN_PATHS = ("/login", "/static/")


class WebError(MonitorError):
    """The web server cannot start as configured."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str) -> None:
    """Refuse to serve beyond this machine without an access token (checked before any socket opens)."""
    if not is_loopback(host) and not token:
        raise WebError(
            f"refusing to serve the web interface on {host}: binding beyond loopback needs an access token "
            "(web.token or MONITOR_WEB_TOKEN)"
        )


def token_matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def add_security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers.update(SECURITY_HEADERS)
    return response


def host_name(host_header: str) -> str:
    """The name in a Host header, without the port (``[::1]:8080`` → ``::1``)."""
    return (urlsplit(f"//{host_header}").hostname or "") if host_header else ""


class Sessions:
    """Sign-ins kept by the server: the cookie holds a random id, never the token; each expires after
    ``seconds`` and ends at sign-out (or when the server restarts)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def start(self) -> str:
        session = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._expiry = {s: e for s, e in self._expiry.items() if e > now}
            self._expiry[session] = now + self.seconds
        return session

    def valid(self, session: str | None) -> bool:
        with self._lock:
            return session is not None and self._expiry.get(session, 0.0) > time.monotonic()

    def end(self, session: str | None) -> None:
        with self._lock:
            self._expiry.pop(session or "", None)


class Attempts:
    """Failed sign-ins per client address within a minute: past ``limit`` the next ones are refused unchecked."""

    WINDOW = 60.0

    def __init__(self, limit: int):
        self.limit = limit
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, client: str) -> bool:
        with self._lock:
            recent = self._recent(client)
            return len(recent) >= self.limit

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(time.monotonic())
            if len(self._failures) > 10_000:  # many addresses: forget the quiet ones
                self._failures = {c: d for c, d in self._failures.items() if d}

    def _recent(self, client: str) -> deque[float]:
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] < time.monotonic() - self.WINDOW:
            recent.popleft()
        return recent


class Guard(BaseHTTPMiddleware):
    """Security headers on every answer; only the allowed host names; the token or a session (when a token is
    set) on every request; state-changing requests only with this site's Origin or Referer."""

    def __init__(self, app: object, token: str, hosts: set[str], sessions: Sessions, feed_keys: tuple[str, ...]):
        super().__init__(app)  # type: ignore[arg-type]
        self.token, self.hosts, self.sessions, self.feed_keys = token, hosts, sessions, feed_keys

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        return add_security_headers(await self._check(request) or await call_next(request))

    def _same_site(self, request: Request) -> bool:
        source = request.headers.get("origin") or request.headers.get("referer")
        if not source or source == "null":
            return False
        parts = urlsplit(source)
        return parts.scheme in ("http", "https") and parts.netloc.lower() == request.headers.get("host", "").lower()

    async def _check(self, request: Request) -> Response | None:
        path = request.url.path
        if host_name(request.headers.get("host", "")).lower() not in self.hosts:
            return JSONResponse({"error": "unknown host: add it to web.allowed_hosts"}, status_code=400)
        if "\x00" in path or any("\x00" in k + v for k, v in request.query_params.multi_items()):
            # no database compares NUL the same way (PostgreSQL refuses it): refused alike on both
            return JSONResponse({"error": "parameters may not contain NUL characters"}, status_code=400)
        if request.method not in ("GET", "HEAD") and not self._same_site(request):
            return JSONResponse({"error": "cross-site request refused"}, status_code=403)
        if not self.token or path.startswith(OPEN_PATHS):
            return None
        if token_matches(bearer_token(request), self.token) or self.sessions.valid(request.cookies.get(COOKIE)):
            return None
        key = request.query_params.get("key")
        if path == "/feed.atom" and key and any(token_matches(key, k) for k in self.feed_keys):
            return None
        if path.startswith("/api/") or path.endswith(".atom"):
            return JSONResponse(
                {"error": "an access token is needed: Authorization: Bearer TOKEN"}, status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return RedirectResponse("/login", status_code=303)
