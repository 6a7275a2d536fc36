"""Commands for the store itself: init and demo."""

from typing import Annotated

import typer
from sqlalchemy import func, select

from connmodel.cli import app
from connmodel.cli.common import DatabaseOpt, cli_actor, store
from connmodel.models import Profile
from connmodel.schema import upgrade
from connmodel.services.demo import seed_demo
from connmodel.services.keys import checked_keyring, init_keyring
from connmodel.store import database_url, describe


@app.command()
def init(database: DatabaseOpt = None) -> None:
    """Create or upgrade the database schema and create the secret key file if missing."""
    with store(database, create=True) as s:  # surfaces an unreachable database as one message
        upgrade(s.get_bind(), report=typer.echo)  # type: ignore[arg-type]
    with store(database) as s:
        keyring = init_keyring(s)
        s.commit()
    typer.echo(f"database ready: {describe(database_url(database))}")
    typer.echo(f"secret key: {keyring.source}")


@app.command()
def demo(
    database: DatabaseOpt = None,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Only seed an empty database.")] = False,
) -> None:
    """Add example profiles and connections (Noauth, Hubspot, Google; some Inactive or Error)."""
    with store(database) as s:
        if if_empty and s.execute(select(func.count()).select_from(Profile)).scalar_one():
            typer.echo("database not empty: demo data not added")
            return
        added = seed_demo(s, actor=cli_actor(), keyring=checked_keyring(s))
    typer.echo(f"demo data: {added} profiles added" if added else "demo data already present")
