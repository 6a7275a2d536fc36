"""`connmodel connect`, `reauthorize`, `update-key`, `disable`, `enable`, `refresh`,
`revocations` and `provider add-oauth`: real providers from the terminal.

`connmodel refresh` (cron) and `connmodel refresh --watch N` (a worker process) run at a lower
CPU priority (nice 10 by default): refreshing is background work, and on a host it shares with
the dashboard the scheduler should serve the pages first.

For OAuth2, `connect` prints the authorization URL and serves the callback itself on a loopback
port (http://127.0.0.1:PORT/callback) until the browser comes back; `--print-url` only prints
the URL and state, to finish later with `--state S --code C`. Secrets (client secrets, API keys)
are read from a hidden prompt or stdin, never from the command line.
"""

import html
import os
import signal
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import typer

from connmodel.cli import app
from connmodel.cli.common import (
    ID_MAX,
    DatabaseOpt,
    Format,
    FormatOpt,
    cli_actor,
    emit_json,
    emit_table,
    not_empty,
    proven_keyring,
    read_secret,
    refuse_together,
    refuse_without,
    store,
)
from connmodel.cli.connections import ConnectionId
from connmodel.cli.profiles import provider_app
from connmodel.errors import ConnModelError, InvalidInput
from connmodel.models import Connection, ProviderConfig
from connmodel.permissions import Actor
from connmodel.providers import authorization, lifecycle
from connmodel.providers import connect as connecting
from connmodel.providers import refresh as refreshing
from connmodel.providers.background import BackgroundRefresher, Cycle
from connmodel.providers.records import live, profile_with_provider
from connmodel.providers.revocations import deliver_due
from connmodel.secrets import KeyRing
from connmodel.services.keys import checked_keyring
from connmodel.services.revocations import list_revocations
from connmodel.status import ProviderKind

ServerOpt = Annotated[list[str] | None, typer.Option(
    "--server", "-s", help="An MCP server to use this profile (repeatable).", show_default=False)]
PortOpt = Annotated[int, typer.Option(
    "--port", help="Loopback port of the callback listener (0: any free port).", min=0,
    max=65535)]
TimeoutOpt = Annotated[int, typer.Option(
    "--timeout", help="Seconds to wait for the browser to come back.", min=1)]
NICE = 10  # `connmodel refresh` without --id is background work (see its --nice)


def _describe(conn: Connection, profile: str) -> str:
    return (f"connection {conn.id}: {profile} / {conn.service} / {conn.account} "
            f"({conn.status}{': ' + conn.status_reason if conn.status_reason else ''})")


def _refuse_print_url(print_url: bool, profile: str, provider: ProviderConfig) -> None:
    """--print-url prints an authorization-code flow's URL: a profile of another kind has none,
    and would have connected (or asked for a key) instead."""
    if print_url and provider.kind != ProviderKind.OAUTH2.value:
        raise InvalidInput(f"--print-url is only for OAuth2 (authorization code) profiles; "
                           f"{profile!r} uses {provider.name} ({provider.kind}): leave "
                           "--print-url out")


def _finishing(state: str | None, code: str | None, print_url: bool,
               redirect_uri: str | None) -> bool:
    """Whether connect finishes a printed flow: --state and --code come together (alone, the
    state was spent for want of a code) and not with --print-url; --redirect-uri only with
    --print-url (a listening flow redirects to its own loopback URI)."""
    refuse_together("--print-url", print_url, {"--state": state, "--code": code})
    refuse_without("--redirect-uri", redirect_uri, "--print-url", print_url)
    if (state is None) != (code is None):
        raise InvalidInput("--state and --code finish a printed flow together: give both")
    return state is not None


