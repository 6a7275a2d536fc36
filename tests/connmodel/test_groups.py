"""The Connections page's grouped reads: one statement for a screen of cards, same as listing."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, insert, text
from sqlmodel import select

from connmodel.models import Connection, McpServer, Profile, ProviderConfig
from connmodel.services import groups
from connmodel.services.connections import (
    ConnectionFilter,
    count_connections,
    list_connections,
)
from connmodel.services.groups import (
    GroupFilter,
    cards_screen,
    change_token,
    first_pages,
    list_profile_groups,
)
from connmodel.status import Status
from connmodel.store import session


def test_first_pages_equal_per_profile_listings_and_continue(demo_url, admin):
    with session(demo_url) as s:
        noauth = s.exec(select(Profile).where(Profile.name == "Noauth")).one()
        for i in range(13):
            s.add(Connection(profile_id=noauth.id, service="No Authentication Provider",
                             account=f"bot{i:02d}@example.com", status="Error" if i % 2 else "Active"))
        s.commit()
    with session(demo_url) as s:
        for where in (GroupFilter(), GroupFilter(status="Error"), GroupFilter(search="bot1")):
            profiles = list_profile_groups(s, actor=admin, where=where).items
            pages = first_pages(s, actor=admin, where=where, limit=5,
                                profile_ids=[p.id for p in profiles])
            for p in profiles:
                expected = list_connections(s, actor=admin, sort="account", limit=5, count=False,
                                            where=where.connection_filter(p.id))
                assert pages[p.id].items == expected.items
                assert (pages[p.id].next_cursor is None) == (expected.next_cursor is None)
        page = first_pages(s, actor=admin, where=GroupFilter(), limit=5,
                           profile_ids=[noauth.id])[noauth.id]
        rest = list_connections(s, actor=admin, sort="account", limit=50, count=False,
                                cursor=page.next_cursor,
                                where=ConnectionFilter(profile_id=noauth.id))
        accounts = [c.account for c in page.items + rest.items]
        assert len(accounts) == 14 and len(set(accounts)) == 14
        assert first_pages(s, actor=admin, where=GroupFilter(), profile_ids=[]) == {}


NULLABLE_SORTS = {"expires": "expires_at", "last_used": "last_used_at", "checked": "checked_at"}


def _nulls_last(conns: list[Connection], field: str, descending: bool) -> list[int]:
    valued = sorted((c for c in conns if getattr(c, field) is not None),
                    key=lambda c: (getattr(c, field), c.id), reverse=descending)
    nulls = sorted((c for c in conns if getattr(c, field) is None), key=lambda c: c.id,
                   reverse=descending)
    return [c.id for c in valued + nulls]


@pytest.mark.parametrize("sort", [f"{d}{f}" for f in NULLABLE_SORTS for d in ("", "-")])
def test_a_cards_nullable_sort_puts_nulls_last_both_ways_and_continues(demo_url, admin, sort):
    """A card sorted by a column its rows leave empty (all of them, or some): the first page and
    the pages after it, alone and with a status filter, as the rows' NULLS LAST order."""
    field = NULLABLE_SORTS[sort.lstrip("-")]
    with session(demo_url) as s:
        empty, mixed = (s.exec(select(Profile).where(Profile.name == n)).one()
                        for n in ("Noauth", "Hubspot"))
        for i in range(14):
            at = datetime(2026, 1, 1 + i % 4, tzinfo=UTC)  # ties, broken by the id
            s.add(Connection(profile_id=empty.id, service="x", account=f"e{i}@example.com",
                             status="Error" if i % 3 else "Active",
                             checked_at=None, expires_at=None, last_used_at=None))
            s.add(Connection(profile_id=mixed.id, service="x", account=f"m{i}@example.com",
                             status="Error" if i % 3 else "Active",
                             **{**{f: at for f in NULLABLE_SORTS.values()},
                                field: at if i % 2 else None}))
        s.commit()
    with session(demo_url) as s:
        for status in (None, "Error"):
            for profile in (empty, mixed):
                conns = [c for c in s.exec(select(Connection).where(
                    Connection.profile_id == profile.id, Connection.revoked_at.is_(None))).all()
                    if status is None or c.status == status]
                expected = _nulls_last(conns, field, sort.startswith("-"))
                page = first_pages(s, actor=admin, where=GroupFilter(status=status), limit=4,
                                   profile_ids=[profile.id], sort=sort)[profile.id]
                ids, cursor = [c.id for c in page.items], page.next_cursor
                while cursor:
                    more = list_connections(s, actor=admin, sort=sort, limit=3, count=False,
                                            cursor=cursor, where=ConnectionFilter(
                                                profile_id=profile.id, status=status))
                    ids, cursor = ids + [c.id for c in more.items], more.next_cursor
                assert ids == expected, (profile.name, status)


def test_change_token_moves_on_any_change(demo_url, admin):
    with session(demo_url) as s:
        before = change_token(s, actor=admin)
        assert change_token(s, actor=admin) == before
        s.add(Connection(profile_id=1, service="x", account="y"))
        s.commit()
        assert change_token(s, actor=admin) != before


