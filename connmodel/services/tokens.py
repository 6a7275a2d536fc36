"""API tokens: issue one (shown once), list, revoke, and turn a presented token into an Actor.

A token is 256 random bits behind a fixed prefix; the store keeps only its SHA-256, so a copy
of the database authenticates nobody. A token is found by its hash (an index lookup on a value
an attacker cannot steer byte by byte) and the stored hash is compared again with
`hmac.compare_digest`, so no timing difference tells how much of a guess was right.
The API acts as "token:NAME" with the role of the token's scope (connmodel.permissions), so the
services check a token exactly as they check a person, and every audit event names the token.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import Label, bindparam, or_, select, update
from sqlmodel import Session, col

from connmodel.errors import (
    AlreadyExists,
    AlreadyRevoked,
    AuthenticationFailed,
    InvalidInput,
    NotFound,
)
from connmodel.models import TOKEN_NAME_MAX, ApiToken, ApiTokenPublic, utcnow
from connmodel.permissions import Action, Actor, Role, TokenScope, require
from connmodel.services.events import record
from connmodel.store import flush_unique
from connmodel.validation import clean_name

PREFIX = "cmt_"
EXPIRES_MAX_DAYS = 3650
USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token
NO_TOKEN = "no API token: send 'Authorization: Bearer <token>'"
UNKNOWN = ("unknown API token: check it was copied whole, or ask an admin for a new one "
           "(connmodel token add)")


def _scope(value: str) -> TokenScope:
    try:
        return TokenScope(value.strip().lower())
    except ValueError:
        choices = ", ".join(s.value for s in TokenScope)
        raise InvalidInput(f"unknown scope {value!r}: choose one of {choices}") from None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_actor(name: str, scope: TokenScope) -> Actor:
    """The actor a token acts as: "token:NAME" with its scope's role."""
    return Actor(f"token:{name}", scope.role)


def add_token(session: Session, *, actor: Actor, name: str, scope: str,
              expires_days: int | None = None) -> str:
    """Issue a token and return it: the only time it exists outside the caller's hands."""
    require(actor, Action.WRITE, session)
    name = clean_name(name, "token name", limit=TOKEN_NAME_MAX)
    parsed = _scope(scope)
    if expires_days is not None and not 1 <= expires_days <= EXPIRES_MAX_DAYS:
        raise InvalidInput(f"--expires is {expires_days} days: between 1 and {EXPIRES_MAX_DAYS}")
    taken = session.execute(select(col(ApiToken.revoked_at)).where(col(ApiToken.name) == name)
                            ).first()
    if taken is not None:  # a revoked token keeps its name: the trail's "token:NAME" is it
        raise AlreadyExists(f"a token named {name!r} exists: revoke it or choose another name"
                            if taken[0] is None else
                            f"a revoked token was named {name!r} (its events keep the name): "
                            "choose another name")
    token = PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(days=expires_days) if expires_days else None
    session.add(ApiToken(name=name, scope=parsed.value, token_hash=token_hash(token),
                         created_by=actor.name, expires_at=expires))
    flush_unique(session, f"a token named {name!r} exists: revoke it or choose another name")
    record(session, actor=actor, action="token.add", target=f"token {name} ({parsed.value})",
           outcome="ok" + (f"; expires {expires:%Y-%m-%d %H:%M} UTC" if expires else ""))
    session.commit()
    return token


def list_tokens(session: Session, *, actor: Actor, include_revoked: bool = False
                ) -> list[ApiTokenPublic]:
    """Every token by name (revoked ones only when asked), without the token or its hash."""
    require(actor, Action.READ)
    stmt = select(ApiToken).order_by(col(ApiToken.name))
    if not include_revoked:
        stmt = stmt.where(col(ApiToken.revoked_at).is_(None))
    return [ApiTokenPublic.model_validate(t, from_attributes=True)
            for t in session.scalars(stmt)]


