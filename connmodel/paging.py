"""Keyset paging and capped counts: the one paging helper every listing uses.

A cursor is an opaque url-safe token holding the sort value and id of the last row shown, so a
page deep in a million rows costs the same as the first. It also names its sort order, so a
cursor taken from one sort is refused by another instead of silently skipping rows. Nullable sort columns sort NULLS LAST
in both directions. Counts stop at COUNT_CAP: past it a listing says "at least 10,000".

The cursor position and the page size are bound parameters, so a listing that keeps its
KeysetQuery and CappedCount (see connmodel.services.connections) runs the same statement objects
call after call: SQLAlchemy then neither rebuilds them nor recomputes their cache keys, which
was most of the cost of a page.
"""

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from functools import cached_property
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    String,
    and_,
    bindparam,
    cast,
    func,
    select,
    tuple_,
)
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import Select
from sqlalchemy.sql.util import ClauseAdapter
from sqlalchemy.sql.visitors import replacement_traverse
from sqlmodel import Session

from connmodel.errors import InvalidInput

COUNT_CAP = 10_000
MAX_LIMIT = 500
T = TypeVar("T")
# The bound parameters of a page statement (callers' own parameters must not use these names).
AFTER_VALUE, AFTER_ID, PAGE_LIMIT = "page_after_value", "page_after_id", "page_limit"


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
    # The order's name in cursors when another column gives the same order (a text index's
    # rowids for the ids), so that either reading continues the other's pages.
    named: str | None = None

    # Whether the sort values may be NULL: None asks the column; an expression (`lower(name)`)
    # knows no answer and must give it.
    may_be_null: bool | None = None

    @property
    def nullable(self) -> bool:
        if self.may_be_null is not None:
            return self.may_be_null
        return bool(self.column.expression.nullable)

    def order_by(self) -> list[Any]:
        # NULLS LAST only where NULLs can occur: on a NOT NULL column it would stop PostgreSQL
        # from reading an index backwards for a descending sort.
        col = self.column.desc() if self.descending else self.column.asc()
        return self._then_id(col.nulls_last() if self.nullable else col)

    def part_order(self) -> list[Any]:
        """The order within rows whose sort values are all NULL or all not NULL.

        Without NULLS LAST each store reads an index (.., column, id) in order, forwards or
        backwards; with it one direction is a sort of every row (PostgreSQL's backward read
        is NULLS FIRST). So a nullable column is read as two parts (`parts`).
        """
        return self._then_id(self.column.desc() if self.descending else self.column.asc())

    def _then_id(self, first: Any) -> list[Any]:
        """`first`, then the id in the same direction, unless the id is the sort column: a
        term twice keeps SQLite's FTS5 from walking its rowids in order (an events search:
        connmodel.services.events), and sorts every hit instead."""
        if self.column is self.id_column:
            return [first]
        return [first, self.id_column.desc() if self.descending else self.id_column.asc()]

    def parts(self, start: "Start") -> list[ColumnElement[bool] | None]:
        """Conditions of the parts of a page, read in turn until the page is full.

        One part (rows after the bound position; None: all) for a NOT NULL column; for a
        nullable one the rows with a value, then the NULLs (the NULLS LAST tail), each an index
        range where an index (.., column, id) exists.
        """
        col, idc = self.column, self.id_column
        row_id = bindparam(AFTER_ID, type_=idc.type)
        beyond_id = idc < row_id if self.descending else idc > row_id
        if start is Start.AFTER_NULL:
            return [and_(col.is_(None), beyond_id)]
        if start is Start.FIRST:
            after: ColumnElement[bool] | None = None
        elif self.column is self.id_column:
            after = beyond_id
        else:
            # (col, id) > (value, id): one index range on both stores, even deep in a listing.
            pair, bound = tuple_(col, idc), tuple_(bindparam(AFTER_VALUE, type_=col.type), row_id)
            after = pair < bound if self.descending else pair > bound
        if not self.nullable:
            return [after]
        values = col.is_not(None) if after is None else and_(col.is_not(None), after)
        return [values, col.is_(None)]

    @cached_property
    def python_type(self) -> type:
        """The sort column's Python type (a TypeDecorator such as UTCDateTime: its impl's)."""
        column_type = self.column.type
        return getattr(column_type, "impl_instance", column_type).python_type  # type: ignore[no-any-return]

    @cached_property
    def tag(self) -> str:
        """A short name of this sort order, written into its cursors."""
        return f"{'-' if self.descending else ''}{self.named or self.column}"


