"""Time limits for reads that serve a person waiting at a page (issue 24).

A read with a budget stops when the budget is spent and raises ReadBudgetExceeded, whose
message tells the person what to do. SQLite is interrupted through a progress handler on the
connection; PostgreSQL through `statement_timeout`, set before each of the read's statements
to what is left of the budget (one short round trip each) and reset after the read. Either way
the budget is a deadline for the whole read, not a limit per statement. Writes never run under a budget: they finish or do not start.

On SQLite a read can also be stopped from another thread (`cancel`, a threading.Event): the
dashboard stops a screen's read when a newer input supersedes it, so a superseded scan does
not keep a core busy until its budget. It raises ReadCancelled. (PostgreSQL's cancel request
can arrive after the statement ended and stop the connection's next one, so a superseded read
there runs to its end or its budget.)
"""

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from connmodel.errors import InvalidInput, ReadBudgetExceeded, ReadCancelled

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
def budgeted(session: Session, seconds: float | None,
             cancel: threading.Event | None = None) -> Iterator[Session]:
    """Run the block's reads on `session` within `seconds` (None: no limit); on SQLite they
    also stop once `cancel` is set (ReadCancelled)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if seconds is None and not (sqlite and cancel is not None):
        yield session
        return
    conn = session.connection()
    if sqlite:
        raw: Any = conn.connection.driver_connection  # the sqlite3.Connection
        deadline = time.monotonic() + seconds if seconds is not None else None
        stopped = cancel or threading.Event()

        def stop() -> int:
            return int(stopped.is_set() or (deadline is not None and time.monotonic() > deadline))

        raw.set_progress_handler(stop, _SQLITE_CHECK_EVERY)
        try:
            yield session
        except DBAPIError as exc:
            if "interrupted" not in str(exc.orig):
                raise
            if stopped.is_set():
                raise ReadCancelled("the read was stopped: a newer input replaced it") from None
            raise too_broad(seconds or 0) from None
        finally:
            raw.set_progress_handler(None, 0)
        return
    assert seconds is not None
    deadline = time.monotonic() + seconds

    def remaining(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                  executemany: bool) -> None:
        """Before each statement: its timeout is what is left of the read's budget, so the
        budget bounds the whole read, not each of its statements."""
        left_ms = int((deadline - time.monotonic()) * 1000)
        if left_ms < 1:
            raise too_broad(seconds)
        cursor.connection.execute(f"SET statement_timeout = {left_ms}")

    event.listen(conn, "before_cursor_execute", remaining)
    try:
        yield session
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "57014":  # query_canceled
            raise too_broad(seconds) from None
        raise
    finally:
        event.remove(conn, "before_cursor_execute", remaining)
        if not conn.invalidated:
            conn.exec_driver_sql("RESET statement_timeout")
