"""Local users of the console: argon2 password hashes, sign-in throttling, expiring sessions.

The embedded default for sign-in (OpenID Connect is the alternative). A browser's cookie carries a
random token; the store keeps only its SHA-256, so a copy of the database signs nobody in.
Throttling counts failures per user name and per address over the last FAILURE_WINDOW: after
MAX_FAILURES, each further attempt waits twice as long as the one before, up to MAX_BACKOFF. A
success clears nothing, so a spray from one address is throttled however often someone with an
account signs in from it, and a name's failures count wherever they came from.
"""

import hashlib
import secrets
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from connmodel.errors import (
    AlreadyExists,
    AuthenticationFailed,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StateConflict,
    Throttled,
)
from connmodel.models import LoginAttempt, User, UserSession, utcnow
from connmodel.permissions import SYSTEM, USER_ROLES, Action, Actor, Role, require, signed_in
from connmodel.services.events import record
from connmodel.validation import clean_name

MAX_FAILURES = 5
MAX_BACKOFF = timedelta(minutes=15)
FAILURE_WINDOW = MAX_BACKOFF * 4
SESSION_TTL = timedelta(hours=8)
PASSWORD_MIN = 12
PASSWORD_MAX = 1024
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both answers take the same time.

    Made on first sign-in, not at import: hashing costs ~0.2 s of CPU that every CLI command
    importing this module would otherwise pay.
    """
    return _hasher.hash(secrets.token_urlsafe(16))


def _role(value: str) -> Role:
    role = value.strip().lower()
    if role not in USER_ROLES:
        raise InvalidInput(f"unknown role {value!r}: choose admin or viewer")
    return Role(role)


def _check_password(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise InvalidInput(f"password too short: at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise InvalidInput(f"password too long: at most {PASSWORD_MAX} characters")
    return password


def new_password() -> str:
    """A one-time password to print once (20 URL-safe characters, ~120 bits)."""
    return secrets.token_urlsafe(15)


def add_user(
    session: Session, *, actor: Actor, name: str, role: str, password: str | None = None
) -> str:
    """Create a user; return the password (generated when none is given, shown once)."""
    require(actor, Action.WRITE, session)
    name = clean_name(name, "user name")
    parsed = _role(role)
    password = _check_password(password) if password is not None else new_password()
    if session.execute(select(col(User.id)).where(col(User.name) == name)).first():
        raise AlreadyExists(f"a user named {name!r} already exists")
    session.add(User(name=name, role=parsed.value, password_hash=_hasher.hash(password)))
    record(session, actor=actor, action="user.add", target=f"user {name} ({parsed.value})")
    session.commit()
    return password


def set_password(session: Session, *, actor: Actor, name: str, password: str | None = None) -> str:
    """Replace a user's password and end their sessions; return the new password."""
    require(actor, Action.WRITE, session)
    user = _user(session, name)
    password = _check_password(password) if password is not None else new_password()
    user.password_hash = _hasher.hash(password)
    session.execute(delete(UserSession).where(col(UserSession.user_id) == user.id))
    record(session, actor=actor, action="user.password", target=f"user {user.name}")
    session.commit()
    return password


def set_role(session: Session, *, actor: Actor, name: str, role: str) -> None:
    """Change a user's role. Their open pages keep their session but write with the new role
    from their next write on (`permissions.require` re-reads it)."""
    require(actor, Action.WRITE, session)
    user = _user(session, name)
    parsed = _role(role)
    if parsed is not Role.ADMIN:
        _keep_an_admin(session, user)
    user.role = parsed.value
    record(session, actor=actor, action="user.role", target=f"user {user.name} ({parsed.value})")
    session.commit()


