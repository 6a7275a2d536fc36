"""Serving the API with uvicorn, safe by default: loopback unless TLS or a proxy is named.

A token travels in every request's Authorization header, so the API refuses to listen on a
non-loopback address in clear text unless the operator says a TLS-terminating proxy is in front
(`--behind-proxy`). Uvicorn's access log shows method, path and status: never a header, so
never a token; the broker's credentials are only ever in response bodies.
"""

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connmodel.errors import InvalidInput
from connmodel.providers.endpoints import is_loopback

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


@dataclass(frozen=True)
class ServeOptions:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    behind_proxy: bool = False
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    workers: int = 1
    database_url: str | None = None


def check_options(options: ServeOptions) -> None:
    """InvalidInput for a clear-text bind beyond loopback, or TLS half-configured."""
    if bool(options.ssl_certfile) != bool(options.ssl_keyfile):
        raise InvalidInput("TLS needs both --ssl-certfile and --ssl-keyfile")
    for path in (options.ssl_certfile, options.ssl_keyfile):
        if path is not None and not path.is_file():
            raise InvalidInput(f"no such file: {path}")
    if not is_loopback(options.host) and not options.ssl_certfile and not options.behind_proxy:
        raise InvalidInput(
            f"refusing to serve API tokens in clear text on {options.host}: give "
            "--ssl-certfile and --ssl-keyfile, or --behind-proxy when a TLS-terminating proxy "
            "is in front (or bind 127.0.0.1)")
    if not 1 <= options.workers <= 64:
        raise InvalidInput(f"--workers is {options.workers}: between 1 and 64")


def serve(options: ServeOptions) -> None:
    """Run uvicorn until interrupted (the app is built in each worker from the environment).

    Several workers listen on sockets of their own (`WorkerSocket`) where the system allows
    it, under uvicorn's supervisor all the same (health checks, restarts, SIGHUP)."""
    import uvicorn

    check_options(options)
    if options.database_url:
        os.environ["CONNMODEL_DATABASE_URL"] = options.database_url
    settings: dict[str, Any] = {
        "app": "connmodel.api.app:create_app", "factory": True,
        "host": options.host, "port": options.port, "workers": options.workers,
        "ssl_certfile": str(options.ssl_certfile) if options.ssl_certfile else None,
        "ssl_keyfile": str(options.ssl_keyfile) if options.ssl_keyfile else None,
        "proxy_headers": options.behind_proxy, "server_header": False, "date_header": True,
        "timeout_graceful_shutdown": 5, "log_level": "info",
    }
    if options.workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(**settings)
        return
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(**settings)
    # Bound and never listening: the port is taken (a clear error if it is not free) and this
    # socket gets no connection.
    with reusing_port(options.host, options.port):
        logging.getLogger("uvicorn.error").info(
            "Uvicorn running on %s://%s:%d, %d workers with a socket each",
            "https" if options.ssl_certfile else "http", options.host, options.port,
            options.workers)
        Multiprocess(config, sockets=[WorkerSocket(options.host, options.port)]).run()  # type: ignore[list-item]


def reusing_port(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port with SO_REUSEPORT (not yet listening)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


class WorkerSocket:
    """What uvicorn's supervisor hands each worker instead of one shared listening socket: its
    workers are spawned, so this is pickled, and unpickled in the worker as a socket of its own
    on the same port (SO_REUSEPORT): the kernel spreads new connections over the workers.

    A shared socket gives a burst of connections to whichever worker wakes first, and asyncio
    accepts all that wait at once: a gateway opening its 16 keep-alive connections together had
    one worker for all of them in half the runs (`bench/api.py`), one core of two idle."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def __reduce__(self) -> tuple[Any, ...]:
        return reusing_port, (self.host, self.port)
