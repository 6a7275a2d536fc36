"""Keyset paging, filters and capped counts over a few thousand rows, on both stores.

The rows are inserted in bulk with awkward values on purpose: many ties (so pages break inside a
run of equal values), NULLs in every nullable sort column, mixed case, '%' and '_' in accounts,
and revoked rows that must never appear. Each listing is checked against the same question
answered by plain Python over the rows.
"""

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import String, cast, event, func, insert, literal, select, text, update

from connmodel import search
from connmodel.errors import ConnModelError, InvalidInput, NotFound
from connmodel.models import Connection, Profile
from connmodel.paging import COUNT_CAP, MAX_LIMIT, capped_count
from connmodel.permissions import Actor, Role
from connmodel.search import search_condition
from connmodel.services import connections
from connmodel.services.connections import (
    SORT_FIELDS,
    ConnectionFilter,
    count_connections,
    list_connections,
)
from connmodel.services.generate import generate
from connmodel.services.profiles import create_profile, create_provider_config, list_profiles
from connmodel.services.servers import list_servers
from connmodel.store import get_engine, session

LIVE_ROWS = 2_400
REVOKED_ROWS = 250
BASE = datetime(2026, 6, 1, tzinfo=UTC)
PROFILES = (("Google", "production", "Google OAuth2 Provider"),
            ("Google Dev", "dev", "Google OAuth2 Provider"),
            ("Hubspot", "production", "API Key Authentication Provider"),
            ("Hubspot Sandbox", "staging", "API Key Authentication Provider"),
            ("Noauth", "dev", "No Authentication Provider"))
ACCOUNTS = ("ana.smith@example.com", "Ana.Smith@Example.COM", "ben_jones@acme.example",
            "50%off@deals.example", "svc_bot@ci.example", "Configured", "zoe@hooli.example",
            "o_o@weird.example", "chloe.garcia@globex.example", "Émile.Zola@Example.com",
            "éloïse@café.example")
FIELD_OF = {"id": "id", "account": "account", "service": "service", "status": "status",
            "created": "created_at", "expires": "expires_at", "last_used": "last_used_at",
            "checked": "checked_at"}


@dataclass(frozen=True)
class Dataset:
    url: str
    rows: list[dict[str, Any]]  # live rows, with their profile's name and environment
    profile_names: dict[int, str]
    environments: dict[int, str]


def _maybe_time(rng: random.Random, none_share: float) -> datetime | None:
    if rng.random() < none_share:
        return None
    return BASE + timedelta(hours=rng.randrange(300))  # few distinct values: many ties


def _build(url: str, admin) -> Dataset:
    rng = random.Random(20261125)
    with session(url) as s:
        providers = {}
        for name, kind in (("Google OAuth2 Provider", "oauth2"),
                           ("API Key Authentication Provider", "api_key"),
                           ("No Authentication Provider", "none")):
            providers[name] = create_provider_config(s, actor=admin, name=name, kind=kind).id
        profiles = {}
        for name, env, provider in PROFILES:
            profiles[name] = (create_profile(s, actor=admin, name=name, environment=env,
                                             provider_config_id=providers[provider]).id, provider)
        rows = []
        revoked = set(rng.sample(range(LIVE_ROWS + REVOKED_ROWS), REVOKED_ROWS))
        for i in range(LIVE_ROWS + REVOKED_ROWS):
            name = rng.choice(list(profiles))
            status = rng.choices(("Active", "Inactive", "Error"), (80, 13, 7))[0]
            rows.append({
                "id": i + 1,
                "profile_id": profiles[name][0],
                "service": profiles[name][1],
                "account": rng.choice(ACCOUNTS),
                "status": status,
                "status_reason": None if status == "Active" else "token expired",
                "checked_at": _maybe_time(rng, 0.1),
                "expires_at": _maybe_time(rng, 0.4),
                "last_used_at": _maybe_time(rng, 0.2),
                "created_at": BASE - timedelta(days=rng.randrange(40)),
                "revoked_at": BASE if i in revoked else None,
            })
        s.execute(insert(Connection), rows)
        s.commit()
    names = {pid: name for name, (pid, _) in profiles.items()}
    envs = {profiles[name][0]: env for name, env, _ in PROFILES}
    return Dataset(url, [r for r in rows if r["revoked_at"] is None], names, envs)


@pytest.fixture(scope="module")
def dataset(module_store_url) -> Dataset:
    """Built once per store: every test here only reads."""
    return _build(module_store_url, Actor("alice", Role.ADMIN))


def _walk(url: str, admin, sort: str = "id", where: ConnectionFilter | None = None,
          limit: int = 250, count: bool = False) -> list[int]:
    """Every id of a listing, page by page, following next_cursor to the end."""
    where = where or ConnectionFilter()
    ids: list[int] = []
    cursor = None
    with session(url) as s:
        while True:
            page = list_connections(s, actor=admin, where=where, sort=sort, cursor=cursor,
                                    limit=limit, count=count)
            ids += [c.id for c in page.items]
            if page.next_cursor is None:
                return ids
            cursor = page.next_cursor


def _expected_order(rows: list[dict[str, Any]], sort: str) -> list[int]:
    """NULLs last in both directions; the id breaks ties in the sort's direction."""
    descending = sort.startswith("-")
    field = FIELD_OF[sort.lstrip("-")]
    valued = sorted((r for r in rows if r[field] is not None),
                    key=lambda r: (r[field], r["id"]), reverse=descending)
    nulls = sorted((r for r in rows if r[field] is None), key=lambda r: r["id"],
                   reverse=descending)
    return [r["id"] for r in valued + nulls]


@pytest.mark.parametrize("sort", [f"{d}{f}" for f in SORT_FIELDS for d in ("", "-")])
def test_walking_every_page_returns_every_live_row_once_in_order(dataset, admin, sort):
    ids = _walk(dataset.url, admin, sort)
    assert len(ids) == len(set(ids)) == LIVE_ROWS
    assert ids == _expected_order(dataset.rows, sort)


def _matches(ds: Dataset, row: dict[str, Any], where: ConnectionFilter) -> bool:
    needle = (where.search or "").strip().lower()
    return all((
        where.profile is None or ds.profile_names[row["profile_id"]] == where.profile,
        where.status is None or row["status"].lower() == where.status.lower(),
        where.environment is None or ds.environments[row["profile_id"]] == where.environment,
        needle in row["account"].lower() or needle in row["service"].lower(),
    ))


