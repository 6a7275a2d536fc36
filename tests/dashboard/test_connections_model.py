"""The Connections page's view models on real stores, without a browser.

The models' reads are coroutines (each service call in a worker thread): a test runs them on a
loop of its own (`run_async`) and, after setting a filter, awaits the re-read the model's
watcher started (`settled`)."""

import asyncio
import threading

import pytest
from sqlmodel import select

from connmodel.changes import read_change
from connmodel.models import Connection, Profile
from connmodel.services.connections import ConnectionFilter, list_connections, revoke_connection
from connmodel.services.servers import list_servers
from connmodel.store import session
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.connections import ROWS_PER_CARD, ConnectionsPageModel


def rows_of(model: ConnectionsPageModel) -> dict[str, list[tuple[str, str, str]]]:
    return {c.profile.name: [(r.service, r.account, r.status) for r in c.rows] for c in model.cards}


@pytest.fixture
def page(demo_url, admin, run_async) -> ConnectionsPageModel:
    model = ConnectionsPageModel(Backend(admin, demo_url))
    run_async(model.refresh())
    return model


def test_first_screen_shows_the_seed_profiles(page):
    rows = rows_of(page)
    assert rows["Noauth"] == [("No Authentication Provider", "Configured", "Active")]
    assert rows["Hubspot"] == [("API Key Authentication Provider", "Configured", "Active")]
    assert rows["Google"] == [("Google OAuth2 Provider", "user@example.com", "Active")]
    google = next(c for c in page.cards if c.profile.name == "Google")
    assert (google.profile.description, google.profile.provider, google.profile.environment) == (
        "Connections in this profile", "Google OAuth2 Provider", "production")
    assert page.counts == {"Active": 3, "Inactive": 2, "Error": 1}
    assert page.profiles_total == 6 and not page.error and not page.empty_database


def test_filters_narrow_cards_and_counts(page, run_async, settled):
    async def use() -> None:
        page.param.update(status="Error")
        await settled()
        assert list(rows_of(page)) == ["GitHub Staging"]
        assert page.counts == {"Active": 0, "Inactive": 0, "Error": 1}
        page.param.update(status="", environment="staging")
        await settled()
        assert sorted(rows_of(page)) == ["GitHub Staging", "Hubspot Sandbox"]
        page.param.update(environment="", profile="hubspot")
        await settled()
        assert sorted(rows_of(page)) == ["Hubspot", "Hubspot Sandbox"]
        page.param.update(profile="", search="user@example")
        await settled()
        assert rows_of(page) == {
            "Google": [("Google OAuth2 Provider", "user@example.com", "Active")]}
        page.param.update(search="nobody-at-all")
        await settled()
        assert page.cards == [] and not page.empty_database and page.filtering
        page.clear_filters()
        await settled()
        assert len(page.cards) == 6 and not page.working

    run_async(use())


def test_a_superseded_input_never_shows_over_the_newer_one(page, run_async, settled):
    """Three filters set before any read is back: all three read, only the last one shows,
    and the page says it is working until the last one's screen is in."""
    shown, working = [], []
    page.param.watch(lambda e: shown.append(sorted(c.profile.name for c in e.new)), "cards")
    page.param.watch(lambda e: working.append(e.new), "working")

    async def use() -> None:
        page.status = "Error"
        page.status = "Inactive"
        page.param.update(status="", environment="staging")
        await settled()

    run_async(use())
    assert shown == [["GitHub Staging", "Hubspot Sandbox"]] and working == [True, False]
    assert page.environment == "staging" and not page.error


def test_a_screen_read_after_the_newer_input_is_dropped(page, run_async, settled):
    """The older input's read comes back last (it is held in its thread until the newer
    one's screen is shown): its screen is dropped, not shown over the newer one."""
    newer_shown = threading.Event()
    read = page.backend.read

    def slow_first(service, **kwargs):
        if kwargs["where"].status == "Error":
            assert newer_shown.wait(30)
        return read(service, **kwargs)

    async def use() -> None:
        object.__setattr__(page.backend, "read", slow_first)
        try:
            page.status = "Error"
            await asyncio.sleep(0.05)
            page.param.update(status="", environment="staging")
            while page.working:
                await asyncio.sleep(0.01)
            assert sorted(rows_of(page)) == ["GitHub Staging", "Hubspot Sandbox"]
            newer_shown.set()
            await settled()
        finally:
            object.__delattr__(page.backend, "read")
        assert sorted(rows_of(page)) == ["GitHub Staging", "Hubspot Sandbox"]
        assert not page.working and not page.error

    run_async(use())


