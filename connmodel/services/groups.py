"""Profiles as the Connections page groups them: one card per profile, counts of what matches.

The page lists profiles (paged by name) with counts by status of the connections that match the
page's filter. While a connection-level filter (status or free text) is set, a profile with no
matching connection is left out; otherwise every profile is listed, empty ones included. Without
a free-text search the counts are read from `connection_count` (kept by triggers), not counted
from the connection rows; a search counts the rows it matched. A cheap
change token lets a page notice work done elsewhere without re-reading what it shows.
`cards_screen` reads all of one screen (token, profiles with counts, first rows of each card) in
one session, running a text search once for all its statements.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlmodel import Session, col

from connmodel.models import (
    AuditEvent,
    CheckResult,
    Connection,
    ConnectionCount,
    ConnectionPublic,
    McpServer,
    Profile,
    ProfilePublic,
    ProviderConfig,
    ServerPublic,
)
from connmodel.paging import (
    COUNT_CAP,
    Page,
    SortKey,
    Start,
    capped_count,
    encode_cursor,
    keyset_page,
    limit_ok,
    with_values,
)
from connmodel.permissions import Action, Actor, require
from connmodel.search import (
    DENSE,
    SEARCH_MAX,
    Fold,
    column_ends,
    columns_ruled_out,
    dense_terms,
    fold,
    id_list,
    json_values,
    like_pattern,
    lowered_like,
    matches_by_profile,
    prefix_bounds,
    prefix_part,
    probed_source,
    text_terms,
    walked_test,
)
from connmodel.services.connections import (
    LISTED_COLUMNS,
    ConnectionFilter,
    _conditions,
    _public_row,
    count_connections,
    sort_key,
)
from connmodel.status import (
    DISABLED_SERVER_REASON,
    ServerState,
    Status,
    parse_environment,
    parse_status,
)
from connmodel.terms import holding_profiles

# Profile names are compared and listed ignoring case: "google" may not join "Google" (the
# unique index on lower(name), migration 0021), and "beta" sorts between "Alpha" and "Gamma".
PROFILE_NAME_KEY = func.lower(col(Profile.name), type_=String)


def profile_order() -> SortKey:
    """The order of profile listings and cards: by name ignoring case (unique, as indexed)."""
    return SortKey(PROFILE_NAME_KEY, Profile.id, may_be_null=False)  # type: ignore[arg-type]


# A text search with more hits is tested row by row (see _matching). Below it, reading the hits
# wins: at 10M rows "grace.lopez" (6,911 hits, a few per profile) cost 6.2 s walked and 64 ms by
# its hits on PostgreSQL; above it, the 20,001 hits read first cost 20-60 ms of every search.
SEARCH_IDS_MAX = 20_000
# A card's counts under a common search stop after this many matches (shown as "at least"):
# ten cards of 10,001 read 100,000 rows or more, a fifth of a second at 10M.
CARD_COUNT_CAP = 1_000


@dataclass(frozen=True)
class GroupFilter:
    """The Connections page's filters; empty fields do not filter."""

    status: str | None = None
    environment: str | None = None
    profile: str | None = None
    search: str | None = None

    @property
    def narrows_connections(self) -> bool:
        """Whether a connection-level filter is set (then profiles without matches are hidden)."""
        return bool(self.status or (self.search and self.search.strip()))

    def connection_filter(self, profile_id: int | None = None) -> ConnectionFilter:
        """The per-card listing filter (environment and profile are already the card's)."""
        return ConnectionFilter(profile_id=profile_id, status=self.status or None,
                                search=(self.search or "").strip() or None)

    def profile_conditions(self) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if self.environment:
            conds.append(col(Profile.environment) == parse_environment(self.environment).value)
        name = (self.profile or "").strip()
        if name:
            if len(name) > SEARCH_MAX:
                from connmodel.errors import InvalidInput

                raise InvalidInput(f"profile filter is {len(name)} characters: at most {SEARCH_MAX}")
            conds.append(col(Profile.name).ilike(like_pattern(name), escape="\\"))
        return conds


def matching_conditions(session: Session, where: GroupFilter) -> list[ColumnElement[bool]]:
    """Conditions on Connection selecting the live connections the whole filter matches."""
    conds = where.connection_filter().conditions(session)
    profile_conds = where.profile_conditions()
    if profile_conds:
        conds.append(col(Connection.profile_id).in_(select(col(Profile.id)).where(*profile_conds)))
    return conds


