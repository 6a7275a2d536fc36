"""The read budget as the Connections page meets it (issue 24)."""

from sqlmodel import select

from connmodel.models import Connection
from connmodel.services.generate import generate
from connmodel.services.groups import GroupFilter
from connmodel.store import reading, session
from dashboard.viewmodels.actions import ActionsModel
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.connections import ConnectionsPageModel


def test_a_search_over_its_budget_says_what_to_do(sqlite_url, admin, keyring, run_async,
                                                  settled):
    """3,000 connections, a search that must test each of them (two letters outside ASCII: no
    index and no profile's terms narrow it; "zq" no longer reads a row), a budget nothing can
    meet."""
    with session(sqlite_url) as s:
        generate(s, actor=admin, connections=3000, profiles=12, keyring=keyring)
    page = ConnectionsPageModel(Backend(admin, sqlite_url, read_budget_s=1e-9))
    roomy = ConnectionsPageModel(Backend(admin, sqlite_url, read_budget_s=30))

    async def search() -> None:
        page.search = "ǅǅ"
        roomy.search = "ǅǅ"
        await settled()

    run_async(search())
    assert page.too_broad and not page.working
    assert page.error == "This search is too broad to answer in 1e-09 s: add letters or a filter"
    assert (roomy.error, roomy.too_broad, roomy.loaded, roomy.working) == ("", False, True, False)


def test_a_bulk_revoke_under_a_budget_no_read_meets_still_finishes(demo_url, admin, run_async):
    """Writes, and the reads of their batches, have no budget: every batch runs to the end."""
    actions = ActionsModel(Backend(admin, demo_url, read_budget_s=1e-9))
    run_async(actions.ask_revoke_matching(GroupFilter()))
    total = actions.pending.count
    run_async(actions.confirm())
    assert actions.message_kind == "success", actions.message
    with reading(demo_url) as s:
        live = s.exec(select(Connection).where(Connection.revoked_at.is_(None))).all()
    assert total > 1 and live == []
