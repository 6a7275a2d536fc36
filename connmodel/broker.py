"""The credential broker: what a gateway sends to one of its MCP servers, now.

A gateway names a server (its name, or its URL) and gets the header that authenticates it: the
API key in the provider's header, or the OAuth access token as a bearer token. That makes
Revoke real: a revoked, disabled, expired or Error connection, or a disconnected server, gets
CredentialUnavailable with the seed's remedy instead of a credential. An OAuth token due within
the refresh window is refreshed first through the refresher's claim and compare-and-swap
(connmodel.providers.refresh), so many requests in many API processes refresh it once: the
others wait for the winner's token. `last_used_at` is written at most once a minute per
connection, so a busy gateway costs no write per request.

Beside connmodel.checks (it builds the same headers, connmodel.checks.credentials) and above
connmodel.providers (it refreshes); the API is its one transport.
"""

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Select, bindparam, or_, select, true, update
from sqlmodel import Session, col

from connmodel.checks.credentials import MissingCredential, auth_headers
from connmodel.errors import CredentialUnavailable, InvalidInput, NotFound, ProviderUnreachable
from connmodel.models import ApiToken, Connection, McpServer, Profile, ProviderConfig, utcnow
from connmodel.permissions import Action, Actor, require
from connmodel.providers.records import Linked
from connmodel.providers.refresh import refresh_linked
from connmodel.secrets import KeyRing
from connmodel.services.servers import live_connection_id
from connmodel.services.tokens import TOKEN_COLUMNS, presented_hash, token_bearer
from connmodel.status import (
    HINTS,
    OAUTH_KINDS,
    ProviderKind,
    ServerState,
    Status,
    disabled_hint,
)

REFRESH_WITHIN = timedelta(minutes=5)  # a token expiring sooner is refreshed before it is given
USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per connection
WAIT_FOR_REFRESH = 15.0  # seconds a request waits for another process's refresh of its token
POLL = 0.05


class BrokeredCredential(BaseModel):
    """What a gateway needs to call `server` now. `header_name: header_value` is the header to
    send; `token` is the bearer token alone (auth_type bearer); `expires_at` when it stops
    working (None: no known expiry)."""

    server: str
    url: str
    connection_id: int | None = None
    auth_type: Literal["none", "api_key", "bearer"]
    header_name: str | None = None
    header_value: str | None = Field(default=None, repr=False)
    token: str | None = Field(default=None, repr=False)
    expires_at: datetime | None = None


# The server and its live connection with that connection's profile and provider, in one
# statement (one round trip) of the columns the broker reads: loading the four ORM objects cost
# twice as much CPU. A server without a live connection has NULLs there. The connection's columns
# come in _Current's order.
_SERVER: Select[*tuple[Any, ...]] = (
    select(col(McpServer.name), col(McpServer.url), col(McpServer.state), col(McpServer.reason),
           col(Connection.id).label("connection_id"), col(Connection.revoked_at),
           col(Connection.revoked_by), col(Connection.disabled_by), col(Connection.status),
           col(Connection.status_reason), col(Connection.expires_at),
           col(Connection.credential_enc), col(Connection.last_used_at),
           col(Profile.name).label("profile"), col(ProviderConfig.kind),
           col(ProviderConfig.settings))
    .select_from(McpServer)
    .outerjoin(Connection, col(Connection.id) == live_connection_id())
    .outerjoin(Profile, col(Profile.id) == col(Connection.profile_id))
    .outerjoin(ProviderConfig, col(ProviderConfig.id) == col(Profile.provider_config_id))
    .where(or_(col(McpServer.name) == bindparam("server"), col(McpServer.url) == bindparam("server")))
    .order_by((col(McpServer.name) == bindparam("server")).desc(), col(McpServer.id))
    .limit(2)
)

# The presented token's row beside the server's rows: the broker's one read, one round trip for
# what took two (the token checked by connmodel.services.tokens.token_bearer). An unknown token
# reads no row; a known one with no such server reads one whose server columns are NULL.
_SERVERS = _SERVER.subquery("server")
_TOKEN_AND_SERVER: Select[*tuple[Any, ...]] = (
    select(*TOKEN_COLUMNS, *_SERVERS.c)
    .select_from(ApiToken)
    .outerjoin(_SERVERS, true())
    .where(col(ApiToken.token_hash) == bindparam("hash"))
)
_TOKEN_PART = len(TOKEN_COLUMNS)


@dataclass(frozen=True)
class _Server:
    name: str
    url: str
    state: str
    reason: str | None


