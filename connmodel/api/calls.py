"""How a route reaches the store: the caller's token turned into an Actor, one session per call.

The API's counterpart of dashboard/viewmodels/backend.py: routes never open sessions or check
permissions themselves; they name one service and its arguments. The credential broker, the
one hot route, checks its token in the session of its service and in one worker thread
(`Presented`): a request costs one thread hop and one session instead of two of each.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from connmodel.errors import AuthenticationFailed
from connmodel.permissions import Actor
from connmodel.secrets import KeyRing
from connmodel.services.tokens import NO_TOKEN, authenticate
from connmodel.store import reading, session

T = TypeVar("T")
bearer = HTTPBearer(auto_error=False, description="An API token: `connmodel token add NAME "
                    "--scope read|admin|broker` prints one.")


@dataclass
class ApiSettings:
    """What every request needs: the database URL (None: $CONNMODEL_DATABASE_URL)."""

    database_url: str | None = None

    @cached_property
    def keyring(self) -> KeyRing:
        """The secret key, proven against the database on first use (refresh, the broker)."""
        from connmodel.services.keys import checked_keyring

        with session(self.database_url) as s:
            keyring = checked_keyring(s)
            s.commit()
        return keyring


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one request: runs services as its token's actor."""

    actor: Actor
    settings: ApiSettings

    def call(self, service: Callable[..., T], **kwargs: Any) -> T:
        """Run one service in its own session (writes commit inside the service)."""
        with session(self.settings.database_url) as s:
            return service(s, actor=self.actor, **kwargs)

    def read(self, service: Callable[..., T], **kwargs: Any) -> T:
        """Run a read-only service outside a transaction (see connmodel.store.reading)."""
        with reading(self.settings.database_url) as s:
            return service(s, actor=self.actor, **kwargs)

    def with_keyring(self, service: Callable[..., T], **kwargs: Any) -> T:
        """`call` for a service that uses the secret key (refresh, the credential broker)."""
        return self.call(service, keyring=self.settings.keyring, **kwargs)


def settings_of(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def caller(request: Request,
           credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
    """The request's caller; AuthenticationFailed (401) without a valid token.

    Checked outside a transaction (`reading`): its writes are single statements (a refusal's
    audit event, `last_used_at` once a minute), so on PostgreSQL it needs no BEGIN and no
    ROLLBACK, two of its three round trips."""
    settings = settings_of(request)
    address = request.client.host if request.client else "?"
    with reading(settings.database_url) as s:
        actor = authenticate(s, credentials.credentials if credentials else None, address=address)
    return Caller(actor, settings)


CallerDep = Annotated[Caller, Depends(caller)]


@dataclass(frozen=True)
class Presented:
    """A request's bearer token, not yet checked: `with_keyring` checks it in the session of the
    service it runs, in one worker thread, so the route and its dependencies stay async."""

    token: str
    address: str
    settings: ApiSettings

    async def with_keyring(self, service: Callable[..., T], **kwargs: Any) -> T:
        """`Caller.with_keyring`, with authentication in the same session and thread."""
        return await run_in_threadpool(self._with_keyring, service, kwargs)

    def _with_keyring(self, service: Callable[..., T], kwargs: dict[str, Any]) -> T:
        keyring = self.settings.keyring
        with session(self.settings.database_url) as s:
            actor = authenticate(s, self.token, address=self.address)
            return service(s, actor=actor, keyring=keyring, **kwargs)


async def presented(request: Request,
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
                    ) -> Presented:
    """The request's token, checked later (Presented); no token is 401 here, before the body
    is read, as `caller` answers it."""
    if credentials is None or not credentials.credentials:
        raise AuthenticationFailed(NO_TOKEN)
    address = request.client.host if request.client else "?"
    return Presented(credentials.credentials, address, settings_of(request))


PresentedDep = Annotated[Presented, Depends(presented)]
