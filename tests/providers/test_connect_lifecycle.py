"""No auth, API key and client credentials connections; Update key; Disable and Enable."""

from datetime import timedelta

import pytest
from authserver import CLIENT_ID, CLIENT_SECRET
from sqlalchemy import select
from test_oauth_flow import connect

from connmodel.errors import InvalidInput, NotFound, PermissionDenied, StateConflict
from connmodel.models import AuditEvent, Connection
from connmodel.providers.authorization import begin_authorization
from connmodel.providers.connect import connect_profile, create_oauth_provider, update_key
from connmodel.providers.lifecycle import disable_connection, enable_connection
from connmodel.providers.refresh import due_ids, refresh_connection
from connmodel.services.connections import get_connection
from connmodel.services.profiles import create_profile, create_provider_config
from connmodel.services.servers import add_server, list_servers
from connmodel.store import session

API_KEY = "sk-live-0123456789abcdef7f3a"


@pytest.fixture
def simple_profiles(sqlite_url, admin) -> str:
    with session(sqlite_url) as s:
        none = create_provider_config(s, actor=admin, name="No Authentication Provider",
                                      kind="none")
        key = create_provider_config(s, actor=admin, name="API Key Authentication Provider",
                                     kind="api_key")
        create_profile(s, actor=admin, name="Noauth", provider_config_id=none.id)
        create_profile(s, actor=admin, name="Hubspot", provider_config_id=key.id,
                       environment="production")
        add_server(s, actor=admin, name="Calculator", url="http://127.0.0.1:8101/mcp")
        add_server(s, actor=admin, name="Hubspot CRM", url="https://mcp.hubspot.example/mcp")
        s.commit()
    return sqlite_url


def test_no_auth_connects_as_configured_with_its_servers(simple_profiles, keyring, admin):
    with session(simple_profiles) as s:
        conn = connect_profile(s, actor=admin, keyring=keyring, profile="Noauth",
                               servers=["Calculator"])
        view = get_connection(s, actor=admin, connection_id=conn.id)
    assert (view.account, view.status, view.service) == ("Configured", "Active",
                                                         "No Authentication Provider")
    assert [(x.name, x.state) for x in view.mcp_servers] == [("Calculator", "connected")]
    assert "credential" not in view.config


def test_api_key_is_stored_encrypted_and_shown_only_as_a_mask(simple_profiles, keyring, admin):
    with session(simple_profiles) as s:
        conn = connect_profile(s, actor=admin, keyring=keyring, profile="Hubspot",
                               api_key=API_KEY, servers=["Hubspot CRM"])
        view = get_connection(s, actor=admin, connection_id=conn.id)
        row = s.get(Connection, conn.id)
    assert view.config["credential"] == "••••7f3a"
    assert API_KEY not in view.model_dump_json() and API_KEY not in row.credential_enc
    assert keyring.decrypt(row.credential_enc) == API_KEY


def test_update_key_brings_an_error_connection_back(simple_profiles, keyring, admin):
    with session(simple_profiles) as s:
        conn = connect_profile(s, actor=admin, keyring=keyring, profile="Hubspot",
                               api_key=API_KEY)
        conn.status, conn.status_reason = "Error", "HTTP 401"
        s.commit()
        update_key(s, actor=admin, keyring=keyring, connection_id=conn.id,
                   api_key="sk-live-new-key-000000009999")
        view = get_connection(s, actor=admin, connection_id=conn.id)
    assert (view.status, view.status_reason, view.config["credential"]) == ("Active", None,
                                                                           "••••9999")


@pytest.mark.parametrize("key, message", [
    ("", "the API key is empty"),
    ("has space inside", "may not contain spaces"),
    ("x" * 5000, "longer than 4096"),
])
def test_bad_api_keys_are_refused_and_nothing_is_created(simple_profiles, keyring, admin, key,
                                                         message):
    with session(simple_profiles) as s:
        with pytest.raises(InvalidInput, match=message):
            connect_profile(s, actor=admin, keyring=keyring, profile="Hubspot", api_key=key)
        assert s.execute(select(Connection)).scalars().all() == []
        outcome = s.execute(select(AuditEvent.outcome).where(AuditEvent.action == "connect")
                            ).scalar_one()
        assert outcome.startswith("failed:") and "x" * 50 not in outcome


def test_unknown_server_or_profile_changes_nothing(simple_profiles, keyring, admin):
    with session(simple_profiles) as s:
        with pytest.raises(NotFound, match="'Nope'"):
            connect_profile(s, actor=admin, keyring=keyring, profile="Noauth", servers=["Nope"])
        with pytest.raises(NotFound, match="no profile"):
            connect_profile(s, actor=admin, keyring=keyring, profile="Ghost")
        assert s.execute(select(Connection)).scalars().all() == []


