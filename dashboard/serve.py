"""Start the dashboard with the right security settings: `python dashboard/serve.py`.

This is what `make run` uses. It decides, in one place, how people sign in:

- `local` (default): connmodel's own users (`connmodel user add`), through dashboard/auth.py.
- `oidc`: Panel's OAuth support (default provider `auth_code`: any OpenID Connect / OAuth2
  server, with PKCE), configured by the PANEL_OAUTH_* variables (see README);
  CONNMODEL_OIDC_ADMINS lists the users who get the admin role, everyone else is a viewer.
- `none`: no sign-in, everyone is the local admin. Only on a loopback address (`--no-auth-on-loopback`).

Beyond loopback it refuses to start without a cookie secret (and, for OIDC, an OAuth encryption
key), and says why. The addresses a browser may use are exactly the address served, the
`--public-url` and any `--allow-host`: every page, websocket and endpoint refuses another Host
or Origin (dashboard/host_guard.py; Tornado alone trusts a forged Host).

Deployment (docs/deployment.md): `--processes N` serves N processes on consecutive ports from
`--port`, supervised here: each stops when this process ends, however it ends. `--public-url`
is the address people use through the reverse proxy: it is allowed as Host and Origin and turns
on `--use-xheaders`, so the sign-in throttle and Secure cookies see the client's address and
scheme. `--pool-size` / `--max-overflow` size each process's PostgreSQL pool. `--worker` also
runs `connmodel worker` under the same supervision (one per deployment: say it on one host).

It runs Panel's own `panel serve` command in each process, with what `panel serve` has no
option for: every response passes through `dashboard.security_headers.SecurityHeaders`
(Content-Security-Policy and friends), a Tornado output transform handed to the Bokeh server;
the Host guard; websockets that send each change at once (dashboard/no_delay.py); `/healthz`
and `/metrics` (dashboard/metrics.py).
"""

