"""Time limits for reads that serve a person waiting at a page (issue 24).

A read with a budget stops when the budget is spent and raises ReadBudgetExceeded, whose
message tells the person what to do. SQLite is interrupted through a progress handler on the
connection; PostgreSQL through `statement_timeout`, set on the pooled connection for the read
and reset after it. Writes never run under a budget: they finish or do not start.
"""

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from connmodel.errors import InvalidInput, ReadBudgetExceeded

DEFAULT_READ_BUDGET_S = 2.0
BUDGET_ENV = "CONNMODEL_READ_BUDGET_S"
_SQLITE_CHECK_EVERY = 1000  # virtual machine instructions between two looks at the clock


def read_budget(raw: str | None = None) -> float | None:
    """The budget of a person's read: `raw`, else $CONNMODEL_READ_BUDGET_S, else 2 s;
    0 or 'none' means no limit."""
    raw = raw if raw is not None else os.environ.get(BUDGET_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_READ_BUDGET_S
    if raw.strip().lower() in ("0", "none"):
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 86_400:
        raise InvalidInput(f"read budget {raw!r}: give seconds (like 2 or 0.5), or 0 for none")
    return seconds


def too_broad(seconds: float) -> ReadBudgetExceeded:
    return ReadBudgetExceeded(
        f"This search is too broad to answer in {seconds:g} s: add letters or a filter")


@contextmanager
def budgeted(session: Session, seconds: float | None) -> Iterator[Session]:
    """Run the block's reads on `session` within `seconds` (None: no limit)."""
    if seconds is None:
        yield session
        return
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        raw: Any = conn.connection.driver_connection  # the sqlite3.Connection
        deadline = time.monotonic() + seconds
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), _SQLITE_CHECK_EVERY)
        try:
            yield session
        except DBAPIError as exc:
            if "interrupted" in str(exc.orig):
                raise too_broad(seconds) from None
            raise
        finally:
            raw.set_progress_handler(None, 0)
        return
    conn.exec_driver_sql(f"SET statement_timeout = {max(1, int(seconds * 1000))}")
    try:
        yield session
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "57014":  # query_canceled
            raise too_broad(seconds) from None
        raise
    finally:
        if not conn.invalidated:
            conn.exec_driver_sql("RESET statement_timeout")
