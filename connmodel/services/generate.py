"""`generate`: realistic synthetic connections at gateway scale, for scale tests and benchmarks.

A million connections must land in well under 90 s, so rows never become ORM objects: they are
built as columns (`connmodel.synthetic`) and written in bulk, by executemany on SQLite and by
COPY on PostgreSQL, in one transaction with one audit event. The FTS5 insert trigger (SQLite)
and, for a load as large as the table, the indexes are suspended during the load and caught up
once in the same transaction (`_bulk_load`), so the search index holds exactly the rows. Other
writers wait for the load (SQLite's write lock; a table lock on PostgreSQL); on a SQLite file
nobody else has open, everyone waits: it is written without the write-ahead log
(`_written_in_place`). Generated
connections carry no credential at all (nothing secret to leak); generated OAuth2 provider
configs get a random client secret, encrypted, when a key ring is given.
"""

import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from time import perf_counter
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col

from connmodel.errors import AlreadyExists, InvalidInput
from connmodel.models import Connection, McpServer, Profile, ProviderConfig, utcnow
from connmodel.permissions import Action, Actor, require
from connmodel.secrets import KeyRing
from connmodel.services.events import record
from connmodel.services.keys import sealing_ring
from connmodel.status import ProviderKind, Status
from connmodel.synthetic import (
    PROVIDERS,
    ConnectionColumns,
    ProfileRow,
    connection_columns,
    connection_plan,
    profile_rows,
    time_strings,
    time_values,
)

MAX_CONNECTIONS = 10_000_000
MAX_PROFILES = 100_000
CHECK_EVERY = 25  # one connection in CHECK_EVERY gets a short check history
BATCH = 50_000
CHUNK = 250_000  # connections drawn and written at a time (a multiple of CHECK_EVERY)
FTS_INSERT_TRIGGER = "connection_fts_insert"  # migration 0002
TERMS_INSERT_TRIGGER = "profile_term_insert"  # migration 0013
COUNT_INSERT_TRIGGER = "connection_count_insert"  # migration 0009 (per row on SQLite)
FTS_DEFAULTS = (("automerge", 4), ("crisismerge", 16), ("hashsize", 1024 * 1024))  # FTS5's own
FTS_LOAD = (("automerge", 0), ("crisismerge", 64), ("hashsize", 64 * 1024 * 1024))
SORTER_THREADS = min(4, os.cpu_count() or 1)  # SQLite's index builds (see _bulk_load)
SORTER_CACHE_KB = 2 * 1024  # SQLite's default page cache
CONNECTION_COLUMNS = ("id", "profile_id", "service", "account", "status", "status_reason",
                      "checked_at", "expires_at", "last_used_at", "created_at")
CHECK_COLUMNS = ("connection_id", "server_id", "at", "status", "reachable", "reason",
                 "latency_ms", "tool_count")


@dataclass(frozen=True)
class GenerateResult:
    connections: int
    profiles: int
    servers: int
    provider_configs_created: int
    checks: int
    by_status: dict[str, int]
    seed: int
    seconds: float


def validate_sizes(connections: int, profiles: int) -> None:
    """InvalidInput unless 1 <= profiles <= connections <= MAX_CONNECTIONS."""
    for value, what in ((connections, "connections"), (profiles, "profiles")):
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInput(f"{what} must be a whole number, not {value!r}")
    if connections <= 0:
        raise InvalidInput(f"connections must be at least 1, not {connections}")
    if connections > MAX_CONNECTIONS:
        raise InvalidInput(f"connections must be at most {MAX_CONNECTIONS:,}, not {connections:,}")
    if not 1 <= profiles <= MAX_PROFILES:
        raise InvalidInput(f"profiles must be between 1 and {MAX_PROFILES:,}, not {profiles}")
    if profiles > connections:
        raise InvalidInput(
            f"profiles ({profiles}) cannot exceed connections ({connections}): "
            "every generated profile has at least one connection"
        )


