"""MCP servers: the My Servers listing, one server, and Reconfigure."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field

from connmodel.api.calls import Body, CallerDep, NoNul
from connmodel.api.pages import Cursor, Limit, PageOut, page_response
from connmodel.api.problems import responses
from connmodel.models import NAME_MAX, ServerRow
from connmodel.services.servers import get_server, list_servers, reconfigure_server

router = APIRouter(prefix="/servers", tags=["servers"], responses=responses(401, 403, 422, 503))
ServerName = Annotated[str, Path(description="The server's name.", max_length=NAME_MAX)]
LISTED = PageOut[ServerRow]  # what a page of this listing is, in its JSON


class Reconfigure(Body):
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
    return page_response(caller.read(list_servers, profile=profile, state=state, search=search,
                                     cursor=cursor, limit=limit, known_profile=True), LISTED)


@router.get("/{name}", responses=responses(404))
def server(caller: CallerDep, name: ServerName) -> ServerRow:
    return caller.read(get_server, name=name)


@router.post("/{name}/reconfigure", responses=responses(400, 404, 409))
def reconfigure(caller: CallerDep, name: ServerName, body: Reconfigure) -> ServerRow:
    """Point the server at a profile with a live connection and reconnect it (409 when the
    profile has none, or only a disabled one)."""
    return caller.call(reconfigure_server, name=name, profile=body.profile)
