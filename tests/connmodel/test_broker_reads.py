"""The credential broker's read: the presented token and the server in one statement (one round
trip on PostgreSQL instead of two), checked in the order a gateway's mistakes need: the token
first, then its scope, then the server."""

import pytest

from connmodel.broker import credential_for
from connmodel.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied
from connmodel.services.demo import DEMO_HUBSPOT_API_KEY
from connmodel.services.servers import add_server
from connmodel.services.tokens import add_token
from connmodel.store import reading, session

HUBSPOT_URL = "https://mcp.hubspot.example/mcp"


@pytest.fixture
def broker_token(demo_url, admin) -> str:
    with session(demo_url) as s:
        return add_token(s, actor=admin, name="gateway", scope="broker")


def _credential(url: str, keyring, token: str | None, server: str):
    with reading(url) as s:
        return credential_for(s, token=token, keyring=keyring, server=server)


def test_a_credential_is_one_statement(demo_url, keyring, broker_token, executed):
    first = _credential(demo_url, keyring, broker_token, "Hubspot CRM")  # last_used_at written
    with executed(demo_url, "SELECT", "UPDATE", "INSERT") as seen:
        again = _credential(demo_url, keyring, broker_token, HUBSPOT_URL)
    assert (again.server, again.auth_type, again.header_value) == (
        "Hubspot CRM", "api_key", f"Bearer {DEMO_HUBSPOT_API_KEY}")
    assert again == first
    assert len(seen) == 1, [statement for statement, _ in seen]


def test_each_bad_request_is_told_what_is_wrong(demo_url, admin, keyring, broker_token):
    with session(demo_url) as s:
        reader = add_token(s, actor=admin, name="reader", scope="read")
        # a second server at Hubspot CRM's URL, and one named as that URL
        add_server(s, actor=admin, name="Hubspot mirror", url=HUBSPOT_URL, profile="Hubspot")
        s.commit()
    with pytest.raises(AuthenticationFailed, match="unknown API token"):
        _credential(demo_url, keyring, "cmt_not-a-token", "Hubspot CRM")
    with pytest.raises(AuthenticationFailed, match="no API token"):
        _credential(demo_url, keyring, None, "Hubspot CRM")
    with pytest.raises(PermissionDenied, match="may not broker"):
        _credential(demo_url, keyring, reader, "Hubspot CRM")
    with pytest.raises(PermissionDenied, match="may not broker"):
        _credential(demo_url, keyring, reader, "no such server")  # the scope before the server
    with pytest.raises(NotFound, match="no MCP server named 'Hubspot'"):
        _credential(demo_url, keyring, broker_token, "Hubspot")
    with pytest.raises(InvalidInput, match="name the MCP server"):
        _credential(demo_url, keyring, broker_token, "   ")
    with pytest.raises(InvalidInput, match="several MCP servers are at"):
        _credential(demo_url, keyring, broker_token, HUBSPOT_URL)
    named = _credential(demo_url, keyring, broker_token, " Hubspot mirror ")
    assert (named.server, named.header_value) == ("Hubspot mirror", f"Bearer {DEMO_HUBSPOT_API_KEY}")


def test_a_disabled_connections_server_is_told_to_enable_it(demo_url, admin, keyring,
                                                             broker_token):
    """Disabling a connection disconnects its profile's servers; the broker then said "server
    'Hubspot CRM' is disconnected (... enable it to reconnect): reconfigure it with a live
    connection", two remedies, the second wrong: Enable puts the server back as it was."""
    from connmodel.errors import CredentialUnavailable
    from connmodel.providers.lifecycle import disable_connection, enable_connection
    from connmodel.services.connections import ConnectionFilter, list_connections

    with session(demo_url) as s:
        hubspot = list_connections(s, actor=admin, where=ConnectionFilter(profile="Hubspot"),
                                   limit=1).items[0].id
        disable_connection(s, actor=admin, connection_id=hubspot)
    with pytest.raises(CredentialUnavailable) as refused:
        _credential(demo_url, keyring, broker_token, "Hubspot CRM")
    assert f"(connection {hubspot}, profile 'Hubspot'): the connection is disabled by alice" \
        in str(refused.value)
    assert "Enable it to use it again" in str(refused.value)
    assert "reconfigure" not in str(refused.value).lower()
    with session(demo_url) as s:
        enable_connection(s, actor=admin, connection_id=hubspot)
    assert _credential(demo_url, keyring, broker_token, "Hubspot CRM").server == "Hubspot CRM"