@dataclass(frozen=True)
class _Current:
    """What the broker reads of a server's live connection (a row of _SERVER, or a Linked)."""

    connection_id: int
    revoked_at: datetime | None
    revoked_by: str | None
    disabled_by: str | None
    status: str
    status_reason: str | None
    expires_at: datetime | None
    credential_enc: str | None
    last_used_at: datetime | None
    profile: str
    kind: str
    settings: dict[str, Any]

    @classmethod
    def of(cls, linked: Linked) -> "_Current":
        c = linked.connection
        return cls(c.id or 0, c.revoked_at, c.revoked_by, c.disabled_by, c.status,
                   c.status_reason, c.expires_at, c.credential_enc, c.last_used_at,
                   linked.profile.name, linked.provider.kind, linked.provider.settings or {})


_LINKED = (
    select(Connection, Profile, ProviderConfig)
    .join(Profile, col(Profile.id) == col(Connection.profile_id))
    .join(ProviderConfig, col(ProviderConfig.id) == col(Profile.provider_config_id))
    .where(col(Connection.id) == bindparam("connection_id"))
    .execution_options(populate_existing=True)
)
_USED = (
    update(Connection)
    .where(col(Connection.id) == bindparam("connection_id"),
           or_(col(Connection.last_used_at).is_(None),
               col(Connection.last_used_at) < bindparam("stale_before")))
    .values(last_used_at=bindparam("now"))
)


def _server(wanted: str, rows: list[Any]) -> tuple[_Server, _Current | None]:
    """The server named (or at) `wanted` among `rows` (of _SERVER: at most two, a server so
    named first), and its live connection (None: none)."""
    if not wanted:
        raise InvalidInput("name the MCP server (its name or its URL)")
    if not rows:
        raise NotFound(f"no MCP server named {wanted[:200]!r} or at that URL")
    named = [row for row in rows if row[0] == wanted]
    if not named and len(rows) > 1:
        raise InvalidInput(f"several MCP servers are at {wanted[:200]!r}: name the server")
    (name, url, state, reason, connection_id, *current) = (named or rows)[0]
    server = _Server(name, url, state, reason)
    return server, None if connection_id is None else _Current(connection_id, *current)


def _linked(session: Session, connection_id: int) -> Linked:
    conn, profile, provider = session.execute(_LINKED, {"connection_id": connection_id}).one()
    return Linked(conn, profile, provider)


def _usable(server: str, conn: _Current, now: datetime) -> None:
    """CredentialUnavailable saying what is wrong and what to do, unless the credential works."""
    where = f"server {server!r} (connection {conn.connection_id}, profile {conn.profile!r})"
    if conn.revoked_at is not None:
        raise CredentialUnavailable(f"{where}: the connection was revoked by {conn.revoked_by} "
                                    f"at {conn.revoked_at:%Y-%m-%d %H:%M:%S} UTC. Reconfigure "
                                    "the server with a live connection")
    if conn.disabled_by:
        raise CredentialUnavailable(f"{where}: the connection is disabled by {conn.disabled_by}. "
                                    + disabled_hint(conn.connection_id))
    if conn.status == Status.ERROR:
        raise CredentialUnavailable(f"{where}: the connection is in Error "
                                    f"({conn.status_reason or 'authentication failed'}). "
                                    + HINTS[Status.ERROR])
    if conn.status == Status.INACTIVE:
        raise CredentialUnavailable(f"{where}: the connection is Inactive "
                                    f"({conn.status_reason or 'expired'}). "
                                    + HINTS[Status.INACTIVE])
    oauth = conn.kind in OAUTH_KINDS
    if not oauth and conn.expires_at is not None and conn.expires_at <= now:
        raise CredentialUnavailable(f"{where}: the credential expired at "
                                    f"{conn.expires_at:%Y-%m-%d %H:%M} UTC. "
                                    + HINTS[Status.INACTIVE])


def _due(expires: datetime | None) -> bool:
    return expires is not None and expires <= utcnow() + REFRESH_WITHIN


