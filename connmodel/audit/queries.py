"""Audit queries: each answers one question in SQL and returns a small pandas DataFrame.

The work (filters, GROUP BY, ordering, LIMIT) happens in the database, so a million connections
never cross into Python: a query returns at most `limit` rows or one row per day/status/provider.
The queries are read-only and select named columns only (never an `*_enc` column), so an audit
never needs the secret key. Every query takes the acting user and requires READ.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import (
    Date,
    DateTime,
    Select,
    Table,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Session

from connmodel.errors import InvalidInput
from connmodel.models import (
    AuditEvent,
    CheckResult,
    Connection,
    McpServer,
    Profile,
    ProviderConfig,
    utcnow,
)
from connmodel.permissions import Action, Actor, require
from connmodel.services.groups import GroupFilter, matching_conditions
from connmodel.status import Environment, Status, parse_environment

CONN: Table = Connection.__table__  # type: ignore[attr-defined]
PROFILE: Table = Profile.__table__  # type: ignore[attr-defined]
PROVIDER: Table = ProviderConfig.__table__  # type: ignore[attr-defined]
SERVER: Table = McpServer.__table__  # type: ignore[attr-defined]
CHECK: Table = CheckResult.__table__  # type: ignore[attr-defined]
EVENT: Table = AuditEvent.__table__  # type: ignore[attr-defined]

MAX_DAYS = 3650
MAX_LIMIT = 1000
TRAIL_ACTIONS = {"revoke": "revocation", "reauthorize": "re-authorization",
                 "connection.enable": "re-enable"}
LIVE = CONN.c.revoked_at.is_(None)


def check_days(days: int, what: str = "days") -> int:
    """InvalidInput unless 0 <= days <= MAX_DAYS (the CLI and the notebooks pass user input)."""
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= MAX_DAYS:
        raise InvalidInput(f"{what} must be a whole number from 0 to {MAX_DAYS}, not {days!r}")
    return days


def check_limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {limit!r}")
    return limit


def _env(environment: str | None) -> Environment | None:
    return parse_environment(environment) if environment else None


def _frame(session: Session, stmt: Select[Any]) -> pd.DataFrame:
    """The rows as a DataFrame; timestamp columns are UTC datetimes even when all are NULL
    (so `.dt` works on a page of never-used connections)."""
    result = session.execute(stmt)
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    for column in stmt.selected_columns:
        if _is_timestamp(column.type) and column.key in frame.columns:
            frame[column.key] = pd.to_datetime(frame[column.key], utc=True)
    return frame


def _is_timestamp(type_: TypeEngine[Any]) -> bool:
    """A DateTime, or a TypeDecorator over one (SQLModel's UTCDateTime)."""
    return isinstance(type_.impl if isinstance(type_, TypeDecorator) else type_, DateTime)


def _day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, on either store."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.substr(column, 1, 10)  # SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC


def _as_day(frame: pd.DataFrame, column: str = "day") -> pd.DataFrame:
    if not frame.empty:
        frame[column] = pd.to_datetime(frame[column].astype(str))
    return frame


def _connection_columns() -> list[Any]:
    return [CONN.c.id, PROFILE.c.name.label("profile"), PROFILE.c.environment,
            CONN.c.service, CONN.c.account, CONN.c.status]


def _in_environment(stmt: Select[Any], environment: str | None) -> Select[Any]:
    """Only connections of profiles in `environment`: an IN on profile ids, so counts stay on
    the connection indexes instead of joining every row to its profile."""
    env = _env(environment)
    if env is None:
        return stmt
    return stmt.where(CONN.c.profile_id.in_(
        select(PROFILE.c.id).where(PROFILE.c.environment == env.value)))


def _live_connections(environment: str | None) -> Select[Any]:
    stmt = select(*_connection_columns()).join(PROFILE, PROFILE.c.id == CONN.c.profile_id)
    stmt = stmt.where(LIVE)
    env = _env(environment)
    return stmt.where(PROFILE.c.environment == env.value) if env else stmt


def _matching(session: Session, stmt: Select[Any], environment: str | None,
              where: GroupFilter | None) -> Select[Any]:
    """Only the live connections of `environment`, or, with `where` (the Connections page's
    filters: status, environment, profile name, text search), the ones it matches."""
    if where is None:
        return _in_environment(stmt.where(LIVE), environment)
    return stmt.where(*matching_conditions(session, where))


def live_counts(session: Session, *, actor: Actor, environment: str | None = None,
                where: GroupFilter | None = None) -> pd.DataFrame:
    """Live connections per (profile_id, status): one walk of the (profile, status) index.

    `totals`, `status_by_profile` and `error_rate_by_provider` derive their figures from it;
    the report computes it once and passes it to each (`counts=`), where each query walked a
    million index entries (PostgreSQL: scanned the table) on its own. `where` (the explore
    notebook's filters) replaces `environment`."""
    require(actor, Action.READ)
    stmt = _matching(
        session, select(CONN.c.profile_id, CONN.c.status, func.count().label("connections"))
        .group_by(CONN.c.profile_id, CONN.c.status), environment, where)
    frame = _frame(session, stmt)
    return frame.astype({"profile_id": "int64", "connections": "int64"})


def totals(session: Session, *, actor: Actor, environment: str | None = None,
           counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Live connections by status (every status present, zeros included). `counts`: the
    `live_counts` of the same environment, if already at hand."""
    require(actor, Action.READ)
    if counts is None:
        counts = live_counts(session, actor=actor, environment=environment)
    by_status = counts.groupby("status")["connections"].sum()
    return pd.DataFrame({"status": [s.value for s in Status],
                         "connections": [int(by_status.get(s.value, 0)) for s in Status]})


def is_empty(session: Session, *, actor: Actor) -> bool:
    """True when there is nothing to audit: no profile and no connection at all."""
    require(actor, Action.READ)
    return not session.execute(select(exists(select(PROFILE.c.id)) | exists(select(CONN.c.id)))
    ).scalar_one()


def erroring(session: Session, *, actor: Actor, environment: str | None = None,
             limit: int = 100) -> pd.DataFrame:
    """Connections in Error: the reason, since when (the start of the current run of Error
    checks, else the last check), and the servers of the profile they break. Oldest first.

    The runs are one aggregate over the Error checks (the (status, at) index), joined to the
    connections: a correlated subquery per connection in Error probed the history 59k times
    at a million connections."""
    require(actor, Action.READ)
    check_limit(limit)
    first_error = CHECK.alias("first_error")
    later_ok = CHECK.alias("later_ok")
    runs = (select(first_error.c.connection_id, func.min(first_error.c.at).label("since"))
            .where(first_error.c.status == Status.ERROR.value,
                   ~exists(select(later_ok.c.id).where(
                       later_ok.c.connection_id == first_error.c.connection_id,
                       later_ok.c.status != Status.ERROR.value,
                       later_ok.c.at > first_error.c.at)))
            .group_by(first_error.c.connection_id).subquery("runs"))
    since_col = func.coalesce(runs.c.since, CONN.c.checked_at, CONN.c.created_at).label("since")
    stmt = (_live_connections(environment)
            .add_columns(CONN.c.status_reason.label("reason"), since_col, CONN.c.profile_id)
            .outerjoin(runs, runs.c.connection_id == CONN.c.id)
            .where(CONN.c.status == Status.ERROR.value)
            .order_by(since_col, CONN.c.id).limit(limit))
    frame = _frame(session, stmt)
    servers = _servers_by_profile(session, [int(p) for p in frame["profile_id"].unique()])
    frame["servers"] = [", ".join(servers.get(int(p), [])) for p in frame["profile_id"]]
    return frame.drop(columns=["profile_id"])


def _servers_by_profile(session: Session, profile_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for start in range(0, len(profile_ids), 500):
        rows = session.execute(select(SERVER.c.profile_id, SERVER.c.name)
            .where(SERVER.c.profile_id.in_(profile_ids[start:start + 500]))
            .order_by(SERVER.c.name)
        ).all()
        for pid, name in rows:
            found.setdefault(int(pid), []).append(name)
    return found


def stale(session: Session, *, actor: Actor, days: int = 30, environment: str | None = None,
          limit: int = 100, now: datetime | None = None) -> pd.DataFrame:
    """Live connections never used, or not used for `days` days: never-used first, then oldest.

    Two queries, each walking the partial last-used index in order and stopping at `limit`."""
    require(actor, Action.READ)
    check_days(days)
    check_limit(limit)
    cutoff = (now or utcnow()) - timedelta(days=days)
    base = _live_connections(environment).add_columns(CONN.c.last_used_at, CONN.c.created_at)
    never = _frame(session, base.where(CONN.c.last_used_at.is_(None))
                   .order_by(CONN.c.id).limit(limit))
    if len(never) == limit:
        return never
    unused = _frame(session, base.where(CONN.c.last_used_at < cutoff)
                    .order_by(CONN.c.last_used_at, CONN.c.id).limit(limit - len(never)))
    parts = [f for f in (never, unused) if len(f)]
    return pd.concat(parts, ignore_index=True) if parts else never


def stale_count(session: Session, *, actor: Actor, days: int = 30,
                environment: str | None = None, now: datetime | None = None) -> int:
    require(actor, Action.READ)
    cutoff = (now or utcnow()) - timedelta(days=check_days(days))
    never, unused = (
        _in_environment(select(func.count()).select_from(CONN).where(LIVE, cond), environment)
        .scalar_subquery()
        for cond in (CONN.c.last_used_at.is_(None), CONN.c.last_used_at < cutoff))
    stmt = select(never + unused)  # two index ranges beat one OR over every live row
    return int(session.execute(stmt).scalar_one())


def _expiring_where(days: int, now: datetime) -> ColumnElement[bool]:
    """Expired but still Active, or expiring within `days` days and not already Inactive."""
    horizon = now + timedelta(days=days)
    return and_(LIVE, CONN.c.expires_at.is_not(None), or_(
        and_(CONN.c.expires_at < now, CONN.c.status == Status.ACTIVE.value),
        and_(CONN.c.expires_at >= now, CONN.c.expires_at < horizon,
             CONN.c.status != Status.INACTIVE.value)))


def expiring(session: Session, *, actor: Actor, days: int = 14, environment: str | None = None,
             limit: int = 100, now: datetime | None = None) -> pd.DataFrame:
    """Credentials expiring within `days` days, and expired ones still marked Active (`kind`)."""
    require(actor, Action.READ)
    check_days(days)
    check_limit(limit)
    now = now or utcnow()
    kind = case((CONN.c.expires_at < now, literal("expired, still Active")),
                else_=literal("expiring")).label("kind")
    stmt = (_live_connections(environment).add_columns(CONN.c.expires_at, kind)
            .where(_expiring_where(days, now)).order_by(CONN.c.expires_at, CONN.c.id).limit(limit))
    return _frame(session, stmt)


def _likely(session: Session, cond: ColumnElement[bool]) -> ColumnElement[bool]:
    """`cond` marked as true for most rows on SQLite, so the planner does not drive a count by
    it: without statistics it walked 840k Active rows of the status index, each looked up in
    the table, rather than the expiry range with the status inside the index."""
    if session.get_bind().dialect.name == "sqlite":
        return func.likely(cond)
    return cond


def expiring_count(session: Session, *, actor: Actor, days: int = 14,
                   environment: str | None = None, now: datetime | None = None) -> int:
    require(actor, Action.READ)
    now = now or utcnow()
    horizon = now + timedelta(days=check_days(days))
    in_window = (CONN.c.expires_at >= now, CONN.c.expires_at < horizon)
    expired, soon, soon_inactive = (
        _in_environment(select(func.count()).select_from(CONN).where(LIVE, *cond), environment)
        .scalar_subquery()
        for cond in ((CONN.c.expires_at < now,
                      _likely(session, CONN.c.status == Status.ACTIVE.value)),
                     in_window,
                     (*in_window, _likely(session, CONN.c.status == Status.INACTIVE.value))))
    # The rows of _expiring_where, counted on ranges of the (expires_at, status) index:
    # "expiring and not Inactive" as all expiring minus the few Inactive ones.
    stmt = select(expired + soon - soon_inactive)
    return int(session.execute(stmt).scalar_one())


def error_count(session: Session, *, actor: Actor, environment: str | None = None) -> int:
    frame = totals(session, actor=actor, environment=environment)
    return int(frame.loc[frame["status"] == Status.ERROR.value, "connections"].sum())


def expiry_timeline(session: Session, *, actor: Actor, days: int = 30,
                    environment: str | None = None, now: datetime | None = None,
                    where: GroupFilter | None = None) -> pd.DataFrame:
    """Live connections that expire in each of the next `days` days (one row per day), of
    `environment`, or matching `where` (the Connections page's filters) if given."""
    require(actor, Action.READ)
    now = now or utcnow()
    day = _day(session, CONN.c.expires_at).label("day")
    stmt = _matching(
        session, select(day, func.count().label("connections")).select_from(CONN)
        .where(CONN.c.expires_at >= now,
               CONN.c.expires_at < now + timedelta(days=check_days(days))), environment, where)
    stmt = stmt.group_by(day).order_by(day)
    return _as_day(_frame(session, stmt))


def _unused_profiles_stmt(environment: str | None) -> Select[Any]:
    """Profiles with no live connection, or no MCP server using them, of `environment`."""
    mine = and_(CONN.c.profile_id == PROFILE.c.id, LIVE)
    served = SERVER.c.profile_id == PROFILE.c.id
    no_conn, no_server = ~exists(select(CONN.c.id).where(mine)), ~exists(select(SERVER.c.id)
                                                                          .where(served))
    why = case((and_(no_conn, no_server), literal("no connection and no server")),
               (no_conn, literal("no connection")), else_=literal("no server")).label("why")
    stmt = (select(PROFILE.c.name.label("profile"), PROFILE.c.environment,
                   select(func.count()).select_from(CONN).where(mine).scalar_subquery()
                   .label("connections"),
                   select(func.count()).select_from(SERVER).where(served).scalar_subquery()
                   .label("servers"), why)
            .where(or_(no_conn, no_server)))
    env = _env(environment)
    return stmt.where(PROFILE.c.environment == env.value) if env else stmt


def _count_rows(session: Session, stmt: Select[Any]) -> int:
    """How many rows `stmt` gives (without its ORDER BY and LIMIT): a listing's true total."""
    inner = stmt.order_by(None).limit(None).subquery()
    return int(session.execute(select(func.count()).select_from(inner)).scalar_one())


def unused_profiles(session: Session, *, actor: Actor, limit: int = 100,
                    environment: str | None = None) -> pd.DataFrame:
    """Profiles with no live connection, or no MCP server using them (of `environment`).

    EXISTS probes each profile's first index entry; only the profiles reported are counted
    (counting every profile's connections walked a million index entries)."""
    require(actor, Action.READ)
    check_limit(limit)
    stmt = _unused_profiles_stmt(environment).order_by(PROFILE.c.name).limit(limit)
    return _frame(session, stmt).astype({"connections": "int64", "servers": "int64"})


def unused_profiles_count(session: Session, *, actor: Actor,
                          environment: str | None = None) -> int:
    """How many profiles `unused_profiles` would list without a limit."""
    require(actor, Action.READ)
    return _count_rows(session, _unused_profiles_stmt(environment))


def _mixed_environments_stmt() -> Select[Any]:
    n_env = func.count(PROFILE.c.environment.distinct())
    return (select(PROVIDER.c.name.label("provider"), PROVIDER.c.kind,
                   n_env.label("environments"), func.count().label("profiles"),
                   func.min(PROFILE.c.environment).label("first_environment"),
                   func.max(PROFILE.c.environment).label("last_environment"))
            .join(PROFILE, PROFILE.c.provider_config_id == PROVIDER.c.id)
            .group_by(PROVIDER.c.id, PROVIDER.c.name, PROVIDER.c.kind)
            .having(n_env > 1))


def mixed_environments(session: Session, *, actor: Actor, limit: int = 100) -> pd.DataFrame:
    """Provider configs (one client id, one secret) shared by profiles of several environments:
    a dev profile holding production's credentials is the mix an audit must catch."""
    require(actor, Action.READ)
    check_limit(limit)
    return _frame(session, _mixed_environments_stmt().order_by(PROVIDER.c.name).limit(limit))


def mixed_environments_count(session: Session, *, actor: Actor) -> int:
    """How many provider configs `mixed_environments` would list without a limit."""
    require(actor, Action.READ)
    return _count_rows(session, _mixed_environments_stmt())


def _unchecked_production_stmt(hours: int, now: datetime | None) -> Select[Any]:
    cutoff = (now or utcnow()) - timedelta(hours=check_days(hours, "hours"))
    mine = and_(CONN.c.profile_id == PROFILE.c.id, LIVE)
    recent = exists(select(CONN.c.id).where(mine, CONN.c.checked_at >= cutoff))
    last = select(func.max(CONN.c.checked_at)).where(mine).scalar_subquery().label("last_checked")
    count = select(func.count()).where(mine).scalar_subquery().label("connections")
    return (select(PROFILE.c.name.label("profile"), count, last)
            .where(PROFILE.c.environment == Environment.PRODUCTION.value, ~recent)
            .order_by(last.is_not(None), last, PROFILE.c.name))


def unchecked_production(session: Session, *, actor: Actor, hours: int = 24, limit: int = 100,
                         now: datetime | None = None) -> pd.DataFrame:
    """Production profiles whose live connections were not checked in the last `hours` hours.

    NOT EXISTS stops at a profile's first recent check, so only the profiles reported are
    counted and dated in full."""
    require(actor, Action.READ)
    check_limit(limit)
    frame = _frame(session, _unchecked_production_stmt(hours, now).limit(limit))
    frame["last_checked"] = pd.to_datetime(frame["last_checked"], utc=True)
    frame["connections"] = frame["connections"].astype("int64")
    return frame


def unchecked_production_count(session: Session, *, actor: Actor, hours: int = 24,
                               now: datetime | None = None) -> int:
    """How many profiles `unchecked_production` would list without a limit."""
    require(actor, Action.READ)
    return _count_rows(session, _unchecked_production_stmt(hours, now))


def status_by_profile(session: Session, *, actor: Actor, environment: str | None = None,
                      limit: int = 20, counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Live connections per status for the `limit` largest profiles (long format), from the
    `live_counts` (a few hundred rows); `counts` if already at hand."""
    require(actor, Action.READ)
    check_limit(limit)
    if counts is None:
        counts = live_counts(session, actor=actor, environment=environment)
    sizes = counts.groupby("profile_id", as_index=False)["connections"].sum()
    top = sizes.sort_values(["connections", "profile_id"], ascending=[False, True]).head(limit)
    names = dict(session.execute(select(PROFILE.c.id, PROFILE.c.name)
                          .where(PROFILE.c.id.in_([int(i) for i in top["profile_id"]]))).all())
    frame = counts[counts["profile_id"].isin(top["profile_id"])].assign(
        profile=lambda f: f["profile_id"].map(names))
    return (frame[["profile", "status", "connections"]]
            .sort_values(["profile", "status"], ignore_index=True))


COMPOUND_MAX = 400  # SELECTs in one UNION ALL (SQLite's SQLITE_MAX_COMPOUND_SELECT is 500)


def status_over_time(session: Session, *, actor: Actor, days: int = 30,
                     now: datetime | None = None) -> pd.DataFrame:
    """Check results per UTC day and status over the last `days` days (check history)."""
    require(actor, Action.READ)
    now = (now or utcnow()).astimezone(UTC)
    since = now - timedelta(days=check_days(days))
    if _counts_from_index(session):
        return _as_day(_daily_checks(session, since, now))
    day = _day(session, CHECK.c.at).label("day")  # one parallel scan, hash groups
    stmt = (select(day, CHECK.c.status, func.count().label("checks"))
            .where(CHECK.c.at >= since).group_by(day, CHECK.c.status)
            .order_by(day, CHECK.c.status))
    return _as_day(_frame(session, stmt))


def _counts_from_index(session: Session) -> bool:
    """Whether a day's checks can be counted on the index alone: always on SQLite; on
    PostgreSQL once (auto)vacuum has marked nearly all of the history's pages all-visible.
    Before that, each day's count would fetch its rows from all over the heap (1 s a day at 3M
    rows), and one grouping scan is better."""
    if session.get_bind().dialect.name == "sqlite":
        return True
    pages, visible = session.execute(select(literal_column("relpages"),
                                               literal_column("relallvisible"))
                              .select_from(text("pg_class"))
                              .where(literal_column("oid") == func.to_regclass(CHECK.name))
                              ).one()
    return bool(pages) and visible >= 0.9 * pages


def _daily_checks(session: Session, since: datetime, now: datetime) -> pd.DataFrame:
    """Each day's checks counted on its range of ix_check_result_at (UNION ALL, a bare count
    per range), the Error and Inactive ones on ix_check_result_status_at; Active is the rest
    (a check's status is always a `Status`).

    Grouping by a computed day sorts (SQLite) or hashes (PostgreSQL) every row of the window:
    3.5x and 5x slower at 3M check rows; a bare count steps through a range 2x faster than
    counting each status with FILTER, and the statuses other than Active are a few thousand."""
    midnight = since.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [midnight + timedelta(days=i) for i in range((now - midnight).days + 1)]
    per_day = [select(literal(i).label("i"), func.count().label("n"))
               .where(CHECK.c.at >= max(start, since), CHECK.c.at < start + timedelta(days=1))
               for i, start in enumerate(starts)]
    totals: dict[int, int] = {}
    for first in range(0, len(per_day), COMPOUND_MAX):  # SQLite refuses a longer UNION ALL
        part = per_day[first:first + COMPOUND_MAX]
        totals.update(session.execute(union_all(*part) if len(part) > 1 else part[0]).all())
    others = [st.value for st in Status if st is not Status.ACTIVE]
    day = _day(session, CHECK.c.at).label("day")
    rare = session.execute(select(day, CHECK.c.status, func.count())
                    .where(CHECK.c.status.in_(others), CHECK.c.at >= since,
                           CHECK.c.at < starts[-1] + timedelta(days=1))
                    .group_by(day, CHECK.c.status)).all()
    counts = {(str(d), st): int(n) for d, st, n in rare}
    rows = []
    for i, start in enumerate(starts):
        key = start.date().isoformat()
        for st in others:
            rows.append((start.date(), st, counts.get((key, st), 0)))
        rows.append((start.date(), Status.ACTIVE.value,
                     int(totals.get(i, 0)) - sum(counts.get((key, st), 0) for st in others)))
    return (pd.DataFrame([r for r in rows if r[2]], columns=["day", "status", "checks"])
            .sort_values(["day", "status"], ignore_index=True))


def error_rate_by_provider(session: Session, *, actor: Actor, days: int = 30,
                           environment: str | None = None, now: datetime | None = None,
                           counts: pd.DataFrame | None = None,
                           where: GroupFilter | None = None) -> pd.DataFrame:
    """Per provider config: live connections, how many are in Error now (`error_rate`), and the
    failed checks of the last `days` days, of the profiles in `environment` (every one if None).
    The current figures come from `live_counts` (`counts` if already at hand, of the same
    environment); only Error check rows are joined: a million-row check history is never walked
    row by row. With `where` (the Connections page's filters), of the live connections it
    matches, and the failed checks of those."""
    require(actor, Action.READ)
    since = (now or utcnow()) - timedelta(days=check_days(days))
    if counts is None:
        counts = live_counts(session, actor=actor, environment=environment, where=where)
    env = _env(environment)
    failed_stmt = (select(PROFILE.c.provider_config_id, func.count())
                   .select_from(CHECK).join(CONN, CONN.c.id == CHECK.c.connection_id)
                   .join(PROFILE, PROFILE.c.id == CONN.c.profile_id)
                   .where(CHECK.c.status == Status.ERROR.value, CHECK.c.at >= since)
                   .group_by(PROFILE.c.provider_config_id))
    if where is not None:
        failed_stmt = failed_stmt.where(*matching_conditions(session, where))
    elif env is not None:
        failed_stmt = failed_stmt.where(PROFILE.c.environment == env.value)
    failed = dict(session.execute(failed_stmt).all())
    providers = _frame(session, select(PROFILE.c.id.label("profile_id"),
                                       PROFILE.c.provider_config_id.label("pid"),
                                       PROVIDER.c.name.label("provider"), PROVIDER.c.kind)
                       .join(PROVIDER, PROVIDER.c.id == PROFILE.c.provider_config_id))
    per_profile = counts.assign(
        errors=counts["connections"].where(counts["status"] == Status.ERROR.value, 0))
    frame = (per_profile.merge(providers, on="profile_id")
             .groupby(["pid", "provider", "kind"], as_index=False)[["connections", "errors"]]
             .sum())
    frame = frame[frame["connections"] > 0].sort_values("provider", ignore_index=True)
    frame["failed_checks"] = [int(failed.get(int(p), 0)) for p in frame["pid"]]
    for col in ("connections", "errors", "failed_checks"):
        frame[col] = frame[col].astype("int64")
    frame["error_rate"] = (frame["errors"] / frame["connections"]).round(4)
    return frame[["provider", "kind", "connections", "errors", "failed_checks", "error_rate"]]


def audit_trail(session: Session, *, actor: Actor, days: int = 30,
                now: datetime | None = None) -> pd.DataFrame:
    """Successful revocations and re-authorizations per UTC day, by actor."""
    require(actor, Action.READ)
    since = (now or utcnow()) - timedelta(days=check_days(days))
    day = _day(session, EVENT.c.at).label("day")
    what = case(*((EVENT.c.action == a, literal(label)) for a, label in TRAIL_ACTIONS.items()),
                else_=EVENT.c.action).label("action")
    stmt = (select(day, EVENT.c.actor, what, func.count().label("events"))
            .where(EVENT.c.at >= since, EVENT.c.action.in_(list(TRAIL_ACTIONS)),
                   EVENT.c.outcome.like("ok%"))
            .group_by(day, EVENT.c.actor, what).order_by(day, EVENT.c.actor, what))
    return _as_day(_frame(session, stmt))


def explore_charts(session: Session, *, actor: Actor, where: GroupFilter, days: int = 30,
                   limit: int = 20, now: datetime | None = None) -> dict[str, pd.DataFrame]:
    """The explore notebook's charts for the Connections page's filters (`where`): live
    connections by status for the `limit` largest matching profiles (`status_by_profile`),
    the error rate per provider (`error_rate_by_provider`) and the credentials expiring per
    day in the next `days` days (`expiry_timeline`). Aggregates in SQL over the matching rows,
    counted once: a few hundred rows reach Python whatever the table holds."""
    counts = live_counts(session, actor=actor, where=where)
    return {
        "status_by_profile": status_by_profile(session, actor=actor, limit=limit, counts=counts),
        "error_rate_by_provider": error_rate_by_provider(session, actor=actor, days=days,
                                                         now=now, counts=counts, where=where),
        "expiry_timeline": expiry_timeline(session, actor=actor, days=days, now=now,
                                           where=where),
    }
