"""The connection a server uses (its profile's first live one) is found by one index probe.

Before ix_connection_live_profile_id, PostgreSQL walked the primary key from the lowest id and
dropped every other profile's row until it reached the server's profile: with a million
generated connections older than a fleet profile's one, the broker took 170 ms a credential
and a page of servers as much per server. Here 20,000 generated rows come first; the plans of
the broker's statement and of the servers page must not read them.
"""

import re

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlmodel import Session

from connmodel.broker import _SERVER
from connmodel.providers.connect import connect_profile
from connmodel.schema import alembic_config, upgrade
from connmodel.services.generate import generate
from connmodel.services.profiles import create_profile, create_provider_config
from connmodel.services.servers import add_server, list_servers
from connmodel.store import get_engine, session

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
        [row] = s.execute(_SERVER, {"server": "fleet-0"}).all()
        read = _connection_rows_read(s) - before
    assert row.connection_id is not None and row.connection_id > GENERATED
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


def test_the_migration_says_what_it_does_and_adds_the_index(store_url, admin, keyring):
    """Upgrading from 0013 announces 0014 with its estimate, then its time; the index is there."""
    with session(store_url) as s:
        generate(s, actor=admin, connections=300, profiles=3, seed=5, keyring=keyring)
    cfg, engine = alembic_config(store_url), get_engine(store_url)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0013")
    assert "ix_connection_live_profile_id" not in _indexes(engine)
    said: list[str] = []
    upgrade(engine, report=said.append)
    assert said[0].startswith("migration 0014: live connection index: (profile_id, id)"), said
    assert re.fullmatch(r".* \(about \d+ s for 300 connections\)", said[0]), said
    assert any(re.fullmatch(r"migration 0014 done in \d+\.\d s", line) for line in said), said
    assert "ix_connection_live_profile_id" in _indexes(engine)


def _indexes(engine) -> set[str]:
    return {i["name"] for i in inspect(engine).get_indexes("connection")}
