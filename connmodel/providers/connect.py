"""Creating OAuth provider configs and connecting profiles that need no browser.

`none` connects at once as "Configured"; `api_key` stores the key encrypted (View shows only a
mask); `client_credentials` fetches a machine token now. `oauth2` needs a person at a browser:
see `connmodel.providers.authorization`. A failure leaves no half-created row and is audited.
"""

from typing import Any

from sqlmodel import Session

from connmodel.errors import ConnModelError, InvalidInput
from connmodel.models import Connection, ProviderConfig, utcnow
from connmodel.permissions import Action, Actor, require
from connmodel.providers.client import TokenSet, call, oauth_client
from connmodel.providers.endpoints import oauth_settings
from connmodel.providers.records import (
    Linked,
    attach_servers,
    audited,
    check_servers,
    live,
    profile_with_provider,
    require_kind,
    store_credential,
)
from connmodel.secrets import KeyRing
from connmodel.services.events import record
from connmodel.services.profiles import create_provider_config
from connmodel.status import ProviderKind, Status

MAX_KEY = 4096


def build_oauth_provider(
    session: Session,
    *,
    actor: Actor,
    keyring: KeyRing,
    name: str,
    client_id: str,
    client_secret: str | None = None,
    scopes: list[str] | str | None = None,
    kind: str = ProviderKind.OAUTH2.value,
    preset: str | None = None,
    issuer: str | None = None,
    authorize_url: str | None = None,
    token_url: str | None = None,
    revocation_url: str | None = None,
    userinfo_url: str | None = None,
    introspection_url: str | None = None,
) -> ProviderConfig:
    """An oauth2 or client_credentials provider config in the caller's transaction.

    The Google preset fills Google's endpoints; an issuer URL alone is discovered; explicit
    endpoints are taken as given. Raises before adding anything when a setting is wrong.
    """
    if kind not in (ProviderKind.OAUTH2.value, ProviderKind.CLIENT_CREDENTIALS.value):
        raise InvalidInput(f"provider kind {kind!r} is not oauth2 or client_credentials")
    settings = oauth_settings(
        client_id=client_id, scopes=scopes, preset=preset, issuer=issuer,
        authorize_url=authorize_url, token_url=token_url, revocation_url=revocation_url,
        userinfo_url=userinfo_url, introspection_url=introspection_url,
        needs_authorize=kind == ProviderKind.OAUTH2.value,
    )
    if kind == ProviderKind.CLIENT_CREDENTIALS.value and not client_secret:
        raise InvalidInput("a client_credentials provider needs a client secret")
    return create_provider_config(session, actor=actor, name=name, kind=kind, settings=settings,
                                  client_secret=client_secret or None, keyring=keyring)


def create_oauth_provider(session: Session, *, actor: Actor, keyring: KeyRing, name: str,
                          **settings: Any) -> ProviderConfig:
    """`build_oauth_provider`, committed; a failure is audited and raised, nothing created."""
    require(actor, Action.WRITE, session)
    try:
        config = build_oauth_provider(session, actor=actor, keyring=keyring, name=name,
                                      **settings)
    except ConnModelError as exc:
        audited(session, actor, "provider.create", f"provider config {name}", exc)
        raise
    session.commit()
    return config


def check_api_key(api_key: str | None) -> str:
    key = (api_key or "").strip()
    if not key:
        raise InvalidInput("the API key is empty")
    if len(key) > MAX_KEY:
        raise InvalidInput(f"the API key is longer than {MAX_KEY} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in key):
        raise InvalidInput("the API key may not contain spaces or control characters")
    return key


def _machine_token(provider: ProviderConfig, keyring: KeyRing) -> tuple[TokenSet, str]:
    with oauth_client(provider, keyring) as client:
        token: dict[str, Any] = call("client credentials token", lambda: client.fetch_token(
            provider.settings["token_url"], grant_type="client_credentials"))
    return TokenSet.from_response(token), f"client {provider.settings['client_id']}"


def connect_profile(
    session: Session,
    *,
    actor: Actor,
    keyring: KeyRing,
    profile: int | str,
    api_key: str | None = None,
    servers: list[str] | None = None,
) -> Connection:
    """Connect a none / api_key / client_credentials profile (and attach servers); committed."""
    require(actor, Action.WRITE, session)
    prof, provider = profile_with_provider(session, profile)
    target = f"profile {prof.name} ({provider.name})"
    try:
        require_kind(provider, ProviderKind.NONE.value, ProviderKind.API_KEY.value,
                     ProviderKind.CLIENT_CREDENTIALS.value, action="connecting without a browser")
        found = check_servers(session, servers or [])
        conn = Connection(profile_id=prof.id or 0, service=provider.name, account="Configured",
                          status=Status.ACTIVE.value, checked_at=utcnow())
        if provider.kind == ProviderKind.API_KEY.value:
            store_credential(session, conn, keyring, check_api_key(api_key), hint=True)
        elif provider.kind == ProviderKind.CLIENT_CREDENTIALS.value:
            token, account = _machine_token(provider, keyring)
            store_credential(session, conn, keyring, token.to_json(), hint=False,
                             expires_at=token.expires, account=account)
        elif api_key:
            raise InvalidInput(f"{provider.name!r} needs no authentication: give no API key")
        session.add(conn)
        session.flush()
        attached = attach_servers(session, found, prof.id or 0)
    except ConnModelError as exc:
        audited(session, actor, "connect", target, exc)
        raise
    record(session, actor=actor, action="connect",
           target=f"connection {conn.id} ({prof.name} / {provider.name} / {conn.account})",
           outcome="ok; servers: " + (", ".join(attached) or "none"))
    session.commit()
    return conn


def key_connection(session: Session, connection_id: int) -> Linked:
    """The live API key connection `connection_id`, else NotFound, AlreadyRevoked or
    InvalidInput: a caller asking for the new key checks it first, not after."""
    linked = live(session, connection_id)
    require_kind(linked.provider, ProviderKind.API_KEY.value, action="Update key")
    return linked


def update_key(session: Session, *, actor: Actor, keyring: KeyRing, connection_id: int,
               api_key: str) -> Connection:
    """Replace an API key connection's key; the connection becomes Active again. Committed."""
    require(actor, Action.WRITE, session)
    linked = key_connection(session, connection_id)
    store_credential(session, linked.connection, keyring, check_api_key(api_key),
                     hint=True)
    session.add(linked.connection)
    record(session, actor=actor, action="connection.update_key",
           target=f"connection {connection_id} ({linked.profile.name})")
    session.commit()
    return linked.connection
