"""Listing, viewing and revoking connections.

Every listing filters, sorts, counts and pages in SQL over live (not revoked) rows. Revoke is
one transaction whose first statement is a conditional UPDATE, so two admins (or two processes)
revoking at once produce exactly one revocation and one audit event.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlmodel import Session

from connmodel.errors import AlreadyRevoked, InvalidInput, NotFound
from connmodel.models import (
    Connection,
    ConnectionDetail,
    ConnectionPublic,
    McpServer,
    Profile,
    ProviderConfig,
    RevokeResult,
    ServerPublic,
    utcnow,
)
from connmodel.paging import Page, SortKey, capped_count, keyset_page
from connmodel.permissions import Action, Actor, require
from connmodel.providers import revocations
from connmodel.search import search_condition
from connmodel.secrets import mask
from connmodel.services.events import record
from connmodel.status import ServerState, hint_for, parse_environment, parse_status
from connmodel.validation import clean_account, clean_text

SORT_FIELDS: dict[str, Any] = {
    "id": Connection.id,
    "account": Connection.account,
    "service": Connection.service,
    "status": Connection.status,
    "created": Connection.created_at,
    "expires": Connection.expires_at,
    "last_used": Connection.last_used_at,
    "checked": Connection.checked_at,
}


def sort_key(sort: str) -> SortKey:
    """'account' ascending, '-account' descending; InvalidInput for unknown fields."""
    name = sort.strip()
    descending = name.startswith("-")
    name = name.lstrip("-")
    if name not in SORT_FIELDS:
        raise InvalidInput(f"unknown sort field {name!r}: choose one of {', '.join(SORT_FIELDS)}")
    return SortKey(SORT_FIELDS[name], Connection.id, descending)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ConnectionFilter:
    """What a listing is narrowed to. Empty fields do not filter."""

    profile: str | None = None
    profile_id: int | None = None
    status: str | None = None
    environment: str | None = None
    search: str | None = None

    def conditions(self, session: Session) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = [Connection.revoked_at.is_(None)]  # type: ignore[union-attr]
        if self.profile:
            conds.append(Connection.profile_id == profile_id_by_name(session, self.profile))
        if self.profile_id is not None:
            conds.append(Connection.profile_id == self.profile_id)  # type: ignore[arg-type]
        if self.status:
            conds.append(Connection.status == parse_status(self.status).value)  # type: ignore[arg-type]
        if self.environment:
            env = parse_environment(self.environment).value
            ids = select(Profile.id).where(Profile.environment == env)
            conds.append(Connection.profile_id.in_(ids))  # type: ignore[attr-defined]
        if self.search:
            cond = search_condition(session, self.search)
            if cond is not None:
                conds.append(cond)
        return conds


def profile_id_by_name(session: Session, name: str) -> int:
    pid = session.connection().execute(
        select(Profile.id).where(Profile.name == name)
    ).scalar_one_or_none()
    if pid is None:
        raise NotFound(f"no profile named {name!r}")
    return pid


def _public(conn: Connection, profile: str, environment: str) -> ConnectionPublic:
    return ConnectionPublic(
        id=conn.id or 0,
        profile=profile,
        environment=environment,
        service=conn.service,
        account=conn.account,
        status=conn.status,
        status_reason=conn.status_reason,
        hint=hint_for(conn.status),
        checked_at=conn.checked_at,
        expires_at=conn.expires_at,
        last_used_at=conn.last_used_at,
        created_at=conn.created_at,
    )


# The listing reads plain columns, never ORM entities: a page is built straight from rows.
LISTED_COLUMNS = (Connection.id, Connection.service, Connection.account, Connection.status,
                  Connection.status_reason, Connection.checked_at, Connection.expires_at,
                  Connection.last_used_at, Connection.created_at, Profile.name,
                  Profile.environment)


def _public_row(row: Any) -> ConnectionPublic:
    (_, _, cid, service, account, status, reason, checked, expires, used, created, profile,
     environment) = row
    return ConnectionPublic(
        id=cid, profile=profile, environment=environment, service=service, account=account,
        status=status, status_reason=reason, hint=hint_for(status), checked_at=checked,
        expires_at=expires, last_used_at=used, created_at=created,
    )


def list_connections(
    session: Session,
    *,
    actor: Actor,
    where: ConnectionFilter = ConnectionFilter(),
    sort: str = "id",
    cursor: str | None = None,
    limit: int = 50,
    count: bool = True,
) -> Page[ConnectionPublic]:
    """One page of live connections, keyset-paged; `total` is exact up to 10,000."""
    require(actor, Action.READ)
    key = sort_key(sort)
    conds = where.conditions(session)
    stmt = (
        select(key.column, Connection.id, *LISTED_COLUMNS)
        .join(Profile, Profile.id == Connection.profile_id)  # type: ignore[arg-type]
        .where(*conds)
    )
    rows, next_cursor = keyset_page(session, stmt, key=key, cursor=cursor, limit=limit)
    total, exact = (
        capped_count(session, select(Connection.id).where(*conds)) if count else (len(rows), True)
    )
    return Page([_public_row(r) for r in rows], next_cursor, total, exact)


def _live_connection(session: Session, connection_id: int) -> Connection:
    conn = session.get(Connection, connection_id)
    if conn is None:
        raise NotFound(f"no connection with id {connection_id}")
    if conn.revoked_at is not None:
        raise AlreadyRevoked(
            f"connection {connection_id} was already revoked by {conn.revoked_by} at "
            f"{conn.revoked_at:%Y-%m-%d %H:%M:%S} UTC"
        )
    return conn


def servers_of_profile(session: Session, profile_id: int) -> list[ServerPublic]:
    rows = session.execute(
        select(McpServer, Profile.name)
        .join(Profile, Profile.id == McpServer.profile_id)  # type: ignore[arg-type]
        .where(McpServer.profile_id == profile_id)
        .order_by(McpServer.name)
    ).all()
    return [
        ServerPublic(name=s.name, url=s.url, transport=s.transport, profile=p, state=s.state,
                     reason=s.reason)
        for s, p in rows
    ]


def masked_config(provider: ProviderConfig, conn: Connection) -> dict[str, str]:
    """The configuration a person may see: settings as they are, every secret masked."""
    config = {k: ", ".join(v) if isinstance(v, list) else str(v)
              for k, v in sorted(provider.settings.items())}
    if provider.client_secret_enc:
        config["client_secret"] = mask(None)
    if conn.credential_enc:
        config["credential"] = mask(conn.credential_hint)
    return config


def get_connection(session: Session, *, actor: Actor, connection_id: int) -> ConnectionDetail:
    """Everything View shows about one live connection; secrets only as masks."""
    require(actor, Action.READ)
    conn = _live_connection(session, connection_id)
    profile = session.get(Profile, conn.profile_id)
    assert profile is not None
    provider = session.get(ProviderConfig, profile.provider_config_id)
    assert provider is not None
    public = _public(conn, profile.name, profile.environment)
    return ConnectionDetail(
        **public.model_dump(),
        provider=provider.name,
        provider_kind=provider.kind,
        description=profile.description,
        config=masked_config(provider, conn),
        mcp_servers=servers_of_profile(session, profile.id or 0),
    )


def revoke_connection(session: Session, *, actor: Actor, connection_id: int) -> RevokeResult:
    """Revoke, wipe the credential, disconnect the profile's servers, audit: one transaction.

    Raises AlreadyRevoked when another caller got there first (nothing is written then) and
    NotFound for an unknown id.
    """
    require(actor, Action.WRITE)
    now = utcnow()
    credential_enc = session.execute(
        select(Connection.credential_enc).where(Connection.id == connection_id)  # type: ignore[arg-type]
    ).scalar_one_or_none()
    claimed = session.execute(
        update(Connection)
        .where(Connection.id == connection_id, Connection.revoked_at.is_(None))  # type: ignore[arg-type,union-attr]
        .values(revoked_at=now, revoked_by=actor.name, credential_enc=None, credential_hint=None)
        .returning(Connection.profile_id, Connection.account, Connection.service)
    ).first()
    if claimed is None:
        session.rollback()
        _live_connection(session, connection_id)  # raises NotFound or AlreadyRevoked
        raise AlreadyRevoked(f"connection {connection_id} was already revoked")
    profile_id, account, service = claimed
    profile_name = session.execute(
        select(Profile.name).where(Profile.id == profile_id)
    ).scalar_one()
    disconnected = list(
        session.execute(
            update(McpServer)
            .where(McpServer.profile_id == profile_id,  # type: ignore[arg-type]
                   McpServer.state == ServerState.CONNECTED.value)  # type: ignore[arg-type]
            .values(state=ServerState.DISCONNECTED.value, updated_at=now,
                    reason=f"connection {connection_id} of profile {profile_name} revoked by "
                           f"{actor.name}; reconfigure to reconnect")
            .returning(McpServer.name)
        ).scalars()
    )
    queued = revocations.enqueue(session, connection_id=connection_id, profile_id=profile_id,
                                 credential_enc=credential_enc, actor=actor)
    record(session, actor=actor, action="revoke",
           target=f"connection {connection_id} ({profile_name} / {service} / {account})",
           outcome="ok; disconnected: " + (", ".join(sorted(disconnected)) or "none")
           + ("; provider revocation queued" if queued else ""))
    session.commit()
    return RevokeResult(id=connection_id, profile=profile_name, account=account, service=service,
                        disconnected_servers=sorted(disconnected))


def create_connection(
    session: Session,
    *,
    actor: Actor,
    profile_id: int,
    account: str,
    credential: str | None = None,
    keyring: Any = None,
    status: str = "Active",
    status_reason: str | None = None,
    expires_at: Any = None,
) -> Connection:
    """Record a connection of a profile (the provider flows of `connect` end here).

    The service label is the profile's provider config name ("the auth provider type used").
    """
    require(actor, Action.WRITE)
    profile = session.get(Profile, profile_id)
    if profile is None:
        raise NotFound(f"no profile with id {profile_id}")
    provider = session.get(ProviderConfig, profile.provider_config_id)
    assert provider is not None
    if credential and keyring is None:
        raise InvalidInput("a credential needs the secret key to be stored")
    from connmodel.secrets import hint_of

    conn = Connection(
        profile_id=profile_id,
        service=provider.name,
        account=clean_account(account) or "Configured",
        status=parse_status(status).value,
        status_reason=clean_text(status_reason, "status reason") or None,
        checked_at=utcnow(),
        credential_enc=keyring.encrypt(credential) if credential else None,
        credential_hint=hint_of(credential) if credential else None,
        expires_at=expires_at,
    )
    session.add(conn)
    session.flush()
    record(session, actor=actor, action="connection.create",
           target=f"connection {conn.id} ({profile.name} / {provider.name} / {conn.account})")
    return conn


@dataclass(frozen=True)
class BulkRevokeResult:
    """What a batch of revocations did: the ones done, and the ids someone else revoked first."""

    revoked: list[RevokeResult]
    already_revoked: list[int]


def revoke_many(session: Session, *, actor: Actor, connection_ids: list[int]) -> BulkRevokeResult:
    """Revoke a batch, each connection in its own transaction with its own audit event.

    A connection revoked meanwhile by someone else is reported, not an error; an unknown id is
    NotFound. Callers split large selections into batches to show progress.
    """
    require(actor, Action.WRITE)
    done: list[RevokeResult] = []
    already: list[int] = []
    for connection_id in connection_ids:
        try:
            done.append(revoke_connection(session, actor=actor, connection_id=connection_id))
        except AlreadyRevoked:
            already.append(connection_id)
    return BulkRevokeResult(done, already)
