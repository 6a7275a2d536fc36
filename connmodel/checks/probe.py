"""One live check of one MCP server: `initialize` + `tools/list` with the official `mcp` SDK.

The SDK reports an HTTP 401 only as an MCPError nested in ExceptionGroups, indistinguishable from
other failures, so every response's status is read with an httpx2 event hook: that is how
"authentication failed" is told apart from "unreachable". A response body is capped (a server
answering with gigabytes fails fast), and the whole exchange, SSE fallback included, runs under
one deadline so a hanging server costs at most `timeout` seconds.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum

import httpx2
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from connmodel.providers.client import tls_context

MAX_RESPONSE_BYTES = 10_000_000
REASON_MAX = 300
FALLBACK_STATUSES = frozenset({400, 404, 405})


class Outcome(StrEnum):
    OK = "ok"
    ERROR = "error"  # the server answered and refused us, or does not speak MCP
    UNREACHABLE = "unreachable"  # DNS, refused, timeout, TLS, 5xx: says nothing of the credential


@dataclass(frozen=True)
class Probe:
    """What one check of one server found."""

    outcome: Outcome
    reason: str | None
    latency_ms: float
    tool_count: int | None = None
    auth_failed: bool = False


class ResponseTooLarge(Exception):
    """A response body passed MAX_RESPONSE_BYTES."""


class _CappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, cap: int) -> None:
        self.inner, self.cap = inner, cap

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self.inner:
            seen += len(chunk)
            if seen > self.cap:
                raise ResponseTooLarge(f"response larger than {self.cap // 1_000_000} MB")
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class _CappedTransport(httpx2.AsyncBaseTransport):
    """The default transport, with every response body cut off at `cap` bytes."""

    def __init__(self, cap: int) -> None:
        self.inner = httpx2.AsyncHTTPTransport(verify=tls_context())
        self.cap = cap

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        response.stream = _CappedStream(response.stream, self.cap)  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _short(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= REASON_MAX else line[: REASON_MAX - 1] + "…"


def classify(exc: BaseException, statuses: list[int], timeout: float) -> tuple[Outcome, str, bool]:
    """(outcome, reason, auth_failed) for a failed check, from the statuses seen and the error."""
    if 401 in statuses:
        return Outcome.ERROR, "authentication failed: 401", True
    if 403 in statuses:
        return Outcome.ERROR, "forbidden: 403", True
    leaves = _leaves(exc)
    for leaf in leaves:
        if isinstance(leaf, TimeoutError | httpx2.TimeoutException):
            return Outcome.UNREACHABLE, f"timeout: no answer within {timeout:g} s", False
    for leaf in leaves:
        if isinstance(leaf, httpx2.InvalidURL | httpx2.UnsupportedProtocol):
            # a URL stored before validate_url refused it: the server is not reached, and the
            # credential is not at fault
            return Outcome.UNREACHABLE, f"invalid URL: {_short(str(leaf))}", False
        if isinstance(leaf, ResponseTooLarge):
            return Outcome.ERROR, f"protocol error: {leaf}", False
        if isinstance(leaf, httpx2.ConnectError):
            text = str(leaf)
            if "SSL" in text or "certificate" in text.lower():
                return Outcome.UNREACHABLE, f"TLS error: {_short(text)}", False
            if "name" in text.lower() and ("known" in text or "resolution" in text):
                return Outcome.UNREACHABLE, "DNS lookup failed: unknown host", False
            return Outcome.UNREACHABLE, "connection refused", False
        if isinstance(leaf, httpx2.RemoteProtocolError | httpx2.ReadError):
            return Outcome.UNREACHABLE, "connection closed mid-response", False
    server_errors = [s for s in statuses if s >= 500]
    if server_errors:
        return Outcome.UNREACHABLE, f"server error: HTTP {server_errors[-1]}", False
    client_errors = [s for s in statuses if s >= 400]
    if client_errors:
        return Outcome.ERROR, f"protocol error: HTTP {client_errors[-1]}, not an MCP endpoint", False
    for leaf in leaves:
        if isinstance(leaf, MCPError):
            return Outcome.ERROR, f"protocol error: {_short(leaf.error.message)}", False
    leaf = leaves[0]
    return Outcome.ERROR, f"protocol error: {type(leaf).__name__}: {_short(str(leaf))}", False


async def _exchange(session: ClientSession) -> int:
    await session.initialize()
    tools = await session.list_tools()
    return len(tools.tools)


class _Clients:
    """Makes the probe's httpx2 clients and keeps the status of every response they get."""

    def __init__(self, timeout: float, max_bytes: int) -> None:
        self.timeout, self.max_bytes = timeout, max_bytes
        self.statuses: list[int] = []

    async def _note(self, response: httpx2.Response) -> None:
        self.statuses.append(response.status_code)

    def __call__(self, headers: dict[str, str] | None = None,
                 timeout: httpx2.Timeout | None = None,
                 auth: httpx2.Auth | None = None) -> httpx2.AsyncClient:
        """The signature the SDK's SSE transport expects of a client factory."""
        return httpx2.AsyncClient(headers=headers, timeout=timeout or httpx2.Timeout(self.timeout),
                                  auth=auth, transport=_CappedTransport(self.max_bytes),
                                  event_hooks={"response": [self._note]})


async def _via_streamable_http(url: str, headers: dict[str, str] | None,
                               clients: _Clients) -> int:
    async with (
        clients(headers) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        return await _exchange(session)


async def _via_sse(url: str, headers: dict[str, str] | None, clients: _Clients) -> int:
    async with (
        sse_client(url, headers=headers, timeout=clients.timeout,
                   sse_read_timeout=clients.timeout, httpx_client_factory=clients) as (read, write),
        ClientSession(read, write) as session,
    ):
        return await _exchange(session)


async def probe_server(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    transport: str = "streamable-http",
    timeout: float = 10.0,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> Probe:
    """Check one server; never raises for anything the server does (it is all in the Probe).

    Streamable HTTP first; when the server answers that with 400/404/405, or when its transport
    is "sse", the legacy SSE transport on the same URL.
    """
    clients = _Clients(timeout, max_bytes)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            if transport == "sse":
                tools = await _via_sse(url, headers, clients)
            else:
                try:
                    tools = await _via_streamable_http(url, headers, clients)
                except Exception:
                    if not FALLBACK_STATUSES & set(clients.statuses[:1]):
                        raise
                    clients.statuses.clear()
                    tools = await _via_sse(url, headers, clients)
    except Exception as exc:  # noqa: BLE001  (whatever a server does becomes a result)
        outcome, reason, auth_failed = classify(exc, clients.statuses, timeout)
        return Probe(outcome, reason, _ms(started), None, auth_failed)
    return Probe(Outcome.OK, None, _ms(started), tools)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
