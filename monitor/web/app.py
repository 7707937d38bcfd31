"""The ASGI application: the JSON API, the Atom feed and the pages over one store; errors as 4xx with a message."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor import __version__
from monitor.core.config import Settings
from monitor.core.errors import DatabaseError, InvalidParameter
from monitor.store import Store
from monitor.web import api, atom, pages
from monitor.web.context import Web
from monitor.web.security import Attempts, Guard, Sessions, add_security_headers

log = logging.getLogger(__name__)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path.endswith(".atom")


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    return pages.render(request, "error.html", status=status, error=message)


def create_app(settings: Settings, store: Store) -> FastAPI:
    app = FastAPI(
        title="monitor", version=__version__, openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,
        description="Articles, statements, stories and feeds of a news monitor (read-only).",
    )
    app.state.web = Web.open(settings, store)
    app.state.sessions = Sessions(settings.web.session_hours * 3600)
    app.state.attempts = Attempts(settings.web.login_attempts)
    app.add_middleware(Guard, token=settings.web.token, hosts=settings.web.hosts(), sessions=app.state.sessions,
                       feed_keys=settings.web.feed_keys)
    app.add_middleware(HeadAsGet)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(api.router)
    app.include_router(atom.router)
    app.include_router(pages.router)

    @app.exception_handler(InvalidParameter)
    async def invalid(request: Request, exc: InvalidParameter) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def unvalidated(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "request"
        return _error(request, 400, f"{where}: {first['msg']}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(DataError)
    async def unstorable(request: Request, exc: DataError) -> Response:  # e.g. a NUL character, on PostgreSQL
        return _error(request, 400, "a parameter holds characters the database cannot compare")

    @app.exception_handler(DatabaseError)
    @app.exception_handler(OperationalError)
    async def database_down(request: Request, exc: Exception) -> Response:
        return _error(request, 503, "the database does not answer; try again shortly")

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> Response:  # answered outside the Guard: headers here
        log.error("request failed", exc_info=exc, extra={"path": request.url.path})
        return add_security_headers(JSONResponse({"error": "internal error (logged)"}, status_code=500))

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, saying what the handlers answer: a malformed parameter is a 400 with ``{"error"}``
    (FastAPI declares 422, which this API never sends)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        error = {"description": "A malformed or unknown parameter; the message says which",
                 "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = {
            "type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"],
        }
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if responses.pop("422", None) is not None or operation.get("parameters"):
                    responses["400"] = error
        for name in ("HTTPValidationError", "ValidationError"):
            schema["components"]["schemas"].pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema


class HeadAsGet:
    """HEAD answers every GET route (FastAPI routes declare GET only): the GET runs, its body is not sent."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