def _chunks(items: Sequence[Any], size: int = 1000) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _refuse_taken(session: Session, model: Any, names: list[str], what: str) -> None:
    for chunk in _chunks(names):
        taken = session.execute(select(model.name).where(model.name.in_(chunk))).scalars().first()
        if taken is not None:
            raise AlreadyExists(
                f"a {what} named {taken!r} exists: generated data is already in this database; "
                "generate into a fresh database"
            )


def _provider_ids(session: Session, keyring: KeyRing | None, now: datetime) -> tuple[list[int], int]:
    """Ids of the PROVIDERS configs, creating the missing ones; and how many were created."""
    existing = dict(session.execute(
        select(col(ProviderConfig.name), col(ProviderConfig.id))
        .where(col(ProviderConfig.name).in_([p.name for p in PROVIDERS]))
    ).all())
    created = 0
    ring = sealing_ring(session, keyring) if keyring else None
    for spec in PROVIDERS:
        if spec.name in existing:
            continue
        secret = (ring.encrypt(secrets.token_urlsafe(24))
                  if ring and spec.kind == ProviderKind.OAUTH2 else None)
        existing[spec.name] = session.execute(
            insert(ProviderConfig).values(name=spec.name, kind=spec.kind.value,
                                          settings=dict(spec.settings), client_secret_enc=secret,
                                          created_at=now)
            .returning(col(ProviderConfig.id))
        ).scalar_one()
        created += 1
    return [existing[p.name] for p in PROVIDERS], created


def _insert_profiles(
    session: Session, rows: list[ProfileRow], provider_ids: list[int], now: datetime
) -> list[int]:
    values = [{"name": r.name, "environment": r.environment, "created_at": now,
               "description": "Connections in this profile",
               "provider_config_id": provider_ids[r.provider]} for r in rows]
    ids: dict[str, int] = {}
    for chunk in _chunks(values):
        result = session.execute(insert(Profile).returning(col(Profile.id), col(Profile.name)), chunk)
        ids.update({name: pid for pid, name in result.all()})
    return [ids[r.name] for r in rows]


def _insert_servers(
    session: Session, rows: list[ProfileRow], profile_ids: list[int], now: datetime
) -> list[int | None]:
    """Add each profile's servers; return the first server id of each profile."""
    values = [{"name": name, "url": url, "transport": "streamable-http", "profile_id": pid,
               "state": state, "reason": reason, "updated_at": now}
              for r, pid in zip(rows, profile_ids, strict=True)
              for name, url, state, reason in r.servers]
    first: dict[int, int] = {}
    for chunk in _chunks(values):
        result = session.execute(
            insert(McpServer).returning(col(McpServer.id), col(McpServer.profile_id)), chunk
        )
        for sid, pid in result.all():
            first[pid] = min(sid, first.get(pid, sid))
    return [first.get(pid) for pid in profile_ids]


