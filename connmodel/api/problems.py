"""RFC 9457 problem details: the one shape of every API error, and which status each error gets.

A domain error (connmodel.errors) keeps its message as the problem's `detail`, written for the
person reading it; anything unexpected is a 500 whose detail says nothing about the internals.
"""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from connmodel.errors import (
    AlreadyExists,
    AlreadyRevoked,
    AuthenticationFailed,
    ConnModelError,
    CredentialUnavailable,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProviderRefused,
    ProviderUnreachable,
    SecretKeyError,
    StateConflict,
    StoreUnavailable,
    Throttled,
)

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("connmodel.api")

STATUS: dict[type[ConnModelError], int] = {
    AuthenticationFailed: 401,
    PermissionDenied: 403,
    NotFound: 404,
    AlreadyRevoked: 409,
    AlreadyExists: 409,
    CredentialUnavailable: 409,
    StateConflict: 409,
    InvalidInput: 422,
    Throttled: 429,
    ProviderRefused: 502,
    ProviderUnreachable: 503,
    StoreUnavailable: 503,
    SecretKeyError: 503,
}


class Problem(BaseModel):
    """An RFC 9457 problem: `title` names the status, `detail` says what went wrong here."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None


def status_of(exc: ConnModelError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def problem(request: Request, status: int, detail: str,
            headers: dict[str, str] | None = None) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail,
                   instance=request.url.path)
    return JSONResponse(body.model_dump(), status_code=status, media_type=MEDIA_TYPE,
                        headers=headers)


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConnModelError)
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, Throttled):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem(request, status, str(exc), headers)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem(request, 422, "; ".join(_describe(e) for e in exc.errors()[:10]))


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "request"
    return f"{where}: {error.get('msg', 'invalid')}"


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem(request, exc.status_code, detail, dict(exc.headers or {}) or None)


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s: %s", request.method, request.url.path,
              type(exc).__name__, exc_info=exc)
    return problem(request, 500, "an unexpected error; it was logged on the server")


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses of a route (OpenAPI), all problem details."""
    return {s: {"model": Problem, "description": HTTPStatus(s).phrase} for s in statuses}
