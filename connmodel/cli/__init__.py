"""The `connmodel` command line: thin Typer commands over the services.

Each command module registers itself on `app` when imported; `run` imports only the module(s) of
the command named (`connmodel audit` loads neither the OAuth client nor Alembic), and all of
them for help or an unknown name. `main` turns every ConnModelError into one line on stderr and
its exit code, so bad input never shows a traceback.
"""

import gc
import sys
from importlib import import_module
from typing import Annotated

import typer
from typer.main import get_command_name
from typer.models import CommandInfo, TyperInfo

try:  # typer >= 0.2x vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException  # type: ignore[assignment]

from connmodel.errors import ConnModelError

app = typer.Typer(
    name="connmodel",
    help="Connections & Profiles of an MCP gateway: list, view, check, revoke, audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _print_version(value: bool) -> None:
    if value:
        from connmodel import __version__

        typer.echo(f"connmodel {__version__}")
        raise typer.Exit()


@app.callback()
def _group(
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    # Also keeps `app` a group when only one command module is loaded (Typer would otherwise
    # make that lone command the whole program).
    pass


# Command modules in help order, and the modules that register each top-level name (a test
# checks this table against what the modules register).
MODULES = ("api", "audit", "checks", "connections", "core", "generate", "keys", "notebooks",
           "profiles", "providers", "serve", "servers", "users")
COMMANDS: dict[str, tuple[str, ...]] = {
    "api": ("api",), "token": ("api",), "audit": ("audit",), "check": ("checks",),
    "demo-server": ("checks",), "server": ("checks",), "webhook": ("checks",),
    "connections": ("connections",), "show": ("connections",), "revoke": ("connections",),
    "init": ("core",), "demo": ("core",), "generate": ("generate",), "rotate-key": ("keys",),
    "profiles": ("profiles",), "profile": ("profiles",), "provider": ("profiles", "providers"),
    "connect": ("providers",), "reauthorize": ("providers",), "update-key": ("providers",),
    "disable": ("providers",), "enable": ("providers",), "refresh": ("providers",),
    "revocations": ("providers",), "servers": ("servers",), "events": ("servers",),
    "user": ("users",), "serve": ("serve",), "notebooks": ("notebooks",),
}

# `connmodel --help` lists commands under these headings, in this order (a test checks that
# every command has one).
PANELS: dict[str, tuple[str, ...]] = {
    "Everyday": ("connections", "show", "revoke", "check", "audit", "profiles", "servers",
                 "events", "serve", "notebooks"),
    "Setup": ("init", "demo", "provider", "profile", "connect", "reauthorize", "update-key",
              "disable", "enable", "server", "user", "token", "webhook", "demo-server"),
    "Operations": ("refresh", "revocations", "rotate-key", "generate", "api"),
}


def load_commands(argv: list[str] | None = None) -> None:
    """Register the command `argv` names, or every command (help, a typo, or argv None)."""
    wanted = COMMANDS.get(argv[0], MODULES) if argv else MODULES
    for name in MODULES:  # in help order, whatever subset
        if name in wanted:
            import_module(f"connmodel.cli.{name}")
    _place_in_panels()


def _place_in_panels() -> None:
    """Put each command under its PANELS heading, in PANELS' order (help lists them so)."""
    order = [name for names in PANELS.values() for name in names]
    panel_of = {name: panel for panel, names in PANELS.items() for name in names}

    def name_of(info: CommandInfo | TyperInfo) -> str:
        if isinstance(info, TyperInfo) or info.name:
            return info.name or ""
        return get_command_name(info.callback.__name__ if info.callback else "")

    for infos in (app.registered_commands, app.registered_groups):
        for info in infos:
            info.rich_help_panel = panel_of.get(name_of(info))
        infos.sort(key=lambda i: order.index(n) if (n := name_of(i)) in order else len(order))


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on argv and return its exit code (tests call this in-process).

    Usage errors (exit 2) and domain errors (their own exit code) become one line on stderr.
    """
    argv = sys.argv[1:] if argv is None else argv
    load_commands(argv)
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
