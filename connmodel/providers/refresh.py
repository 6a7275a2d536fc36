"""Refreshing OAuth tokens before they expire, safely from several processes at once.

A refresher first claims the row (a conditional UPDATE on the claim time, and for Refresh now on
the `token_version` it read), commits, talks to the provider with no transaction open, then
writes the new token only if `token_version` is still the one it claimed (compare-and-swap).
With refresh-token rotation the old refresh token dies at the provider the moment a new one is
issued, so two refreshers at once must never both use it, and a slow one must never overwrite
the newer token: the claim ensures the first, the CAS the second.

`refresh_due` (cron, the background refresher) is a pipeline: it claims the due rows a batch at a
time with one UPDATE .. RETURNING (which reads the token and its version in the same statement),
hands the provider calls to `concurrency` threads, and one writer commits whatever results are
ready in one transaction. Per token that is one small transaction instead of a read, two
transactions and ORM bookkeeping: the refresher's CPU went to the database layer, not to HTTP
(bench/refresh.py). All database work stays on one thread and one connection, so SQLite's single
writer is never contended by the refresher itself.

Status rules: expired with no refresh token -> Inactive "token expired"; the provider refuses
(invalid_grant, 401, 403) -> Error with its message; unreachable -> status unchanged, a check
result recorded, retried after a back-off.
"""

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authlib.integrations.httpx_client import OAuth2Client
from sqlalchemy import bindparam, or_, select, update
from sqlmodel import Session, col

from connmodel.errors import ProviderRefused, ProviderUnreachable
from connmodel.models import Connection, Profile, ProviderConfig, utcnow
from connmodel.permissions import SYSTEM, Action, Actor, require
from connmodel.providers.client import TokenSet, backoff, call, oauth_client
from connmodel.providers.records import (
    Linked,
    changed,
    check_result,
    check_row,
    insert_checks,
    live,
    require_kind,
)
from connmodel.secrets import KeyRing
from connmodel.services.events import record
from connmodel.services.keys import sealing_ring
from connmodel.services.revocations import enqueue
from connmodel.status import OAUTH_KINDS, ProviderKind, Status
from connmodel.webhooks import StatusChange, enqueue_status_change

CLAIM_FOR = timedelta(seconds=60)
DEFAULT_WINDOW = timedelta(minutes=10)
BATCH_PER_WORKER = 4  # rows claimed per statement = concurrency * this; a claim waits < 1 s


@dataclass(frozen=True)
class RefreshOutcome:
    """What one refresh did: refreshed | busy | superseded | expired | no_refresh_token | error |
    unreachable | disabled; `latency_ms` from the provider call to the committed write."""

    connection_id: int
    result: str
    message: str = ""
    latency_ms: float | None = None


@dataclass(frozen=True)
class Claimed:
    """A connection this refresher holds, as it was when claimed: `token_version` is the CAS
    guard, the rest is what the write and its webhook and audit event need."""

    id: int
    token_version: int
    credential_enc: str | None
    status: str
    refresh_failures: int
    expires_at: datetime | None
    profile_id: int
    service: str
    account: str
    profile: str
    provider: ProviderConfig


@dataclass(frozen=True)
class Attempt:
    """What the provider said about one claimed connection; nothing written yet.

    Exactly one of `new`, `refused`, `unreachable` is set, or none: no refresh token to use.
    """

    claimed: Claimed
    started: float
    new: TokenSet | None = None
    refused: str | None = None
    unreachable: str | None = None


CLAIMED_COLUMNS = (col(Connection.id), col(Connection.token_version),
                   col(Connection.credential_enc), col(Connection.status),
                   col(Connection.refresh_failures), col(Connection.expires_at),
                   col(Connection.profile_id), col(Connection.service), col(Connection.account))


def _claimable(now: datetime) -> tuple[Any, ...]:
    return (col(Connection.revoked_at).is_(None),
            or_(col(Connection.refresh_claimed_until).is_(None),
                col(Connection.refresh_claimed_until) < now))


def _claim(session: Session, conn: Connection) -> bool:
    """Refresh now: claim the row at the version this session read (commits)."""
    now = utcnow()
    won = changed(session.connection().execute(
        update(Connection)
        .where(col(Connection.id) == conn.id,
               col(Connection.token_version) == conn.token_version, *_claimable(now))
        .values(refresh_claimed_until=now + CLAIM_FOR)
    ))
    session.commit()
    return bool(won)