@dataclass(frozen=True)
class Hits:
    """A rare text search's matches by profile: how many of each status, and their ids as the
    store joined them (text, parsed only for the cards a screen shows)."""

    counts: dict[int, dict[str, int]]
    joined_ids: dict[int, list[str]]

    @classmethod
    def of(cls, groups: list[Any]) -> "Hits":
        """From matches_by_profile's rows (profile id, status, how many, ids)."""
        counts: dict[int, dict[str, int]] = {}
        joined: dict[int, list[str]] = {}
        for pid, status, n, ids in groups:
            counts.setdefault(pid, {s.value: 0 for s in Status})[status] = n
            joined.setdefault(pid, []).append(ids)
        return cls(counts, joined)

    def ids(self, profile_ids: list[int]) -> list[int]:
        return [int(i) for pid in profile_ids for text_ in self.joined_ids.get(pid, ())
                for i in text_.split(",")]


@dataclass(frozen=True)
class Matching:
    """The connection-level part of the page's filter (status, text), resolved once per screen.

    `shape` and `params` are a filter as `connmodel.services.connections` builds statements
    from it (cached per shape); `hits` holds a rare needle's matches, else None.
    """

    shape: tuple[Any, ...]
    params: dict[str, Any]
    hits: Hits | None = None
    # A common needle: by column, the profiles whose terms hold every run of its letters
    # (connmodel.terms); None when it has no run to test.
    candidates: dict[str, list[int]] | None = None

    @property
    def dense(self) -> bool:
        """A common needle: tested row by row along each profile's own index walk."""
        return any(isinstance(part, tuple) for part in self.shape)

    @property
    def walked(self) -> bool:
        """A common needle tested by `walked_test` (DENSE: ASCII), not by its text index."""
        return any(isinstance(part, tuple) and part[:1] == DENSE for part in self.shape)

    @property
    def fold(self) -> Fold:
        """PostgreSQL: how the walked needle's test lowers each value (see search.Fold)."""
        return fold(self.shape)

    def conditions(self) -> list[ColumnElement[bool]]:
        return [with_values(c, self.params) for c in _conditions(self.shape)]


def _matching(session: Session, where: GroupFilter) -> Matching:
    """`where`'s status and text as a Matching; the text search runs here, once.

    A search condition that every statement of a screen carries would run three or four times,
    so a rare needle's rows (at most SEARCH_IDS_MAX) are fetched once, with their profile and
    status: the profiles and their counts come from them, and the cards' rows are read by id
    (`_hit_ids`: a statement carrying hundreds of ids costs ~4 ms, so only the screen's). A
    common needle would cost what its number of matches costs through the text index (seconds
    at ten million rows), so it is tested row by row instead (`dense_terms`): each profile's
    probe, count and first rows stop within a few rows of its index walk when the needle is
    common in it. Telling the two apart reads at most SEARCH_IDS_MAX + 1 matches
    (`matches_by_profile`).
    """
    status = ConnectionFilter(status=where.status or None).bind(session)
    needle = (where.search or "").strip()
    terms = text_terms(session, needle)
    if terms is None:
        return Matching(status.shape, status.params)
    conds = [with_values(c, status.params) for c in _conditions(status.shape)]
    groups = matches_by_profile(session, terms, needle, conds, SEARCH_IDS_MAX)
    if groups is None:
        dense = dense_terms(terms, needle)
        return Matching((*status.shape, dense.shape),
                        {**status.params, **dense.params, **prefix_bounds(needle)},
                        candidates=holding_profiles(session, needle))
    return Matching(status.shape, status.params, Hits.of(groups))


def _hit_ids(session: Session, hits: Hits, profile_ids: list[int]) -> ColumnElement[bool]:
    """`id IN` the hits of these profiles."""
    return _among(session, col(Connection.id), hits.ids(profile_ids))


