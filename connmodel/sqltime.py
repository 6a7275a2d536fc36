"""Timestamps for listings: read as cheaply as the store allows, still aware UTC in the end.

SQLModel's UTCDateTime turns every stored value into an aware datetime with three Python calls
(parse, check the offset, set UTC): at 4 columns x 50 rows that was a quarter of a SQLite page.
`utc_time(column)` instead reads, on SQLite, the stored UTC text as it is (SQLAlchemy's SQLite
format: ISO 8601 with a space, no offset), which the caller makes an aware UTC datetime with one
inline `datetime.fromisoformat(text + "+00:00")` (see services.connections._public_row; appending
the offset in SQL cost SQLite more than Python); on PostgreSQL the aware datetime psycopg made,
moved to UTC.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def as_utc(value: datetime | None) -> datetime | None:
    """An aware datetime (PostgreSQL's, in the session's zone) in UTC; None stays None."""
    if value is None or value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


class ListedTime(TypeDecorator[Any]):
    """A timestamp result: SQLite's stored UTC text, PostgreSQL's datetime in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        return None if dialect.name == "sqlite" else as_utc


def utc_time(column: Any) -> ColumnElement[Any]:
    """`column` read as a ListedTime: the same SQL, only the result processing differs."""
    return type_coerce(column, ListedTime())
