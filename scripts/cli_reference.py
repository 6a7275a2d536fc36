"""The CLI reference page, generated from the Typer app itself (a MkDocs hook, see mkdocs.yml).

Every command's usage, help and options come from the same objects `connmodel --help` prints,
so the page cannot fall behind the code. `connmodel serve` hands its arguments to
dashboard/serve.py, so its section is that program's own `--help`.
"""

import subprocess
import sys
from pathlib import Path
from typing import Any

import typer.main

from connmodel.cli import PANELS, app, load_commands

MARKER = "<!-- cli-reference -->"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _section(command: Any, path: str, parent: Any) -> list[str]:
    ctx = command.make_context(path.rsplit(" ", 1)[-1], [], parent=parent,
                               resilient_parsing=True)
    usage = " ".join([path, *command.collect_usage_pieces(ctx)])
    lines = [f"#### `{path}`", "", _cell(command.help or ""), ""]
    if path == "connmodel serve":
        script = Path(sys.executable).parent / "connmodel"
        done = subprocess.run([str(script), "serve", "--help"],
                              capture_output=True, text=True, check=True, timeout=60)
        return [*lines, "```text", done.stdout.rstrip(), "```", ""]
    lines += ["```text", usage, "```", ""]
    rows = [record for param in command.get_params(ctx)
            if (record := param.get_help_record(ctx)) and record[0] != "--help"]
    if rows:
        lines += ["| option | meaning |", "|---|---|"]
        lines += [f"| `{_cell(opts)}` | {_cell(help_)} |" for opts, help_ in rows]
        lines.append("")
    if hasattr(command, "list_commands"):
        for name in command.list_commands(ctx):
            lines += _section(command.get_command(ctx, name), f"{path} {name}", ctx)
    return lines


def reference() -> str:
    """Every command, under the headings `connmodel --help` groups them by."""
    load_commands()
    root = typer.main.get_command(app)
    ctx = root.make_context("connmodel", [], resilient_parsing=True)
    lines = []
    for panel, names in PANELS.items():
        lines += [f"### {panel}", ""]
        for name in names:
            lines += _section(root.get_command(ctx, name), f"connmodel {name}", ctx)
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, reference())
    return markdown
