"""How a route reaches the store: the caller's token turned into an Actor, one session per call.

The API's counterpart of dashboard/viewmodels/backend.py: routes never open sessions or check
permissions themselves; they name one service and its arguments. The credential broker, the
one hot route, hands its token to its service (`brokered`), which reads it in the statement
that reads the server: a request costs one thread hop, one session and one statement.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict
from sqlmodel import Session

from connmodel.broker import BrokeredCredential, credential_for
from connmodel.errors import AuthenticationFailed, InvalidInput
from connmodel.permissions import Actor
from connmodel.secrets import KeyRing
from connmodel.services.tokens import NO_TOKEN, authenticate
from connmodel.store import reading, session

T = TypeVar("T")
NUL_REFUSED = "text may not contain NUL (\\x00) characters: remove it"
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
    """The caller of one request: runs services as its token's actor. The token is checked in
    the worker thread of the service it calls, in the same session for a read: a request costs
    one thread hop (FastAPI runs a sync dependency in a thread of its own) and, for a read, one
    session."""

    token: str
    address: str
    settings: ApiSettings

    def actor(self, s: Session) -> Actor:
        """The token's actor; AuthenticationFailed (401) for an unknown, expired or revoked one.
        Checked outside a transaction: its writes are single statements (a refusal's audit
        event, `last_used_at` once a minute)."""
        return authenticate(s, self.token, address=self.address)

    def call(self, service: Callable[..., T], **kwargs: Any) -> T:
        """Run one service in its own session (writes commit inside the service)."""
        with reading(self.settings.database_url) as s:
            actor = self.actor(s)
        with session(self.settings.database_url) as s:
            return service(s, actor=actor, **kwargs)

    def read(self, service: Callable[..., T], **kwargs: Any) -> T:
        """Run a read-only service outside a transaction (see connmodel.store.reading)."""
        with reading(self.settings.database_url) as s:
            return service(s, actor=self.actor(s), **kwargs)

    def with_keyring(self, service: Callable[..., T], **kwargs: Any) -> T:
        """`call` for a service that uses the secret key (refresh, the credential broker)."""
        return self.call(service, keyring=self.settings.keyring, **kwargs)


def bearer_token(request: Request) -> str:
    """The request's bearer token, as HTTPBearer reads it; AuthenticationFailed (401) without
    one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed(NO_TOKEN)
    return token.strip()


def client_address(request: Request) -> str:
    """Who sent the request, as a refused token's audit event names it."""
    return request.client.host if request.client else "?"


def settings_of(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def caller(request: Request,
                 _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
    """The request's caller; AuthenticationFailed (401) at once without a token. The token
    itself is checked with the call (`Caller.actor`); `bearer` declares the scheme in the
    OpenAPI document. A malformed query is InvalidInput (422): `refuse_malformed_query`."""
    token = bearer_token(request)
    refuse_malformed_query(request)
    return Caller(token, client_address(request), settings_of(request))


def refuse_malformed_query(request: Request) -> None:
    """InvalidInput for a NUL in the path or the query (see `refuse_nul`), or a query
    parameter given twice: the last one silently won, where a script may have meant either."""
    query = request.scope["query_string"]
    if b"%00" in query or "\x00" in request.scope["path"]:
        raise InvalidInput(NUL_REFUSED)
    if query:
        counts = Counter(name for name, _ in request.query_params.multi_items())
        name, times = counts.most_common(1)[0]
        if times > 1:
            raise InvalidInput(f"query parameter {name!r} is given {times} times: give it once")


def refuse_nul(value: T) -> T:
    """A body's text without NUL. SQLite reads a NUL as the end of a LIKE pattern or a text
    query, so a filter holding one matched everything (a revoke by it revoked all) where
    PostgreSQL refuses it: refused on both, as query parameters are (`caller`)."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(NUL_REFUSED)
    return value


NoNul = AfterValidator(refuse_nul)


class Body(BaseModel):
    """Every request body of this API: an unknown field is refused (422), as a misspelt one
    would be dropped and change the write (`dryrun` for `dry_run` revoked; a misspelt filter
    key widened a revocation)."""

    model_config = ConfigDict(extra="forbid")


CallerDep = Annotated[Caller, Depends(caller)]


def brokered(settings: ApiSettings, token: str, address: str, server: str) -> BrokeredCredential:
    """The credential broker's answer to `token` for `server`: the token and the server read
    in one statement outside a transaction (on PostgreSQL one round trip), a due token
    refreshed in a transaction of its own."""
    keyring = settings.keyring
    with reading(settings.database_url) as s:
        return credential_for(s, token=token, address=address, keyring=keyring, server=server,
                              transaction=lambda: session(settings.database_url))
