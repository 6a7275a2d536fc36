"""POST /api/v1/credentials: the credential broker (connmodel.broker), for broker tokens."""

from fastapi import APIRouter
from pydantic import BaseModel, Field

from connmodel.api.calls import PresentedDep
from connmodel.api.problems import responses
from connmodel.broker import BrokeredCredential, credential_for
from connmodel.models import TEXT_MAX

router = APIRouter(tags=["broker"], responses=responses(400, 401, 403, 404, 409, 422, 503))


class CredentialRequest(BaseModel):
    server: str = Field(description="The MCP server's name, or its URL.", min_length=1,
                        max_length=TEXT_MAX)


@router.post("/credentials")
async def credentials(token: PresentedDep, body: CredentialRequest) -> BrokeredCredential:
    """What a gateway sends to call the server now; 409 (with the remedy) when the server is
    disconnected or its connection revoked, disabled, expired or in Error."""
    return await token.with_keyring(credential_for, server=body.server)
