"""MCP servers of the gateway: add, list (the My Servers page) and reconfigure them.

A server uses one profile; the connection behind it is that profile's live connection. Its
page state ("health") is disconnected (revoked or never configured), error (connected but its
latest live check failed or could not reach it) or connected; every filter is SQL.
"""

import ipaddress
import re
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlmodel import Session, col

from connmodel.errors import AlreadyExists, InvalidInput, NotFound, StateConflict
from connmodel.models import Connection, McpServer, Profile, ServerRow, utcnow
from connmodel.paging import Page, SortKey, capped_count, keyset_page
from connmodel.permissions import Action, Actor, require
from connmodel.search import like_pattern
from connmodel.services.events import record
from connmodel.status import ServerState, disabled_server_reason
from connmodel.store import flush_unique
from connmodel.validation import clean_name

TRANSPORTS = ("streamable-http", "sse")
HEALTH = ("connected", "disconnected", "error")
FAILED_CHECKS = ("error", "unreachable")
IPV4_STYLE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$")  # httpx takes such a host as IPv4


def validate_url(url: str, what: str = "an MCP server",
                 instead: str = "use a profile's credential instead") -> str:
    """An absolute http(s) URL with a host and no credentials in it; InvalidInput otherwise,
    saying whose URL it is (`what`) and what authenticates in place of URL credentials."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        raise InvalidInput(f"malformed URL {url[:80]!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"malformed URL {url[:80]!r}: {what} URL is http(s)://host/...")
    if len(url) > 2000:
        raise InvalidInput("URL is longer than 2000 characters")
    if parts.username or parts.password:
        raise InvalidInput(f"{what} URL may not carry a user or password: {instead}")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InvalidInput(f"malformed URL {url[:80]!r}: it contains spaces or control characters")
    problem = _host_problem(parts.hostname)
    if problem:
        raise InvalidInput(f"malformed URL {url[:80]!r}: {problem}")
    return url


def _host_problem(host: str) -> str | None:
    """Why httpx would refuse to send to `host`, by its URL parser's rules (an IPv4-style host
    must be an address; a name must encode as IDNA, its xn-- labels decode), or None: a URL
    that passes here can be checked. The rules are restated because a listing, which imports
    this module, must not load httpx."""
    if IPV4_STYLE.match(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return "its host is not an IPv4 address"
        return None
    if host.isascii() and "xn--" not in host:
        return None
    import idna  # httpx's own IDNA codec; only for international names (listings skip it)

    try:
        if host.isascii():
            for label in host.split("."):
                if label.startswith("xn--"):
                    idna.decode(label)
        else:
            idna.encode(host)
    except UnicodeError:  # idna.IDNAError is one
        return "its host name cannot be encoded (IDNA): check its spelling"
    return None


def url_origin(url: str) -> str:
    """scheme://host[:port]/… : enough of a URL to tell receivers apart in a log line, without
    the path, query or user part that may hold a secret (a Slack-style hook's token is its
    path)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a malformed URL)"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


def _profile_id(session: Session, profile: str) -> int:
    pid = session.scalars(select(col(Profile.id)).where(col(Profile.name) == profile)).one_or_none()
    if pid is None:
        raise NotFound(f"no profile named {profile!r}")
    return pid


def add_server(
    session: Session,
    *,
    actor: Actor,
    name: str,
    url: str,
    profile: str | None = None,
    transport: str = "streamable-http",
) -> McpServer:
    """Add a server using `profile` (by name): connected when the profile has a live, enabled
    connection, else disconnected with the reason (no live connection; or its connection's
    disable, which Enable then reconnects); disconnected without a profile."""
    require(actor, Action.WRITE, session)
    name = clean_name(name, "server name")
    url = validate_url(url)
    if transport not in TRANSPORTS:
        raise InvalidInput(f"unknown transport {transport!r}: choose one of {', '.join(TRANSPORTS)}")
    if session.execute(select(col(McpServer.id)).where(col(McpServer.name) == name)).first():
        raise AlreadyExists(f"a server named {name!r} exists")
    # None: no profile yet; "" is a mistake (a script's empty variable), not "no profile"
    profile_id = _profile_id(session, clean_name(profile, "profile name")) \
        if profile is not None else None
    state, reason = _state_through(
        profile, None if profile_id is None else _live_connection(session, profile_id))
    server = McpServer(name=name, url=url, transport=transport, profile_id=profile_id,
                       state=state.value, reason=reason)
    session.add(server)
    flush_unique(session, f"a server named {name!r} exists")
    record(session, actor=actor, action="server.add",
           target=f"server {name} ({url})" + (f" using profile {profile}" if profile else ""))
    return server


