"""Who may do what: the one place that decides, called by every service that changes state.

A write is checked against the acting user as the store knows them now, not as they were when
a page opened: an actor that signed in through a session (the dashboard) carries that session's
key, and every write re-reads it, so signing out, expiry, disabling or demotion end write power
in every open page at once.
"""

import sys
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import select
from sqlmodel import Session, col

from connmodel.errors import PermissionDenied, SignInEnded
from connmodel.models import User, UserSession, utcnow


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"
    BROKER = "broker"  # an API token of a gateway: asks for credentials, nothing else


class Action(StrEnum):
    READ = "read"
    WRITE = "write"  # create profiles, connect, revoke, reconfigure, generate, rotate keys
    BROKER = "broker"  # receive an MCP server's credential in the clear (the credential broker)


_ALLOWED: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset({Action.READ, Action.WRITE}),
    Role.VIEWER: frozenset({Action.READ}),
    Role.BROKER: frozenset({Action.BROKER}),
}
USER_ROLES = (Role.ADMIN, Role.VIEWER)  # what a person signing in may be


class TokenScope(StrEnum):
    """The scope of an API token (`connmodel token add --scope`), and the role it acts with."""

    READ = "read"
    ADMIN = "admin"
    BROKER = "broker"

    @property
    def role(self) -> Role:
        return {TokenScope.READ: Role.VIEWER, TokenScope.ADMIN: Role.ADMIN,
                TokenScope.BROKER: Role.BROKER}[self]


@dataclass(frozen=True)
class Actor:
    """The acting user, passed to every service call and written into every audit event.

    `session_key` is the SHA-256 of the sign-in token the actor acts through (never the token
    itself), or None for actors that are not signed in through a session (the CLI, the worker,
    the dashboard without sign-in): their role is what they were given.
    """

    name: str
    role: Role = Role.ADMIN
    session_key: str | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return self.name


SYSTEM = Actor("system", Role.ADMIN)


def allows(actor: Actor, action: Action) -> bool:
    """Whether the actor's role allows the action (for hiding what a user may not do)."""
    return action in _ALLOWED[actor.role]


def signed_in(session: Session, session_key: str) -> Actor | None:
    """The user signed in through the session with this key as the store has them now (their
    current role), or None when that session ended: signed out, expired, or the user disabled."""
    row = session.execute(
        select(col(User.name), col(User.role))
        .join(UserSession, col(UserSession.user_id) == col(User.id))
        .where(col(UserSession.token_hash) == session_key,
               col(UserSession.expires_at) > utcnow(), ~col(User.disabled))
    ).first()
    return Actor(row[0], Role(row[1]), session_key) if row else None


def require(actor: Actor, action: Action, session: Session | None = None, *,
            attempted: str | None = None) -> None:
    """Raise PermissionDenied unless the actor may do the action.

    A write must pass the caller's session: a signed-in actor is then checked as the store has
    them now, and raises SignInEnded when their session ended or their role no longer allows it.
    The exception names the service that asked (`attempted`, by default the caller's function
    name), so the audit event that `connmodel.store.session` writes for a refusal says what was
    attempted.
    """
    attempted = attempted or sys._getframe(1).f_code.co_name
    if action is Action.WRITE and session is None:
        raise TypeError(f"{attempted}: a write is checked against the store: pass the session")
    if not allows(actor, action):
        who = " or ".join(f"{'an' if r.value[0] in 'aeiou' else 'a'} {r.value}"
                          for r in Role if action in _ALLOWED[r])  # READ: not admins alone
        raise PermissionDenied(f"{actor.name} ({actor.role}) may not {action}: {who} may",
                               actor=actor.name, attempted=attempted)
    if action is Action.WRITE and session is not None and actor.session_key is not None:
        _require_still_signed_in(session, actor, actor.session_key, attempted)


def _require_still_signed_in(session: Session, actor: Actor, key: str, attempted: str) -> None:
    now = signed_in(session, key)
    if now is None:
        raise SignInEnded(f"{actor.name} is no longer signed in (signed out, session expired or "
                          "account disabled): nothing was changed; sign in again",
                          actor=actor.name, attempted=attempted)
    if not allows(now, Action.WRITE):
        raise SignInEnded(f"{actor.name} is now a {now.role} and may no longer change anything: "
                          "nothing was changed; sign in again", actor=actor.name,
                          attempted=attempted)