def test_a_superseded_screen_read_is_told_to_stop(page, run_async, settled):
    """Each screen is read with an event that stops it (SQLite, connmodel.budget): the one of
    a superseded input is set, the newest one's is not."""
    stops = []
    read = page.backend.read

    def noting(service, *, cancel=None, **kwargs):
        stops.append(cancel)
        return read(service, cancel=cancel, **kwargs)

    async def two_inputs() -> None:
        page.status = "Error"
        page.status = "Inactive"
        await settled()

    object.__setattr__(page.backend, "read", noting)
    try:
        run_async(two_inputs())
    finally:
        object.__delattr__(page.backend, "read")
    assert [stop.is_set() for stop in stops] == [True, False]
    shown = [row for rows in rows_of(page).values() for row in rows]
    assert shown and {status for *_, status in shown} == {"Inactive"} and not page.error


def test_a_read_failing_for_an_unexpected_reason_ends_the_working_state(page, run_async, settled,
                                                                       caplog):
    """A read that raises something other than a ConnModelError (a bug in a query) is logged
    with its traceback and shown as an error: the cards' loading overlay does not stay on over
    the rows, and the next input reads normally."""
    read = page.backend.read

    def failing(service, **kwargs):
        if kwargs["where"].status == "Error":
            raise RuntimeError("a bug in a query")
        return read(service, **kwargs)

    async def use() -> None:
        page.status = "Error"
        await settled()
        assert not page.working and "could not be read" in page.error
        assert "a bug in a query" not in page.error
        page.status = "Inactive"
        await settled()
        assert not page.working and not page.error and page.cards

    object.__setattr__(page.backend, "read", failing)
    try:
        run_async(use())
    finally:
        object.__delattr__(page.backend, "read")
    assert any(r.exc_info and "a bug in a query" in str(r.exc_info[1]) for r in caplog.records)


def test_bad_filter_is_an_error_not_a_crash(page, run_async, settled):
    async def use() -> None:
        page.search = "x" * 300
        await settled()
        assert "at most 200" in page.error
        page.search = ""
        await settled()
        assert page.error == "" and len(page.cards) == 6

    run_async(use())


def test_empty_database_says_so(sqlite_url, admin, run_async):
    model = ConnectionsPageModel(Backend(admin, sqlite_url))
    run_async(model.refresh())
    assert model.empty_database and model.cards == []