def revoke_token(session: Session, *, actor: Actor, name: str) -> ApiTokenPublic:
    """Revoke a token at once (a conditional UPDATE: twice revokes once); AlreadyRevoked after."""
    require(actor, Action.WRITE, session)
    now = utcnow()
    done = session.exec(
        update(ApiToken)
        .where(col(ApiToken.name) == name, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=now, revoked_by=actor.name)
    ).rowcount
    token = session.scalars(select(ApiToken).where(col(ApiToken.name) == name)).one_or_none()
    if token is None:
        raise NotFound(f"no token named {name!r}")
    if not done:
        session.rollback()
        raise AlreadyRevoked(f"token {name!r} was already revoked by {token.revoked_by} at "
                             f"{token.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
    record(session, actor=actor, action="token.revoke", target=f"token {name} ({token.scope})")
    session.commit()
    session.refresh(token)
    return ApiTokenPublic.model_validate(token, from_attributes=True)


# A token's columns as `authenticate` reads them, labelled apart from the columns of a statement
# that reads them beside others (the broker's: connmodel.broker).
TOKEN_COLUMNS: tuple[Label[Any], ...] = (
    col(ApiToken.id).label("token_id"), col(ApiToken.name).label("token_name"),
    col(ApiToken.scope).label("token_scope"), col(ApiToken.token_hash).label("token_hash"),
    col(ApiToken.expires_at).label("token_expires_at"),
    col(ApiToken.last_used_at).label("token_last_used_at"),
    col(ApiToken.revoked_at).label("token_revoked_at"),
)
_BY_HASH = select(*TOKEN_COLUMNS).where(col(ApiToken.token_hash) == bindparam("hash"))
_USED = (
    update(ApiToken)
    .where(col(ApiToken.id) == bindparam("token_id"),
           or_(col(ApiToken.last_used_at).is_(None),
               col(ApiToken.last_used_at) < bindparam("stale_before")))
    .values(last_used_at=bindparam("now"))
)


def presented_hash(token: str | None) -> str:
    """The hash a presented token is looked up by (TOKEN_COLUMNS' `token_hash`); AuthenticationFailed
    without one."""
    if not token:
        raise AuthenticationFailed(NO_TOKEN)
    return token_hash(token)


def authenticate(session: Session, token: str | None, *, address: str = "?") -> Actor:
    """The actor of a presented bearer token; AuthenticationFailed (the API's 401) otherwise.
    See token_bearer."""
    digest = presented_hash(token)
    found = session.connection().execute(_BY_HASH, {"hash": digest}).first()  # Core: no ORM
    return token_bearer(session, found, digest, address=address)


def token_bearer(session: Session, found: Any, digest: str, *, address: str = "?") -> Actor:
    """The actor of the token whose hash is `digest`, given its row as read by the caller
    (TOKEN_COLUMNS, by label; None: no such token); AuthenticationFailed (the API's 401)
    otherwise.

    A known token that is expired or revoked is refused with an audit event naming it; an
    unknown one names nobody, so its refusal is only counted in the API's log. `last_used_at`
    is written at most once a minute per token.
    """
    if found is None or not hmac.compare_digest(found.token_hash, digest):
        raise AuthenticationFailed(UNKNOWN)
    now = utcnow()
    refusal = None
    if found.token_revoked_at is not None:
        refusal = "revoked"
    elif found.token_expires_at is not None and found.token_expires_at <= now:
        refusal = "expired"
    if refusal:
        record(session, actor=Actor(f"token:{found.token_name}", Role.VIEWER), action="denied",
               target=f"API from address {address[:100]}", outcome=f"refused: token {refusal}")
        session.commit()
        raise AuthenticationFailed(f"API token {found.token_name!r} is {refusal}: ask an admin "
                                   "for a new one (connmodel token add)")
    if found.token_last_used_at is None or found.token_last_used_at < now - USED_EVERY:
        session.execute(_USED, {"token_id": found.token_id, "stale_before": now - USED_EVERY,
                                "now": now})
        session.commit()
    return token_actor(found.token_name, TokenScope(found.token_scope))