class _Callback(BaseHTTPRequestHandler):
    """Answers GET /callback?state=..&code=.. once, finishing the flow in this process."""

    complete: Any = None
    outcome: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/callback":
            self.send_error(404)
            return
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        try:
            message = self.complete(params)
            self.outcome["message"] = message
            status = 200
        except ConnModelError as exc:
            self.outcome["error"] = exc
            message, status = f"Not connected: {exc}", 400
        body = (f"<!doctype html><title>connmodel</title><p>{html.escape(message)}</p>"
                "<p>You can close this window.</p>").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        threading.Thread(target=self.server.shutdown, daemon=True).start()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _browser_flow(database: str | None, actor: Actor, keyring: KeyRing, *, profile: str,
                  servers: list[str], connection_id: int | None, port: int, timeout: int,
                  print_url: bool, redirect_uri: str | None) -> None:
    server = None
    if not print_url:
        server = HTTPServer(("127.0.0.1", port), _Callback)
        redirect_uri = f"http://127.0.0.1:{server.server_port}/callback"
    redirect_uri = redirect_uri or "http://127.0.0.1:8765/callback"
    with store(database) as s:
        start = authorization.begin_authorization(
            s, actor=actor, keyring=keyring, profile=profile, redirect_uri=redirect_uri,
            servers=servers, connection_id=connection_id)
    typer.echo("Open this URL in a browser to authorize:")
    typer.echo(start.url)
    if server is None:
        typer.echo(f"state: {start.state}")
        typer.echo(f"then: connmodel connect {profile!r} --state STATE --code CODE")
        return

    def complete(params: dict[str, str]) -> str:
        with store(database) as s:
            conn = authorization.complete_authorization(
                s, actor=actor, keyring=keyring, state=params.get("state", ""),
                code=params.get("code"), error=params.get("error"),
                error_description=params.get("error_description"))
            return _describe(conn, profile)

    class Handler(_Callback):
        outcome: ClassVar[dict[str, Any]] = {}

    Handler.complete = staticmethod(complete)
    server.RequestHandlerClass = Handler
    typer.echo(f"waiting for the callback on {redirect_uri} (up to {timeout} s) ...")
    timer = threading.Timer(timeout, server.shutdown)
    timer.start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        timer.cancel()
        server.server_close()
    if "error" in Handler.outcome:
        raise Handler.outcome["error"]
    if "message" not in Handler.outcome:
        raise InvalidInput(f"no callback within {timeout} s: nothing was connected")
    typer.echo(Handler.outcome["message"])


@app.command()
def connect(
    profile: Annotated[str, typer.Argument(help="The profile to connect, e.g. Google.")],
    server: ServerOpt = None,
    state: Annotated[str | None, typer.Option(
        "--state", help="Finish a printed flow: the callback's state.", show_default=False,
        callback=not_empty("the state the flow printed"))] = None,
    code: Annotated[str | None, typer.Option(
        "--code", help="Finish a printed flow: the callback's code.", show_default=False,
        callback=not_empty("the code the flow printed"))] = None,
    print_url: Annotated[bool, typer.Option(
        "--print-url", help="OAuth2: only print the URL and state; do not listen.")] = False,
    redirect_uri: Annotated[str | None, typer.Option(
        "--redirect-uri", help="With --print-url: the redirect URI registered at the provider.",
        show_default=False)] = None,
    port: PortOpt = 0,
    timeout: TimeoutOpt = 300,
    database: DatabaseOpt = None,
) -> None:
    """Connect a profile: none at once, API key from a hidden prompt, OAuth2 in a browser."""
    finishing = _finishing(state, code, print_url, redirect_uri)
    actor = cli_actor()
    with store(database) as s:
        keyring = checked_keyring(s)  # a wrong key must not write a secret nobody can read
        _, provider = profile_with_provider(s, profile)
        if finishing:
            conn = authorization.complete_authorization(s, actor=actor, keyring=keyring,
                                                        state=state or "", code=code)
            typer.echo(_describe(conn, profile))
            return
        _refuse_print_url(print_url, profile, provider)
        if provider.kind != ProviderKind.OAUTH2.value:
            key = read_secret("API key") if provider.kind == ProviderKind.API_KEY.value else None
            conn = connecting.connect_profile(s, actor=actor, keyring=keyring, profile=profile,
                                              api_key=key, servers=server or [])
            typer.echo(_describe(conn, profile))
            return
    _browser_flow(database, actor, keyring, profile=profile, servers=server or [],
                  connection_id=None, port=port, timeout=timeout, print_url=print_url,
                  redirect_uri=redirect_uri)


@app.command()
def reauthorize(
    connection_id: ConnectionId,
    port: PortOpt = 0,
    timeout: TimeoutOpt = 300,
    print_url: Annotated[bool, typer.Option(
        "--print-url", help="Only print the URL and state; do not listen.")] = False,
    database: DatabaseOpt = None,
) -> None:
    """Run the OAuth2 flow again for an Inactive or Error connection (back to Active).

    For an API key connection it asks for the new key (as update-key does); for client
    credentials it fetches a new token.
    """
    actor = cli_actor()
    with store(database) as s:
        keyring = checked_keyring(s)  # a wrong key must not write a secret nobody can read
        linked = live(s, connection_id)
        _refuse_print_url(print_url, linked.profile.name, linked.provider)
        if linked.provider.kind == ProviderKind.API_KEY.value:
            conn = connecting.update_key(s, actor=actor, keyring=keyring,
                                         connection_id=connection_id,
                                         api_key=read_secret("new API key"))
            typer.echo(_describe(conn, linked.profile.name))
            return
        if linked.provider.kind == ProviderKind.CLIENT_CREDENTIALS.value:
            outcome = refreshing.refresh_connection(s, actor=actor, keyring=keyring,
                                                    connection_id=connection_id)
            typer.echo(f"connection {connection_id}: {outcome.result}"
                       + (f" ({outcome.message})" if outcome.message else ""))
            return
    _browser_flow(database, actor, keyring, profile=linked.profile.name, servers=[],
                  connection_id=connection_id, port=port, timeout=timeout, print_url=print_url,
                  redirect_uri=None)