def test_disable_keeps_credential_disconnects_servers_and_enable_restores(
        simple_profiles, keyring, admin):
    with session(simple_profiles) as s:
        conn = connect_profile(s, actor=admin, keyring=keyring, profile="Hubspot",
                               api_key=API_KEY, servers=["Hubspot CRM"])
        result = disable_connection(s, actor=admin, connection_id=conn.id)
        view = get_connection(s, actor=admin, connection_id=conn.id)
        assert result.servers == ["Hubspot CRM"]
        assert (view.status, view.status_reason) == ("Inactive", "disabled by alice")
        assert view.config["credential"] == "••••7f3a"
        assert list_servers(s, actor=admin, profile="Hubspot").items[0].state == "disconnected"
        with pytest.raises(StateConflict, match="already disabled"):
            disable_connection(s, actor=admin, connection_id=conn.id)
        enabled = enable_connection(s, actor=admin, connection_id=conn.id)
        assert (enabled.status, enabled.servers) == ("Active", ["Hubspot CRM"])
        assert list_servers(s, actor=admin, profile="Hubspot").items[0].state == "connected"
        with pytest.raises(StateConflict, match="not disabled"):
            enable_connection(s, actor=admin, connection_id=conn.id)


def test_a_connection_in_error_comes_back_in_error_after_disable_and_enable(
        simple_profiles, keyring, admin):
    """A disable fixes no credential: Enable made a rejected key's connection Active (the broker
    then served it, the audit reported no Error). It comes back in Error with its reason, unless
    a new working key came while it was disabled."""
    from sqlalchemy import update

    with session(simple_profiles) as s:
        conn = connect_profile(s, actor=admin, keyring=keyring, profile="Hubspot",
                               api_key=API_KEY, servers=["Hubspot CRM"])
        s.execute(update(Connection).where(Connection.id == conn.id).values(
            status="Error", status_reason="HTTP 401: invalid API key"))
        s.commit()
        disable_connection(s, actor=admin, connection_id=conn.id)
        view = get_connection(s, actor=admin, connection_id=conn.id)
        assert (view.status, view.status_reason) == ("Inactive", "disabled by alice")
        enabled = enable_connection(s, actor=admin, connection_id=conn.id)
        assert (enabled.status, enabled.status_reason) == ("Error", "HTTP 401: invalid API key")
        view = get_connection(s, actor=admin, connection_id=conn.id)
        assert (view.status, view.status_reason) == ("Error", "HTTP 401: invalid API key")

        disable_connection(s, actor=admin, connection_id=conn.id)
        update_key(s, actor=admin, keyring=keyring, connection_id=conn.id,
                   api_key="sk-live-fedcba9876543210abcd")
        assert get_connection(s, actor=admin, connection_id=conn.id).status == "Inactive"
        assert enable_connection(s, actor=admin, connection_id=conn.id).status == "Active"


def test_a_disabled_oauth_connection_is_not_refreshed(oauth_profile, keyring, admin):
    conn = connect(oauth_profile, keyring, admin)
    with session(oauth_profile) as s:
        disable_connection(s, actor=admin, connection_id=conn.id)
        assert refresh_connection(s, actor=admin, keyring=keyring,
                                  connection_id=conn.id).result == "disabled"
        assert due_ids(s, window=timedelta(days=1)) == []


def test_client_credentials_connects_a_machine_and_refreshes(sqlite_url, keyring, admin,
                                                             authserver):
    with session(sqlite_url) as s:
        provider = create_oauth_provider(
            s, actor=admin, keyring=keyring, name="Machine", kind="client_credentials",
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, scopes="read",
            token_url=f"{authserver.url}/token", revocation_url=f"{authserver.url}/revoke")
        create_profile(s, actor=admin, name="Robot", provider_config_id=provider.id)
        s.commit()
        conn = connect_profile(s, actor=admin, keyring=keyring, profile="Robot")
        assert (conn.account, conn.status) == (f"client {CLIENT_ID}", "Active")
        assert refresh_connection(s, actor=admin, keyring=keyring,
                                  connection_id=conn.id).result == "refreshed"


def test_viewer_may_not_connect(simple_profiles, keyring, viewer):
    with session(simple_profiles) as s, pytest.raises(PermissionDenied):
        connect_profile(s, actor=viewer, keyring=keyring, profile="Noauth")


def test_actions_for_another_kind_are_refused_clearly(simple_profiles, keyring, admin):
    with session(simple_profiles) as s:
        conn = connect_profile(s, actor=admin, keyring=keyring, profile="Hubspot",
                               api_key=API_KEY)
        with pytest.raises(InvalidInput) as info:
            refresh_connection(s, actor=admin, keyring=keyring, connection_id=conn.id)
        assert str(info.value) == ("Refresh is for providers of kind oauth2 or client_credentials; "
                                   "'API Key Authentication Provider' is of kind api_key")
        with pytest.raises(InvalidInput, match="the browser authorization flow is for providers"):
            begin_authorization(s, actor=admin, keyring=keyring, profile="Noauth",
                                redirect_uri="http://127.0.0.1:1/cb")
