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


NOT_AN_OBJECT = {"missing", "model_type", "model_attributes_type", "dict_type"}


def _describe(error: dict[str, Any]) -> str:
    """One validation error as a sentence saying what to send instead: pydantic's own words
    ("Field required", "JSON decode error") do not say it is the body that is wrong."""
    loc = tuple(error.get("loc", ()))
    kind = error.get("type")
    if kind == "json_invalid":
        return ("the request body is not valid JSON: send a JSON object "
                "(Content-Type: application/json)")
    if loc in ((), ("body",)) and kind in NOT_AN_OBJECT:
        return ("the request needs a JSON object body (Content-Type: application/json): "
                "see /docs for its fields")
    where = ".".join(str(p) for p in loc if p != "body") or "request"
    if kind == "extra_forbidden":
        return f"{where}: unknown field: check its spelling against /docs"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}"


# Starlette's routing answers these with the bare status phrase as its detail.
ROUTING = {404: "no such path in this API: see /docs for its routes",
           405: "this path does not take that method: see /docs for its routes"}


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    if detail == phrase:
        detail = ROUTING.get(exc.status_code, detail)
    return problem(request, exc.status_code, detail, dict(exc.headers or {}) or None)


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s: %s", request.method, request.url.path,
              type(exc).__name__, exc_info=exc)
    return problem(request, 500, "an unexpected error; it was logged on the server")


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses of a route (OpenAPI), all problem details."""
    return {s: {"model": Problem, "description": HTTPStatus(s).phrase} for s in statuses}
