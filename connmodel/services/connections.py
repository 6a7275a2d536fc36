"""Listing, viewing and revoking connections.

Every listing filters, sorts, counts and pages in SQL over live (not revoked) rows. Revoke is
one transaction whose first statement is a conditional UPDATE, so two admins (or two processes)
revoking at once produce exactly one revocation and one audit event.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, literal_column, or_, select, text, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import Select
from sqlmodel import Session, SQLModel, col

from connmodel.errors import AlreadyRevoked, InvalidInput, NotFound
from connmodel.masking import hint_of, mask
from connmodel.models import (
    CARD_SORTS,
    Connection,
    ConnectionCount,
    ConnectionDetail,
    ConnectionPublic,
    McpServer,
    Profile,
    ProviderConfig,
    RevokeResult,
    ServerPublic,
    utcnow,
)
from connmodel.paging import COUNT_CAP, CappedCount, KeysetQuery, Page, SortKey, with_values
from connmodel.permissions import Action, Actor, require
from connmodel.search import (
    COMMON,
    DENSE,
    HITS,
    NARROWED,
    OVER_CAP,
    Fold,
    LiveRowsInTableOrder,
    SearchTerms,
    column_ends,
    columns_ruled_out,
    counted_shape,
    fold,
    id_list,
    in_id_list,
    like_pattern,
    named_by_id,
    over_cap_by_pairs,
    prefix_bounds,
    prefix_part,
    probed_source,
    search_clause,
    search_terms,
    through_text_index,
    walked_test,
)
from connmodel.services import revocations
from connmodel.services.events import Event, record, record_many
from connmodel.sqltime import as_utc, utc_time
from connmodel.status import (
    HINTS,
    ServerState,
    disabled_hint,
    disabled_server_reason,
    hint_for,
    parse_environment,
    parse_status,
)
from connmodel.terms import holding_profiles, needle_runs
from connmodel.validation import clean_account, clean_text

SORT_FIELDS: dict[str, Any] = {
    "id": Connection.id,
    "account": Connection.account,
    "service": Connection.service,
    "status": Connection.status,
    "created": Connection.created_at,
    "expires": Connection.expires_at,
    "last_used": Connection.last_used_at,
    "checked": Connection.checked_at,
}


def sort_key(sort: str) -> SortKey:
    """'account' ascending, '-account' descending; InvalidInput for unknown fields (and for
    '--account': one '-', not any number of them)."""
    name = sort.strip()
    descending = name.startswith("-")
    name = name.removeprefix("-")
    if name not in SORT_FIELDS:
        raise InvalidInput(f"unknown sort field {name!r}: choose one of {', '.join(SORT_FIELDS)}")
    return _sort_key(name, descending)


@cache
def _sort_key(name: str, descending: bool) -> SortKey:
    """One SortKey object per sort order, so cached listing statements can be found by it."""
    return SortKey(SORT_FIELDS[name], Connection.id, descending)  # type: ignore[arg-type]


@dataclass(frozen=True)
class BoundFilter:
    """A ConnectionFilter as SQL: which conditions apply (`shape`) and the values they take.

    Statements are built once per shape with bound parameters and reused with `params`.
    """

    shape: tuple[Any, ...]
    params: dict[str, Any]


@dataclass(frozen=True)
class ConnectionFilter:
    """What a listing is narrowed to. Empty fields do not filter."""

    profile: str | None = None
    profile_id: int | None = None
    status: str | None = None
    environment: str | None = None
    search: str | None = None

    def bind(self, session: Session, *, counted: bool = True) -> BoundFilter:
        """Check the values and resolve them (a profile name to its id, a search to its terms).

        `counted`: whether the matches will be counted, for which a two-character needle alone
        is first looked up by its trigrams (`connmodel.search.over_cap_by_pairs`, ~20-60 ms at
        10M, which a page or the cards' conditions would pay for nothing). NotFound for an
        unknown profile name, InvalidInput for a bad status, environment or search text.
        """
        shape: list[Any] = []
        params: dict[str, Any] = {}
        if self.profile:
            shape.append("profile")
            params["filter_profile"] = profile_id_by_name(session, self.profile)
        if self.profile_id is not None:
            shape.append("profile_id")
            params["filter_profile_id"] = self.profile_id
        if self.status:
            shape.append("status")
            params["filter_status"] = parse_status(self.status).value
        if self.environment:
            shape.append("environment")
            params["filter_environment"] = parse_environment(self.environment).value
        terms = search_terms(session, self.search) if self.search else None
        if terms is not None:
            needle = (self.search or "").strip()
            if counted and not shape:
                terms = over_cap_by_pairs(session, terms, needle)
            if terms.hits is not None and shape:
                terms = _narrowed(session, terms, tuple(shape), params)
            shape += _count_marks(session, terms.shape, shape, needle, params)
            shape.append(terms.shape)
            params.update(terms.params)
        return BoundFilter(tuple(shape), params)

    def conditions(self, session: Session) -> list[ColumnElement[bool]]:
        """The WHERE conditions with their values, for statements that compose them."""
        bound = self.bind(session, counted=False)
        return [with_values(cond, bound.params) for cond in _conditions(bound.shape)]



# A needle walked row by row that no profile's services can hold: its count walks the accounts
# of the profiles that can hold it (`_in_accounts_only`, `_accounts_walked`).
ACCOUNT_PROFILES = "account_profiles"
# A needle that profiles' services hold: the profiles whose every live row has the one service
# that holds it are counted from connection_count (`_in_services`, ServicesCount).
SERVICE_PROFILES = "service_profiles"
_MARKS = frozenset({ACCOUNT_PROFILES, SERVICE_PROFILES})  # parts that only shape the count


def _count_marks(session: Session, search: tuple[Any, ...], others: list[str], needle: str,
                 params: dict[str, Any]) -> list[str]:
    """The marks (and their values in `params`) by which a needle too common to name by id is
    counted through the profiles its terms allow (connmodel.terms.holding_profiles), or, for a
    sparse needle without letters, their values (`_held_by_values`): in the services those
    that hold it (`_in_services`), else along the accounts (`_in_accounts_only`)."""
    dialect = session.get_bind().dialect.name
    if needle_runs(needle) or not needle.isascii():
        along = _counted_along_accounts(search, others, dialect)
        by_services = _counted_by_services(search, others, dialect)
        held = holding_profiles(session, needle) if along or by_services else None
    else:  # no letter: no terms, its columns' values prune the profiles instead
        along = _termless_along_accounts(search, others, dialect) and _sparse(session, search,
                                                                              needle)
        by_services = False
        held = _held_by_values(session, search, needle) if along else None
    if held is None:
        return []
    if held["service"]:
        return _in_services(held, params) if by_services else []
    return _in_accounts_only(session, held, needle, params) if along else []


def _counted_by_services(search: tuple[Any, ...], others: list[str], dialect: str) -> bool:
    """Whether a search's count may read connection_count for the profiles whose one service
    holds it (ServicesCount), beside filters connection_count keeps, where that was measured
    to win (at 10M): SQLite's DENSE needle beside another filter ("Google" + Error 110 ->
    14 ms; alone, its text index counts to the cap in 6 ms, as fast as the terms' lookup);
    PostgreSQL's ILIKE needle, alone too ("Google" 79 -> 17 ms), unless known to be past the
    cap alone."""
    if dialect == "sqlite":
        walked = search == DENSE and bool(others)
    else:
        walked = search[0] == "like" and not (search[-1] == OVER_CAP and not others)
    return walked and _KEPT >= set(others)


def _termless_along_accounts(search: tuple[Any, ...], others: list[str], dialect: str) -> bool:
    """Whether a needle without letters ("06": no terms) is counted along the accounts of the
    profiles that can hold it, when no profile's services can (`_held_by_values`): where that
    was measured to beat the count it replaces at 10M, beside a status on both stores ("06" +
    Error reads 556,000 Error rows for its ~3,200 matches: PostgreSQL 710 -> 150 ms, SQLite
    929 -> 125 ms, index entries instead of rows), and alone on SQLite (629 -> 414 ms);
    PostgreSQL's parallel scan of the table wins alone (400 against 525 ms)."""
    if search[0] != "like" or OVER_CAP in search:
        return False
    return others == ["status"] or (not others and dialect == "sqlite")


TERMLESS_SAMPLE = 1_000  # live rows (in table order) a needle without letters is tried on ...
TERMLESS_DENSE = 100  # ... and the matches among them from which its rows are walked as before


def _sparse(session: Session, search: tuple[Any, ...], needle: str) -> bool:
    """Whether a needle without letters is rarer than TERMLESS_DENSE in TERMLESS_SAMPLE rows
    (the first live ones, ~1 ms): a denser one ("1", "@") reaches the count's cap within a few
    thousand rows of the plain count, sooner than the profiles' values are probed (SQLite "2" +
    Error 22 ms that way, 51 ms along the accounts)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    found = session.connection().execute(_sampled(sqlite, fold((search,))),
                                         {"search_like_0": like_pattern(needle)}).scalar_one()
    return bool(found < TERMLESS_DENSE)


@cache
def _sampled(sqlite: bool, folding: Fold) -> Any:
    """The matches of a needle (`search_like_0`) among the first TERMLESS_SAMPLE live rows (in
    table order on SQLite: `+` keeps it off the partial indexes)."""
    test = " OR ".join(walked_test(c, sqlite, folding) for c in ("account", "service"))
    live = "+revoked_at IS NULL" if sqlite else "revoked_at IS NULL"
    return text(f"SELECT count(*) FROM (SELECT account, service FROM connection WHERE {live} "
                f"LIMIT {TERMLESS_SAMPLE}) AS sample WHERE {test}")


def _held_by_values(session: Session, search: tuple[Any, ...], needle: str
                    ) -> dict[str, list[int]]:
    """As holding_profiles, for a needle without letters: by column, the profiles whose values
    can hold it (`columns_ruled_out` over every profile: four seeks each, 2,000 profiles ~36 ms
    on PostgreSQL)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    held: dict[str, list[int]] = {"account": [], "service": []}
    for pid, accounts, services in session.connection().execute(
            columns_ruled_out(sqlite, fold((search,)), every=True),
            {"search_like_0": like_pattern(needle)}):
        if not accounts:
            held["account"].append(pid)
        if not services:
            held["service"].append(pid)
    return held


def _counted_along_accounts(search: tuple[Any, ...], others: list[str], dialect: str) -> bool:
    """Whether a search's count may walk the accounts of the profiles that can hold it (see
    AccountsCount): where that was measured to beat the count it replaces (at 10M). SQLite: a
    common needle beside a status (its status's rows were each read: "zoe." + Error 495 ->
    13 ms); alone, its text index is as fast. PostgreSQL: an ILIKE needle alone (a parallel
    scan of the table: "zoe." 176 -> 17 ms, "hooli.example" 88 -> 48 ms) or beside a status
    ("zoe." + Error 102 -> 21 ms, "hooli.example" + Error 250 -> 51 ms)."""
    if search == DENSE:
        return others == ["status"]
    if dialect != "postgresql" or search[0] != "like" or OVER_CAP in search:
        return False  # SQLite's "like": a needle under three letters, not one of these
    return not others or others == ["status"]


def _in_accounts_only(session: Session, held: dict[str, list[int]], needle: str,
                      params: dict[str, Any]) -> list[str]:
    """[ACCOUNT_PROFILES] with the profiles whose accounts can hold `needle` (`held`, when no
    profile's services can) in `params`."""
    params["search_account_profiles"] = id_list(
        held["account"], session.get_bind().dialect.name == "sqlite")
    params.update(prefix_bounds(needle))
    return [ACCOUNT_PROFILES]


def _in_services(held: dict[str, list[int]], params: dict[str, Any]) -> list[str]:
    """[SERVICE_PROFILES] with the profiles that can hold the needle (`held`) in `params`, for
    ServicesCount."""
    params["search_held_services"] = tuple(held["service"])
    params["search_held_accounts"] = tuple(held["account"])
    return [SERVICE_PROFILES]


@cache
def _single_service(sqlite: bool) -> Any:
    """Those of the profiles `search_probed` whose live rows have one service, which holds the
    needle (`search_like_0`): the two ends of each one's service index, equal and matching
    (connmodel.search.column_ends)."""
    low, high = column_ends("service", "probed.id", sqlite)
    source = ("(SELECT value AS id FROM json_each(:search_probed))" if sqlite
              else "unnest(CAST(:search_probed AS integer[]))")
    return text(f"SELECT id FROM (SELECT probed.id, {low} AS service, {high} AS last FROM "
                f"{source} AS probed{'' if sqlite else '(id)'}) AS ends WHERE "
                f"service = last AND {walked_test('service', sqlite)}")


# The profiles of the filter's environment (its `filter_environment`), for rows and for counts.
_IN_ENVIRONMENT = select(col(Profile.id)).where(
    col(Profile.environment) == bindparam("filter_environment"))


@lru_cache(maxsize=128)
def _conditions(shape: tuple[Any, ...]) -> tuple[ColumnElement[bool], ...]:
    """The conditions of a filter shape (see ConnectionFilter.bind), values as bound parameters."""
    conds: list[ColumnElement[bool]] = [col(Connection.revoked_at).is_(None)]
    for part in shape:
        if part == "profile":
            conds.append(col(Connection.profile_id) == bindparam("filter_profile"))
        elif part == "profile_id":
            conds.append(col(Connection.profile_id) == bindparam("filter_profile_id"))
        elif part == "status":
            conds.append(col(Connection.status) == bindparam("filter_status"))
        elif part == "environment":
            conds.append(col(Connection.profile_id).in_(_IN_ENVIRONMENT))
        elif part not in _MARKS:  # those only shape the count (_listing)
            conds.append(search_clause(part))
    return tuple(conds)


def _narrowed(session: Session, terms: SearchTerms, shape: tuple[Any, ...],
              params: dict[str, Any]) -> SearchTerms:
    """A search's few hits narrowed by the listing's other filters, on the columns read with
    them (`connmodel.search.named_by_id`). Counting `id = ANY(hits)` with a status in SQL
    probed the primary key once per hit: "kim.wr" + Error at 10M, 36 ms of the listing's 77.
    The page still tests every filter on its rows."""
    hits = terms.hits or ()
    if "status" in shape:
        hits = tuple(h for h in hits if h[1] == params["filter_status"])
    for part in ("profile", "profile_id"):
        if part in shape:
            hits = tuple(h for h in hits if h[2] == params[f"filter_{part}"])
    if "environment" in shape:
        profiles = set(session.connection().execute(
            _IN_ENVIRONMENT, {"filter_environment": params["filter_environment"]}).scalars())
        hits = tuple(h for h in hits if h[2] in profiles)
    return named_by_id(terms.shape[0], hits, narrowed=True)


_PROFILE_BY_NAME = select(col(Profile.id)).where(col(Profile.name) == bindparam("name"))


def profile_id_by_name(session: Session, name: str) -> int:
    pid: int | None = session.connection().execute(
        _PROFILE_BY_NAME, {"name": name}).scalar_one_or_none()
    if pid is None:
        raise NotFound(f"no profile named {name!r}")
    return pid


def _public(conn: Connection, profile: str, environment: str) -> ConnectionPublic:
    return ConnectionPublic(
        id=conn.id or 0,
        profile=profile,
        environment=environment,
        service=conn.service,
        account=conn.account,
        status=conn.status,
        status_reason=conn.status_reason,
        hint=hint_for(conn.status, disabled_id=conn.id if conn.disabled_by else None),
        checked_at=conn.checked_at,
        expires_at=conn.expires_at,
        last_used_at=conn.last_used_at,
        created_at=conn.created_at,
    )


# The listing reads plain columns, never ORM entities: a page is built straight from rows.
# Timestamps are read by connmodel.sqltime.utc_time (SQLite's UTC text, PostgreSQL's datetime);
# _public_row makes both aware UTC datetimes.
LISTED_COLUMNS: tuple[Any, ...] = (
    Connection.id, Connection.service, Connection.account, Connection.status,
    Connection.status_reason, *(utc_time(getattr(Connection, name)).label(name) for name in (
        "checked_at", "expires_at", "last_used_at", "created_at")),
    Profile.name, Profile.environment, Connection.disabled_by)
# Where each column is in a listed row (every SORT_FIELDS column is listed).
_LISTED_AT = {column.key: i for i, column in enumerate(LISTED_COLUMNS)}


_FIELDS_SET = frozenset(ConnectionPublic.model_fields)
_new, _set, _parse = ConnectionPublic.__new__, object.__setattr__, datetime.fromisoformat
_UTC = "+00:00"  # SQLite keeps UTC text without an offset (see connmodel.sqltime)


def _public_row(row: Any) -> ConnectionPublic:
    """A listed row as a ConnectionPublic, built as model_construct builds one, 5x faster.

    Rows come from our own columns, so validating them again (2.5 us a row) would check what
    the store already holds; model_construct costs more than validation. The hint is
    hint_for's without its check (the column holds a Status).
    """
    (cid, service, account, status, reason, checked, expires, used, created, profile,
     environment, disabled_by) = row
    hint = disabled_hint(cid) if disabled_by else HINTS[status]
    item = _new(ConnectionPublic)
    _set(item, "__dict__", {
        "id": cid, "profile": profile, "environment": environment, "service": service,
        "account": account, "status": status, "status_reason": reason, "hint": hint,
        # SQLite's UTC text parsed inline (the common case: a call per value costs a tenth more)
        "checked_at": _parse(checked + _UTC) if checked.__class__ is str else as_utc(checked),
        "expires_at": _parse(expires + _UTC) if expires.__class__ is str else as_utc(expires),
        "last_used_at": _parse(used + _UTC) if used.__class__ is str else as_utc(used),
        "created_at": _parse(created + _UTC) if created.__class__ is str else as_utc(created),
    })
    _set(item, "__pydantic_fields_set__", _FIELDS_SET)
    _set(item, "__pydantic_extra__", None)
    _set(item, "__pydantic_private__", None)
    return item


# Orders a page can follow along an index of live rows whatever the filter (the primary key,
# ix_connection_live_status, _expires_status, _last_used), and those it can within one profile
# (ix_connection_live_profile_account and those of CARD_SORTS).
_WALKED = frozenset({"id", "status", "expires_at", "last_used_at"})
_WALKED_IN_PROFILE = _WALKED | {"account", *CARD_SORTS.values()}


def _search_plan(shape: tuple[Any, ...], key: SortKey) -> tuple[tuple[Any, ...], bool]:
    """For a DENSE search (SQLite): the page's filter shape, and whether the count walks the
    text index.

    A common needle is tested row by row along the page's index walk when its order has one
    (else every hit is collected and sorted, as for any needle before); its count walks the
    text index unless another filter narrows the rows first, whose own index is then walked.
    """
    if DENSE not in shape:
        return shape, False
    others = tuple(p for p in shape if p != DENSE and p not in _MARKS)
    walked = _WALKED_IN_PROFILE if {"profile", "profile_id"} & set(shape) else _WALKED
    return (shape if key.column.key in walked else (*others, ("fts",))), not others


# Filters a count can read from connection_count: one row per profile and status.
_KEPT = frozenset({"profile", "profile_id", "status", "environment"})
KEPT_ROWS = 2_000  # rows of connection_count summed at most (~0.1 ms) before counting rows


class KeptCount:
    """A listing's capped count read from `connection_count` (kept exact by triggers) instead of
    the matching rows: the capped count of the Error rows of 1M connections reads 10,001 index
    entries (1.3 ms on SQLite, half of the API's status page), their sum by profile 600 rows
    (0.03 ms). A filter spanning more than KEPT_ROWS profile-status rows is counted as before.
    """

    def __init__(self, shape: tuple[Any, ...], rows: CappedCount) -> None:
        self.limit = KEPT_ROWS
        kept = (select(col(ConnectionCount.n)).where(*_kept_conditions(shape))
                .limit(self.limit + 1).subquery())
        self.statement = select(func.coalesce(func.sum(kept.c.n), 0), func.count())
        self.rows = rows

    def run(self, session: Session, params: dict[str, Any] | None = None) -> tuple[int, bool]:
        """As CappedCount.run: (n, True) up to COUNT_CAP, else (COUNT_CAP, False)."""
        n, summed = session.connection().execute(self.statement, params or {}).one()
        if summed > self.limit:
            return self.rows.run(session, params)
        return (COUNT_CAP, False) if n > COUNT_CAP else (int(n), True)


def _kept_conditions(shape: tuple[Any, ...]) -> list[ColumnElement[bool]]:
    """The conditions on connection_count of a shape's filters that it keeps (_KEPT)."""
    conds: list[ColumnElement[bool]] = []
    for part in shape:
        if part in ("profile", "profile_id"):
            conds.append(col(ConnectionCount.profile_id) == bindparam(f"filter_{part}"))
        elif part == "status":
            conds.append(col(ConnectionCount.status) == bindparam("filter_status"))
        elif part == "environment":
            conds.append(col(ConnectionCount.profile_id).in_(_IN_ENVIRONMENT))
    return conds


class ServicesCount:
    """The capped count of a needle that profiles' services hold (SERVICE_PROFILES), from
    connection_count where it can be: a profile's service is its provider's label, so every
    live row of a profile whose one service holds the needle matches. "Google" + Error at 10M
    read each Error row to test it (213 ms on PostgreSQL, 103 ms on SQLite); here it is the
    profiles' kept counts under the other filters, largest first, and a probe of the services
    of as many as reach the cap (`_single_service`). When other profiles with rows under those
    filters may match (several services, or the needle in their accounts) and the kept counts
    of the single ones stay within the cap, the listing's own count (`rows`) counts every
    match."""

    def __init__(self, shape: tuple[Any, ...], sqlite: bool, rows: "Count") -> None:
        kept = func.sum(col(ConnectionCount.n))
        self.kept = (select(col(ConnectionCount.profile_id), kept)
                     .where(text(in_id_list("connection_count.profile_id", "search_held", sqlite)),
                            *_kept_conditions(shape))
                     .group_by(col(ConnectionCount.profile_id)).having(kept > 0)
                     .order_by(kept.desc()))
        self.probe = _single_service(sqlite)
        self.sqlite, self.rows = sqlite, rows

    def run(self, session: Session, params: dict[str, Any] | None = None) -> tuple[int, bool]:
        """As CappedCount.run: (n, True) up to COUNT_CAP, else (COUNT_CAP, False)."""
        params = params or {}
        services, accounts = params["search_held_services"], params["search_held_accounts"]
        conn = session.connection()
        held = id_list(sorted({*services, *accounts}), self.sqlite)
        kept: dict[int, int] = {}
        reached, rows = 0, conn.execute(self.kept, {**params, "search_held": held})
        for pid, n in rows:  # the largest, until their rows pass the cap
            kept[pid] = int(n)
            reached += kept[pid]
            if reached > COUNT_CAP:
                break
        every = rows.fetchone() is None  # each profile with rows under the filters is in kept
        rows.close()
        in_services = set(services)
        single = set(conn.execute(self.probe, {
            "search_probed": id_list([p for p in kept if p in in_services], self.sqlite),
            "search_like_0": params["search_like_0"]}).scalars())
        total = sum(kept[pid] for pid in single)
        if total > COUNT_CAP:
            return COUNT_CAP, False
        if every and len(single) == len(kept):
            return total, True
        return self.rows.run(session, params)


class HitCount:
    """The count of a search whose live hits are named by id (a rare needle,
    `connmodel.search.named_by_id`), alone or narrowed by the other filters (`_narrowed`):
    how many ids there are."""

    def run(self, session: Session, params: dict[str, Any] | None = None) -> tuple[int, bool]:
        """As CappedCount.run: (n, True) up to COUNT_CAP, else (COUNT_CAP, False)."""
        n = int((params or {})["search_hit_count"])
        return (COUNT_CAP, False) if n > COUNT_CAP else (n, True)


class CapReached:
    """The count of a search alone whose matches, read to choose its plan, were more than
    COUNT_CAP (PostgreSQL's ids, `connmodel.search._few_hits_by_id`; a two-character needle's
    trigrams, `connmodel.search.over_cap_by_pairs`): "at least", known without a statement.
    Counting walked the table to the cap again: "zoe.a" at 10M (~15,000 hits, estimated under
    20,000, so its ids were read first) 2.2 s on top of the 0.15 s read."""

    def run(self, session: Session, params: dict[str, Any] | None = None) -> tuple[int, bool]:
        """As CappedCount.run: here always (COUNT_CAP, False)."""
        return COUNT_CAP, False


def _over_cap_alone(shape: tuple[Any, ...]) -> bool:
    """Whether a filter is only a search past the cap (OVER_CAP)."""
    return (len(shape) == 1 and isinstance(shape[0], tuple) and shape[0][0] == "like"
            and OVER_CAP in shape[0])


def _listed_rows(shape: tuple[Any, ...]) -> Select[Any]:
    """The listed columns of the live rows matching a filter shape."""
    return (select(*LISTED_COLUMNS)
            .join(Profile, col(Profile.id) == col(Connection.profile_id))
            .where(*_conditions(shape)))


def _listed_at(key: SortKey) -> tuple[int, int]:
    """Where a listed row holds the sort value and the id (a timestamp as listed: aware)."""
    return _LISTED_AT[key.column.key], _LISTED_AT["id"]


@cache
def _accounts_walked(sqlite: bool, status: bool, starting: bool, folding: Fold) -> Select[Any]:
    """The live rows (of a status) whose account holds a needle, along the index holding
    profile(, status) and account, for the profiles whose accounts can hold it: index entries
    only, ~0.3 us each on both stores; `starting`: those whose account starts with the needle
    (an index seek per profile, `connmodel.search.prefix_bounds`), else the others. SQLite
    walked the status's rows reading each ("zoe." + Error at 10M: 270,000 rows, 495 ms),
    PostgreSQL the whole table ("zoe.": 176 ms) or the status's rows ("hooli.example" +
    Error: 250 ms) to the count's cap."""
    among = in_id_list("profile_id", "search_account_profiles", sqlite)
    source = probed_source("account", status, sqlite)
    return (select(literal_column("id")).select_from(text(source))
            .where(text(f"{among} AND revoked_at IS NULL"
                        f"{' AND status = :filter_status' if status else ''}"
                        f" AND {walked_test('account', sqlite, folding)}"
                        f" AND {prefix_part('account', starting)}")))


class AccountsCount:
    """The capped count of a needle along the accounts that can hold it: those starting with it
    first (`_accounts_walked`), so a needle typed as an account's start reaches the cap without
    reading what sorts before it (PostgreSQL's "zoe." at 10M: 131 -> 17 ms; + Error 102 ->
    21 ms), then, when they are fewer than the cap, the `rest`: the others along the accounts
    (`whole` False), or the listing's own count of every match (`whole` True: PostgreSQL's
    rarer needle beside a status, whose trigram bitmap ANDed with the status's beat that walk
    for a needle inside the accounts: "lopez" + Error 100 against 145 ms). Beside a status, two
    statements: as one UNION ALL, PostgreSQL ran both walks at once in parallel workers and
    waited for the second (166 ms for "zoe." + Error); alone, where the others are the whole
    walk, that parallel walk is the faster ("lopez" 124 against 134 ms as two)."""

    def __init__(self, starting: CappedCount, rest: CappedCount, whole: bool) -> None:
        self.starting, self.rest, self.whole = starting, rest, whole

    def run(self, session: Session, params: dict[str, Any] | None = None) -> tuple[int, bool]:
        """As CappedCount.run: (n, True) up to COUNT_CAP, else (COUNT_CAP, False)."""
        n, exact = self.starting.run(session, params)
        if not exact:
            return n, exact
        m, exact = self.rest.run(session, params)
        total = m if self.whole else n + m
        return (COUNT_CAP, False) if not exact or total > COUNT_CAP else (total, True)

    def hits(self, session: Session, params: dict[str, Any]) -> tuple[int, str] | None:
        """How many matches, and their ids joined by commas, read by the same walks as `run`,
        when they are at most COUNT_CAP (else None: past the cap)."""
        starting = self.starting.listed(session, params)
        if starting is None:
            return None
        rest = self.rest.listed(session, params)
        if rest is None:
            return None
        if self.whole:
            return rest
        n = starting[0] + rest[0]
        return None if n > COUNT_CAP else (n, ",".join(ids for _, ids in (starting, rest) if ids))


Count = CappedCount | KeptCount | HitCount | CapReached | AccountsCount | ServicesCount


@lru_cache(maxsize=256)
def _listing(shape: tuple[Any, ...], key: SortKey, sqlite: bool) -> tuple[KeysetQuery, Count]:
    """The page and count statements of one filter shape and sort order on a store, built
    once."""
    page_shape, count_by_text_index = _search_plan(shape, key)
    if SERVICE_PROFILES in shape:  # the page and fallback count of the search without it
        page, rows = _listing(tuple(p for p in shape if p != SERVICE_PROFILES), key, sqlite)
        return page, ServicesCount(shape, sqlite, rows)
    page = KeysetQuery(_listed_rows(page_shape), key, at=_listed_at(key))
    if any(isinstance(part, tuple) and part[-1] in (HITS, NARROWED) for part in shape):
        return page, HitCount()
    if _over_cap_alone(shape):
        return page, CapReached()
    if count_by_text_index:
        counted = through_text_index([col(Connection.revoked_at).is_(None)])
    elif len(shape) == 1 and isinstance(shape[0], tuple) and shape[0][0] == "like":  # alone
        (part,) = counted_shape(shape)
        counted = select(col(Connection.id)).where(LiveRowsInTableOrder(), search_clause(part))
    else:
        counted = select(col(Connection.id)).where(*_conditions(counted_shape(shape)))
    count = CappedCount(counted)
    if ACCOUNT_PROFILES in shape:
        status = "status" in shape
        folding = fold(shape)
        starting, others = (_accounts_walked(sqlite, status, s, folding) for s in (True, False))
        if not status:  # one statement: PostgreSQL walks the others in parallel workers
            return page, CappedCount(starting.union_all(others).subquery().select())
        common = any(COMMON in part for part in shape if isinstance(part, tuple))
        whole = not sqlite and not common and folding is not Fold.NONE  # NONE: no letters
        return page, AccountsCount(CappedCount(starting), count if whole else CappedCount(others),
                                   whole=whole)
    return page, KeptCount(shape, count) if _KEPT >= set(shape) else count


COLLECTED_MAX = 2_000  # PostgreSQL: see _collected


def _collects(session: Session, shape: tuple[Any, ...]) -> bool:
    """Whether a listing counts first to choose its page's plan: PostgreSQL, an ILIKE search
    (a needle too common to name by id) and another filter."""
    filters = [p for p in shape if p not in _MARKS]  # those only shape the count
    return (len(filters) > 1 and any(isinstance(p, tuple) and p[0] == "like" for p in filters)
            and session.get_bind().dialect.name == "postgresql")


@lru_cache(maxsize=64)
def _collected(shape: tuple[Any, ...], key: SortKey) -> KeysetQuery:
    """The page of a listing whose count found at most COLLECTED_MAX matches, read whole and
    sorted (KeysetQuery's `collect`).

    PostgreSQL estimates a needle and another filter as independent and walks the sort's index
    for a page, expecting matches every few hundred rows. They are not independent: no
    account of an API-key profile holds a first name, so "zoe." in the largest profile of 10M
    walked the whole primary key (4 s) for nothing, and "zoe.a" + Error (997 hits) read 0.5 s
    of it for a page. Their count has already found them (a bitmap of the trigram index and
    the other filter's, or for a COMMON needle that filter's rows); read that way again and
    sorted, a few thousand rows cost less than a walk finding a page among 10M rows at that
    density (the two cross at ~2,800 matches at 10M).
    """
    return KeysetQuery(_listed_rows(counted_shape(shape)), key, at=_listed_at(key), collect=True)


def _among_hits(bound: BoundFilter, ids: str) -> BoundFilter:
    """PostgreSQL: a listing whose count walked its matches' index entries (AccountsCount) and
    found at most COUNT_CAP, as one whose page is read among their ids (`ids`, joined by
    commas). The page walked the sort's index reading each row ("06" + Error at 10M: ~9,000
    Error rows read for 51 of its 3,191 matches, 137 ms, after the count's 80 ms; the listing
    245-261 -> 114-118 ms). SQLite reads a row by its index entry at about the cost of an id
    from a list ("06" + Error 91 ms both ways; "06" + Inactive 128 -> 145 ms by id): not there.
    """
    kept = tuple(p for p in bound.shape if p in _KEPT)
    return BoundFilter((*kept, ("ids", NARROWED)), {**bound.params, "search_ids": f"{{{ids}}}"})


def list_connections(
    session: Session,
    *,
    actor: Actor,
    where: ConnectionFilter = ConnectionFilter(),
    sort: str = "id",
    cursor: str | None = None,
    limit: int = 50,
    count: bool = True,
) -> Page[ConnectionPublic]:
    """One page of live connections, keyset-paged; `total` is exact up to 10,000."""
    require(actor, Action.READ)
    key = sort_key(sort)
    bound = where.bind(session, counted=count)
    sqlite = session.get_bind().dialect.name == "sqlite"
    pages, counter = _listing(bound.shape, key, sqlite)
    counted = None
    if count and not sqlite and isinstance(counter, AccountsCount):
        hits = counter.hits(session, bound.params)
        if hits is None:
            counted = (COUNT_CAP, False)
        else:
            counted, bound = (hits[0], True), _among_hits(bound, hits[1])
            pages, _ = _listing(bound.shape, key, sqlite)
    elif count and _collects(session, bound.shape):
        counted = counter.run(session, bound.params)
        if counted[1] and counted[0] <= COLLECTED_MAX:
            pages = _collected(bound.shape, key)
    rows, next_cursor = pages.page(session, cursor=cursor, limit=limit, params=bound.params,
                                   empty=counted == (0, True))
    if counted is None:
        counted = counter.run(session, bound.params) if count else (len(rows), True)
    return Page([_public_row(r) for r in rows], next_cursor, *counted)


def count_connections(session: Session, *, actor: Actor,
                      where: ConnectionFilter = ConnectionFilter()) -> tuple[int, bool]:
    """How many live connections match (exact up to 10,000): a listing's `total` alone."""
    require(actor, Action.READ)
    bound = where.bind(session)
    sqlite = session.get_bind().dialect.name == "sqlite"
    return _listing(bound.shape, sort_key("id"), sqlite)[1].run(session, bound.params)


def _live_connection(session: Session, connection_id: int) -> Connection:
    conn = session.get(Connection, connection_id)
    if conn is None:
        raise NotFound(f"no connection with id {connection_id}")
    if conn.revoked_at is not None:
        raise AlreadyRevoked(
            f"connection {connection_id} was already revoked by {conn.revoked_by} at "
            f"{conn.revoked_at:%Y-%m-%d %H:%M:%S} UTC"
        )
    return conn


def servers_of_profile(session: Session, profile_id: int) -> list[ServerPublic]:
    rows = session.execute(
        select(McpServer, col(Profile.name))
        .join(Profile, col(Profile.id) == col(McpServer.profile_id))
        .where(col(McpServer.profile_id) == profile_id)
        .order_by(col(McpServer.name))
    ).all()
    return [
        ServerPublic(name=s.name, url=s.url, transport=s.transport, profile=p, state=s.state,
                     reason=s.reason)
        for s, p in rows
    ]


def masked_config(provider: ProviderConfig, conn: Connection) -> dict[str, str]:
    """The configuration a person may see: settings as they are, every secret masked."""
    config = {k: ", ".join(v) if isinstance(v, list) else str(v)
              for k, v in sorted(provider.settings.items())}
    if provider.client_secret_enc:
        config["client_secret"] = mask(None)
    if conn.credential_enc:
        config["credential"] = mask(conn.credential_hint)
    return config


def get_connection(session: Session, *, actor: Actor, connection_id: int) -> ConnectionDetail:
    """Everything View shows about one live connection; secrets only as masks."""
    require(actor, Action.READ)
    conn = _live_connection(session, connection_id)
    profile = session.get(Profile, conn.profile_id)
    assert profile is not None
    provider = session.get(ProviderConfig, profile.provider_config_id)
    assert provider is not None
    public = _public(conn, profile.name, profile.environment)
    return ConnectionDetail(
        **public.model_dump(),
        provider=provider.name,
        provider_kind=provider.kind,
        description=profile.description,
        config=masked_config(provider, conn),
        mcp_servers=servers_of_profile(session, profile.id or 0),
        disabled=bool(conn.disabled_by),
    )


# Revoke's statements, built once (values are bound per call, so SQLAlchemy's compiled cache
# serves every revoke after the first). The claim comes first and
# returns what the rest needs: the audit text (the profile's name through a subquery) and the
# credential, which a second UPDATE wipes only where there is one (`_Claim` and the hint).
_CLAIMED = (col(Connection.id), col(Connection.profile_id), col(Connection.account),
            col(Connection.service),
            select(col(Profile.name))
            .where(col(Profile.id) == col(Connection.profile_id)).scalar_subquery(),
            col(Connection.credential_enc), col(Connection.credential_hint),
            col(Connection.disabled_by))
_CLAIM = (
    update(Connection)
    .where(col(Connection.id) == bindparam("revoke_id"), col(Connection.revoked_at).is_(None))
    .values(revoked_at=bindparam("revoke_at"), revoked_by=bindparam("revoke_by"))
    .returning(*_CLAIMED)
)
_WIPE = (
    update(Connection)
    .where(col(Connection.id) == bindparam("revoke_id"))
    .values(credential_enc=None, credential_hint=None)
)
_DISCONNECT = (
    update(McpServer)
    .where(col(McpServer.profile_id) == bindparam("revoke_profile"),
           or_(col(McpServer.state) == ServerState.CONNECTED.value,
               col(McpServer.reason) == bindparam("revoke_disabled")))
    .values(state=ServerState.DISCONNECTED.value, updated_at=bindparam("revoke_at"),
            reason=bindparam("revoke_reason"))
    .returning(col(McpServer.id), col(McpServer.name))
)


def revoke_connection(session: Session, *, actor: Actor, connection_id: int) -> RevokeResult:
    """Revoke, wipe the credential, disconnect the profile's servers, audit: one transaction.

    Raises AlreadyRevoked when another caller got there first (nothing is written then) and
    NotFound for an unknown id. Objects of this session that the updates change are brought
    up to date, as an ORM update would.
    """
    require(actor, Action.WRITE, session)
    now = utcnow()
    claimed = _claim(session, actor, connection_id, now)
    if claimed is None:
        session.rollback()
        _live_connection(session, connection_id)  # raises NotFound or AlreadyRevoked
        raise AlreadyRevoked(f"connection {connection_id} was already revoked")
    result, event = _revoked(session, actor, claimed, _disconnect(session, actor, claimed, now))
    record(session, actor=actor, action=event.action, target=event.target, outcome=event.outcome)
    session.commit()
    return result


@dataclass(frozen=True)
class _Claim:
    """A connection this transaction has just marked revoked, with what the rest needs."""

    id: int
    profile_id: int
    account: str
    service: str
    profile: str
    credential_enc: str | None
    disabled_by: str | None  # disabled: its disable disconnected the profile's servers

    @classmethod
    def of(cls, row: Any) -> "_Claim":
        """From a row of _CLAIMED (its credential hint is only for the wipe)."""
        return cls(row[0], row[1], row[2], row[3], row[4], row[5], row[7])


def _claim(session: Session, actor: Actor, connection_id: int, now: datetime) -> _Claim | None:
    """The conditional UPDATE that makes a revocation idempotent, and the credential's wipe.

    None when the connection is not live (unknown, or revoked first by someone else).
    """
    conn = session.connection()
    claimed = conn.execute(_CLAIM, {"revoke_id": connection_id, "revoke_at": now,
                                    "revoke_by": actor.name}).first()
    if claimed is None:
        return None
    if claimed[5] is not None or claimed[6] is not None:  # a credential or its hint
        conn.execute(_WIPE, {"revoke_id": connection_id})
    _set_loaded(session, Connection, [connection_id], revoked_at=now, revoked_by=actor.name,
                credential_enc=None, credential_hint=None)
    return _Claim.of(claimed)


def _disconnect(session: Session, actor: Actor, claim: _Claim, now: datetime) -> list[str]:
    """Disconnect the connected servers of the claim's profile, and give the ones its disable
    disconnected the revoke's reason (Enable can no longer reconnect them); their names, sorted."""
    reason = (f"connection {claim.id} of profile {claim.profile} revoked by {actor.name}; "
              "reconfigure to reconnect")
    disabled = (disabled_server_reason(claim.id, claim.disabled_by)
                if claim.disabled_by else None)
    servers = session.connection().execute(_DISCONNECT, {
        "revoke_profile": claim.profile_id, "revoke_at": now, "revoke_reason": reason,
        "revoke_disabled": disabled}).all()
    _set_loaded(session, McpServer, [server_id for server_id, _ in servers],
                state=ServerState.DISCONNECTED.value, updated_at=now, reason=reason)
    return sorted(name for _, name in servers)


def _revoked(session: Session, actor: Actor, claim: _Claim, disconnected: list[str]
             ) -> tuple[RevokeResult, Event]:
    """Queue the provider-side revocation of one claimed connection; its result and event."""
    queued = revocations.enqueue(session, connection_id=claim.id, profile_id=claim.profile_id,
                                 credential_enc=claim.credential_enc, actor=actor)
    event = Event("revoke",
                  f"connection {claim.id} ({claim.profile} / {claim.service} / {claim.account})",
                  "ok; disconnected: " + (", ".join(disconnected) or "none")
                  + ("; provider revocation queued" if queued else ""))
    return RevokeResult(id=claim.id, profile=claim.profile, account=claim.account,
                        service=claim.service, disconnected_servers=disconnected), event


def _set_loaded(session: Session, entity: type[SQLModel], ids: list[int | None],
                **values: Any) -> None:
    """Give objects of `entity` already loaded in this session the values an UPDATE just wrote."""
    if not session.identity_map:
        return
    for row_id in ids:
        loaded = session.identity_map.get(session.identity_key(entity, row_id))
        if loaded is not None:
            for name, value in values.items():
                set_committed_value(loaded, name, value)


def create_connection(
    session: Session,
    *,
    actor: Actor,
    profile_id: int,
    account: str,
    credential: str | None = None,
    keyring: Any = None,
    status: str = "Active",
    status_reason: str | None = None,
    expires_at: Any = None,
) -> Connection:
    """Record a connection of a profile (the provider flows of `connect` end here).

    The service label is the profile's provider config name ("the auth provider type used").
    """
    require(actor, Action.WRITE, session)
    profile = session.get(Profile, profile_id)
    if profile is None:
        raise NotFound(f"no profile with id {profile_id}")
    provider = session.get(ProviderConfig, profile.provider_config_id)
    assert provider is not None
    if credential and keyring is None:
        raise InvalidInput("a credential needs the secret key to be stored")
    from connmodel.services.keys import sealing_ring  # cryptography: not for listings

    conn = Connection(
        profile_id=profile_id,
        service=provider.name,
        account=clean_account(account) or "Configured",
        status=parse_status(status).value,
        status_reason=clean_text(status_reason, "status reason") or None,
        checked_at=utcnow(),
        credential_enc=sealing_ring(session, keyring).encrypt(credential) if credential else None,
        credential_hint=hint_of(credential) if credential else None,
        expires_at=expires_at,
    )
    session.add(conn)
    session.flush()
    record(session, actor=actor, action="connection.create",
           target=f"connection {conn.id} ({profile.name} / {provider.name} / {conn.account})")
    return conn


@dataclass(frozen=True)
class BulkRevokeResult:
    """What a batch of revocations did: the ones done, and the ids someone else revoked first."""

    revoked: list[RevokeResult]
    already_revoked: list[int]


BULK_REVOKE_LOCK = 0x636F6E6E  # PostgreSQL advisory lock key a batch's transaction holds


def revoke_many(session: Session, *, actor: Actor, connection_ids: list[int]) -> BulkRevokeResult:
    """Revoke a batch in one transaction, each connection as Revoke does, each audited.

    One commit per batch, not per connection: on PostgreSQL each commit waits for the disk
    (15,000 revocations one by one took minutes on a busy machine). A connection revoked
    meanwhile by someone else is reported, not an error; an unknown id is NotFound and the
    batch changes nothing. Every connection is claimed before any server is disconnected, so a
    single Revoke (claim, then disconnect) never waits on a batch while holding what the batch
    wants; on PostgreSQL batches take turns (an advisory lock), as two batches claiming
    connections of the same profiles would lock their `connection_count` rows in opposite
    orders. Callers split large selections into batches to show progress.
    """
    require(actor, Action.WRITE, session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(BULK_REVOKE_LOCK)))
    now = utcnow()
    wanted = sorted(set(connection_ids))
    claims = _claim_many(session, actor, wanted, now)
    claimed_ids = {c.id for c in claims}
    missing = set(wanted) - claimed_ids
    if missing:
        known = set(session.execute(select(col(Connection.id)).where(
            col(Connection.id).in_(missing))).scalars())
        if missing - known:
            session.rollback()
            raise NotFound(f"no connection with id {min(missing - known)}")
    already = sorted(missing)
    servers: dict[int, list[str]] = {}  # by connection: the first of each profile disconnects
    profiles: set[int] = set()
    for claim in sorted(claims, key=lambda c: (c.profile_id, c.id)):
        first = claim.profile_id not in profiles
        servers[claim.id] = (_disconnect(session, actor, claim, now)
                             if first or claim.disabled_by else [])
        profiles.add(claim.profile_id)
    done = [_revoked(session, actor, claim, servers[claim.id]) for claim in claims]
    record_many(session, actor=actor, events=[event for _, event in done])
    session.commit()
    return BulkRevokeResult([result for result, _ in done], already)


