"""Fixtures for provider tests: the real authlib server on loopback, and an OAuth profile on it."""

from collections.abc import Iterator

import pytest
from authserver import CLIENT_ID, CLIENT_SECRET, AuthServer

from connmodel.providers.connect import create_oauth_provider
from connmodel.services.profiles import create_profile
from connmodel.store import session


@pytest.fixture
def authserver() -> Iterator[AuthServer]:
    server = AuthServer().start()
    yield server
    server.stop()


def make_oauth_profile(url: str, keyring, admin, authserver: AuthServer) -> str:
    """Profile "Local" on an oauth2 provider discovered from the test server's issuer URL."""
    with session(url) as s:
        provider = create_oauth_provider(
            s, actor=admin, keyring=keyring, name="Local OIDC", client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET, scopes="openid email", issuer=authserver.url)
        create_profile(s, actor=admin, name="Local", provider_config_id=provider.id)
        s.commit()
    return url


@pytest.fixture
def oauth_profile(sqlite_url, keyring, admin, authserver) -> str:
    return make_oauth_profile(sqlite_url, keyring, admin, authserver)


@pytest.fixture
def oauth_profile_any_store(store_url, keyring, admin, authserver) -> str:
    """The same on SQLite and on PostgreSQL (for the concurrency tests)."""
    return make_oauth_profile(store_url, keyring, admin, authserver)
