"""`connmodel check`, `connmodel server add|reconfigure`, `connmodel webhook …`.

`check` probes each connection's MCP servers with its credential, shows a progress bar while
results arrive, prints what it found, sends due webhook notifications, and exits with code 3
when any checked connection is in Error, so cron and CI can alert on it.
"""

import os
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from connmodel.checks.defaults import DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT, DEMO_HOST, DEMO_PORT
from connmodel.cli import app
from connmodel.cli.common import (
    ID_MAX,
    DatabaseOpt,
    Format,
    FormatOpt,
    cli_actor,
    emit_json,
    emit_table,
    profile_option,
    proven_keyring,
    read_secret,
    refuse_together,
    store,
)
from connmodel.errors import InvalidInput
from connmodel.models import ServerRow
from connmodel.services.keys import checked_keyring
from connmodel.services.servers import reconfigure_server, register_server
from connmodel.services.webhooks import add_webhook, list_webhooks, remove_webhook
from connmodel.status import Status
from connmodel.webhooks import ENV_SECRET, deliver_due

if TYPE_CHECKING:
    from connmodel.checks import ConnectionCheck

EXIT_ERROR_FOUND = 3

server_app = typer.Typer(help="Add MCP servers and move them to another profile.",
                         no_args_is_help=True)
webhook_app = typer.Typer(help="Webhook receivers told when a connection turns Error or "
                          "Inactive, or recovers.", no_args_is_help=True)
app.add_typer(server_app, name="server")
app.add_typer(webhook_app, name="webhook")

ProfileOpt = Annotated[str, profile_option("Profile name.")]


def _check_json(c: "ConnectionCheck") -> dict[str, object]:
    return {
        "connection_id": c.connection_id, "profile": c.profile, "account": c.account,
        "previous_status": c.previous_status, "status": c.status, "reason": c.reason,
        "changed": c.changed, "tool_count": c.tool_count, "checked_at": c.checked_at.isoformat(),
        "servers": [{"server": s.server, "url": s.url, "outcome": s.outcome.value,
                     "reason": s.reason, "latency_ms": s.latency_ms, "tool_count": s.tool_count}
                    for s in c.servers],
    }


def _status_cell(c: "ConnectionCheck") -> str:
    return f"{c.previous_status} → {c.status}" if c.changed else c.status


@app.command()
def check(
    ids: Annotated[list[int] | None, typer.Argument(help="Connection ids to check.", min=1,
                                                    max=ID_MAX, show_default=False)] = None,
    profile: Annotated[str | None, profile_option("Every connection of this profile.")] = None,
    all_connections: Annotated[bool, typer.Option("--all", help="Every live connection.")] = False,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", help="Servers probed at "
                                             "once (1-500).")] = DEFAULT_CONCURRENCY,
    timeout: Annotated[float, typer.Option("--timeout", "-t", help="Seconds allowed per "
                                           "server.")] = DEFAULT_TIMEOUT,
    deliver: Annotated[bool, typer.Option(help="Send due webhook notifications afterwards.")] = True,
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Check connections live against their MCP servers (initialize + tools/list).

    Exit code 3 when any checked connection is in Error afterwards.
    """
    refuse_together("--all", all_connections, {"connection ids": ids, "--profile": profile})
    from connmodel.checks import CheckRequest, run_checks, tally  # the MCP SDK loads here

    request = CheckRequest(ids=tuple(ids or ()), profile=profile,
                           all_connections=all_connections, concurrency=concurrency,
                           timeout=timeout)
    keyring = proven_keyring(database)  # a wrong key must fail before anything is checked
    err = Console(stderr=True)
    progress = Progress(TextColumn("checking"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err, transient=True,
                        disable=fmt is Format.JSON or not err.is_terminal)
    with progress:
        task = progress.add_task("check", total=None)

        def advance(_: "ConnectionCheck", done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        results = run_checks(database, actor=cli_actor(), request=request, keyring=keyring,
                             on_result=advance, deliver_webhooks=deliver)
    results.sort(key=lambda c: c.connection_id)
    if fmt is Format.JSON:
        emit_json([_check_json(c) for c in results])
    else:
        emit_table(None, ["ID", "Profile", "Account", "Status", "Tools", "Result"],
                   [(c.connection_id, c.profile, c.account, _status_cell(c), c.tool_count,
                     c.reason if c.status != Status.ACTIVE and c.reason else c.summary)
                    for c in results])
        typer.echo(tally(results))
    if any(c.status == Status.ERROR for c in results):
        raise typer.Exit(EXIT_ERROR_FOUND)


def _emit_server(row: ServerRow, fmt: Format, verb: str) -> None:
    if fmt is Format.JSON:
        emit_json(row)
    else:
        typer.echo(f"{verb} server {row.name} ({row.url}): profile {row.profile or 'none'}, "
                   f"{row.health}")


@server_app.command("add")
def server_add(
    name: Annotated[str, typer.Argument(help="Server name, e.g. Calculator.")],
    url: Annotated[str, typer.Option("--url", help="http(s) URL of its MCP endpoint.")],
    profile: ProfileOpt,
    transport: Annotated[str, typer.Option(help="streamable-http or sse.")] = "streamable-http",
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Add an MCP server that authenticates with a profile."""
    with store(database) as s:
        row = register_server(s, actor=cli_actor(), name=name, url=url, profile=profile,
                              transport=transport)
    _emit_server(row, fmt, "added")


