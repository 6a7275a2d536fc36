"""Which connections a check run covers, and what it needs to reach each of their servers.

A connection's MCP servers are the connected servers of its profile (a revoked connection, or a
server disconnected until reconfigured, is never checked). Loading decrypts credentials into
headers that stay in memory for the run and are never shown (`repr=False`).
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from connmodel.checks.credentials import MissingCredential, auth_headers
from connmodel.errors import InvalidInput, NotFound
from connmodel.models import Connection, McpServer, Profile, ProviderConfig
from connmodel.secrets import KeyRing
from connmodel.status import ServerState


@dataclass(frozen=True)
class ServerTarget:
    id: int
    name: str
    url: str
    transport: str


@dataclass(frozen=True)
class ConnectionTarget:
    id: int
    profile: str
    service: str
    account: str
    status: str
    expires_at: datetime | None
    servers: tuple[ServerTarget, ...]
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    credential_problem: str | None = None


def select_connection_ids(
    session: Session,
    *,
    ids: list[int] | None = None,
    profile: str | None = None,
    all_connections: bool = False,
) -> list[int]:
    """Live connection ids chosen by explicit ids, a profile name, or all; in id order."""
    if not ids and not profile and not all_connections:
        raise InvalidInput("name connection ids, a profile (--profile) or --all")
    stmt = select(col(Connection.id)).where(col(Connection.revoked_at).is_(None))
    if profile:
        pid = session.execute(
            select(col(Profile.id)).where(col(Profile.name) == profile)
        ).scalar_one_or_none()
        if pid is None:
            raise NotFound(f"no profile named {profile!r}")
        stmt = stmt.where(col(Connection.profile_id) == pid)
    if ids:
        wanted = sorted(set(ids))
        found = set(session.execute(stmt.where(col(Connection.id).in_(wanted))).scalars())
        missing = [i for i in wanted if i not in found]
        if missing:
            raise NotFound("no live connection with id " + ", ".join(map(str, missing))
                           + (f" in profile {profile!r}" if profile else ""))
        return wanted
    return list(session.execute(stmt.order_by(col(Connection.id))).scalars())


def load_targets(session: Session, ids: list[int], keyring: KeyRing | None) -> list[ConnectionTarget]:
    """The connections with their connected servers and the headers to send them."""
    if not ids:
        return []
    rows = session.execute(
        select(Connection, col(Profile.name), col(ProviderConfig.kind),
               col(ProviderConfig.settings))
        .join(Profile, col(Profile.id) == col(Connection.profile_id))
        .join(ProviderConfig, col(ProviderConfig.id) == col(Profile.provider_config_id))
        .where(col(Connection.id).in_(ids))
        .order_by(col(Connection.id))
    ).all()
    profile_ids = {conn.profile_id for conn, *_ in rows}
    servers: dict[int, list[ServerTarget]] = {}
    for s in session.execute(
        select(McpServer)
        .where(col(McpServer.profile_id).in_(profile_ids),
               col(McpServer.state) == ServerState.CONNECTED.value)
        .order_by(col(McpServer.name))
    ).scalars():
        servers.setdefault(s.profile_id or 0, []).append(
            ServerTarget(s.id or 0, s.name, s.url, s.transport))
    targets = []
    for conn, profile, kind, settings in rows:
        problem, headers = None, {}
        try:
            headers = auth_headers(kind, settings or {}, conn.credential_enc, keyring)
        except MissingCredential as exc:
            problem = str(exc)
        targets.append(ConnectionTarget(
            id=conn.id or 0, profile=profile, service=conn.service, account=conn.account,
            status=conn.status, expires_at=conn.expires_at,
            servers=tuple(servers.get(conn.profile_id, ())), headers=headers,
            credential_problem=problem,
        ))
    return targets
