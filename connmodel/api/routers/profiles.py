"""GET /api/v1/profiles: profiles by name, each with its live connections counted by status."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from connmodel.api.calls import CallerDep
from connmodel.api.pages import Cursor, Limit, PageOut, page_response
from connmodel.api.problems import responses
from connmodel.models import ProfilePublic
from connmodel.services.profiles import list_profiles

router = APIRouter(tags=["profiles"], responses=responses(401, 403, 422, 503))
LISTED = PageOut[ProfilePublic]  # what a page of this listing is, in its JSON


@router.get("/profiles", response_model=LISTED)
def profiles(
    caller: CallerDep,
    environment: Annotated[str | None, Query(description="dev, staging or production.")] = None,
    search: Annotated[str | None, Query(description="Text in the profile's name.",
                                        max_length=200)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    """Profiles by name with their provider and live connections by status."""
    return page_response(caller.read(list_profiles, environment=environment,
                                     name_contains=search, cursor=cursor, limit=limit), LISTED)
