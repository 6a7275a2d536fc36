"""`connmodel rotate-key`: re-encrypt every stored secret under a new key."""

from typing import Annotated

import typer

from connmodel.cli import app
from connmodel.cli.common import DatabaseOpt, Format, FormatOpt, cli_actor, emit_json, store
from connmodel.secrets import ENV_KEY, load_keyring
from connmodel.services.keys import rotate_key


@app.command("rotate-key")
def rotate_key_command(
    repair: Annotated[bool, typer.Option(
        "--repair", help="Clear secrets no key can open (each audited; re-enter them after) "
        "instead of stopping.")] = False,
    database: DatabaseOpt = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Re-encrypt every secret under a new key in one transaction; the old key then retires."""
    keyring = load_keyring()
    with store(database) as s:
        result = rotate_key(s, actor=cli_actor(), keyring=keyring, repair=repair)
    if fmt is Format.JSON:
        emit_json({"secrets": result.secrets, "key_file": result.key_file,
                   "key_to_set": result.key_to_set, "cleared": list(result.cleared)})
        return
    typer.echo(f"{result.secrets} secrets re-encrypted under a new key")
    for where in result.cleared:
        typer.echo(f"cleared {where}: no key could open it; re-enter it (see `connmodel events "
                   "--action secret_key.repair`)")
    if result.key_file:
        typer.echo(f"key file {result.key_file} now holds only the new key")
    else:
        typer.echo(f"the key came from {ENV_KEY}: set it to the new key now, or the secrets "
                   "cannot be read:")
        typer.echo(f"{ENV_KEY}={result.key_to_set}")
