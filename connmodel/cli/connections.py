"""`connmodel connections`, `show`, `revoke` and `revoke-matching`: the seed page's table, View,
Revoke and Revoke all matching."""

from typing import Annotated

import typer

from connmodel.cli import app
from connmodel.cli.common import (
    ID_MAX,
    AfterOpt,
    DatabaseOpt,
    Format,
    FormatOpt,
    LimitOpt,
    cli_actor,
    confirmed,
    emit_json,
    emit_page,
    emit_table,
    profile_option,
    store,
)
from connmodel.errors import InvalidInput
from connmodel.models import ConnectionPublic
from connmodel.services.connections import (
    SORT_FIELDS,
    ConnectionFilter,
    get_connection,
    list_connections,
    revoke_connection,
)
from connmodel.services.groups import GroupFilter, count_matching, servers_affected
from connmodel.services.revoke_matching import revoke_matching
from connmodel.status import REVOKE_NOTE, parse_environment, parse_status

ConnectionId = Annotated[
    int, typer.Argument(help="The connection's id (see `connmodel connections`).", min=1,
                        max=ID_MAX, show_default=False)
]


def _row(c: ConnectionPublic) -> tuple[object, ...]:
    return (c.id, c.profile, c.service, c.account, c.status, c.status_reason or c.hint,
            c.checked_at)


@app.command()
def connections(
    profile: Annotated[str | None, profile_option("Only this profile.")] = None,
    status: Annotated[str | None, typer.Option("--status", "-s", help="Active, Inactive or Error.",
                                               show_default=False)] = None,
    environment: Annotated[str | None, typer.Option("--environment", "-e",
                                                    help="dev, staging or production.",
                                                    show_default=False)] = None,
    search: Annotated[str | None, typer.Option("--search", "-q",
                                               help="Text in the account or service.",
                                               show_default=False)] = None,
    sort: Annotated[str, typer.Option(
        "--sort", help=f"One of {', '.join(SORT_FIELDS)}; prefix '-' for descending.")] = "id",
    limit: LimitOpt = 50,
    after: AfterOpt = None,
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """List live connections: filtered, sorted and paged in the database."""
    # an option given explicitly but empty is a mistake, not "no filter"
    where = ConnectionFilter(
        profile=profile,
        status=parse_status(status).value if status is not None else None,
        environment=parse_environment(environment).value if environment is not None else None,
        search=search,
    )
    with store(database) as s:
        page = list_connections(s, actor=cli_actor(), where=where, sort=sort, cursor=after,
                                limit=limit)
    emit_page(page, fmt, "connections",
              ["ID", "Profile", "Service", "Account", "Status", "Reason / hint", "Checked (UTC)"],
              _row)


@app.command()
def show(connection_id: ConnectionId, database: DatabaseOpt = None,
         fmt: FormatOpt = Format.TABLE) -> None:
    """View one connection: details, masked configuration and the MCP servers using it."""
    with store(database) as s:
        detail = get_connection(s, actor=cli_actor(), connection_id=connection_id)
    if fmt is Format.JSON:
        emit_json(detail)
        return
    fields = [
        ("Profile", detail.profile), ("Environment", detail.environment),
        ("Provider", f"{detail.provider} ({detail.provider_kind})"),
        ("Service", detail.service), ("Account", detail.account), ("Status", detail.status),
        ("Reason", detail.status_reason), ("Hint", detail.hint or None),
        ("Checked (UTC)", detail.checked_at), ("Expires (UTC)", detail.expires_at),
        ("Last used (UTC)", detail.last_used_at), ("Created (UTC)", detail.created_at),
        *((f"config: {k}", v) for k, v in detail.config.items()),
    ]
    emit_table(f"Connection {detail.id}", ["Field", "Value"], fields)
    emit_table("MCP servers using this profile", ["Server", "URL", "State", "Reason"],
               [(x.name, x.url, x.state, x.reason) for x in detail.mcp_servers])


@app.command()
def revoke(
    connection_id: ConnectionId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Revoke a connection: wipe its credential and disconnect the servers of its profile."""
    actor = cli_actor()
    if not yes:  # the question on stderr: stdout holds the result alone (-f json)
        with store(database) as s:
            detail = get_connection(s, actor=actor, connection_id=connection_id)
            servers = servers_affected(s, actor=actor, connection_ids=[connection_id])
        typer.echo(f"Revoke connection {detail.id}: {detail.profile} / {detail.service} / "
                   f"{detail.account}", err=True)
        typer.echo(REVOKE_NOTE, err=True)
        typer.echo("Servers that will be disconnected: "
                   + (", ".join(x.name for x in servers) or "none"), err=True)
        if not confirmed("Revoke this connection?"):
            typer.echo("connmodel: not revoked, nothing changed", err=True)
            raise typer.Exit(1)
    with store(database) as s:
        result = revoke_connection(s, actor=actor, connection_id=connection_id)
    if fmt is Format.JSON:
        emit_json(result)
        return
    typer.echo(f"revoked connection {result.id} ({result.profile} / {result.service} / "
               f"{result.account}); disconnected: "
               + (", ".join(result.disconnected_servers) or "none"))


@app.command("revoke-matching")
def revoke_matching_command(
    status: Annotated[str | None, typer.Option("--status", "-s", help="Active, Inactive or Error.",
                                               show_default=False)] = None,
    environment: Annotated[str | None, typer.Option("--environment", "-e",
                                                    help="dev, staging or production.",
                                                    show_default=False)] = None,
    profile: Annotated[str | None, profile_option("Profiles whose name contains this text.")
                       ] = None,
    search: Annotated[str | None, typer.Option("--search", "-q",
                                               help="Text in the account or service.",
                                               show_default=False)] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Revoke every live connection a filter matches (the page's 'Revoke all matching')."""
    given = {"--status": status, "--environment": environment, "--profile": profile,
             "--search": search}
    empty = [name for name, value in given.items() if value is not None and not value.strip()]
    if empty or all(value is None for value in given.values()):
        raise InvalidInput(f"{empty[0]} is empty" if empty else
                           "give at least one of --status, --environment, --profile, --search")
    where = GroupFilter(status=parse_status(status).value if status else None,
                        environment=parse_environment(environment).value if environment else None,
                        profile=profile, search=search)
    actor = cli_actor()
    if not yes:
        with store(database) as s:
            count, exact = count_matching(s, actor=actor, where=where)
            servers = servers_affected(s, actor=actor, where=where)
        if not count:
            typer.echo("No connection matches this filter. Nothing changed.")
            return
        typer.echo(REVOKE_NOTE, err=True)
        typer.echo("Servers that will be disconnected: "
                   + (", ".join(x.name for x in servers) or "none"), err=True)
        if not confirmed(f"Revoke {'' if exact else 'at least '}{count:,} connection"
                         f"{'s' if count != 1 else ''} matching this filter?"):
            typer.echo("connmodel: not revoked, nothing changed", err=True)
            raise typer.Exit(1)
    with store(database) as s:
        run = revoke_matching(s, actor=actor, where=where)
    if fmt is Format.JSON:
        emit_json({"revoked": run.revoked, "already_revoked": run.already_revoked,
                   "disconnected_servers": sorted(run.servers),
                   "appeared": run.appeared, "appeared_exact": run.appeared_exact})
        return
    typer.echo(run.summary())