import argparse
import ctypes
import gc
import ipaddress
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
LOOPBACK_NAMES = {"localhost"}
PR_SET_PDEATHSIG = 1
# No `--num-threads`: Panel 1.10.0's thread pool applies a worker thread's widget updates
# directly whenever any callback of the session holds the document lock (`_unblocked` asks
# whether the lock is held, not by whom), and Bokeh then raises in the middle of a callback: a
# filter change updated the cards and lost its URL (1 run in 6 of tests/ui). Events run on the
# server's loop; the read budget (CONNMODEL_READ_BUDGET_S) bounds how long one read holds it.


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_host(url: str) -> str:
    """The `host[:port]` a browser sends for `url` (http or https); SystemExit when malformed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SystemExit(f"--public-url must be an http(s) URL like https://console.example.com, "
                         f"not {url!r}")
    return parts.netloc.lower().rsplit("@", 1)[-1]


def panel_args(host: str, port: int, auth: str, env: dict[str, str], *,
               public_url: str | None = None, allow_hosts: Sequence[str] = ()) -> list[str]:
    """The `panel serve` command line; raises SystemExit with a reason when unsafe."""
    if auth not in {"local", "oidc", "none"}:
        raise SystemExit(f"unknown sign-in mode {auth!r}: choose local, oidc or none")
    loopback = is_loopback(host)
    if auth == "none" and not loopback:
        raise SystemExit(f"refusing to serve {host} without sign-in: --no-auth-on-loopback is "
                         "only for 127.0.0.1 / localhost")
    if not loopback and not env.get("PANEL_COOKIE_SECRET"):
        raise SystemExit(f"refusing to serve {host} without PANEL_COOKIE_SECRET: set it to a long "
                         "random value (python -c 'import secrets; print(secrets.token_urlsafe(32))') "
                         "and serve behind TLS")
    if auth == "oidc" and not env.get("PANEL_OAUTH_ENCRYPTION"):
        raise SystemExit("refusing to use OpenID Connect without PANEL_OAUTH_ENCRYPTION: "
                         "set it to a Fernet key (connmodel prints one: python -c "
                         "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')")
    origins = {f"{host}:{port}"} | ({f"localhost:{port}", f"127.0.0.1:{port}"} if loopback else set())
    origins |= {h.strip().lower() for h in allow_hosts if h.strip()}
    if public_url:
        origins.add(public_host(public_url))
    from dashboard.design import STATIC_DIRS

    args = ["serve", str(HERE / "app.py"), "--address", host, "--port", str(port),
            "--index", "app", "--num-procs", "1",
            # The HTML at once, the visitor's session built meanwhile (dashboard.first_screen).
            "--reuse-sessions", "warm",
            "--static-dirs", STATIC_DIRS]  # the console's font (dashboard.design)
    for origin in sorted(origins):
        args += ["--allow-websocket-origin", origin]
    if public_url:
        args += ["--use-xheaders"]  # the proxy's X-Forwarded-For / -Proto: client address, https
    if auth == "local":
        args += ["--auth-module", str(HERE / "auth.py")]
    elif auth == "oidc" and not env.get("PANEL_OAUTH_PROVIDER"):
        args += ["--oauth-provider", "auth_code"]  # Panel's generic provider with PKCE (S256)
    return args


def freeze_shared_objects() -> None:
    """Leave the objects every session shares out of the garbage collector's full passes.

    A full pass visits every tracked object and holds the server's loop, so every page of the
    process waits: Python runs one as sessions come, Panel one a few seconds after sessions
    end. The imports (Bokeh, Panel, SQLAlchemy, the pages) are ~290,000 objects, ~150 ms of
    each pass on this machine. Imported here, then frozen (`gc.freeze`): they live as long as
    the process anyway. `connmodel_gc_pass_seconds` in /metrics shows the passes.
    """
    import dashboard.app  # noqa: F401  builds nothing outside a session: its modules

    gc.freeze()


def serve(args: list[str]) -> None:
    """Run `panel serve ARGS` here, with the security headers on every response."""
    from bokeh.server.server import Server
    from panel.command.serve import Serve
    from panel.config import config
    from tornado.web import GZipContentEncoding

    from dashboard.auth import OidcLogoutHandler
    from dashboard.first_screen import html_key
    from dashboard.host_guard import guard_application, normal_hosts
    from dashboard.metrics import HealthHandler, MetricsHandler
    from dashboard.no_delay import send_at_once
    from dashboard.security_headers import for_apps

    class HardenedServe(Serve):
        app_paths: tuple[str, ...] = ()
        allowed: frozenset[str] = frozenset()

        def customize_applications(self, args: argparse.Namespace,
                                   applications: dict[str, Any]) -> dict[str, Any]:
            apps: dict[str, Any] = super().customize_applications(  # type: ignore[no-untyped-call]
                args, applications)
            self.app_paths = tuple(apps)  # "/app", and "/" for the --index
            return apps

        def customize_kwargs(self, args: argparse.Namespace,
                             server_kwargs: dict[str, Any]) -> dict[str, Any]:
            kwargs: dict[str, Any] = super().customize_kwargs(  # type: ignore[no-untyped-call]
                args, server_kwargs)
            # First, so it sees the body before any compression (Tornado's default list).
            compress = kwargs.get("compress_response") or kwargs.get("gzip")
            kwargs["transforms"] = [for_apps(self.app_paths),
                                    *([GZipContentEncoding] if compress else [])]
            self.allowed = normal_hosts(args.allow_websocket_origin or ())
            # OIDC: our /logout comes before Panel's (Bokeh adds the auth provider's routes
            # after these, and Tornado takes the first match): it also ends the store's session.
            logout = ([("/logout", OidcLogoutHandler)]
                      if os.environ.get("CONNMODEL_DASHBOARD_AUTH") == "oidc" else [])
            kwargs["extra_patterns"] = [*logout, *kwargs.get("extra_patterns", []),
                                        ("/healthz", HealthHandler), ("/metrics", MetricsHandler)]
            return kwargs

        def customize_server(self, server: Server) -> Server:
            # Bokeh's documented hook, once the server's routes are final. Bokeh's Server keeps
            # its Tornado application in `_tornado` (no public accessor); tests/security/
            # test_host_guard.py fails if that ever stops guarding every route.
            guard_application(server._tornado, self.allowed)
            send_at_once(server._tornado)
            freeze_shared_objects()
            return server

    config.session_key_func = html_key  # a kept session's HTML serves only its own theme
    # Panel's own pages (the OAuth error page) link Roboto from Google Fonts unless a font is
    # named: the system's, as the console's sign-in page uses.
    config.page_config = {"theme_config": {"typography": {"fontFamily": "system-ui, sans-serif"}}}
    parser = argparse.ArgumentParser(prog="panel serve")
    command = HardenedServe(parser=parser)
    try:
        command.invoke(parser.parse_args(args[1:]))  # args[0] is "serve"
    except Exception as exc:  # as `panel serve` reports them: one line, not a traceback
        raise SystemExit(f"ERROR: {exc}") from exc


def _die_with_parent() -> None:
    """In a child, before exec: the kernel sends it SIGTERM when the supervisor dies, even by
    SIGKILL, so no dashboard is left serving orphaned (Linux's PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def supervise(commands: list[list[str]]) -> int:
    """Run the commands as children until one exits or this process is told to stop; then
    stop them all. Returns the exit code to leave with."""
    # The supervisor runs no threads, so preexec_fn is safe here.
    children = [subprocess.Popen(c, preexec_fn=_die_with_parent)  # noqa: PLW1509
                for c in commands]
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.terminate()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    try:
        _pid, status = os.wait()  # the first child to end ends the group
    except ChildProcessError:
        status = 0
    stop()
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
    return 0 if stopping else (os.waitstatus_to_exitcode(status) or 1)


def child_commands(opts: argparse.Namespace) -> list[list[str]]:
    """One `serve.py` per port (and `connmodel worker` with --worker), as this one was asked."""
    base = [sys.executable, str(Path(__file__).resolve()), "--host", opts.host,
            "--auth", opts.auth_mode]
    if opts.public_url:
        base += ["--public-url", opts.public_url]
    for host in opts.allow_host:
        base += ["--allow-host", host]
    commands = [[*base, "--port", str(opts.port + i)] for i in range(opts.processes)]
    if opts.worker:
        commands.append([sys.executable, "-m", "connmodel", "worker"])
    return commands


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("CONNMODEL_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("CONNMODEL_PORT", "5006")))
    parser.add_argument("--auth", default=os.environ.get("CONNMODEL_DASHBOARD_AUTH", "local"),
                        help="local (default), oidc or none")
    parser.add_argument("--no-auth-on-loopback", action="store_true",
                        help="development only: no sign-in, everyone is the local admin")
    parser.add_argument("--processes", type=int, default=1,
                        help="serve N processes on ports PORT..PORT+N-1 (default 1); behind a "
                        "proxy with sticky routing, see deploy/nginx.conf")
    parser.add_argument("--public-url", default=os.environ.get("CONNMODEL_PUBLIC_URL"),
                        help="the address people use, through the reverse proxy "
                        "(https://console.example.com): allowed as Host/Origin, and the "
                        "proxy's X-Forwarded-* headers are trusted")
    parser.add_argument("--allow-host", action="append", default=[], metavar="HOST[:PORT]",
                        help="another Host a browser may use (repeatable)")
    parser.add_argument("--pool-size", type=int, default=None,
                        help="PostgreSQL connections each process keeps (default 5)")
    parser.add_argument("--max-overflow", type=int, default=None,
                        help="extra PostgreSQL connections each process may open at peaks "
                        "(default 10)")
    parser.add_argument("--worker", action="store_true",
                        help="also run `connmodel worker` (token refresh, revocations, "
                        "webhooks, scheduled checks): on ONE host of a deployment")
    opts = parser.parse_args(argv)
    from dashboard.pages.connections import spinner_delay_ms  # the app's own module, loaded late

    try:  # refused here, not in each session's page
        spinner_delay_ms()
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    if not 1 <= opts.processes <= 64:
        raise SystemExit(f"--processes must be between 1 and 64, not {opts.processes}")
    for name in ("pool_size", "max_overflow"):
        value = getattr(opts, name)
        if value is not None:
            if not 0 <= value <= 1000:
                raise SystemExit(f"--{name.replace('_', '-')} must be between 0 and 1000")
            os.environ[f"CONNMODEL_{name.upper()}"] = str(value)  # read by connmodel.store
    auth = opts.auth_mode = "none" if opts.no_auth_on_loopback else opts.auth
    args = panel_args(opts.host, opts.port, auth, dict(os.environ), public_url=opts.public_url,
                      allow_hosts=opts.allow_host)
    os.environ["CONNMODEL_DASHBOARD_AUTH"] = auth  # the app reads it to find the acting user
    if opts.processes > 1 or opts.worker:
        raise SystemExit(supervise(child_commands(opts)))
    if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
        # `python dashboard/serve.py` put dashboard/ first on the path, where its modules
        # (auth, app, pages, ...) would shadow top-level names: serve from the project root.
        sys.path[0] = str(HERE.parent)
    serve(args)


if __name__ == "__main__":
    main()
