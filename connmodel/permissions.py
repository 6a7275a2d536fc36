"""Who may do what: the one place that decides, called by every service that changes state."""

from dataclasses import dataclass
from enum import StrEnum

from connmodel.errors import PermissionDenied


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


class Action(StrEnum):
    READ = "read"
    WRITE = "write"  # create profiles, connect, revoke, reconfigure, generate, rotate keys


_ALLOWED: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset({Action.READ, Action.WRITE}),
    Role.VIEWER: frozenset({Action.READ}),
}


@dataclass(frozen=True)
class Actor:
    """The acting user, passed to every service call and written into every audit event."""

    name: str
    role: Role = Role.ADMIN

    def __str__(self) -> str:
        return self.name


SYSTEM = Actor("system", Role.ADMIN)


def require(actor: Actor, action: Action) -> None:
    """Raise PermissionDenied unless the actor's role allows the action."""
    if action not in _ALLOWED[actor.role]:
        raise PermissionDenied(f"{actor.name} ({actor.role}) may not {action}: an admin may")
