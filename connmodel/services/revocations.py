"""The queue of provider-side revocations (RFC 7009): what a revoke leaves for the provider.

`enqueue` runs inside the local revoke's transaction and copies the still-encrypted credential
into `provider_revocation`, so the local revoke completes at once and nothing is lost if the
process dies before the provider is told. Sending is `connmodel.providers.revocations`' job;
the queue lives here, below the providers, because the revoke service writes to it.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from connmodel.models import Profile, ProviderConfig, ProviderRevocation
from connmodel.permissions import Action, Actor, require
from connmodel.status import OAUTH_KINDS


@dataclass(frozen=True)
class RevocationPublic:
    """A queued provider revocation as `connmodel revocations` lists it (no token)."""

    id: int
    connection_id: int
    provider: str
    actor: str
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    state: str


def enqueue(session: Session, *, connection_id: int, profile_id: int,
            credential_enc: str | None, actor: Actor) -> bool:
    """Queue the provider revocation of a connection being revoked (caller commits).

    Only OAuth providers with a revocation endpoint are queued; returns whether a row was added.
    """
    if not credential_enc:
        return False
    provider = session.execute(
        select(ProviderConfig)
        .join(Profile, col(Profile.provider_config_id) == col(ProviderConfig.id))
        .where(col(Profile.id) == profile_id)
    ).scalar_one_or_none()
    if provider is None or provider.kind not in OAUTH_KINDS \
            or not provider.settings.get("revocation_url"):
        return False
    session.add(ProviderRevocation(connection_id=connection_id, provider_config_id=provider.id,
                                   credential_enc=credential_enc, actor=actor.name))
    return True


def list_revocations(session: Session, *, actor: Actor, pending_only: bool = True,
                     limit: int = 200) -> list[RevocationPublic]:
    """Queued provider revocations, oldest first (pending ones only by default)."""
    require(actor, Action.READ)
    stmt = (select(ProviderRevocation, col(ProviderConfig.name))
            .join(ProviderConfig, col(ProviderConfig.id) == col(ProviderRevocation.provider_config_id))
            .order_by(col(ProviderRevocation.id)).limit(limit))
    if pending_only:
        stmt = stmt.where(col(ProviderRevocation.delivered_at).is_(None),
                          col(ProviderRevocation.given_up_at).is_(None))
    return [
        RevocationPublic(id=r.id or 0, connection_id=r.connection_id, provider=name,
                         actor=r.actor, created_at=r.created_at, attempts=r.attempts,
                         next_attempt_at=r.next_attempt_at, last_error=r.last_error,
                         state="delivered" if r.delivered_at else
                         "given up" if r.given_up_at else "pending")
        for r, name in session.execute(stmt).all()
    ]
