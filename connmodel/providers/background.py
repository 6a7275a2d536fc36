"""The refresher a long-running process runs: refresh due tokens and send due provider
revocations every `interval` seconds, in a daemon thread (the dashboard) or in the foreground
(`connmodel refresh --watch`, a worker process of its own).

Several processes may each run one against the same database: the row claims in
`connmodel.providers.refresh` and `connmodel.providers.revocations` keep them from doing the
same work twice. A failing cycle (database down, wrong key) is logged and the next one tries
again; it never kills the thread.

With CONNMODEL_BACKGROUND_REFRESH=off, `start()` does nothing: a deployment that runs the
worker keeps the refresh work (and its CPU) out of the dashboard processes.
"""

import logging
import os
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
ENV_SWITCH = "CONNMODEL_BACKGROUND_REFRESH"


@dataclass
class Cycle:
    """What one pass did (kept as `last` for a status line in the dashboard)."""

    refreshed: list[RefreshOutcome] = field(default_factory=list)
    revocations: dict[str, int] = field(default_factory=dict)
    error: str | None = None


class BackgroundRefresher:
    """`start()` once per process; `stop()` on shutdown; `run_once()` for tests and buttons.

    Concurrency is 2 by default: it shares the process (and its GIL) with the pages. Even so,
    bench/refresh.py shows the page's interaction p95 about doubling while it refreshes 10,000
    tokens; with many tokens, `connmodel refresh --watch` (its own process, at nice 10) and
    CONNMODEL_BACKGROUND_REFRESH=off here keep the pages' CPU to themselves.
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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

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

    def start(self) -> "BackgroundRefresher":
        if os.environ.get(ENV_SWITCH, "").strip().lower() in ("off", "0", "false", "no"):
            log.info("token refresher not started here: %s=off (a worker refreshes)", ENV_SWITCH)
            return self
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self.run_until, args=(self._stop,),
                                            name="connmodel-refresher", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
