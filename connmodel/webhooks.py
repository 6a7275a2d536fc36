"""Webhook notifications of status changes: a durable outbox, HMAC-SHA256 signatures, back-off.

A check never sends anything itself: when a connection turns Error or Inactive, or recovers, the
check's own transaction inserts one `webhook_delivery` row per target URL. `deliver_due` sends
what is due (from the CLI after a check run, from `connmodel webhook deliver` on a timer, or
from the dashboard in a worker thread); a failed send is retried with exponential back-off until
MAX_ATTEMPTS, and every attempt's error is kept on the row. Each row is claimed before it is
sent (a conditional UPDATE moves its `next_attempt_at` CLAIM_FOR ahead), so two workers, or a
worker and `connmodel webhook deliver` in cron, never POST the same delivery twice.

Targets are the `webhook` table (`connmodel webhook add`) plus $CONNMODEL_WEBHOOK_URLS
(comma-separated) signed with $CONNMODEL_WEBHOOK_SECRET. Receivers verify
`X-Connmodel-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the shared secret>`.
"""

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, func, or_, select, update
from sqlmodel import Session, col

from connmodel.errors import InvalidInput
from connmodel.models import Webhook, WebhookDelivery, utcnow
from connmodel.secrets import KeyRing
from connmodel.services.keys import sealing_ring
from connmodel.services.servers import url_origin, validate_url

ENV_URLS = "CONNMODEL_WEBHOOK_URLS"
ENV_SECRET = "CONNMODEL_WEBHOOK_SECRET"
SIGNATURE_HEADER = "X-Connmodel-Signature-256"
DELIVERY_HEADER = "X-Connmodel-Delivery"
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=6)
CLAIM_FOR = timedelta(seconds=120)  # longer than a send (timeout 5 s) ever takes

log = logging.getLogger(__name__)


def sign(secret: str, body: bytes) -> str:
    """The signature header value a receiver recomputes to trust a delivery."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempts: int, base: timedelta = BACKOFF_BASE) -> timedelta:
    """Wait after the `attempts`-th failure: base, 2×base, 4×base … capped at BACKOFF_MAX."""
    factor: int = 2 ** max(attempts - 1, 0)  # annotated: mypy types int ** int as Any
    return min(base * factor, BACKOFF_MAX)


def env_targets() -> list[tuple[str, str]]:
    """(url, secret) pairs from the environment; InvalidInput when URLs come without a secret,
    or one breaks the rules `connmodel webhook add` holds a URL to (a malformed one crashed
    the sender; a password in one reached the log)."""
    urls = [u.strip() for u in os.environ.get(ENV_URLS, "").split(",") if u.strip()]
    if not urls:
        return []
    secret = os.environ.get(ENV_SECRET, "")
    if not secret:
        raise InvalidInput(f"{ENV_URLS} is set but {ENV_SECRET} is not: deliveries must be signed")
    return [(_env_url(u), secret) for u in urls]


def _env_url(url: str) -> str:
    try:
        return validate_url(url, "a webhook", "its signing secret authenticates the deliveries")
    except InvalidInput as exc:
        raise InvalidInput(f"{ENV_URLS}: {exc}; fix the list and restart") from None


def enqueue(session: Session, *, keyring: KeyRing, event: str, payload: dict[str, Any]) -> int:
    """Add one delivery per target to the caller's transaction; return how many."""
    rows = [(w.url, w.secret_enc) for w in session.execute(select(Webhook)).scalars()]
    targets = env_targets()
    if targets:
        ring = sealing_ring(session, keyring)
        rows += [(url, ring.encrypt(secret)) for url, secret in targets]
    body = json.dumps({"event": event, **payload}, separators=(",", ":"), default=str)
    for url, secret_enc in rows:
        session.add(WebhookDelivery(url=url, secret_enc=secret_enc, event=event, payload=body))
    return len(rows)


EVENT_FOR_STATUS = {"Error": "connection.error", "Inactive": "connection.inactive",
                    "Active": "connection.recovered"}


@dataclass(frozen=True)
class StatusChange:
    """A connection's status change, as every receiver is told it (no secret in it)."""

    connection_id: int
    profile: str
    service: str
    account: str
    previous_status: str
    status: str
    reason: str | None
    at: datetime