def revoke_preview(session: Session, *, actor: Actor, connection_ids: list[int]
                   ) -> tuple[list[int], list[int]]:
    """What `revoke_many` would do with these ids now, doing nothing: (the live ones, those
    already revoked), each in id order; NotFound for an unknown id, as revoke_many says it."""
    require(actor, Action.READ)
    wanted = sorted(set(connection_ids))
    revoked = dict(session.execute(select(col(Connection.id), col(Connection.revoked_at))
                                   .where(col(Connection.id).in_(wanted))).tuples().all())
    missing = set(wanted) - set(revoked)
    if missing:
        raise NotFound(f"no connection with id {min(missing)}")
    return ([i for i in wanted if revoked[i] is None],
            [i for i in wanted if revoked[i] is not None])


def _claim_many(session: Session, actor: Actor, ids: list[int], now: datetime) -> list[_Claim]:
    """`_claim` for a batch: two statements, not two per connection; claims in id order."""
    if not ids:
        return []
    conn = session.connection()
    rows = conn.execute(
        update(Connection)
        .where(col(Connection.id).in_(ids), col(Connection.revoked_at).is_(None))
        .values(revoked_at=now, revoked_by=actor.name)
        .returning(*_CLAIMED)).all()
    wipe = [row[0] for row in rows if row[5] is not None or row[6] is not None]
    if wipe:
        conn.execute(update(Connection).where(col(Connection.id).in_(wipe))
                     .values(credential_enc=None, credential_hint=None))
    _set_loaded(session, Connection, [row[0] for row in rows], revoked_at=now,
                revoked_by=actor.name, credential_enc=None, credential_hint=None)
    return sorted((_Claim.of(row) for row in rows), key=lambda c: c.id)
