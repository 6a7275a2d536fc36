"""The listing and revoke statements, run through SQLAlchemy Core with the compiled cache (no
driver-level shortcuts): the same rows and aware UTC times as View reads, a driver error
translated into one clear message that changes nothing, a lost connection replaced."""

from datetime import UTC

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from connmodel.errors import NotFound, StoreUnavailable
from connmodel.models import Connection, ConnectionPublic
from connmodel.permissions import Actor
from connmodel.services.connections import (
    ConnectionFilter,
    get_connection,
    list_connections,
    revoke_connection,
)
from connmodel.services.demo import seed_demo
from connmodel.store import reading, session

VIEWER = Actor("viewer")


def _hubspot_id(url: str) -> int:
    with reading(url) as s:
        page = list_connections(s, actor=VIEWER, where=ConnectionFilter(profile="Hubspot"))
    return page.items[0].id


def test_listed_rows_equal_what_view_reads(store_url, admin, keyring):
    with session(store_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    with reading(store_url) as s:
        pages = [list_connections(s, actor=VIEWER, sort=sort, limit=3)
                 for sort in ("id", "-created", "checked")]
        for page in pages:
            for item in page.items:
                detail = get_connection(s, actor=VIEWER, connection_id=item.id)
                assert item.model_dump() == detail.model_dump(include=set(ConnectionPublic.model_fields))
                assert item.created_at.tzinfo is UTC
        # a timestamp sort's cursor continues where the page stopped
        following = list_connections(s, actor=VIEWER, sort="-created", limit=3,
                                     cursor=pages[1].next_cursor)
    seen = [c.created_at for c in pages[1].items + following.items]
    assert seen == sorted(seen, reverse=True)


@pytest.mark.postgres
def test_times_are_utc_whatever_the_sessions_zone(postgres_url, admin, keyring):
    with session(postgres_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    with reading(postgres_url) as s:
        utc = list_connections(s, actor=VIEWER, limit=2).items
        s.execute(text("SET TIME ZONE 'Asia/Tokyo'"))
        tokyo = list_connections(s, actor=VIEWER, limit=2).items
    assert [c.created_at for c in tokyo] == [c.created_at for c in utc]
    assert {c.created_at.tzinfo for c in tokyo} == {UTC}


def test_a_failing_revoke_is_a_clear_error_and_changes_nothing(store_url, admin, keyring):
    with session(store_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    target = _hubspot_id(store_url)
    with session(store_url) as s:  # the audit trail's table is gone: the revoke cannot record
        s.execute(text("ALTER TABLE audit_event RENAME TO audit_event_moved"))
        s.commit()
    with pytest.raises(StoreUnavailable, match=r"not a connmodel database .*run `connmodel init`"), \
            session(store_url) as s:
        revoke_connection(s, actor=admin, connection_id=target)
    with reading(store_url) as s:
        assert s.get(Connection, target).revoked_at is None
        assert get_connection(s, actor=VIEWER, connection_id=target).mcp_servers[0].state \
            == "connected"


@pytest.mark.postgres
def test_a_connection_lost_mid_session_is_replaced(postgres_url, admin, keyring):
    with session(postgres_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    target = _hubspot_id(postgres_url)
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with pytest.raises(StoreUnavailable, match="cannot use the database"), \
            session(postgres_url) as s:
        pid = s.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with psycopg.connect(dsn, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
        revoke_connection(s, actor=admin, connection_id=target)
    with session(postgres_url) as s:  # a new connection: the revoke now works, once
        assert revoke_connection(s, actor=admin, connection_id=target).profile == "Hubspot"
        assert s.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    with pytest.raises(NotFound), session(postgres_url) as s:
        revoke_connection(s, actor=admin, connection_id=10**9)
