"""What an audit recommends: shell commands to paste, or a service call that is a dry run unless
told otherwise. Recommendations never act by themselves; a person (an admin) decides.
"""

import shlex
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from sqlmodel import Session

from connmodel.errors import AlreadyRevoked, InvalidInput, NotFound
from connmodel.permissions import Action, Actor, require
from connmodel.status import ServerState
from connmodel.store import describe

MAX_IDS = 1000


@dataclass(frozen=True)
class Recommendation:
    """One recommended command and why."""

    command: str
    why: str

    def __str__(self) -> str:
        return f"{self.command}    # {self.why}"


def _database_arg(database_url: str | None) -> str:
    """The `-d URL` part of a command; a password in the URL is never printed."""
    return f" -d {shlex.quote(describe(database_url))}" if database_url else ""


def recommendations(*, erroring: pd.DataFrame | None = None, stale: pd.DataFrame | None = None,
                    expiring: pd.DataFrame | None = None,
                    production_unchecked: pd.DataFrame | None = None,
                    database_url: str | None = None, limit: int = 20) -> list[Recommendation]:
    """Commands for the findings given: revoke what is broken or unused, check what is
    expired yet Active or unverified. Each frame is the output of the matching query."""
    db = _database_arg(database_url)
    out: list[Recommendation] = []
    empty = pd.DataFrame()
    erroring, stale = _or(erroring, empty), _or(stale, empty)
    expiring, production_unchecked = _or(expiring, empty), _or(production_unchecked, empty)
    for row in erroring.head(limit).itertuples():
        reason = row.reason if isinstance(row.reason, str) and row.reason else "no reason"
        out.append(Recommendation(f"connmodel revoke {row.id}{db}",
                                  f"Error since {_when(row.since)}: {reason}"
                                  " (or re-authenticate it)"))
    for row in stale.head(limit).itertuples():
        used = "never used" if pd.isna(row.last_used_at) else f"last used {_when(row.last_used_at)}"
        out.append(Recommendation(f"connmodel revoke {row.id}{db}", f"stale: {used}"))
    expired = expiring[expiring["kind"] != "expiring"].head(limit) if len(expiring) else expiring
    if len(expired):
        ids = " ".join(str(i) for i in expired["id"])
        out.append(Recommendation(f"connmodel check {ids}{db}",
                                  "expired but still marked Active: check them now"))
    for row in production_unchecked.head(limit).itertuples():
        if row.connections:
            out.append(Recommendation(f"connmodel check --profile {shlex.quote(row.profile)}{db}",
                                      "production profile with no recent check"))
    return out


def _or(frame: pd.DataFrame | None, empty: pd.DataFrame) -> pd.DataFrame:
    return empty if frame is None else frame


def _when(value: object) -> str:
    return "–" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class PlannedRevoke:
    id: int
    profile: str
    account: str
    servers_disconnected: list[str]
    outcome: str


def revoke_selected(session: Session, *, actor: Actor, ids: Iterable[int],
                    dry_run: bool = True) -> pd.DataFrame:
    """Revoke the selected connections, or (the default) say what revoking them would do.

    A dry run only reads (a viewer may run it); a real run needs an admin and revokes one
    connection per transaction, so one already revoked by someone else does not stop the rest.
    """
    # The services (and the OAuth client they revoke with) load here: the report only recommends.
    from connmodel.services.connections import get_connection, revoke_connection

    require(actor, Action.READ if dry_run else Action.WRITE, session)
    wanted = [int(i) for i in ids]
    if len(wanted) > MAX_IDS:
        raise InvalidInput(f"at most {MAX_IDS} connections at once, not {len(wanted)}")
    rows: list[PlannedRevoke] = []
    for cid in wanted:
        try:
            detail = get_connection(session, actor=actor, connection_id=cid)
        except (NotFound, AlreadyRevoked) as exc:
            rows.append(PlannedRevoke(cid, "", "", [], f"skipped: {exc}"))
            continue
        servers = [s.name for s in detail.mcp_servers if s.state == ServerState.CONNECTED]
        if dry_run:
            rows.append(PlannedRevoke(cid, detail.profile, detail.account, servers,
                                      "would revoke (dry run)"))
            continue
        try:
            done = revoke_connection(session, actor=actor, connection_id=cid)
        except AlreadyRevoked as exc:
            rows.append(PlannedRevoke(cid, detail.profile, detail.account, [], f"skipped: {exc}"))
            continue
        rows.append(PlannedRevoke(cid, done.profile, done.account, done.disconnected_servers,
                                  "revoked"))
    return pd.DataFrame([r.__dict__ for r in rows],
                        columns=["id", "profile", "account", "servers_disconnected", "outcome"])
