"""POST /api/v1/credentials: the credential broker (connmodel.broker), for broker tokens.

The one hot route, so it is handled by hand below FastAPI's dependency and response-model
machinery (half of a credential's CPU there): it reads its bearer token and its body itself,
answers with the credential serialized once, and declares to the OpenAPI document what the
dependencies and models would have. It is served by a plain Starlette route (`route`), matched
before FastAPI's: FastAPI's route and request handling cost a sixth of a credential's CPU
(0.57 -> 0.48 ms in-process on SQLite); the FastAPI route stays for the OpenAPI document. Its
errors are the same problem details as every route's (the app's exception handlers).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from connmodel.api.calls import Body, NoNul, bearer_token, brokered, client_address, settings_of
from connmodel.api.problems import responses
from connmodel.broker import BrokeredCredential
from connmodel.models import TEXT_MAX

router = APIRouter(tags=["broker"], responses=responses(400, 401, 403, 404, 409, 422, 503))


class CredentialRequest(Body):
    server: Annotated[str, NoNul] = Field(description="The MCP server's name, or its URL.",
                                          min_length=1, max_length=TEXT_MAX)


_DOCUMENTED: dict[str, Any] = {
    "security": [{"HTTPBearer": []}],
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": CredentialRequest.model_json_schema()}}},
}


@router.post("/credentials", response_model=BrokeredCredential, openapi_extra=_DOCUMENTED)
async def credentials(request: Request) -> Response:
    """What a gateway sends to call the server now; 409 (with the remedy) when the server is
    disconnected or its connection revoked, disabled, expired or in Error."""
    token = bearer_token(request)  # no token: 401 before the body is read
    try:
        wanted = CredentialRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])}
                                      for e in exc.errors()]) from None
    found = await run_in_threadpool(brokered, settings_of(request), token,
                                    client_address(request), wanted.server)
    return Response(found.model_dump_json(), media_type="application/json")


def route(prefix: str) -> Route:
    """The broker as a plain Starlette route under `prefix`, to be matched first."""
    return Route(f"{prefix}/credentials", credentials, methods=["POST"], include_in_schema=False)