FILTERS = [
    ConnectionFilter(profile="Google"),
    ConnectionFilter(profile="Hubspot Sandbox", status="Error"),
    ConnectionFilter(status="inactive"),
    ConnectionFilter(environment="production"),
    ConnectionFilter(environment="dev", status="Active"),
    ConnectionFilter(search="smith"),           # FTS5 / pg_trgm
    ConnectionFilter(search="SMITH@example"),   # case-insensitive
    ConnectionFilter(search="zoe@hooli.example.com"),  # each trigram is in a row; the whole in none
    ConnectionFilter(search="50%"),             # '%' is a character, not a wildcard
    ConnectionFilter(search="0"),               # PostgreSQL: no case, LIKE alone
    ConnectionFilter(status="Error", search="0%"),
    ConnectionFilter(search="@"),
    ConnectionFilter(search="ot_"),
    ConnectionFilter(search="oauth2 prov"),     # matches the service
    ConnectionFilter(search="xyzzy"),
    ConnectionFilter(search="_b"),              # short needles: ILIKE, '_' escaped
    ConnectionFilter(search="%o"),
    ConnectionFilter(search="e"),
    ConnectionFilter(search="  co  "),
    ConnectionFilter(search="ém"),              # SQLite's LIKE folds ASCII only
    ConnectionFilter(search="ÉM"),
    ConnectionFilter(search="É"),
    ConnectionFilter(search="ÉLOÏSE"),          # FTS5 / pg_trgm fold non-ASCII too
    ConnectionFilter(profile="Google", status="Active", search="example.com"),
    ConnectionFilter(status="Error", search="smith"),  # PostgreSQL: few hits narrowed by
    ConnectionFilter(environment="production", search="smith"),  # the other filters
    ConnectionFilter(profile="Google", search="smith"),
]


@pytest.mark.parametrize("where", FILTERS, ids=repr)
def test_filters_match_a_plain_python_filter(dataset, admin, where):
    expected = [r["id"] for r in sorted(dataset.rows, key=lambda r: r["id"])
                if _matches(dataset, r, where)]
    assert _walk(dataset.url, admin, "id", where, limit=MAX_LIMIT) == expected
    with session(dataset.url) as s:
        page = list_connections(s, actor=admin, where=where, limit=5)
    assert (page.total, page.total_exact) == (len(expected), True)
    assert all(c.profile == where.profile for c in page.items if where.profile)


@pytest.mark.parametrize("sort", ["id", "-account", "last_used", "-checked", "status"])
def test_a_common_needle_gives_the_same_answer_as_a_rare_one(dataset, admin, monkeypatch, sort):
    """SQLite tests a needle with many hits row by row along the page's index walk and counts
    it through the text index (connmodel.search._sqlite_plan): made 'common' here from six hits
    on, every search must still give the plain answer, in order, with its exact count."""
    monkeypatch.setattr("connmodel.search.DENSE_AFTER", 5)
    for where in FILTERS:
        if len((where.search or "").strip()) < 3:
            continue
        rows = [r for r in dataset.rows if _matches(dataset, r, where)]
        assert _walk(dataset.url, admin, sort, where, limit=40) == _expected_order(rows, sort)
        with session(dataset.url) as s:
            page = list_connections(s, actor=admin, where=where, sort=sort, limit=5)
        assert (page.total, page.total_exact) == (len(rows), True), where


def _every_filter_gives_the_plain_answer(dataset, admin) -> None:
    """Each of FILTERS walked by id and counted: the rows and the total a plain Python filter
    of the dataset gives."""
    for where in FILTERS:
        rows = [r["id"] for r in sorted(dataset.rows, key=lambda r: r["id"])
                if _matches(dataset, r, where)]
        assert _walk(dataset.url, admin, "id", where, limit=40) == rows, where
        with session(dataset.url) as s:
            page = list_connections(s, actor=admin, where=where, limit=5)
        assert (page.total, page.total_exact) == (len(rows), True), where


def test_a_needle_walked_and_counted_row_by_row_gives_the_plain_answer(dataset, admin,
                                                                       monkeypatch):
    """PostgreSQL names a needle's hits by id up to FEW_HITS; above, its page walks an index
    testing ILIKE and its count tests each row with `lower(x) LIKE lower(y)` (counted_shape):
    made to walk every needle here, the pages and counts are the plain answer, wildcards in
    the needle included."""
    monkeypatch.setattr("connmodel.search.FEW_HITS", 0)
    _every_filter_gives_the_plain_answer(dataset, admin)


@pytest.mark.parametrize("common", [False, True], ids=["ilike", "common"])
@pytest.mark.parametrize("sort", ["id", "-account", "last_used", "-expires"])
def test_a_walked_needle_with_another_filter_collected_gives_the_plain_answer(
        dataset, admin, monkeypatch, sort, common):
    """PostgreSQL counts a walked needle with another filter first and, when it has at most
    COLLECTED_MAX matches, reads them whole and sorts them for the page (a subquery the planner
    plans on its own): every page, followed by its cursor, is the plain answer in order,
    NULLs last in both directions; so too for a needle so common that it is counted and
    collected by its row-by-row test (COMMON)."""
    monkeypatch.setattr("connmodel.search.FEW_HITS", 0)
    if common:
        monkeypatch.setattr("connmodel.search.BITMAP_MAX", 0)
    for where in [*FILTERS, ConnectionFilter(status="Error", search="example"),
                  ConnectionFilter(environment="dev", search="smith"),
                  ConnectionFilter(profile="Google", search="xyzzy")]:
        if not (where.search and (where.profile or where.status or where.environment)):
            continue
        rows = [r for r in dataset.rows if _matches(dataset, r, where)]
        assert _walk(dataset.url, admin, sort, where, limit=7,
                     count=True) == _expected_order(rows, sort), where


def test_a_walked_needle_missing_from_a_profile_reads_no_other_profile(postgres_url, admin,
                                                                       monkeypatch):
    """PostgreSQL takes a needle and a profile as independent and walked the primary key for a
    page, expecting the profile's matches every few rows; a needle that profile never holds
    (a first name in an API-key profile) read the whole table: "zoe." in the largest profile
    of 10M, 4 s. Counted first, its page reads the matches the count found: none here."""
    monkeypatch.setattr("connmodel.search.FEW_HITS", 0)  # every needle is walked and counted
    with session(postgres_url) as s:
        provider = create_provider_config(s, actor=admin, name="P", kind="none").id
        people = create_profile(s, actor=admin, name="People", provider_config_id=provider).id
        keys = create_profile(s, actor=admin, name="Keys", provider_config_id=provider).id
        _insert_numbered(s, people, 0, 1_999)
        _insert_numbered(s, keys, 2_000, 21_999, name="key")
        s.commit()
    page, fetched = _listed_with_rows_fetched(postgres_url, admin,
                                              ConnectionFilter(profile="Keys", search="user"))
    assert (page.items, page.total, page.total_exact, page.next_cursor) == ([], 0, True, None)
    assert fetched < 8_000, f"{fetched} rows of connection fetched"
    with session(postgres_url) as s, pytest.raises(InvalidInput, match="malformed cursor"):
        list_connections(s, actor=admin, where=ConnectionFilter(profile="Keys", search="user"),
                         cursor="not-a-cursor", limit=5)  # known empty, still checked


