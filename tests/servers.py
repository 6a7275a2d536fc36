"""Servers the tests start on loopback ports: a port of their own, started, waited for, stopped.

A port taken with `bind(("127.0.0.1", 0))` and closed again comes from the kernel's ephemeral
range, the one every other worker's free ports and every outgoing connection draw from too. A
server needs seconds to import Panel and listen, and in that window another worker could be
handed the same port and start its own server on it: the test then talks to a stranger (the
likeliest cause of the OIDC consent page CI once waited for in vain). So each pytest-xdist worker
takes ports in turn from its own slice below the ephemeral range, skipping any that something
else holds, and a server is up only when the listener on its port is its own.

A server's output goes to a log file, never to a pipe: nobody reads a pipe while a test runs, and
a chatty server would block on a full one and hang. When it does not come up, or a test using it
fails, the failure message carries the log's tail.
"""

import itertools
import os
import secrets
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

START_TIMEOUT_S = 120  # a loaded 2-core machine can take over 30 s to import Panel and start
LOG_TAIL_CHARS = 3000
FIRST, LAST = 20000, 32767  # below Linux's default ip_local_port_range (32768-60999)


def _slice() -> range:
    """This worker's share of FIRST..LAST (all of it outside pytest-xdist)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    size = (LAST - FIRST + 1) // workers
    return range(FIRST + worker * size, FIRST + (worker + 1) * size)


_ports: Iterator[int] | None = None  # made on first use, once pytest-xdist has set its variables


def free_port(consecutive: int = 1) -> int:
    """The next port of this worker's slice that nothing listens on or is bound to (the first
    of `consecutive` such ports in a row, for a server that takes PORT, PORT+1, ...)."""
    global _ports
    ports = _slice()
    if _ports is None:  # from a random start: another run on this machine is likely elsewhere
        start = secrets.randbelow(len(ports))
        _ports = itertools.cycle([*ports[start:], *ports[:start]])
    for port in itertools.islice(_ports, len(ports)):
        if port + consecutive - 1 in ports and all(map(_bindable, range(port, port + consecutive))):
            for _ in range(consecutive - 1):  # the next call starts after them
                next(_ports)
            return port
    raise RuntimeError(f"no {consecutive} free loopback port(s) in a row in "
                       f"{ports.start}-{ports.stop - 1}")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def log_tail(log: Path) -> str:
    """The end of a server's log, to put in a failure message."""
    try:
        text = log.read_bytes()[-LOG_TAIL_CHARS:].decode(errors="replace")
    except OSError as exc:
        return f"(no server log: {exc})"
    return f"--- end of the server log {log} ---\n{text or '(empty)'}"


def _listens(pid: int, port: int) -> bool:
    """Whether process `pid` or one of its children listens on `port`."""
    try:
        parent = psutil.Process(pid)
        processes = [parent, *parent.children(recursive=True)]
        return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port
                   for p in processes for c in p.net_connections(kind="tcp"))
    except psutil.NoSuchProcess:  # it exited, or a child did between the two calls
        return False


def _wait_until_up(url: str | None, port: int, proc: subprocess.Popen[bytes],
                   timeout: float) -> None:
    """Wait for the server to listen on the port, then (with `url`) for one first page.

    The listener must be the server's own (or a child's): another process on the port would
    answer in its place, and the test would be talking to a stranger. One request with a long
    timeout, not a retry loop: each abandoned request leaves a session the server still builds,
    and on a loaded machine it would never catch up.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        if not _listens(proc.pid, port):
            time.sleep(0.2)
            continue
        if url is None:
            return
        with urllib.request.urlopen(url, timeout=max(1.0, deadline - time.monotonic())) as r:
            if r.status == 200:
                return
    raise RuntimeError(f"the server did not answer {url or f'on port {port}'} within {timeout} s")


@contextmanager
def serving(command: list[str], *, port: int, log: Path, env: dict[str, str], cwd: Path,
            ready_url: str | None, timeout: float = START_TIMEOUT_S
            ) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server with its stdout and stderr in `log` until the block ends.

    A start-up failure, and any exception the block raises (a test that could not reach the
    server), carries the log's tail.
    """
    with log.open("wb") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            _wait_until_up(ready_url, port, proc, timeout)
        except Exception as exc:
            raise RuntimeError(f"{exc}\n{log_tail(log)}") from exc
        try:
            yield proc
        except BaseException as exc:
            exc.add_note(log_tail(log))
            raise
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server this test started: politely, then for good after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
