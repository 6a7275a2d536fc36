"""MCP servers of the gateway: add them, list them with their profile and state."""

from urllib.parse import urlsplit

from sqlalchemy import select
from sqlmodel import Session

from connmodel.errors import AlreadyExists, InvalidInput, NotFound
from connmodel.models import McpServer, Profile, ServerPublic
from connmodel.paging import Page, SortKey, capped_count, keyset_page
from connmodel.permissions import Action, Actor, require
from connmodel.services.events import record
from connmodel.status import ServerState
from connmodel.validation import clean_name

TRANSPORTS = ("streamable-http", "sse")


def validate_url(url: str) -> str:
    """An absolute http(s) URL with a host; InvalidInput otherwise."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidInput(f"malformed URL {url[:80]!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"malformed URL {url[:80]!r}: an MCP server URL is http(s)://host/...")
    if len(url) > 2000:
        raise InvalidInput("URL is longer than 2000 characters")
    return url


def add_server(
    session: Session,
    *,
    actor: Actor,
    name: str,
    url: str,
    profile: str | None = None,
    transport: str = "streamable-http",
) -> McpServer:
    """Add a server using `profile` (by name); connected when the profile is given."""
    require(actor, Action.WRITE)
    name = clean_name(name, "server name")
    url = validate_url(url)
    if transport not in TRANSPORTS:
        raise InvalidInput(f"unknown transport {transport!r}: choose one of {', '.join(TRANSPORTS)}")
    if session.execute(select(McpServer.id).where(McpServer.name == name)).first():
        raise AlreadyExists(f"a server named {name!r} exists")
    profile_id = None
    if profile:
        profile_id = session.execute(
            select(Profile.id).where(Profile.name == profile)
        ).scalar_one_or_none()
        if profile_id is None:
            raise NotFound(f"no profile named {profile!r}")
    server = McpServer(
        name=name, url=url, transport=transport, profile_id=profile_id,
        state=(ServerState.CONNECTED if profile_id else ServerState.DISCONNECTED).value,
        reason=None if profile_id else "no profile: reconfigure to connect",
    )
    session.add(server)
    session.flush()
    record(session, actor=actor, action="server.add", target=f"server {name} ({url})")
    return server


def list_servers(
    session: Session,
    *,
    actor: Actor,
    profile: str | None = None,
    state: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[ServerPublic]:
    """Servers by name with their profile and state, keyset-paged."""
    require(actor, Action.READ)
    conds = []
    if profile:
        conds.append(Profile.name == profile)
    if state:
        try:
            conds.append(McpServer.state == ServerState(state.lower()).value)
        except ValueError:
            raise InvalidInput(f"unknown state {state!r}: connected or disconnected") from None
    stmt = (
        select(McpServer.name, McpServer.id, McpServer, Profile.name)
        .outerjoin(Profile, Profile.id == McpServer.profile_id)  # type: ignore[arg-type]
        .where(*conds)
    )
    key = SortKey(McpServer.name, McpServer.id)  # type: ignore[arg-type]
    rows, next_cursor = keyset_page(session, stmt, key=key, cursor=cursor, limit=limit)
    count_stmt = (
        select(McpServer.id)
        .outerjoin(Profile, Profile.id == McpServer.profile_id)  # type: ignore[arg-type]
        .where(*conds)
    )
    total, exact = capped_count(session, count_stmt)
    items = [
        ServerPublic(name=s.name, url=s.url, transport=s.transport, profile=p, state=s.state,
                     reason=s.reason)
        for _, _, s, p in rows
    ]
    return Page(items, next_cursor, total, exact)
