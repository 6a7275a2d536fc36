"""The refresher a long-running process runs: refresh due tokens and send due provider
revocations every `interval` seconds (`connmodel worker`, `connmodel refresh --watch`).

Several processes may each run one against the same database: the row claims in
`connmodel.providers.refresh` and `connmodel.providers.revocations` keep them from doing the
same work twice. A failing cycle (database down, wrong key) is logged and the next one tries
again. Dashboards run none of this (one worker per deployment does).
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from connmodel.errors import ConnModelError
from connmodel.permissions import SYSTEM, Actor
from connmodel.providers.refresh import DEFAULT_WINDOW, RefreshOutcome, refresh_due
from connmodel.providers.revocations import deliver_due
from connmodel.secrets import KeyRing
from connmodel.store import session

log = logging.getLogger(__name__)


@dataclass
class Cycle:
    """What one pass did (kept as `last` for a status line in the dashboard)."""

    refreshed: list[RefreshOutcome] = field(default_factory=list)
    revocations: dict[str, int] = field(default_factory=dict)
    error: str | None = None


class BackgroundRefresher:
    """`run_until(stop)` in a worker process; `run_once()` for one cycle (cron, tests).

    Concurrency is 2 by default. bench/refresh.py measured a page's interaction p95 about
    doubling while 10,000 tokens were refreshed in the same process: that is why the refresh
    runs in the worker (its own process, at nice 10), never in a dashboard.
    """

    def __init__(self, database_url: str | None, keyring: KeyRing, *, interval: float = 60.0,
                 window: timedelta = DEFAULT_WINDOW, concurrency: int = 2,
                 actor: Actor = SYSTEM) -> None:
        self.database_url = database_url
        self.keyring = keyring
        self.interval = interval
        self.window = window
        self.concurrency = concurrency
        self.actor = actor
        self.last: Cycle | None = None

    def run_once(self) -> Cycle:
        cycle = Cycle()
        try:
            with session(self.database_url) as s:
                cycle.refreshed = refresh_due(s, actor=self.actor, keyring=self.keyring,
                                              window=self.window, concurrency=self.concurrency)
                cycle.revocations = deliver_due(s, keyring=self.keyring, actor=self.actor)
        except ConnModelError as exc:
            cycle.error = str(exc)
            log.warning("background refresh failed: %s", exc)
        self.last = cycle
        return cycle

    def run_until(self, stop: threading.Event,
                  on_cycle: Callable[[Cycle], None] | None = None) -> None:
        """A cycle every `interval` seconds in this thread until `stop` is set; a cycle in
        flight always finishes (stopping mid-refresh would lose tokens the provider rotated)."""
        while not stop.is_set():
            cycle = self.run_once()
            if on_cycle is not None:
                on_cycle(cycle)
            stop.wait(self.interval)
