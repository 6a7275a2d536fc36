"""The connection a server uses (its profile's first live one) is found by one index probe.

Before ix_connection_live_profile_id, PostgreSQL walked the primary key from the lowest id and
dropped every other profile's row until it reached the server's profile: with a million
generated connections older than a fleet profile's one, the broker took 170 ms a credential
and a page of servers as much per server. Here 20,000 generated rows come first; the plans of
the broker's statement and of the servers page must not read them.
"""

import pytest
from sqlalchemy import text
from sqlmodel import Session

from connmodel.broker import _SERVER
from connmodel.providers.connect import connect_profile
from connmodel.services.generate import generate
from connmodel.services.profiles import create_profile, create_provider_config
from connmodel.services.servers import add_server, list_servers
from connmodel.store import session

GENERATED = 20_000


@pytest.fixture
def fleet(postgres_url, admin, keyring) -> str:
    """A store of generated connections, then one API-key profile with one server."""
    with session(postgres_url) as s:
        generate(s, actor=admin, connections=GENERATED, profiles=20, seed=5)
    with session(postgres_url) as s:
        provider = create_provider_config(s, actor=admin, name="Key", kind="api_key",
                                          settings={"header": "X-API-Key"}, keyring=keyring)
        s.commit()
        create_profile(s, actor=admin, name="Fleet", provider_config_id=provider.id)
        add_server(s, actor=admin, name="fleet-0", url="http://127.0.0.1:9/mcp")
        s.commit()
        connect_profile(s, actor=admin, keyring=keyring, profile="Fleet", api_key="k" * 24,
                        servers=["fleet-0"])
        s.execute(text("ANALYZE"))
        s.commit()
    return postgres_url


def _connection_rows_read(s: Session) -> int:
    """Rows of `connection` this transaction has read so far (heap fetches and scanned rows,
    whatever the plan), from PostgreSQL's own per-transaction statistics."""
    return s.execute(text(
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
        "FROM pg_stat_xact_user_tables WHERE relname = 'connection'")).scalar_one()


def test_the_broker_finds_a_servers_connection_without_reading_other_profiles(fleet):
    with session(fleet) as s:
        before = _connection_rows_read(s)
        [(_, conn, *_)] = s.execute(_SERVER, {"server": "fleet-0"}).all()
        read = _connection_rows_read(s) - before
    assert conn is not None and conn.id > GENERATED
    assert read <= 5, f"{read} connection rows read for one server's credential"


def test_the_servers_page_finds_each_servers_connection_without_reading_other_profiles(
        fleet, admin):
    with session(fleet) as s:
        before = _connection_rows_read(s)
        page = list_servers(s, actor=admin, search="fleet-0")
        read = _connection_rows_read(s) - before
    [server] = page.items
    assert server.connection_id is not None and server.connection_id > GENERATED
    assert read <= 5, f"{read} connection rows read for a page of one server"
