"""The check history (`check_result`) as notebooks and pages read it: paged rows and daily counts.

Both are SQL over the table's (at, status) and (connection_id, at) indexes; nothing loads the
whole history.
"""

from datetime import date, datetime

from sqlalchemy import ColumnElement, Date, cast, func, select
from sqlmodel import Session, SQLModel, col

from connmodel.models import CheckResult, McpServer
from connmodel.paging import Page, SortKey, capped_count, keyset_page
from connmodel.permissions import Action, Actor, require


class CheckResultPublic(SQLModel):
    id: int
    at: datetime
    connection_id: int
    server: str | None
    status: str
    reachable: bool
    reason: str | None
    latency_ms: float | None
    tool_count: int | None


class DailyChecks(SQLModel):
    day: date
    status: str
    reachable: bool
    checks: int
    mean_latency_ms: float | None


def _conditions(connection_id: int | None, since: datetime | None) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if connection_id is not None:
        conds.append(col(CheckResult.connection_id) == connection_id)
    if since is not None:
        conds.append(col(CheckResult.at) >= since)
    return conds


def check_history(
    session: Session,
    *,
    actor: Actor,
    connection_id: int | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[CheckResultPublic]:
    """Check results newest first, optionally of one connection and since a time; keyset-paged."""
    require(actor, Action.READ)
    conds = _conditions(connection_id, since)
    stmt = (
        select(col(CheckResult.at), col(CheckResult.id), CheckResult, col(McpServer.name))
        .outerjoin(McpServer, col(McpServer.id) == col(CheckResult.server_id))
        .where(*conds)
    )
    key = SortKey(CheckResult.at, CheckResult.id, descending=True)  # type: ignore[arg-type]
    rows, next_cursor = keyset_page(session, stmt, key=key, cursor=cursor, limit=limit)
    total, exact = capped_count(session, select(col(CheckResult.id)).where(*conds))
    items = [CheckResultPublic(id=r.id or 0, at=r.at, connection_id=r.connection_id, server=name,
                               status=r.status, reachable=r.reachable, reason=r.reason,
                               latency_ms=r.latency_ms, tool_count=r.tool_count)
             for _, _, r, name in rows]
    return Page(items, next_cursor, total, exact)


def daily_checks(
    session: Session,
    *,
    actor: Actor,
    connection_id: int | None = None,
    since: datetime | None = None,
) -> list[DailyChecks]:
    """Checks per UTC day, status and reachability, with mean latency: what a chart plots."""
    require(actor, Action.READ)
    if session.get_bind().dialect.name == "postgresql":
        day = cast(func.timezone("UTC", col(CheckResult.at)), Date).label("day")
    else:  # SQLite keeps UTC text: its first ten characters are the day
        day = func.substr(col(CheckResult.at), 1, 10).label("day")
    rows = session.execute(
        select(day, col(CheckResult.status), col(CheckResult.reachable), func.count(),
               func.avg(col(CheckResult.latency_ms)))
        .where(*_conditions(connection_id, since))
        .group_by(day, col(CheckResult.status), col(CheckResult.reachable))
        .order_by(day, col(CheckResult.status), col(CheckResult.reachable))
    ).all()
    return [DailyChecks(day=d if isinstance(d, date) else date.fromisoformat(d),
                        status=s, reachable=bool(r), checks=n,
                        mean_latency_ms=round(float(m), 1) if m is not None else None)
            for d, s, r, n, m in rows]