def register_server(
    session: Session,
    *,
    actor: Actor,
    name: str,
    url: str,
    profile: str,
    transport: str = "streamable-http",
) -> ServerRow:
    """Add Server as the CLI and My Servers do it: add, commit, and return the new row."""
    server = add_server(session, actor=actor, name=name, url=url, profile=profile,
                        transport=transport)
    session.commit()
    return get_server(session, actor=actor, name=server.name)


def reconfigure_server(session: Session, *, actor: Actor, name: str, profile: str) -> ServerRow:
    """Move a server to another profile and reconnect it (the seed's "until you reconfigure").

    The profile must have a live connection to authenticate with. The latest check is cleared
    (it was made with the old credential) and the move is an audit event; one transaction.
    """
    require(actor, Action.WRITE, session)
    server = session.scalars(select(McpServer).where(col(McpServer.name) == name)).one_or_none()
    if server is None:
        raise NotFound(f"no server named {name!r}")
    profile_id = _profile_id(session, profile)
    found = _live_connection(session, profile_id)
    if found is None:
        raise StateConflict(f"profile {profile!r} has no live connection: connect it first")
    if found[1]:
        raise StateConflict(f"profile {profile!r} has only a disabled connection ({found[0]}, "
                            f"disabled by {found[1]}): enable it first")
    old = session.execute(
        select(col(Profile.name)).where(col(Profile.id) == server.profile_id)
    ).scalar()
    server.profile_id = profile_id
    server.state = ServerState.CONNECTED.value
    server.reason = None
    server.check_outcome = server.check_reason = server.checked_at = None
    server.tool_count = server.latency_ms = None
    server.updated_at = utcnow()
    record(session, actor=actor, action="server.reconfigure",
           target=f"server {server.name}", outcome=f"ok; profile {old or 'none'} → {profile}")
    session.commit()
    return get_server(session, actor=actor, name=name)


def _live_connection(session: Session, profile_id: int) -> tuple[int, str | None] | None:
    """The profile's live connection a server goes through, as (id, who disabled it): an
    enabled one if there is one; None without any."""
    live = (col(Connection.profile_id) == profile_id, col(Connection.revoked_at).is_(None))
    enabled = session.execute(select(col(Connection.id)).where(
        *live, col(Connection.disabled_by).is_(None)).limit(1)).scalar()
    if enabled is not None:
        return enabled, None
    row = session.execute(select(col(Connection.id), col(Connection.disabled_by))
                          .where(*live).limit(1)).first()
    return None if row is None else (row[0], row[1])


def _state_through(profile: str | None, found: tuple[int, str | None] | None
                   ) -> tuple[ServerState, str | None]:
    """A new server's state and reason, given its profile's live connection (_live_connection)."""
    if profile is None:
        return ServerState.DISCONNECTED, "no profile: reconfigure to connect"
    if found is None:
        return (ServerState.DISCONNECTED,
                f"profile {profile} has no live connection: connect it, then reconfigure")
    connection_id, disabled_by = found
    if disabled_by:  # its Enable reconnects the server with the profile's others
        return ServerState.DISCONNECTED, disabled_server_reason(connection_id, disabled_by)
    return ServerState.CONNECTED, None


def set_servers_state(session: Session, profile_id: int, *, from_state: ServerState,
                      to_state: ServerState, reason: str | None,
                      only_reason: str | None = None) -> list[str]:
    """Move the profile's servers between connected and disconnected; returns their names."""
    conds = [col(McpServer.profile_id) == profile_id, col(McpServer.state) == from_state.value]
    if only_reason is not None:
        conds.append(col(McpServer.reason) == only_reason)
    return sorted(session.execute(
        update(McpServer).where(*conds)
        .values(state=to_state.value, reason=reason, updated_at=utcnow())
        .returning(col(McpServer.name))
    ).scalars())


