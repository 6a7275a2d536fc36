"""Keyset paging and capped counts: the one paging helper every listing uses.

A cursor is an opaque url-safe token holding the sort value and id of the last row shown, so a
page deep in a million rows costs the same as the first. It also names its sort order, so a
cursor taken from one sort is refused by another instead of silently skipping rows. Nullable sort columns sort NULLS LAST
in both directions. Counts stop at COUNT_CAP: past it a listing says "at least 10,000".
"""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import Select
from sqlmodel import Session

from connmodel.errors import InvalidInput

COUNT_CAP = 10_000
MAX_LIMIT = 500
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
    total: int
    total_exact: bool


@dataclass(frozen=True)
class SortKey:
    """A sort column (with the row id as tie-breaker) and its direction."""

    column: InstrumentedAttribute[Any]
    id_column: InstrumentedAttribute[Any]
    descending: bool = False

    @property
    def nullable(self) -> bool:
        return bool(self.column.expression.nullable)

    def order_by(self) -> list[Any]:
        # NULLS LAST only where NULLs can occur: on a NOT NULL column it would stop PostgreSQL
        # from reading an index backwards for a descending sort.
        col = self.column.desc() if self.descending else self.column.asc()
        col = col.nulls_last() if self.nullable else col
        return [col, self.id_column.desc() if self.descending else self.id_column.asc()]

    def after(self, value: Any, row_id: int) -> ColumnElement[bool]:
        """Rows strictly after (value, row_id) in this order.

        On a NOT NULL column this is a row-value comparison, (col, id) > (value, id), which both
        stores turn into one index range: a page deep in a listing reads only its own rows.
        """
        col, idc = self.column, self.id_column
        beyond_id = idc < row_id if self.descending else idc > row_id
        if value is None:
            return and_(col.is_(None), beyond_id)
        if self.column is self.id_column:
            return beyond_id
        if not self.nullable:
            pair = tuple_(col, idc)
            bound = tuple_(literal(value, col.type), literal(row_id, idc.type))
            return pair < bound if self.descending else pair > bound
        beyond = col < value if self.descending else col > value
        return or_(beyond, and_(col == value, beyond_id), col.is_(None))

    @property
    def tag(self) -> str:
        """A short name of this sort order, written into its cursors."""
        return f"{'-' if self.descending else ''}{self.column}"


def limit_ok(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    return limit


def _encode_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def encode_cursor(key: SortKey, value: Any, row_id: int) -> str:
    raw = json.dumps([key.tag, _encode_value(value), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, key: SortKey) -> tuple[Any, int]:
    """Parse a cursor made by encode_cursor for the same sort; InvalidInput otherwise."""
    bad = InvalidInput(f"malformed cursor {cursor[:40]!r}: pass the next_cursor of a listing")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        tag, value, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(tag, str):
        raise bad
    if tag != key.tag:
        raise InvalidInput(
            f"cursor {cursor[:40]!r} belongs to another sort order: "
            "pass the next_cursor of this listing, or start from the first page"
        )
    if not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 <= row_id < 2**63:
        raise bad
    column_type = key.column.type  # a TypeDecorator (UTCDateTime) reports `object`: ask its impl
    python_type = getattr(column_type, "impl_instance", column_type).python_type
    if value is None:
        return None, row_id
    try:
        if python_type is datetime:
            return datetime.fromisoformat(value), row_id
        if python_type is int and type(value) is int and -(2**63) <= value < 2**63:
            return value, row_id
        if python_type is str and isinstance(value, str):
            return value, row_id
    except (TypeError, ValueError):
        pass
    raise bad


def _columns_only(stmt: Select[Any]) -> bool:
    """Whether `stmt` selects plain columns only (no ORM entity to build).

    Such statements run on the session's connection: the ORM result machinery would double the
    cost of a page and adds nothing to tuples of column values.
    """
    return all(not isinstance(d["type"], type) for d in stmt.column_descriptions)


def keyset_page(
    session: Session,
    stmt: Select[Any],
    *,
    key: SortKey,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Any], str | None]:
    """Run `stmt` (already filtered) for one page after `cursor`; return rows and next cursor.

    The statement's first two selected columns must be the sort column and the id.
    """
    limit_ok(limit)
    if cursor:
        value, row_id = decode_cursor(cursor, key)
        stmt = stmt.where(key.after(value, row_id))
    stmt = stmt.order_by(*key.order_by()).limit(limit + 1)
    rows = (session.connection() if _columns_only(stmt) else session).execute(stmt).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(key, last[0], last[1])
    return rows, next_cursor


def capped_count(session: Session, filtered: Select[Any], cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many rows `filtered` selects, counting at most `cap` + 1 of them.

    Returns (n, True) when n <= cap, else (cap, False): "at least cap".
    """
    inner = filtered.limit(cap + 1).subquery()
    n = session.connection().execute(select(func.count()).select_from(inner)).scalar_one()
    return (cap, False) if n > cap else (n, True)
