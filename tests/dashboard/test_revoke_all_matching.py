"""'Revoke all matching this filter' revokes every match, past the 10,000 a count stops at.

Issue 16: on 15,980 matches the dialog said "at least 10000", the outcome "Revoked 10000
connections." and 5,980 matching credentials stayed live. These tests confirm through the page's
view model, on real stores, and check the store itself: nothing matching left, one audit event
per revocation, and the outcome's number exact.
"""

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from connmodel.errors import NotFound
from connmodel.models import AuditEvent, Connection
from connmodel.paging import COUNT_CAP
from connmodel.services.connections import create_connection, revoke_many
from connmodel.services.generate import generate
from connmodel.services.groups import GroupFilter, count_matching
from connmodel.services.revoke_matching import revoke_next_batch, start
from connmodel.store import session
from dashboard.viewmodels.actions import ActionsModel
from dashboard.viewmodels.backend import Backend

ACTIVE = GroupFilter(status="Active")


def _live_active(url: str) -> int:
    with session(url) as s:
        return s.execute(select(func.count()).where(
            col(Connection.revoked_at).is_(None), col(Connection.status) == "Active")).scalar_one()


def _revoke_events(url: str) -> int:
    with session(url) as s:
        return s.execute(select(func.count()).where(
            col(AuditEvent.action) == "revoke")).scalar_one()


def test_revokes_every_match_past_the_count_cap(store_url, admin, run_async):
    with session(store_url) as s:
        matches = generate(s, actor=admin, connections=18_000, profiles=20).by_status["Active"]
    assert matches > 15_000
    actions = ActionsModel(Backend(admin, store_url))
    run_async(actions.ask_revoke_matching(ACTIVE))
    assert actions.pending.title == f"Revoke at least {COUNT_CAP} connections matching this filter?"
    run_async(actions.confirm())
    assert actions.message_kind == "success"
    assert actions.message.startswith(f"Revoked {matches} connections. Disconnected MCP servers: ")
    assert _live_active(store_url) == 0
    assert _revoke_events(store_url) == matches
    assert len(actions.revoked) == matches


def test_says_so_when_new_matches_appear_while_it_runs(demo_url, admin, keyring):
    """What matched at confirmation is revoked; what came to match meanwhile is told, not hidden."""
    with session(demo_url) as s:
        run = start(s, actor=admin, where=ACTIVE)
        before = count_matching(s, actor=admin, where=ACTIVE)[0]
        revoke_next_batch(s, actor=admin, run=run, limit=1)
        profile_id = s.execute(select(col(Connection.profile_id))).scalars().first()
        create_connection(s, actor=admin, profile_id=profile_id, account="late@example.com")
        s.commit()
        while not run.done:
            revoke_next_batch(s, actor=admin, run=run)
    assert run.revoked == before and run.appeared == 1
    assert run.summary().endswith(
        " 1 connection started matching the filter while it ran (added or changed) and was not "
        "revoked: revoke again to include them.")
    assert _live_active(demo_url) == 1


def test_a_batch_with_an_unknown_id_changes_nothing(demo_url, admin):
    with session(demo_url) as s:
        ids = list(s.execute(select(col(Connection.id))).scalars())
        with pytest.raises(NotFound, match="^no connection with id 999999$"):
            revoke_many(s, actor=admin, connection_ids=[*ids, 999_999])
    assert _revoke_events(demo_url) == 0
    with session(demo_url) as s:
        assert revoke_many(s, actor=admin, connection_ids=ids[:2]).already_revoked == []
        assert revoke_many(s, actor=admin, connection_ids=ids[:3]).already_revoked == ids[:2]
    assert _revoke_events(demo_url) == 3