def _reserve_ids(session: Session, n: int) -> int:
    """The first of n consecutive connection ids nobody else can take before we commit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE connection IN SHARE ROW EXCLUSIVE MODE"))
        first = session.execute(text(
            "SELECT GREATEST(nextval(pg_get_serial_sequence('connection', 'id')), "
            "(SELECT COALESCE(MAX(id), 0) + 1 FROM connection))"
        )).scalar_one()
        session.execute(text("SELECT setval(pg_get_serial_sequence('connection', 'id'), :last)"),
                        {"last": first + n - 1})
        return int(first)
    # SQLite: the audit event inserted first holds the write lock, so MAX(id) cannot move.
    return int(session.execute(select(func.coalesce(func.max(Connection.id), 0))).scalar_one()) + 1


def _bulk(session: Session, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """Write rows in bulk inside the session's transaction: executemany on SQLite; on PostgreSQL
    a binary COPY (the server parses no text: half its CPU for the connections, whose four
    timestamps dominated), typed by the table's own columns."""
    conn = session.connection()
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        types: dict[str, int] = dict(conn.execute(text(
            "SELECT attname, atttypid::int FROM pg_attribute "
            "WHERE attrelid = CAST(:table AS regclass) AND attnum > 0"), {"table": table}).all())
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(  # type: ignore[union-attr]
            f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types([types[c] for c in columns])
            for row in rows:
                copy.write_row(row)
        return
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
    rows = iter(rows)
    while batch := list(islice(rows, BATCH)):
        conn.exec_driver_sql(sql, batch)


def _fts_configure(conn: Any, settings: Iterable[tuple[str, int]]) -> None:
    for setting, value in settings:
        conn.execute(text("INSERT INTO connection_fts (connection_fts, rank) VALUES (:s, :v)"),
                     {"s": setting, "v": value})


@contextmanager
def _bulk_load(
    session: Session, *, first_id: int, counts: list[tuple[int, str, int]], rebuild_indexes: bool
) -> Iterator[None]:
    """Suspend per-row index upkeep on `connection` while the bulk insert runs, then catch up.

    Row-by-row triggers (FTS5, profile terms, SQLite's kept counts) and the partial indexes make
    a million inserts 10x slower than writing the rows and indexing them once. The definitions
    are read back from the database itself (so the migrations stay their single source) and
    recreated in the same transaction: other sessions never see the table without them. The
    search index gets exactly the new rows, and SQLite's kept counts the new rows' `counts`
    (profile id, status, connections: PostgreSQL's trigger counts a whole COPY at once); the
    caller writes their profile terms (`ConnectionColumns.terms`), trigger suspended.
    `rebuild_indexes` is for loads at least as large as the table (rebuilding is then cheaper);
    on SQLite it covers `check_result`'s indexes too (2M rows: 38.5 -> 33.6 s).
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        indexes = conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'connection' "
            "AND schemaname = current_schema() AND indexname <> 'connection_pkey'"
        )).all() if rebuild_indexes else []
        conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        conn.execute(text(f"ALTER TABLE connection DISABLE TRIGGER {TERMS_INSERT_TRIGGER}"))
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
        yield
        conn.execute(text(f"ALTER TABLE connection ENABLE TRIGGER {TERMS_INSERT_TRIGGER}"))
        for _, definition in indexes:
            conn.execute(text(definition))
        return
    objects = conn.execute(
        text("SELECT type, name, sql FROM sqlite_master "
             "WHERE tbl_name IN ('connection', 'check_result') "
             "AND sql IS NOT NULL AND (name IN (:fts, :terms, :counts) "
             "OR (type = 'index' AND :indexes))"),
        {"fts": FTS_INSERT_TRIGGER, "terms": TERMS_INSERT_TRIGGER, "counts": COUNT_INSERT_TRIGGER,
         "indexes": rebuild_indexes},
    ).all()
    # A 256 MB page cache for the load and the text index (the index builds set a small one,
    # below). SQLite keeps its bookkeeping sized for that even after cache_size is set back,
    # and clears it at every later transaction that follows another connection's write
    # (+0.1 ms each): one more reason the connection is closed after (`_written_in_place`).
    conn.exec_driver_sql(f"PRAGMA cache_size = {-256 * 1024}")
    for kind, name, _ in objects:
        conn.exec_driver_sql(f'DROP {kind.upper()} "{name}"')
    yield
    conn.execute(text(
        "INSERT INTO connection_count (profile_id, status, n) VALUES (:profile, :status, :n) "
        "ON CONFLICT (profile_id, status) DO UPDATE SET n = n + excluded.n"),
        [{"profile": p, "status": s, "n": n} for p, s, n in counts])
    # No merging of FTS segments while the new rows go in (a third faster), and 64 MB of terms
    # gathered in memory before each segment is written instead of 1 MB (a third faster again:
    # 1M rows 6.8-8.0 -> 4.8-5.2 s); then the defaults.
    _fts_configure(conn, FTS_LOAD)
    conn.execute(text("INSERT INTO connection_fts (rowid, account, service) "
                      "SELECT id, account, service FROM connection WHERE id >= :first"),
                 {"first": first_id})
    _fts_configure(conn, FTS_DEFAULTS)
    if rebuild_indexes:
        # One segment instead of one per 64 MB of terms (27 at 10M rows): every search looks
        # each trigram up in each segment and merges their rowids. 10M: 31 s more, and a
        # search read through the text index 1.1-2x faster ("example.com" 35 -> 20 ms).
        conn.execute(text("INSERT INTO connection_fts (connection_fts) VALUES ('optimize')"))
    # The index builds are sorts. SQLite's sorter sorts a page cache's worth of keys at a time,
    # then merges the sorted runs: with the 256 MB cache of the load, runs too large to sort
    # fast. Ten million rows, one index: 13.5-15.3 s on one thread with 256 MB, 7.1-7.7 s with
    # SQLite's default 2 MB, 5.5-5.9 s with it on two threads (at 19-23 MB of memory, not 549).
    conn.exec_driver_sql(f"PRAGMA threads = {SORTER_THREADS}")
    conn.exec_driver_sql(f"PRAGMA cache_size = {-SORTER_CACHE_KB}")
    for _, _, definition in objects:
        conn.exec_driver_sql(definition)


@contextmanager
def _written_in_place(session: Session) -> Iterator[None]:
    """SQLite: write the load into the database file itself, not through the write-ahead log,
    when no other connection has the database open.

    Through the log, every page of the load is written to the log, read back from it while the
    indexes are built (each read looks the page up in the log's index, slower as the log grows:
    8.5 GB at 10M) and copied into the file at the commit. With a rollback journal it is
    written once, and the journal keeps only the pages that were there before (few, in a fresh
    database): a failure still rolls the whole load back. 10M rows: 303 -> 193 s. SQLite will
    not leave WAL while another connection has the database open (a served dashboard): the load
    then goes through the log as before. Connections opened meanwhile fail ("database is
    locked") until the commit. This connection is closed after, not pooled, and the next one
    puts the database back in WAL.
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.detach()
    try:
        conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
    except OperationalError:  # "database is locked": not alone; through the log
        yield
        return
    try:
        yield
    finally:
        session.rollback()  # after the commit, nothing; after a failure, the journal undoes it
        session.connection().exec_driver_sql("PRAGMA journal_mode=WAL")  # a new connection


def _times_for(session: Session) -> Callable[[np.ndarray], list[Any]]:
    """How a store takes timestamps in bulk: text on SQLite, datetimes for a binary COPY."""
    return time_values if session.get_bind().dialect.name == "postgresql" else time_strings


def _insert_connections(
    session: Session, cols: ConnectionColumns, profile_ids: list[int], first_id: int
) -> None:
    times = _times_for(session)
    rows = zip(
        range(first_id, first_id + len(cols)),
        [profile_ids[p] for p in cols.profile],
        cols.service, cols.account, cols.status, cols.status_reason,
        times(cols.checked_at), times(cols.expires_at), times(cols.last_used_at),
        times(cols.created_at),
        strict=True,
    )
    _bulk(session, "connection", CONNECTION_COLUMNS, rows)


def _insert_checks(
    session: Session, rng: np.random.Generator, cols: ConnectionColumns,
    first_id: int, first_server: list[int | None],
) -> int:
    """A short history for one connection in CHECK_EVERY: now its status, before that Active."""
    picked = np.arange(0, len(cols), CHECK_EVERY)
    if len(picked) == 0:
        return 0
    times = _times_for(session)
    day = np.timedelta64(86_400_000_000, "us")
    latency = np.round(rng.lognormal(4.5, 0.6, size=(3, len(picked))), 1).tolist()
    tools = rng.integers(3, 40, size=len(picked)).tolist()
    rows: list[tuple[Any, ...]] = []
    for k, (back, status_of) in enumerate(((0, None), (1, Status.ACTIVE.value), (7, Status.ACTIVE.value))):
        at = times(cols.checked_at[picked] - back * day)
        for j, i in enumerate(picked.tolist()):
            status = status_of or cols.status[i]
            active = status == Status.ACTIVE.value
            rows.append((first_id + i, first_server[cols.profile[i]], at[j], status,
                         True, None if active else cols.status_reason[i],
                         latency[k][j], tools[j] if active else None))
    _bulk(session, "check_result", CHECK_COLUMNS, rows)
    return len(rows)


def _vacuum_analyze(session: Session) -> None:
    """PostgreSQL after a bulk load: statistics for the planner, and a visibility map so capped
    counts are index-only scans. Autovacuum would do both minutes later; a benchmark or a scale
    test starts right away. VACUUM cannot run in a transaction, hence its own connection.
    """
    engine = session.get_bind()
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:  # type: ignore[union-attr]
        conn.execute(text("VACUUM (ANALYZE) connection, profile, mcp_server, check_result"))


def generate(
    session: Session,
    *,
    actor: Actor,
    connections: int,
    profiles: int = 200,
    seed: int = 0,
    keyring: KeyRing | None = None,
    now: datetime | None = None,
) -> GenerateResult:
    """Add `connections` synthetic connections in `profiles` new profiles, in one transaction.

    The same seed (and `now`) gives the same data. Raises InvalidInput for bad sizes and
    AlreadyExists when a generated profile or server name is taken (run it on a fresh database).
    """
    require(actor, Action.WRITE, session)
    validate_sizes(connections, profiles)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InvalidInput(f"seed must be a whole number >= 0, not {seed!r}")
    started = perf_counter()
    now = now or utcnow()
    rng = np.random.default_rng(seed)
    plan = profile_rows(rng, profiles)
    connection_rows = connection_plan(rng, plan, connections)
    by_status = connection_rows.by_status()

    with _written_in_place(session):
        record(session, actor=actor, action="generate",
               target=f"{connections} synthetic connections in {profiles} profiles (seed {seed})",
               outcome="ok; " + ", ".join(f"{k} {v}" for k, v in by_status.items()))
        session.flush()  # on SQLite this takes the write lock before any id is read
        _refuse_taken(session, Profile, [r.name for r in plan], "profile")
        _refuse_taken(session, McpServer, [s[0] for r in plan for s in r.servers], "server")
        provider_ids, created = _provider_ids(session, keyring, now)
        profile_ids = _insert_profiles(session, plan, provider_ids, now)
        first_server = _insert_servers(session, plan, profile_ids, now)
        first_id = _reserve_ids(session, connections)
        checks = 0
        found: set[tuple[int, str, str]] = set()
        counts = [(profile_ids[p], status, n) for p, status, n in connection_rows.by_profile_and_status()]
        with _bulk_load(session, first_id=first_id, counts=counts,
                        rebuild_indexes=connections >= first_id - 1):
            chunk_id = first_id
            for chunk in connection_rows.chunks(CHUNK):
                cols = connection_columns(rng, plan, chunk, now)
                _insert_connections(session, cols, profile_ids, chunk_id)
                checks += _insert_checks(session, rng, cols, chunk_id, first_server)
                found.update((profile_ids[p], source, t) for p, source, t in cols.terms)
                chunk_id += len(cols)
            _bulk(session, "profile_term", ("profile_id", "source", "term"), sorted(found))
        session.commit()
    _vacuum_analyze(session)
    return GenerateResult(
        connections=connections, profiles=profiles, servers=sum(len(r.servers) for r in plan),
        provider_configs_created=created, checks=checks, by_status=by_status, seed=seed,
        seconds=round(perf_counter() - started, 3),
    )
