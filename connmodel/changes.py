"""One change watcher per process: learns that the store changed, once, and tells subscribers.

A dashboard process serves many browser sessions; none of them polls. The process's watcher
reads the change token (`services.groups.change_token`: four primary-key lookups) when told to
and calls every subscriber only when the token moved, or when the store became unreachable or
reachable again (so pages can show the outage and recover). Idle sessions therefore cost no
query, no callback and no websocket message.

- PostgreSQL: the watcher LISTENs on CHANNEL. Triggers (migration 0011) send a NOTIFY in the
  same transaction as every write that moves the token, from any process, the CLI, the API or a
  worker, so a change is known at its commit. A slow safety poll (SAFETY_POLL_S) covers what a
  notification could miss. A dropped LISTEN connection (pg_terminate_backend, a restart) is
  reconnected with back-off, and the token is read again at once on reconnect: nothing is lost.
- SQLite: no NOTIFY, so the watcher reads the token every POLL_S, once for the whole process.

$CONNMODEL_LISTEN_URL, when set, is where the LISTEN connection goes: PostgreSQL itself when
the pools go through pgbouncer in transaction mode, which cannot keep a LISTEN.
"""

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from sqlalchemy.engine import make_url

from connmodel.errors import ConnModelError
from connmodel.permissions import SYSTEM
from connmodel.services.groups import change_token
from connmodel.store import database_url, reading

log = logging.getLogger(__name__)

CHANNEL = "connmodel_changes"
POLL_S = 1.0
SAFETY_POLL_S = 30.0
RECONNECT_MAX_S = 5.0
LISTEN_URL = "CONNMODEL_LISTEN_URL"

Token = tuple[int, ...]


@dataclass(frozen=True)
class Change:
    """What a subscriber is told: the store's new token, or why it cannot be read."""

    token: Token | None
    error: str | None = None


def read_change(url: str | None) -> Change:
    """The store's change token now (an error instead when it cannot be read)."""
    try:
        with reading(url) as s:
            return Change(change_token(s, actor=SYSTEM))
    except ConnModelError as exc:
        return Change(None, str(exc))


Subscriber = Callable[[Change], None]


class ChangeWatcher:
    """Reads the change token when the store may have changed; calls subscribers on news.

    Subscribers are called on the watcher's thread: a dashboard hands the call to its
    session's event loop (see dashboard/changes.py). `start()` is idempotent.
    """

    def __init__(self, url: str | None = None, *, poll_s: float = POLL_S,
                 safety_poll_s: float = SAFETY_POLL_S) -> None:
        self.url = database_url(url)
        self.postgres = make_url(self.url).get_backend_name() == "postgresql"
        self.poll_s = poll_s
        self.safety_poll_s = safety_poll_s
        self.last: Change | None = None
        self.listening = False
        self.reads = 0
        self._subscribers: dict[int, Subscriber] = {}
        self._next_id = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(change)` on every change from now on; returns the unsubscribe."""
        with self._lock:
            key = self._next_id
            self._next_id += 1
            self._subscribers[key] = callback

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers.pop(key, None)
        return unsubscribe

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def start(self) -> "ChangeWatcher":
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="connmodel-changes",
                                                daemon=True)
                self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def check(self) -> Change:
        """Read the token now and tell subscribers if it moved or reachability changed."""
        change = read_change(self.url)
        self.reads += 1
        before, self.last = self.last, change
        news = before is None or change.token != before.token or (
            (change.error is None) != (before.error is None))
        if news and before is not None:
            with self._lock:
                callbacks = list(self._subscribers.values())
            for callback in callbacks:
                try:
                    callback(change)
                except Exception:  # one broken session must not starve the others
                    log.exception("change subscriber failed")
        return change

    def _run(self) -> None:
        if self.postgres:
            self._listen()
        else:
            while not self._stop.is_set():
                self.check()
                self._stop.wait(self.poll_s)

    def _listen(self) -> None:
        direct = os.environ.get(LISTEN_URL) or self.url
        conninfo = make_url(direct).set(drivername="postgresql").render_as_string(
            hide_password=False)
        delay = 0.2
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening = True
                    delay = 0.2
                    self.check()  # catch up on whatever happened while not listening
                    self._wait_for_notifications(conn)
            except psycopg.Error as exc:
                log.warning("change watcher: %s; reconnecting in %.1f s",
                            str(exc).strip().splitlines()[0] if str(exc).strip() else exc, delay)
            finally:
                self.listening = False
            if self._stop.is_set():
                return
            self.check()  # the store may be down: pages show it now, not at the safety poll
            self._stop.wait(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    def _wait_for_notifications(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        """Check after each batch of notifications, and at least every safety_poll_s."""
        last = time.monotonic()
        while not self._stop.is_set():
            notified = any(True for _ in conn.notifies(timeout=1.0, stop_after=1))
            if notified:
                # A burst (a bulk revoke commits many transactions) costs one read.
                for _ in conn.notifies(timeout=0.05):
                    pass
            if notified or time.monotonic() - last >= self.safety_poll_s:
                self.check()
                last = time.monotonic()
