"""GET /api/v1/audit: the audit report as `connmodel audit --format json` writes it."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from connmodel.api.calls import CallerDep
from connmodel.api.problems import responses

router = APIRouter(tags=["audit"], responses=responses(401, 403, 422, 503))


def _report(session: Any, *, actor: Any, fail_on: str | None, **parameters: Any
            ) -> dict[str, Any]:
    from connmodel.audit.render import to_document  # pandas: loaded on the first report only
    from connmodel.audit.report import build_report, failing, parse_fail_on

    report = build_report(session, actor=actor, **parameters)
    return to_document(report, failing=failing(report.counts, parse_fail_on(fail_on)))


@router.get("/audit")
def audit(
    caller: CallerDep,
    days: Annotated[int, Query(ge=0, le=3650, description="Stale after this many days unused; "
                               "expiring within it; history window.")] = 30,
    hours: Annotated[int, Query(ge=0, le=3650, description="Production profiles must be "
                                "checked within this.")] = 24,
    environment: Annotated[str | None, Query(description="dev, staging or production.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Rows listed per finding.")] = 50,
    fail_on: Annotated[str | None, Query(description="Findings listed in `failing`: "
                                         "error,stale,expiring.", max_length=100)] = None,
) -> dict[str, Any]:
    """The `connmodel.audit/1` document (its JSON Schema: connmodel.audit.schema)."""
    return caller.read(_report, days=days, hours=hours, environment=environment, limit=limit,
                       fail_on=fail_on)