def _among(session: Session, column: Any, ids: list[int]) -> ColumnElement[bool]:
    """`column IN ids`, the ids as one parameter instead of one per id: a statement with
    hundreds of placeholders is rendered anew by SQLAlchemy (and on PostgreSQL parsed anew by
    psycopg) on every call (~2 ms of a search screen's CPU). PostgreSQL: `= ANY(array)`;
    SQLite: `IN` the values of a JSON array (`json_each`)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, ids, type_=ARRAY(Integer)))  # type: ignore[no-any-return]
    return column.in_(  # type: ignore[no-any-return]
        json_values(bindparam(None, json.dumps(ids), type_=String)))


def list_profile_groups(
    session: Session,
    *,
    actor: Actor,
    where: GroupFilter = GroupFilter(),
    cursor: str | None = None,
    limit: int = 10,
) -> Page[ProfilePublic]:
    """One page of profile cards by name (ignoring case), each with counts by status of its matching connections.

    `total` counts the profiles listed (capped like every count).
    """
    require(actor, Action.READ)
    return _profile_groups(session, where, _matching(session, where), cursor, limit)[0]


def _profile_groups(session: Session, where: GroupFilter, matching: Matching,
                    cursor: str | None, limit: int) -> tuple[Page[ProfilePublic], frozenset[int]]:
    """The page of profiles, and those whose every match of a common needle starts with it
    (see `_dense_counts`); `total` is exact unless capped, or for a common needle, whose
    profiles are only probed up to the page's end (then "one more than shown, at least")."""
    by_profile = bool(where.profile_conditions())
    hits = matching.hits
    conds = (_with_matches(session, where, matching) if where.narrows_connections
             else where.profile_conditions())
    stmt = (  # columns only: the page runs on the connection, no ORM objects are built
        select(PROFILE_NAME_KEY, col(Profile.id), col(Profile.name), col(Profile.description),
               col(Profile.environment), col(ProviderConfig.name), col(ProviderConfig.kind))
        .join(ProviderConfig, col(ProviderConfig.id) == col(Profile.provider_config_id))
        .where(*conds)
    )
    rows, next_cursor = keyset_page(session, stmt, key=profile_order(), cursor=cursor,
                                    limit=limit)
    if hits is not None and not by_profile:  # the hits' profiles, all there (foreign key)
        total, exact = ((len(hits.counts), True) if len(hits.counts) <= COUNT_CAP
                        else (COUNT_CAP, False))
    elif matching.dense:
        total, exact = len(rows) + (next_cursor is not None), next_cursor is None and not cursor
    else:
        total, exact = capped_count(session, select(col(Profile.id)).where(*conds))
    ids = [r[1] for r in rows]
    counts: dict[int, dict[str, int]] = {pid: {s.value: 0 for s in Status} for pid in ids}
    capped: set[int] = set()
    ranged: frozenset[int] = frozenset()
    if hits is not None:
        counts = {pid: dict(hits.counts[pid]) for pid in ids}
    elif ids and matching.dense:
        counts, capped, ranged = _dense_counts(session, matching, ids)
    elif ids:  # without a text search the triggers' counts are the answer (see ConnectionCount)
        kept: list[ColumnElement[bool]] = [col(ConnectionCount.profile_id).in_(ids)]
        if where.status:
            kept.append(col(ConnectionCount.status) == parse_status(where.status).value)
        for pid, status, n in session.connection().execute(
            select(col(ConnectionCount.profile_id), col(ConnectionCount.status),
                   col(ConnectionCount.n))
            .where(*kept)
        ).all():
            counts[pid][status] = n
    items = [
        ProfilePublic(id=pid, name=name, description=description, environment=environment,
                      provider=prov, provider_kind=kind, counts=counts[pid],
                      counts_exact=pid not in capped)
        for _, pid, name, description, environment, prov, kind in rows
    ]
    return Page(items, next_cursor, total, exact), ranged


def _with_matches(session: Session, where: GroupFilter, matching: Matching
                  ) -> list[ColumnElement[bool]]:
    """Conditions on Profile: those `where` names holding a live connection that `matching`
    matches. A rare needle's profiles are its hits'; a common needle probes each profile along
    its own index (`_dense_probe`: stops at its first match); otherwise the triggers' counts
    answer (`connection_count`). None of them visits every match."""
    conds = where.profile_conditions()
    if matching.hits is not None:
        conds.append(_among(session, col(Profile.id), sorted(matching.hits.counts)))
    elif matching.dense:
        conds.append(_dense_probe(session, matching))
    else:
        counted = [col(ConnectionCount.profile_id) == col(Profile.id), col(ConnectionCount.n) > 0]
        if where.status:
            counted.append(col(ConnectionCount.status) == parse_status(where.status).value)
        conds.append(exists().where(*counted))
    return conds


def _rows_where(column: str, status: bool, sqlite: bool, prefixed: bool | None = None,
               folding: Fold = Fold.FULL) -> str:
    """FROM and WHERE of a profile's live rows (`profile_ref`) whose `column` holds a common
    needle, along the index that holds that column (index-only on PostgreSQL; SQLite is told
    the index with INDEXED BY); `prefixed` True: only those whose column starts with the
    lowered needle (an index range, see `prefix_bounds`), False: only the others."""
    source = probed_source(column, status, sqlite)
    bounds = "" if prefixed is None else f" AND {prefix_part(column, prefixed)}"
    return (f"FROM {source} WHERE profile_id = {{profile_ref}} AND revoked_at IS NULL"
            f"{' AND status = :filter_status' if status else ''}{bounds}"
            f" AND {walked_test(column, sqlite, folding)}")


