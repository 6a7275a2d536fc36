"""`connmodel worker`: the deployment's one process for background work (connmodel/worker.py)."""

import os
import signal
import threading
from datetime import UTC, datetime
from typing import Annotated

import typer

from connmodel.checks.runner import check_interval
from connmodel.cli import app
from connmodel.cli.common import DatabaseOpt, proven_keyring
from connmodel.worker import Worker, WorkerCycle

NICE = 10


def _fail_on_errors(cycle: WorkerCycle) -> None:
    """Exit 1 when the cycle had errors: cron and CI read the exit code, not the summary."""
    if cycle.errors:
        count = len(cycle.errors)
        typer.echo(f"connmodel: error: the worker cycle had {count} error"
                   f"{'s' * (count != 1)}: {'; '.join(cycle.errors)}", err=True)
        raise typer.Exit(1)


@app.command()
def worker(
    interval: Annotated[float, typer.Option(
        "--interval", help="Seconds between cycles (due refreshes, revocations, webhooks).",
        min=0.2, max=3600)] = 5.0,
    once: Annotated[bool, typer.Option(
        "--once", help="Run one cycle and exit (the cron alternative): exit 1 when the cycle "
        "had errors.")] = False,
    nice: Annotated[int, typer.Option(
        "--nice", help="Lower the CPU priority by N, so pages on the same host answer first.",
        min=0, max=19)] = NICE,
    database: DatabaseOpt = None,
) -> None:
    """Run the deployment's background work once: refresh, revocations, webhooks, checks.

    Token refresh, provider revocations, webhook deliveries and the scheduled check round
    ($CONNMODEL_CHECK_INTERVAL seconds), which dashboards no longer run. Run one (systemd) or
    `--once` from cron, which exits 1 when its cycle had errors (a failed refresh or check
    round; a receiver that refuses a webhook is retried, not an error). A second worker is
    safe (every queue claims its rows, each check round is claimed) but does nothing useful.
    Stops after the cycle in flight on SIGTERM / Ctrl-C.
    """
    keyring = proven_keyring(database)  # a wrong key must claim nothing
    every = check_interval()
    if nice:
        os.nice(nice)
    job = Worker(database, keyring, interval=interval, check_every=every)

    def report(cycle: WorkerCycle) -> None:
        if cycle.idle and not once:
            return
        typer.echo(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC: {cycle.summary()}")

    if once:
        cycle = job.run_once()
        report(cycle)
        _fail_on_errors(cycle)
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    typer.echo(f"worker: a cycle every {interval:g} s; check rounds "
               + (f"every {every:g} s" if every else "off (set CONNMODEL_CHECK_INTERVAL)")
               + "; SIGTERM or Ctrl-C stops after the cycle in flight", err=True)
    job.run_until(stop, report)
