"""The append-only audit trail: one function writes an event, one lists them."""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlmodel import Session, select

from connmodel.models import AuditEvent, AuditEventPublic
from connmodel.paging import Page, SortKey, capped_count, keyset_page
from connmodel.permissions import Action, Actor, require


def record(session: Session, *, actor: Actor, action: str, target: str, outcome: str = "ok") -> None:
    """Add an audit event to the caller's transaction (committed with the change it records)."""
    session.add(AuditEvent(actor=actor.name, action=action, target=target, outcome=outcome))


def list_events(
    session: Session,
    *,
    actor: Actor,
    action: str | None = None,
    who: str | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[AuditEventPublic]:
    """Newest first, filtered in SQL, keyset-paged."""
    require(actor, Action.READ)
    stmt = select(AuditEvent.id, AuditEvent.id.label("row_id"), AuditEvent)  # type: ignore[call-overload]
    filtered = select(AuditEvent.id)
    for cond in (
        AuditEvent.action == action if action else None,
        AuditEvent.actor == who if who else None,
        AuditEvent.at >= since if since else None,
    ):
        if cond is not None:
            stmt = stmt.where(cond)
            filtered = filtered.where(cond)
    key = SortKey(AuditEvent.id, AuditEvent.id, descending=True)  # type: ignore[arg-type]
    rows, next_cursor = keyset_page(session, stmt, key=key, cursor=cursor, limit=limit)
    total, exact = capped_count(session, filtered)
    items = [AuditEventPublic.model_validate(r[2], from_attributes=True) for r in rows]
    return Page(items, next_cursor, total, exact)


CSV_COLUMNS = ("at", "actor", "action", "target", "outcome")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ tab or CR could run as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def export_events_csv(
    session: Session,
    *,
    actor: Actor,
    action: str | None = None,
    who: str | None = None,
    since: datetime | None = None,
    page_size: int = 500,
) -> Iterator[str]:
    """The filtered audit trail as CSV lines (header first), newest first, page by page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: Iterable[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_safe(c) for c in cells])
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    cursor: str | None = None
    while True:
        page = list_events(session, actor=actor, action=action, who=who, since=since,
                           cursor=cursor, limit=page_size)
        for e in page.items:
            yield line((e.at.isoformat(), e.actor, e.action, e.target, e.outcome))
        if not page.next_cursor:
            return
        cursor = page.next_cursor
