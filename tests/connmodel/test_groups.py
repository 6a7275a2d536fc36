"""The Connections page's grouped reads: one statement for a screen of cards, same as listing."""

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from connmodel.models import Connection, Profile
from connmodel.services import groups
from connmodel.services.connections import ConnectionFilter, list_connections
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
