"""MCP servers: the My Servers listing, one server, and Reconfigure."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from connmodel.api.calls import CallerDep, NoNul
from connmodel.api.pages import Cursor, Limit, PageOut, page_response
from connmodel.api.problems import responses
from connmodel.models import NAME_MAX, ServerRow
from connmodel.paging import Page
from connmodel.permissions import Actor
from connmodel.services.connections import profile_id_by_name
from connmodel.services.servers import get_server, list_servers, reconfigure_server

router = APIRouter(prefix="/servers", tags=["servers"], responses=responses(401, 403, 422, 503))
ServerName = Annotated[str, Path(description="The server's name.", max_length=NAME_MAX)]
LISTED = PageOut[ServerRow]  # what a page of this listing is, in its JSON


class Reconfigure(BaseModel):
    """An unknown field is refused, as by every body of this API: it would be a typo."""

    model_config = ConfigDict(extra="forbid")

    profile: Annotated[str, NoNul] = Field(
        description="The profile whose live connection the server will use.", min_length=1,
        max_length=NAME_MAX)


@router.get("", response_model=LISTED, responses=responses(404))
def servers(
    caller: CallerDep,
    profile: Annotated[str | None, Query(description="Only servers using this profile (404 "
                                         "when there is no such profile).",
                                         max_length=NAME_MAX)] = None,
    state: Annotated[str | None, Query(description="connected, disconnected or error.")] = None,
    search: Annotated[str | None, Query(description="Text in the name or URL.",
                                        max_length=200)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    """Servers by name with their profile, state, latest check and connection."""
    return page_response(caller.read(_listed, profile=profile, state=state, search=search,
                                     cursor=cursor, limit=limit), LISTED)


def _listed(session: Session, *, actor: Actor, profile: str | None, **listing: Any
            ) -> Page[ServerRow]:
    """`list_servers`, an unknown profile NotFound (404) as `connmodel servers` and the
    connections listing say, not an empty page as if the profile had no servers (looked up
    only for an empty page, after the service checked the actor's role)."""
    page = list_servers(session, actor=actor, profile=profile, **listing)
    if profile and not page.items:
        profile_id_by_name(session, profile)
    return page


@router.get("/{name}", responses=responses(404))
def server(caller: CallerDep, name: ServerName) -> ServerRow:
    return caller.read(get_server, name=name)


@router.post("/{name}/reconfigure", responses=responses(400, 404, 409))
def reconfigure(caller: CallerDep, name: ServerName, body: Reconfigure) -> ServerRow:
    """Point the server at a profile with a live connection and reconnect it (409 when the
    profile has none, or only a disabled one)."""
    return caller.call(reconfigure_server, name=name, profile=body.profile)
