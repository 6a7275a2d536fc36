"""`profile_term` (migration 0013) holds every run of letters of each profile's connections, and
the Connections page's search for a common needle skips the profiles lacking one of its runs
without losing any profile that has a match."""

import re
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import insert, select, update

from connmodel.models import Connection, Profile, ProfileTerm
from connmodel.schema import alembic_config, upgrade
from connmodel.services import groups
from connmodel.services.generate import generate
from connmodel.services.groups import GroupFilter, cards_screen
from connmodel.store import get_engine, session
from connmodel.terms import needle_runs, terms

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _expected(url: str) -> set[tuple[int, str, str]]:
    with session(url) as s:
        rows = s.execute(select(Connection.profile_id, Connection.account, Connection.service)).all()
    return {(p, source, t) for p, account, service in rows
            for source, text in (("account", account), ("service", service)) for t in terms(text)}


def _kept(url: str) -> set[tuple[int, str, str]]:
    with session(url) as s:
        return {tuple(r) for r in s.execute(select(ProfileTerm.profile_id, ProfileTerm.source,
                                                   ProfileTerm.term))}


def test_terms_follow_generate_inserts_and_changes(store_url, admin, keyring):
    with session(store_url) as s:
        generate(s, actor=admin, connections=500, profiles=5, seed=4, keyring=keyring, now=NOW)
    assert _kept(store_url) == _expected(store_url) != set()
    with session(store_url) as s:
        profiles = sorted(set(s.execute(select(Connection.profile_id)).scalars()))
        first = s.execute(select(Connection.id).order_by(Connection.id)).scalars().first()
        s.execute(insert(Connection).values(profile_id=profiles[0], service="Zendesk Äpi",
                                            account="Ops-Bot_7@Élan.example", created_at=NOW))
        s.execute(update(Connection).where(Connection.id == first)
                  .values(account="renamed.quokka@example.com", profile_id=profiles[1]))
        s.commit()
    kept = _kept(store_url)
    assert _expected(store_url) <= kept  # terms are only ever added
    assert {(profiles[0], "service", "zendesk"), (profiles[0], "service", "pi"),
            (profiles[0], "account", "ops"), (profiles[0], "account", "bot"),
            (profiles[0], "account", "lan"), (profiles[1], "account", "quokka")} <= kept


def test_the_migration_fills_the_terms_and_says_what_it_does(store_url, admin, keyring):
    """Upgrading a database of the previous schema (0012) writes every profile's terms, and
    says beforehand what it will do and about how long it will take, and after how long it
    took."""
    with session(store_url) as s:
        generate(s, actor=admin, connections=300, profiles=3, seed=5, keyring=keyring, now=NOW)
    cfg, engine = alembic_config(store_url), get_engine(store_url)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0012")
    said: list[str] = []
    upgrade(engine, report=said.append)
    assert _kept(store_url) == _expected(store_url) != set()
    told = [line for line in said if line.startswith("migration 0013")]  # later ones follow
    assert said[0] == told[0] and len(told) == 2, said
    assert told[0].startswith("migration 0013: profile terms: the runs of letters"), said
    assert re.fullmatch(r".* \(about \d+ s for [\d,]+ connections\)", told[0]), said
    assert re.fullmatch(r"migration 0013 done in \d+\.\d s", told[1]), said
    said.clear()
    upgrade(engine, report=said.append)  # nothing pending: nothing said
    assert said == []


@pytest.mark.parametrize("needle", ["example", "Google", "Configured", "a", "lopez", "o.l",
                                    "Provider", "zzz", "e-x", "15"])
