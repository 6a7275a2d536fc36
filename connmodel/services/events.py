"""The append-only audit trail: one function writes an event, one lists them, one exports them.

`EventFilter` is the one definition of what a view of the trail is narrowed to; the CLI
(`connmodel events`), the Activity page and the CSV export all build one and hand it over.
"""

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    bindparam,
    func,
    insert,
)
from sqlmodel import Session, col, select

from connmodel.errors import InvalidInput
from connmodel.models import TEXT_MAX, AuditEvent, AuditEventPublic, utcnow
from connmodel.paging import (
    COUNT_CAP,
    Page,
    SortKey,
    capped_count,
    decode_cursor,
    keyset_page,
)
from connmodel.permissions import Action, Actor, require
from connmodel.search import (
    SEARCH_MAX,
    fts_phrase,
    json_values,
    like_pattern,
    text_index_first,
    text_trigrams,
)

_INSERT_EVENT = insert(AuditEvent).values(
    at=bindparam("at"), actor=bindparam("actor"), action=bindparam("action"),
    target=bindparam("target"), outcome=bindparam("outcome"))


def clipped(text: str, limit: int = TEXT_MAX) -> str:
    """`text` cut to `limit` characters, its end marked: an event's target names what the user
    gave (a URL of up to 2,000 characters beside a server's name), which a column of TEXT_MAX
    must hold: PostgreSQL refused the whole change."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def record(session: Session, *, actor: Actor, action: str, target: str, outcome: str = "ok") -> None:
    """Add an audit event to the caller's transaction (committed with the change it records).

    One INSERT on the session's connection, at once: the ORM's unit of work would cost more
    than the change it records (a revoke is otherwise four plain statements).
    """
    session.connection().execute(_INSERT_EVENT, {"at": utcnow(), "actor": actor.name,
                                                 "action": action, "target": clipped(target),
                                                 "outcome": clipped(outcome)})


@dataclass(frozen=True)
class Event:
    """What one audit event says (who and when are the writer's)."""

    action: str
    target: str
    outcome: str = "ok"


def record_many(session: Session, *, actor: Actor, events: list[Event]) -> None:
    """`record` for a batch of changes by one actor: one executemany, not one INSERT each."""
    if events:
        at = utcnow()
        session.connection().execute(insert(AuditEvent), [
            {"at": at, "actor": actor.name, "action": e.action, "target": clipped(e.target),
             "outcome": clipped(e.outcome)} for e in events])


def _as_utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@dataclass(frozen=True)
class EventFilter:
    """What a view of the audit trail is narrowed to. Empty fields ('' or None) do not filter.

    `who` is the acting user's exact name and `action` the exact action; `target` matches a
    case-insensitive substring of the target text (LIKE wildcards literal). `since` is inclusive
    and `until` exclusive, so consecutive ranges never share an event. Times without a zone are
    read as UTC, the zone the CLI and the console take and show; the store refuses naive times.
    """

    who: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions; InvalidInput for an empty time range or an overlong target."""
        since, until = _as_utc(self.since), _as_utc(self.until)
        if since and until and until <= since:
            raise InvalidInput(f"the time range ends ({until:%Y-%m-%d %H:%M}) before it starts "
                               f"({since:%Y-%m-%d %H:%M})")
        needle = (self.target or "").strip()
        if len(needle) > SEARCH_MAX:
            raise InvalidInput(f"target text is {len(needle)} characters: at most {SEARCH_MAX}")
        who = (self.who or "").strip()
        conds: list[ColumnElement[bool]] = []
        if self.action:
            conds.append(col(AuditEvent.action) == self.action)
        if who:
            conds.append(col(AuditEvent.actor) == who)
        if since:
            conds.append(col(AuditEvent.at) >= since)
        if until:
            conds.append(col(AuditEvent.at) < until)
        if needle:
            conds.append(col(AuditEvent.target).ilike(like_pattern(needle), escape="\\"))
        return conds


def list_events(
    session: Session,
    *,
    actor: Actor,
    where: EventFilter = EventFilter(),
    cursor: str | None = None,
    limit: int = 50,
    oldest_first: bool = False,
) -> Page[AuditEventPublic]:
    """One page of the events `where` selects, newest first (or oldest first), keyset-paged.

    Ids grow with time (the trail is append-only), so time order is id order, on the primary key.
    """
    require(actor, Action.READ)
    conds = where.conditions()
    needle = (where.target or "").strip()
    hits = _target_hits(session, needle)
    if hits is not None:
        conds.append(col(AuditEvent.id).in_(json_values(json.dumps(hits))))
    key = SortKey(AuditEvent.id, AuditEvent.id,  # type: ignore[arg-type]
                  descending=not oldest_first)
    stmt: Select[*tuple[Any, ...]] = select(
        col(AuditEvent.id), col(AuditEvent.id).label("row_id"), AuditEvent).where(*conds)
    if hits is None and len(conds) == 1 and _indexed(session, needle):  # a common needle alone
        rows, next_cursor = _common_page(session, stmt, conds, key, needle, cursor, limit)
        total, exact = COUNT_CAP, False  # the text index found more than that many
    else:
        rows, next_cursor = keyset_page(session, stmt, key=key, cursor=cursor, limit=limit)
        total, exact = capped_count(session, select(col(AuditEvent.id)).where(*conds))
    items = [AuditEventPublic.model_validate(r[2], from_attributes=True) for r in rows]
    return Page(items, next_cursor, total, exact)


# SQLite's text index of targets (migration 0019), outside the models' metadata: no model
# describes an FTS5 table.
_EVENT_FTS = Table("audit_event_fts", MetaData(), Column("rowid", Integer, nullable=False),
                   Column("audit_event_fts", String))
_TARGET_FTS = select(_EVENT_FTS.c.rowid).where(
    _EVENT_FTS.c.audit_event_fts.match(bindparam("query")))
RARITY_READ = 1_000
_RARITY = select(func.count()).select_from(_TARGET_FTS.limit(RARITY_READ).subquery())


# A common needle's page is first looked for among this many of the newest events (a few ms);
# only when they hold less than a page is its text index walked in order (~100 ms at a million
# events: FTS5 reads its trigrams' whole doclists), for a needle the trail's newest may lack.
RECENT_WALKED = 20_000


def _common_page(session: Session, stmt: Select[Any], conds: list[ColumnElement[bool]],
                 key: SortKey, needle: str, cursor: str | None, limit: int
                 ) -> tuple[Sequence[Any], str | None]:
    """A page of a needle with more than COUNT_CAP events: the newest events walked first,
    then, if they hold less than a page, the needle's hits in the text index's order."""
    if key.descending:
        start = (decode_cursor(cursor, key)[1] if cursor else
                 (session.execute(select(func.max(col(AuditEvent.id)))).scalar_one() or 0) + 1)
        recent = stmt.where(col(AuditEvent.id) >= start - RECENT_WALKED)
        rows, next_cursor = keyset_page(session, recent, key=key, cursor=cursor, limit=limit)
        if len(rows) == limit:
            return rows, next_cursor
    order = _EVENT_FTS.c.rowid
    walked = (select(order, order.label("row_id"), AuditEvent)
              .select_from(text_index_first(_EVENT_FTS, AuditEvent.__table__,  # type: ignore[attr-defined]
                                            col(AuditEvent.id) == order))
              .where(*conds, _EVENT_FTS.c.audit_event_fts.match(fts_phrase(needle))))
    return keyset_page(session, walked, key=SortKey(order, order, key.descending,  # type: ignore[arg-type]
                                                    named=str(key.column)),
                       cursor=cursor, limit=limit)


def _indexed(session: Session, needle: str) -> bool:
    """Whether SQLite's text index of targets (migration 0019) serves `needle`: FTS5 trigrams
    need three characters, and fold case as LIKE does only for ASCII."""
    return (session.get_bind().dialect.name == "sqlite" and len(needle) >= 3
            and needle.isascii())


def _target_hits(session: Session, needle: str) -> list[int] | None:
    """SQLite: the ids of the events whose target holds `needle` by its trigrams, if at most
    COUNT_CAP (each is still tested by LIKE: FTS5 folds the case of more than ASCII); else
    None (a common needle: `_common_page`). A rare needle once read the whole trail (1.2 s for
    1.3 million events). PostgreSQL's planner picks its trigram index (0019) or a walk itself."""
    if not _indexed(session, needle):
        return None
    conn = session.connection()
    for query in dict.fromkeys((_rarest(conn, needle), fts_phrase(needle))):
        ids = list(conn.execute(_TARGET_FTS.limit(COUNT_CAP + 1), {"query": query}).scalars())
        if len(ids) <= COUNT_CAP:
            return ids
    return None


def _rarest(conn: Any, needle: str) -> str:
    """The FTS5 query of a long needle's three rarest trigrams (AND), else its phrase. FTS5
    reads the whole doclist of each trigram of a phrase, and an address's domain is in most
    events: a rare account cost 170 ms among a million events. Which are rarest is read from
    the index: each trigram's first RARITY_READ rowids (its own doclist, read lazily)."""
    grams = sorted(text_trigrams(needle))
    if len(grams) < 6:
        return fts_phrase(needle)
    seen = {gram: conn.execute(_RARITY, {"query": fts_phrase(gram)}).scalar_one() for gram in grams}
    return " AND ".join(fts_phrase(gram) for gram in sorted(grams, key=seen.__getitem__)[:3])


CSV_COLUMNS = ("at", "actor", "action", "target", "outcome")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ tab or CR could run as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def export_events_csv(
    session: Session,
    *,
    actor: Actor,
    where: EventFilter = EventFilter(),
    page_size: int = 500,
) -> Iterator[str]:
    """The events `where` selects as CSV lines (header first), newest first, page by page."""
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
        page = list_events(session, actor=actor, where=where, cursor=cursor, limit=page_size)
        for e in page.items:
            yield line((e.at.isoformat(), e.actor, e.action, e.target, e.outcome))
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def event_actions(session: Session, *, actor: Actor) -> list[str]:
    """The distinct actions in the trail (served by the action index), for filter choices."""
    require(actor, Action.READ)
    return sorted(session.exec(select(col(AuditEvent.action)).distinct()).all())