def enqueue_status_change(session: Session, *, keyring: KeyRing, change: StatusChange) -> int:
    """Queue connection.error / .inactive / .recovered for every target (checks, refreshes)."""
    return enqueue(session, keyring=keyring, event=EVENT_FOR_STATUS[change.status], payload={
        "at": change.at.isoformat(),
        "connection": {"id": change.connection_id, "profile": change.profile,
                       "service": change.service, "account": change.account},
        "status": change.status, "previous_status": change.previous_status,
        "reason": change.reason,
    })


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    failed: int
    pending: int


def delivery_id(row: WebhookDelivery) -> str:
    """What receivers deduplicate by: the same on every retry of a delivery, never another's.
    The row id alone is not: SQLite hands a pruned highest id to the next row (its table has
    no AUTOINCREMENT), and that row is always created later."""
    return f"{row.id}-{row.created_at:%Y%m%dT%H%M%S%fZ}"


def _post(client: httpx.Client, row: WebhookDelivery, secret: str) -> str | None:
    """Send one delivery; the error text, or None when the receiver answered 2xx."""
    body = row.payload.encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body),
               "X-Connmodel-Event": row.event, DELIVERY_HEADER: delivery_id(row)}
    try:
        response = client.post(row.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    except (httpx.InvalidURL, UnicodeError) as exc:  # a host httpx cannot encode (IDNA)
        return f"invalid URL: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


def deliver_due(
    session: Session,
    *,
    keyring: KeyRing,
    now: datetime | None = None,
    limit: int = 100,
    timeout: float = 5.0,
    base: timedelta = BACKOFF_BASE,
) -> DeliveryReport:
    """Send every delivery that is due (oldest first), committing each outcome as it happens."""
    now = now or utcnow()
    due = list(session.scalars(
        select(WebhookDelivery)
        .where(col(WebhookDelivery.delivered_at).is_(None),
               col(WebhookDelivery.attempts) < MAX_ATTEMPTS,
               col(WebhookDelivery.next_attempt_at) <= now)
        .order_by(col(WebhookDelivery.id))
        .limit(limit)
    ))
    delivered = failed = 0
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for row in due:
            if not _claim(session, row, now):
                continue  # another sender took it
            error = _post(client, row, keyring.decrypt(row.secret_enc))
            row.attempts += 1
            if error is None:
                row.delivered_at = utcnow()
                row.last_error = None
                delivered += 1
            else:
                row.last_error = error
                row.next_attempt_at = utcnow() + backoff(row.attempts, base)
                failed += 1
                log.warning("webhook delivery %s to %s failed (attempt %d): %s",
                            row.id, url_origin(row.url), row.attempts, error)
            session.commit()
    return DeliveryReport(delivered, failed, pending_count(session))


def _claim(session: Session, row: WebhookDelivery, now: datetime) -> bool:
    """Take a due row for CLAIM_FOR (committed): only one sender's conditional update matches."""
    seen = row.next_attempt_at
    claimed = session.exec(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id) == row.id, col(WebhookDelivery.delivered_at).is_(None),
               col(WebhookDelivery.next_attempt_at) == seen)
        .values(next_attempt_at=now + CLAIM_FOR)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return bool(claimed)


def pending_count(session: Session) -> int:
    """Deliveries not yet delivered and not given up on."""
    return session.scalars(
        select(func.count()).select_from(WebhookDelivery)
        .where(col(WebhookDelivery.delivered_at).is_(None),
               col(WebhookDelivery.attempts) < MAX_ATTEMPTS)
    ).one()


def prune_deliveries(session: Session, *, older_than: datetime) -> int:
    """Delete delivered or abandoned deliveries created before `older_than`."""
    result = session.exec(
        delete(WebhookDelivery).where(
            col(WebhookDelivery.created_at) < older_than,
            or_(col(WebhookDelivery.delivered_at).is_not(None),
                col(WebhookDelivery.attempts) >= MAX_ATTEMPTS),
        )
    )
    return int(result.rowcount or 0)
