"""Reading and writing the rows every provider flow touches: a live connection with its profile
and provider config, the credential columns, and the MCP servers a profile is attached to."""

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, insert, select
from sqlmodel import Session, col

from connmodel.errors import AlreadyRevoked, InvalidInput, NotFound
from connmodel.masking import hint_of
from connmodel.models import CheckResult, Connection, McpServer, Profile, ProviderConfig, utcnow
from connmodel.permissions import Actor
from connmodel.secrets import KeyRing
from connmodel.services.events import clipped, record
from connmodel.services.keys import sealing_ring
from connmodel.status import ServerState, Status


def changed(result: Result[Any]) -> int:
    """Rows an UPDATE changed: how a conditional UPDATE tells whether it won."""
    return cast(CursorResult[Any], result).rowcount


def disabled_reason(name: str) -> str:
    """The Inactive reason of a disabled connection, as the seed's status column shows it."""
    return f"disabled by {name}"


@dataclass(frozen=True)
class Linked:
    connection: Connection
    profile: Profile
    provider: ProviderConfig


def profile_with_provider(session: Session, profile: int | str) -> tuple[Profile, ProviderConfig]:
    """A profile by id or name, and its provider config; NotFound otherwise."""
    if isinstance(profile, int):
        row = session.get(Profile, profile)
    else:
        row = session.execute(select(Profile).where(col(Profile.name) == profile)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no profile {profile!r}")
    provider = session.get(ProviderConfig, row.provider_config_id)
    assert provider is not None
    return row, provider


def live(session: Session, connection_id: int) -> Linked:
    """A connection that is not revoked, with its profile and provider config (one query)."""
    row = session.execute(
        select(Connection, Profile, ProviderConfig)
        .join(Profile, col(Profile.id) == col(Connection.profile_id))
        .join(ProviderConfig, col(ProviderConfig.id) == col(Profile.provider_config_id))
        .where(col(Connection.id) == connection_id)
    ).first()
    if row is None:
        raise NotFound(f"no connection with id {connection_id}")
    conn, profile, provider = row
    if conn.revoked_at is not None:
        raise AlreadyRevoked(f"connection {connection_id} was revoked by {conn.revoked_by}")
    return Linked(conn, profile, provider)


def check_servers(session: Session, names: list[str]) -> list[McpServer]:
    """The named MCP servers, all of them, or NotFound naming the missing ones (nothing changed)."""
    names = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    if not names:
        return []
    found = list(session.execute(select(McpServer).where(col(McpServer.name).in_(names))).scalars())
    missing = sorted(set(names) - {s.name for s in found})
    if missing:
        raise NotFound(f"no MCP server named {', '.join(repr(m) for m in missing)}")
    return found


def attach_servers(session: Session, servers: list[McpServer], profile_id: int) -> list[str]:
    """Point servers at the profile and mark them connected; returns their names."""
    now = utcnow()
    for server in servers:
        server.profile_id = profile_id
        server.state = ServerState.CONNECTED.value
        server.reason = None
        server.updated_at = now
        session.add(server)
    return sorted(s.name for s in servers)


def store_credential(session: Session, conn: Connection, keyring: KeyRing, secret: str, *,
                     hint: bool, expires_at: datetime | None = None,
                     account: str | None = None) -> None:
    """A new working credential: Active (unless disabled), version bumped, failures cleared."""
    conn.credential_enc = sealing_ring(session, keyring).encrypt(secret)
    conn.credential_hint = hint_of(secret) if hint else None
    conn.expires_at = expires_at
    conn.status = (Status.INACTIVE if conn.disabled_by else Status.ACTIVE).value
    conn.status_reason = disabled_reason(conn.disabled_by) if conn.disabled_by else None
    conn.held_error = None
    conn.checked_at = utcnow()
    conn.token_version = (conn.token_version or 0) + 1
    conn.refresh_failures = 0
    conn.next_refresh_at = None
    conn.refresh_claimed_until = None
    if account:
        conn.account = account


def check_row(conn_id: int, *, status: str, reachable: bool, reason: str | None,
              started: float | None = None) -> dict[str, Any]:
    """The values of one check_result row (latency from `started`, a perf_counter time)."""
    latency = (time.perf_counter() - started) * 1000 if started is not None else None
    return {"connection_id": conn_id, "at": utcnow(), "status": status, "reachable": reachable,
            "reason": reason[:2000] if reason else None, "latency_ms": latency}


def insert_checks(session: Session, rows: list[dict[str, Any]]) -> None:
    """Rows in check_result, the history the audit notebooks chart: one plain INSERT on the
    session's connection, run at once (a refresh run writes one row per token, and the ORM's
    unit of work cost more CPU than the statement)."""
    if rows:
        session.connection().execute(insert(CheckResult), rows)


def check_result(session: Session, conn_id: int, *, status: str, reachable: bool,
                 reason: str | None, started: float | None = None) -> None:
    """One row in check_result (see insert_checks)."""
    insert_checks(session, [check_row(conn_id, status=status, reachable=reachable, reason=reason,
                                      started=started)])


def require_kind(provider: ProviderConfig, *kinds: str, action: str) -> None:
    """InvalidInput naming what the action needs and what this provider is."""
    if provider.kind not in kinds:
        raise InvalidInput(f"{action} is for providers of kind {' or '.join(kinds)}; "
                           f"{provider.name!r} is of kind {provider.kind}")


REFUSED_SHOWN = 200


def audited(session: Session, actor: Actor, action: str, target: str, exc: Exception) -> None:
    """Throw away the failed change and keep only an audit event saying why. What was refused
    is named in its first REFUSED_SHOWN characters: a refused 3,000-character name filled the
    Activity page."""
    session.rollback()
    record(session, actor=actor, action=action, target=clipped(target, REFUSED_SHOWN),
           outcome=f"failed: {exc}")
    session.commit()
