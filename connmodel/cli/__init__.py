"""The `connmodel` command line: thin Typer commands over the services.

Each command module registers itself on `app`; `main` turns every ConnModelError into one line on
stderr and its exit code, so bad input never shows a traceback.
"""

import gc
import sys

import typer

try:  # typer >= 0.2x vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException  # type: ignore[assignment]

from connmodel.errors import ConnModelError

app = typer.Typer(
    name="connmodel",
    help="Connections & Profiles of an MCP gateway: list, view, check, revoke, audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

from connmodel.cli import (  # noqa: F401
    audit,
    checks,
    connections,
    core,
    generate,
    keys,
    profiles,
    providers,
    servers,
    users,
)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on argv and return its exit code (tests call this in-process).

    Usage errors (exit 2) and domain errors (their own exit code) become one line on stderr.
    """
    try:
        code = app(args=argv, prog_name="connmodel", standalone_mode=False)
    except ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `connmodel`: the help, as usual
            exc.show()
            return exc.exit_code
        where = exc.ctx.command_path if getattr(exc, "ctx", None) else "connmodel"  # type: ignore[attr-defined]
        typer.echo(f"{where}: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except ConnModelError as exc:
        typer.echo(f"connmodel: error: {exc}", err=True)
        return exc.exit_code
    except SystemExit as exc:  # a command that exits by itself
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except typer.Abort:  # a prompt got no answer (end of input)
        typer.echo("connmodel: aborted, nothing changed", err=True)
        return 1
    except KeyboardInterrupt:
        typer.echo("connmodel: interrupted, nothing more changed", err=True)
        return 130
    return code if isinstance(code, int) else 0


def main() -> None:
    code = run()
    # The process ends here: frozen objects are skipped by the interpreter's final collection,
    # which otherwise walks the whole heap on the way out (1.5 s of CPU after `connmodel audit
    # -f html` at 1M connections, with pandas and Bokeh loaded).
    gc.freeze()
    sys.exit(code)
