"""What a finished check means for a connection, and writing it down.

The rules: a server that refuses the credential (401/403) or does not speak MCP puts the
connection in Error with that server's reason (Inactive instead when the credential has
expired); a connection whose servers answer becomes Active again; an Inactive connection
(disabled or expired) stays Inactive whatever the check finds, until it is re-authorized; an
unreachable server is recorded but never changes the status by itself. Every server check is a
`check_result` row; a status change is an audit event and a webhook delivery, written in the
same transaction.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import UpdateBase, delete, select, update
from sqlmodel import Session, col

from connmodel.checks.probe import Outcome
from connmodel.checks.targets import ConnectionTarget
from connmodel.models import CheckResult, Connection, McpServer, utcnow
from connmodel.permissions import Actor
from connmodel.secrets import KeyRing
from connmodel.services.events import record
from connmodel.status import Status
from connmodel.webhooks import StatusChange, enqueue_status_change, prune_deliveries

ENV_HISTORY_DAYS = "CONNMODEL_CHECK_HISTORY_DAYS"
DEFAULT_HISTORY_DAYS = 30


@dataclass(frozen=True)
class ServerCheck:
    """One server's part of a check, as the CLI, dashboard and notebooks show it."""

    server_id: int
    server: str
    url: str
    outcome: Outcome
    reason: str | None
    latency_ms: float | None  # None: not contacted (the connection has no usable credential)
    tool_count: int | None = None


@dataclass(frozen=True)
class ConnectionCheck:
    """A connection's check: its status before and after, and each server's part."""

    connection_id: int
    profile: str
    service: str
    account: str
    previous_status: str
    status: str
    reason: str | None
    servers: tuple[ServerCheck, ...]
    checked_at: datetime
    decided: bool = True

    @property
    def changed(self) -> bool:
        return self.status != self.previous_status

    @property
    def tool_count(self) -> int | None:
        """Tools over the servers that answered; None when none did."""
        counts = [s.tool_count for s in self.servers if s.tool_count is not None]
        return sum(counts) if counts else None

    @property
    def summary(self) -> str:
        """One line for a table cell: what the check found."""
        if not self.servers:
            return self.reason or "no connected MCP server uses this connection"
        parts = []
        for s in self.servers:
            if s.outcome == Outcome.OK:
                parts.append(f"{s.server}: {s.tool_count} tools in {s.latency_ms:.0f} ms")
            else:
                parts.append(f"{s.server}: {s.outcome.value}: {s.reason}")
        return "; ".join(parts)


def _expired(target: ConnectionTarget, now: datetime) -> bool:
    return target.expires_at is not None and target.expires_at <= now


def tally(results: Sequence[ConnectionCheck]) -> str:
    """A round of checks in one line, as the CLI and the dashboard say it. The servers that could
    not be reached are counted apart: their connections' status stays as it was (a server down
    says nothing about the credential), as an Inactive connection's does (disabled or expired
    until re-authorized), so "in Error" alone would not account for every failed server."""
    servers = sum(len(c.servers) for c in results)
    errors = sum(c.status == Status.ERROR for c in results)
    inactive = sum(c.status == Status.INACTIVE for c in results)
    unreachable = sum(s.outcome == Outcome.UNREACHABLE for c in results for s in c.servers)
    changed = sum(c.changed for c in results)
    return (f"checked {len(results)} connection{'s' * (len(results) != 1)} on {servers} "
            f"server{'s' * (servers != 1)}: {errors} in Error, {inactive} Inactive, "
            f"{unreachable} server{'s' * (unreachable != 1)} not reached, {changed} changed")


