"""Start the dashboard with the right security settings: `python dashboard/serve.py`.

This is what `make run` uses. It decides, in one place, how people sign in:

- `local` (default): connmodel's own users (`connmodel user add`), through dashboard/auth.py.
- `oidc`: Panel's OAuth support (default provider `auth_code`: any OpenID Connect / OAuth2
  server, with PKCE), configured by the PANEL_OAUTH_* variables (see README);
  CONNMODEL_OIDC_ADMINS lists the users who get the admin role, everyone else is a viewer.
- `none`: no sign-in, everyone is the local admin. Only on a loopback address (`--no-auth-on-loopback`).

Beyond loopback it refuses to start without a cookie secret (and, for OIDC, an OAuth encryption
key), and says why. Websocket origins are exactly the address served.

It runs Panel's own `panel serve` command in this process, with one addition `panel serve` has no
option for: every response passes through `dashboard.security_headers.SecurityHeaders`
(Content-Security-Policy and friends), a Tornado output transform handed to the Bokeh server.
"""

import argparse
import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def panel_args(host: str, port: int, auth: str, env: dict[str, str]) -> list[str]:
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
    args = ["serve", str(HERE / "app.py"), "--address", host, "--port", str(port),
            "--index", "app", "--num-procs", "1"]
    for origin in sorted(origins):
        args += ["--allow-websocket-origin", origin]
    if auth == "local":
        args += ["--auth-module", str(HERE / "auth.py")]
    elif auth == "oidc" and not env.get("PANEL_OAUTH_PROVIDER"):
        args += ["--oauth-provider", "auth_code"]  # Panel's generic provider with PKCE (S256)
    return args


def serve(args: list[str]) -> None:
    """Run `panel serve ARGS` here, with the security headers on every response."""
    from panel.command.serve import Serve
    from tornado.web import GZipContentEncoding

    from dashboard.security_headers import for_apps

    class HardenedServe(Serve):
        app_paths: tuple[str, ...] = ()

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
            return kwargs

    parser = argparse.ArgumentParser(prog="panel serve")
    command = HardenedServe(parser=parser)
    try:
        command.invoke(parser.parse_args(args[1:]))  # args[0] is "serve"
    except Exception as exc:  # as `panel serve` reports them: one line, not a traceback
        raise SystemExit(f"ERROR: {exc}") from exc


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("CONNMODEL_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("CONNMODEL_PORT", "5006")))
    parser.add_argument("--auth", default=os.environ.get("CONNMODEL_DASHBOARD_AUTH", "local"),
                        help="local (default), oidc or none")
    parser.add_argument("--no-auth-on-loopback", action="store_true",
                        help="development only: no sign-in, everyone is the local admin")
    opts = parser.parse_args(argv)
    auth = "none" if opts.no_auth_on_loopback else opts.auth
    args = panel_args(opts.host, opts.port, auth, dict(os.environ))
    os.environ["CONNMODEL_DASHBOARD_AUTH"] = auth  # the app reads it to find the acting user
    if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
        # `python dashboard/serve.py` put dashboard/ first on the path, where its modules
        # (auth, app, pages, ...) would shadow top-level names: serve from the project root.
        sys.path[0] = str(HERE.parent)
    serve(args)


if __name__ == "__main__":
    main()
