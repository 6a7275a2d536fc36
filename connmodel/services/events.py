"""The append-only audit trail: one function writes an event, one lists them."""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlmodel import Session, select

from connmodel.errors import InvalidInput
from connmodel.models import AuditEvent, AuditEventPublic
from connmodel.paging import Page, SortKey, capped_count, keyset_page
from connmodel.permissions import Action, Actor, require
from connmodel.search import SEARCH_MAX, like_pattern


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
    until: datetime | None = None,
    target: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[AuditEventPublic]:
    """Newest first, filtered in SQL, keyset-paged.

    `since` is inclusive and `until` exclusive, so consecutive ranges never share an event;
    `target` matches a case-insensitive substring of the target text (LIKE wildcards literal).
    """
    require(actor, Action.READ)
    if since and until and until <= since:
        raise InvalidInput(f"the time range ends ({until:%Y-%m-%d %H:%M}) before it starts "
                           f"({since:%Y-%m-%d %H:%M})")
    needle = (target or "").strip()
    if len(needle) > SEARCH_MAX:
        raise InvalidInput(f"target text is {len(needle)} characters: at most {SEARCH_MAX}")
    stmt = select(AuditEvent.id, AuditEvent.id.label("row_id"), AuditEvent)  # type: ignore[call-overload]
    filtered = select(AuditEvent.id)
    for cond in (
        AuditEvent.action == action if action else None,
        AuditEvent.actor == who if who else None,
        AuditEvent.at >= since if since else None,
        AuditEvent.at < until if until else None,
        AuditEvent.target.ilike(like_pattern(needle), escape="\\") if needle else None,  # type: ignore[attr-defined]
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
    until: datetime | None = None,
    target: str | None = None,
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
                           until=until, target=target, cursor=cursor, limit=page_size)
        for e in page.items:
            yield line((e.at.isoformat(), e.actor, e.action, e.target, e.outcome))
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def event_actions(session: Session, *, actor: Actor) -> list[str]:
    """The distinct actions in the trail (served by the action index), for filter choices."""
    require(actor, Action.READ)
    return sorted(session.exec(select(AuditEvent.action).distinct()).all())