def decide(target: ConnectionTarget, servers: tuple[ServerCheck, ...],
           now: datetime) -> tuple[str, str | None, bool]:
    """(status, reason, decided) after the check, by the rules in this module's docstring.

    `decided` is False when the check says nothing new about the credential (no server
    answered), or the connection is Inactive (disabled or expired: only re-authorizing it
    changes that): the stored status and reason then stay.
    """
    if target.status == Status.INACTIVE:
        return target.status, None, False
    if target.credential_problem:
        return Status.ERROR.value, target.credential_problem, True
    failed = [s for s in servers if s.outcome == Outcome.ERROR]
    if failed:
        reason = "; ".join(f"{s.server}: {s.reason}" for s in failed[:3])
        if _expired(target, now) and any("401" in (s.reason or "") for s in failed):
            return Status.INACTIVE.value, f"credential expired; {reason}", True
        return Status.ERROR.value, reason, True
    if any(s.outcome == Outcome.OK for s in servers):
        return Status.ACTIVE.value, None, True
    return target.status, None, False


def _save_servers(session: Session, check: ConnectionCheck) -> None:
    for s in check.servers:
        verdict = Status.ACTIVE.value if s.outcome == Outcome.OK else check.status
        session.add(CheckResult(connection_id=check.connection_id, server_id=s.server_id,
                                at=check.checked_at, status=verdict,
                                reachable=s.outcome != Outcome.UNREACHABLE, reason=s.reason,
                                latency_ms=s.latency_ms, tool_count=s.tool_count))
        values: dict[str, object] = {"check_outcome": s.outcome.value, "check_reason": s.reason,
                                         "checked_at": check.checked_at, "latency_ms": s.latency_ms}
        if s.tool_count is not None:
            values["tool_count"] = s.tool_count
        same_profile = col(McpServer.profile_id) == (  # not reconfigured away during the check
            select(col(Connection.profile_id)).where(col(Connection.id) == check.connection_id)
            .scalar_subquery())
        session.execute(update(McpServer)
                        .where(col(McpServer.id) == s.server_id, same_profile)
                        .values(**values))


def _announce(session: Session, check: ConnectionCheck, actor: Actor,
              keyring: KeyRing | None) -> None:
    target = f"connection {check.connection_id} ({check.profile} / {check.account})"
    record(session, actor=actor, action="check", target=target,
           outcome=f"{check.previous_status} → {check.status}"
                   + (f": {check.reason}" if check.reason else ""))
    if keyring is not None:
        enqueue_status_change(session, keyring=keyring, change=StatusChange(
            check.connection_id, check.profile, check.service, check.account,
            check.previous_status, check.status, check.reason, check.checked_at))


def _rows(session: Session, statement: UpdateBase) -> int:
    return int(session.exec(statement).rowcount or 0)


def save_checks(session: Session, checks: list[ConnectionCheck], *, actor: Actor,
                keyring: KeyRing | None) -> None:
    """Store a batch of finished checks in one transaction (see the module docstring).

    Races are settled in SQL: a connection revoked during its check gets nothing written; a
    status change is a conditional UPDATE from the status the check started from, so two checks
    finding the same change (a scheduled one and a click) announce it once.
    """
    for check in checks:
        this = (col(Connection.id) == check.connection_id, col(Connection.revoked_at).is_(None))
        if not _rows(session, update(Connection).where(*this)
                     .values(checked_at=check.checked_at)):
            continue
        _save_servers(session, check)
        if not check.decided:
            continue
        if not check.changed:
            session.execute(update(Connection).where(*this)
                            .values(status_reason=check.reason))
        elif _rows(session, update(Connection)
                   .where(*this, col(Connection.status) == check.previous_status)
                   .values(status=check.status, status_reason=check.reason)):
            _announce(session, check, actor, keyring)
    session.commit()


def history_days() -> int:
    raw = os.environ.get(ENV_HISTORY_DAYS, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_HISTORY_DAYS


def prune_history(session: Session, *, now: datetime | None = None,
                  days: int | None = None) -> int:
    """Delete check results (and finished webhook deliveries) older than the history window."""
    cutoff = (now or utcnow()) - timedelta(days=days or history_days())
    result = session.exec(delete(CheckResult).where(col(CheckResult.at) < cutoff))
    prune_deliveries(session, older_than=cutoff)
    session.commit()
    return int(result.rowcount or 0)
