"""`connmodel generate`: fill a database with realistic synthetic connections for scale tests."""

from dataclasses import asdict
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
from connmodel.services.keys import checked_keyring


@app.command()
def generate(
    connections: Annotated[int, typer.Option("--connections", "-n", help="How many connections.",
                                             show_default=False)],
    profiles: Annotated[int, typer.Option("--profiles", "-p", help="Spread over this many new "
                                          "profiles (at most --connections).")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same data.")] = 0,
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Add realistic synthetic connections (statuses, accounts, expiry, check history) in bulk.

    A million connections take well under 90 s on SQLite and PostgreSQL. Run it on a fresh
    database: generated profile names are fixed, so a second run stops with a clear error.
    On a SQLite file no other process has open, the rows go straight into the file (faster;
    the write-ahead log is back after), and other processes cannot open it until the load ends.
    """
    # numpy loads here, not when any other command starts
    from connmodel.services.generate import generate as generate_data
    from connmodel.services.generate import validate_sizes

    validate_sizes(connections, profiles)  # before the key or the database are touched
    with store(database) as s:
        result = generate_data(s, actor=cli_actor(), connections=connections, profiles=profiles,
                               seed=seed, keyring=checked_keyring(s))
    if fmt == Format.JSON:
        emit_json(asdict(result))
        return
    emit_table(
        f"generated in {result.seconds:.1f} s (seed {result.seed})",
        ["What", "Count"],
        [("connections", f"{result.connections:,}"), ("profiles", f"{result.profiles:,}"),
         ("MCP servers", f"{result.servers:,}"), ("check results", f"{result.checks:,}"),
         ("provider configs created", result.provider_configs_created),
         *((f"  {status}", f"{n:,}") for status, n in result.by_status.items())],
    )
