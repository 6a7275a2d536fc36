"""Connections: the listing (the CLI's filters, sorts and cursors), View, and their actions."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from connmodel.api.calls import CallerDep
from connmodel.api.pages import Cursor, Limit, PageOut, page_response
from connmodel.api.problems import responses
from connmodel.models import ConnectionDetail, ConnectionPublic, RevokeResult
from connmodel.providers.lifecycle import ToggleResult, disable_connection, enable_connection
from connmodel.providers.refresh import RefreshOutcome, refresh_connection
from connmodel.services.connections import (
    SORT_FIELDS,
    ConnectionFilter,
    get_connection,
    list_connections,
    revoke_connection,
)

router = APIRouter(prefix="/connections", tags=["connections"],
                   responses=responses(401, 403, 404, 422, 503))
ConnectionId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The connection's id.")]
ON_ONE = responses(404, 409)
LISTED = PageOut[ConnectionPublic]  # what a page of this listing is, in its JSON


@router.get("", response_model=LISTED)
def connections(
    caller: CallerDep,
    profile: Annotated[str | None, Query(description="Only this profile (its name).",
                                         max_length=200)] = None,
    status: Annotated[str | None, Query(description="Active, Inactive or Error.")] = None,
    environment: Annotated[str | None, Query(description="dev, staging or production.")] = None,
    search: Annotated[str | None, Query(description="Text in the account or service.",
                                        max_length=200)] = None,
    sort: Annotated[str, Query(description=f"One of {', '.join(SORT_FIELDS)}; prefix '-' for "
                               "descending.", max_length=20)] = "id",
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    """Live connections, filtered, sorted and keyset-paged in the database."""
    where = ConnectionFilter(profile=profile, status=status, environment=environment,
                             search=search)
    return page_response(caller.read(list_connections, where=where, sort=sort, cursor=cursor,
                                     limit=limit), LISTED)


@router.get("/{connection_id}", responses=responses(409))
def connection(caller: CallerDep, connection_id: ConnectionId) -> ConnectionDetail:
    """One live connection as View shows it: every secret masked."""
    return caller.read(get_connection, connection_id=connection_id)


@router.post("/{connection_id}/revoke", responses=ON_ONE)
def revoke(caller: CallerDep, connection_id: ConnectionId) -> RevokeResult:
    """Revoke: wipe the credential, disconnect the profile's servers. A second revoke is 409,
    naming who revoked it and when."""
    return caller.call(revoke_connection, connection_id=connection_id)


@router.post("/{connection_id}/disable", responses=ON_ONE)
def disable(caller: CallerDep, connection_id: ConnectionId) -> ToggleResult:
    """Disable: Inactive, its servers disconnected, the credential kept (409 if disabled)."""
    return caller.call(disable_connection, connection_id=connection_id)


@router.post("/{connection_id}/enable", responses=ON_ONE)
def enable(caller: CallerDep, connection_id: ConnectionId) -> ToggleResult:
    """Enable a disabled connection and reconnect the servers Disable disconnected (409 if it
    is not disabled)."""
    return caller.call(enable_connection, connection_id=connection_id)


@router.post("/{connection_id}/refresh", responses=ON_ONE)
def refresh(caller: CallerDep, connection_id: ConnectionId) -> RefreshOutcome:
    """Refresh now: an OAuth connection's token, at once (422 for other kinds)."""
    return caller.with_keyring(refresh_connection, connection_id=connection_id)
