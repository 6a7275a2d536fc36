"""`connmodel serve`: the dashboard, as `python dashboard/serve.py` starts it.

Every option, default and safety check is dashboard/serve.py's own: this command hands it the
arguments untouched (`connmodel serve --help` is its help), so the two cannot drift apart. The
dashboard is its own program (Panel, the Bokeh server) above connmodel's layers, so the command
does not import it: it replaces this process with it (`-P`: a `dashboard` folder in the current
directory cannot stand in for the installed one).
"""

import os
import sys

import typer

from connmodel.cli import app

PROGRAM = "from dashboard.serve import main; main(prog='connmodel serve')"


@app.command(add_help_option=False, context_settings={
    "allow_extra_args": True, "ignore_unknown_options": True})
def serve(ctx: typer.Context) -> None:
    """Serve the dashboard (sign-in, addresses, safety checks: see connmodel serve --help)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-P", "-c", PROGRAM, *ctx.args])
