"""The installed `connmodel` script, and the guardrail: every command has help and is documented."""

import importlib.util
import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import typer

from connmodel.cli import COMMANDS, MODULES, PANELS, SUMMARIES, app, load_commands, run
from connmodel.services.demo import seed_demo
from connmodel.store import session

SCRIPT = Path(sys.executable).parent / "connmodel"
REFERENCE = Path(__file__).parents[2] / "scripts" / "cli_reference.py"


def test_installed_script(sqlite_url, keyring, admin):
    """One run of the real console script (the in-process tests cover every path through it)."""
    with session(sqlite_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    listing = subprocess.run([str(SCRIPT), "connections", "-d", sqlite_url, "-f", "json",
                              "--status", "error"],
                             capture_output=True, text=True, timeout=60, check=True)
    (item,) = json.loads(listing.stdout)["items"]
    assert (item["profile"], item["status"]) == ("GitHub Staging", "Error")
    assert listing.stderr == ""


def _commands(group: typer.Typer, prefix: str = "") -> dict[str, str]:
    """Every command path -> its help."""
    found = {}
    for command in group.registered_commands:
        name = command.name or command.callback.__name__.replace("_", "-")
        found[f"{prefix}{name}"] = command.callback.__doc__ or ""
    for sub in group.registered_groups:
        found |= _commands(sub.typer_instance, f"{prefix}{sub.name} ")
    return found


def test_every_command_has_help_and_a_section_in_the_cli_reference():
    """The reference (docs/cli.md) is generated from the app: every command must reach it."""
    spec = importlib.util.spec_from_file_location("cli_reference", REFERENCE)
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    text = reference.reference()
    load_commands()
    commands = _commands(app)
    assert {"connections", "show", "revoke", "profiles", "servers", "events", "rotate-key",
            "profile add", "provider add", "init", "demo", "serve"} <= set(commands)
    for name, doc in commands.items():
        assert doc.strip(), f"`connmodel {name}` has no help text"
        assert f"#### `connmodel {name}`" in text, f"`connmodel {name}` is not in the reference"
    assert "usage: connmodel serve" in text  # dashboard/serve.py's own options


def test_the_lazy_command_table_names_every_command_and_its_modules():
    """`run` imports only the modules COMMANDS names for a command: a command missing from the
    table, or a module missing from its entry, would be unknown or incomplete."""
    load_commands()
    registered: dict[str, set[str]] = {}
    for command in app.registered_commands:
        name = command.name or command.callback.__name__.replace("_", "-")
        registered.setdefault(name, set()).add(command.callback.__module__)
    for sub in app.registered_groups:
        modules = {c.callback.__module__ for c in sub.typer_instance.registered_commands}
        registered.setdefault(sub.name, set()).update(modules)
    assert {name: set(mods) for name, mods in COMMANDS.items()} == {
        name: {m.rsplit(".", 1)[1] for m in mods} for name, mods in registered.items()}
    assert set(MODULES) == {m for mods in COMMANDS.values() for m in mods}


def test_a_command_loads_only_its_modules():
    """`connmodel audit` starts without the OAuth client, Alembic or the other commands."""
    code = ("import sys; from connmodel.cli import run; run(['audit', '--help']); "
            "print(sorted(m for m in sys.modules if m.startswith(('connmodel.cli.', 'authlib', "
            "'alembic', 'connmodel.services')) ), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stderr.splitlines()[-1] == "['connmodel.cli.audit', 'connmodel.cli.common']"


def test_help_groups_every_command_under_a_heading():
    load_commands()
    top = [c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands]
    top += [g.name for g in app.registered_groups]
    unplaced = sorted(set(top) - {name for names in PANELS.values() for name in names})
    assert not unplaced, f"commands under no heading in `connmodel --help`: {unplaced}"
    done = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60,
                          check=True, env={**os.environ, "COLUMNS": "100"})
    headings = [line for line in done.stdout.splitlines() if line.startswith("╭─ ")]
    assert [h.split()[1] for h in headings] == ["Options", "Everyday", "Setup", "Operations"]
    assert "--install-completion" in done.stdout


def test_version_is_the_packages():
    done = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout == f"connmodel {version('connmodel')}\n"


def test_help_lists_every_command_without_importing_one(capsys):
    """`connmodel --help` prints what it prints with every command loaded, from SUMMARIES."""
    code = ("import sys; from connmodel.cli import run; run(['--help']); "
            "print(sorted(m for m in sys.modules if m.startswith('connmodel.')), file=sys.stderr)")
    lazy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert lazy.stderr.splitlines()[-1] == "['connmodel.cli', 'connmodel.errors']"
    load_commands()
    run(["--help"])
    assert lazy.stdout == capsys.readouterr().out
    assert set(SUMMARIES) == set(COMMANDS)


def test_a_listing_imports_no_oauth_plotting_or_dashboard_stack(sqlite_url, keyring, admin):
    """`connections` and `show` as scripts call them load only the store and the services."""
    with session(sqlite_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    heavy = ("authlib", "httpx", "httpx2", "joserfc", "cryptography", "bokeh", "pandas", "panel",
             "rich", "alembic")
    code = ("import sys, io, contextlib; from connmodel.cli import run\n"
            "with contextlib.redirect_stdout(io.StringIO()): code = run(sys.argv[1:])\n"
            f"print(code, sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))")
    for argv in (["connections", "--limit", "10", "-f", "json"], ["show", "1", "-f", "json"]):
        done = subprocess.run([sys.executable, "-c", code, *argv, "-d", sqlite_url],
                              capture_output=True, text=True, timeout=60, check=True)
        assert done.stdout.split(" ", 1) == ["0", "[]\n"], (argv, done.stdout, done.stderr)
