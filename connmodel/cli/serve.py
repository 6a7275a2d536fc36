"""`connmodel serve`: the dashboard, as `python dashboard/serve.py` starts it.

Every option, default and safety check is dashboard/serve.py's own: this command hands it the
arguments untouched (`connmodel serve --help` is its help), so the two can never drift apart.
"""

import typer

from connmodel.cli import app


@app.command(add_help_option=False, context_settings={
    "allow_extra_args": True, "ignore_unknown_options": True})
def serve(ctx: typer.Context) -> None:
    """Serve the dashboard (sign-in, addresses, safety checks: see connmodel serve --help)."""
    from dashboard.serve import main

    main(ctx.args, prog="connmodel serve")
