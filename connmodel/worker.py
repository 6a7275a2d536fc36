"""All background work of a deployment, for `connmodel worker`: once, whatever the pages.

A cycle every `interval` seconds: token refresh and provider revocations (the refresher's
cycle, `providers.background`), webhook deliveries (`webhooks.deliver_due`) and, when
$CONNMODEL_CHECK_INTERVAL is set and the round is due, a scheduled check of every live
connection. Dashboards run none of it. Every queue claims its rows (conditional updates), and
the check round is claimed on `scheduled_job`, so a second worker (a standby, a cron
`connmodel worker --once`) never does an item or a round twice.

Each cycle also stamps the `worker` row of `scheduled_job`, which the dashboard's /metrics
reports as the worker's lag.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from connmodel.checks import CheckRequest
from connmodel.checks.runner import run_checks
from connmodel.errors import ConnModelError
from connmodel.models import ProviderRevocation, ScheduledJob, utcnow
from connmodel.permissions import SYSTEM, Actor
from connmodel.providers.background import BackgroundRefresher
from connmodel.secrets import KeyRing
from connmodel.store import session
from connmodel.webhooks import deliver_due, env_targets, pending_count

log = logging.getLogger(__name__)

CHECK_ROUND = "checks"
HEARTBEAT = "worker"
CHECK_CONCURRENCY = 20
CHECK_TIMEOUT_S = 10.0


@dataclass
class WorkerCycle:
    """What one cycle did (printed by `connmodel worker`)."""

    refreshed: int = 0
    revocations: dict[str, int] = field(default_factory=dict)
    webhooks_delivered: int = 0
    webhooks_failed: int = 0
    checked: int | None = None  # None: no round was due (or another worker ran it)
    errors: list[str] = field(default_factory=list)

    @property
    def idle(self) -> bool:
        """Nothing was due and nothing failed (a cycle not worth a log line)."""
        return not (self.refreshed or any(self.revocations.values()) or self.webhooks_delivered
                    or self.webhooks_failed or self.checked is not None or self.errors)

    def summary(self) -> str:
        parts = [f"{self.refreshed} refreshed",
                 "provider revocations: " + (", ".join(
                     f"{n} {k}" for k, n in self.revocations.items() if n) or "none"),
                 f"webhooks: {self.webhooks_delivered} delivered, {self.webhooks_failed} failed"]
        if self.checked is not None:
            parts.append(f"check round: {self.checked} connections")
        return "; ".join(parts + [f"error: {e}" for e in self.errors])


def claim_round(s: Session, name: str, every: timedelta, now: datetime) -> bool:
    """Take the round `name` when it is due, moving it `every` ahead (committed): of several
    workers asking at once, exactly one gets True."""
    if s.get(ScheduledJob, name) is None:
        try:
            s.execute(insert(ScheduledJob).values(name=name, next_run_at=now))
            s.commit()
        except IntegrityError:
            s.rollback()  # another worker created it first
    taken = s.exec(
        update(ScheduledJob)
        .where(col(ScheduledJob.name) == name, col(ScheduledJob.next_run_at) <= now)
        .values(next_run_at=now + every, last_started_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    s.commit()
    return bool(taken)


def _stamp(s: Session, name: str, *, error: str | None = None) -> None:
    now = utcnow()
    done = s.exec(update(ScheduledJob).where(col(ScheduledJob.name) == name)
                  .values(last_finished_at=now, last_error=error)
                  .execution_options(synchronize_session=False)).rowcount
    if not done:
        s.add(ScheduledJob(name=name, next_run_at=now, last_finished_at=now, last_error=error))
    try:
        s.commit()
    except IntegrityError:
        s.rollback()  # two workers stamped a new row at once: either stamp will do


@dataclass(frozen=True)
class QueueDepths:
    """What is waiting, for /metrics: undelivered webhooks, unsent provider revocations, and
    seconds since a worker last finished a cycle (None: no worker has run)."""

    webhooks: int
    revocations: int
    worker_lag_s: float | None


def queue_depths(s: Session) -> QueueDepths:
    revocations = s.scalars(select(func.count()).select_from(ProviderRevocation).where(
        col(ProviderRevocation.delivered_at).is_(None),
        col(ProviderRevocation.given_up_at).is_(None))).one()
    beat = s.get(ScheduledJob, HEARTBEAT)
    lag = (utcnow() - beat.last_finished_at).total_seconds() \
        if beat is not None and beat.last_finished_at is not None else None
    return QueueDepths(pending_count(s), int(revocations), lag)


class Worker:
    """`run_once()` is one cycle; `run_until(stop)` repeats it every `interval` seconds.

    InvalidInput at construction when $CONNMODEL_WEBHOOK_URLS cannot be used."""

    def __init__(self, database_url: str | None, keyring: KeyRing, *, interval: float = 5.0,
                 check_every: float | None = None, actor: Actor = SYSTEM) -> None:
        self.database_url = database_url
        self.keyring = keyring
        self.interval = interval
        self.check_every = check_every
        self.actor = actor
        env_targets()  # a receiver list it cannot use fails here, not every check round
        self._refresher = BackgroundRefresher(database_url, keyring, actor=actor)

    def run_once(self) -> WorkerCycle:
        cycle = WorkerCycle()
        refresh = self._refresher.run_once()
        cycle.refreshed = len(refresh.refreshed)
        cycle.revocations = refresh.revocations
        if refresh.error:
            cycle.errors.append(refresh.error)
        try:
            if self.check_every:
                self._check_round(cycle)
            with session(self.database_url) as s:
                report = deliver_due(s, keyring=self.keyring)
                cycle.webhooks_delivered, cycle.webhooks_failed = report.delivered, report.failed
                _stamp(s, HEARTBEAT, error="; ".join(cycle.errors) or None)
        except ConnModelError as exc:
            cycle.errors.append(str(exc))
            log.warning("worker cycle failed: %s", exc)
        return cycle

    def _check_round(self, cycle: WorkerCycle) -> None:
        assert self.check_every is not None
        with session(self.database_url) as s:
            if not claim_round(s, CHECK_ROUND, timedelta(seconds=self.check_every), utcnow()):
                return
        error = None
        try:
            results = run_checks(self.database_url, actor=self.actor, keyring=self.keyring,
                                 request=CheckRequest(all_connections=True,
                                                      concurrency=CHECK_CONCURRENCY,
                                                      timeout=CHECK_TIMEOUT_S))
            cycle.checked = len(results)
        except ConnModelError as exc:
            error = str(exc)
            cycle.errors.append(f"check round: {exc}")
        with session(self.database_url) as s:
            _stamp(s, CHECK_ROUND, error=error)

    def run_until(self, stop: threading.Event,
                  on_cycle: Callable[[WorkerCycle], None] | None = None) -> None:
        """A cycle every `interval` seconds until `stop` is set; the cycle in flight finishes
        (a refresh cut short would lose a token the provider already rotated)."""
        while not stop.is_set():
            cycle = self.run_once()
            if on_cycle is not None:
                on_cycle(cycle)
            stop.wait(self.interval)