def _dense_params(matching: Matching) -> dict[str, Any]:
    return {k: v for k, v in matching.params.items()
            if k in ("filter_status", "search_like_0", "search_prefix", "search_prefix_end")}


def _dense_probe(session: Session, matching: Matching) -> ColumnElement[bool]:
    """Whether `profile` has a live row (of the filter's status) that a common needle matches.

    Per column, only for the profiles whose terms hold the needle's runs
    (`holding_profiles`), one probe along the index that holds the column: first the range of
    values that start with the needle (`prefix_bounds`), then the whole index, unless the
    column holds one value in that profile (its first and last entries, two seeks where the
    index has the column next, so not for the services beside a status: a
    profile's service is its provider's label, an API-key profile's accounts all read
    "Configured"), which is then the one tested. A candidate with several values and no match
    is read whole (its index range): what a page of cards costs beyond its own rows is those
    candidates by name, before the page is full. A needle without letters has no terms to
    prune by: "@" at 10M probed 100 profiles whose accounts and services hold none by walking
    both indexes (313 ms); their single values answer in four seeks.

    `OFFSET 0` keeps PostgreSQL from turning a probe into a hashed subplan: for a needle
    without letters ("@", no terms to prune by) it estimated a match in the services as rare
    and scanned the whole table once for them (2.7 s at 10M) instead of probing each profile.
    """
    if not matching.walked:  # a non-ASCII common needle on SQLite: its FTS5 condition
        return exists().where(col(Connection.profile_id) == col(Profile.id),
                              *matching.conditions())
    sqlite = session.get_bind().dialect.name == "sqlite"
    status = "status" in matching.shape
    arms, params = [], _dense_params(matching)
    offset = "" if sqlite else " OFFSET 0"
    for column in ("account", "service"):
        ranged, walk = (f"EXISTS (SELECT 1 "
                        f"{_rows_where(column, status, sqlite, prefixed, matching.fold)}"
                        f"{offset})".format(profile_ref="profile.id")
                        for prefixed in (True, None))
        probe = f"{ranged} OR {walk}"
        if column == "account" or not status:  # its index: (profile[, status], column, ..)
            low, high = column_ends(column, "profile.id", sqlite, status)
            probe = (f"{ranged} OR CASE WHEN {low} = {high} THEN "
                     f"{walked_test(low, sqlite, matching.fold)} "
                     f"ELSE {walk} END")
        if matching.candidates is not None:
            ids = matching.candidates[column]
            if not ids:
                continue
            params[f"{column}_ids"] = json.dumps(ids) if sqlite else ids
            # `+ 0` on SQLite: else it reads the candidates by id, probes every one and sorts
            # them by name (382 ms for "zoe." at 10M), instead of walking profiles by name
            # until the page is full, as PostgreSQL does.
            among = (f"profile.id + 0 IN (SELECT value FROM json_each(:{column}_ids))" if sqlite
                     else f"profile.id = ANY(:{column}_ids)")
            probe = f"({among} AND ({probe}))"
        arms.append(f"({probe})")
    if not arms:  # no profile's terms hold the needle's runs
        return false()
    condition = text(f"({' OR '.join(arms)})")
    if not sqlite:
        condition = condition.bindparams(*(bindparam(f"{c}_ids", type_=ARRAY(Integer))
                                           for c in ("account", "service") if f"{c}_ids" in params))
    return condition.bindparams(**params)  # type: ignore[return-value]


