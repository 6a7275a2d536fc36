"""`connmodel user …`: the console's local users (the embedded sign-in)."""

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
    read_secret,
    store,
)
from connmodel.services import users

user_app = typer.Typer(help="Users who may sign in to the dashboard.", no_args_is_help=True)
app.add_typer(user_app, name="user")

PasswordOpt = Annotated[
    bool, typer.Option("--password-prompt", help="Type the password instead of generating one.")
]


def _password(prompt: bool) -> str | None:
    return read_secret("password", confirm=True) if prompt else None


@user_app.command("add")
def add(
    name: str,
    role: Annotated[str, typer.Option("--role", help="admin or viewer.")] = "viewer",
    password_prompt: PasswordOpt = False,
    database: DatabaseOpt = None,
) -> None:
    """Add a user; a generated password is printed once and stored only as a hash."""
    with store(database) as s:
        password = users.add_user(s, actor=cli_actor(), name=name, role=role,
                                  password=_password(password_prompt))
    typer.echo(f"user {name.strip()} added ({role.strip().lower()})")  # as stored
    if not password_prompt:
        typer.echo(f"one-time password (shown once): {password}")


@user_app.command("passwd")
def passwd(name: str, password_prompt: PasswordOpt = False, database: DatabaseOpt = None) -> None:
    """Set a new password (generated unless --password-prompt) and end the user's sessions."""
    with store(database) as s:
        password = users.set_password(s, actor=cli_actor(), name=name,
                                      password=_password(password_prompt))
    typer.echo(f"password of {name} changed; their sessions ended")
    if not password_prompt:
        typer.echo(f"one-time password (shown once): {password}")


@user_app.command("role")
def role(
    name: str,
    new_role: Annotated[str, typer.Argument(metavar="ROLE", help="admin or viewer.")],
    database: DatabaseOpt = None,
) -> None:
    """Change a user's role; their open pages write with it from their next write on."""
    with store(database) as s:
        users.set_role(s, actor=cli_actor(), name=name, role=new_role)
    typer.echo(f"{name} is now {new_role.strip().lower()}; open pages follow at their next write")


@user_app.command("disable")
def disable(name: str, database: DatabaseOpt = None) -> None:
    """Disable a user: no sign-in, and their open pages can no longer change anything."""
    with store(database) as s:
        users.set_disabled(s, actor=cli_actor(), name=name)
    typer.echo(f"{name} disabled; their open pages can no longer change anything")


@user_app.command("enable")
def enable(name: str, database: DatabaseOpt = None) -> None:
    """Let a disabled user sign in again (their ended sessions stay ended)."""
    with store(database) as s:
        users.set_disabled(s, actor=cli_actor(), name=name, disabled=False)
    typer.echo(f"{name} enabled; they may sign in again")


@user_app.command("list")
def list_(database: DatabaseOpt = None, fmt: FormatOpt = Format.TABLE) -> None:
    """Every user with their role."""
    with store(database) as s:
        rows = users.list_users(s, actor=cli_actor())
    if fmt is Format.JSON:
        emit_json([{"name": n, "role": r, "disabled": d} for n, r, d in rows])
    else:
        emit_table("Users", ["Name", "Role", "Disabled"], [(n, r, "yes" if d else "") for n, r, d in rows])


@user_app.command("ensure-admin")
def ensure_admin(database: DatabaseOpt = None) -> None:
    """Create the first admin on an empty user table and print its password once."""
    with store(database) as s:
        password = users.ensure_first_admin(s)
    if password:
        typer.echo("first admin created: sign in as 'admin' with the one-time password "
                   f"{password}  (change it: connmodel user passwd admin --password-prompt)")
