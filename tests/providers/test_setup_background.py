"""New profile in one step, and the background refresh `connmodel worker` runs."""

from datetime import timedelta

import pytest
from authserver import CLIENT_ID, CLIENT_SECRET
from sqlalchemy import select
from test_oauth_flow import connect

from connmodel.errors import AlreadyExists, InvalidInput
from connmodel.models import AuditEvent, Connection, Profile, ProviderConfig, utcnow
from connmodel.providers.background import BackgroundRefresher
from connmodel.providers.setup import NewProvider, new_profile
from connmodel.services.connections import revoke_connection
from connmodel.store import session
from connmodel.worker import Worker


def test_new_profile_with_a_new_oauth_provider(sqlite_url, keyring, admin, authserver):
    with session(sqlite_url) as s:
        profile = new_profile(s, actor=admin, keyring=keyring, name="Local", environment="staging",
                              provider=NewProvider("Local OIDC", "oauth2", client_id=CLIENT_ID,
                                                   client_secret=CLIENT_SECRET,
                                                   scopes="openid email",
                                                   issuer=authserver.url))
        provider = s.get(ProviderConfig, profile.provider_config_id)
        assert (profile.environment, provider.kind) == ("staging", "oauth2")
        assert provider.settings["token_url"] == f"{authserver.url}/token"
    assert "s3cr3t" not in repr(NewProvider("x", "oauth2", client_secret="s3cr3t"))


def test_new_profile_failure_leaves_nothing_but_an_audit_event(sqlite_url, keyring, admin):
    with session(sqlite_url) as s:
        new_profile(s, actor=admin, keyring=keyring, name="Noauth",
                    provider=NewProvider("No Authentication Provider", "none"))
        with pytest.raises(AlreadyExists):
            new_profile(s, actor=admin, keyring=keyring, name="Noauth",
                        provider=NewProvider("Another", "none"))
        with pytest.raises(InvalidInput, match="only https"):
            new_profile(s, actor=admin, keyring=keyring, name="Bad",
                        provider=NewProvider("Bad IdP", "oauth2", client_id="x",
                                             issuer="http://idp.example.com"))
        assert s.execute(select(Profile.name)).scalars().all() == ["Noauth"]
        assert s.execute(select(ProviderConfig.name)).scalars().all() == [
            "No Authentication Provider"]
        failed = s.execute(select(AuditEvent.outcome).where(
            AuditEvent.action == "profile.create", AuditEvent.outcome.like("failed:%"))).all()
        assert len(failed) == 2


def test_the_worker_refreshes_and_delivers(oauth_profile, keyring, admin, authserver):
    soon = connect(oauth_profile, keyring, admin)
    gone = connect(oauth_profile, keyring, admin)
    with session(oauth_profile) as s:
        s.get(Connection, soon.id).expires_at = utcnow() + timedelta(minutes=2)
        s.commit()
        revoke_connection(s, actor=admin, connection_id=gone.id)
    cycle = Worker(oauth_profile, keyring).run_once()
    assert cycle.refreshed == 1 and cycle.revocations["delivered"] == 1 and not cycle.errors
    with session(oauth_profile) as s:
        row = s.get(Connection, soon.id)
        assert row.expires_at > utcnow() + timedelta(minutes=30) and row.token_version == 2
        assert s.execute(select(AuditEvent.action).where(
            AuditEvent.action == "provider.revoke")).scalar_one()


def test_background_refresher_survives_an_unusable_database(keyring):
    cycle = BackgroundRefresher("postgresql://u@127.0.0.1:1/x", keyring).run_once()
    assert cycle.error and "cannot use the database" in cycle.error