def test_a_needle_looked_up_by_its_rarest_trigram_gives_the_plain_answer(dataset, admin,
                                                                         monkeypatch):
    """A long needle is looked up by its rarest trigrams (SQLite: ranked from the text index,
    PostgreSQL: from the column's statistics) and each candidate row confirmed
    (connmodel.search.through_rarest, _capped_hits): made to look every needle up by one
    trigram here, most candidates are not hits, and every search must still give the plain
    answer and count."""
    monkeypatch.setattr("connmodel.search.RAREST", 1)
    monkeypatch.setattr("connmodel.search.LONG", 1)
    monkeypatch.setattr("connmodel.search.RARE_SHARE", 1.0)
    if dataset.url.startswith("postgresql"):  # the statistics the trigrams are ranked by
        with session(dataset.url) as s:
            s.execute(text("ANALYZE connection"))
            s.commit()
    _every_filter_gives_the_plain_answer(dataset, admin)


def test_a_long_needle_is_found_by_trigrams_apart_not_by_its_phrase(sqlite_url, admin):
    """SQLite: a long needle's candidates are the AND of rare trigrams no two of them
    neighbours, read up to the listing's cap and confirmed by LIKE (connmodel.search._spread).
    Its three rarest here (ties, by name: ".mi", "a.m", "ill") are all in the 3,000
    "anna.miller" rows too, so the old lookup had 5,000 candidates, more than its bound of
    1,000, and asked the whole phrase (FTS5 checks every trigram's positions: "rosa.mille" at
    10M, 30 ms of its listing's 50); ".mi", "ill" and "osa" are in its 2,000 hits only."""
    with session(sqlite_url) as s:
        provider = create_provider_config(s, actor=admin, name="P", kind="none").id
        p = create_profile(s, actor=admin, name="Big", provider_config_id=provider).id
        _insert_numbered(s, p, 0, 1_999, name="rosa.mille")
        _insert_numbered(s, p, 2_000, 4_999, name="anna.miller")
        s.commit()
    asked: list[Any] = []
    listen = event.listens_for(get_engine(sqlite_url), "before_cursor_execute")
    listen(lambda conn, cursor, statement, params, context, many: asked.append(params))
    with session(sqlite_url) as s:
        page = list_connections(s, actor=admin, where=ConnectionFilter(search="Rosa.Mille"),
                                limit=3)
        errors = list_connections(
            s, actor=admin, where=ConnectionFilter(search="rosa.mille", status="Error"))
    assert (page.total, page.total_exact) == (2_000, True)
    assert [c.account for c in page.items] == [f"rosa.mille{n}@example.com" for n in range(3)]
    assert (errors.items, errors.total, errors.total_exact) == ([], 0, True)
    assert not [p for p in asked if '"Rosa.Mille"' in p or '"rosa.mille"' in p]


def test_a_long_needle_reads_the_rarer_of_two_spreads_of_its_trigrams(sqlite_url, admin,
                                                                      executed):
    """SQLite: the rarest trigrams of "grace.lopez" at 10M, no two neighbours, were "e.l",
    "lop" and "pez": all in every "...e.lopez" (20,702 rows, more than the cards read that way),
    so its phrase was read after them (57 ms). Three sharing no letter, "e.l", "pez" and
    "gra", are in its 6,911 hits alone. The AND of each is asked of the text index
    (`search._rarest_and`, ~1 ms each) and the rarer read ("grace.lopez" cards at 10M 95 ->
    56 ms); one with fewer than RANKED_BY rows is taken without asking for the other."""
    with session(sqlite_url) as s:
        p = _one_profile(s, admin)
        _insert_numbered(s, p, 0, 299, name="alice.lopez")
        _insert_numbered(s, p, 300, 319, name="grace.lopez")
        s.commit()
    order = ["e.l", "lop", "pez", ".lo", "ope", "gra", "rac", "ace", "ce."]  # as ranked at 10M
    assert search._spread("grace.lopez", order, 2) == ["e.l", "lop", "pez"]
    assert search._spread("grace.lopez", order, 3) == ["e.l", "pez", "gra"]
    with session(sqlite_url) as s, executed(sqlite_url, "SELECT count(*), min(rowid)") as seen:
        rarer = search._rarest_and(s.connection(), [["e.l", "lop", "pez"], ["e.l", "pez", "gra"]])
        assert (rarer, len(seen)) == ('"e.l" AND "pez" AND "gra"', 2)
        seen.clear()
        rare = search._rarest_and(s.connection(), [["gra", "pez", "ace"], ["e.l", "lop", "pez"]])
        assert (rare, len(seen)) == ('"gra" AND "pez" AND "ace"', 1)  # 20 rows: rare enough


@pytest.mark.parametrize("kept_rows", [connections.KEPT_ROWS, 0])
def test_totals_without_text_agree_from_the_kept_counts_and_from_the_rows(
        dataset, admin, monkeypatch, kept_rows):
    """A filter without text is counted from connection_count (KeptCount); one spanning more
    of its rows than KEPT_ROWS (0: every filter) counts the connections: the same totals."""
    monkeypatch.setattr(connections, "KEPT_ROWS", kept_rows)
    connections._listing.cache_clear()
    try:
        for where in (w for w in FILTERS if not w.search):
            expected = sum(_matches(dataset, r, where) for r in dataset.rows)
            with session(dataset.url) as s:
                page = list_connections(s, actor=admin, where=where, limit=1)
            assert (page.total, page.total_exact) == (expected, True), where
    finally:
        connections._listing.cache_clear()


ENTRIES_READ = ("(SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = 'connection') + "
                "(SELECT sum(idx_tup_read) FROM pg_stat_user_indexes WHERE relname = 'connection')")
ROWS_FETCHED = ("SELECT seq_tup_read + idx_tup_fetch FROM pg_stat_user_tables "
                "WHERE relname = 'connection'")