@pytest.mark.parametrize("ids_max", [groups.SEARCH_IDS_MAX, 2])
def test_cards_screen_equals_per_profile_listings(demo_url, admin, monkeypatch, ids_max):
    """One read for a screen: counts and rows as the listing service gives them per profile.

    With SEARCH_IDS_MAX at 2, "bot1" has more hits and the search stays a condition.
    """
    monkeypatch.setattr(groups, "SEARCH_IDS_MAX", ids_max)
    with session(demo_url) as s:
        noauth = s.exec(select(Profile).where(Profile.name == "Noauth")).one()
        for i in range(13):
            s.add(Connection(profile_id=noauth.id, service="No Authentication Provider",
                             account=f"bot{i:02d}@example.com", status="Error" if i % 2 else "Active"))
        s.commit()
    filters = (GroupFilter(), GroupFilter(status="Error"), GroupFilter(search="bot1"),
               GroupFilter(search="BOT1", status="Active"), GroupFilter(search="nothing-matches"),
               GroupFilter(environment="production"), GroupFilter(profile="oauth"))
    with session(demo_url) as s:
        for where in filters:
            screen = cards_screen(s, actor=admin, where=where, limit=4, rows=5)
            assert screen.token == change_token(s, actor=admin)
            assert screen.profiles == list_profile_groups(s, actor=admin, where=where, limit=4)
            for p in screen.profiles.items:
                for status in Status:
                    listed = list_connections(s, actor=admin, where=ConnectionFilter(
                        profile_id=p.id, status=status.value if not where.status else where.status,
                        search=where.search))
                    expected = listed.total if not where.status or where.status == status.value else 0
                    assert p.counts[status.value] == expected, (where, p.name, status)
                rows = list_connections(s, actor=admin, sort="account", limit=5, count=False,
                                        where=where.connection_filter(p.id))
                page = screen.rows.get(p.id)
                assert (page.items if page else []) == rows.items
                assert (page.next_cursor if page else None) == rows.next_cursor
            if where.search == "nothing-matches":
                assert screen.profiles.items == [] and screen.rows == {}
        # A card that shows more rows ("Load more") is re-read as long, the others at `rows`.
        where = GroupFilter()
        longer = cards_screen(s, actor=admin, where=where, limit=10, rows=5,
                              longer={noauth.id: 11})
        assert noauth.id in {p.id for p in longer.profiles.items}
        for p in longer.profiles.items:
            n = 11 if p.id == noauth.id else 5
            rows = list_connections(s, actor=admin, sort="account", limit=n, count=False,
                                    where=where.connection_filter(p.id))
            page = longer.rows.get(p.id)
            assert (page.items if page else []) == rows.items, p.name
            assert (page.next_cursor if page else None) == rows.next_cursor, p.name


def test_search_total_counts_profiles_with_a_live_hit(demo_url, admin):
    """A search's card total, read from its hits (or counted when a profile filter narrows the
    profiles), is the number of profiles with a live matching connection, past one page."""
    with session(demo_url) as s:
        profiles = s.exec(select(Profile).order_by(Profile.id)).all()
        assert len(profiles) >= 3
        for i, p in enumerate(profiles[:3]):
            s.add(Connection(profile_id=p.id, service="svc", account=f"needle{i}@example.com"))
        s.add(Connection(profile_id=profiles[3 % len(profiles)].id, service="svc",
                         account="needle-gone@example.com", revoked_at=datetime.now(UTC)))
        s.commit()
        envs = {p.id: p.environment for p in profiles}
    with session(demo_url) as s:
        for environment in ("", *sorted(set(envs.values()))):
            hit = {pid for pid in (p.id for p in profiles[:3])
                   if not environment or envs[pid] == environment}
            page = list_profile_groups(s, actor=admin, limit=1,
                                       where=GroupFilter(search="needle", environment=environment))
            assert (page.total, page.total_exact) == (len(hit), True), environment
            assert len(page.items) == min(1, len(hit))


def test_a_common_needle_probes_profiles_to_the_page_and_caps_each_cards_count(
        demo_url, admin, monkeypatch):
    """A common needle (more hits than SEARCH_IDS_MAX) is tested row by row: the card total is
    "one more than shown, at least" while profiles remain, and a card's counts stop after
    CARD_COUNT_CAP + 1 matches (shown as at least); rows stay those of the listing."""
    monkeypatch.setattr(groups, "SEARCH_IDS_MAX", 2)
    monkeypatch.setattr(groups, "CARD_COUNT_CAP", 3)
    with session(demo_url) as s:
        profiles = s.exec(select(Profile).order_by(Profile.name)).all()
        first, second = profiles[0], profiles[1]
        for i in range(6):
            s.add(Connection(profile_id=first.id, service="svc", account=f"common{i}@example.com"))
        s.add(Connection(profile_id=second.id, service="svc", account="common9@example.com"))
        s.commit()
    with session(demo_url) as s:
        one = cards_screen(s, actor=admin, where=GroupFilter(search="common"), limit=1, rows=2)
        assert [p.name for p in one.profiles.items] == [first.name]
        assert (one.profiles.total, one.profiles.total_exact) == (2, False)
        card = one.profiles.items[0]
        assert (sum(card.counts.values()), card.counts_exact) == (4, False)  # CARD_COUNT_CAP + 1
        assert [c.account for c in one.rows[first.id].items] == ["common0@example.com",
                                                                 "common1@example.com"]
        both = cards_screen(s, actor=admin, where=GroupFilter(search="common"), limit=5)
        assert [p.name for p in both.profiles.items] == [first.name, second.name]
        assert (both.profiles.total, both.profiles.total_exact) == (2, True)
        assert (both.profiles.items[1].counts["Active"], both.profiles.items[1].counts_exact) \
            == (1, True)
        nothing = cards_screen(s, actor=admin, where=GroupFilter(search="common", status="Error"))
        assert (nothing.profiles.items, nothing.profiles.total) == ([], 0)


