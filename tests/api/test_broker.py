"""The credential broker end to end, real parts only: `connmodel api` in its own process, real
MCP servers (the `mcp` SDK) on loopback that check the credential, the authlib authorization
server for OAuth, and a gateway that asks the broker and then calls a tool with what it got.
"""

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import httpx2
import pytest
from checks.mcp_servers import API_KEY, LoopbackServers, mcp_app
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from playwright.sync_api import Page, expect
from providers.authserver import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, AuthServer, approve
from sqlalchemy import select, text, update
from starlette.types import ASGIApp, Receive, Scope, Send
from ui.conftest import start_dashboard

from connmodel.checks.demo_server import calculator
from connmodel.models import Connection, utcnow
from connmodel.permissions import Actor, Role
from connmodel.providers.authorization import begin_authorization, complete_authorization
from connmodel.providers.connect import connect_profile, create_oauth_provider
from connmodel.services.profiles import create_profile, create_provider_config
from connmodel.services.servers import add_server
from connmodel.store import session

ADMIN = Actor("alice", Role.ADMIN)
NEW_KEY = "calc-api-key-rotated-5e8d"
DASHBOARD_KEY = "calc-api-key-for-the-console-77a1"


def keyed(app: ASGIApp, keys: list[str]) -> ASGIApp:
    """Only requests whose X-API-Key is one of `keys` (the server's admin may change them)."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"x-api-key", b"").decode() \
                not in keys:
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b"unauthorized"})
            return
        await app(scope, receive, send)

    return guarded


class IssuedBy:
    """An MCP server's token check against the authorization server (what introspection says)."""

    def __init__(self, authserver: AuthServer) -> None:
        self.authserver = authserver

    async def verify_token(self, token: str) -> AccessToken | None:
        if not self.authserver.is_active(token):
            return None
        return AccessToken(token=token, client_id=CLIENT_ID, scopes=[])


async def add_through_gateway(api_url: str, broker_token: str, server: str) -> float | str:
    """What a gateway does: ask the broker, then call the server's `add` tool with the header it
    got. The broker's refusal (its problem detail) is returned as text."""
    async with httpx2.AsyncClient(timeout=30) as broker:
        answer = await broker.post(f"{api_url}/api/v1/credentials", json={"server": server},
                                   headers={"Authorization": f"Bearer {broker_token}"})
    if answer.status_code != 200:
        return f"{answer.status_code}: {answer.json()['detail']}"
    credential = answer.json()
    headers = {credential["header_name"]: credential["header_value"]}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(credential["url"], http_client=http) as (read, write),
        ClientSession(read, write) as mcp,
    ):
        await mcp.initialize()
        result = await mcp.call_tool("add", {"a": 2, "b": 3})
        return float(result.structured_content["result"])  # type: ignore[index]


@pytest.fixture(scope="module")
def authserver():
    server = AuthServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mcp_servers(authserver):
    keys = [API_KEY]
    servers = LoopbackServers([
        keyed(mcp_app(calculator("Keyed Calculator")), keys),
        mcp_app(calculator("OAuth Calculator", token_verifier=IssuedBy(authserver),
                           auth=AuthSettings(issuer_url=authserver.url,
                                             resource_server_url=None))),
    ]).start()
    yield servers, keys
    servers.stop()


@pytest.fixture(scope="module")
def gateway(api, mcp_servers, authserver):
    """The demo store plus a keyed profile and an OAuth profile, each with its MCP server."""
    servers, _ = mcp_servers
    with session(api.database_url) as s:
        provider = create_provider_config(s, actor=ADMIN, name="Keyed provider", kind="api_key",
                                          settings={"header": "X-API-Key"}, keyring=api.keyring)
        create_profile(s, actor=ADMIN, name="Keyed", provider_config_id=provider.id)
        add_server(s, actor=ADMIN, name="Keyed Calculator", url=servers.url(0))
        oauth = create_oauth_provider(s, actor=ADMIN, keyring=api.keyring, name="Local OIDC",
                                      client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                      scopes="openid email", issuer=authserver.url)
        create_profile(s, actor=ADMIN, name="Local", provider_config_id=oauth.id)
        add_server(s, actor=ADMIN, name="OAuth Calculator", url=servers.url(1))
        s.commit()
    return api


def oauth_connect(url: str, keyring, servers: list[str]) -> Connection:
    with session(url) as s:
        start = begin_authorization(s, actor=ADMIN, keyring=keyring, profile="Local",
                                    redirect_uri=REDIRECT_URI, servers=servers)
    params = approve(start.url)
    with session(url) as s:
        return complete_authorization(s, actor=ADMIN, keyring=keyring, state=params["state"],
                                      code=params["code"])