def _connection_entries_read(url: str, figure: str = ENTRIES_READ) -> int:
    """Rows and index entries of `connection` PostgreSQL has read in this database so far (or
    another of its statistics), once the figure stops moving (sessions report theirs when
    they go idle or end)."""
    last = None
    for _ in range(50):
        with session(url) as s:
            s.execute(text("SELECT pg_stat_clear_snapshot()"))
            now = int(s.execute(text(f"SELECT ({figure})")).scalar_one())
        if now == last:
            return now
        last = now
        time.sleep(0.2)
    raise AssertionError("PostgreSQL's statistics kept moving")


def _listed_with_rows_fetched(url: str, admin, where: ConnectionFilter):
    """A listing's first five rows and how many rows of `connection` PostgreSQL fetched for
    them, on the table as autovacuum leaves it: statistics, and the trigram index's pending
    entries merged (while they are pending the planner rightly avoids it)."""
    with get_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM (ANALYZE) connection"))
    get_engine(url).dispose()
    before = _connection_entries_read(url, ROWS_FETCHED)
    with session(url) as s:
        s.execute(text("SELECT pg_stat_force_next_flush()"))  # at this session's end
        page = list_connections(s, actor=admin, where=where, limit=5)
    return page, _connection_entries_read(url, ROWS_FETCHED) - before


def test_a_status_pages_total_reads_no_connection_beyond_the_page(postgres_url, admin):
    """The Error rows' total comes from connection_count: PostgreSQL reads what finding the page
    takes (~120 entries here), not every Error row (~1,300: the capped count read up to 10,001)."""
    with session(postgres_url) as s:
        generate(s, actor=admin, connections=20_000, profiles=20, seed=5)
    get_engine(postgres_url).dispose()  # the load's sessions end and report what they read
    before = _connection_entries_read(postgres_url)
    with session(postgres_url) as s:
        s.execute(text("SELECT pg_stat_force_next_flush()"))  # at this session's end
        page = list_connections(s, actor=admin, where=ConnectionFilter(status="Error"), limit=5)
    read = _connection_entries_read(postgres_url) - before
    assert page.total > 1_000 and page.total_exact
    assert read < page.total / 4, f"{read} entries of connection read for {page.total} Error rows"


def test_count_is_capped_and_says_at_least(dataset, admin):
    live = select(Connection.id).where(Connection.revoked_at.is_(None))
    with session(dataset.url) as s:
        assert capped_count(s, live) == (LIVE_ROWS, True)
        assert capped_count(s, live, cap=LIVE_ROWS) == (LIVE_ROWS, True)
        assert capped_count(s, live, cap=LIVE_ROWS - 1) == (LIVE_ROWS - 1, False)
        assert capped_count(s, live, cap=1_000) == (1_000, False)
        assert LIVE_ROWS < COUNT_CAP
        assert list_connections(s, actor=admin, limit=1).total == LIVE_ROWS


def _error(url: str, admin, **kwargs: Any) -> str:
    with session(url) as s, pytest.raises(InvalidInput) as info:
        list_connections(s, actor=admin, **kwargs)
    return str(info.value)


def test_bad_paging_input_is_refused_clearly(dataset, admin):
    url = dataset.url
    with session(url) as s:
        by_account = list_connections(s, actor=admin, sort="account", limit=10).next_cursor
        by_created = list_connections(s, actor=admin, sort="created", limit=10).next_cursor
    assert by_account and by_created
    for cursor in ("not a cursor", "%%%", "W10", by_account[:-3], "eyJhIjoxfQ"):
        assert _error(url, admin, sort="account", cursor=cursor).startswith(
            f"malformed cursor {cursor[:40]!r}: pass the next_cursor of a listing")
    for sort, cursor in (("-account", by_account), ("service", by_account),
                         ("expires", by_created), ("id", by_account)):
        assert "belongs to another sort order" in _error(url, admin, sort=sort, cursor=cursor)
    assert _error(url, admin, sort="colour") == (
        "unknown sort field 'colour': choose one of " + ", ".join(SORT_FIELDS))
    assert _error(url, admin, where=ConnectionFilter(status="Broken")) == (
        "unknown status 'Broken': choose one of Active, Inactive, Error")
    assert _error(url, admin, where=ConnectionFilter(environment="prod")).startswith(
        "unknown environment 'prod'")
    assert _error(url, admin, limit=0) == f"limit must be between 1 and {MAX_LIMIT}, not 0"
    assert _error(url, admin, limit=MAX_LIMIT + 1).startswith("limit must be between")
    assert _error(url, admin, where=ConnectionFilter(search="x" * 201)).startswith(
        "search text is 201 characters")
    with session(url) as s, pytest.raises(NotFound, match="no profile named 'Nope'"):
        list_connections(s, actor=admin, where=ConnectionFilter(profile="Nope"))
    for needle in ("\x00abc", "ab\x00", "a\tb", "abc\x1b[2J"):
        assert _error(url, admin, where=ConnectionFilter(search=needle)) == (
            "search text may not contain control characters")


def test_nul_in_any_text_filter_is_a_clear_error(dataset, admin):
    """PostgreSQL text cannot hold NUL: the driver's refusal must not surface as a traceback."""
    calls = (
        lambda s: list_connections(s, actor=admin, where=ConnectionFilter(profile="Goo\x00gle")),
        lambda s: list_servers(s, actor=admin, profile="Goo\x00gle"),
        lambda s: list_profiles(s, actor=admin, name_contains="Goo\x00"),
    )
    for call in calls:
        try:
            with session(dataset.url) as s:
                page = call(s)
        except ConnModelError as exc:
            assert str(exc) in (r"text may not contain NUL (\x00) characters",
                                r"no profile named 'Goo\x00gle'")
        else:
            assert page.items == []


def test_revoked_rows_are_in_the_table_but_in_no_listing(dataset, admin):
    with session(dataset.url) as s:
        revoked = s.execute(
            select(Connection.id).where(Connection.revoked_at.is_not(None))
        ).scalars().all()
        assert len(revoked) == REVOKED_ROWS
        assert s.execute(select(Profile.id)).scalars().all()
    assert not set(revoked) & set(_walk(dataset.url, admin, "-account", limit=MAX_LIMIT))


def _insert_numbered(s, profile_id: int, first: int, last: int, *, name: str = "user",
                     status: str = "Active") -> None:
    """Connections {name}{first}..{name}{last}@example.com, generated in SQL (fast on both
    stores)."""
    seq = select(literal(first).label("n")).cte("seq", recursive=True)
    seq = seq.union_all(select(seq.c.n + 1).where(seq.c.n < last))
    s.execute(insert(Connection).from_select(
        ["profile_id", "service", "account", "status", "created_at"],
        select(literal(profile_id), literal("P"),
               literal(name) + cast(seq.c.n, String) + literal("@example.com"),
               literal(status), literal(BASE, Connection.created_at.type)),
    ))


