"""View and Revoke: what the dialogs show and what confirming does, for one or many connections.

A revocation is asked for first (`ask_revoke`, `ask_revoke_selected`, `ask_revoke_matching`),
which fills `pending` with what the confirmation must say; `cancel` forgets it and changes
nothing; `confirm` revokes through the service in batches, moving `progress`, and leaves the
outcome in `message` / `message_kind` for the view to notify.

Every service call runs in a worker thread (`Backend.acall`) and its outcome is applied here,
on the event loop, after it: the server's other sessions go on meanwhile. A batch that started
runs to its end; a revocation is never interrupted halfway.

An open View follows the store (`catch_up`, on each change the process's watcher reports): it
is read again, and a connection revoked elsewhere meanwhile says so in `gone` instead of
showing its last status and offering actions on it.
"""

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import param

from connmodel.changes import Change
from connmodel.errors import AlreadyRevoked, ConnModelError, NotFound
from connmodel.models import ConnectionDetail
from connmodel.services.connections import get_connection, revoke_connection, revoke_many
from connmodel.services.groups import GroupFilter, count_matching, servers_affected
from connmodel.services.revoke_matching import (
    MatchingRevoke,
    bulk_summary,
    revoke_next_batch,
    start,
)
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.catch_up import CatchUp

BATCH = 50
SERVERS_LISTED = 20


@dataclass(frozen=True)
class RevokeRequest:
    """What a revoke confirmation states: which connections, how many, which servers stop."""

    title: str
    count: int
    servers: list[str]
    ids: list[int] = field(default_factory=list)
    where: GroupFilter | None = None
    more_servers: bool = False


def connection_label(profile: str, account: str) -> str:
    """How a connection is named to a person: 'Hubspot connection (Configured)'."""
    return f"{profile} connection ({account})"


