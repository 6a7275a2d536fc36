"""The `connmodel` command line: thin Typer commands over the services.

Each command module registers itself on `app` when imported; `run` imports only the module(s) of
the command named (`connmodel connections` loads neither the OAuth client, Alembic nor rich),
and none for help or an unknown name: the group lists every command from `SUMMARIES` without
importing it (`LazyCommands`), so `connmodel --help` costs Typer and nothing more. `main` turns
every ConnModelError into one line on stderr and its exit code, so bad input never shows a
traceback.
"""

import gc
import os
import sys
from importlib import import_module
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_name

try:  # typer >= 0.2x vendors click
    from typer._click import Command, Context
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click import Command, Context  # type: ignore[assignment]
    from click.exceptions import ClickException  # type: ignore[assignment]

from connmodel.errors import ConnModelError


class LazyCommands(TyperGroup):
    """The top-level group: commands not imported yet are listed from `SUMMARIES`.

    `run` imports a command's modules before Click resolves it, so a stand-in (help text only)
    is only ever formatted into the group's help, never run.
    """

    def list_commands(self, ctx: Context) -> list[str]:
        return sorted([*SUMMARIES, *(name for name in self.commands if name not in SUMMARIES)],
                      key=_help_position)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        loaded = self.commands.get(cmd_name)
        if loaded is not None or cmd_name not in SUMMARIES:
            return loaded
        return TyperCommand(name=cmd_name, help=SUMMARIES[cmd_name],
                            rich_help_panel=PANEL_OF.get(cmd_name))


app = typer.Typer(
    cls=LazyCommands,
    name="connmodel",
    help="Connections & Profiles of an MCP gateway: list, view, check, revoke, audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # for the help's headings (PANELS); rich is imported for help only
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
           "profiles", "providers", "serve", "servers", "users", "worker")
COMMANDS: dict[str, tuple[str, ...]] = {
    "api": ("api",), "token": ("api",), "audit": ("audit",), "check": ("checks",), "demo-server": ("checks",),
    "server": ("checks",), "webhook": ("checks",),
    "connections": ("connections",), "show": ("connections",), "revoke": ("connections",),
    "revoke-matching": ("connections",),
    "init": ("core",), "demo": ("core",), "generate": ("generate",), "rotate-key": ("keys",),
    "profiles": ("profiles",), "profile": ("profiles",), "provider": ("profiles", "providers"),
    "connect": ("providers",), "reauthorize": ("providers",), "update-key": ("providers",),
    "disable": ("providers",), "enable": ("providers",), "refresh": ("providers",),
    "revocations": ("providers",), "servers": ("servers",), "events": ("servers",),
    "user": ("users",), "worker": ("worker",), "serve": ("serve",), "notebooks": ("notebooks",),
}
# `connmodel --help` lists the commands under these headings, in this order (a test checks that
# every command has one).
PANELS: dict[str, tuple[str, ...]] = {
    "Everyday": ("connections", "show", "revoke", "revoke-matching", "check", "audit",
                 "profiles", "servers", "events", "serve", "notebooks"),
    "Setup": ("init", "demo", "provider", "profile", "connect", "reauthorize", "update-key",
              "disable", "enable", "server", "user", "token", "webhook", "demo-server"),
    "Operations": ("refresh", "revocations", "rotate-key", "generate", "api", "worker"),
}
PANEL_OF = {name: panel for panel, names in PANELS.items() for name in names}
HELP_ORDER = [name for names in PANELS.values() for name in names]
# What `connmodel --help` says of each command, in its order, without importing the command (a
# test checks that it prints what the loaded commands print).
SUMMARIES: dict[str, str] = {
    "audit": "Audit stale, expiring and erroring connections; exit 1 on a --fail-on finding.",
    "check": "Check connections live against their MCP servers (initialize + tools/list).",
    "demo-server": "Serve the demo's Calculator MCP server (add, subtract) at "
                   "http://HOST:PORT/mcp.",
    "connections": "List live connections: filtered, sorted and paged in the database.",
    "show": "View one connection: details, masked configuration and the MCP servers using it.",
    "revoke": "Revoke a connection: wipe its credential and disconnect the servers of its "
              "profile.",
    "revoke-matching": "Revoke every live connection a filter matches (the page's 'Revoke all "
                       "matching').",
    "init": "Create or upgrade the database schema and create the secret key file if missing.",
    "demo": "Add example profiles and connections (Noauth, Hubspot, Google; some Inactive or "
            "Error).",
    "serve": "Serve the dashboard (sign-in, addresses, safety checks: see connmodel serve "
             "--help).",
    "notebooks": "List the notebooks shipped with connmodel, or copy them to a folder to open in "
                 "Jupyter.",
    "generate": "Add realistic synthetic connections (statuses, accounts, expiry, check history) "
                "in bulk.",
    "rotate-key": "Re-encrypt every secret under a new key in one transaction; the old key then "
                  "retires.",
    "profiles": "Profiles by name, a page at a time, with description, provider, first "
                "connections and counts by status.",
    "connect": "Connect a profile: none at once, API key from a hidden prompt, OAuth2 in a "
               "browser.",
    "reauthorize": "Run the OAuth2 flow again for an Inactive or Error connection (back to "
                   "Active).",
    "update-key": "Replace an API key connection's key (hidden prompt or stdin); it becomes "
                  "Active again.",
    "disable": "Disable a connection without deleting it: Inactive, its servers disconnected.",
    "enable": "Enable a disabled connection and reconnect the servers its disabling "
              "disconnected.",
    "refresh": "Refresh OAuth tokens due soon and send queued provider revocations (run it from "
               "cron, or as a worker with --watch).",
    "revocations": "Provider-side revocations (RFC 7009) waiting in the queue, with attempts and "
                   "last error.",
    "servers": "MCP servers of the gateway with the profile they use and their state.",
    "events": "The append-only audit trail, newest first (times in UTC).",
    "server": "Add MCP servers and move them to another profile.",
    "webhook": "Webhook receivers told when a connection turns Error or Inactive, or recovers.",
    "profile": "Add profiles (a named use of a provider config).",
    "provider": "Add provider configs (how to authenticate).",
    "user": "Users who may sign in to the dashboard.",
    "api": "Serve the HTTP API and the credential broker (OpenAPI at /openapi.json, docs at "
           "/docs).",
    "token": "API tokens of `connmodel api` (read, admin or broker).",
    "worker": "Run the deployment's background work once: refresh, revocations, webhooks, "
              "checks.",
}