def only_keyed_connection(api, keys: list[str], key: str) -> Connection:
    """Every live Keyed connection revoked, then one connected with `key`, the only key the
    server accepts. The module's store and servers outlive each test, and the broker serves a
    profile's oldest live connection: a test that left one (another key) made the next fail,
    depending on the order pytest chose."""
    with api.client("admin") as admin:
        for row in admin.get("/connections", params={"profile": "Keyed"}).json()["items"]:
            assert admin.post(f"/connections/{row['id']}/revoke").status_code == 200
    keys[:] = [key]
    with session(api.database_url) as s:
        return connect_profile(s, actor=ADMIN, keyring=api.keyring, profile="Keyed",
                               api_key=key, servers=["Keyed Calculator"])


def test_an_api_key_works_until_revoked_and_again_after_a_new_key_and_reconfigure(
        gateway, mcp_servers, run_async):
    api, (_, keys) = gateway, mcp_servers
    broker = api.tokens["broker"]
    first = only_keyed_connection(api, keys, API_KEY)
    assert run_async(add_through_gateway(api.url, broker, "Keyed Calculator")) == 5.0
    assert run_async(add_through_gateway(api.url, broker, mcp_servers[0].url(0))) == 5.0

    with api.client("admin") as admin:
        assert admin.post(f"/connections/{first.id}/revoke").status_code == 200
    refused = run_async(add_through_gateway(api.url, broker, "Keyed Calculator"))
    assert refused.startswith("409: server 'Keyed Calculator' is disconnected (connection ")
    assert refused.endswith("reconfigure it with a live connection (connmodel server reconfigure)")

    keys[:] = [NEW_KEY]  # the leaked key is dead at the server too; the admin connects a new one
    with session(api.database_url) as s:
        connect_profile(s, actor=ADMIN, keyring=api.keyring, profile="Keyed", api_key=NEW_KEY)
    with api.client("admin") as admin:
        assert admin.post("/servers/Keyed Calculator/reconfigure",
                          json={"profile": "Keyed"}).json()["state"] == "connected"
    assert run_async(add_through_gateway(api.url, broker, "Keyed Calculator")) == 5.0
    with session(api.database_url) as s:
        used = s.scalars(select(Connection.last_used_at).where(
            Connection.profile_id == first.profile_id, Connection.revoked_at.is_(None))).one()
    assert used is not None


def test_disabled_and_error_connections_are_refused_with_their_remedy(gateway, run_async):
    api = gateway
    with api.client("broker") as c:
        calendar = c.post("/credentials", json={"server": "Calendar"})  # demo: disabled
        github = c.post("/credentials", json={"server": "GitHub Issues"})  # demo: Error
        unknown = c.post("/credentials", json={"server": "http://127.0.0.1:1/none"})
    assert calendar.status_code == 409 and "disabled by admin" in calendar.json()["detail"]
    assert "Enable it" in calendar.json()["detail"]
    assert github.status_code == 409 and "in Error (invalid_grant" in github.json()["detail"]
    assert github.json()["detail"].endswith("Re-authenticate or check credentials")
    assert unknown.status_code == 404


def postgres_sessions_opened(database_url: str) -> int:
    """Sessions PostgreSQL has started for this database so far (each a server process)."""
    with session(database_url) as s:
        s.execute(text("SELECT pg_stat_clear_snapshot()"))
        return int(s.execute(text("SELECT sessions FROM pg_stat_database "
                                  "WHERE datname = current_database()")).scalar_one())


def test_sixteen_gateways_at_once_are_served_on_the_pools_connections(gateway, run_async):
    """Database work runs at most as many at once as the pool keeps connections. Past it,
    SQLAlchemy opened an overflow connection per request and closed it after: on PostgreSQL a
    new server process, for one credential in eight at concurrency 16 (half the machine's CPU)."""
    api = gateway
    if not api.database_url.startswith("postgresql"):
        pytest.skip("counts PostgreSQL's sessions")

    async def burst(n: int) -> list[int]:
        limits = httpx2.Limits(max_connections=16)
        async with httpx2.AsyncClient(timeout=60, limits=limits) as client:
            answers = await asyncio.gather(*(client.post(
                f"{api.url}/api/v1/credentials", json={"server": "Calculator"},
                headers={"Authorization": f"Bearer {api.tokens['broker']}"}) for _ in range(n)))
        return [a.status_code for a in answers]

    run_async(burst(64))  # the pool fills up to its size
    before = postgres_sessions_opened(api.database_url)
    assert run_async(burst(320)) == [200] * 320
    time.sleep(1)  # a session's statistics reach pg_stat_database within a second
    assert postgres_sessions_opened(api.database_url) - before <= 1  # the one counting


