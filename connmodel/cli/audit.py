"""`connmodel audit`: the periodic audit report for cron, systemd timers and CI jobs.

Exit codes: 0 clean, 1 when a `--fail-on` finding exists, 2 on a usage or database error.
pandas, Bokeh and papermill are imported when the command runs, not when the CLI starts, so
every other command keeps starting fast.
"""

import os
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from connmodel.cli import app
from connmodel.cli.common import DatabaseOpt, cli_actor, refuse_together, store
from connmodel.errors import InvalidInput
from connmodel.permissions import Actor, Role
from connmodel.status import parse_environment
from connmodel.store import database_url

LIMIT = 50  # rows listed per finding unless --limit says otherwise


class ReportFormat(StrEnum):
    HTML = "html"
    MARKDOWN = "markdown"
    JSON = "json"


def _refuse_with_notebook(notebook: str | None, fmt: ReportFormat | None,
                          limit: int | None) -> None:
    """A notebook's report is its own HTML page with its own tables: a format other than html,
    or a row limit, would be silently ignored."""
    other_format = fmt if fmt not in (None, ReportFormat.HTML) else None
    refuse_together("--notebook", notebook, {f"--format {fmt}": other_format, "--limit": limit})


def _check_writable(output: Path) -> None:
    """Refuse an output path that cannot be written before any query runs: by writing a trial
    file beside it, as the report will be (os.access says yes to root, even in /proc)."""
    if output.is_dir():
        raise InvalidInput(f"cannot write the report to {output}: it is a directory")
    parent = output.parent
    if not parent.is_dir():
        raise InvalidInput(f"cannot write the report to {output}: {parent} does not exist")
    if output.exists() and not os.access(output, os.W_OK):
        raise InvalidInput(f"cannot write the report to {output}: permission denied")
    fd, tmp = _temp_beside(output)
    os.close(fd)
    os.unlink(tmp)


def _temp_beside(output: Path) -> tuple[int, str]:
    """A new temporary file in the output's folder; InvalidInput naming `output` (the path the
    user gave, not the temporary file's) when the folder refuses one."""
    try:
        return tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    except OSError as exc:
        raise InvalidInput(f"cannot write the report to {output}: {exc.strerror}") from None


def _write(output: Path, text: str) -> None:
    """Write whole or not at all: a reader (a web server, a mailer) never sees half a report."""
    fd, tmp = _temp_beside(output)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, output)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InvalidInput(f"cannot write the report to {output}: {exc.strerror}") from None


@app.command()
def audit(
    fmt: Annotated[ReportFormat | None, typer.Option(
        "--format", "-f", help="markdown (the default), html (one self-contained file) or json.",
        show_default=False)] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the report to this file (default: standard output).",
        show_default=False, dir_okay=True)] = None,
    days: Annotated[int, typer.Option(
        "--days", min=0, max=3650,
        help="Stale after this many days unused; expiring within it; history window.")] = 30,
    hours: Annotated[int, typer.Option(
        "--hours", min=0, max=3650, help="Production profiles must be checked within this.")] = 24,
    environment: Annotated[str | None, typer.Option(
        "--environment", "-e", help="Only connections of dev, staging or production profiles.",
        show_default=False)] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", "-n", min=1, max=1000, help=f"Rows listed per finding (default {LIMIT}).",
        show_default=False)] = None,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", help="Exit 1 when any of these findings exist: error,stale,expiring.",
        show_default=False)] = None,
    notebook: Annotated[str | None, typer.Option(
        "--notebook", help="Instead, execute this notebook (papermill) and output it as HTML "
        "(so no --limit, and no --format but html).",
        show_default=False)] = None,
    database: DatabaseOpt = None,
) -> None:
    """Audit stale, expiring and erroring connections; exit 1 on a --fail-on finding."""
    _refuse_with_notebook(notebook, fmt, limit)
    from connmodel.audit.notebooks import find_notebook, run_to_html
    from connmodel.audit.queries import is_empty
    from connmodel.audit.render import NOTHING, RENDERERS
    from connmodel.audit.report import build_report, count_findings, failing, parse_fail_on

    failing_on = parse_fail_on(fail_on)
    env = parse_environment(environment).value if environment else None
    path = find_notebook(notebook, report=True) if notebook else None
    if output is not None:
        _check_writable(output)
    actor = Actor(cli_actor().name, Role.VIEWER)  # an audit only reads
    with store(database) as s:
        if path is None:
            report = build_report(s, actor=actor, database_url=database, days=days,
                                  hours=hours, environment=env, limit=limit or LIMIT)
            empty, counts = report.empty, report.counts
        else:  # the notebook is the report: count only what --fail-on names
            empty = is_empty(s, actor=actor)
            counts = count_findings(s, actor=actor, findings=failing_on, days=days,
                                    environment=env)
    found = failing(counts, failing_on)
    if empty:
        typer.echo(f"connmodel: {NOTHING}", err=True)
    if path is not None:
        text = run_to_html(path, database_url=database_url(database),
                           parameters={"days": days, "hours": hours, "environment": env})
    else:
        text = RENDERERS[(fmt or ReportFormat.MARKDOWN).value](report, failing=found)
    if output is None:
        typer.echo(text)
    else:
        _write(output, text)
        typer.echo(f"audit report written to {output}", err=True)
    if found:
        typer.echo("connmodel: audit findings: " + ", ".join(
            f"{f.value} {counts[f.value]:,}" for f in found), err=True)
        raise typer.Exit(1)
