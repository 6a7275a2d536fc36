"""POST /api/v1/connections/revoke: revoke many, by ids or by the page's filter, or a dry run.

By filter it is the dashboard's "Revoke all matching" (connmodel.services.revoke_matching: every
match, batch after batch, to the end); by ids, `revoke_many` (one transaction: an unknown id
changes nothing). A dry run changes nothing and answers as the revoke would: how many would go,
which are already revoked, which MCP servers would be disconnected; 404 for an unknown id.
"""

from typing import Annotated, Self

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator

from connmodel.api.calls import Body, CallerDep, NoNul
from connmodel.api.problems import responses
from connmodel.models import NAME_MAX
from connmodel.services.connections import revoke_many, revoke_preview
from connmodel.services.groups import GroupFilter, count_matching, servers_affected
from connmodel.services.revoke_matching import bulk_summary, revoke_matching

router = APIRouter(prefix="/connections", tags=["connections"],
                   responses=responses(400, 401, 403, 404, 422, 503))
SERVERS_LISTED = 100
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
Text = Annotated[str | None, NoNul]


class MatchFilter(Body):
    """The Connections page's filter; at least one field (an empty filter would match all)."""

    status: Text = Field(None, description="Active, Inactive or Error.", max_length=20)
    environment: Text = Field(None, description="dev, staging or production.", max_length=20)
    profile: Text = Field(None, description="Profiles whose name contains this text.",
                          max_length=NAME_MAX)
    search: Text = Field(None, description="Text in the account or service.", max_length=200)

    @model_validator(mode="after")
    def _narrows(self) -> Self:
        if not any((v or "").strip() for v in self.model_dump().values()):
            raise ValueError("give at least one of status, environment, profile, search")
        return self


class BulkRevoke(Body):
    """Ids or a filter."""

    ids: list[Id] | None = Field(None, min_length=1, max_length=1000,
                                 description="Connection ids (at most 1,000).")
    filter: MatchFilter | None = Field(None, description="Every live connection it matches.")
    dry_run: bool = Field(False, description="Change nothing; count and list servers.")

    @model_validator(mode="after")
    def _one_selection(self) -> Self:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give either ids or filter")
        return self


class BulkRevokeOut(BaseModel):
    dry_run: bool
    count: int = Field(description="Connections revoked, or that a dry run would revoke.")
    count_exact: bool
    servers: list[str] = Field(description="MCP servers disconnected (or that would be).")
    revoked: list[int]
    already_revoked: int = Field(description="Revoked meanwhile by someone else.")
    summary: str


@router.post("/revoke", responses=responses(409))
def revoke_bulk(caller: CallerDep, body: BulkRevoke) -> BulkRevokeOut:
    where = GroupFilter(**body.filter.model_dump()) if body.filter else None
    ids = sorted(set(body.ids or []))
    if body.dry_run:
        already: list[int] = []
        if where is None:
            live, already = caller.read(revoke_preview, connection_ids=ids)
            count, exact = len(live), True
            affected = caller.read(servers_affected, connection_ids=live, limit=SERVERS_LISTED)
        else:
            count, exact = caller.read(count_matching, where=where)
            affected = caller.read(servers_affected, where=where, limit=SERVERS_LISTED)
        summary = f"would revoke {'' if exact else 'at least '}{count:,}"
        return BulkRevokeOut(dry_run=True, count=count, count_exact=exact,
                             servers=[s.name for s in affected], revoked=[],
                             already_revoked=len(already),
                             summary=summary + (f"; {len(already)} already revoked"
                                                if already else ""))
    if where is None:
        result = caller.call(revoke_many, connection_ids=ids)
        servers = sorted({n for r in result.revoked for n in r.disconnected_servers})
        return BulkRevokeOut(dry_run=False, count=len(result.revoked), count_exact=True,
                             servers=servers, revoked=[r.id for r in result.revoked],
                             already_revoked=len(result.already_revoked),
                             summary=bulk_summary(len(result.revoked),
                                                  len(result.already_revoked), servers))
    run = caller.call(revoke_matching, where=where)
    return BulkRevokeOut(dry_run=False, count=run.revoked, count_exact=True,
                         servers=sorted(run.servers), revoked=run.revoked_ids,
                         already_revoked=run.already_revoked, summary=run.summary())