def _claim_batch(session: Session, ids: list[int],
                 providers: dict[int, tuple[str, ProviderConfig]]) -> list[Claimed]:
    """Claim the free ones of `ids` in one statement, reading their tokens as claimed (commits).

    `providers` caches profile id -> (profile name, provider config) for the run.
    """
    now = utcnow()
    rows = session.connection().execute(
        update(Connection)
        .where(col(Connection.id).in_(ids), col(Connection.disabled_by).is_(None),
               *_claimable(now))
        .values(refresh_claimed_until=now + CLAIM_FOR)
        .returning(*CLAIMED_COLUMNS)
    ).all()
    session.commit()
    unknown = {r.profile_id for r in rows} - providers.keys()
    if unknown:
        for profile_id, name, provider in session.execute(
                select(col(Profile.id), col(Profile.name), ProviderConfig)
                .join(ProviderConfig, col(ProviderConfig.id) == col(Profile.provider_config_id))
                .where(col(Profile.id).in_(unknown))):
            providers[profile_id] = (name, provider)
    order = {ident: n for n, ident in enumerate(ids)}
    return [Claimed(*row, *providers[row.profile_id])  # type: ignore[arg-type]  # id is set
            for row in sorted(rows, key=lambda r: order[r.id])]


def _cas(session: Session, claimed: Claimed, **values: Any) -> bool:
    """Write only if nobody changed the token since we claimed it; release the claim."""
    return bool(changed(session.connection().execute(
        update(Connection)
        .where(col(Connection.id) == claimed.id,
               col(Connection.token_version) == claimed.token_version,
               col(Connection.revoked_at).is_(None))
        .values(refresh_claimed_until=None, checked_at=utcnow(), **values)
    )))


class _Clients:
    """authlib clients for one refresh run, one per provider config per worker thread (a client
    is not shared between threads): building one per token cost as much CPU as its request."""

    def __init__(self, keyring: KeyRing) -> None:
        self._keyring = keyring
        self._local = threading.local()
        self._all: list[OAuth2Client] = []
        self._lock = threading.Lock()

    def get(self, provider: ProviderConfig) -> OAuth2Client:
        mine: dict[int | None, OAuth2Client] = self._local.__dict__.setdefault("clients", {})
        client = mine.get(provider.id)
        if client is None:
            client = mine[provider.id] = oauth_client(provider, self._keyring)
            with self._lock:
                self._all.append(client)
        return client

    def close(self) -> None:
        with self._lock:
            for client in self._all:
                client.close()
            self._all.clear()


def _new_token(client: OAuth2Client, provider: ProviderConfig, old: TokenSet) -> TokenSet:
    url = provider.settings["token_url"]
    if provider.kind == ProviderKind.CLIENT_CREDENTIALS.value:
        answer = call("token refresh", lambda: client.fetch_token(
            url, grant_type="client_credentials"))
    else:
        answer = call("token refresh", lambda: client.refresh_token(
            url, refresh_token=old.refresh_token))
    return TokenSet.from_response(answer, previous=old)


def _old_token(claimed: Claimed, keyring: KeyRing) -> TokenSet:
    enc = claimed.credential_enc
    return TokenSet.from_json(keyring.decrypt(enc)) if enc else TokenSet("")


def _attempt(claimed: Claimed, keyring: KeyRing, clients: _Clients) -> Attempt:
    """Talk to the provider for one claimed connection (no database, no transaction open)."""
    old = _old_token(claimed, keyring)
    started = time.perf_counter()
    provider = claimed.provider
    if provider.kind == ProviderKind.OAUTH2.value and not old.refresh_token:
        return Attempt(claimed, started)
    try:
        return Attempt(claimed, started, new=_new_token(clients.get(provider), provider, old))
    except ProviderRefused as exc:
        return Attempt(claimed, started, refused=str(exc)[:2000])
    except ProviderUnreachable as exc:
        return Attempt(claimed, started, unreachable=str(exc)[:2000])


def _notify(session: Session, keyring: KeyRing, claimed: Claimed, status: str,
            reason: str | None) -> None:
    """Tell the webhook receivers when a refresh changed the status (same transaction)."""
    if claimed.status != status:
        enqueue_status_change(session, keyring=keyring, change=StatusChange(
            connection_id=claimed.id, profile=claimed.profile, service=claimed.service,
            account=claimed.account, previous_status=claimed.status, status=status,
            reason=reason, at=utcnow()))