def limit_ok(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    return limit


def _encode_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


_CURSOR_JSON = json.JSONEncoder(separators=(",", ":"))


def encode_cursor(key: SortKey, value: Any, row_id: int) -> str:
    raw = _CURSOR_JSON.encode([key.tag, _encode_value(value), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, key: SortKey) -> tuple[Any, int]:
    """Parse a cursor made by encode_cursor for the same sort; InvalidInput otherwise."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        tag, value, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, RecursionError):
        raise _malformed(cursor) from None  # RecursionError: JSON nested thousands deep
    if not isinstance(tag, str):
        raise _malformed(cursor)
    if tag != key.tag:
        raise InvalidInput(
            f"cursor {cursor[:40]!r} belongs to another sort order: "
            "pass the next_cursor of this listing, or start from the first page"
        )
    if not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 <= row_id < 2**63:
        raise _malformed(cursor)
    python_type = key.python_type
    if value is None:
        return None, row_id
    try:
        if python_type is datetime:  # a time without an offset is UTC, as the stores keep it
            moment = datetime.fromisoformat(value)
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)), row_id
        if python_type is int and type(value) is int and -(2**63) <= value < 2**63:
            return value, row_id
        if python_type is str and isinstance(value, str):
            return value, row_id
    except (TypeError, ValueError):
        pass
    raise _malformed(cursor)


def _malformed(cursor: str) -> InvalidInput:
    return InvalidInput(f"malformed cursor {cursor[:40]!r}: pass the next_cursor of a listing")


def _columns_only(stmt: Select[*tuple[Any, ...]]) -> bool:
    """Whether `stmt` selects plain columns only (no ORM entity to build).

    Such statements run on the session's connection: the ORM result machinery would double the
    cost of a page and adds nothing to tuples of column values.
    """
    return all(not isinstance(d["type"], type) for d in stmt.column_descriptions)


def with_values(clause: ColumnElement[Any], params: Mapping[str, Any]) -> ColumnElement[Any]:
    """A copy of `clause` whose named bound parameters are replaced by values from `params`.

    For composing a condition kept with bound parameters into a statement built per call. The
    values become anonymous parameters, so two copies with different values never collide.
    """
    def replace(element: Any) -> Any:
        if isinstance(element, BindParameter) and element.key in params:
            return bindparam(element.key, params[element.key], type_=element.type, unique=True)
        return None

    copy: ColumnElement[Any] = replacement_traverse(clause, {}, replace)  # type: ignore[call-overload]
    return copy


class Start(Enum):
    """Where a page starts: the first page, after a sort value, or in the NULLS LAST tail."""

    FIRST = "first"
    AFTER_VALUE = "after value"
    AFTER_NULL = "after null"


class KeysetQuery:
    """A filtered SELECT paged by `key`, its page statements built once and reused.

    `stmt` selects the sort value and the row id, first unless `at` gives their places in a
    row (a listing that shows both anyway need not select them twice). Each kind of start (see Start)
    gets its statement on first use; the cursor position and the limit are bound at execution,
    with the caller's own `params` (the values of the filter's bound parameters).
    """

    def __init__(self, stmt: Select[*tuple[Any, ...]], key: SortKey, *,
                 at: tuple[int, int] = (0, 1), collect: bool = False) -> None:
        self.stmt, self.key, self.at, self.collect = stmt, key, at, collect
        self.on_connection = _columns_only(stmt)
        self._built: dict[Start, list[Select[*tuple[Any, ...]]]] = {}

    def _statements(self, start: Start) -> list[Select[*tuple[Any, ...]]]:
        statements = self._built.get(start)
        if statements is None:
            statements = [self._part(self.stmt if part is None else self.stmt.where(part))
                          for part in self.key.parts(start)]
            self._built[start] = statements
        return statements

    def _part(self, rows: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
        """`rows` in the sort's order, limited to the page: walked along an index in that
        order, or with `collect` read whole and sorted.

        Collected rows come from a subquery with OFFSET 0, which PostgreSQL plans on its own,
        for every row: it then reads them the filter's cheapest way (a bitmap of two indexes)
        instead of walking the sort's index in the hope of finding a page soon, a hope that
        reads the whole index when the filter's rows are fewer than it estimated.
        """
        if not self.collect:
            return rows.order_by(*self.key.part_order()).limit(bindparam(PAGE_LIMIT))
        shown = len(rows.selected_columns)
        # The sort columns as they are (a listing may show them as other expressions).
        fenced = rows.add_columns(self.key.column, self.key.id_column).offset(0).subquery()
        on_fenced = ClauseAdapter(fenced)
        return (select(*list(fenced.c)[:shown])
                .order_by(*(on_fenced.traverse(c) for c in self.key.part_order()))
                .limit(bindparam(PAGE_LIMIT)))

    def _rows(self, session: Session, start: Start, values: dict[str, Any]) -> list[Any]:
        """Up to values[PAGE_LIMIT] rows from the start's parts, read in turn."""
        runner = session.connection() if self.on_connection else session
        wanted: int = values[PAGE_LIMIT]
        rows: list[Any] = []
        for statement in self._statements(start):
            rows.extend(runner.execute(statement, {**values, PAGE_LIMIT: wanted - len(rows)}).all())
            if len(rows) == wanted:
                break
        return rows

    def page(self, session: Session, *, cursor: str | None, limit: int,
             params: Mapping[str, Any] | None = None, empty: bool = False,
             ) -> tuple[Sequence[Any], str | None]:
        """One page after `cursor`: its rows and the cursor of the next page (None at the end).

        `empty`: the filter is known to match nothing (its exact count was 0), so nothing is
        read; the cursor and limit are checked all the same.
        """
        limit_ok(limit)
        values = {**(params or {}), PAGE_LIMIT: limit + 1}
        start = Start.FIRST
        if cursor:
            value, values[AFTER_ID] = decode_cursor(cursor, self.key)
            start = Start.AFTER_NULL if value is None else Start.AFTER_VALUE
            values[AFTER_VALUE] = value
        if empty:
            return [], None
        rows = self._rows(session, start, values)
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = encode_cursor(self.key, last[self.at[0]], last[self.at[1]])
        return rows, next_cursor


def keyset_page(
    session: Session,
    stmt: Select[*tuple[Any, ...]],
    *,
    key: SortKey,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Any], str | None]:
    """Run `stmt` (already filtered) for one page after `cursor`; return rows and next cursor.

    The statement's first two selected columns must be the sort column and the id. A listing
    called often keeps a KeysetQuery instead, so its statements are built once.
    """
    return KeysetQuery(stmt, key).page(session, cursor=cursor, limit=limit)


