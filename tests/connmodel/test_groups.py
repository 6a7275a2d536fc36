"""The Connections page's grouped reads: one statement for a screen of cards, same as listing."""

from sqlmodel import select

from connmodel.models import Connection, Profile
from connmodel.services.connections import ConnectionFilter, list_connections
from connmodel.services.groups import GroupFilter, change_token, first_pages, list_profile_groups
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