@server_app.command("reconfigure")
def server_reconfigure(
    name: Annotated[str, typer.Argument(help="Server name.")],
    profile: ProfileOpt,
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Move a server to another profile and reconnect it (e.g. after a revoke)."""
    with store(database) as s:
        row = reconfigure_server(s, actor=cli_actor(), name=name, profile=profile)
    _emit_server(row, fmt, "reconfigured")


@app.command("demo-server")
def demo_server(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEMO_PORT,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = DEMO_HOST,
) -> None:
    """Serve the demo's Calculator MCP server (add, subtract) at http://HOST:PORT/mcp."""
    if not 1 <= port <= 65535:
        raise InvalidInput(f"port must be between 1 and 65535, not {port}")
    from connmodel.checks.demo_server import serve_calculator

    typer.echo(f"Calculator MCP server on http://{host}:{port}/mcp (Ctrl-C stops it)")
    serve_calculator(host, port)


@webhook_app.command("add")
def webhook_add(
    url: Annotated[str, typer.Argument(help="Receiver URL (http or https).")],
    database: DatabaseOpt = None,
) -> None:
    """Register a receiver; its signing secret is read from $CONNMODEL_WEBHOOK_SECRET or asked."""
    secret = os.environ.get(ENV_SECRET) or read_secret("Signing secret")
    with store(database) as s:
        add_webhook(s, actor=cli_actor(), url=url, secret=secret, keyring=checked_keyring(s))
    typer.echo(f"webhook added: {url.strip()}")


@webhook_app.command("list")
def webhook_list(database: DatabaseOpt = None, fmt: FormatOpt = Format.TABLE) -> None:
    """Registered receivers (secrets are never shown)."""
    with store(database) as s:
        urls = list_webhooks(s, actor=cli_actor())
    if fmt is Format.JSON:
        emit_json(urls)
    else:
        emit_table(None, ["URL"], [(u,) for u in urls])


@webhook_app.command("remove")
def webhook_remove(url: Annotated[str, typer.Argument(help="Receiver URL.")],
                   database: DatabaseOpt = None) -> None:
    """Stop telling a receiver about status changes."""
    with store(database) as s:
        remove_webhook(s, actor=cli_actor(), url=url)
    typer.echo(f"webhook removed: {url.strip()}")


@webhook_app.command("deliver")
def webhook_deliver(database: DatabaseOpt = None) -> None:
    """Send the notifications that are due (run it on a timer to retry failed ones)."""
    with store(database) as s:
        report = deliver_due(s, keyring=checked_keyring(s))
    typer.echo(f"delivered {report.delivered}, failed {report.failed}, pending {report.pending}")