def test_a_common_needle_finds_the_same_profiles_with_and_without_terms(
        store_url, admin, keyring, monkeypatch, needle):
    """Profiles skipped by their terms are exactly those without a match: the page with the
    test (every needle common: SEARCH_IDS_MAX 0) equals the page found by the hits."""
    with session(store_url) as s:
        generate(s, actor=admin, connections=1500, profiles=12, seed=6, keyring=keyring, now=NOW)
    with session(store_url) as s:
        by_hits = cards_screen(s, actor=admin, where=GroupFilter(search=needle), limit=100)
    monkeypatch.setattr(groups, "SEARCH_IDS_MAX", 0)
    with session(store_url) as s:
        pruned = cards_screen(s, actor=admin, where=GroupFilter(search=needle), limit=100)
        names = sorted(s.execute(select(Profile.name)).scalars())
    assert [p.name for p in pruned.profiles.items] == [p.name for p in by_hits.profiles.items]
    assert [p.counts for p in pruned.profiles.items] == [p.counts for p in by_hits.profiles.items]
    assert pruned.rows == by_hits.rows
    if needle_runs(needle) == ["zzz"]:
        assert pruned.profiles.items == [] and names


def test_needle_runs_are_its_letters_and_none_when_not_ascii():
    assert needle_runs("Grace.Lopez12@Example") == ["example", "grace", "lopez"]
    assert needle_runs("2024") == [] and needle_runs("Élan") == []


def test_a_common_needles_profiles_and_rows_are_read_along_their_indexes(
        sqlite_url, admin, keyring, monkeypatch, executed):
    """SQLite reads the page of profiles along their name index, probing each candidate until
    the page is full (read by id from the candidates' list, it probed every candidate and
    sorted them by name after: 382 ms for "zoe." at 10M, 2,000 profiles), and a card whose
    terms allow the needle in its accounts only finds its first rows by account from the
    index that holds the accounts alone (each row read from the table: 219 ms a screen)."""
    with session(sqlite_url) as s:
        generate(s, actor=admin, connections=1500, profiles=12, seed=6, keyring=keyring, now=NOW)
    monkeypatch.setattr(groups, "SEARCH_IDS_MAX", 0)  # every needle common
    starts = ("SELECT lower(profile.name)", "SELECT anon_1.sort_value")
    with executed(sqlite_url, *starts) as seen, session(sqlite_url) as s:
        screen = cards_screen(s, actor=admin, where=GroupFilter(search="lopez"))
        assert screen.rows
        plans = {start: [row[-1] for row in s.connection().exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement, parameters).all()]
            for statement, parameters in seen for start in starts if statement.startswith(start)}
    profiles, rows = plans["SELECT lower(profile.name)"], plans["SELECT anon_1.sort_value"]
    assert profiles[0] == "SCAN profile USING INDEX ux_profile_name_lower", profiles
    assert not any("TEMP B-TREE" in step for step in profiles), profiles
    assert any("INDEX ix_connection_live_profile_account" in step for step in rows), rows
    walk = next(st for st, _ in seen if st.startswith("SELECT anon_1.sort_value"))  # in no
    # service: the needle is not tested there
    assert "connection.account LIKE" in walk and "connection.service LIKE" not in walk, walk


@pytest.mark.parametrize("common", [True, False], ids=["common", "rarer"])  # PostgreSQL's
def test_a_walked_needles_count_reads_the_accounts_that_can_hold_it(
        store_url, admin, keyring, monkeypatch, executed, common):
    """A listing's count of a needle tested row by row that no profile's services can hold
    walks the index of (profile, [status,] account) of the profiles whose accounts can
    (`connections._accounts_walked`): on SQLite beside a status (alone, its text index is
    faster), on PostgreSQL alone, or beside a status when the needle is COMMON. It walked the
    status's rows reading each ("zoe." + Error at 10M on SQLite: 495 -> 39 ms) or the whole
    table ("hooli.example" on PostgreSQL: 88 -> 46 ms). Every way gives the plain count."""
    from connmodel.services.connections import ConnectionFilter, list_connections

    needle = "lopez"
    with session(store_url) as s:
        generate(s, actor=admin, connections=1500, profiles=12, seed=6, keyring=keyring, now=NOW)
        rows = s.execute(select(Connection.status, Connection.account, Connection.service)
                         .where(Connection.revoked_at.is_(None))).all()
    sqlite = store_url.startswith("sqlite")
    monkeypatch.setattr("connmodel.search.DENSE_AFTER", 0)  # every needle walked (SQLite)
    monkeypatch.setattr("connmodel.search.FEW_HITS", 0)  # ... and on PostgreSQL
    monkeypatch.setattr("connmodel.search.BITMAP_MAX", 0 if common else 10**9)  # COMMON or not
    with executed(store_url, "SELECT") as seen:
        for status in ("Error", "Active", None):
            seen.clear()
            with session(store_url) as s:
                page = list_connections(s, actor=admin, limit=5,
                                        where=ConnectionFilter(search=needle, status=status))
                walks = [(q, p) for q, p in seen if "profile_id = ANY(CAST(" in q
                         or "profile_id IN (SELECT value FROM json_each" in q]
                plan = [row[-1] for row in s.connection().exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + walks[0][0], walks[0][1]).all()
                        ] if sqlite and walks else []
            expected = sum(1 for st, account, service in rows if status in (None, st) and any(
                needle.lower() in text.lower() for text in (account, service)))
            assert (page.total, page.total_exact) == (expected, True), (needle, status)
            assert expected > 0
            walked = status is not None or not sqlite
            assert bool(walks) == walked, (status, [q[:90] for q, _ in seen])
            if sqlite and walked:
                assert any("ix_connection_live_profile_status_account" in step
                           for step in plan), plan


