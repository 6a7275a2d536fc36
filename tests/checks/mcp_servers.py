"""Real MCP servers (the `mcp` SDK's MCPServer under uvicorn) on loopback ports, for tests and bench.

Every server binds 127.0.0.1 on a free port and runs in a background thread with its own event
loop, so a test's check (which runs its own loop) talks to it over real TCP. `LoopbackServers`
starts any number of apps in one thread and one loop: the benchmark puts many servers in each
process that way.
"""

import asyncio
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Self

import uvicorn
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

from connmodel.checks.demo_server import calculator as demo_calculator

API_KEY = "calc-api-key-7f3a9b2c41d8"
BEARER_TOKEN = "calc-bearer-token-0e5d6c1b9a77"

Asgi = Callable[[Scope, Receive, Send], Any]


def calculator(name: str = "Calculator", *, token: str | None = None,
               issuer: str = "http://127.0.0.1:9/") -> MCPServer:
    """The seed's Calculator (connmodel's demo server); with `token`, only that bearer token
    is let in."""
    if not token:
        return demo_calculator(name)
    return demo_calculator(name, token_verifier=StaticTokenVerifier(token),
                           auth=AuthSettings(issuer_url=issuer, resource_server_url=None))


class StaticTokenVerifier:
    """A token verifier that knows one static bearer token (stands in for an OAuth server)."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def verify_token(self, token: str) -> AccessToken | None:
        if token != self.token:
            return None
        return AccessToken(token=token, client_id="connmodel-tests", scopes=[])


def mcp_app(server: MCPServer, *, stateless: bool = False) -> ASGIApp:
    return server.streamable_http_app(stateless_http=stateless, json_response=stateless)


def require_api_key(app: ASGIApp, key: str = API_KEY, header: str = "x-api-key") -> Asgi:
    """Wrap an app so every HTTP request needs `header: key`: 401 without or with a wrong key,
    403 for a key starting with "read-only" (known but not allowed)."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(header.encode())
            if given != key.encode():
                status = 403 if given and given.startswith(b"read-only") else 401
                await send({"type": "http.response.start", "status": status,
                            "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": b'{"error":"unauthorized"}'})
                return
        await app(scope, receive, send)

    return guarded


async def hanging(scope: Scope, receive: Receive, send: Send) -> None:
    """Accepts the request and never answers."""
    if scope["type"] == "http":
        await asyncio.sleep(3600)


def plain_http(body: bytes = b"<html><body>Hello, not MCP</body></html>", status: int = 200,
               content_type: bytes = b"text/html") -> Asgi:
    """A plain web server answering every request with the same page."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type)]})
        await send({"type": "http.response.body", "body": body})

    return app


def huge_json(size: int = 50_000_000) -> Asgi:
    """Claims to be JSON and streams `size` bytes of it without end of object."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"jsonrpc":"2.0","id":1,"result":"',
                    "more_body": True})
        chunk = b"x" * 1_000_000
        for _ in range(size // len(chunk)):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b'"}'})

    return app


async def garbage(scope: Scope, receive: Receive, send: Send) -> None:
    """Claims JSON, sends bytes that are not."""
    app = plain_http(b"\x00\xff{{not json at all", content_type=b"application/json")
    await app(scope, receive, send)


async def closes_mid_stream(scope: Scope, receive: Receive, send: Send) -> None:
    """Starts a 1000-byte JSON answer, sends 30 bytes, then drops the connection."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
    await send({"type": "http.response.body", "body": b'{"jsonrpc":"2.0","id":1,"result"',
                "more_body": True})
    raise ConnectionAbortedError("server went away mid-response")


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    sock.setblocking(False)
    return sock


class LoopbackServers:
    """Serve ASGI apps on loopback ports from one background thread; `url(i)` is app i's URL."""

    def __init__(self, apps: list[Asgi], path: str = "/mcp") -> None:
        self.apps = apps
        self.path = path
        self.sockets = [free_socket() for _ in apps]
        self.ports = [s.getsockname()[1] for s in self.sockets]
        self._servers: list[uvicorn.Server] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()

    def url(self, i: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[i]}{self.path}"

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        for app in self.apps:
            config = uvicorn.Config(app, log_level="error", lifespan="on", timeout_keep_alive=30,
                                    limit_concurrency=None, timeout_graceful_shutdown=1)
            server = uvicorn.Server(config)
            server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
            self._servers.append(server)
        tasks = [asyncio.create_task(s.serve(sockets=[sock]))
                 for s, sock in zip(self._servers, self.sockets, strict=True)]
        while not all(s.started for s in self._servers):
            await asyncio.sleep(0.01)
        self._ready.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    def start(self) -> "LoopbackServers":
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("loopback MCP servers did not start within 30 s")
        return self

    def stop(self) -> None:
        """Stop every server and close its port: a later connect is refused."""
        for server in self._servers:
            server.should_exit = True
        self._thread.join(10)
        for sock in self.sockets:
            with suppress(OSError):
                sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
