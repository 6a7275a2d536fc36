"""Provider-side revocation (RFC 7009): sending what `connmodel.services.revocations` queued.

`deliver_due` (called right after a revoke, by `connmodel refresh` from cron, and by the
dashboard's background task) sends each due row, retrying with back-off, and gives up after a
bounded time with an audit event.
"""

from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select, update
from sqlmodel import Session, col

from connmodel.errors import ConnModelError, ProviderRefused, ProviderUnreachable
from connmodel.models import ProviderConfig, ProviderRevocation, utcnow
from connmodel.permissions import SYSTEM, Action, Actor, require
from connmodel.providers.client import TokenSet, backoff, call, check_response, oauth_client
from connmodel.providers.records import changed
from connmodel.secrets import KeyRing
from connmodel.services.events import record

GIVE_UP_AFTER = timedelta(days=3)
CLAIM_FOR = timedelta(seconds=120)


def _claim(session: Session, row: ProviderRevocation, now: datetime) -> bool:
    """Take a due row for CLAIM_FOR so two workers never send the same revocation at once."""
    claimed = changed(session.execute(
        update(ProviderRevocation)
        .where(col(ProviderRevocation.id) == row.id,
               col(ProviderRevocation.next_attempt_at) == row.next_attempt_at,
               col(ProviderRevocation.delivered_at).is_(None))
        .values(next_attempt_at=now + CLAIM_FOR)
    ))
    session.commit()
    return bool(claimed)


def _send(session: Session, row: ProviderRevocation, keyring: KeyRing) -> None:
    provider = session.get(ProviderConfig, row.provider_config_id)
    assert provider is not None
    token = TokenSet.from_json(keyring.decrypt(row.credential_enc))
    url = provider.settings["revocation_url"]
    with oauth_client(provider, keyring) as client:
        for value, hint in ((token.refresh_token, "refresh_token"),
                            (token.access_token, "access_token")):
            if value:
                response = call("provider revocation", partial(
                    client.revoke_token, url, token=value, token_type_hint=hint))
                check_response("provider revocation", response)


def deliver_due(session: Session, *, keyring: KeyRing, actor: Actor = SYSTEM,
                connection_id: int | None = None, now: datetime | None = None,
                give_up_after: timedelta = GIVE_UP_AFTER) -> dict[str, int]:
    """Send every due queued revocation once; returns counts delivered / retrying / given_up."""
    require(actor, Action.WRITE, session)
    now = now or utcnow()
    stmt = select(ProviderRevocation).where(
        col(ProviderRevocation.delivered_at).is_(None),
        col(ProviderRevocation.given_up_at).is_(None),
        col(ProviderRevocation.next_attempt_at) <= now,
    ).order_by(col(ProviderRevocation.id))
    if connection_id is not None:
        stmt = stmt.where(col(ProviderRevocation.connection_id) == connection_id)
    counts = {"delivered": 0, "retrying": 0, "given_up": 0}
    for row in list(session.execute(stmt).scalars()):
        if not _claim(session, row, now):
            continue
        target = f"connection {row.connection_id} (provider revocation {row.id})"
        try:
            _send(session, row, keyring)
        except (ProviderUnreachable, ProviderRefused) as exc:
            failed_at = utcnow()
            permanent = isinstance(exc, ProviderRefused)
            give_up = permanent or failed_at - row.created_at >= give_up_after
            session.execute(
                update(ProviderRevocation).where(col(ProviderRevocation.id) == row.id)
                .values(attempts=row.attempts + 1, last_error=str(exc)[:2000],
                        next_attempt_at=failed_at + backoff(row.attempts + 1),
                        given_up_at=failed_at if give_up else None))
            if give_up:
                record(session, actor=actor, action="provider.revoke.given_up", target=target,
                       outcome=f"gave up after {row.attempts + 1} attempts: {exc}"[:2000])
                counts["given_up"] += 1
            else:
                counts["retrying"] += 1
            session.commit()
            continue
        except ConnModelError:
            session.rollback()
            raise
        session.execute(
            update(ProviderRevocation).where(col(ProviderRevocation.id) == row.id)
            .values(attempts=row.attempts + 1, delivered_at=utcnow(), last_error=None))
        record(session, actor=actor, action="provider.revoke", target=target,
               outcome=f"ok after {row.attempts + 1} attempt(s)")
        session.commit()
        counts["delivered"] += 1
    return counts

