"""The ASGI application: the JSON API, the Atom feed and the pages over one store; errors as 4xx with a message."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException

from monitor import __version__
from monitor.core.config import Settings
from monitor.core.errors import DatabaseError, InvalidParameter
from monitor.store import Store
from monitor.web import api, atom, pages
from monitor.web.context import Web
from monitor.web.security import Guard


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
    app.add_middleware(Guard, token=settings.web.token)
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

    return app
