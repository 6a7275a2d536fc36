"""Refreshing OAuth tokens before they expire, safely from several processes at once.

A refresher first claims the row (a conditional UPDATE on `token_version` and the claim time),
commits, talks to the provider with no transaction open, then writes the new token only if
`token_version` is still the one it read (compare-and-swap). With refresh-token rotation the old
refresh token dies at the provider the moment a new one is issued, so two refreshers at once
must never both use it, and a slow one must never overwrite the newer token: the claim ensures
the first, the CAS the second.

Status rules: expired with no refresh token -> Inactive "token expired"; the provider refuses
(invalid_grant, 401, 403) -> Error with its message; unreachable -> status unchanged, a check
result recorded, retried after a back-off.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlmodel import Session, col

from connmodel.errors import ProviderRefused, ProviderUnreachable
from connmodel.models import Connection, Profile, ProviderConfig, utcnow
from connmodel.permissions import SYSTEM, Action, Actor, require
from connmodel.providers.client import TokenSet, backoff, call, oauth_client
from connmodel.providers.records import (
    OAUTH_KINDS,
    Linked,
    changed,
    check_result,
    live,
    require_kind,
)
from connmodel.providers.revocations import enqueue
from connmodel.secrets import KeyRing
from connmodel.services.events import record
from connmodel.status import ProviderKind, Status
from connmodel.webhooks import StatusChange, enqueue_status_change

CLAIM_FOR = timedelta(seconds=60)
DEFAULT_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class RefreshOutcome:
    """What one refresh did: refreshed | busy | superseded | expired | error | unreachable."""

    connection_id: int
    result: str
    message: str = ""


def _claim(session: Session, conn: Connection) -> bool:
    now = utcnow()
    won = changed(session.execute(
        update(Connection)
        .where(col(Connection.id) == conn.id,
               col(Connection.token_version) == conn.token_version,
               col(Connection.revoked_at).is_(None),
               or_(col(Connection.refresh_claimed_until).is_(None),
                   col(Connection.refresh_claimed_until) < now))
        .values(refresh_claimed_until=now + CLAIM_FOR)
    ))
    session.commit()
    return bool(won)


def _cas(session: Session, conn: Connection, **values: Any) -> bool:
    """Write only if nobody changed the token since we read it; release the claim."""
    done = changed(session.execute(
        update(Connection)
        .where(col(Connection.id) == conn.id,
               col(Connection.token_version) == conn.token_version,
               col(Connection.revoked_at).is_(None))
        .values(refresh_claimed_until=None, checked_at=utcnow(), **values)
    ))
    return bool(done)


def _new_token(provider: ProviderConfig, keyring: KeyRing, old: TokenSet) -> TokenSet:
    url = provider.settings["token_url"]
    with oauth_client(provider, keyring) as client:
        if provider.kind == ProviderKind.CLIENT_CREDENTIALS.value:
            answer = call("token refresh", lambda: client.fetch_token(
                url, grant_type="client_credentials"))
        else:
            answer = call("token refresh", lambda: client.refresh_token(
                url, refresh_token=old.refresh_token))
    return TokenSet.from_response(answer, previous=old)


def _notify(session: Session, keyring: KeyRing, linked: Linked, previous: str, status: str,
            reason: str | None) -> None:
    """Tell the webhook receivers when a refresh changed the status (same transaction)."""
    if previous != status:
        conn = linked.connection
        enqueue_status_change(session, keyring=keyring, change=StatusChange(
            connection_id=conn.id or 0, profile=linked.profile.name, service=conn.service,
            account=conn.account, previous_status=previous, status=status, reason=reason,
            at=utcnow()))


def refresh_connection(session: Session, *, actor: Actor, keyring: KeyRing,
                       connection_id: int) -> RefreshOutcome:
    """Refresh one OAuth connection now (Refresh now; also what the scheduler calls)."""
    require(actor, Action.WRITE)
    linked = live(session, connection_id)
    conn, provider = linked.connection, linked.provider
    require_kind(provider, *OAUTH_KINDS, action="Refresh")
    if conn.disabled_by:
        return RefreshOutcome(connection_id, "disabled", f"disabled by {conn.disabled_by}")
    if not _claim(session, conn):
        return RefreshOutcome(connection_id, "busy", "another refresher holds this connection")
    target = f"connection {connection_id} ({linked.profile.name})"
    previous = conn.status
    old = TokenSet.from_json(keyring.decrypt(conn.credential_enc)) if conn.credential_enc \
        else TokenSet("")
    if provider.kind == ProviderKind.OAUTH2.value and not old.refresh_token:
        expired = conn.expires_at is not None and conn.expires_at <= utcnow()
        values = ({"status": Status.INACTIVE.value, "status_reason": "token expired"}
                  if expired else {})
        _cas(session, conn, **values)
        if expired:
            check_result(session, connection_id, status=Status.INACTIVE.value, reachable=True,
                         reason="token expired")
            _notify(session, keyring, linked, previous, Status.INACTIVE.value, "token expired")
            record(session, actor=actor, action="connection.refresh", target=target,
                   outcome="token expired; no refresh token: re-authorize")
        session.commit()
        return RefreshOutcome(connection_id, "expired" if expired else "no_refresh_token",
                              "token expired" if expired else "no refresh token to use")
    started = time.perf_counter()
    try:
        new = _new_token(provider, keyring, old)
    except ProviderRefused as exc:
        message = str(exc)[:2000]
        if not _cas(session, conn, status=Status.ERROR.value, status_reason=message,
                    refresh_failures=conn.refresh_failures + 1):
            session.rollback()  # someone else refreshed meanwhile: their token stands
            return RefreshOutcome(connection_id, "superseded", "the token changed meanwhile")
        check_result(session, connection_id, status=Status.ERROR.value, reachable=True,
                     reason=message, started=started)
        _notify(session, keyring, linked, previous, Status.ERROR.value, message)
        record(session, actor=actor, action="connection.refresh", target=target,
               outcome=f"error: {message}"[:2000])
        session.commit()
        return RefreshOutcome(connection_id, "error", message)
    except ProviderUnreachable as exc:
        message = str(exc)[:2000]
        failures = conn.refresh_failures + 1
        _cas(session, conn, refresh_failures=failures,
             next_refresh_at=utcnow() + backoff(failures))
        check_result(session, connection_id, status=conn.status, reachable=False,
                     reason=message, started=started)
        session.commit()
        return RefreshOutcome(connection_id, "unreachable", message)
    if not _cas(session, conn, credential_enc=keyring.encrypt(new.to_json()),
                expires_at=new.expires, token_version=conn.token_version + 1,
                status=Status.ACTIVE.value, status_reason=None, refresh_failures=0,
                next_refresh_at=None):
        # Revoked or re-authorized while we waited on the provider: nobody will use the token
        # we just got, so it is revoked at the provider rather than left alive.
        session.rollback()
        enqueue(session, connection_id=connection_id, profile_id=conn.profile_id,
                credential_enc=keyring.encrypt(new.to_json()), actor=actor)
        session.commit()
        return RefreshOutcome(connection_id, "superseded", "the token changed meanwhile")
    check_result(session, connection_id, status=Status.ACTIVE.value, reachable=True,
                 reason=None, started=started)
    _notify(session, keyring, linked, previous, Status.ACTIVE.value, None)
    session.commit()
    return RefreshOutcome(connection_id, "refreshed")


def due_ids(session: Session, *, window: timedelta = DEFAULT_WINDOW, limit: int = 10_000) -> list[int]:
    """Active, enabled OAuth connections expiring within `window` and not backing off."""
    now = utcnow()
    stmt = (
        select(col(Connection.id))
        .join(Profile, col(Profile.id) == col(Connection.profile_id))
        .join(ProviderConfig, col(ProviderConfig.id) == col(Profile.provider_config_id))
        .where(col(Connection.revoked_at).is_(None),
               col(Connection.disabled_by).is_(None),
               col(Connection.status) == Status.ACTIVE.value,
               col(Connection.expires_at) <= now + window,
               col(ProviderConfig.kind).in_(OAUTH_KINDS),
               or_(col(Connection.next_refresh_at).is_(None),
                   col(Connection.next_refresh_at) <= now))
        .order_by(col(Connection.expires_at))
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def refresh_due(session: Session, *, actor: Actor = SYSTEM, keyring: KeyRing,
                window: timedelta = DEFAULT_WINDOW, concurrency: int = 4,
                limit: int = 10_000) -> list[RefreshOutcome]:
    """Refresh every connection due within `window`, `concurrency` at a time (own sessions)."""
    require(actor, Action.WRITE)
    ids = due_ids(session, window=window, limit=limit)
    engine = session.get_bind()

    def one(connection_id: int) -> RefreshOutcome:
        with Session(engine, expire_on_commit=False) as own:
            return refresh_connection(own, actor=actor, keyring=keyring,
                                      connection_id=connection_id)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return list(pool.map(one, ids))
