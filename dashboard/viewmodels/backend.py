"""How view models reach the store: a database URL and the acting user, one session per call.

`aread` and `acall` are what a served page uses: they run the service in a worker thread
(`asyncio.to_thread`), so the server's event loop serves the other sessions meanwhile (Python's
sqlite3 and psycopg release the GIL while a statement runs). The caller awaits them on the loop
and changes its parameters there, after the call; a worker thread never touches a parameter.
"""

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import param

from connmodel.budget import read_budget
from connmodel.errors import SignInEnded
from connmodel.permissions import Action, Actor, allows
from connmodel.store import reading, session

T = TypeVar("T")


class SignIn(param.Parameterized):
    """Whether the browser session still acts for its signed-in user, shared by its pages."""

    ended = param.String(default="", doc="Why this page may no longer write (the service's "
                                          "refusal), or empty while it may.")


@dataclass(frozen=True)
class Backend:
    """Calls `connmodel` services as `actor` against `url` (None: $CONNMODEL_DATABASE_URL)."""

    actor: Actor
    url: str | None = None
    sign_in: SignIn = field(default_factory=SignIn, compare=False)
    read_budget_s: float | None = field(default_factory=read_budget)

    @property
    def can_write(self) -> bool:
        """Whether the UI offers write actions (revoke, add); the services check again."""
        return allows(self.actor, Action.WRITE)

    def call(self, service: Callable[..., T], **kwargs: Any) -> T:
        """Run one service in its own session; connmodel errors propagate to the caller.

        A write refused because the sign-in ended (signed out, expired, disabled, demoted since
        the page opened) is also noted in `sign_in`, so every page of the session says so.
        """
        with self.acting():
            return self._call(service, **kwargs)

    def _call(self, service: Callable[..., T], **kwargs: Any) -> T:
        with session(self.url) as s:
            return service(s, actor=self.actor, **kwargs)

    @contextmanager
    def acting(self) -> Iterator[None]:
        """Around a write that opens its own sessions (a check run): a refusal because the
        sign-in ended is noted in `sign_in` (every page of the session then says so), and
        raised on."""
        try:
            yield
        except SignInEnded as exc:
            self.sign_in.ended = str(exc)
            raise

    def read(self, service: Callable[..., T], *, cancel: threading.Event | None = None,
             **kwargs: Any) -> T:
        """Run a read-only service outside a transaction (`store.reading`): on PostgreSQL a
        screen then sends no BEGIN and no ROLLBACK, ~1 ms of a filter change. It stops after
        `read_budget_s` ($CONNMODEL_READ_BUDGET_S, default 2 s) with ReadBudgetExceeded, whose
        message the page shows; writes (`call`) have no budget. On SQLite, setting `cancel`
        (from any thread) stops it with ReadCancelled."""
        with reading(self.url, self.read_budget_s, cancel) as s:
            return service(s, actor=self.actor, **kwargs)

    async def aread(self, service: Callable[..., T], *, cancel: threading.Event | None = None,
                    **kwargs: Any) -> T:
        """`read` in a worker thread, awaited on the caller's loop."""
        return await asyncio.to_thread(self.read, service, cancel=cancel, **kwargs)

    async def acall(self, service: Callable[..., T], **kwargs: Any) -> T:
        """`call` in a worker thread, awaited on the caller's loop. A write runs to its end
        even when the awaiting coroutine is cancelled: the thread is not stopped. `sign_in`
        is told of a refusal here, on the loop (`acting`), not in the thread."""
        with self.acting():
            return await asyncio.to_thread(self._call, service, **kwargs)
