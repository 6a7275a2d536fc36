"""Engines and sessions: the database URL, SQLite pragmas, and nothing about business rules.

The default store is a SQLite file in the working directory, opened with WAL (readers never
block the writer), foreign keys on, and a busy timeout so two processes writing at once wait
instead of failing. PostgreSQL (`postgresql+psycopg://...`) is the store for several processes.
"""

import os
import select
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DataError,
    DisconnectionError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
)
from sqlmodel import Session, create_engine

from connmodel.budget import budgeted
from connmodel.errors import AlreadyExists, InvalidInput, PermissionDenied, StoreUnavailable
from connmodel.models import AuditEvent, utcnow
from connmodel.terms import terms_json

DEFAULT_URL = "sqlite:///connmodel.db"
BUSY_TIMEOUT_MS = 10_000
POOL_SETTINGS = {"pool_size": "CONNMODEL_POOL_SIZE", "max_overflow": "CONNMODEL_MAX_OVERFLOW"}


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
    # The triggers of migration 0013 split accounts and services into terms with it.
    dbapi_connection.create_function("connmodel_terms", 1, terms_json, deterministic=True)


# PostgreSQL's memory per sort or bitmap of our sessions, at least (a server set higher keeps
# its own): a search with a status ANDs the needle's trigram bitmap with the status's, ~750,000
# rows of 10M for "zoe." + Error. At the default 4 MB both went lossy (whole heap pages
# rechecked: 3.4M rows, 4.3 s); from 12 MB they stay exact (0.15 s).
WORK_MEM_FLOOR_MB = 32
_WORK_MEM_FLOOR = (f"SELECT set_config('work_mem', '{WORK_MEM_FLOOR_MB}MB', false) WHERE "
                   f"pg_size_bytes(current_setting('work_mem')) < {WORK_MEM_FLOOR_MB} * 1024 * 1024")


def _session_settings(dbapi_connection: Any, _record: Any) -> None:
    """PostgreSQL sessions in UTC, so psycopg reads every timestamptz as a UTC datetime, with
    at least WORK_MEM_FLOOR_MB of work_mem, and without JIT compilation.

    In the server's own zone (here "Etc/UTC", a ZoneInfo rather than datetime.UTC) each value
    was moved to UTC in Python (connmodel.sqltime.as_utc): 200 calls a listed page, a tenth of
    a status listing's CPU on PostgreSQL. Every SQL that cuts days already names its zone
    (`timezone('UTC', ...)`). Outside a transaction, as SQLAlchemy's recipes set a session
    setting on connect: a rollback would undo it.

    JIT compiles a statement whose estimated cost passes `jit_above_cost`, which says nothing
    of what it will read: Revoke's list of servers for a common needle ran in 4 ms and spent
    600 ms compiling (its per-server probes are estimated as full scans), the audit's
    aggregates 0.9 s of a 1.4 s report. Every read here is a bounded walk; none gained by it.
    """
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    dbapi_connection.execute("SET TIME ZONE 'UTC'")
    dbapi_connection.execute(_WORK_MEM_FLOOR)
    dbapi_connection.execute("SET jit = off")
    dbapi_connection.autocommit = autocommit


def _closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled PostgreSQL connection the server has closed (a restart, a terminated
    backend): the pool then discards it and connects anew, as pool_pre_ping would.

    An idle connection has nothing to read unless the server said goodbye (its FATAL message,
    then end of file), so a zero-timeout poll of its socket tells without pre-ping's SELECT 1
    round trip (one per session: as long as a whole page on a loaded machine). Anything
    unexpected there is treated as dead too: the cost of a false alarm is a new connection.
    """
    pgconn = dbapi_connection.pgconn
    if dbapi_connection.closed or select.select([pgconn.socket], [], [], 0)[0]:
        raise DisconnectionError("the server closed this connection")


# psycopg's default: a statement run this many times on a connection is prepared on the server.
PREPARE_THRESHOLD = 5


def _prepare_again(dbapi_connection: Any, _record: Any) -> None:
    """A connection back in the pool prepares statements again (see plan_for_values)."""
    if dbapi_connection is not None:
        dbapi_connection.prepare_threshold = PREPARE_THRESHOLD


def plan_for_values(session: Session) -> None:
    """PostgreSQL: plan this session's statements for their own values, never prepared, until
    its connection goes back to the pool (for a search).

    psycopg prepares a statement on the server from its sixth run on a connection, and
    PostgreSQL then plans it once for any values. For a search, whose pattern decides the plan,
    that plan read every match of a common needle for each card's first rows: 34 ms for the
    first five screens, 281 ms from the sixth on (1M rows). Planning every statement each time
    instead cost the broker (no search) 30 % of its requests/s: only searches do.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.connection.driver_connection.prepare_threshold = None  # type: ignore[union-attr]