def test_a_rare_needles_hits_are_read_through_the_text_index_first(sqlite_url, admin, keyring):
    """SQLite reads a needle's hits by walking FTS5 and joining each row by id, whatever other
    filter a screen adds: walking the rows of a status to probe the text index for each cost
    25 s for a needle with one Error row at a million rows (SQLAlchemy drops a NOT INDEXED
    hint for SQLite; a CROSS JOIN is the order SQLite keeps)."""
    from sqlalchemy.dialects import sqlite

    from connmodel.search import text_terms, through_text_index
    from connmodel.services.demo import seed_demo

    with session(sqlite_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
        terms = text_terms(s, "anderson")
        assert terms is not None
        stmt = through_text_index([Connection.status == "Error", Connection.revoked_at.is_(None)],
                                  Connection.id, Connection.profile_id).limit(10)
        compiled = stmt.compile(dialect=sqlite.dialect())
        params = compiled.construct_params(terms.params)
        plan = s.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.string,
                                              tuple(params[k] for k in compiled.positiontup)).all()
        steps = [row[-1] for row in plan]
        assert steps[0].startswith("SCAN connection_fts"), steps
        assert "INTEGER PRIMARY KEY" in steps[1], steps


def test_a_rare_needles_hits_come_grouped_by_profile_and_status_and_capped(demo_url, admin,
                                                                           monkeypatch):
    """matches_by_profile: each profile's hits counted by status with their ids, or None when
    the needle has more hits than the cap, whatever the other conditions leave of them (the
    cap decides rows against walking, not what a status filter keeps). PostgreSQL's planner is
    told the needle is rare here, so its statement (not its estimate) decides. (SQLite's cap
    counts the text index's rowids, a revoked row's too: 6 here.)"""
    from connmodel.search import matches_by_profile, text_terms

    monkeypatch.setattr("connmodel.search._estimated_hits", lambda session, terms: 0.0)
    with session(demo_url) as s:
        noauth, google = (s.exec(select(Profile).where(Profile.name == name)).one()
                          for name in ("Noauth", "Google"))
        made = [Connection(profile_id=p.id, service="No Authentication Provider",
                           account=f"zzhit{i}@example.com", status=status)
                for i, (p, status) in enumerate([(noauth, "Active"), (noauth, "Active"),
                                                 (noauth, "Error"), (google, "Error"),
                                                 (google, "Inactive")])]
        s.add_all(made)
        s.add(Connection(profile_id=noauth.id, service="x", account="zzhit-revoked",
                         revoked_at=datetime(2026, 1, 1, tzinfo=UTC), revoked_by="t"))
        s.commit()
        ids = {(c.profile_id, c.status): set() for c in made}
        for c in made:
            ids[c.profile_id, c.status].add(c.id)
    live = Connection.revoked_at.is_(None)
    with session(demo_url) as s:
        terms = text_terms(s, "ZZHIT")
        assert terms is not None
        groups_found = matches_by_profile(s, terms, "ZZHIT", [live], 6)
        assert groups_found is not None
        assert {(pid, status): (n, {int(i) for i in joined.split(",")})
                for pid, status, n, joined in groups_found} \
            == {key: (len(found), found) for key, found in ids.items()}
        hits = groups.Hits.of(groups_found)
        assert hits.counts[noauth.id] == {"Active": 2, "Inactive": 0, "Error": 1}
        assert sorted(hits.ids([google.id])) == sorted(ids[google.id, "Error"]
                                                       | ids[google.id, "Inactive"])
        error = [live, Connection.status == "Error"]
        assert sorted((pid, n) for pid, _, n, _ in matches_by_profile(s, terms, "ZZHIT", error, 6)
                      ) == sorted([(noauth.id, 1), (google.id, 1)])
        assert matches_by_profile(s, terms, "ZZHIT", [live], 4) is None
        assert matches_by_profile(s, terms, "ZZHIT", error, 4) is None
        pair = text_terms(s, "ZZ")  # through the trigrams that hold it (search.pair_hits)
        assert pair is not None
        assert sorted(matches_by_profile(s, pair, "ZZ", [live], 6)) == sorted(groups_found)
        assert matches_by_profile(s, pair, "ZZ", [live], 4) is None
        single = text_terms(s, "Z")
        assert single is not None
        assert matches_by_profile(s, single, "Z", [live], 6) is None  # no trigram serves it



def test_sqlite_reads_a_searchs_hits_profile_and_status_from_the_hits_index(sqlite_url, admin,
                                                                          keyring):
    """SQLite groups a rare needle's hits by profile and status from ix_connection_search_hits
    (migration 0018: ~20 bytes a live row), not from the table's rows (~800 bytes each, a page
    per hit: "grace", 19,763 hits at 1M, 35 -> 24 ms), and in one statement with the text
    index's walk (the rowids no longer go to Python and back)."""
    from connmodel.search import matches_by_profile, text_terms
    from connmodel.services.demo import seed_demo

    with session(sqlite_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
        expected = sorted((c.profile_id, c.status) for c in s.exec(
            select(Connection).where(Connection.account.contains("anderson"),
                                     Connection.revoked_at.is_(None))))
    statements: list[tuple[str, object]] = []
    with session(sqlite_url) as s:
        conn = s.connection()
        event.listen(conn, "before_cursor_execute",
                     lambda _c, _cur, sql, params, _ctx, _many: statements.append((sql, params)))
        terms = text_terms(s, "anderson")
        assert terms is not None
        found = matches_by_profile(s, terms, "anderson", [Connection.revoked_at.is_(None)], 100)
        assert found is not None
        assert sorted((pid, status) for pid, status, n, _ in found for _ in range(n)) == expected
        grouped = [(sql, params) for sql, params in statements if "GROUP BY" in sql]
        assert len(grouped) == 1, statements
        plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + grouped[0][0],
                                                        grouped[0][1]).all()]
    assert any("USING INDEX ix_connection_search_hits" in step for step in plan), plan
    assert not any("INTEGER PRIMARY KEY" in step for step in plan), plan
    assert "json_each" not in grouped[0][0]