@pytest.mark.parametrize("needle", ["Provider", "Google"])  # in every service; in some
def test_a_needle_in_services_is_counted_from_the_kept_counts(
        store_url, admin, keyring, monkeypatch, executed, needle):
    """A listing's count of a needle tested row by row that profiles' services hold is the sum
    of connection_count's rows of the profiles whose every live row has one service, which
    holds it (`connections.ServicesCount`): "Google" + Error at 10M read each Error row to
    test it (213 ms on PostgreSQL, 103 ms on SQLite). A profile with a row of another service
    is counted from its rows, and every way gives the plain count; past the cap, "at least"."""
    from connmodel.services.connections import ConnectionFilter, list_connections

    with session(store_url) as s:
        generate(s, actor=admin, connections=1500, profiles=12, seed=6, keyring=keyring, now=NOW)
    sqlite = store_url.startswith("sqlite")
    monkeypatch.setattr("connmodel.search.DENSE_AFTER", 0)  # every needle walked (SQLite)
    monkeypatch.setattr("connmodel.search.FEW_HITS", 0)  # ... and on PostgreSQL
    def check(status: str | None, environment: str | None, rows_read: bool) -> None:
        counted.clear()
        with session(store_url) as s:
            page = list_connections(s, actor=admin, limit=5, where=ConnectionFilter(
                search=needle, status=status, environment=environment))
            live = s.execute(select(Connection.status, Connection.account, Connection.service,
                                    Profile.environment)
                             .join(Profile, Profile.id == Connection.profile_id)
                             .where(Connection.revoked_at.is_(None))).all()
        expected = sum(1 for st, account, service, env in live
                       if status in (None, st) and environment in (None, env)
                       and (needle.lower() in account.lower() or needle.lower() in service.lower()))
        assert expected > 0
        assert (page.total, page.total_exact) == (expected, True), (status, environment)
        assert bool(counted) == rows_read, (status, environment, counted)

    with executed(store_url, "SELECT count(*)") as counted:  # counts of the matching rows
        for status in ("Error", None):
            for environment in (None, "production"):  # SQLite's needle alone: its text index
                check(status, environment, sqlite and status is environment is None)
        with monkeypatch.context() as capped:
            capped.setattr("connmodel.services.connections.COUNT_CAP", 100)
            with session(store_url) as s:
                page = list_connections(s, actor=admin, limit=5, where=ConnectionFilter(
                    search=needle, environment="production"))
            assert (page.total, page.total_exact) == (100, False) and not counted
        with session(store_url) as s:  # a row of another service in a profile that holds it
            held = s.execute(select(Connection.profile_id, Connection.status)
                             .where(Connection.service.contains(needle))
                             .order_by(Connection.id)).first()
            s.execute(insert(Connection).values(profile_id=held[0], service="Zendesk",
                                                account="ops@acme.example", status=held[1],
                                                created_at=NOW))
            s.commit()
        for status in (held[1], None):
            check(status, None, True)