SUPPORTED = "use sqlite:///path/to/file.db or postgresql://user@host:5432/name"
DRIVERS = {
    "sqlite": ("sqlite", "sqlite+pysqlite"),
    "postgresql": ("postgresql", "postgresql+psycopg"),
}


@lru_cache(maxsize=16)
def get_engine(url: str | None = None) -> Engine:
    """One engine per URL per process (engines own connection pools)."""
    resolved = database_url(url)
    try:
        parsed = make_url(resolved)
    except (ArgumentError, ValueError):
        raise StoreUnavailable(
            f"malformed database URL {describe(resolved)!r}: {SUPPORTED}"
        ) from None
    backend = parsed.get_backend_name()
    if parsed.drivername not in DRIVERS.get(backend, ()):
        raise StoreUnavailable(f"unsupported database {parsed.drivername!r}: {SUPPORTED}")
    try:
        if backend == "sqlite":
            engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            parsed = parsed.set(drivername="postgresql+psycopg")
            engine = create_engine(parsed, connect_args={"connect_timeout": 5}, **_pool())
            event.listen(engine, "connect", _session_settings)
            event.listen(engine, "checkout", _closed_by_server)
            event.listen(engine, "checkin", _prepare_again)
    except (ArgumentError, ValueError, TypeError) as exc:
        raise StoreUnavailable(f"malformed database URL {describe(resolved)!r}: {exc}") from None
    return engine


def pool_size(url: str | None = None) -> int:
    """How many connections the store's pool keeps open between sessions (SQLAlchemy's
    pool_size). More sessions at once open overflow connections that are closed after each use:
    on PostgreSQL a new server process per session."""
    size = getattr(get_engine(url).pool, "size", None)
    return int(size()) if callable(size) else 1


def _pool() -> dict[str, int]:
    """PostgreSQL pool sizes from $CONNMODEL_POOL_SIZE / $CONNMODEL_MAX_OVERFLOW (SQLAlchemy's
    5 + 10 when unset): processes x (size + overflow) must stay under max_connections, or go
    through pgbouncer (docs/deployment.md)."""
    sizes = {}
    for option, variable in POOL_SETTINGS.items():
        raw = os.environ.get(variable, "").strip()
        if raw:
            if not raw.isdigit():
                raise StoreUnavailable(f"{variable} must be a whole number, not {raw[:20]!r}")
            sizes[option] = int(raw)
    return sizes


def require_existing(url: str | None = None) -> None:
    """StoreUnavailable when `url` names a SQLite file that does not exist: opening it would
    create an empty one (sqlite3 makes the file it opens), so a typo left files behind. Only
    `connmodel init` creates the store; it does not call this."""
    try:
        parsed = make_url(database_url(url))
    except (ArgumentError, ValueError):
        return  # get_engine says what is wrong with it
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:" \
            or "uri" in parsed.query:
        return
    if not os.path.exists(path):
        raise StoreUnavailable(f"the database file {path} does not exist: run `connmodel init` "
                               "to create it, or check --database and $CONNMODEL_DATABASE_URL")