def _write(session: Session, attempt: Attempt, *, keyring: KeyRing, actor: Actor) -> RefreshOutcome:
    """Store a refusal, an unreachable provider or a missing refresh token (caller commits).

    A failed CAS writes nothing, so other results in the same transaction are unaffected.
    """
    c = attempt.claimed
    target = f"connection {c.id} ({c.profile})"
    if attempt.refused is not None:
        message = attempt.refused
        if not _cas(session, c, status=Status.ERROR.value, status_reason=message,
                    refresh_failures=c.refresh_failures + 1):
            return RefreshOutcome(c.id, "superseded", "the token changed meanwhile")
        check_result(session, c.id, status=Status.ERROR.value, reachable=True, reason=message,
                     started=attempt.started)
        _notify(session, keyring, c, Status.ERROR.value, message)
        record(session, actor=actor, action="connection.refresh", target=target,
               outcome=f"error: {message}"[:2000])
        return RefreshOutcome(c.id, "error", message)
    if attempt.unreachable is not None:
        failures = c.refresh_failures + 1
        _cas(session, c, refresh_failures=failures, next_refresh_at=utcnow() + backoff(failures))
        check_result(session, c.id, status=c.status, reachable=False, reason=attempt.unreachable,
                     started=attempt.started)
        return RefreshOutcome(c.id, "unreachable", attempt.unreachable)
    # No refresh token: nothing was asked of the provider.
    expired = c.expires_at is not None and c.expires_at <= utcnow()
    _cas(session, c, **({"status": Status.INACTIVE.value, "status_reason": "token expired"}
                        if expired else {}))
    if not expired:
        return RefreshOutcome(c.id, "no_refresh_token", "no refresh token to use")
    check_result(session, c.id, status=Status.INACTIVE.value, reachable=True,
                 reason="token expired")
    _notify(session, keyring, c, Status.INACTIVE.value, "token expired")
    record(session, actor=actor, action="connection.refresh", target=target,
           outcome="token expired; no refresh token: re-authorize")
    return RefreshOutcome(c.id, "expired", "token expired")


def _write_tokens(session: Session, attempts: list[Attempt], *, keyring: KeyRing,
                  actor: Actor) -> list[RefreshOutcome]:
    """Store new tokens with one executemany compare-and-swap UPDATE and one INSERT of their
    check results (a refresh run's common case: two statements per group, not two per token).

    Each UPDATE matches at most its own row, so a total row count equal to the number of tokens
    means every CAS won. Otherwise the winners are the rows now holding the very ciphertext we
    wrote (Fernet ciphertexts are unique, and our uncommitted rows cannot change under us).
    """
    now = utcnow()
    ring = sealing_ring(session, keyring)
    sealed = [(a, ring.encrypt(a.new.to_json())) for a in attempts if a.new is not None]
    stmt = (update(Connection)
            .where(col(Connection.id) == bindparam("b_id"),
                   col(Connection.token_version) == bindparam("b_version"),
                   col(Connection.revoked_at).is_(None))
            .values(credential_enc=bindparam("b_credential"), expires_at=bindparam("b_expires"),
                    token_version=bindparam("b_next"), status=Status.ACTIVE.value,
                    status_reason=None, refresh_failures=0, next_refresh_at=None,
                    refresh_claimed_until=None, checked_at=now))
    params = [{"b_id": a.claimed.id, "b_version": a.claimed.token_version, "b_credential": enc,
               "b_expires": a.new.expires if a.new else None, "b_next": a.claimed.token_version + 1}
              for a, enc in sealed]
    won = {a.claimed.id for a, _ in sealed}
    if changed(session.connection().execute(stmt, params)) != len(sealed):
        stored = {ident: enc for ident, enc in session.connection().execute(
            select(col(Connection.id), col(Connection.credential_enc))
            .where(col(Connection.id).in_(won)))}
        won = {a.claimed.id for a, enc in sealed if stored.get(a.claimed.id) == enc}
    insert_checks(session, [check_row(a.claimed.id, status=Status.ACTIVE.value, reachable=True,
                                      reason=None, started=a.started)
                            for a, _ in sealed if a.claimed.id in won])
    outcomes = []
    for a, enc in sealed:
        c = a.claimed
        if c.id in won:
            _notify(session, keyring, c, Status.ACTIVE.value, None)
            outcomes.append(RefreshOutcome(c.id, "refreshed"))
        else:
            # Revoked or re-authorized while we waited on the provider: nobody will use the
            # token we just got, so it is revoked at the provider rather than left alive.
            enqueue(session, connection_id=c.id, profile_id=c.profile_id, credential_enc=enc,
                    actor=actor)
            outcomes.append(RefreshOutcome(c.id, "superseded", "the token changed meanwhile"))
    return outcomes