def test_oauth_is_refreshed_once_under_concurrency_revoked_and_reconnected(
        gateway, authserver, run_async):
    api = gateway
    broker = api.tokens["broker"]
    authserver.access_ttl = 120  # due (within the broker's 5 minutes) from the start
    conn = oauth_connect(api.database_url, api.keyring, ["OAuth Calculator"])
    authserver.access_ttl = 3600  # the refreshed token is not due: one refresh is enough
    asked = authserver.token_requests

    def credential(_: int) -> httpx.Response:
        with api.client("broker") as c:
            return c.post("/credentials", json={"server": "OAuth Calculator"})

    with ThreadPoolExecutor(20) as pool:  # the token is due: one refresh, twenty answers
        answers = list(pool.map(credential, range(20)))
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
    assert authserver.token_requests == asked + 1
    tokens = {a.json()["token"] for a in answers}
    assert len(tokens) == 1 and authserver.is_active(tokens.pop())
    assert answers[0].json()["auth_type"] == "bearer"
    assert run_async(add_through_gateway(api.url, broker, "OAuth Calculator")) == 5.0

    with api.client("admin") as admin:
        assert admin.post(f"/connections/{conn.id}/revoke").status_code == 200
    refused = run_async(add_through_gateway(api.url, broker, "OAuth Calculator"))
    assert refused.startswith("409: server 'OAuth Calculator' is disconnected")

    oauth_connect(api.database_url, api.keyring, ["OAuth Calculator"])  # connects its servers
    assert run_async(add_through_gateway(api.url, broker, "OAuth Calculator")) == 5.0


def test_invalid_grant_turns_the_connection_to_error(gateway, authserver):
    api = gateway
    with api.client("admin") as admin:
        conn = admin.get("/servers/OAuth Calculator").json()["connection_id"]
    with session(api.database_url) as s:  # due in a minute
        s.execute(update(Connection).where(Connection.id == conn)
                  .values(expires_at=utcnow() + timedelta(minutes=1)))
        s.commit()
    authserver.fail["token"] = "invalid_grant"
    try:
        with api.client("broker") as c:
            answer = c.post("/credentials", json={"server": "OAuth Calculator"})
    finally:
        authserver.fail.pop("token")
    with session(api.database_url) as s:
        status = s.scalars(select(Connection.status).where(Connection.id == conn)).one()
    assert answer.status_code == 409
    assert "in Error (token refresh refused by the provider: invalid_grant" in answer.json()["detail"]
    assert status == "Error"


@pytest.mark.ui
def test_revoke_and_reconfigure_in_the_dashboard_reach_the_gateway(
        gateway, mcp_servers, run_async, page: Page, tmp_path):
    """A person revokes the connection in the console (Chromium): the gateway's next call is
    refused with the broker's detail; a new key and Reconfigure on My Servers bring it back."""
    api, (_, keys) = gateway, mcp_servers
    broker = api.tokens["broker"]
    only_keyed_connection(api, keys, DASHBOARD_KEY)  # its row in the console is unambiguous
    assert run_async(add_through_gateway(api.url, broker, "Keyed Calculator")) == 5.0

    key_file = tmp_path / "connmodel.key"  # the API's key, so the dashboard reads the same store
    key_file.write_bytes(api.keyring.keys[0])
    key_file.chmod(0o600)
    with start_dashboard(tmp_path, demo=False, init=False,
                         database_url=api.database_url) as dashboard:
        page.goto(dashboard.page_url("?page=connections&profile=Keyed"))
        keyed = page.locator('section[aria-label="Profile Keyed"]')
        keyed.get_by_role("button", name=re.compile("^Revoke Keyed connection")).click()
        page.get_by_role("button", name="Confirm revoke").click()
        expect(keyed.get_by_role("button", name=re.compile("^Revoke"))).to_have_count(0)
        refused = run_async(add_through_gateway(api.url, broker, "Keyed Calculator"))
        assert refused.startswith("409: server 'Keyed Calculator' is disconnected"), refused

        keys[:] = [NEW_KEY]
        with session(api.database_url) as s:
            connect_profile(s, actor=ADMIN, keyring=api.keyring, profile="Keyed", api_key=NEW_KEY)
        page.goto(dashboard.page_url("?page=servers&q=Keyed"))
        server = page.locator('div[data-server="Keyed Calculator"]')
        expect(server).to_contain_text("disconnected")
        page.get_by_role("button", name="Reconfigure Keyed Calculator").click()
        page.get_by_label("New profile").select_option("Keyed")
        page.get_by_role("button", name="Reconfigure server").click()
        expect(server).to_contain_text("connected")
        expect(server).not_to_contain_text("disconnected")
    assert run_async(add_through_gateway(api.url, broker, "Keyed Calculator")) == 5.0
