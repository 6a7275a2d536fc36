"""`connmodel servers` and `connmodel events`: the gateway's MCP servers and the audit trail."""

from datetime import datetime
from typing import Annotated

import typer

from connmodel.cli import app
from connmodel.cli.common import (
    AfterOpt,
    DatabaseOpt,
    Format,
    FormatOpt,
    LimitOpt,
    cli_actor,
    emit_page,
    profile_option,
    store,
)
from connmodel.models import AuditEventPublic, ServerPublic
from connmodel.services.events import EventFilter, list_events
from connmodel.services.servers import list_servers


def _server_row(x: ServerPublic) -> tuple[object, ...]:
    return (x.name, x.url, x.profile, x.state, x.reason)


def _event_row(e: AuditEventPublic) -> tuple[object, ...]:
    return (e.at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action, e.target, e.outcome)


@app.command()
def servers(
    profile: Annotated[str | None, profile_option("Only this profile's.")] = None,
    state: Annotated[str | None, typer.Option("--state", help="connected or disconnected.",
                                              show_default=False)] = None,
    limit: LimitOpt = 50,
    after: AfterOpt = None,
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """MCP servers of the gateway with the profile they use and their state."""
    with store(database) as s:
        page = list_servers(s, actor=cli_actor(), profile=profile, state=state, cursor=after,
                            limit=limit, known_profile=True)
    emit_page(page, fmt, "servers", ["Server", "URL", "Profile", "State", "Reason"], _server_row)


TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                "%Y-%m-%d %H:%M:%S"]


@app.command()
def events(
    actor: Annotated[str | None, typer.Option("--actor", help="Only this user's events.",
                                              show_default=False)] = None,
    action: Annotated[str | None, typer.Option("--action", help="e.g. revoke, profile.create.",
                                               show_default=False)] = None,
    target: Annotated[str | None, typer.Option("--target", help="Only events whose target "
                                               "contains this text.", show_default=False)] = None,
    since: Annotated[datetime | None, typer.Option(
        "--since", formats=TIME_FORMATS, help="From this UTC time (inclusive).",
        show_default=False)] = None,
    until: Annotated[datetime | None, typer.Option(
        "--until", formats=TIME_FORMATS, help="Before this UTC time (exclusive).",
        show_default=False)] = None,
    limit: LimitOpt = 50,
    after: AfterOpt = None,
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """The append-only audit trail, newest first (times in UTC)."""
    where = EventFilter(who=actor, action=action, target=target, since=since, until=until)
    with store(database) as s:
        page = list_events(s, actor=cli_actor(), where=where, cursor=after, limit=limit)
    emit_page(page, fmt, "events", ["At (UTC)", "Actor", "Action", "Target", "Outcome"],
              _event_row)