def test_sqlite_looks_up_no_hit_of_a_needle_over_the_cap(sqlite_url, monkeypatch):
    """A needle whose first rowids look rare (the probe is an estimate: here it always says
    so) but whose hits pass the cap: its rowids are read to the cap (that is how the cap is
    known), but none is looked up in the hits index (".le", 36,597 hits at 1M: its screen took
    56 ms when all 20,001 were, 40 ms now): the steps stay near those of reading the rowids
    alone, far under those of grouping them."""
    monkeypatch.setattr("connmodel.search._seems_common", lambda *_: False)
    with session(sqlite_url) as s:
        _bulk_profile(s, "Bulk", [f"user{i}-over@x.io" for i in range(3_000)])
        s.commit()
    with session(sqlite_url) as s:
        found, over_cap = _grouped_steps(s, "over", 1_000)
        assert found is None
        grouped, under_cap = _grouped_steps(s, "over", 5_000)
        assert grouped is not None and sum(n for _, _, n, _ in grouped) == 3_000
        rowids = _rowid_steps(s, "over", 1_001)
    # Steps here: 15,855 over the cap, 112,857 under it, 4,640 for the rowids alone; 34,878
    # over the cap when every hit was looked up.
    assert over_cap < 5 * rowids
    assert over_cap < under_cap / 4


def _steps(s, read):
    """What `read` returns, and how many SQLite virtual-machine steps it took (FTS5's own
    reads of its index included)."""
    raw = s.connection().connection.driver_connection
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    raw.set_progress_handler(tick, 1)
    try:
        return read(), steps
    finally:
        raw.set_progress_handler(None, 1)


def _grouped_steps(s, needle: str, cap: int):
    """`matches_by_profile` of `needle` among the live rows with this `cap`, and its steps."""
    from connmodel.search import matches_by_profile, text_terms

    terms = text_terms(s, needle)
    assert terms is not None
    return _steps(s, lambda: matches_by_profile(s, terms, needle,
                                                [Connection.revoked_at.is_(None)], cap))


def _rowid_steps(s, needle: str, limit: int) -> int:
    """SQLite steps of reading the first `limit` rowids of a needle's phrase alone (a yardstick:
    what finding out that it has more than `limit - 1` hits costs at least)."""
    return _steps(s, lambda: s.execute(text(
        "SELECT rowid FROM connection_fts WHERE connection_fts MATCH :phrase LIMIT :limit"),
        {"phrase": f'"{needle}"', "limit": limit}).all())[1]


def _walk_steps(s, profile_id: int, pattern: str) -> int:
    """SQLite steps of one walk of a profile's account index testing each entry (a yardstick
    for the reads under test)."""
    return _steps(s, lambda: s.execute(text(
        "SELECT count(*) FROM connection INDEXED BY ix_connection_live_profile_account "
        "WHERE profile_id = :p AND revoked_at IS NULL AND account LIKE :pattern"),
        {"p": profile_id, "pattern": pattern}).one())[1]


def _bulk_profile(s, name: str, accounts: list[str]) -> Profile:
    """A profile `name` with an Active connection per account, inserted in one statement (the
    FTS5 triggers index each row); the first makes the provider config they share."""
    provider = s.execute(select(ProviderConfig).where(ProviderConfig.name == "None")).scalar()
    if provider is None:
        provider = ProviderConfig(name="None", kind="none")
        s.add(provider)
        s.flush()
    profile = Profile(name=name, provider_config_id=provider.id)
    s.add(profile)
    s.flush()
    s.execute(insert(Connection), [{"profile_id": profile.id, "service": "x", "status": "Active",
                                    "account": account} for account in accounts])
    return profile


def test_a_common_phrase_is_judged_from_both_ends_of_its_hits(sqlite_url, admin, monkeypatch):
    """SQLite: a needle with more hits than the cap, spread over the table, is judged common
    from the first and last PROBED rowids of its phrase, not read to the cap as before; one
    whose hits crowd the oldest ids looks common from that end only, and is read whole. The
    cards are the same either way."""
    from connmodel.search import matches_by_profile, text_terms

    monkeypatch.setattr("connmodel.search.PROBED", 5)
    with session(sqlite_url) as s:
        _bulk_profile(s, "Bulk", [("early" if i < 30 else "late")
                                  + ("-spread" if i % 4 == 0 else "") + f"{i}@x.io"
                                  for i in range(12_000)])
        s.commit()
    live = [Connection.revoked_at.is_(None)]
    with session(sqlite_url) as s:
        found, judged = _grouped_steps(s, "spread", 1200)
        assert found is None
        to_the_cap = _rowid_steps(s, "spread", 1_201)
        assert judged < to_the_cap / 2
        early = text_terms(s, "early")
        assert early is not None
        assert [(n, st) for _, st, n, _ in matches_by_profile(s, early, "early", live, 1200)] \
            == [(30, "Active")]
    with session(sqlite_url) as s:
        for needle in ("spread", "early"):
            (card,) = cards_screen(s, actor=admin, where=GroupFilter(search=needle)).profiles.items
            listed = list_connections(s, actor=admin, where=ConnectionFilter(search=needle))
            assert card.counts == {"Active": listed.total, "Inactive": 0, "Error": 0}


