"""Connect and Re-authorize through the real authorization server: what the admin ends up with."""

import pytest
from authserver import REDIRECT_URI, approve
from sqlalchemy import select

from connmodel.errors import InvalidInput, ProviderRefused, ProviderUnreachable
from connmodel.models import AuditEvent, Connection, OAuthAuthorization, ProviderConfig
from connmodel.permissions import Actor
from connmodel.providers.authorization import begin_authorization, complete_authorization
from connmodel.providers.callback import handle_callback
from connmodel.providers.client import TokenSet
from connmodel.services.connections import get_connection
from connmodel.services.revocations import list_revocations
from connmodel.services.servers import add_server
from connmodel.store import session


def consent(url, keyring, actor, decision="approve", **kw) -> dict[str, str]:
    """Begin a flow for profile "Local" as `actor`, click the consent page: the callback's parameters."""
    with session(url) as s:
        start = begin_authorization(s, actor=actor, keyring=keyring, profile="Local",
                                    redirect_uri=REDIRECT_URI, **kw)
    params = approve(start.url, decision=decision)
    assert params["state"] == start.state
    return params


def connect(url, keyring, admin, **kw) -> Connection:
    params = consent(url, keyring, admin, **kw)
    with session(url) as s:
        return complete_authorization(s, actor=admin, keyring=keyring, state=params["state"],
                                      code=params["code"])


def test_connect_shows_account_email_and_stores_tokens_encrypted(oauth_profile, keyring, admin,
                                                                 authserver):
    with session(oauth_profile) as s:
        add_server(s, actor=admin, name="Drive", url="https://drive.mcp.example/mcp")
        s.commit()
    conn = connect(oauth_profile, keyring, admin, servers=["Drive"])
    with session(oauth_profile) as s:
        view = get_connection(s, actor=admin, connection_id=conn.id)
        stored = s.get(Connection, conn.id)
        flow = s.execute(select(OAuthAuthorization)).scalar_one()
    assert (view.account, view.status, view.service) == ("user@example.com", "Active", "Local OIDC")
    assert view.config["credential"] == "••••"
    assert [(x.name, x.state) for x in view.mcp_servers] == [("Drive", "connected")]
    token = TokenSet.from_json(keyring.decrypt(stored.credential_enc))
    assert authserver.is_active(token.access_token) and authserver.is_active(token.refresh_token)
    assert token.access_token not in stored.credential_enc
    assert view.expires_at is not None
    assert flow.used_at is not None and len(flow.state_hash) == 64


def test_wrong_and_replayed_state_are_refused_and_audited(oauth_profile, keyring, admin):
    params = consent(oauth_profile, keyring, admin)
    with session(oauth_profile) as s:
        with pytest.raises(InvalidInput, match="unknown state"):
            complete_authorization(s, actor=admin, keyring=keyring, state="forged",
                                   code=params["code"])
        complete_authorization(s, actor=admin, keyring=keyring, state=params["state"],
                               code=params["code"])
        with pytest.raises(InvalidInput, match="already completed"):
            complete_authorization(s, actor=admin, keyring=keyring, state=params["state"],
                                   code=params["code"])
        failures = s.execute(select(AuditEvent.outcome).where(
            AuditEvent.action == "authorize.complete")).scalars().all()
        assert len(failures) == 2 and all(f.startswith("failed:") for f in failures)
        assert s.execute(select(Connection)).scalars().all().__len__() == 1


def test_a_state_begun_by_another_user_is_refused_and_stays_usable(oauth_profile, keyring,
                                                                   admin):
    other = Actor("mallory", admin.role)
    params = consent(oauth_profile, keyring, other)
    with session(oauth_profile) as s:
        with pytest.raises(InvalidInput, match="started by another user"):
            complete_authorization(s, actor=admin, keyring=keyring, state=params["state"],
                                   code=params["code"])
        assert s.execute(select(Connection)).scalars().all() == []
        refused = s.execute(select(AuditEvent).where(
            AuditEvent.action == "authorize.complete")).scalar_one()
        assert refused.actor == admin.name and "started by another user" in refused.outcome
        conn = complete_authorization(s, actor=other, keyring=keyring, state=params["state"],
                                      code=params["code"])
    assert conn.account == "user@example.com"