@app.command("update-key")
def update_key(connection_id: ConnectionId, database: DatabaseOpt = None) -> None:
    """Replace an API key connection's key (hidden prompt or stdin); it becomes Active again."""
    actor, keyring = cli_actor(), proven_keyring(database)
    with store(database) as s:  # a wrong id is said before the key is asked for
        connecting.key_connection(s, connection_id)
    key = read_secret("new API key")
    with store(database) as s:
        conn = connecting.update_key(s, actor=actor, keyring=keyring,
                                     connection_id=connection_id, api_key=key)
        typer.echo(_describe(conn, live(s, connection_id).profile.name))


@app.command()
def disable(connection_id: ConnectionId, database: DatabaseOpt = None) -> None:
    """Disable a connection without deleting it: Inactive, its servers disconnected."""
    with store(database) as s:
        result = lifecycle.disable_connection(s, actor=cli_actor(), connection_id=connection_id)
    typer.echo(f"connection {result.id} disabled ({result.status_reason}); disconnected: "
               + (", ".join(result.servers) or "none"))


@app.command()
def enable(connection_id: ConnectionId, database: DatabaseOpt = None) -> None:
    """Enable a disabled connection and reconnect the servers its disabling disconnected."""
    with store(database) as s:
        result = lifecycle.enable_connection(s, actor=cli_actor(), connection_id=connection_id)
    typer.echo(f"connection {result.id} enabled: {result.status}"
               + (f" ({result.status_reason})" if result.status_reason else "")
               + "; reconnected: " + (", ".join(result.servers) or "none"))


def _counts(outcomes: list[refreshing.RefreshOutcome]) -> str:
    counts = Counter(o.result for o in outcomes)
    return ", ".join(f"{n} {r}" for r, n in sorted(counts.items())) or "nothing due"


def _watch(database: str | None, actor: Actor, keyring: KeyRing, *, every: int,
           window: timedelta, concurrency: int) -> None:
    """Refresh what is due every `every` seconds until SIGTERM / Ctrl-C (after the cycle in
    flight: a refresh cut short would lose a token the provider already rotated)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def report(cycle: Cycle) -> None:
        line = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC: " + (
            f"error: {cycle.error}" if cycle.error else _counts(cycle.refreshed)
            + "; provider revocations: "
            + ", ".join(f"{n} {k}" for k, n in cycle.revocations.items()))
        typer.echo(line)

    typer.echo(f"refreshing tokens due within {window} every {every} s (Ctrl-C or SIGTERM stops "
               "after the cycle in flight)")
    BackgroundRefresher(database, keyring, interval=every, window=window,
                        concurrency=concurrency, actor=actor).run_until(stop, report)


@app.command()
def refresh(
    connection_id: Annotated[int | None, typer.Option(
        "--id", help="Refresh this connection now (Refresh now).", min=1, max=ID_MAX,
        show_default=False)] = None,
    window: Annotated[int, typer.Option(
        "--window", help="Refresh tokens expiring within this many minutes.", min=0,
        max=366 * 24 * 60)] = 10,
    concurrency: Annotated[int, typer.Option(
        "--concurrency", help="Refreshes in flight at once.", min=1, max=64)] = 4,
    watch: Annotated[int | None, typer.Option(
        "--watch", help="Keep running as a worker: refresh what is due every N seconds.",
        min=1, show_default=False)] = None,
    nice: Annotated[int, typer.Option(
        "--nice", help="Lower the CPU priority of a due-token run (cron, --watch) by N, so a "
        "dashboard or API on the same host answers first (0: normal priority; --id never).",
        min=0, max=19)] = NICE,
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Refresh OAuth tokens due soon and send queued provider revocations (run it from cron, or
    as a worker with --watch).

    Exits 3 when a provider refused a refresh (the connection is now Error).
    """
    if connection_id is not None and watch is not None:
        raise InvalidInput("--watch refreshes what is due; it takes no --id")
    actor, keyring = cli_actor(), proven_keyring(database)  # a wrong key must claim nothing
    if connection_id is None and nice:
        os.nice(nice)  # background work: the scheduler serves interactive processes first
    if watch is not None:
        _watch(database, actor, keyring, every=watch, window=timedelta(minutes=window),
               concurrency=concurrency)
        return
    with store(database) as s:
        if connection_id is not None:
            outcomes = [refreshing.refresh_connection(s, actor=actor, keyring=keyring,
                                                      connection_id=connection_id)]
        else:
            outcomes = refreshing.refresh_due(s, actor=actor, keyring=keyring,
                                              window=timedelta(minutes=window),
                                              concurrency=concurrency)
        revocations = deliver_due(s, keyring=keyring, actor=actor)
    if fmt is Format.JSON:
        emit_json({"refreshed": [o.__dict__ for o in outcomes], "revocations": revocations})
    else:
        emit_table("Refresh", ["Connection", "Result", "Message"],
                   [(o.connection_id, o.result, o.message) for o in outcomes])
        typer.echo(_counts(outcomes))
        typer.echo("provider revocations: " + ", ".join(f"{n} {k}" for k, n in revocations.items()))
    if any(o.result == "error" for o in outcomes):
        raise typer.Exit(3)