def test_database_down_is_shown_and_recovers(tmp_path, admin, keyring, run_async):
    from connmodel.schema import upgrade
    from connmodel.services.demo import seed_demo
    from connmodel.store import get_engine

    folder = tmp_path / "later"
    url = f"sqlite:///{folder / 'c.db'}"
    model = ConnectionsPageModel(Backend(admin, url))
    run_async(model.refresh())
    assert "cannot use the database" in model.error and model.cards == []
    assert run_async(model.catch_up(read_change(url))) is False
    assert "cannot use the database" in model.error
    folder.mkdir()
    upgrade(get_engine(url))
    with session(url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    assert run_async(model.catch_up(read_change(url))) is True
    assert model.error == "" and len(model.cards) == 6
    get_engine(url).dispose()


def test_a_change_made_elsewhere_is_caught_up(page, demo_url, admin, run_async):
    assert run_async(page.catch_up(read_change(demo_url))) is False
    with session(demo_url) as s:
        hub = list_connections(s, actor=admin, where=ConnectionFilter(profile="Hubspot")).items[0]
        revoke_connection(s, actor=admin, connection_id=hub.id)
    assert run_async(page.catch_up(read_change(demo_url))) is True
    assert rows_of(page)["Hubspot"] == []


def test_changes_coming_while_a_catch_up_reads_are_caught_up_by_one_more_read(
        page, run_async, changes_while_held):
    """Other pages revoking one after another: changes come while the last one's screen is
    still read. Each used to start a read that dropped the one before, so under a stream of
    changes no screen was ever shown and the spinner stayed (a click on the cards was refused
    for a minute on PostgreSQL). Now the read in flight is shown, then one more is made."""
    shown = []
    page.param.watch(lambda e: shown.append(e.new), "cards")
    reads = run_async(changes_while_held(page.catch_up, page.backend, "read"))
    assert (reads, len(shown)) == (2, 2)
    assert not page.working and not page.error


def test_cards_page_their_rows_and_profiles_page_too(sqlite_url, admin, keyring, run_async):
    with session(sqlite_url) as s:
        from connmodel.services.demo import seed_demo

        seed_demo(s, actor=admin, keyring=keyring)
        noauth = s.exec(select(Profile).where(Profile.name == "Noauth")).one()
        for i in range(2 * ROWS_PER_CARD + 3):
            s.add(Connection(profile_id=noauth.id, service="No Authentication Provider",
                             account=f"bot{i:02d}@example.com"))
        for i in range(12):
            s.add(Profile(name=f"Zz{i:02d}", provider_config_id=noauth.provider_config_id))
        s.commit()
    model = ConnectionsPageModel(Backend(admin, sqlite_url))
    run_async(model.refresh())
    assert len(model.cards) == 10 and model.profiles_total == 18
    card = next(c for c in model.cards if c.profile.name == "Noauth")
    assert len(card.rows) == ROWS_PER_CARD and card.total == 2 * ROWS_PER_CARD + 4
    assert len(run_async(card.load_more())) == ROWS_PER_CARD
    assert len(run_async(card.load_more())) == 4
    assert len(card.rows) == 2 * ROWS_PER_CARD + 4 and card.next_cursor is None
    assert run_async(card.load_more()) == []
    run_async(model.load_more_profiles())
    assert len(model.cards) == 18 and model.profiles_cursor is None
    assert all(c.rows == [] for c in model.cards if c.profile.name.startswith("Zz"))


def test_servers_stay_connected_while_only_reading(page, demo_url, admin):
    with session(demo_url) as s:
        states = {x.name: x.state for x in list_servers(s, actor=admin).items}
    # the demo's one disconnected server is the disabled Google Dev connection's
    assert {name for name, state in states.items() if state != "connected"} == {"Calendar"}


def demo_with_accounts(url: str, admin, keyring, rows: dict[str, int]) -> dict[str, int]:
    """The demo, plus `rows[name]` connections in each named profile ("noauth00@...", ...);
    returns those profiles' ids."""
    from connmodel.services.demo import seed_demo

    ids = {}
    with session(url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
        for name, n in rows.items():
            profile = s.exec(select(Profile).where(Profile.name == name)).one()
            ids[name] = profile.id
            s.add_all(Connection(profile_id=profile.id, service="svc",
                                 account=f"{name.lower()}{i:02d}@example.com") for i in range(n))
        s.commit()
    return ids


def test_catching_up_keeps_what_was_loaded(sqlite_url, admin, keyring, run_async):
    noauth_id = demo_with_accounts(sqlite_url, admin, keyring, {"Noauth": 2 * ROWS_PER_CARD})["Noauth"]
    model = ConnectionsPageModel(Backend(admin, sqlite_url))
    run_async(model.refresh())
    card = next(c for c in model.cards if c.profile.name == "Noauth")
    run_async(card.load_more())
    shown = [r.id for r in card.rows]
    with session(sqlite_url) as s:
        s.add(Connection(profile_id=noauth_id, service="No Authentication Provider",
                         account="zz-last@example.com"))
        s.commit()
    assert run_async(model.catch_up(read_change(sqlite_url))) is True
    again = next(c for c in model.cards if c.profile.name == "Noauth")
    assert [r.id for r in again.rows] == shown and again.next_cursor is not None
    run_async(again.load_more())
    assert again.rows[-1].account == "zz-last@example.com"


def test_catching_up_keeps_each_cards_own_length(sqlite_url, admin, keyring, run_async):
    """"Load more" in one card, then a change elsewhere: each card is re-read as long as it was
    (the other cards were re-read as long as the longest, and all sent to the browser anew)."""
    demo_with_accounts(sqlite_url, admin, keyring,
                       {"Noauth": 3 * ROWS_PER_CARD, "Hubspot": 3 * ROWS_PER_CARD})
    model = ConnectionsPageModel(Backend(admin, sqlite_url))
    run_async(model.refresh())
    noauth = next(c for c in model.cards if c.profile.name == "Noauth")
    run_async(noauth.load_more())
    lengths = {c.profile.name: len(c.rows) for c in model.cards}
    assert lengths["Noauth"] == 2 * ROWS_PER_CARD and lengths["Hubspot"] == ROWS_PER_CARD
    shown = [r.account for r in noauth.rows]
    hubspot = [r.account for r in next(c for c in model.cards if c.profile.name == "Hubspot").rows]
    with session(sqlite_url) as s:
        revoke_connection(s, actor=admin, connection_id=noauth.rows[0].id)
    assert run_async(model.catch_up(read_change(sqlite_url))) is True
    again = {c.profile.name: c for c in model.cards}
    assert {n: len(c.rows) for n, c in again.items()} == lengths
    noauth_now = [r.account for r in again["Noauth"].rows]
    assert noauth_now[:-1] == shown[1:] and noauth_now[-1] not in shown  # the next one comes in
    assert [r.account for r in again["Hubspot"].rows] == hubspot
    run_async(again["Hubspot"].load_more())  # its cursor continues where it stopped
    more = [r.account for r in again["Hubspot"].rows]
    assert more[:ROWS_PER_CARD] == hubspot and len(set(more)) == 2 * ROWS_PER_CARD
    assert more == sorted(more)


def test_a_header_click_sorts_that_card_in_sql_and_the_url_keeps_it(sqlite_url, admin, keyring,
                                                                    run_async):
    """Status ascending, then descending; "Load more" continues the same SQL order; other cards
    keep theirs; the sort is one URL value, read back when a session starts."""
    from connmodel.services.demo import seed_demo

    with session(sqlite_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
        noauth = s.exec(select(Profile).where(Profile.name == "Noauth")).one()
        for i in range(ROWS_PER_CARD + 2):
            s.add(Connection(profile_id=noauth.id, service="No Authentication Provider",
                             account=f"bot{i:02d}@example.com",
                             status=("Active", "Error", "Inactive")[i % 3]))
        s.commit()
    model = ConnectionsPageModel(Backend(admin, sqlite_url))
    run_async(model.refresh())
    index = next(i for i, c in enumerate(model.cards) if c.profile.name == "Noauth")
    card = model.cards[index]
    run_async(model.sort_card(index, "status"))
    assert [r.status for r in card.rows] == ["Active"] * 5 + ["Error"] * 4 + ["Inactive"]
    run_async(card.load_more())
    assert [r.status for r in card.rows][10:] == ["Inactive"] * 3
    run_async(model.sort_card(index, "status"))
    assert card.sort == "-status" and [r.status for r in card.rows][:4] == ["Inactive"] * 4
    assert len(card.rows) == 13  # as many rows as were shown, re-read in the new order
    assert model.sorts == f"{noauth.id}:-status"
    assert all(c.sort == "account" for c in model.cards if c is not card)
    again = ConnectionsPageModel(Backend(admin, sqlite_url), sorts=model.sorts)
    run_async(again.refresh())
    assert again.cards[index].sort == "-status"
    assert [r.id for r in again.cards[index].rows] == [r.id for r in card.rows][:10]
    run_async(model.sort_card(index, "nonsense"))  # not a column: nothing changes
    assert card.sort == "-status"
    run_async(model.sort_card(index, "account"))
    run_async(model.sort_card(index, "account"))
    assert card.sort == "-account" and model.sorts == f"{noauth.id}:-account"