def _refreshed(session: Session, server: str, linked: Linked, *, actor: Actor,
               keyring: KeyRing) -> Linked:
    """The connection, its token refreshed first when due: here, or by whoever holds its claim.

    A request that finds the row claimed waits for the holder's write (a new `token_version`)
    instead of refreshing again. A failed refresh leaves the connection in Error or Inactive
    (the refresher's status rules) for the caller's `_usable` to report; an unreachable provider
    is ProviderUnreachable unless the old token still works.
    """
    deadline = time.monotonic() + WAIT_FOR_REFRESH
    while _due(linked.connection.expires_at):
        version = linked.connection.token_version
        outcome = refresh_linked(session, actor=actor, keyring=keyring, linked=linked)
        linked = _linked(session, linked.connection.id or 0)
        if outcome.result == "unreachable":
            expires = linked.connection.expires_at
            if expires is not None and expires <= utcnow():
                raise ProviderUnreachable(f"server {server!r}: the token expired and the "
                                          f"provider could not be reached: {outcome.message}")
            return linked
        if outcome.result != "busy":
            return linked  # refreshed, superseded, or a status for _usable to report
        while not _settled(linked, version):
            if time.monotonic() > deadline:
                raise ProviderUnreachable(f"server {server!r}: another refresh of its "
                                          "token is taking too long; try again")
            session.commit()  # gives the connection back to the pool while it waits
            time.sleep(POLL)
            linked = _linked(session, linked.connection.id or 0)
        if linked.connection.token_version != version or linked.connection.status != Status.ACTIVE:
            return linked
    return linked


def _settled(linked: Linked, version: int) -> bool:
    """Whether the refresh someone else claimed is over: a new token, a new status, or the
    claim released (or lapsed) without one."""
    conn = linked.connection
    claimed = conn.refresh_claimed_until
    return (conn.token_version != version or conn.status != Status.ACTIVE
            or conn.revoked_at is not None or conn.disabled_by is not None
            or claimed is None or claimed <= utcnow())


def credential_for(session: Session, *, token: str | None, keyring: KeyRing, server: str,
                   address: str = "?",
                   transaction: Callable[[], AbstractContextManager[Session]] | None = None,
                   ) -> BrokeredCredential:
    """The credential to call `server` (a name, or a URL) now, for the bearer of the API token
    `token` (sent from `address`); see the module docstring.

    The token and the server are read in one statement, and `session` may read outside a
    transaction (connmodel.store.reading): on PostgreSQL one round trip for a credential. A
    due token is then refreshed in `transaction()`, a session whose writes commit together
    (without it, in `session`).

    AuthenticationFailed for a missing, unknown, expired or revoked token, PermissionDenied
    for a token that may not broker, NotFound for an unknown server, CredentialUnavailable
    (with the remedy) when the server or its connection may not be used, ProviderUnreachable
    when a due token cannot be refreshed.
    """
    digest = presented_hash(token)
    wanted = (server or "").strip()
    rows = session.connection().execute(_TOKEN_AND_SERVER,
                                        {"hash": digest, "server": wanted}).all()
    actor = token_bearer(session, rows[0] if rows else None, digest, address=address)
    require(actor, Action.BROKER)
    found, conn = _server(wanted, [row[_TOKEN_PART:] for row in rows
                                   if row[_TOKEN_PART] is not None])
    if conn is not None and conn.disabled_by:  # its servers were disconnected by the disable,
        _usable(found.name, conn, utcnow())  # and Enable reconnects them: that is the remedy
    if found.state != ServerState.CONNECTED:
        raise CredentialUnavailable(
            f"server {found.name!r} is disconnected"
            + (f" ({found.reason})" if found.reason else "")
            + ": reconfigure it with a live connection (connmodel server reconfigure)")
    if conn is None:
        raise CredentialUnavailable(f"server {found.name!r} has no live connection: connect its "
                                    "profile, then reconfigure the server")
    now = utcnow()
    _usable(found.name, conn, now)
    if conn.kind in OAUTH_KINDS and _due(conn.expires_at):
        session.commit()  # its connection back to the pool before `transaction` takes one
        with transaction() if transaction else nullcontext(session) as writing:
            conn = _Current.of(_refreshed(writing, found.name,
                                          _linked(writing, conn.connection_id),
                                          actor=actor, keyring=keyring))
        _usable(found.name, conn, utcnow())
    try:
        headers = auth_headers(conn.kind, conn.settings or {}, conn.credential_enc, keyring)
    except MissingCredential as exc:
        raise CredentialUnavailable(
            f"server {found.name!r} (connection {conn.connection_id}): {exc}") from None
    if conn.last_used_at is None or conn.last_used_at < now - USED_EVERY:
        session.execute(_USED, {"connection_id": conn.connection_id,
                                "stale_before": now - USED_EVERY, "now": now})
        session.commit()
    result = BrokeredCredential(server=found.name, url=found.url,
                                connection_id=conn.connection_id, auth_type="none",
                                expires_at=conn.expires_at)
    if not headers:
        return result
    [(name, value)] = headers.items()
    result.header_name, result.header_value = name, value
    if conn.kind == ProviderKind.API_KEY:
        result.auth_type = "api_key"
    else:
        result.auth_type, result.token = "bearer", value.removeprefix("Bearer ")
    return result
