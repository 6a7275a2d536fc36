"""The `connmodel` command line: thin Typer commands over the services.

Each command module registers itself on `app`; `main` turns every ConnModelError into one line on
stderr and its exit code, so bad input never shows a traceback.
"""

import sys

import typer

from connmodel.errors import ConnModelError

app = typer.Typer(
    name="connmodel",
    help="Connections & Profiles of an MCP gateway: list, view, check, revoke, audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

from connmodel.cli import core, users  # noqa: F401  (registers commands)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on argv and return its exit code (tests call this in-process).

    Typer reports usage errors itself (exit code 2); domain errors become one line on stderr.
    """
    try:
        app(args=argv, prog_name="connmodel")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except ConnModelError as exc:
        typer.echo(f"connmodel: error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("connmodel: interrupted, nothing more changed", err=True)
        return 130
    return 0


def main() -> None:
    sys.exit(run())