def test_a_needle_typed_as_an_accounts_start_is_found_where_those_accounts_sort(
        sqlite_url, admin, monkeypatch):
    """A common needle's probe for a profile with a match, and a card's capped count, read the
    index range of accounts that start with the needle first (`search.prefix_bounds`). They
    walked the card's account index from its start: "zoe." sorts after 5,000 "anna" rows here
    (at 10M, 18 ms to reach a 52,000-row card's first match). The rows still come in account
    order from the card's start, as the listing gives them; the counts are the capped ones."""
    monkeypatch.setattr(groups, "SEARCH_IDS_MAX", 2)  # "zoe." is common: tested row by row
    hits = [*(f"zoe.{i}@x.io" for i in range(1_200)), "Chloe.Zoe.Infix@x.io"]
    with session(sqlite_url) as s:
        profile = _bulk_profile(s, "Big", [*(f"anna{i}@x.io" for i in range(5_000)), *hits])
        s.commit()
    with session(sqlite_url) as s:
        screen, steps = _steps(s, lambda: cards_screen(
            s, actor=admin, where=GroupFilter(search="ZOE."), rows=3))
        (card,) = screen.profiles.items
        assert (card.counts, card.counts_exact) == (
            {"Active": groups.CARD_COUNT_CAP + 1, "Inactive": 0, "Error": 0}, False)
        listed = list_connections(s, actor=admin, sort="account", limit=3, count=False,
                                  where=ConnectionFilter(profile_id=profile.id, search="ZOE."))
        assert screen.rows[profile.id].items == listed.items
        assert [c.account for c in listed.items] == sorted(hits)[:3]  # the infix one first
        walk = _walk_steps(s, profile.id, "%zoe.%")
        assert steps < 1.75 * walk, f"{steps} steps; one walk of the card's index: {walk}"


def test_a_card_whose_matches_all_start_with_the_needle_reads_its_rows_from_that_range(
        sqlite_url, admin, monkeypatch):
    """When a card's capped count read every account that holds a common needle and found it
    only at their start, the card's first rows are read from that index range too
    (`groups._dense_counts`' `ranged`): they walked the card's index from its start to reach
    "zoe." (at 10M on PostgreSQL, the first rows of nine such cards cost ~15 ms). A card with
    a match inside an account is walked as before, and both list what the listing lists."""
    monkeypatch.setattr(groups, "SEARCH_IDS_MAX", 2)  # "zoe." is common: tested row by row
    starting = [f"zoe.{i}@x.io" for i in range(300)]
    with session(sqlite_url) as s:
        ranged = _bulk_profile(s, "Big", [*(f"anna{i}@x.io" for i in range(5_000)), *starting])
        inside = _bulk_profile(s, "Small", ["anna@x.io", "chloe.zoe.x@x.io", "zoe.a@x.io"])
        s.commit()
    with session(sqlite_url) as s:
        screen, steps = _steps(s, lambda: cards_screen(
            s, actor=admin, where=GroupFilter(search="zoe."), rows=3))
        for profile, first in ((ranged, sorted(starting)[:3]),
                               (inside, ["chloe.zoe.x@x.io", "zoe.a@x.io"])):
            listed = list_connections(s, actor=admin, sort="account", limit=3, count=False,
                                      where=ConnectionFilter(profile_id=profile.id, search="zoe."))
            assert screen.rows[profile.id].items == listed.items
            assert [c.account for c in listed.items] == first
        assert [p.counts["Active"] for p in screen.profiles.items] == [300, 2]
        walk = _walk_steps(s, ranged.id, "%zoe.%")
        # The count's walk of the card in two parts (1.7 walks here: its range tests cost
        # steps), then its first rows from the range; they were a second walk (2.6 walks).
        assert steps < 2 * walk, f"{steps} steps; one walk of the card's index: {walk}"


def test_a_profile_whose_accounts_and_services_hold_one_value_is_probed_by_it(
        sqlite_url, admin, monkeypatch):
    """A needle without letters ("@") has no terms to prune profiles by. The page's probe of a
    profile whose accounts all read "Configured" and whose rows share one service (an API-key
    profile) walked both of its indexes (at 10M, 100 such profiles: 313 ms on PostgreSQL);
    it now reads each column's first and last entry, equal, and tests that value. Profiles
    with several values are still walked, and the cards are those with a match."""
    with session(sqlite_url) as s:
        keyed = _bulk_profile(s, "Api keys", ["Configured"] * 5_000)
        mixed = _bulk_profile(s, "Mixed", [*(f"bot{i}" for i in range(3_000)), "ops@x.io"])
        s.commit()
    with session(sqlite_url) as s:
        screen, steps = _steps(s, lambda: cards_screen(
            s, actor=admin, where=GroupFilter(search="@"), rows=3))
        assert [p.id for p in screen.profiles.items] == [mixed.id]
        assert [c.account for c in screen.rows[mixed.id].items] == ["ops@x.io"]
        walk = _walk_steps(s, keyed.id, "%@%")
    # "Mixed" is walked (its probe, count and rows); "Api keys" is four seeks, not two walks
    assert steps < 4 * walk, f"{steps} steps; one walk of the keyed profile's index: {walk}"


