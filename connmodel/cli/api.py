"""`connmodel api` and `connmodel token …`: serve the HTTP API and manage its tokens."""

from pathlib import Path
from typing import Annotated

import typer

from connmodel.cli import app
from connmodel.cli.common import (
    DatabaseOpt,
    Format,
    FormatOpt,
    cli_actor,
    emit_json,
    emit_table,
    store,
)
from connmodel.services import tokens

token_app = typer.Typer(help="API tokens of `connmodel api` (read, admin or broker).",
                        no_args_is_help=True)
app.add_typer(token_app, name="token")


@app.command()
def api(
    host: Annotated[str, typer.Option("--host", help="Address to listen on; beyond loopback "
                                      "it needs TLS or --behind-proxy.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    behind_proxy: Annotated[bool, typer.Option(
        "--behind-proxy", help="A TLS-terminating reverse proxy is in front: allow a "
        "non-loopback address without TLS here, trust its X-Forwarded-* headers.")] = False,
    ssl_certfile: Annotated[Path | None, typer.Option("--ssl-certfile", help="TLS certificate "
                                                      "(PEM).", show_default=False)] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option("--ssl-keyfile", help="TLS private key "
                                                     "(PEM).", show_default=False)] = None,
    workers: Annotated[int, typer.Option("--workers", help="Processes (each its own pool).")] = 1,
    database: DatabaseOpt = None,
) -> None:
    """Serve the HTTP API and the credential broker (OpenAPI at /openapi.json, docs at /docs)."""
    from connmodel.api.serve import ServeOptions, serve

    serve(ServeOptions(host=host, port=port, behind_proxy=behind_proxy, ssl_certfile=ssl_certfile,
                       ssl_keyfile=ssl_keyfile, workers=workers, database_url=database))


@token_app.command("add")
def add(
    name: str,
    scope: Annotated[str, typer.Option("--scope", help="read, admin or broker.")] = "read",
    expires: Annotated[int | None, typer.Option("--expires", help="Days until it stops working "
                                                "(default: never).", show_default=False)] = None,
    database: DatabaseOpt = None,
) -> None:
    """Issue an API token: printed once, stored only as a hash."""
    with store(database) as s:
        token = tokens.add_token(s, actor=cli_actor(), name=name, scope=scope,
                                 expires_days=expires)
    typer.echo(f"token {name} added ({scope.strip().lower()}); it is shown once, keep it now:",
               err=True)
    typer.echo(token)


@token_app.command("list")
def list_(
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked tokens.")] = False,
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """API tokens with their scope, expiry and last use (never the token)."""
    with store(database) as s:
        rows = tokens.list_tokens(s, actor=cli_actor(), include_revoked=revoked)
    if fmt is Format.JSON:
        emit_json(rows)
        return
    emit_table("API tokens", ["Name", "Scope", "Created (UTC)", "By", "Expires (UTC)",
                              "Last used (UTC)", "Revoked (UTC)"],
               [(t.name, t.scope, t.created_at, t.created_by, t.expires_at, t.last_used_at,
                 t.revoked_at) for t in rows])


@token_app.command("revoke")
def revoke(name: str, database: DatabaseOpt = None) -> None:
    """Revoke an API token: refused from the next request on."""
    with store(database) as s:
        token = tokens.revoke_token(s, actor=cli_actor(), name=name)
    typer.echo(f"token {token.name} ({token.scope}) revoked")
