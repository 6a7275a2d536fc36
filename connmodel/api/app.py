"""The FastAPI application: routers under /api/v1, problem details, a cap on request bodies."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connmodel.api import problems
from connmodel.api.calls import ApiSettings
from connmodel.api.routers import (
    audit,
    bulk,
    connections,
    credentials,
    events,
    profiles,
    servers,
)
from connmodel.errors import ConnModelError, StoreUnavailable
from connmodel.store import pool_size

PREFIX = "/api/v1"
MAX_BODY = 64 * 1024  # bytes; every request body of this API is a few hundred


class BodyLimit:
    """Refuse a request body over `limit` bytes with 413, by its Content-Length before any of it
    reaches a route, or as it streams (chunked) when the route reads past the limit."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send)
            return
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge(self.limit)
            return message

        await self.app(scope, capped, send)

    async def _refuse(self, send: Send) -> None:
        import json

        body = json.dumps({"type": "about:blank", "title": "Content Too Large", "status": 413,
                           "detail": _too_large(self.limit)}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", problems.MEDIA_TYPE.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _too_large(limit: int) -> str:
    return f"the request body is over {limit:,} bytes"


class _TooLarge(HTTPException):
    """A streamed body over the limit. An HTTPException, which FastAPI's body parsing raises on
    as it is (any other exception there became its 400 "There was an error parsing the body"),
    so the app's handler answers it as the same 413 problem, on every route."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large(limit))


@asynccontextmanager
async def _threads_as_pooled(app: FastAPI) -> AsyncIterator[None]:
    """Run at most as many routes' database work at once (worker threads) as the store's pool
    keeps connections. Past it SQLAlchemy opens an overflow connection per session and closes
    it after: on PostgreSQL a new server process each time, one per eight credentials at
    concurrency 16 (half the machine's CPU went to them). Requests past it wait in the loop."""
    try:
        size = pool_size(app.state.settings.database_url)
    except StoreUnavailable:
        size = None  # a malformed URL: every request answers 503 with the reason
    if size:
        anyio.to_thread.current_default_thread_limiter().total_tokens = size
    yield


def create_app(database_url: str | None = None) -> FastAPI:
    """The API over the store at `database_url` (None: $CONNMODEL_DATABASE_URL, ./connmodel.db)."""
    app = FastAPI(
        title="connmodel",
        summary="Connections & Profiles of an MCP gateway, and its credential broker.",
        version="1",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=_threads_as_pooled,
    )
    app.state.settings = ApiSettings(database_url)
    # Routes are matched in the order included: the broker, the one hot route, first (after
    # the six other routers, matching it was a sixth of a credential request's CPU), as a
    # plain Starlette route (its FastAPI route only documents it: see its module).
    app.router.routes.append(credentials.route(PREFIX))
    for module in (credentials, profiles, bulk, connections, servers, events, audit):
        app.include_router(module.router, prefix=PREFIX)
    app.add_exception_handler(ConnModelError, problems.domain_error)
    app.add_exception_handler(RequestValidationError, problems.validation_error)
    app.add_exception_handler(HTTPException, problems.http_error)
    app.add_exception_handler(Exception, problems.unexpected)
    app.add_middleware(BodyLimit)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with error responses declared as application/problem+json."""
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version, summary=app.summary,
                          routes=app.routes)
        for path in doc["paths"].values():
            for operation in path.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if status[0] in "45" and "application/json" in content:
                        content[problems.MEDIA_TYPE] = content.pop("application/json")
        app.openapi_schema = doc
    return app.openapi_schema
