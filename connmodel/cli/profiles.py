"""`connmodel profiles`, `profile add` and `provider add`: the profile cards and their setup.

`provider add` knows the kinds that need no OAuth flow (none, api_key); OAuth2 providers are added
by their own commands.
"""

from enum import StrEnum
from typing import Annotated

import typer

from connmodel.cli import app
from connmodel.cli.common import (
    AfterOpt,
    DatabaseOpt,
    Format,
    FormatOpt,
    cli_actor,
    emit_json,
    emit_table,
    page_footer,
    page_json,
    store,
)
from connmodel.models import DEFAULT_PROFILE_DESCRIPTION, ProfileCard
from connmodel.services.profiles import add_profile, create_provider_config, profile_cards
from connmodel.status import Environment

profile_app = typer.Typer(help="Add profiles (a named use of a provider config).",
                          no_args_is_help=True)
provider_app = typer.Typer(help="Add provider configs (how to authenticate).", no_args_is_help=True)
app.add_typer(profile_app, name="profile")
app.add_typer(provider_app, name="provider")

EnvironmentOpt = Annotated[
    str | None, typer.Option("--environment", "-e", help="dev, staging or production.",
                             show_default=False)
]


class SimpleKind(StrEnum):
    NONE = "none"
    API_KEY = "api_key"


def _card_json(card: ProfileCard) -> dict[str, object]:
    return {
        "name": card.name, "description": card.description, "environment": card.environment,
        "provider": card.provider, "provider_kind": card.provider_kind, "total": card.total,
        "counts": card.counts,
        "connections": [
            {"id": c.id, "service": c.service, "account": c.account, "status": c.status,
             "status_reason": c.status_reason}
            for c in card.connections
        ],
    }


def _print_card(card: ProfileCard) -> None:
    counts = ", ".join(f"{n:,} {status}" for status, n in card.counts.items() if n)
    title = f"{card.name} · {card.environment} · {card.provider} — {card.description}"
    typer.echo(title)
    emit_table(None, ["ID", "Service", "Account", "Status", "Reason"],
               [(c.id, c.service, c.account, c.status, c.status_reason)
                for c in card.connections])
    shown = len(card.connections)
    more = f"first {shown:,} of " if shown < card.total else ""
    noun = "connection" if card.total == 1 else "connections"
    typer.echo(f"{more}{card.total:,} {noun}" + (f" ({counts})" if counts else ""))


@app.command()
def profiles(
    environment: EnvironmentOpt = None,
    limit: Annotated[int, typer.Option(
        "--limit", "-n", help="Connections shown per profile (0-500; counts cover them all).")] = 10,
    limit_profiles: Annotated[int, typer.Option(
        "--limit-profiles", help="Profiles per page (1-500), by name.")] = 50,
    after: AfterOpt = None,
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Profiles by name, a page at a time, with description, provider, first connections and
    counts by status."""
    with store(database) as s:
        page = profile_cards(s, actor=cli_actor(), environment=environment, per_profile=limit,
                             cursor=after, limit=limit_profiles)
    if fmt is Format.JSON:
        emit_json({**page_json(page), "items": [_card_json(c) for c in page.items]})
        return
    for card in page.items:
        _print_card(card)
    if page.total == 0 and after is None:
        typer.echo("no profiles yet: `connmodel profile add` or `connmodel demo`")
    else:
        typer.echo(page_footer(page, "profiles"))


@profile_app.command("add")
def profile_add(
    name: Annotated[str, typer.Argument(help="The profile's name, e.g. Hubspot.")],
    provider: Annotated[str, typer.Option("--provider", help="Name of the provider config.")],
    environment: Annotated[Environment, typer.Option(
        "--environment", "-e", help="The environment tag.")] = Environment.DEV,
    description: Annotated[str, typer.Option("--description", help="Shown on the card.")] = (
        DEFAULT_PROFILE_DESCRIPTION),
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Add a profile using an existing provider config."""
    with store(database) as s:
        profile = add_profile(s, actor=cli_actor(), name=name, provider=provider,
                              environment=environment.value, description=description)
        s.commit()
    if fmt is Format.JSON:
        emit_json({"id": profile.id, "name": profile.name, "environment": profile.environment,
                   "provider": provider, "description": profile.description})
        return
    typer.echo(f"profile {profile.name} added ({profile.environment}, {provider})")


@provider_app.command("add")
def provider_add(
    name: Annotated[str, typer.Argument(help="Display name, e.g. 'API Key Authentication Provider'.")],
    kind: Annotated[SimpleKind, typer.Option("--kind", help="none or api_key.")],
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Add a provider config that needs no OAuth flow (no authentication, or an API key)."""
    with store(database) as s:
        config = create_provider_config(s, actor=cli_actor(), name=name, kind=kind.value)
        s.commit()
    if fmt is Format.JSON:
        emit_json({"id": config.id, "name": config.name, "kind": config.kind})
        return
    typer.echo(f"provider config {config.name} added ({config.kind})")

