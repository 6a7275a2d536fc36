"""How view models reach the store: a database URL and the acting user, one session per call."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from connmodel.permissions import Action, Actor, allows
from connmodel.store import reading, session

T = TypeVar("T")


@dataclass(frozen=True)
class Backend:
    """Calls `connmodel` services as `actor` against `url` (None: $CONNMODEL_DATABASE_URL)."""

    actor: Actor
    url: str | None = None

    @property
    def can_write(self) -> bool:
        """Whether the UI offers write actions (revoke, add); the services check again."""
        return allows(self.actor, Action.WRITE)

    def call(self, service: Callable[..., T], **kwargs: Any) -> T:
        """Run one service in its own session; connmodel errors propagate to the caller."""
        with session(self.url) as s:
            return service(s, actor=self.actor, **kwargs)

    def read(self, service: Callable[..., T], **kwargs: Any) -> T:
        """Run a read-only service outside a transaction (`store.reading`): on PostgreSQL a
        screen then sends no BEGIN and no ROLLBACK, ~1 ms of a filter change."""
        with reading(self.url) as s:
            return service(s, actor=self.actor, **kwargs)
