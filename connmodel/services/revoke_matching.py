"""Revoke every live connection a filter matches: keyset batches to the end, the true count.

A confirmation may say "at least 10,000" (counts are capped), but the revocation itself is not
a count: it walks the matching connections by id, batch after batch, until none is left, so an
incident clean-up revokes all of them. What matches is fixed when the admin confirms (`start`
records the highest connection id); connections that come to match while it runs (created, or
changed into the filter) are not revoked behind the admin's back but counted at the end
(`appeared`) so the outcome can say so. Every connection is revoked by `revoke_many`: its own
transaction and audit event, as a single Revoke. The dashboard, the CLI and notebooks share it:
`revoke_matching` runs it whole; `start` + `revoke_next_batch` let a page show progress.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlmodel import Session, col

from connmodel.models import Connection
from connmodel.paging import capped_count
from connmodel.permissions import Action, Actor, require
from connmodel.services.connections import BulkRevokeResult, revoke_many
from connmodel.services.groups import GroupFilter, matching_conditions

BATCH = 100


@dataclass
class MatchingRevoke:
    """A running revocation by filter: where it is, and what it has done so far.

    Pass it back to `revoke_next_batch` (each call may use a new session) until `done`.
    """

    where: GroupFilter
    up_to: int  # the highest connection id when the admin confirmed
    after: int = 0  # keyset position: every matching id up to here has been dealt with
    revoked: int = 0
    already_revoked: int = 0  # revoked by someone else between the lookup and the claim
    revoked_ids: list[int] = field(default_factory=list)
    servers: set[str] = field(default_factory=set)
    appeared: int | None = None  # once done: live matches left (new or changed while it ran)
    appeared_exact: bool = True

    @property
    def done(self) -> bool:
        return self.appeared is not None

    @property
    def processed(self) -> int:
        return self.revoked + self.already_revoked

    def summary(self) -> str:
        """The outcome in words, as the dashboard and the CLI tell it."""
        text = bulk_summary(self.revoked, self.already_revoked, self.servers)
        if self.appeared:
            more = f"{'at least ' if not self.appeared_exact else ''}{self.appeared}"
            text += (f" {more} connection{'s' if self.appeared != 1 else ''} started matching the "
                     "filter while it ran (added or changed) and "
                     f"{'were' if self.appeared != 1 else 'was'} not revoked: revoke again to "
                     "include them.")
        return text


def bulk_summary(revoked: int, already_revoked: int, servers: Iterable[str]) -> str:
    """'Revoked 3 connections. 1 had already been revoked by someone else. Disconnected ...'"""
    text = f"Revoked {revoked} connection{'s' if revoked != 1 else ''}."
    if already_revoked:
        text += f" {already_revoked} had already been revoked by someone else."
    return text + f" Disconnected MCP servers: {', '.join(sorted(servers)) or 'none'}."


def start(session: Session, *, actor: Actor, where: GroupFilter) -> MatchingRevoke:
    """Begin a revocation of what `where` matches now; checks the filter (InvalidInput) first."""
    require(actor, Action.WRITE, session)
    matching_conditions(session, where)
    up_to = session.execute(select(func.max(col(Connection.id)))).scalar_one_or_none()
    return MatchingRevoke(where=where, up_to=up_to or 0)


def revoke_next_batch(session: Session, *, actor: Actor, run: MatchingRevoke,
                      limit: int = BATCH) -> BulkRevokeResult:
    """Revoke the next `limit` matching connections (by id) and move `run` past them.

    When none is left, `run` becomes done and counts the live matches left over (`appeared`).
    """
    require(actor, Action.WRITE, session)
    conds = matching_conditions(session, run.where)
    ids = list(session.execute(
        select(col(Connection.id))
        .where(*conds, col(Connection.id) > run.after, col(Connection.id) <= run.up_to)
        .order_by(col(Connection.id)).limit(limit)).scalars())
    if not ids:
        run.appeared, run.appeared_exact = capped_count(
            session, select(col(Connection.id)).where(*conds))
        return BulkRevokeResult([], [])
    result = revoke_many(session, actor=actor, connection_ids=ids)
    run.after = ids[-1]
    run.revoked += len(result.revoked)
    run.already_revoked += len(result.already_revoked)
    for r in result.revoked:
        run.revoked_ids.append(r.id)
        run.servers.update(r.disconnected_servers)
    return result


def revoke_matching(session: Session, *, actor: Actor, where: GroupFilter,
                    batch: int = BATCH) -> MatchingRevoke:
    """Revoke every live connection `where` matches, to the end; the run holds the outcome."""
    run = start(session, actor=actor, where=where)
    while not run.done:
        revoke_next_batch(session, actor=actor, run=run, limit=batch)
    return run