def _dense_counts(session: Session, matching: Matching, ids: list[int]
                  ) -> tuple[dict[int, dict[str, int]], set[int], frozenset[int]]:
    """Counts by status of each card's rows that a common needle matches, the cards whose
    count stopped early (at CARD_COUNT_CAP + 1 matches: "at least"), and the cards whose
    every match starts with the needle (`ranged`).

    When the profile's terms rule one column out (a needle in the accounts only, or in the
    services only), the other is read from the index that holds it alone, the values that
    start with the needle first (`prefix_bounds`), then the others; else each row is read and
    both columns tested, until the cap. A card whose others were all read and held no match
    is `ranged`: its first rows are then an index range too (`_ranges_statement`), not a walk
    of its whole index to the needle's range ("zoe." sorts after every other first name).
    (A non-ASCII common needle on SQLite keeps its FTS5 condition, counted the same way.)
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    params = {f"card_{i}": pid for i, pid in enumerate(ids)}
    if matching.walked:
        stmt = _dense_counts_statement(_card_columns(session, matching, ids),
                                       "status" in matching.shape, sqlite, CARD_COUNT_CAP,
                                       matching.fold)
        params.update(_dense_params(matching))
    else:
        stmt = _counts_statement(len(ids), matching.shape, CARD_COUNT_CAP)
        params.update(matching.params)
    counts = {pid: {s.value: 0 for s in Status} for pid in ids}
    others = dict.fromkeys(ids, 0)  # matches outside the prefix range (or not told apart)
    for card, status, in_range, n in session.connection().execute(stmt, params).all():
        counts[ids[card]][status] += n
        others[ids[card]] += 0 if in_range else n
    capped = {pid for pid in ids if sum(counts[pid].values()) > CARD_COUNT_CAP}
    return counts, capped, frozenset(pid for pid in ids if pid not in capped and not others[pid])


@lru_cache(maxsize=64)
def _dense_counts_statement(columns: tuple[tuple[bool, bool], ...], status: bool, sqlite: bool,
                            cap: int, folding: Fold = Fold.FULL) -> Any:
    """Rows (card position, status, in the prefix range (1) or not, count) for
    `_dense_counts`, built once per shape: `columns` tells per card whether its accounts, its
    services may match (their terms)."""
    parts = []
    for i, (in_account, in_service) in enumerate(columns):
        if in_account and in_service:  # both may match: one walk testing both, from the table
            rows = (f"FROM (SELECT status, 0 AS in_range FROM connection WHERE profile_id = "
                    f":card_{i} AND revoked_at IS NULL"
                    f"{' AND status = :filter_status' if status else ''} AND "
                    f"({walked_test('account', sqlite, folding)} OR "
                    f"{walked_test('service', sqlite, folding)})"
                    f") AS b{i}")
        else:  # one column, from its index alone: the needle's prefix range first
            column = "account" if in_account else "service"
            ranged, rest = (_rows_where(column, status, sqlite, prefixed, folding)
                            .format(profile_ref=f":card_{i}") for prefixed in (True, False))
            rows = (f"FROM (SELECT status, 1 AS in_range FROM (SELECT status {ranged} LIMIT "
                    f"{cap + 1}) AS p{i} UNION ALL SELECT status, 0 FROM (SELECT status {rest} "
                    f"LIMIT {cap + 1}) AS r{i}) AS b{i}")
        parts.append(f"SELECT {i} AS card, status, in_range FROM "
                     f"(SELECT status, in_range {rows} LIMIT {cap + 1}) AS c{i}")
    return text(f"SELECT card, status, in_range, count(*) FROM ({' UNION ALL '.join(parts)}) "
                "AS counted GROUP BY card, status, in_range")


@lru_cache(maxsize=64)
def _counts_statement(cards: int, shape: tuple[Any, ...], cap: int) -> Select[Any]:
    """Rows (card position, status, count) of each card's (`card_0`..) rows matching `shape`,
    at most cap + 1 of them each."""
    conds = _conditions(shape)
    parts = [select(literal_column(str(i)).label("card"), sub.c.status).select_from(sub)
             for i in range(cards)
             for sub in [select(col(Connection.status))
                         .where(col(Connection.profile_id) == bindparam(f"card_{i}"), *conds)
                         .limit(cap + 1).subquery()]]
    both = union_all(*parts).subquery()
    return (select(both.c.card, both.c.status, func.count())
            .group_by(both.c.card, both.c.status))


def count_matching(session: Session, *, actor: Actor, where: GroupFilter) -> tuple[int, bool]:
    """How many live connections the page's filter matches (capped), for bulk confirmations.

    Without a profile name the listing's count answers (`count_connections`, which counts a
    common needle without visiting every match: "grace" at 1M 35 ms, not 0.4 s)."""
    require(actor, Action.READ)
    if not (where.profile or "").strip():
        return count_connections(session, actor=actor, where=ConnectionFilter(
            status=where.status or None, environment=where.environment or None,
            search=(where.search or "").strip() or None))
    conds = matching_conditions(session, where)
    return capped_count(session, select(col(Connection.id)).where(*conds))


def servers_affected(
    session: Session, *, actor: Actor, connection_ids: list[int] | None = None,
    where: GroupFilter | None = None, limit: int = 100,
) -> list[ServerPublic]:
    """The MCP servers a revocation of these connections (or this filter) disconnects: the
    connected ones of their profiles, and those a disabled one's disable disconnected (the
    revoke gives them its reason: Enable can no longer reconnect them)."""
    require(actor, Action.READ)
    if connection_ids is not None:
        conds: list[Any] = [col(Connection.id).in_(connection_ids),
                            col(Connection.revoked_at).is_(None)]
        their = select(col(Connection.profile_id)).where(*conds)
        profiles: list[ColumnElement[bool]] = [col(McpServer.profile_id).in_(their)]
    else:  # each server's profile probed: `IN` every match's profile read them all (0.9 s for
        # a common needle at 1M)
        where = where or GroupFilter()
        conds = list(matching_conditions(session, where))
        profiles = _with_matches(session, where, _matching(session, where))
    before, middle, after = DISABLED_SERVER_REASON
    disabled_here = and_(  # read only for the (rare) servers a disable disconnected
        col(McpServer.reason).like(f"{before}%{middle}%{after}"),
        select(col(Connection.id)).where(
            *conds, col(Connection.profile_id) == col(McpServer.profile_id),
            col(Connection.disabled_by).is_not(None),
            col(McpServer.reason) == literal(before) + cast(col(Connection.id), String)
            + literal(middle) + col(Connection.disabled_by) + literal(after)).exists())
    rows = session.execute(
        select(McpServer, col(Profile.name))
        .join(Profile, col(Profile.id) == col(McpServer.profile_id))
        .where(*profiles,
               or_(col(McpServer.state) == ServerState.CONNECTED.value, disabled_here))
        .order_by(col(McpServer.name))
        .limit(limit)
    ).all()
    return [ServerPublic(name=s.name, url=s.url, transport=s.transport, profile=p, state=s.state,
                         reason=s.reason) for s, p in rows]


def change_token(session: Session, *, actor: Actor) -> tuple[int, int, int, int]:
    """Changes anywhere in the store move this token: four primary-key lookups, no scans.

    Every change writes an audit event; status checks write check results; the profile and
    connection maxima catch rows added by bulk tools that write no event.
    """
    require(actor, Action.READ)
    row = session.execute(select(
        select(func.max(col(AuditEvent.id))).scalar_subquery(),
        select(func.max(col(CheckResult.id))).scalar_subquery(),
        select(func.max(col(Connection.id))).scalar_subquery(),
        select(func.max(col(Profile.id))).scalar_subquery(),
    )).one()
    return tuple(int(v or 0) for v in row)  # type: ignore[return-value]


def first_pages(
    session: Session,
    *,
    actor: Actor,
    where: GroupFilter,
    profile_ids: list[int],
    sort: str = "account",
    limit: int = 10,
) -> dict[int, Page[ConnectionPublic]]:
    """The first page of matching connections of each profile, in one statement.

    A UNION ALL of one keyset page per profile: each part is an index range, and a screen of
    cards costs one round trip instead of one per card. The cursors continue with
    `list_connections(where=ConnectionFilter(profile_id=..), sort=sort)`.
    """
    require(actor, Action.READ)
    limit_ok(limit)
    if not profile_ids:
        return {}
    return _first_pages(session, _matching(session, where), profile_ids, sort, limit, {})


def _first_pages(session: Session, matching: Matching, profile_ids: list[int], sort: str,
                 limit: int, longer: Mapping[int, int], ranged: frozenset[int] = frozenset(),
                 ) -> dict[int, Page[ConnectionPublic]]:
    """The first pages of these cards; `ranged`: cards whose every match of a common needle
    starts with it (`_dense_counts`), read from the needle's prefix range alone."""
    key = sort_key(sort)
    limits = [max(limit, longer.get(pid, limit)) for pid in profile_ids]  # each card's rows
    if matching.hits is not None:
        # A rare needle's few rows: numbered per profile instead of one index range each,
        # then the cards' rows read whole (numbering whole rows sorted every hit's columns:
        # "grace" at 1M, 3,500 hits in ten cards, 16 -> 11 ms). `profile_id + 0` keeps SQLite
        # from walking every row of the listed profiles to test each against the hits.
        conds = [*matching.conditions(), _hit_ids(session, matching.hits, profile_ids),
                 (col(Connection.profile_id) + 0).in_(profile_ids)]
        rank = func.row_number().over(partition_by=col(Connection.profile_id),
                                      order_by=key.order_by()).label("rank")
        ranked = select(col(Connection.id), rank).where(*conds).subquery()
        shown = select(ranked.c.id).where(ranked.c.rank <= max(limits) + 1)
        stmt = _in_card_order(key, [_listed(key).where(col(Connection.id).in_(shown))])
        params: dict[str, Any] = {}
    else:
        # PostgreSQL estimates a plain ILIKE from the column's statistics (migration 0007) and
        # then walks each card's index in order, stopping at its page; DENSE's `|| ''` has no
        # statistics, so it read and sorted each card's every row (30-100 ms a card at 10M).
        sqlite = session.get_bind().dialect.name == "sqlite"
        shape = (matching.shape if sqlite else
                 tuple(("like", 1, *part[1:]) if part[:1] == DENSE else part
                       for part in matching.shape))
        stmt = _ranges_statement(tuple(limits), sort, shape,
                                 _card_columns(session, matching, profile_ids)
                                 if matching.dense else None,
                                 sqlite, tuple(pid in ranged for pid in profile_ids))
        params = {**matching.params, **{f"card_{i}": pid for i, pid in enumerate(profile_ids)}}
    rows: dict[int, list[Any]] = {pid: [] for pid in profile_ids}
    for row in session.connection().execute(stmt, params).all():
        rows[row[-1]].append(row)
    pages = {}
    for pid, n in zip(profile_ids, limits, strict=True):
        found = rows[pid]
        cursor = encode_cursor(key, found[n - 1][0], found[n - 1][1]) if len(found) > n else None
        items = [_public_row(r[2:-1]) for r in found[:n]]  # (sort value, id, ..., card)
        pages[pid] = Page(items, cursor, len(items), cursor is None)
    return pages


