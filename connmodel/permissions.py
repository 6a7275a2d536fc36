"""Who may do what: the one place that decides, called by every service that changes state."""

import sys
from dataclasses import dataclass
from enum import StrEnum

from connmodel.errors import PermissionDenied


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
    """The acting user, passed to every service call and written into every audit event."""

    name: str
    role: Role = Role.ADMIN

    def __str__(self) -> str:
        return self.name


SYSTEM = Actor("system", Role.ADMIN)


def allows(actor: Actor, action: Action) -> bool:
    """Whether the actor's role allows the action (for hiding what a user may not do)."""
    return action in _ALLOWED[actor.role]


def require(actor: Actor, action: Action) -> None:
    """Raise PermissionDenied unless the actor's role allows the action.

    The exception names the service that asked (the caller's function name), so the audit
    event that `connmodel.store.session` writes for a refusal says what was attempted.
    """
    if not allows(actor, action):
        attempted = sys._getframe(1).f_code.co_name
        who = "a broker token" if action is Action.BROKER else "an admin"
        raise PermissionDenied(f"{actor.name} ({actor.role}) may not {action}: {who} may",
                               actor=actor.name, attempted=attempted)
