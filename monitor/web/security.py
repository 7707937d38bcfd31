"""Who may use the interface: loopback only without a token; with one, every request must carry it."""

from __future__ import annotations

import hmac
import ipaddress

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from monitor.core.errors import MonitorError

COOKIE = "monitor_token"
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


def request_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


class Guard(BaseHTTPMiddleware):
    """Security headers on every answer; the token (when set) on every request; writes only from this site."""

    def __init__(self, app: object, token: str):
        super().__init__(app)  # type: ignore[arg-type]
        self.token = token

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await self._check(request) or await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    async def _check(self, request: Request) -> Response | None:
        path = request.url.path
        if "\x00" in path or any("\x00" in k + v for k, v in request.query_params.multi_items()):
            # no database compares NUL the same way (PostgreSQL refuses it): refused alike on both
            return JSONResponse({"error": "parameters may not contain NUL characters"}, status_code=400)
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("origin")
            if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
                return JSONResponse({"error": "cross-site request refused"}, status_code=403)
        if not self.token or path.startswith(OPEN_PATHS) or token_matches(request_token(request), self.token):
            return None
        if path.startswith("/api/") or path.endswith(".atom"):
            return JSONResponse(
                {"error": "an access token is needed: Authorization: Bearer TOKEN"}, status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return RedirectResponse("/login", status_code=303)