def describe(url: str) -> str:
    """The URL with any password hidden, for messages (even when the URL does not parse)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        if "@" not in url:
            return url[:200]
        head, _, host = url.rpartition("@")
        scheme = head.split("//", 1)[0] + "//" if "//" in head else ""
        return f"{scheme}***@{host}"[:200]


def _missing_table(exc: DatabaseError) -> bool:
    """SQLite says 'no such table/column'; PostgreSQL raises undefined table/column (42P01/42703)."""
    return getattr(exc.orig, "sqlstate", None) in ("42P01", "42703") or "no such " in str(exc.orig)


def _audit_refusal(engine: Engine, exc: PermissionDenied) -> None:
    """Record a refused action in its own transaction (the caller's work is rolled back)."""
    with engine.begin() as conn:
        conn.execute(insert(AuditEvent).values(
            at=utcnow(), actor=exc.actor or "?", action="denied",
            target=exc.attempted or "?", outcome=f"refused: {exc}"))


@lru_cache(maxsize=16)
def _reading_bind(engine: Engine) -> Engine:
    """PostgreSQL: the engine in autocommit (same pool), so a read sends no BEGIN and no
    ROLLBACK, two of its three round trips. SQLite's driver begins no transaction for a read."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


@contextmanager
def session(url: str | None = None) -> Iterator[Session]:
    """A session on the store; connection failures become StoreUnavailable."""
    engine = get_engine(url)
    with _translated(engine), Session(engine, expire_on_commit=False) as s:
        yield s


@contextmanager
def reading(url: str | None = None, budget_s: float | None = None,
            cancel: threading.Event | None = None) -> Iterator[Session]:
    """A session for reads that need no snapshot across statements (a listing, a count).

    Each statement sees the latest committed data on its own (autocommit on PostgreSQL); a
    write in it is committed at once, so use `session` for anything that writes. With
    `budget_s`, the reads stop after that long with ReadBudgetExceeded; on SQLite, once
    `cancel` is set, with ReadCancelled (connmodel.budget).
    """
    engine = get_engine(url)
    with _translated(engine), Session(_reading_bind(engine), expire_on_commit=False) as s, \
            budgeted(s, budget_s, cancel):
        yield s


@contextmanager
def _translated(engine: Engine) -> Iterator[None]:
    """Connection failures become StoreUnavailable; a refused action is audited."""
    try:
        yield
    except PermissionDenied as exc:
        _audit_refusal(engine, exc)
        raise
    except DatabaseError as exc:
        if isinstance(exc, DataError) and "NUL (0x00)" in str(exc.orig):
            raise InvalidInput("text may not contain NUL (\\x00) characters") from None
        if isinstance(exc, DataError) and getattr(exc.orig, "sqlstate", None) == "22001":
            first = str(exc.orig).strip().splitlines()[0]
            raise InvalidInput(f"a value is too long to store ({first})") from None
        if type(exc) not in (DatabaseError, OperationalError, ProgrammingError):
            raise  # integrity and data errors are the caller's to translate
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        if _missing_table(exc):
            raise StoreUnavailable(
                f"{describe(engine.url.render_as_string())} is not a connmodel database at the "
                f"current schema ({reason}): run `connmodel init`"
            ) from None
        if isinstance(exc, ProgrammingError) and exc.statement is not None:
            raise  # a bad query is a bug to see; a bad connection option is the URL's fault
        raise StoreUnavailable(
            f"cannot use the database {describe(engine.url.render_as_string())}: {reason}"
        ) from None


def _unique_violation(exc: IntegrityError) -> bool:
    """PostgreSQL unique_violation (23505); SQLite 'UNIQUE constraint failed'."""
    return getattr(exc.orig, "sqlstate", None) == "23505" or "UNIQUE constraint" in str(exc.orig)


def flush_unique(session: Session, taken: str) -> None:
    """Flush a new named row; if another writer took the name since our check, AlreadyExists.

    Services check a name before inserting, but two writers can both pass the check; the unique
    index then refuses the second, and its transaction is rolled back before `taken` is raised.
    """
    try:
        session.flush()
    except IntegrityError as exc:
        if not _unique_violation(exc):
            raise
        session.rollback()
        raise AlreadyExists(taken) from None
