"""Real MCP servers on loopback for the check tests, and a store wired to them.

One set of servers serves the whole module run (starting uvicorn costs ~50 ms each); tests that
stop a server start their own.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlmodel import Session

from checks.mcp_servers import (
    API_KEY,
    BEARER_TOKEN,
    LoopbackServers,
    calculator,
    closes_mid_stream,
    garbage,
    hanging,
    huge_json,
    mcp_app,
    plain_http,
    require_api_key,
)
from connmodel.models import Connection, McpServer
from connmodel.permissions import Actor
from connmodel.secrets import KeyRing
from connmodel.services.connections import create_connection
from connmodel.services.profiles import create_profile, create_provider_config
from connmodel.services.servers import add_server
from connmodel.store import session

APPS = {
    "calculator": lambda: mcp_app(calculator()),
    "api_key": lambda: require_api_key(mcp_app(calculator("Keyed Calculator"))),
    "bearer": lambda: mcp_app(calculator("OAuth Calculator", token=BEARER_TOKEN)),
    "hanging": lambda: hanging,
    "plain": lambda: plain_http(),
    "huge": lambda: huge_json(),
    "sse": lambda: calculator("SSE Calculator").sse_app(),
    "garbage": lambda: garbage,
    "closes": lambda: closes_mid_stream,
}


@dataclass(frozen=True)
class Fleet:
    servers: LoopbackServers
    names: tuple[str, ...]

    def url(self, name: str) -> str:
        url = self.servers.url(self.names.index(name))
        return url.replace("/mcp", "/sse") if name == "sse" else url


@pytest.fixture(scope="session")
def fleet() -> Iterator[Fleet]:
    names = tuple(APPS)
    servers = LoopbackServers([APPS[n]() for n in names]).start()
    yield Fleet(servers, names)
    servers.stop()


PROVIDER_SETTINGS = {
    "none": {},
    "api_key": {"header": "X-API-Key"},
    "oauth2": {"token_url": "http://127.0.0.1:9/token", "client_id": "tests"},
}


def connect(
    s: Session,
    *,
    actor: Actor,
    keyring: KeyRing,
    profile: str,
    kind: str,
    servers: dict[str, str],
    credential: str | None = None,
    status: str = "Active",
) -> Connection:
    """A profile with one connection and its servers, through the services a user would use."""
    provider = create_provider_config(s, actor=actor, name=f"{profile} provider", kind=kind,
                                      settings=dict(PROVIDER_SETTINGS[kind]), keyring=keyring)
    p = create_profile(s, actor=actor, name=profile, provider_config_id=provider.id or 0)
    conn = create_connection(s, actor=actor, profile_id=p.id or 0, account="Configured",
                             credential=credential, keyring=keyring, status=status)
    for name, url in servers.items():
        add_server(s, actor=actor, name=name, url=url, profile=profile)
    s.commit()
    return conn


def server_row(url: str, name: str) -> McpServer:
    with session(url) as s:
        return s.execute(select(McpServer).where(McpServer.name == name)).scalar_one()


def connection_row(url: str, connection_id: int) -> Connection:
    with session(url) as s:
        row = s.get(Connection, connection_id)
        assert row is not None
        return row


__all__ = ["API_KEY", "BEARER_TOKEN", "connect", "connection_row", "server_row"]
