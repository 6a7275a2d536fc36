"""Disable and Enable: take a connection out of use without deleting it, and bring it back.

A disabled connection keeps its credential, shows Inactive with the reason "disabled by NAME",
is skipped by the refresher, and its profile's connected MCP servers are disconnected with a
reason that Enable recognises, so Enable reconnects exactly those servers.
"""

from dataclasses import dataclass

from sqlalchemy import case, func, update
from sqlmodel import Session, col

from connmodel.errors import StateConflict
from connmodel.models import Connection, utcnow
from connmodel.permissions import Action, Actor, require
from connmodel.providers.records import changed, disabled_reason, live
from connmodel.services.events import record
from connmodel.services.servers import set_servers_state
from connmodel.status import ServerState, Status, disabled_server_reason


@dataclass(frozen=True)
class ToggleResult:
    id: int
    status: str
    status_reason: str | None
    servers: list[str]


def disable_connection(session: Session, *, actor: Actor, connection_id: int) -> ToggleResult:
    """Disable (one conditional UPDATE, so a double click disables once); committed."""
    require(actor, Action.WRITE, session)
    linked = live(session, connection_id)
    reason = disabled_reason(actor.name)
    done = changed(session.execute(
        update(Connection)
        .where(col(Connection.id) == connection_id, col(Connection.disabled_by).is_(None),
               col(Connection.revoked_at).is_(None))
        .values(disabled_by=actor.name, disabled_at=utcnow(), status=Status.INACTIVE.value,
                status_reason=reason, checked_at=utcnow(),
                held_error=case((col(Connection.status) == Status.ERROR.value, func.coalesce(
                    col(Connection.status_reason), "authentication failed")), else_=None))
    ))
    if not done:
        session.rollback()
        raise StateConflict(f"connection {connection_id} is already disabled")
    servers = set_servers_state(session, linked.profile.id or 0,
                                from_state=ServerState.CONNECTED, to_state=ServerState.DISCONNECTED,
                                reason=disabled_server_reason(connection_id, actor.name))
    record(session, actor=actor, action="connection.disable",
           target=f"connection {connection_id} ({linked.profile.name})",
           outcome="ok; disconnected: " + (", ".join(servers) or "none"))
    session.commit()
    return ToggleResult(connection_id, Status.INACTIVE.value, reason, servers)


def enable_connection(session: Session, *, actor: Actor, connection_id: int) -> ToggleResult:
    """Enable: back in Error with its reason if it was in Error when disabled (a disable fixes
    no credential: `held_error`), else Active if its token has not expired meanwhile, else
    Inactive "token expired" (then Re-authorize, or Refresh now when it has a refresh token);
    committed."""
    require(actor, Action.WRITE, session)
    linked = live(session, connection_id)
    conn = linked.connection
    if not conn.disabled_by:
        raise StateConflict(f"connection {connection_id} is not disabled")
    disabled_by = conn.disabled_by
    expired = conn.expires_at is not None and conn.expires_at <= utcnow()
    status, reason = ((Status.ERROR.value, conn.held_error) if conn.held_error
                      else (Status.INACTIVE.value, "token expired") if expired
                      else (Status.ACTIVE.value, None))
    session.execute(
        update(Connection).where(col(Connection.id) == connection_id)
        .values(disabled_by=None, disabled_at=None, status=status, status_reason=reason,
                held_error=None, checked_at=utcnow(), next_refresh_at=None, refresh_failures=0)
    )
    servers = set_servers_state(session, linked.profile.id or 0,
                                from_state=ServerState.DISCONNECTED,
                                to_state=ServerState.CONNECTED, reason=None,
                                only_reason=disabled_server_reason(connection_id, disabled_by))
    record(session, actor=actor, action="connection.enable",
           target=f"connection {connection_id} ({linked.profile.name})",
           outcome=f"ok; {status}; reconnected: " + (", ".join(servers) or "none"))
    session.commit()
    return ToggleResult(connection_id, status, reason, servers)
