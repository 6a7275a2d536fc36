"""Engines and sessions: the database URL, SQLite pragmas, and nothing about business rules.

The default store is a SQLite file in the working directory, opened with WAL (readers never
block the writer), foreign keys on, and a busy timeout so two processes writing at once wait
instead of failing. PostgreSQL (`postgresql+psycopg://...`) is the store for several processes.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session, create_engine

from connmodel.errors import StoreUnavailable

DEFAULT_URL = "sqlite:///connmodel.db"
BUSY_TIMEOUT_MS = 10_000


def database_url(explicit: str | None = None) -> str:
    """The URL to use: explicit argument, then CONNMODEL_DATABASE_URL, then ./connmodel.db."""
    return explicit or os.environ.get("CONNMODEL_DATABASE_URL") or DEFAULT_URL


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@lru_cache(maxsize=16)
def get_engine(url: str | None = None) -> Engine:
    """One engine per URL per process (engines own connection pools)."""
    resolved = database_url(url)
    try:
        parsed = make_url(resolved)
    except ArgumentError:
        raise StoreUnavailable(f"malformed database URL {resolved!r}") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(resolved, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
    elif parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    else:
        raise StoreUnavailable(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://"
        )
    return engine


def describe(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<malformed URL>"


@contextmanager
def session(url: str | None = None) -> Iterator[Session]:
    """A session on the store; connection failures become StoreUnavailable."""
    engine = get_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as s:
            yield s
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreUnavailable(
            f"cannot use the database {describe(engine.url.render_as_string())}: {reason}"
        ) from None
