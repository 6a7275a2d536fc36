"""The Connections page's widgets wired to real view models, without a browser."""

import pytest
from sqlmodel import select

from connmodel.models import Connection, Profile
from connmodel.services.demo import seed_demo
from connmodel.store import session
from dashboard.pages.connections import ConnectionsPage
from dashboard.viewmodels.actions import ActionsModel
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.connections import ROWS_PER_CARD, ConnectionsPageModel


def make_page(url, actor, run_async) -> ConnectionsPage:
    backend = Backend(actor, url)
    model = ConnectionsPageModel(backend)
    run_async(model.refresh())
    return ConnectionsPage(model=model, actions=ActionsModel(backend))


def cards(page: ConnectionsPage) -> dict[str, dict]:
    """What the browser gets: one dict per card."""
    return {c["name"]: c for c in page._cards.drawn()}


async def click(page: ConnectionsPage, action: str, ident: object) -> None:
    """What a click in the browser sends back (Panel awaits the handler on its loop)."""
    await page._cards._handle_msg({"action": action, "id": ident})


def test_load_more_selection_and_bulk_buttons(sqlite_url, admin, keyring, run_async, settled):
    with session(sqlite_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
        noauth = s.exec(select(Profile).where(Profile.name == "Noauth")).one()
        for i in range(ROWS_PER_CARD + 2):
            s.add(Connection(profile_id=noauth.id, service="No Authentication Provider",
                             account=f"bot{i:02d}@example.com"))
        s.commit()
    page = make_page(sqlite_url, admin, run_async)
    noauth = cards(page)["Noauth"]
    assert len(noauth["rows"]) == ROWS_PER_CARD and noauth["has_more"]
    run_async(click(page, "more", list(cards(page)).index("Noauth")))
    noauth = cards(page)["Noauth"]
    assert len(noauth["rows"]) == ROWS_PER_CARD + 3 and not noauth["has_more"]
    assert page._revoke_selected.disabled and page._revoke_matching.disabled
    page._cards.selected = [noauth["rows"][0]["id"], noauth["rows"][1]["id"]]
    assert page._revoke_selected.label == "Revoke selected (2)"
    assert not page._revoke_selected.disabled

    async def filter_errors() -> None:
        page.model.status = "Error"
        await settled()

    run_async(filter_errors())
    assert list(cards(page)) == ["GitHub Staging"] and not page._revoke_matching.disabled
    assert "Showing 1 of 1 profiles" in page._summary.object


def test_view_and_revoke_messages_reach_the_dialogs(demo_url, admin, run_async):
    page = make_page(demo_url, admin, run_async)
    google = cards(page)["Google"]["rows"][0]["id"]
    run_async(click(page, "view", google))
    assert page.actions.detail.profile == "Google"
    run_async(click(page, "revoke", google))
    assert page.actions.pending.servers == ["Drive", "Gsuite"]
    run_async(click(page, "revoke", "1; DROP TABLE"))  # ignored: not an id
    run_async(click(page, "more", 999))  # ignored: no such card
    run_async(page.actions.confirm())
    assert cards(page)["Google"]["rows"] == []
    assert cards(page)["Google"]["counts"]["Active"] == 0


def test_error_and_empty_states(tmp_path, sqlite_url, admin, run_async):
    down = make_page(f"sqlite:///{tmp_path / 'missing' / 'c.db'}", admin, run_async)
    assert down._error.title == "Cannot load connections." and "unable to open" in down._error.text
    assert not down._bulk.visible and not down._empty.visible
    empty = make_page(sqlite_url, admin, run_async)
    assert empty._empty.visible and "connmodel profile add" in empty._empty.object
    assert not empty._error.text


def test_a_failing_render_does_not_leave_the_cards_spinner_on(demo_url, admin, run_async,
                                                             settled):
    """The spinner follows the model's `working` before the cards are drawn: a render that
    raises (a bug, which Panel logs) leaves the rows clickable, not under the overlay."""
    page = make_page(demo_url, admin, run_async)
    show = page._cards.show

    def failing(*args, **kwargs):
        raise RuntimeError("a bug in drawing the cards")

    async def filter_errors() -> None:
        page.model.status = "Error"
        with pytest.raises(RuntimeError, match="a bug in drawing the cards"):
            await settled()

    object.__setattr__(page._cards, "show", failing)
    try:
        run_async(filter_errors())
    finally:
        object.__setattr__(page._cards, "show", show)
    assert not page.model.working and not page._cards.loading


def test_the_summary_says_whose_counts_it_shows(sqlite_url, admin, keyring, run_async):
    """With more profiles than a screen, the counts are those of the cards shown: the summary
    read "connections: 18 Error" for a filter matching 20 (`connmodel connections -s Error`)."""
    from connmodel.services.generate import generate

    with session(sqlite_url) as s:
        generate(s, actor=admin, connections=400, profiles=15, seed=3)
    page = make_page(sqlite_url, admin, run_async)
    assert page.model.profiles_cursor is not None
    assert page._summary.object.startswith("Showing 10 of 15 profiles — connections in these: ")
    run_async(page.model.load_more_profiles())
    assert page._summary.object.startswith("Showing 15 of 15 profiles — connections: ")