def _user_errors_listed(url: str, admin, *, errors: int, actives: int, others: int):
    """Profile "Big" with `errors` Error then `actives` Active connections userN@example.com
    and `others` Error ones otherN@example.com; the listing of "user" + Error and the rows of
    `connection` PostgreSQL fetched for it (`_listed_with_rows_fetched`)."""
    with session(url) as s:
        provider = create_provider_config(s, actor=admin, name="P", kind="none").id
        p = create_profile(s, actor=admin, name="Big", provider_config_id=provider).id
        _insert_numbered(s, p, 0, errors - 1, status="Error")
        _insert_numbered(s, p, errors, errors + actives - 1)
        _insert_numbered(s, p, errors + actives, errors + actives + others - 1, name="other",
                         status="Error")
        s.commit()
    return _listed_with_rows_fetched(url, admin, ConnectionFilter(search="user", status="error"))


def test_a_walked_needle_with_a_status_is_counted_through_its_text_index(postgres_url, admin,
                                                                          monkeypatch):
    """PostgreSQL: the count of a needle too common to name by id, with a status, goes
    through the needle's trigram index (ANDed with the status's index where that pays) and
    fetches the needle's rows only. Tested row by row (`lower(x) LIKE lower(y)`, which no
    index serves), it read every row of the status ("zoe." + Error at 10M: 0.86 s; 10,000
    rows fetched here)."""
    monkeypatch.setattr("connmodel.search.FEW_HITS", 0)  # every needle is walked and counted
    page, fetched = _user_errors_listed(postgres_url, admin, errors=20, actives=200,
                                        others=10_000)
    assert (page.total, page.total_exact) == (20, True)
    assert [c.account for c in page.items] == [f"user{n}@example.com" for n in range(5)]
    assert fetched < 2_000, f"{fetched} rows of connection fetched"


def test_a_short_needle_alone_is_counted_in_table_order_without_lower(sqlite_url, admin,
                                                                      keyring, executed):
    """SQLite: the capped count of a needle under three letters alone (no trigram serves it)
    reads each row it tests. It walked the partial index of live rows in profile order, with
    a lookup per row, and lowered each value (LIKE already folds what SQLite's lower() does):
    "12" at 10M 2.1 s, "@" 131 ms. It now scans the table in rowid order, testing LIKE
    (0.27 s, 7 ms), and counts the same. (A two-character needle is first looked up through
    the trigrams that hold it, `search.pair_hits`: here one character, which none serves.)"""
    with session(sqlite_url) as s:
        generate(s, actor=admin, connections=1500, profiles=12, seed=6, keyring=keyring)
        accounts = s.execute(select(Connection.account, Connection.service)
                             .where(Connection.revoked_at.is_(None))).all()
    mail = next(account for account, _ in accounts if "@" in account)
    needle = mail[mail.index("@") + 1].upper()  # the domain's first letter, as typed
    with executed(sqlite_url, "SELECT count(*)") as seen, session(sqlite_url) as s:
        page = list_connections(s, actor=admin, where=ConnectionFilter(search=needle), limit=5)
        statement, parameters = seen[-1]
        plan = [row[-1] for row in s.connection().exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement, parameters)]
    expected = sum(1 for account, service in accounts
                   if needle.lower() in account.lower() or needle.lower() in service.lower())
    assert expected > 0 and (page.total, page.total_exact) == (expected, True)
    assert "lower(" not in statement, statement
    assert any(step.startswith("SCAN connection") and "INDEX" not in step for step in plan), plan


def test_a_needle_without_case_is_matched_by_like_alone(postgres_url, admin, keyring, executed):
    """PostgreSQL: a needle with no cased character ("06", "@", "2024-") finds with LIKE what
    ILIKE finds, at a third of ILIKE's cost per row tested (a needle under three characters is
    tested row by row: no trigram serves it). "06" at 1M 403 -> 143 ms, "06" + Error 683 ->
    171 ms. A needle with a letter keeps ILIKE."""
    with session(postgres_url) as s:
        generate(s, actor=admin, connections=1500, profiles=12, seed=6, keyring=keyring)
        s.execute(update(Connection).where(Connection.id % 7 == 0)
                  .values(account=func.upper(Connection.account)))
        s.commit()
        rows = s.execute(select(Connection.account, Connection.service, Connection.status)
                         .where(Connection.revoked_at.is_(None))).all()
    for needle, status in (("06", None), ("1", "Error"), ("@", None), ("@E", None)):
        expected = sum(1 for account, service, state in rows if status in (None, state) and (
            needle.lower() in account.lower() or needle.lower() in service.lower()))
        with executed(postgres_url, "SELECT") as seen, session(postgres_url) as s:
            page = list_connections(s, actor=admin, limit=5,
                                    where=ConnectionFilter(search=needle, status=status))
        assert (page.total, page.total_exact) == (min(expected, COUNT_CAP), expected <= COUNT_CAP)
        searched = [statement for statement, _ in seen if "search_like_0" in statement]
        assert searched, f"{needle!r}: no statement tested the needle"
        cased = any(c.isalpha() for c in needle)
        for statement in searched:
            assert (" ILIKE " in statement or "lower(" in statement) == cased, (needle, statement)