def test_denied_and_wrong_code_leave_no_connection(oauth_profile, keyring, admin):
    params = consent(oauth_profile, keyring, admin, decision="deny")
    assert params["error"] == "access_denied"
    with session(oauth_profile) as s:
        with pytest.raises(ProviderRefused, match="access_denied"):
            complete_authorization(s, actor=admin, keyring=keyring, state=params["state"],
                                   error=params["error"],
                                   error_description=params.get("error_description"))
        start = begin_authorization(s, actor=admin, keyring=keyring, profile="Local",
                                    redirect_uri=REDIRECT_URI)
    params = approve(start.url)
    with session(oauth_profile) as s:
        with pytest.raises(ProviderRefused, match="invalid_grant"):
            complete_authorization(s, actor=admin, keyring=keyring, state=params["state"],
                                   code="not-the-code")
        assert s.execute(select(Connection)).scalars().all() == []


def test_expired_authorization_code_is_refused(oauth_profile, keyring, admin, authserver):
    authserver.code_ttl = -1
    params = consent(oauth_profile, keyring, admin)
    with session(oauth_profile) as s, pytest.raises(ProviderRefused, match="invalid_grant"):
        complete_authorization(s, actor=admin, keyring=keyring, **params)


def test_reauthorize_brings_an_error_connection_back_to_active(oauth_profile, keyring, admin,
                                                               authserver):
    conn = connect(oauth_profile, keyring, admin)
    with session(oauth_profile) as s:
        row = s.get(Connection, conn.id)
        row.status, row.status_reason = "Error", "invalid_grant: revoked"
        s.commit()
    params = consent(oauth_profile, keyring, admin, connection_id=conn.id)
    with session(oauth_profile) as s:
        again = complete_authorization(s, actor=admin, keyring=keyring, **params)
        view = get_connection(s, actor=admin, connection_id=conn.id)
        assert again.id == conn.id
        assert (view.status, view.status_reason, view.account) == ("Active", None,
                                                                   "user@example.com")
        assert s.execute(select(Connection)).scalars().all().__len__() == 1
        assert len(list_revocations(s, actor=admin)) == 1  # the replaced token, queued


def test_account_comes_from_the_id_token_when_there_is_one(oauth_profile, keyring, admin,
                                                           authserver):
    authserver.id_token_email = "from-id-token@example.com"
    assert connect(oauth_profile, keyring, admin).account == "from-id-token@example.com"


def test_wrong_client_secret_and_malformed_token_response_connect_nothing(
        oauth_profile, keyring, admin, authserver):
    with session(oauth_profile) as s:
        provider = s.execute(select(ProviderConfig)).scalar_one()
        provider.client_secret_enc = keyring.encrypt("not-the-secret")
        s.commit()
    params = consent(oauth_profile, keyring, admin)
    with session(oauth_profile) as s:
        with pytest.raises(ProviderRefused, match="invalid_client") as info:
            complete_authorization(s, actor=admin, keyring=keyring, **params)
        assert "not-the-secret" not in str(info.value)
        start = begin_authorization(s, actor=admin, keyring=keyring, profile="Local",
                                    redirect_uri=REDIRECT_URI)
    params = approve(start.url)
    authserver.fail["token"] = "malformed"
    with session(oauth_profile) as s:
        with pytest.raises(ProviderUnreachable, match="malformed"):
            complete_authorization(s, actor=admin, keyring=keyring, **params)
        assert s.execute(select(Connection)).scalars().all() == []


def test_callback_helper_for_web_routes(oauth_profile, keyring, admin):
    query = {k: [v] for k, v in consent(oauth_profile, keyring, admin).items()}  # as tornado / parse_qs give it
    with session(oauth_profile) as s:
        done = handle_callback(s, actor=admin, keyring=keyring, params=query)
        again = handle_callback(s, actor=admin, keyring=keyring, params=query)
        empty = handle_callback(s, actor=admin, keyring=keyring, params={})
    assert done.ok and done.account == "user@example.com"
    assert done.message == "Connected as user@example.com (Active)"
    assert not again.ok and "replayed state" in again.message
    assert not empty.ok and empty.message.startswith("Not connected: the callback has no valid")