def set_disabled(session: Session, *, actor: Actor, name: str, disabled: bool = True) -> None:
    """Disable a user (they can no longer sign in, and their open pages can no longer write)
    or enable them again (to sign in anew: the sessions disabling ended stay ended)."""
    require(actor, Action.WRITE, session)
    user = _user(session, name)
    if user.disabled == disabled:  # a no-op is no change to audit
        raise StateConflict(f"{user.name} is already {'disabled' if disabled else 'enabled'}")
    if disabled:
        _keep_an_admin(session, user)
        # Their sessions end (kept as ended): enabling them again does not revive open pages.
        session.execute(update(UserSession).where(col(UserSession.user_id) == user.id,
                                                  col(UserSession.expires_at) > utcnow())
                        .values(expires_at=utcnow()))
    user.disabled = disabled
    record(session, actor=actor, action="user.disable" if disabled else "user.enable",
           target=f"user {user.name}")
    session.commit()


def _keep_an_admin(session: Session, leaving: User) -> None:
    """Refuse to demote or disable the last enabled admin: nobody could manage users after."""
    others = session.execute(
        select(func.count()).select_from(User).where(
            col(User.role) == Role.ADMIN.value, ~col(User.disabled), col(User.id) != leaving.id)
    ).scalar_one()
    if leaving.role == Role.ADMIN.value and not leaving.disabled and not others:
        raise StateConflict(f"{leaving.name} is the last enabled admin: add another admin first")


def list_users(session: Session, *, actor: Actor) -> list[tuple[str, str, bool]]:
    """(name, role, disabled) of every user, by name."""
    require(actor, Action.READ)
    rows = session.execute(
        select(col(User.name), col(User.role), col(User.disabled)).order_by(col(User.name))
    )
    return [(n, r, d) for n, r, d in rows]


def ensure_first_admin(session: Session, name: str = "admin") -> str | None:
    """On an empty user table, create an admin and return its one-time password; else None."""
    if session.execute(select(func.count()).select_from(User)).scalar_one():
        return None
    return add_user(session, actor=SYSTEM, name=name, role=Role.ADMIN.value)


def acting_user(session: Session, name: str) -> Actor:
    """A console user by name, with their role as the store has it now, for a tool that acts
    as that person without a sign-in of its own (the explore notebook's `actor`): whoever runs
    it already holds the database, like the CLI. NotFound for an unknown user; PermissionDenied
    for a disabled one."""
    user = _user(session, name.strip())
    if user.disabled:
        raise PermissionDenied(f"user {user.name!r} is disabled", actor=user.name,
                               attempted="acting_user")
    return Actor(user.name, Role(user.role))


def _user(session: Session, name: str) -> User:
    user = session.scalars(select(User).where(col(User.name) == name)).one_or_none()
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def _retry_after(session: Session, key: str) -> int:
    """Seconds this key must still wait, from its failures within FAILURE_WINDOW."""
    failures, last_failure = session.execute(
        select(func.count(), func.max(col(LoginAttempt.at))).where(
            col(LoginAttempt.key) == key, ~col(LoginAttempt.ok),
            col(LoginAttempt.at) > utcnow() - FAILURE_WINDOW)
    ).one()
    if failures < MAX_FAILURES or last_failure is None:
        return 0
    wait = min(timedelta(seconds=2 ** (failures - MAX_FAILURES + 1)), MAX_BACKOFF)
    left = (last_failure + wait - utcnow()).total_seconds()
    return max(0, int(left + 0.999))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(session: Session, *, name: str, password: str, address: str) -> str:
    """Check a password and open a session; return the session token for the cookie.

    Raises Throttled before looking at the password when the user or the address has failed
    too often, and AuthenticationFailed (the same message for an unknown user and a wrong
    password) otherwise. Every attempt is recorded; failures are audited.
    """
    keys = (f"user:{name[:100]}", f"addr:{address[:100]}")
    wait = max(_retry_after(session, k) for k in keys)
    if wait:
        raise Throttled(f"too many failed sign-ins: try again in {wait} s", wait)
    user = session.scalars(select(User).where(col(User.name) == name)).one_or_none()
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
        ok = user is not None and not user.disabled
    except (VerificationError, InvalidHashError):
        ok = False
    session.add_all(LoginAttempt(key=k, ok=ok) for k in keys)
    if not ok or user is None:
        record(session, actor=Actor(name[:100] or "?", Role.VIEWER), action="sign-in",
               target=f"address {address[:100]}", outcome="refused")
        session.commit()
        raise AuthenticationFailed("wrong user name or password")
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=_token_hash(token), user_id=user.id or 0,
                            expires_at=utcnow() + SESSION_TTL))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    record(session, actor=Actor(user.name, Role(user.role)), action="sign-in",
           target=f"address {address[:100]}")
    session.commit()
    return token