def _listed(key: SortKey) -> Select[*tuple[Any, ...]]:
    columns = (key.column.label("sort_value"), col(Connection.id).label("sort_id"),
               *LISTED_COLUMNS, col(Connection.profile_id).label("card"))
    return select(*columns).join(Profile, col(Profile.id) == col(Connection.profile_id))


def _in_card_order(key: SortKey, parts: list[Select[*tuple[Any, ...]]]
                   ) -> CompoundSelect[*tuple[Any, ...]]:
    value: ColumnElement[Any] = literal_column("sort_value")
    row_id: ColumnElement[Any] = literal_column("sort_id")
    order = [value.desc(), row_id.desc()] if key.descending else [value.asc(), row_id.asc()]
    if key.nullable:
        order[0] = order[0].nulls_last()
    return union_all(*parts).order_by(literal_column("card"), *order)


def _card_columns(session: Session, matching: Matching, ids: list[int]
                  ) -> tuple[tuple[bool, bool], ...]:
    """Per card, whether a common needle may match its accounts, its services: their terms
    (for a needle with letters), and whether the column holds one value in the card that does
    not match it (`column_ends`: a card's service is its provider's label). A card ruled out
    of one column is read from the index of the other alone: "06" at 10M read every row of
    each card from the table to test both (PostgreSQL: counts 579 ms, first rows 389 ms); so
    did "a7", whose letter "a" the services' terms hold (SQLite: 345 ms)."""
    held = matching.candidates
    by_terms = (tuple((pid in held["account"], pid in held["service"]) for pid in ids)
                if held is not None else ((True, True),) * len(ids))
    if not matching.walked or not ids:  # SQLite's non-ASCII needle: its FTS5 condition
        return by_terms
    sqlite = session.get_bind().dialect.name == "sqlite"
    ruled_out = {pid: (accounts, services) for pid, accounts, services in
                 session.connection().execute(
                     columns_ruled_out(sqlite, matching.fold, every=False),
                     {"search_like_0": matching.params["search_like_0"],
                      "search_probed": id_list(ids, sqlite)})}
    return tuple((account and not ruled_out[pid][0], service and not ruled_out[pid][1])
                 for pid, (account, service) in zip(ids, by_terms, strict=True))


