"""GET /api/v1/events: the audit trail, newest first, keyset-paged."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from connmodel.api.calls import CallerDep
from connmodel.api.pages import Cursor, Limit, PageOut, page_response
from connmodel.api.problems import responses
from connmodel.models import NAME_MAX, AuditEventPublic
from connmodel.services.events import EventFilter, list_events

router = APIRouter(tags=["audit"], responses=responses(401, 403, 422, 503))
LISTED = PageOut[AuditEventPublic]  # what a page of this listing is, in its JSON


@router.get("/events", response_model=LISTED)
def events(
    caller: CallerDep,
    actor: Annotated[str | None, Query(description="Only this actor's events (a user, or "
                                       "token:NAME).", max_length=NAME_MAX)] = None,
    action: Annotated[str | None, Query(description="e.g. revoke, token.add.",
                                        max_length=40)] = None,
    target: Annotated[str | None, Query(description="Text in the target.",
                                        max_length=200)] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive; "
                                            "UTC without a zone).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time (exclusive).")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    where = EventFilter(who=actor, action=action, target=target, since=since, until=until)
    return page_response(caller.read(list_events, where=where, cursor=cursor, limit=limit), LISTED)