def actor_for_token(session: Session, token: str | None) -> Actor | None:
    """The signed-in user of a session token, or None when unknown, expired or disabled.

    The actor carries the session's key, so every write it makes is checked against the
    session and the user as they are then (`permissions.require`).
    """
    return signed_in(session, _token_hash(token)) if token else None


def sign_out(session: Session, token: str) -> None:
    session.execute(delete(UserSession).where(col(UserSession.token_hash) == _token_hash(token)))
    session.commit()


# The password hash of a user who signs in only through the identity provider (the dashboard's
# OIDC mode): no password opens it (argon2 refuses it as a hash).
NO_PASSWORD = "!identity-provider"


def external_key(cookie: str) -> str:
    """The session key of an identity provider's sign-in, from the cookie that sign-in set (a
    signed value that changes at each sign-in): its SHA-256, never the cookie itself."""
    return _token_hash("external:" + cookie)


def external_sign_in(session: Session, *, name: str, key: str, admin: bool,
                     retried: bool = False) -> Actor | None:
    """The actor of a sign-in through the identity provider, as the store has it now.

    The first time a sign-in (`key`) is seen, it is recorded as a session of the user `name`
    (created on first sign-in, a user without a password), with the role the deployment gives
    (`admin`: CONNMODEL_OIDC_ADMINS), and audited. From then on the session is what the local
    sign-in's is: every write re-reads it (`permissions.require`), so `end_external_session`
    (sign-out), expiry, `set_disabled` and `set_role` end or change write power in every open
    page. None when that session ended or the user is disabled: an ended sign-in is not
    opened again by the same cookie.
    """
    if session.execute(select(col(UserSession.id))
                       .where(col(UserSession.token_hash) == key)).first():
        return signed_in(session, key)
    name = name.strip()[:100]
    role = Role.ADMIN if admin else Role.VIEWER
    user = session.scalars(select(User).where(col(User.name) == name)).one_or_none()
    if user is None:
        user = User(name=name, role=role.value, password_hash=NO_PASSWORD)
        session.add(user)
    elif user.disabled:
        record(session, actor=Actor(name or "?", Role.VIEWER), action="sign-in",
               target="identity provider", outcome="refused: user disabled")
        session.commit()
        return None
    else:
        user.role = role.value
    session.flush()
    session.add(UserSession(token_hash=key, user_id=user.id or 0,
                            expires_at=utcnow() + SESSION_TTL))
    record(session, actor=Actor(name, role), action="sign-in", target="identity provider")
    try:
        session.commit()
    except IntegrityError:  # another page of this sign-in (or of this new user) was first
        session.rollback()
        if not retried:
            return external_sign_in(session, name=name, key=key, admin=admin, retried=True)
    return signed_in(session, key)


def end_external_session(session: Session, key: str) -> None:
    """Sign-out of an identity provider's sign-in: its session ends (and is kept as ended, so
    the same cookie cannot open it again)."""
    session.execute(update(UserSession).where(col(UserSession.token_hash) == key,
                                              col(UserSession.expires_at) > utcnow())
                    .values(expires_at=utcnow()))
    session.commit()


def prune(session: Session, older_than: timedelta = timedelta(days=7)) -> None:
    """Drop sessions that ended more than `older_than` ago and older attempts."""
    now = utcnow()
    session.execute(delete(UserSession).where(col(UserSession.expires_at) <= now - older_than))
    session.execute(delete(LoginAttempt).where(col(LoginAttempt.at) < now - older_than))
    session.commit()
