"""The OAuth2 authorization code flow with PKCE (S256) and `state`, for Connect and Re-authorize.

`begin_authorization` stores the flow durably (state hashed, PKCE verifier encrypted) and returns
the provider URL to send the browser to; `complete_authorization` is what a callback route (the
dashboard's, or the CLI's loopback listener) calls with the `state` and `code` it received. The
state is claimed by one conditional UPDATE, so a replayed or forged callback is refused; every
failure is audited and leaves no connection behind.
"""

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlmodel import Session, col

from connmodel.errors import ConnModelError, InvalidInput, ProviderRefused, StateConflict
from connmodel.models import Connection, OAuthAuthorization, utcnow
from connmodel.permissions import Action, Actor, require
from connmodel.providers.client import TokenSet, account_of, call, oauth_client
from connmodel.providers.endpoints import check_url
from connmodel.providers.records import (
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
from connmodel.services.keys import sealing_ring
from connmodel.services.revocations import enqueue
from connmodel.status import ProviderKind, Status

FLOW_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class AuthorizationStart:
    """Where to send the browser, and the state the callback will carry back."""

    url: str
    state: str
    expires_at: datetime


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def begin_authorization(
    session: Session,
    *,
    actor: Actor,
    keyring: KeyRing,
    profile: int | str,
    redirect_uri: str,
    servers: list[str] | None = None,
    connection_id: int | None = None,
    ttl: timedelta = FLOW_TTL,
) -> AuthorizationStart:
    """Start Connect (or Re-authorize, with `connection_id`) of an oauth2 profile; committed."""
    require(actor, Action.WRITE, session)
    prof, provider = profile_with_provider(session, profile)
    require_kind(provider, ProviderKind.OAUTH2.value, action="the browser authorization flow")
    redirect_uri = check_url(redirect_uri, "redirect URI")
    names = [s.name for s in check_servers(session, servers or [])]
    if connection_id is not None:
        linked = live(session, connection_id)
        if linked.profile.id != prof.id:
            raise InvalidInput(f"connection {connection_id} is not of profile {prof.name!r}")
        if linked.connection.disabled_by:
            raise StateConflict(f"connection {connection_id} is disabled: enable it first")
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    with oauth_client(provider, keyring, redirect_uri=redirect_uri) as client:
        url, _ = client.create_authorization_url(
            provider.settings["authorize_url"], state=state, code_verifier=verifier,
            **dict(provider.settings.get("authorize_params") or {}))
    now = utcnow()
    session.execute(delete(OAuthAuthorization).where(  # spent or abandoned flows of yesterday
        col(OAuthAuthorization.expires_at) < now - timedelta(days=1)))
    session.add(OAuthAuthorization(
        state_hash=_hash(state), profile_id=prof.id or 0, connection_id=connection_id,
        verifier_enc=sealing_ring(session, keyring).encrypt(verifier), redirect_uri=redirect_uri, servers=names,
        actor=actor.name, created_at=now, expires_at=now + ttl))
    record(session, actor=actor, action="authorize.begin",
           target=f"profile {prof.name}" + (f" connection {connection_id}" if connection_id else ""))
    session.commit()
    return AuthorizationStart(url, state, now + ttl)


def _clean(value: str | None, limit: int = 200) -> str:
    text = "".join(ch for ch in (value or "") if not unicodedata.category(ch).startswith("C"))
    return text.strip()[:limit]


def _claim(session: Session, state: str, actor: Actor) -> OAuthAuthorization:
    """Mark the flow used (once), by the user who began it; explain any other state.

    A state is bound to its starter: a signed-in user lured to a callback URL carrying someone
    else's state and code (login CSRF) would otherwise attach the other party's account.
    """
    if not state or len(state) > 200:
        raise InvalidInput("the callback has no valid state: start the authorization again")
    now = utcnow()
    claimed = session.execute(
        update(OAuthAuthorization)
        .where(col(OAuthAuthorization.state_hash) == _hash(state),
               col(OAuthAuthorization.actor) == actor.name,
               col(OAuthAuthorization.used_at).is_(None),
               col(OAuthAuthorization.expires_at) > now)
        .values(used_at=now)
        .returning(col(OAuthAuthorization.id))
    ).scalar_one_or_none()
    if claimed is None:
        row = session.execute(select(OAuthAuthorization).where(
            col(OAuthAuthorization.state_hash) == _hash(state))).scalar_one_or_none()
        if row is None:
            raise InvalidInput("unknown state: this callback does not belong to an "
                               "authorization started here; start again")
        if row.actor != actor.name:
            raise InvalidInput("this authorization was started by another user: start it "
                               "yourself")
        if row.used_at is not None:
            raise InvalidInput("this authorization was already completed (replayed state); "
                               "start again")
        raise InvalidInput("this authorization expired: start again")
    session.commit()  # the state is spent even if the exchange below fails
    row = session.get(OAuthAuthorization, claimed)
    assert row is not None
    return row


def complete_authorization(
    session: Session,
    *,
    actor: Actor,
    keyring: KeyRing,
    state: str,
    code: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Connection:
    """Finish the flow from the callback's query parameters; returns the Active connection."""
    require(actor, Action.WRITE, session)
    target = "authorization callback"
    try:
        flow = _claim(session, state, actor)
        prof, _ = profile_with_provider(session, flow.profile_id)
        target = f"profile {prof.name}"
        if error:
            desc = _clean(error_description)
            raise ProviderRefused(f"authorization refused by the provider: {_clean(error, 60)}"
                                  + (f": {desc}" if desc else ""))
        if not code or len(code) > 2000:
            raise InvalidInput("the callback has no authorization code")
        return _exchange(session, actor=actor, keyring=keyring, flow=flow, code=code)
    except ConnModelError as exc:
        audited(session, actor, "authorize.complete", target, exc)
        raise


def _exchange(session: Session, *, actor: Actor, keyring: KeyRing, flow: OAuthAuthorization,
              code: str) -> Connection:
    prof, provider = profile_with_provider(session, flow.profile_id)
    verifier = keyring.decrypt(flow.verifier_enc)
    with oauth_client(provider, keyring, redirect_uri=flow.redirect_uri) as client:
        answer: dict[str, Any] = call("authorization code exchange", lambda: client.fetch_token(
            provider.settings["token_url"], grant_type="authorization_code", code=code,
            code_verifier=verifier))
        token = TokenSet.from_response(answer)
        account = account_of(provider, client, answer)
    if flow.connection_id is not None:
        # The key check first: the replaced token's ciphertext is copied as it is stored, so it
        # must be read after any rotation in progress has committed (it waits for us from here).
        sealing_ring(session, keyring)
        conn = live(session, flow.connection_id).connection
        action = "reauthorize"
        enqueue(session, connection_id=conn.id or 0, profile_id=conn.profile_id,
                credential_enc=conn.credential_enc, actor=actor)  # the replaced token
    else:
        conn = Connection(profile_id=prof.id or 0, service=provider.name, account=account,
                          status=Status.ACTIVE.value)
        action = "connect"
    store_credential(session, conn, keyring, token.to_json(), hint=False,
                     expires_at=token.expires, account=account)
    session.add(conn)
    session.flush()
    attached = attach_servers(session, check_servers(session, list(flow.servers)), prof.id or 0)
    record(session, actor=actor, action=action,
           target=f"connection {conn.id} ({prof.name} / {provider.name} / {account})",
           outcome="ok; servers: " + (", ".join(attached) or "unchanged"))
    session.commit()
    return conn
