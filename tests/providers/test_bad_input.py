"""Bad provider settings: a clear message, an audit event, and no provider config created."""

import pytest
from authserver import CLIENT_ID, CLIENT_SECRET
from sqlalchemy import select

from connmodel.errors import InvalidInput, ProviderRefused, ProviderUnreachable
from connmodel.models import AuditEvent, ProviderConfig
from connmodel.providers.authorization import begin_authorization
from connmodel.providers.connect import create_oauth_provider
from connmodel.store import session


def create(url, keyring, admin, **kw):
    args = {"name": "P", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "scopes": "openid email"} | kw
    with session(url) as s:
        return create_oauth_provider(s, actor=admin, keyring=keyring, **args)


@pytest.mark.parametrize("kw, error, message", [
    ({"issuer": "not a url"}, InvalidInput, "is not a URL"),
    ({"issuer": "ftp://idp.example"}, InvalidInput, "is not a URL"),
    ({"issuer": "http://idp.example.com"}, InvalidInput, "only https is allowed"),
    ({"issuer": "https://user:pw@idp.example.com"}, InvalidInput, "user name or password"),
    ({"issuer": "http://127.0.0.1:9"}, ProviderUnreachable, "cannot reach the issuer"),
    ({"issuer": "http://127.0.0.1:9", "client_id": "  "}, InvalidInput, "client id is empty"),
    ({"issuer": "http://127.0.0.1:9", "scopes": ["ok"] * 51}, InvalidInput, "at most 50"),
    ({"issuer": "http://127.0.0.1:9", "scopes": "a" * 3000}, InvalidInput, "longer than 2000"),
    ({"issuer": "http://127.0.0.1:9", "scopes": ['bad"quote']}, InvalidInput, "not a valid"),
    ({"preset": "facebook"}, InvalidInput, "the only preset is google"),
    ({"token_url": "https://idp.example/token"}, InvalidInput, "authorization endpoint is empty"),
])
def test_bad_settings_are_refused_with_an_audit_event(sqlite_url, keyring, admin, kw, error,
                                                      message):
    with pytest.raises(error, match=message) as info:
        create(sqlite_url, keyring, admin, **kw)
    assert CLIENT_SECRET not in str(info.value)
    with session(sqlite_url) as s:
        assert s.execute(select(ProviderConfig)).scalars().all() == []
        event = s.execute(select(AuditEvent)).scalar_one()
    assert event.action == "provider.create" and event.outcome.startswith("failed:")
    assert CLIENT_SECRET not in event.outcome


def test_discovery_document_missing_fields(sqlite_url, keyring, admin, authserver):
    authserver.discovery_drop = {"token_endpoint"}
    with pytest.raises(ProviderRefused, match="lacks token_endpoint"):
        create(sqlite_url, keyring, admin, issuer=authserver.url)


def test_discovery_of_another_issuer_is_refused(sqlite_url, keyring, admin, authserver):
    with pytest.raises(ProviderRefused, match="names the issuer"):
        create(sqlite_url, keyring, admin, issuer=authserver.url.replace("127.0.0.1",
                                                                          "localhost"))


def test_google_preset_fills_the_endpoints(sqlite_url, keyring, admin):
    provider = create(sqlite_url, keyring, admin, preset="google", scopes=None)
    assert provider.settings["token_url"] == "https://oauth2.googleapis.com/token"
    assert provider.settings["scopes"] == ["openid", "email"]
    assert provider.client_secret_enc and CLIENT_SECRET not in provider.client_secret_enc


def test_redirect_uri_must_be_https_or_loopback(oauth_profile, keyring, admin):
    with session(oauth_profile) as s, pytest.raises(InvalidInput, match="only https"):
        begin_authorization(s, actor=admin, keyring=keyring, profile="Local",
                            redirect_uri="http://evil.example/cb")