def test_a_needle_without_letters_is_read_from_the_accounts_of_a_one_service_card(
        store_url, admin, monkeypatch, executed):
    """A needle without letters ("77") has no terms to rule a column out, so each card's
    counts and first rows read every row from the table to test both its account and its
    service ("06" at 10M: the Connections page 1.06 s -> 0.19 s on PostgreSQL, 274 -> 42 ms
    on SQLite). A card whose rows share one service (or one account) that does not hold the
    needle (`groups._card_columns`, by `column_ends`) is read along the other column's index
    alone. Counts and rows are the listing's."""
    monkeypatch.setattr(groups, "SEARCH_IDS_MAX", 2)  # "77" is common: tested row by row
    accounts = [f"u{i}@x.io" for i in range(2_000)]
    with session(store_url) as s:
        mail = _bulk_profile(s, "Mail", accounts)  # service "x"
        numbered = _bulk_profile(s, "Numbered", ["ops@x.io"])
        s.execute(text("UPDATE connection SET service = 'Vault 77' WHERE profile_id = :p"),
                  {"p": numbered.id})
        s.commit()
    with executed(store_url, "SELECT card") as seen, session(store_url) as s:
        screen = cards_screen(s, actor=admin, where=GroupFilter(search="77"), rows=3)
    for profile, matches in ((mail, sum("77" in a for a in accounts)), (numbered, 1)):
        with session(store_url) as s:
            listed = list_connections(s, actor=admin, sort="account", limit=3,
                                      where=ConnectionFilter(profile_id=profile.id, search="77"))
        card = next(p for p in screen.profiles.items if p.id == profile.id)
        assert card.counts["Active"] == listed.total == matches
        assert screen.rows[profile.id].items == listed.items
    counts = next(st for st, _ in seen if st.startswith("SELECT card, status"))
    mail_part, numbered_part = counts.split("SELECT 1 AS card")
    # each card is read along the one column that can hold the needle: "Mail"'s accounts,
    # "Numbered"'s service (its one account does not hold it)
    def tests(part: str, column: str) -> bool:  # `x LIKE`, or PostgreSQL's `lower(x) LIKE`
        return f"{column} LIKE" in part or f"{column}) LIKE" in part

    assert tests(mail_part, "account") and not tests(mail_part, "service"), mail_part
    assert tests(numbered_part, "service") and not tests(numbered_part, "account")


def test_a_needle_with_letters_is_read_from_the_accounts_where_the_one_service_lacks_it(
        store_url, admin, monkeypatch, executed):
    """The profiles' terms hold runs of letters only: the "a" of "a7" is in the service "Vault",
    so each card's counts and first rows read every row from the table to test both columns
    ("a7" at 10M: SQLite 363 -> 51 ms, PostgreSQL 818 -> 96 ms). A card's one service that
    does not hold the needle (`column_ends`) rules that column out too."""
    monkeypatch.setattr(groups, "SEARCH_IDS_MAX", 2)  # "a7" is common: tested row by row
    accounts = [f"ua{i}@x.io" for i in range(2_000)]
    with session(store_url) as s:
        vault = _bulk_profile(s, "Vault", accounts)
        s.execute(text("UPDATE connection SET service = 'Vault' WHERE profile_id = :p"),
                  {"p": vault.id})
        s.commit()
    with executed(store_url, "SELECT card") as seen, session(store_url) as s:
        screen = cards_screen(s, actor=admin, where=GroupFilter(search="A7"), rows=3)
    with session(store_url) as s:
        listed = list_connections(s, actor=admin, sort="account", limit=3,
                                  where=ConnectionFilter(profile_id=vault.id, search="A7"))
    (card,) = screen.profiles.items
    assert card.counts["Active"] == listed.total == sum("a7" in a for a in accounts)
    assert screen.rows[vault.id].items == listed.items
    counts = next(st for st, _ in seen if st.startswith("SELECT card, status"))
    assert "account" in counts and "service" not in counts, counts


@pytest.mark.postgres
def test_a_probe_for_a_needle_without_letters_probes_each_profile(postgres_url, admin,
                                                                  executed):
    """PostgreSQL turned the page's probe of each profile for a needle without letters into
    one hashed subplan over the whole table (estimating a match in the services rare): 2.7 s
    at 10M for "@". `OFFSET 0` in each probe keeps them per profile, along its indexes."""
    with session(postgres_url) as s:
        _bulk_profile(s, "Api keys", ["Configured"] * 2_000)
        _bulk_profile(s, "Mail", [f"u{i}@x.io" for i in range(2_000)])
        s.commit()
        s.execute(text("ANALYZE connection"))
    with executed(postgres_url, "SELECT lower(profile.name)") as seen, session(postgres_url) as s:
        screen = cards_screen(s, actor=admin, where=GroupFilter(search="@"), rows=3)
        assert [p.name for p in screen.profiles.items] == ["Mail"]
        statement, parameters = seen[0]
        plan = "\n".join(row[0] for row in s.connection().exec_driver_sql(
            "EXPLAIN " + statement, parameters))
    assert "hashed SubPlan" not in plan and "Seq Scan on connection" not in plan, plan


@pytest.mark.postgres
def test_a_needle_without_case_is_read_on_the_cards_by_like_alone(postgres_url, admin, executed):
    """PostgreSQL: the cards' probes, counts and first rows test a common needle with no cased
    character ("06", "-", "@") by LIKE, not `lower(x) LIKE lower(y)` (a third of its cost per
    row: "-" cards at 1M 153 -> 62 ms, "06" 66 -> 40 ms), and find the same rows; a needle
    with a letter is still folded."""
    accounts = {"Mail": [f"U{i:04d}@X-{i % 3}.IO" for i in range(1_900)],
                "Bots": [f"bot-{i:04d}@ci.io" for i in range(1_500)]}
    with session(postgres_url) as s:
        for name, listed in accounts.items():
            _bulk_profile(s, name, listed)
        s.commit()
    for needle in ("06", "-1", "u1"):
        with executed(postgres_url, "SELECT") as seen, session(postgres_url) as s:
            screen = cards_screen(s, actor=admin, where=GroupFilter(search=needle), rows=3)
        found = {p.name: sum(p.counts.values()) for p in screen.profiles.items}
        expected = {name: n for name, listed in accounts.items()
                    if (n := sum(needle.lower() in a.lower() for a in listed))}
        assert found == expected, needle
        for p in screen.profiles.items:
            rows = screen.rows[p.id].items
            assert len(rows) == 3 and all(needle.lower() in c.account.lower() for c in rows)
        tests = [statement for statement, _ in seen if "search_like_0" in statement]
        assert tests, needle
        unordered = [t.replace("lower(profile.name)", "") for t in tests]  # the cards' order
        folded = [t for t in unordered if "lower(" in t or " ILIKE " in t]
        assert bool(folded) == (needle == "u1"), (needle, folded[:1])


