"""Run checks: many connections at once, bounded, with results reported as they arrive.

`check_connections` is the async API (the dashboard awaits it on its own event loop: every
database step runs in a worker thread, every probe is non-blocking I/O). `run_checks` is the
sync wrapper for the CLI, scripts and notebooks. At most `concurrency` servers are probed at
once, each under its own `timeout`; targets are loaded LOAD_CHUNK connections at a time (memory
stays bounded on a million connections); one writer task stores finished connections in
batches, so fifty probes finishing together cost one transaction, not fifty competing ones.
"""

import asyncio
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from connmodel.checks.defaults import DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT
from connmodel.checks.probe import Outcome, Probe, probe_server
from connmodel.checks.record import ConnectionCheck, ServerCheck, decide, prune_history, save_checks
from connmodel.checks.targets import (
    ConnectionTarget,
    ServerTarget,
    load_targets,
    select_connection_ids,
)
from connmodel.errors import InvalidInput
from connmodel.models import utcnow
from connmodel.permissions import Action, Actor, require
from connmodel.secrets import KeyRing
from connmodel.store import session
from connmodel.webhooks import deliver_due, env_targets

ENV_INTERVAL = "CONNMODEL_CHECK_INTERVAL"
MIN_INTERVAL = 30.0
MAX_CONCURRENCY = 500
LOAD_CHUNK = 1000

ProgressFn = Callable[[ConnectionCheck, int, int], None]
"""Called with each connection's stored check, how many are done, and how many in all."""


@dataclass(frozen=True)
class CheckRequest:
    """What to check and how hard: the CLI's and the dashboard's options, validated once."""

    ids: tuple[int, ...] = ()
    profile: str | None = None
    all_connections: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise InvalidInput(f"concurrency must be between 1 and {MAX_CONCURRENCY}, "
                               f"not {self.concurrency}")
        if not 0.1 <= self.timeout <= 300:
            raise InvalidInput(f"timeout must be between 0.1 and 300 seconds, not {self.timeout:g}")


def check_interval(raw: str | None = None) -> float | None:
    """Seconds between scheduled checks of every connection (the dashboard's schedule).

    From `raw` or $CONNMODEL_CHECK_INTERVAL; off (None) when unset, empty or 0.
    """
    raw = (os.environ.get(ENV_INTERVAL, "") if raw is None else raw).strip()
    if raw in ("", "0"):
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise InvalidInput(f"{ENV_INTERVAL} must be a number of seconds, not {raw[:20]!r}") from None
    if not MIN_INTERVAL <= seconds <= 7 * 86400:
        raise InvalidInput(f"{ENV_INTERVAL} must be between {MIN_INTERVAL:g} seconds and a week, "
                           f"not {seconds:g}")
    return seconds


def _select(database: str | None, request: CheckRequest, actor: Actor) -> list[int]:
    with session(database) as s:
        require(actor, Action.WRITE, s, attempted="check_connections")
        env_targets()  # a misconfigured webhook fails the run before any probe, not mid-way
        return select_connection_ids(s, ids=list(request.ids), profile=request.profile,
                                     all_connections=request.all_connections)


def _load(database: str | None, ids: list[int],
          keyring: KeyRing | None) -> list[ConnectionTarget]:
    with session(database) as s:
        return load_targets(s, ids, keyring)


def _save(database: str | None, batch: list[ConnectionCheck], actor: Actor,
          keyring: KeyRing | None) -> None:
    with session(database) as s:
        save_checks(s, batch, actor=actor, keyring=keyring)


def _prune(database: str | None) -> None:
    with session(database) as s:
        prune_history(s)


def _deliver(database: str | None, keyring: KeyRing) -> None:
    with session(database) as s:
        deliver_due(s, keyring=keyring)


async def _check_one(target: ConnectionTarget, gate: asyncio.Semaphore,
                     timeout: float) -> ConnectionCheck:
    async def one(server: ServerTarget) -> ServerCheck:
        async with gate:
            probe: Probe = await probe_server(server.url, headers=target.headers,
                                              transport=server.transport, timeout=timeout)
        return ServerCheck(server.id, server.name, server.url, probe.outcome, probe.reason,
                           probe.latency_ms, probe.tool_count)

    if target.credential_problem:  # nothing to send: each server is marked, none contacted
        servers = tuple(ServerCheck(s.id, s.name, s.url, Outcome.ERROR,
                                    target.credential_problem, None) for s in target.servers)
    else:
        servers = tuple(await asyncio.gather(*(one(s) for s in target.servers)))
    now = utcnow()
    status, reason, decided = decide(target, servers, now)
    return ConnectionCheck(target.id, target.profile, target.service, target.account,
                           target.status, status, reason, servers, now, decided)


async def check_connections(
    database: str | None,
    *,
    actor: Actor,
    request: CheckRequest,
    keyring: KeyRing | None,
    on_result: ProgressFn | None = None,
    deliver_webhooks: bool = False,
) -> list[ConnectionCheck]:
    """Check the requested connections; store and report each as it finishes.

    Returns the checks in the order they finished. The keyring decrypts credentials and signs
    webhook deliveries; without one only no-auth connections can be checked. With
    `deliver_webhooks`, due notifications are sent once every check is stored (never before:
    a slow receiver must not hold up a check).
    """
    ids = await asyncio.to_thread(_select, database, request, actor)
    gate = asyncio.Semaphore(request.concurrency)
    queue: asyncio.Queue[ConnectionCheck | None] = asyncio.Queue()
    done: list[ConnectionCheck] = []

    async def writer() -> None:
        finished = False
        while not finished:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            finished = None in batch
            checks = [c for c in batch if c is not None]
            if checks:
                await asyncio.to_thread(_save, database, checks, actor, keyring)
            for check in checks:
                done.append(check)
                if on_result:
                    on_result(check, len(done), len(ids))

    async def producer(target: ConnectionTarget) -> None:
        await queue.put(await _check_one(target, gate, request.timeout))

    writing = asyncio.create_task(writer())
    try:
        for start in range(0, len(ids), LOAD_CHUNK):  # bounded memory on a million connections
            targets = await asyncio.to_thread(_load, database, ids[start:start + LOAD_CHUNK],
                                              keyring)
            await asyncio.gather(*(producer(t) for t in targets))
    finally:
        await queue.put(None)
        await writing
    await asyncio.to_thread(_prune, database)
    if deliver_webhooks and keyring is not None:
        await asyncio.to_thread(_deliver, database, keyring)
    return done


def run_checks(
    database: str | None,
    *,
    actor: Actor,
    request: CheckRequest,
    keyring: KeyRing | None,
    on_result: ProgressFn | None = None,
    deliver_webhooks: bool = False,
) -> list[ConnectionCheck]:
    """Sync wrapper of check_connections; safe to call where an event loop is already running
    (a notebook): the checks then get their own loop in a worker thread."""
    coro = check_connections(database, actor=actor, request=request, keyring=keyring,
                             on_result=on_result, deliver_webhooks=deliver_webhooks)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["result"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001  (re-raised in the caller's thread)
            box["error"] = exc

    worker = threading.Thread(target=work, name="connmodel-checks")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