def _write_all(session: Session, attempts: list[Attempt], *, keyring: KeyRing,
               actor: Actor) -> list[RefreshOutcome]:
    """Store a group of attempts in the caller's transaction; outcomes in the same order."""
    tokens = [a for a in attempts if a.new is not None]
    stored = iter(_write_tokens(session, tokens, keyring=keyring, actor=actor) if tokens else [])
    return [next(stored) if a.new is not None else
            _write(session, a, keyring=keyring, actor=actor) for a in attempts]


def _committed(outcome: RefreshOutcome, started: float) -> RefreshOutcome:
    """The outcome with its latency, once its write is committed."""
    latency = (time.perf_counter() - started) * 1000
    return RefreshOutcome(outcome.connection_id, outcome.result, outcome.message, latency)


def refresh_connection(session: Session, *, actor: Actor, keyring: KeyRing,
                       connection_id: int) -> RefreshOutcome:
    """Refresh one OAuth connection now (Refresh now, `connmodel refresh --id`)."""
    require(actor, Action.WRITE, session)
    return refresh_linked(session, actor=actor, keyring=keyring,
                          linked=live(session, connection_id))


def refresh_linked(session: Session, *, actor: Actor, keyring: KeyRing,
                   linked: Linked) -> RefreshOutcome:
    """Refresh one live OAuth connection the caller has read (claim, provider call, CAS write).

    No permission check: the caller checks its own (Refresh now needs WRITE, the credential
    broker BROKER). "busy" when another refresher holds the row or the token changed since
    `linked` was read.
    """
    conn, provider = linked.connection, linked.provider
    connection_id = conn.id or 0
    require_kind(provider, *OAUTH_KINDS, action="Refresh")
    if conn.disabled_by:
        return RefreshOutcome(connection_id, "disabled", f"disabled by {conn.disabled_by}")
    if not _claim(session, conn):
        return RefreshOutcome(connection_id, "busy", "another refresher holds this connection")
    claimed = Claimed(connection_id, conn.token_version, conn.credential_enc, conn.status,
                      conn.refresh_failures, conn.expires_at, conn.profile_id, conn.service,
                      conn.account, linked.profile.name, provider)
    clients = _Clients(keyring)
    try:
        attempt = _attempt(claimed, keyring, clients)
    finally:
        clients.close()
    [outcome] = _write_all(session, [attempt], keyring=keyring, actor=actor)
    session.commit()
    session.expire(conn)  # written with plain UPDATEs: the next read of it reloads
    return _committed(outcome, attempt.started)


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
    """Refresh every connection due within `window` (as of the start), `concurrency` provider
    calls at a time; a connection another refresher holds (or revoked or disabled meanwhile) is
    reported busy. Uses its own session; `session` only finds what is due."""
    require(actor, Action.WRITE, session)
    ids = due_ids(session, window=window, limit=limit)
    workers = max(1, concurrency)
    batch = workers * BATCH_PER_WORKER
    providers: dict[int, tuple[str, ProviderConfig]] = {}
    outcomes: list[RefreshOutcome] = []
    clients = _Clients(keyring)
    in_flight: set[Future[Attempt]] = set()
    with Session(session.get_bind(), expire_on_commit=False) as db, \
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refresh") as pool:
        try:
            while ids or in_flight:
                if ids and len(in_flight) < 2 * workers:  # keep every worker fed
                    chunk, ids = ids[:batch], ids[batch:]
                    claimed = _claim_batch(db, chunk, providers)
                    outcomes += [RefreshOutcome(i, "busy", "another refresher holds it, or it "
                                                "was revoked or disabled meanwhile")
                                 for i in sorted(set(chunk) - {c.id for c in claimed})]
                    in_flight |= {pool.submit(_attempt, c, keyring, clients) for c in claimed}
                    continue
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                attempts = [f.result() for f in done]
                written = _write_all(db, attempts, keyring=keyring, actor=actor)
                db.commit()
                outcomes += [_committed(o, a.started) for o, a in zip(written, attempts, strict=True)]
        finally:
            for future in in_flight:
                future.cancel()
            clients.close()
    return outcomes