@app.command()
def revocations(
    all_: Annotated[bool, typer.Option("--all", help="Include delivered and given-up ones.")] = False,
    deliver: Annotated[bool, typer.Option("--deliver", help="Send the due ones now.")] = False,
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Provider-side revocations (RFC 7009) waiting in the queue, with attempts and last error."""
    actor = cli_actor()
    with store(database) as s:
        if deliver:
            counts = deliver_due(s, keyring=checked_keyring(s), actor=actor)
            typer.echo("delivered: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
        rows = list_revocations(s, actor=actor, pending_only=not all_)
    if fmt is Format.JSON:
        emit_json([r.__dict__ for r in rows])
        return
    emit_table("Provider revocations", ["ID", "Connection", "Provider", "State", "Attempts",
                                        "Next attempt", "Last error"],
               [(r.id, r.connection_id, r.provider, r.state, r.attempts, r.next_attempt_at,
                 r.last_error) for r in rows])


@provider_app.command("add-oauth")
def provider_add_oauth(
    name: Annotated[str, typer.Argument(help="Display name, e.g. 'Google OAuth2 Provider'.")],
    client_id: Annotated[str, typer.Option("--client-id", help="The OAuth2 client id.")],
    scopes: Annotated[str, typer.Option("--scopes", help="Space-separated scopes.")] = "",
    google: Annotated[bool, typer.Option("--google", help="Use Google's endpoints.")] = False,
    issuer: Annotated[str | None, typer.Option(
        "--issuer", help="Discover the endpoints from this issuer URL.", show_default=False)] = None,
    authorize_url: Annotated[str | None, typer.Option("--authorize-url", show_default=False,
                                                      help="Explicit endpoint.")] = None,
    token_url: Annotated[str | None, typer.Option("--token-url", show_default=False,
                                                  help="Explicit endpoint.")] = None,
    revocation_url: Annotated[str | None, typer.Option("--revocation-url", show_default=False,
                                                       help="Explicit endpoint.")] = None,
    userinfo_url: Annotated[str | None, typer.Option("--userinfo-url", show_default=False,
                                                     help="Explicit endpoint.")] = None,
    machine: Annotated[bool, typer.Option(
        "--client-credentials", help="Machine-to-machine (client credentials grant).")] = False,
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Add an OAuth2 provider config; the client secret is read from a hidden prompt or stdin."""
    refuse_together("--google", google, {
        "--client-credentials": machine, "--issuer": issuer, "--authorize-url": authorize_url,
        "--token-url": token_url, "--revocation-url": revocation_url,
        "--userinfo-url": userinfo_url})
    # an issuer is discovered: endpoints given beside it would be dropped, or it ignored
    refuse_together("--issuer", issuer, {
        "--authorize-url": authorize_url, "--token-url": token_url,
        "--revocation-url": revocation_url, "--userinfo-url": userinfo_url})
    # a client credentials grant has no authorization step: its endpoint would be dropped
    refuse_together("--client-credentials", machine, {"--authorize-url": authorize_url})
    keyring = proven_keyring(database)
    secret = read_secret("client secret (empty for a public client)")
    with store(database) as s:
        config = connecting.create_oauth_provider(
            s, actor=cli_actor(), keyring=keyring, name=name, client_id=client_id,
            client_secret=secret or None, scopes=scopes,
            kind=(ProviderKind.CLIENT_CREDENTIALS if machine else ProviderKind.OAUTH2).value,
            preset="google" if google else None, issuer=issuer, authorize_url=authorize_url,
            token_url=token_url, revocation_url=revocation_url, userinfo_url=userinfo_url)
    if fmt is Format.JSON:
        emit_json({"id": config.id, "name": config.name, "kind": config.kind,
                   "settings": config.settings})
        return
    typer.echo(f"provider config {config.name} added ({config.kind}; token endpoint "
               f"{config.settings['token_url']})")