def _help_position(name: str) -> int:
    return HELP_ORDER.index(name) if name in HELP_ORDER else len(HELP_ORDER)


def load_commands(argv: list[str] | None = None) -> None:
    """Register the command `argv` names (none for help or a typo), or every one (argv None,
    or shell completion, which completes every command's options)."""
    if os.environ.get("_CONNMODEL_COMPLETE"):
        argv = None
    wanted = MODULES if argv is None else COMMANDS.get(argv[0], ()) if argv else ()
    for name in MODULES:  # in help order, whatever subset
        if name in wanted:
            import_module(f"connmodel.cli.{name}")
    for command in app.registered_commands:
        name = command.name or get_command_name(getattr(command.callback, "__name__", ""))
        command.rich_help_panel = PANEL_OF.get(name)
    for group in app.registered_groups:
        group.rich_help_panel = PANEL_OF.get(group.name or "")


def _not_utf8(argv: list[str]) -> str | None:
    """Which argument is not UTF-8 text, if any (Python keeps such bytes as lone surrogates,
    which every later encode -- the database, the terminal -- would fail on)."""
    for n, arg in enumerate(argv, 1):
        try:
            arg.encode()
        except UnicodeEncodeError:
            raw = arg.encode("utf-8", "surrogateescape")
            return f"argument {n} ({raw!r}) is not UTF-8 text"
    return None


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on argv and return its exit code (tests call this in-process).

    Usage errors (exit 2) and domain errors (their own exit code) become one line on stderr.
    """
    argv = sys.argv[1:] if argv is None else argv
    undecodable = _not_utf8(argv)
    if undecodable:
        typer.echo(f"connmodel: error: {undecodable}; nothing was run", err=True)
        return 2
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
    except OSError as exc:  # a file an option names: too long, missing folder, no permission
        name = str(exc.filename or "")
        where = f": {name[:60]}{'…' if len(name) > 60 else ''}" if name else ""
        typer.echo(f"connmodel: error: {exc.strerror or exc}{where}", err=True)
        return 1
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