def test_a_walked_needle_folds_as_ilike_does_beyond_ascii(postgres_url, admin, executed,
                                                         monkeypatch):
    """PostgreSQL: a common needle tested row by row (`walked_test`) finds what ILIKE finds.
    Beyond ASCII, lower() turns a Kelvin sign (U+212A) into "k" and a dotted capital I (U+0130)
    into "i", so "KIM." and "ivan" find those accounts too, through lower() itself; a needle
    with neither letter ("ann.", ASCII_FOLD) is tested with the C collation's lower(), which
    folds ASCII alone at less cost per row, and finds the same. Each card's count, each card's
    first rows, and the listing's count along the accounts equal PostgreSQL's own ILIKE."""
    monkeypatch.setattr(groups, "SEARCH_IDS_MAX", 2)  # common: tested row by row
    monkeypatch.setattr("connmodel.search.DENSE_AFTER", 0)  # the listing's count walked too
    accounts = {"Folded": [*(f"kim.{i:03d}@x.io" for i in range(40)),
                           *(f"\u212aim.{i}@x.io" for i in range(3)),
                           *(f"ann.{i:03d}@x.io" for i in range(40)),
                           *(f"\u0130van.{i}@x.io" for i in range(3)),
                           *(f"Ivan.{i}@x.io" for i in range(3)),
                           *(f"\u00c9ANN.{i}@x.io" for i in range(3))],
                "Plain": [*(f"KIM.{i:03d}@y.io" for i in range(30)),
                          *(f"ivan{i:03d}@y.io" for i in range(30)),
                          *(f"Ann.{i:03d}@y.io" for i in range(30))]}
    with session(postgres_url) as s:
        for name, listed in accounts.items():
            _bulk_profile(s, name, listed)
        s.commit()
    found = {}
    for needle in ("KIM.", "ivan", "ann."):
        with session(postgres_url) as s:
            expected = dict(s.execute(text(
                "SELECT profile.name, count(*) FROM connection JOIN profile ON profile.id = "
                "connection.profile_id WHERE account ILIKE :p GROUP BY profile.name"),
                {"p": f"%{needle}%"}).all())
        with executed(postgres_url, "SELECT") as seen, session(postgres_url) as s:
            screen = cards_screen(s, actor=admin, where=GroupFilter(search=needle), rows=50)
            listed = count_connections(s, actor=admin, where=ConnectionFilter(search=needle))
        found[needle] = {p.name: sum(p.counts.values()) for p in screen.profiles.items}
        assert found[needle] == expected, needle
        for p in screen.profiles.items:
            shown = [c.account for c in screen.rows[p.id].items]
            assert len(shown) == expected[p.name], (needle, p.name, shown)
        assert listed == (sum(expected.values()), True)
        walked = [st for st, _ in seen if "search_like_0" in st and "lower(" in st]
        assert walked, needle  # the cards' test row by row
        ascii_fold = [st for st in walked if 'COLLATE "C"' in st]
        assert bool(ascii_fold) == (needle == "ann."), needle
    assert found == {"KIM.": {"Folded": 43, "Plain": 30}, "ivan": {"Folded": 6, "Plain": 30},
                     "ann.": {"Folded": 43, "Plain": 30}}


def test_the_letters_lowered_from_beyond_ascii_are_read_from_the_database(postgres_url):
    """PostgreSQL: the ASCII letters lower() makes of characters beyond ASCII are the
    database's own (a glibc or ICU locale: "i" from U+0130, "k" from the Kelvin sign); a needle
    holding one of them is lowered by lower() itself (see the test above)."""
    from connmodel.search import _letters_from_beyond_ascii

    with session(postgres_url) as s:
        assert _letters_from_beyond_ascii(s) == {"i", "k"}


def test_a_database_not_in_utf8_keeps_lower_for_every_needle(postgres_url):
    """PostgreSQL: in a LATIN1 database the code points past 255 do not exist (chr() refuses
    them): no letter is read as safe, and every needle keeps `lower()` (no error either)."""
    from sqlalchemy import create_engine
    from sqlmodel import Session

    from connmodel.search import _letters_from_beyond_ascii

    name = f"connmodel_latin1_{uuid.uuid4().hex[:8]}"
    server = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with server.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" ENCODING \'LATIN1\' LC_COLLATE \'C\' '
                       "LC_CTYPE 'C' TEMPLATE template0"))
    latin1 = create_engine(postgres_url.rsplit("/", 1)[0] + "/" + name)
    try:
        with Session(latin1) as s:
            assert _letters_from_beyond_ascii(s) is None
    finally:
        latin1.dispose()
        with server.connect() as c:
            c.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        server.dispose()


def test_a_count_of_a_needle_typed_as_an_accounts_start_reaches_its_cap_in_that_range(
        sqlite_url, admin, monkeypatch):
    """A listing's capped count walked along the accounts (`connections._accounts_walked`)
    reads the accounts starting with the needle first: 10,001 of them end it before the
    20,000 accounts sorting before them are read (PostgreSQL's "zoe." at 10M: 131 -> 17 ms).
    Every row is still tested, and a needle in the others is counted from the rest."""
    monkeypatch.setattr("connmodel.search.DENSE_AFTER", 0)  # both needles walked
    with session(sqlite_url) as s:
        _bulk_profile(s, "Big", [*(f"anna{i}@x.io" for i in range(20_000)),
                                 *(f"zoe.{i}@x.io" for i in range(10_500))])
        s.execute(text("UPDATE connection SET status = 'Error'"))
        s.commit()
    with session(sqlite_url) as s:
        prefix, steps = _steps(s, lambda: count_connections(
            s, actor=admin, where=ConnectionFilter(search="zoe.", status="Error")))
        inside, walked = _steps(s, lambda: count_connections(
            s, actor=admin, where=ConnectionFilter(search="nna19", status="Error")))
    assert prefix == (10_000, False)
    assert inside == (1_111, True)  # anna19, anna190-199, anna1900-1999, anna19000-19999
    # The 10,001 in the range cost less than one walk of all 30,500 (the second count's)
    assert steps < walked, (steps, walked)