def _one_column_test(column: str, sqlite: bool, folding: Fold = Fold.FULL
                     ) -> ColumnElement[bool]:
    """`walked_test` as a SQLAlchemy condition, which an index holding the column evaluates: on
    SQLite LIKE (not `lower(x) LIKE lower(y)`, twice the cost: 55 against 25 ms along a
    335,000-row card)."""
    tested = col(getattr(Connection, column))
    pattern = bindparam("search_like_0", type_=String)
    if sqlite or folding is Fold.NONE:
        return tested.like(pattern, escape="\\")
    if folding is Fold.ASCII:
        return func.lower(tested.collate("C")).like(func.lower(pattern), escape="\\")
    return lowered_like(tested, pattern)


@lru_cache(maxsize=64)
def _ranges_statement(limits: tuple[int, ...], sort: str, shape: tuple[Any, ...],
                      columns: tuple[tuple[bool, bool], ...] | None = None, sqlite: bool = False,
                      ranged: tuple[bool, ...] = (),
                      ) -> CompoundSelect[*tuple[Any, ...]]:
    """One keyset range per card (`card_0`.. as bound profile ids; two for a nullable sort
    column, see SortKey.parts) of `limits[i]` rows and one more, under the filter `shape`,
    built once per shape and limits (a card that shows more rows reads more; the others not).

    `columns` (a common needle: `_card_columns`) narrows each card's test to the column its
    terms allow; when that is the column the card is sorted by, the card's ids are found by
    walking the index that holds it alone, then their rows are read: testing every row read
    each from the table (PostgreSQL, "zoe." by account at 10M: 86 ms for a 15,000-row card
    without a match, 4 ms from the index alone; the screen's first rows 292 -> 45 ms, SQLite's
    219 -> 17 ms). A `ranged` card (every match starts with the needle) reads that column's
    prefix range alone.

    Building the ten-part UNION anew cost more CPU than running it (~3 ms a screen).
    """
    key = sort_key(sort)
    joined = _listed(key)
    folding = fold(shape)
    parts = []
    for i, limit in enumerate(limits):
        card = col(Connection.profile_id) == bindparam(f"card_{i}")
        conds = _conditions(shape)
        single = _single_column(columns[i]) if columns else None
        if single is not None:
            conds = (*_conditions(tuple(p for p in shape if isinstance(p, str))),
                     _one_column_test(single, sqlite, folding),
                     *(_prefix_range(single) if ranged and ranged[i] else ()))
            if single == key.column.key:  # NOT NULL, and its index is (profile_id, it, id)
                walked = (select(col(Connection.id)).where(card, *conds)
                          .order_by(*key.part_order()).limit(limit + 1))
                conds = (col(Connection.id).in_(walked),)
        parts += [select(joined.where(card, *conds, *([] if part is None else [part]))
                         .order_by(*key.part_order()).limit(limit + 1).subquery())
                  for part in key.parts(Start.FIRST)]
    return _in_card_order(key, parts)


