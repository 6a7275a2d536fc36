"""A pooled PostgreSQL connection the server closed (restart, terminated backend) is replaced
on checkout, without a pre-ping round trip: the next session just works."""

from datetime import UTC

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from connmodel.permissions import Actor
from connmodel.services.connections import ConnectionFilter, list_connections
from connmodel.services.demo import seed_demo
from connmodel.store import WORK_MEM_FLOOR_MB, get_engine, reading, session

pytestmark = pytest.mark.postgres


def _backend_pids(url: str) -> set[int]:
    """Open two pooled connections at once (then return them); their server process ids."""
    with session(url) as a, reading(url) as b:
        return {a.execute(text("SELECT pg_backend_pid()")).scalar_one(),
                b.execute(text("SELECT pg_backend_pid()")).scalar_one()}


def _terminate(url: str, pids: set[int]) -> None:
    """What a server restart does to every client: close their connections from its side."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as admin:
        for pid in pids:  # waits until each has exited (and closed its socket)
            assert admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone() == (True,)


def test_sessions_survive_connections_closed_by_the_server(postgres_url, keyring, admin):
    with session(postgres_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    pids = _backend_pids(postgres_url)
    _terminate(postgres_url, pids)
    with reading(postgres_url) as s:  # a listing, as the dashboard reads after a restart
        page = list_connections(s, actor=Actor("viewer"), limit=5)
    assert page.items and page.items[0].created_at.tzinfo is UTC
    with session(postgres_url) as s:  # and a write
        s.execute(text("UPDATE mcp_server SET reason = 'after restart'"))
        s.commit()
    assert not pids & _backend_pids(postgres_url), "a closed connection was handed out again"


def test_a_searchs_statements_are_planned_for_their_pattern_and_the_rest_prepared(
        postgres_url, keyring, admin):
    """psycopg prepares a statement on the server from its sixth run on a connection, and
    PostgreSQL may then plan it once for any values: for a search, whose pattern decides the
    plan, a common needle's cards read every match. A search's statements are never prepared;
    the others still are (the broker's requests/s depend on it), on the same connection."""
    with session(postgres_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    searching = "statement ILIKE '%ilike%' AND statement NOT ILIKE '%pg_prepared%'"
    prepared = text(f"SELECT count(*) FILTER (WHERE {searching}), coalesce(sum(generic_plans) "
                    f"FILTER (WHERE {searching}), 0), count(*) FROM pg_prepared_statements")
    for where in [ConnectionFilter(search="example")] * 12 + [ConnectionFilter(status="Error")] * 12:
        with reading(postgres_url) as s:  # one pooled connection, used again and again
            list_connections(s, actor=admin, where=where, limit=5)
            found = s.execute(prepared).one()
    searches, generic, every = found
    assert (searches, generic) == (0, 0), f"{searches} search statements prepared"
    assert every > 0, "nothing else was prepared either"


def test_timestamps_are_read_in_utc_whatever_the_servers_zone(postgres_url, keyring, admin):
    """Sessions run in UTC (store._session_settings), so psycopg reads timestamptz as datetime.UTC
    and listings move no value between zones in Python; a rolled-back transaction keeps it."""
    with session(postgres_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
        s.rollback()
        assert s.execute(text("SHOW TimeZone")).scalar_one() == "UTC"
        assert s.execute(text("SELECT now()")).scalar_one().tzinfo is UTC
    with reading(postgres_url) as s:
        page = list_connections(s, actor=Actor("viewer"), limit=5)
    assert page.items and all(i.created_at.tzinfo is UTC for i in page.items)
    with reading(postgres_url) as s:  # the server's own zone does not change what is listed
        s.execute(text("SET TIME ZONE 'America/Los_Angeles'"))
        elsewhere = list_connections(s, actor=Actor("viewer"), limit=5)
        s.execute(text("SET TIME ZONE 'UTC'"))
    assert [i.created_at for i in elsewhere.items] == [i.created_at for i in page.items]
    assert all(i.created_at.tzinfo is UTC for i in elsewhere.items)


def test_sessions_have_work_mem_enough_for_a_search_with_a_status(postgres_url):
    """A search with a status ANDs two bitmaps; at PostgreSQL's default 4 MB those of 10M rows
    went lossy (4.3 s instead of 0.15 s). Sessions get WORK_MEM_FLOOR_MB, and a connection
    given more (by the server, the role or the URL) keeps it."""
    with session(postgres_url) as s:
        assert s.execute(text("SHOW work_mem")).scalar_one() == f"{WORK_MEM_FLOOR_MB}MB"
    more = f"{postgres_url}?options=-c%20work_mem%3D{2 * WORK_MEM_FLOOR_MB}MB"
    with session(more) as s:
        assert s.execute(text("SHOW work_mem")).scalar_one() == f"{2 * WORK_MEM_FLOOR_MB}MB"
    get_engine(more).dispose()


def test_sessions_compile_no_statement_with_jit(postgres_url):
    """JIT compiles a statement by its estimated cost: Revoke's list of servers for a common
    needle ran in 4 ms and compiled for 600 ms. Every session, writing or reading, has it off."""
    with session(postgres_url) as s, reading(postgres_url) as r:
        assert s.execute(text("SHOW jit")).scalar_one() == "off"
        assert r.execute(text("SHOW jit")).scalar_one() == "off"