def test_a_pair_beside_a_status_reads_only_the_rows_that_can_hold_it(sqlite_url, admin,
                                                                     executed):
    """A two-character needle's hits come through its trigrams and the partial index of the
    rows no trigram list reaches (search.pair_hits). Beside a status, SQLite (without
    statistics) read that status's index for the latter instead (556,100 Error rows at 10M:
    0.7 s for the cards of a pair with no hit): the status now tests the hits."""
    with session(sqlite_url) as s:
        _bulk_profile(s, "Mail", [f"u{i}@x.io" for i in range(2_000)] + ["q7@x.io", "Q7"])
        s.execute(text("UPDATE connection SET status = 'Error' WHERE account <> 'q7@x.io'"))
        s.commit()
    with executed(sqlite_url, "SELECT") as seen, session(sqlite_url) as s:
        screen = cards_screen(s, actor=admin, where=GroupFilter(search="q7", status="Error"))
        plans = [step[-1] for statement, parameters in seen
                 for step in s.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                            parameters)]
    (card,) = screen.profiles.items
    assert card.counts == {"Active": 0, "Inactive": 0, "Error": 1}
    assert [c.account for c in screen.rows[card.id].items] == ["Q7"]
    walks = [step for step in plans if step.endswith("ix_connection_live_status (status=?)")
             or step.split(" ")[:2] == ["SCAN", "connection"] and "USING" not in step]
    assert walks == [], plans


def _naive_revoke_ask(s, where: GroupFilter) -> tuple[int, list[str]]:
    """What a revocation by `where` takes, from every row in Python: how many live connections
    it revokes, and the servers it disconnects (the connected ones of those connections'
    profiles, and those a matching connection's disable disconnected)."""
    profiles = {p.id: p for p in s.exec(select(Profile)).all()}
    needle = (where.search or "").strip().lower()
    hit = [c for c in s.exec(select(Connection)).all()
           if c.revoked_at is None
           and (not where.status or c.status == where.status)
           and (not where.environment or profiles[c.profile_id].environment == where.environment)
           and (not where.profile or where.profile.lower() in profiles[c.profile_id].name.lower())
           and (not needle or needle in c.account.lower() or needle in c.service.lower())]
    disabled = {f"connection {c.id} disabled by {c.disabled_by}; enable it to reconnect"
                for c in hit if c.disabled_by}
    servers = sorted(m.name for m in s.exec(select(McpServer)).all()
                     if m.profile_id in {c.profile_id for c in hit}
                     and (m.state == "connected" or m.reason in disabled))
    return len(hit), servers


@pytest.mark.parametrize("ids_max", [groups.SEARCH_IDS_MAX, 2])
def test_a_revocation_by_filter_is_asked_with_what_it_takes(demo_url, admin, monkeypatch,
                                                              ids_max):
    """Revoke matching's confirmation (count_matching, servers_affected) names what revoking
    every match takes, for a rare needle's hits and a common one probed profile by profile
    (SEARCH_IDS_MAX 2), with every other filter. The servers were once read as those of every
    match's profile: 0.9-4 s for a common needle at 1M."""
    from connmodel.providers.lifecycle import disable_connection
    from connmodel.services.groups import count_matching, servers_affected

    monkeypatch.setattr(groups, "SEARCH_IDS_MAX", ids_max)
    with session(demo_url) as s:
        by_name = {p.name: p for p in s.exec(select(Profile)).all()}
        for i, name in enumerate(["Noauth", "Noauth", "Hubspot", "Google", "Google"]):
            s.add(Connection(profile_id=by_name[name].id, service="svc",
                             account=f"pat{i}@example.com", status="Error" if i % 2 else "Active"))
        quiet = Profile(name="Quiet", provider_config_id=by_name["Noauth"].provider_config_id)
        s.add(quiet)
        s.flush()
        s.add(McpServer(name="Quiet tools", url="http://127.0.0.1:9/mcp", profile_id=quiet.id))
        s.add(Connection(profile_id=quiet.id, service="svc", account="pat-gone@example.com",
                         revoked_at=datetime.now(UTC), revoked_by="alice"))
        s.commit()
        google = s.exec(select(Connection).where(Connection.account == "pat3@example.com")).one()
        disable_connection(s, actor=admin, connection_id=google.id)
    filters = [GroupFilter(), GroupFilter(status="Error"), GroupFilter(search="pat"),
               GroupFilter(search="PAT", status="Active"), GroupFilter(search="pat3"),
               GroupFilter(search="pat", environment="production"),
               GroupFilter(search="pat", profile="oo"), GroupFilter(search="nothing-matches"),
               GroupFilter(search="p"), GroupFilter(profile="Quiet"),
               GroupFilter(environment="dev")]
    with session(demo_url) as s:
        for where in filters:
            n, servers = _naive_revoke_ask(s, where)
            assert count_matching(s, actor=admin, where=where) == (n, True), where
            listed = servers_affected(s, actor=admin, where=where)
            assert [x.name for x in listed] == servers, where
        assert "Quiet tools" not in servers  # its profile's only connection is revoked
        assert [x.name for x in servers_affected(s, actor=admin, where=GroupFilter(), limit=2)
                ] == _naive_revoke_ask(s, GroupFilter())[1][:2]