class ActionsModel(param.Parameterized):
    """The View panel and the Revoke confirmation of the Connections page."""

    detail = param.ClassSelector(class_=ConnectionDetail, default=None, allow_None=True,
                                 doc="The connection shown by View (secrets masked).")
    gone = param.String(default="", doc="Why the connection View shows is no longer live (it "
                                        "was revoked meanwhile); '' while it is.")
    pending = param.ClassSelector(class_=RevokeRequest, default=None, allow_None=True,
                                  doc="The revocation awaiting confirmation.")
    progress = param.Integer(default=0, doc="Connections processed by the running revocation.")
    running = param.Boolean(default=False, doc="True while a confirmed revocation runs.")
    message = param.String(default="", doc="The outcome to notify (plain text).")
    message_kind = param.Selector(objects=["info", "success", "warning", "error"],
                                  default="info", doc="How the outcome is shown.")
    changed = param.Event(doc="Fires when listings must be re-read (changed by someone else).")
    revoked = param.List(default=[], doc="Ids revoked by the last confirmation, for listings.")

    def __init__(self, backend: Backend, **params: Any) -> None:
        super().__init__(**params)
        self.backend = backend
        self._catch_up = CatchUp(self._read_again)

    def _tell(self, text: str, kind: str) -> None:
        self.message = ""  # so the same outcome twice in a row still notifies
        self.param.update(message_kind=kind, message=text)

    async def view(self, connection_id: int) -> None:
        """Open View on one connection."""
        try:
            detail = await self.backend.acall(get_connection, connection_id=connection_id)
        except AlreadyRevoked as exc:
            self._tell(f"{exc}. It is no longer listed.", "warning")
            self.changed = True
        except ConnModelError as exc:
            self._tell(str(exc), "error")
        else:
            self.param.update(gone="", detail=detail)

    def close_view(self) -> None:
        self.param.update(detail=None, gone="")

    async def catch_up(self, _: Change) -> None:
        """The store changed: read the connection View shows again (nothing when none is
        shown, or it is known to be gone)."""
        if self.detail is not None and not self.gone:
            await self._catch_up()

    async def _read_again(self) -> None:
        """Show the connection as it is now; kept as it was if the read fails (the page's
        notice says when the store is down), and told `gone` once it was revoked."""
        shown = self.detail
        if shown is None:
            return
        try:
            fresh = await self.backend.acall(get_connection, connection_id=shown.id)
        except AlreadyRevoked as exc:
            if self.detail is shown:
                self.gone = f"This connection was revoked while it was shown here ({exc})."
            return
        except ConnModelError:
            return
        if self.detail is shown and fresh != shown:
            self.detail = fresh

    async def ask_revoke(self, connection_id: int) -> None:
        """Prepare the confirmation for one connection (named, with the servers it stops)."""
        try:
            d = await self.backend.acall(get_connection, connection_id=connection_id)
            # its profile's connected servers, and those its own disable disconnected
            servers = await self.backend.acall(servers_affected, connection_ids=[connection_id],
                                               limit=SERVERS_LISTED + 1)
        except AlreadyRevoked as exc:
            self._tell(f"{exc}. Nothing to do.", "warning")
            self.changed = True
            return
        except ConnModelError as exc:
            self._tell(str(exc), "error")
            return
        self.pending = RevokeRequest(title=f"Revoke {connection_label(d.profile, d.account)}?",
                                     count=1, servers=[s.name for s in servers[:SERVERS_LISTED]],
                                     ids=[connection_id],
                                     more_servers=len(servers) > SERVERS_LISTED)

    async def ask_revoke_selected(self, ids: list[int]) -> None:
        """Prepare one confirmation for the selected connections."""
        if not ids:
            self._tell("Select connections first.", "info")
            return
        try:
            servers = await self.backend.acall(servers_affected, connection_ids=ids,
                                               limit=SERVERS_LISTED + 1)
        except ConnModelError as exc:
            self._tell(str(exc), "error")
            return
        self.pending = RevokeRequest(
            title=f"Revoke {len(ids)} selected connection{'s' if len(ids) != 1 else ''}?",
            count=len(ids), servers=[s.name for s in servers[:SERVERS_LISTED]], ids=list(ids),
            more_servers=len(servers) > SERVERS_LISTED)

    async def ask_revoke_matching(self, where: GroupFilter) -> None:
        """Prepare one confirmation for every connection the page's filter matches."""
        try:
            count, exact = await self.backend.acall(count_matching, where=where)
            servers = await self.backend.acall(servers_affected, where=where,
                                               limit=SERVERS_LISTED + 1)
        except ConnModelError as exc:
            self._tell(str(exc), "error")
            return
        if not count:
            self._tell("No connection matches this filter.", "info")
            return
        self.pending = RevokeRequest(
            title=f"Revoke {'at least ' if not exact else ''}{count} connection"
                  f"{'s' if count != 1 else ''} matching this filter?",
            count=count, servers=[s.name for s in servers[:SERVERS_LISTED]], where=where,
            more_servers=len(servers) > SERVERS_LISTED)

    def cancel(self) -> None:
        """Close the confirmation; nothing is changed."""
        self.pending = None

    async def confirm(self) -> None:
        """Run the pending revocation to the end (see `confirm_steps` for the batches)."""
        async for _ in self.confirm_steps():
            pass

    async def confirm_steps(self) -> AsyncIterator[int]:
        """Revoke the pending connections batch by batch, yielding progress after each batch.
        A second confirmation while one runs does nothing."""
        request = self.pending
        if request is None or self.running:
            return
        self.param.update(running=True, progress=0)
        revoked, already, servers = 0, 0, set[str]()
        done: list[int] = []
        single = None
        try:
            if request.where is not None:
                async for step in self._revoke_matching(request.where, done):
                    yield step
                return
            for batch in self._batches(request):
                if request.count == 1:
                    single = await self.backend.acall(revoke_connection,
                                                      connection_id=batch[0])
                    revoked, servers = 1, set(single.disconnected_servers)
                    done.append(single.id)
                else:
                    result = await self.backend.acall(revoke_many, connection_ids=batch)
                    revoked += len(result.revoked)
                    already += len(result.already_revoked)
                    for r in result.revoked:
                        servers.update(r.disconnected_servers)
                        done.append(r.id)
                self.progress = revoked + already
                yield self.progress
        except AlreadyRevoked as exc:
            # it says who: "someone else" was wrong when it was the same user in another tab
            self._tell(f"{exc}. Nothing was changed.", "warning")
            self.changed = True
        except (NotFound, ConnModelError) as exc:
            self._tell(f"Revocation stopped after {revoked}: {exc}", "error")
            self.changed = True
        else:
            self._tell(self._outcome(single, revoked, already, servers), "success")
        finally:
            self.param.update(running=False, pending=None, revoked=done)

    async def _revoke_matching(self, where: GroupFilter, done: list[int]
                               ) -> AsyncIterator[int]:
        """Every connection the filter matches at confirmation, to the end (not to the count)."""
        run: MatchingRevoke | None = None
        try:
            run = await self.backend.acall(start, where=where)
            while not run.done:
                await self.backend.acall(revoke_next_batch, run=run)
                self.progress = run.processed
                yield self.progress
        except ConnModelError as exc:
            self._tell(f"Revocation stopped after {run.revoked if run else 0}: {exc}", "error")
            self.changed = True
        else:
            self._tell(run.summary(), "warning" if run.appeared else "success")
            if run.appeared:
                self.changed = True
        finally:
            if run is not None:
                done.extend(run.revoked_ids)

    def _batches(self, request: RevokeRequest) -> Iterator[list[int]]:
        for i in range(0, len(request.ids), BATCH):
            yield request.ids[i:i + BATCH]

    @staticmethod
    def _outcome(single: Any, revoked: int, already: int, servers: set[str]) -> str:
        if single is not None:
            stopped = ", ".join(sorted(servers)) or "none"
            return (f"Revoked {connection_label(single.profile, single.account)}. "
                    f"Disconnected MCP servers: {stopped}.")
        return bulk_summary(revoked, already, servers)
