"""Webhook targets configured in the database (`connmodel webhook add`): add, list, remove.

The signing secret is encrypted at rest like every other secret and never listed back. The
audit trail names a receiver by its id and origin only: a Slack-style hook's token is its path,
and Activity, `connmodel events` and the API show the trail to every reader.
"""

from sqlalchemy import delete, select
from sqlmodel import Session, col

from connmodel.errors import AlreadyExists, InvalidInput, NotFound
from connmodel.models import Webhook
from connmodel.permissions import Action, Actor, require
from connmodel.secrets import KeyRing
from connmodel.services.events import record
from connmodel.services.keys import sealing_ring
from connmodel.services.servers import url_origin, validate_url

MIN_SECRET = 16


def add_webhook(session: Session, *, actor: Actor, url: str, secret: str,
                keyring: KeyRing) -> Webhook:
    """Register a receiver for status-change events, signed with `secret`."""
    require(actor, Action.WRITE, session)
    url = validate_url(url, "a webhook", "its signing secret authenticates the deliveries")
    if len(secret or "") < MIN_SECRET:
        raise InvalidInput(f"a webhook secret needs at least {MIN_SECRET} characters")
    if session.execute(select(col(Webhook.id)).where(col(Webhook.url) == url)).first():
        raise AlreadyExists(f"a webhook for {url} exists")
    hook = Webhook(url=url, secret_enc=sealing_ring(session, keyring).encrypt(secret))
    session.add(hook)
    session.flush()
    record(session, actor=actor, action="webhook.add", target=_named(hook.id, url))
    session.commit()
    return hook


def list_webhooks(session: Session, *, actor: Actor) -> list[str]:
    """The registered receiver URLs (a handful, so no paging)."""
    require(actor, Action.READ)
    return list(session.execute(select(col(Webhook.url)).order_by(col(Webhook.url))).scalars())


def remove_webhook(session: Session, *, actor: Actor, url: str) -> None:
    require(actor, Action.WRITE, session)
    gone = session.execute(delete(Webhook).where(col(Webhook.url) == url.strip())
                           .returning(col(Webhook.id))).scalar()
    if gone is None:
        raise NotFound(f"no webhook for {url.strip()!r}")
    record(session, actor=actor, action="webhook.remove", target=_named(gone, url.strip()))
    session.commit()


def _named(webhook_id: int | None, url: str) -> str:
    return f"webhook {webhook_id} ({url_origin(url)})"