def test_a_sparse_needle_without_letters_is_counted_along_the_accounts_that_can_hold_it(
        store_url, admin, keyring, executed, monkeypatch):
    """A needle without letters has no terms to prune profiles by; beside a status its count
    read every row of that status to find its few matches ("06" + Error at 10M: 556,000 rows,
    0.7-0.9 s). Where its first live rows say it is sparse, the profiles whose accounts and
    services can hold it are told by their values (`search.columns_ruled_out`: a service
    holding one label, accounts all "Configured"), and when no profile's services can, it is
    counted along their accounts' index (0.11-0.16 s). A dense needle, or one a service holds,
    is counted as before; the totals are the same either way."""
    monkeypatch.setattr("connmodel.search.FEW_HITS", 0)  # PostgreSQL: no needle named by id
    monkeypatch.setattr("connmodel.search.DENSE_AFTER", 0)  # SQLite: nor a pair (pair_hits)
    with session(store_url) as s:
        generate(s, actor=admin, connections=3000, profiles=12, seed=6, keyring=keyring)
        rows = s.execute(select(Connection.account, Connection.service, Connection.status)
                         .where(Connection.revoked_at.is_(None))).all()
    digits = sorted({a[i:i + 2] for a, _, _ in rows for i in range(len(a) - 1)
                     if a[i:i + 2].isdigit()},
                    key=lambda n: sum(n in a for a, _, _ in rows))
    sparse, dense = digits[len(digits) // 2], "@"
    assert 0 < sum(sparse in a for a, _, _ in rows) < 100 < sum(dense in a for a, _, _ in rows)
    for needle, status, walked in ((sparse, "Error", True), (sparse, None, store_url.startswith(
            "sqlite")), (dense, "Error", False)):
        expected = sum(1 for a, svc, st in rows if status in (None, st)
                       and (needle in a.lower() or needle in svc.lower()))
        with executed(store_url, "SELECT") as seen, session(store_url) as s:
            total = count_connections(s, actor=admin,
                                      where=ConnectionFilter(search=needle, status=status))
        assert total == (expected, True), (needle, status)
        along = [q for q, _ in seen if "account >= " in q]  # the accounts walk (prefix_part)
        assert bool(along) == walked, (needle, status, [q[:80] for q, _ in seen])
    with session(store_url) as s:  # a profile's one service now holds the sparse needle
        s.execute(update(Connection).where(Connection.profile_id == 1)
                  .values(service=f"Service {sparse}"))
        s.commit()
        rows = s.execute(select(Connection.account, Connection.service, Connection.status)
                         .where(Connection.revoked_at.is_(None))).all()
    expected = sum(1 for a, svc, st in rows if st == "Error" and (sparse in a or sparse in svc))
    with executed(store_url, "SELECT") as seen, session(store_url) as s:
        total = count_connections(s, actor=admin,
                                  where=ConnectionFilter(search=sparse, status="Error"))
    assert total == (expected, True)
    assert not [q for q, _ in seen if "account >= " in q]


@pytest.mark.parametrize("sort", ["id", "-account"])
def test_a_needle_counted_along_the_accounts_lists_its_page_among_the_ids_it_found(
        store_url, admin, keyring, executed, monkeypatch, sort):
    """The count of a needle along the accounts that can hold it (AccountsCount) walks index
    entries to find its matches; the page then walked the sort's index reading each row of the
    status for a page of them ("06" + Error at 10M on PostgreSQL: ~9,000 rows read for 51 of
    3,191 matches, 137 ms after the count's 80). Now PostgreSQL's count reads their ids, and
    the page is read among them: on both stores every page the same as filtering every row,
    in the same order."""
    monkeypatch.setattr("connmodel.search.FEW_HITS", 0)  # PostgreSQL: no needle named by id
    monkeypatch.setattr("connmodel.search.DENSE_AFTER", 0)  # SQLite: nor a pair (pair_hits)
    with session(store_url) as s:
        generate(s, actor=admin, connections=20_000, profiles=12, seed=6, keyring=keyring)
        rows = s.execute(select(Connection.id, Connection.account, Connection.service,
                                Connection.status).where(Connection.revoked_at.is_(None))).all()
    errors = [(i, a, svc) for i, a, svc, st in rows if st == "Error"]
    needle = max({a[k:k + 2] for _, a, _ in errors for k in range(len(a) - 1)
                  if a[k:k + 2].isdigit()}, key=lambda n: sum(n in a for _, a, _ in errors))
    matching = [(a, i) for i, a, svc in errors if needle in a or needle in svc]
    assert 5 < len(matching) < 100
    expected = ([i for _, i in sorted(matching, key=lambda m: m[1])] if sort == "id"
                else [i for _, i in sorted(matching, key=lambda m: (m[0], m[1]), reverse=True)])
    listed, cursor = [], None
    with executed(store_url, "SELECT") as seen, session(store_url) as s:
        while True:
            page = list_connections(s, actor=admin, limit=4, sort=sort, cursor=cursor,
                                    where=ConnectionFilter(search=needle, status="Error"))
            assert (page.total, page.total_exact) == (len(matching), True)
            listed += [c.id for c in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert listed == expected
    pages = [q for q, _ in seen if "connection.status_reason" in q]  # the listed columns
    if store_url.startswith("postgresql"):  # SQLite walks as before (see _among_hits)
        assert pages and all("search_ids" in q for q in pages), pages[0]


def test_a_rare_needle_with_a_status_is_counted_from_its_hits(postgres_url, admin):
    """PostgreSQL: a needle with few hits has them read once, with their status and profile;
    a status (or profile, or environment) beside it narrows those, and the count is how many
    are left. Counted again in SQL, every hit was fetched a second time ("kim.wr" + Error at
    10M: 36 ms of the listing's 77)."""
    page, fetched = _user_errors_listed(postgres_url, admin, errors=1_000, actives=1_000,
                                        others=8_000)
    assert (page.total, page.total_exact) == (1_000, True)
    assert [c.account for c in page.items] == [f"user{n}@example.com" for n in range(5)]
    assert fetched < 3_000, f"{fetched} rows of connection fetched for 2,000 hits"


@pytest.mark.parametrize("lowered", ["lower(account)", 'lower(account COLLATE "C")'])
def test_the_planner_knows_how_common_a_lowered_needle_is(postgres_url, admin, lowered):
    """Migration 0015's statistics of lower(account) and lower(service), and 0016's of the
    same with the C collation (ASCII_FOLD's test): PostgreSQL estimates a COMMON needle's
    row-by-row test (`lower(x) LIKE lower(y)`) from the data, not at a fraction of a percent
    of the rows, so a count with a status walks to its cap instead of reading a bitmap of
    every row of the status ("Configured" + Inactive at 10M: 180 -> 62 ms), and a count alone
    walks to its cap without parallel workers ("globex.example" at 10M: 49 -> 42 ms)."""
    with session(postgres_url) as s:
        provider = create_provider_config(s, actor=admin, name="P", kind="none").id
        p = create_profile(s, actor=admin, name="Big", provider_config_id=provider).id
        _insert_numbered(s, p, 0, 999)
        _insert_numbered(s, p, 1_000, 1_999, name="other")
        s.commit()
    with get_engine(postgres_url).connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("ANALYZE connection"))
        plan = c.execute(text(f"EXPLAIN (FORMAT JSON) SELECT id FROM connection WHERE "
                              f"{lowered} LIKE lower('%USER%')")).scalar_one()
    assert 500 <= plan[0]["Plan"]["Plan Rows"] <= 1_500  # 1,000 of 2,000 rows


def test_past_ten_thousand_the_total_says_at_least(store_url, admin):
    with session(store_url) as s:
        provider = create_provider_config(s, actor=admin, name="P", kind="none").id
        big = create_profile(s, actor=admin, name="Big", provider_config_id=provider).id
        small = create_profile(s, actor=admin, name="Small", provider_config_id=provider).id
        _insert_numbered(s, big, 0, COUNT_CAP)  # 10,001 rows
        _insert_numbered(s, small, COUNT_CAP + 1, 2 * COUNT_CAP)  # 10,000 rows
        s.commit()
        over = list_connections(s, actor=admin, where=ConnectionFilter(profile="Big"), limit=1)
        at = list_connections(s, actor=admin, where=ConnectionFilter(profile="Small"), limit=1)
        under = list_connections(s, actor=admin, where=ConnectionFilter(search="user99"), limit=1)
    assert (over.total, over.total_exact) == (COUNT_CAP, False)
    assert (at.total, at.total_exact) == (COUNT_CAP, True)
    assert (under.total, under.total_exact) == (111, True)  # user99, user990-999, user9900-9999
    assert under.items[0].account == "user99@example.com"


def test_substring_search_of_three_or_more_characters_can_use_the_search_index(dataset):
    """FTS5 on SQLite; on PostgreSQL the pg_trgm GIN indexes serve ILIKE '%x%' on both columns."""
    with session(dataset.url) as s:
        if s.get_bind().dialect.name == "sqlite":
            stmt = select(Connection.id).where(search_condition(s, "smith"))
            sql = str(stmt.compile(s.get_bind(), compile_kwargs={"literal_binds": True}))
            plan = " ".join(str(r[-1]) for r in s.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
            assert "VIRTUAL TABLE INDEX" in plan, plan
        else:
            s.execute(text("SET LOCAL enable_seqscan = off"))  # a few thousand rows: force it
            plan = " ".join(r[0] for r in s.execute(text(
                "EXPLAIN SELECT id FROM connection "
                "WHERE account ILIKE '%smith%' OR service ILIKE '%smith%'")))
            assert "ix_connection_trgm_account" in plan and "ix_connection_trgm_service" in plan


@pytest.mark.parametrize("needle, names", [
    ("oog", ["Google", "Google Dev"]),
    ("HUB", ["Hubspot", "Hubspot Sandbox"]),
    ("_", []), ("%", []), ("o_g", []), ("\\", []),  # LIKE's wildcards are plain characters
])
def test_profile_name_filter_is_a_plain_substring(dataset, admin, needle, names):
    with session(dataset.url) as s:
        page = list_profiles(s, actor=admin, name_contains=needle)
    assert [p.name for p in page.items] == names
    assert page.total == len(names)


def test_a_search_whose_ids_passed_the_cap_is_not_counted_again(postgres_url, admin):
    """PostgreSQL reads the ids of a needle estimated near the cap (at most COUNT_CAP + 1);
    when there were more, its total is "at least" at once. Counting walked the table to the cap
    again ("zoe.a" at 10M: 2.2 s after a 0.15 s read)."""
    with session(postgres_url) as s:
        provider = create_provider_config(s, actor=admin, name="P", kind="none").id
        big = create_profile(s, actor=admin, name="Big", provider_config_id=provider).id
        _insert_numbered(s, big, 0, 14_999)  # 15,000 hits for "user", estimated as many
        s.commit()
        s.execute(text("ANALYZE connection"))
        s.commit()
    get_engine(postgres_url).dispose()
    before = _connection_entries_read(postgres_url)
    with session(postgres_url) as s:
        s.execute(text("SELECT pg_stat_force_next_flush()"))  # at this session's end
        page = list_connections(s, actor=admin, where=ConnectionFilter(search="user"), limit=5)
    read = _connection_entries_read(postgres_url) - before
    assert (page.total, page.total_exact) == (COUNT_CAP, False)
    assert [c.account for c in page.items] == [f"user{n}@example.com" for n in range(5)]
    assert read < 1.5 * COUNT_CAP, f"{read} entries of connection read"


def _one_profile(s, admin) -> int:
    provider = create_provider_config(s, actor=admin, name="P", kind="none").id
    return create_profile(s, actor=admin, name="Big", provider_config_id=provider).id


def test_a_two_character_needle_past_the_cap_is_counted_through_its_trigrams(
        store_url, admin, executed):
    """No trigram serves a needle of two characters, so its capped count walked the rows until
    10,001 matched ("06" at 10M: 130-340 ms). Every row holding one of the trigrams "aq7",
    "bq7", ... holds "q7": through them the text index shows 10,001 hits, and the count is
    "at least" from that one statement ("06" at 10M: SQLite 155 -> 27 ms, PostgreSQL 466 ->
    53 ms). Here the hits come after 50,000 rows without it, which the walk read first."""
    with session(store_url) as s:
        p = _one_profile(s, admin)
        _insert_numbered(s, p, 0, 49_999)
        _insert_numbered(s, p, 50_000, 74_999, name="userq7n")  # 25,000 hits
        s.commit()
        s.execute(text("ANALYZE"))
        s.commit()
    with executed(store_url, "SELECT count(*)") as seen, session(store_url) as s:
        page = list_connections(s, actor=admin, where=ConnectionFilter(search="Q7"), limit=3)
    assert (page.total, page.total_exact) == (COUNT_CAP, False)
    assert [c.account for c in page.items] == [f"userq7n{n}@example.com"
                                               for n in range(50_000, 50_003)]
    assert len(seen) == 1, [statement for statement, _ in seen]
    assert "MATCH" in seen[0][0] or "LIKE ANY" in seen[0][0], seen[0][0]


@pytest.mark.parametrize("hits_seen, hits_unseen", [(400, 600), (COUNT_CAP, 1)])
def test_a_two_character_needle_is_counted_whole_where_its_trigrams_do_not_see_it(
        store_url, admin, hits_seen, hits_unseen):
    """A needle that starts a value follows no character, so no trigram ending with it finds
    that row: fewer than 10,001 found that way prove nothing, and the count is taken row by
    row as before. Exact below the cap, "at least" above it."""
    with session(store_url) as s:
        p = _one_profile(s, admin)
        _insert_numbered(s, p, 0, hits_seen - 1, name="aq7n")  # "aq7": seen through a trigram
        _insert_numbered(s, p, hits_seen, hits_seen + hits_unseen - 1, name="q7n")
        _insert_numbered(s, p, 20_000, 20_999)
        s.commit()
        page = list_connections(s, actor=admin, where=ConnectionFilter(search="q7"), limit=2)
    hits = hits_seen + hits_unseen
    assert (page.total, page.total_exact) == (min(hits, COUNT_CAP), hits <= COUNT_CAP)
    assert [c.account for c in page.items] == ["aq7n0@example.com", "aq7n1@example.com"]


def test_a_letter_folded_by_the_text_index_alone_is_not_counted(sqlite_url, admin):
    """SQLite: FTS5 folds the case of letters beyond ASCII, LIKE does not: "aK7" with the
    Kelvin sign holds the trigram "ak7" for FTS5 but not "k7" for the listing's own test, so
    each row the trigrams find is tested by that too. 10,001 such rows and no real hit: 0."""
    with session(sqlite_url) as s:
        p = _one_profile(s, admin)
        _insert_numbered(s, p, 0, COUNT_CAP, name="a\u212a7n")
        s.commit()
        page = list_connections(s, actor=admin, where=ConnectionFilter(search="k7"), limit=2)
    assert (page.total, page.total_exact, page.items) == (0, True, [])


def test_a_two_character_needle_is_looked_up_by_its_trigrams_for_a_count_only(
        store_url, admin, executed):
    """The trigrams' lookup (`search.over_cap_by_pairs`, 20-60 ms at 10M) settles a listing's
    count: the conditions that the bulk revoke, the audit's queries and the confirmations'
    own count compose, and a page without its total, do not pay for it."""
    with session(store_url) as s:
        p = _one_profile(s, admin)
        _insert_numbered(s, p, 0, 24_999, name="aq7n")  # PostgreSQL: too many to name by id
        s.commit()
        s.execute(text("ANALYZE"))
        s.commit()
    with executed(store_url, "SELECT count(*)") as seen, session(store_url) as s:
        ConnectionFilter(search="q7").conditions(s)
        page = list_connections(s, actor=admin, where=ConnectionFilter(search="q7"), limit=2,
                                count=False)
        assert [c.account for c in page.items] == ["aq7n0@example.com", "aq7n1@example.com"]
        assert seen == []
        counted = list_connections(s, actor=admin, where=ConnectionFilter(search="q7"), limit=2)
    assert (counted.total, counted.total_exact) == (COUNT_CAP, False)
    assert len(seen) == 1 and ("MATCH" in seen[0][0] or "LIKE ANY" in seen[0][0]), seen


PAIR_HOLDERS = (  # (account, service) of live rows holding "q7", however the trigrams see it
    ("aq7n@example.com", "P"),  # after a letter: the trigram "aq7"
    ("q7start@example.com", "P"),  # starting the value: "q7s"
    ("x.Q7@EXAMPLE.COM", "P"),  # after punctuation, in capitals: ".q7"
    ("Q7", "P"),  # a whole value of two characters: no trigram at all on SQLite
    ("\u00e9q7\u00e9@caf\u00e9.example", "P"),  # between letters beyond ASCII: none listed
    ("someone@example.com", "Service Q7"),  # in the service
)


def test_a_rare_two_character_needle_is_found_through_the_trigrams_that_hold_it(
        store_url, admin, executed):
    """No trigram is made of two characters, so a listing of "q7" read every row to find its
    few hits ("zz" at 1M: 0.4-0.7 s for none). Each hit is now found through the trigrams
    that hold the needle, or in the partial index of values no trigram list can reach
    (search.pair_hits): here every hit, exactly, and none of the 20,000 other rows read.
    (On PostgreSQL, as autovacuum leaves the table: while the trigram indexes' new entries
    are pending, the planner rightly reads the rows whole instead.)"""
    with session(store_url) as s:
        p = _one_profile(s, admin)
        _insert_numbered(s, p, 0, 19_999)
        s.add_all([Connection(profile_id=p, account=account, service=service)
                   for account, service in PAIR_HOLDERS])
        s.add(Connection(profile_id=p, account="aq7-revoked@example.com", service="P",
                         revoked_at=BASE, revoked_by="t"))
        s.commit()
    with get_engine(store_url).connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("ANALYZE" if store_url.startswith("sqlite") else "VACUUM (ANALYZE)"))
    sqlite = store_url.startswith("sqlite")
    before = 0 if sqlite else _connection_entries_read(store_url)
    with executed(store_url, "SELECT") as seen, session(store_url) as s:
        if not sqlite:
            s.execute(text("SELECT pg_stat_force_next_flush()"))  # at this session's end
        page = list_connections(s, actor=admin, where=ConnectionFilter(search="Q7"), limit=50)
        plans = [step[-1] for statement, parameters in (seen if sqlite else [])
                 for step in s.connection().exec_driver_sql(
                     "EXPLAIN QUERY PLAN " + statement, parameters)]
    assert sorted((c.account, c.service) for c in page.items) == sorted(PAIR_HOLDERS)
    assert (page.total, page.total_exact) == (len(PAIR_HOLDERS), True)
    if sqlite:
        walks = [step for step in plans if step.split(" ")[:2] == ["SCAN", "connection"]
                 and "ix_connection_live_odd_text" not in step]
        assert walks == [], plans
    else:
        read = _connection_entries_read(store_url) - before
        assert read < 1_000, f"{read} entries of connection read"


def test_a_pair_among_many_values_beyond_ascii_gives_way_to_the_walk(store_url, admin,
                                                                       monkeypatch):
    """The rows beyond ASCII are read by their own index, one by one: past ODD_MAX of them a
    walk of the table costs less, and the pair is looked up as before. Same answer."""
    with session(store_url) as s:
        p = _one_profile(s, admin)
        _insert_numbered(s, p, 0, 199)
        s.add_all([Connection(profile_id=p, account=account, service=service)
                   for account, service in PAIR_HOLDERS])
        s.add_all([Connection(profile_id=p, account=f"\u00e9l\u00e8ve{n}@example.com",
                              service="P") for n in range(5)])
        s.commit()
    for odd_max, looked_up in ((search.ODD_MAX, True), (3, False)):
        monkeypatch.setattr("connmodel.search.ODD_MAX", odd_max)
        with session(store_url) as s:
            like = search.text_terms(s, "Q7")
            assert like is not None
            hits = search.pair_hits(s, like, "Q7", COUNT_CAP)
            page = list_connections(s, actor=admin, where=ConnectionFilter(search="Q7"),
                                    limit=50)
        assert (hits is not None) == looked_up
        assert sorted((c.account, c.service) for c in page.items) == sorted(PAIR_HOLDERS)
        assert (page.total, page.total_exact) == (len(PAIR_HOLDERS), True)