class CappedCount:
    """How many rows a filtered SELECT gives, counting at most `cap` + 1: built once, run often."""

    def __init__(self, filtered: Select[*tuple[Any, ...]], cap: int = COUNT_CAP) -> None:
        self.cap = cap
        self.counted = filtered.limit(cap + 1).subquery()
        self.statement = select(func.count()).select_from(self.counted)

    def run(self, session: Session, params: Mapping[str, Any] | None = None) -> tuple[int, bool]:
        """(n, True) when n <= cap, else (cap, False): "at least cap"."""
        n = session.connection().execute(self.statement, params or {}).scalar_one()
        return (self.cap, False) if n > self.cap else (n, True)

    @cached_property
    def listing(self) -> Select[int, str]:
        """The count with the rows' first column joined by commas (built when first used)."""
        first = next(iter(self.counted.c))
        return select(func.count(), func.aggregate_strings(cast(first, String), ",")
                      ).select_from(self.counted)

    def listed(self, session: Session, params: Mapping[str, Any] | None = None
               ) -> tuple[int, str] | None:
        """How many rows, and their first column (ids) joined by commas on the server (one
        value to read, not a row each), when they are at most `cap`; else None."""
        n, joined = session.connection().execute(self.listing, params or {}).one()
        return None if n > self.cap else (n, joined or "")


def capped_count(session: Session, filtered: Select[*tuple[Any, ...]],
                 cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many rows `filtered` selects, counting at most `cap` + 1 of them.

    Returns (n, True) when n <= cap, else (cap, False): "at least cap".
    """
    return CappedCount(filtered, cap).run(session)
