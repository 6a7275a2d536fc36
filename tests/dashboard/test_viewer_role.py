"""A viewer's Connections page offers no write action, and a replayed Revoke is refused and audited."""

import pytest
from sqlmodel import select

from connmodel.errors import PermissionDenied
from connmodel.models import AuditEvent, Connection
from connmodel.services.connections import revoke_connection
from connmodel.store import session
from dashboard.pages.connections import ConnectionsPage
from dashboard.viewmodels.actions import ActionsModel
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.connections import ConnectionsPageModel


def make_page(url, actor, run_async) -> ConnectionsPage:
    backend = Backend(actor, url)
    model = ConnectionsPageModel(backend)
    run_async(model.refresh())
    return ConnectionsPage(model=model, actions=ActionsModel(backend))


def denied_events(url: str) -> list[AuditEvent]:
    with session(url) as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.action == "denied")).all())


def test_viewer_sees_no_write_affordances_admin_does(demo_url, admin, viewer, run_async):
    as_viewer = make_page(demo_url, viewer, run_async)
    as_admin = make_page(demo_url, admin, run_async)
    assert not as_viewer.actions.backend.can_write and as_admin.actions.backend.can_write
    assert as_viewer._cards.can_write is False and as_admin._cards.can_write is True
    assert not as_viewer._bulk.visible and as_admin._bulk.visible
    assert as_viewer._cards.drawn()  # the viewer still sees every card


def test_replayed_revoke_as_viewer_is_refused_and_audited(demo_url, viewer, run_async):
    with session(demo_url) as s:
        target = s.exec(select(Connection).order_by(Connection.id)).first()
    page = make_page(demo_url, viewer, run_async)
    # the hidden button's message
    run_async(page._cards._handle_msg({"action": "revoke", "id": target.id}))
    assert page.actions.pending is not None
    run_async(page.actions.confirm())
    assert page.actions.message_kind == "error" and "may not" in page.actions.message
    with pytest.raises(PermissionDenied, match="victor \\(viewer\\) may not write"):
        page.actions.backend.call(revoke_connection, connection_id=target.id)
    events = denied_events(demo_url)
    assert len(events) == 2
    assert {(e.actor, e.target) for e in events} == {("victor", "revoke_connection")}
    with session(demo_url) as s:
        assert s.get(Connection, target.id).revoked_at is None