def live_connection_id() -> ColumnElement[int]:
    """The id of the connection a server uses: its profile's first live one (the least id),
    one probe of ix_connection_live_profile_id; NULL when the profile has none."""
    return (
        select(func.min(col(Connection.id)))
        .where(col(Connection.profile_id) == col(McpServer.profile_id),
               col(Connection.revoked_at).is_(None))
        .correlate(McpServer)
        .scalar_subquery()
    )


def _health_condition(health: str) -> ColumnElement[bool]:
    value = health.strip().lower()
    connected = col(McpServer.state) == ServerState.CONNECTED.value
    failed = col(McpServer.check_outcome).in_(FAILED_CHECKS)
    if value == "disconnected":
        return col(McpServer.state) == ServerState.DISCONNECTED.value
    if value == "error":
        return and_(connected, failed)
    if value == "connected":
        return and_(connected, or_(col(McpServer.check_outcome).is_(None), ~failed))
    raise InvalidInput(f"unknown state {health!r}: choose one of {', '.join(HEALTH)}")


def _health(server: McpServer) -> str:
    if server.state == ServerState.DISCONNECTED:
        return "disconnected"
    return "error" if server.check_outcome in FAILED_CHECKS else "connected"


def _row(server: McpServer, profile: str | None, connection_id: int | None) -> ServerRow:
    return ServerRow(
        id=server.id or 0, name=server.name, url=server.url, transport=server.transport,
        profile=profile, state=server.state, reason=server.reason, health=_health(server),
        check_outcome=server.check_outcome, check_reason=server.check_reason,
        checked_at=server.checked_at, tool_count=server.tool_count,
        latency_ms=server.latency_ms, connection_id=connection_id,
    )


def _search_condition(text: str) -> ColumnElement[bool]:
    pattern = like_pattern(text.strip().lower())
    return or_(func.lower(col(McpServer.name)).like(pattern, escape="\\"),
               func.lower(col(McpServer.url)).like(pattern, escape="\\"))


def list_servers(
    session: Session,
    *,
    actor: Actor,
    profile: str | None = None,
    state: str | None = None,
    search: str | None = None,
    connection_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
    known_profile: bool = False,
) -> Page[ServerRow]:
    """Servers by name with profile, latest check and connection; filtered and keyset-paged in SQL.

    `state` is connected, disconnected or error (the page's state); `search` matches name or URL.
    With `known_profile` (the CLI, the API) an unknown `profile` is NotFound, as the connections
    listing says, not an empty page as if it had no servers; the dashboard's box filters as
    typed. Looked up only for an empty page, after the actor's role was checked.
    """
    require(actor, Action.READ)
    conds: list[ColumnElement[bool]] = []
    if profile:
        conds.append(col(Profile.name) == profile)
    if state:
        conds.append(_health_condition(state))
    if search and search.strip():
        conds.append(_search_condition(search))
    if connection_id is not None:
        conds.append(col(McpServer.profile_id) == select(col(Connection.profile_id))
                     .where(col(Connection.id) == connection_id).scalar_subquery())
    live = live_connection_id().label("connection_id")
    stmt = (
        select(col(McpServer.name), col(McpServer.id), McpServer, col(Profile.name), live)
        .outerjoin(Profile, col(Profile.id) == col(McpServer.profile_id))
        .where(*conds)
    )
    key = SortKey(McpServer.name, McpServer.id)  # type: ignore[arg-type]
    rows, next_cursor = keyset_page(session, stmt, key=key, cursor=cursor, limit=limit)
    count_stmt = (
        select(col(McpServer.id))
        .outerjoin(Profile, col(Profile.id) == col(McpServer.profile_id))
        .where(*conds)
    )
    total, exact = capped_count(session, count_stmt)
    if known_profile and profile and not rows:
        _profile_id(session, profile)
    return Page([_row(s, p, c) for _, _, s, p, c in rows], next_cursor, total, exact)


def get_server(session: Session, *, actor: Actor, name: str) -> ServerRow:
    """One server as My Servers shows it; NotFound for an unknown name."""
    require(actor, Action.READ)
    row = session.execute(
        select(McpServer, col(Profile.name), live_connection_id())
        .outerjoin(Profile, col(Profile.id) == col(McpServer.profile_id))
        .where(col(McpServer.name) == name)
    ).first()
    if row is None:
        raise NotFound(f"no server named {name!r}")
    return _row(row[0], row[1], row[2])