def _prefix_range(column: str) -> tuple[ColumnElement[bool], ...]:
    """`prefix_part(column, True)` as SQLAlchemy conditions: an index range of the column."""
    tested = col(getattr(Connection, column))
    return (tested >= bindparam("search_prefix", type_=String),
            tested < bindparam("search_prefix_end", type_=String))


def _single_column(allowed: tuple[bool, bool]) -> str | None:
    """The one column (account, service) a card's terms allow a needle in; None: both."""
    in_account, in_service = allowed
    return None if in_account == in_service else ("account" if in_account else "service")


@dataclass(frozen=True)
class CardsScreen:
    """One screen of the Connections page, read in one session."""

    profiles: Page[ProfilePublic]
    rows: dict[int, Page[ConnectionPublic]]  # by profile id; absent for profiles without rows
    token: tuple[int, int, int, int]


def cards_screen(
    session: Session,
    *,
    actor: Actor,
    where: GroupFilter = GroupFilter(),
    cursor: str | None = None,
    limit: int = 10,
    rows: int = 10,
    sort: str = "account",
    longer: Mapping[int, int] | None = None,
) -> CardsScreen:
    """A page of profile cards, the first `rows` connections of each, and the change token.

    `longer` gives the cards that show more rows now ({profile id: rows}, "Load more"): a
    re-read keeps each as long as it is, and the others at `rows`. One session instead of
    three (on PostgreSQL each is a checkout, a ping and a transaction), and the text search
    runs once for all statements. The token is read first: a change committed while the
    screen is read moves the token past it, so the next poll re-reads.
    """
    require(actor, Action.READ)
    longer = longer or {}
    limit_ok(max([rows, *longer.values()]))
    token = change_token(session, actor=actor)
    matching = _matching(session, where)
    profiles, ranged = _profile_groups(session, where, matching, cursor, limit)
    ids = [p.id for p in profiles.items if sum(p.counts.values())]
    pages = _first_pages(session, matching, ids, sort, rows, longer, ranged) if ids else {}
    return CardsScreen(profiles, pages, token)
