"""View, Revoke and bulk revoke through the view model, on real stores, without a browser."""

import asyncio
import json
import re

import pytest
from sqlmodel import select

from connmodel.models import AuditEvent
from connmodel.services.connections import ConnectionFilter, list_connections, revoke_connection
from connmodel.services.demo import DEMO_SECRETS
from connmodel.services.groups import GroupFilter
from connmodel.services.servers import list_servers
from connmodel.store import session
from dashboard.viewmodels.actions import ActionsModel
from dashboard.viewmodels.backend import Backend
from dashboard.views.connection_dialogs import REVOKE_NOTE, detail_blocks, revoke_blocks


async def steps(actions: ActionsModel) -> list[int]:
    return [step async for step in actions.confirm_steps()]


def connection_id(url: str, admin, profile: str) -> int:
    with session(url) as s:
        return list_connections(s, actor=admin, where=ConnectionFilter(profile=profile)).items[0].id


def states(url: str, admin, profile: str) -> dict[str, str]:
    with session(url) as s:
        return {x.name: x.state for x in list_servers(s, actor=admin, profile=profile).items}


@pytest.fixture
def actions(demo_url, admin) -> ActionsModel:
    return ActionsModel(Backend(admin, demo_url))


def test_view_lists_servers_and_masks_secrets(actions, demo_url, admin, run_async):
    run_async(actions.view(connection_id(demo_url, admin, "Google")))
    detail = actions.detail
    assert [s.name for s in detail.mcp_servers] == ["Drive", "Gsuite"]
    page = json.dumps(detail_blocks(detail))
    assert "Gsuite" in page and "Drive" in page and "user@example.com" in page
    assert not any(secret in page or secret in detail.model_dump_json() for secret in DEMO_SECRETS)
    actions.close_view()
    assert actions.detail is None


def test_cancel_changes_nothing(actions, demo_url, admin, run_async):
    hub = connection_id(demo_url, admin, "Hubspot")
    run_async(actions.ask_revoke(hub))
    assert actions.pending.title == "Revoke Hubspot connection (Configured)?"
    assert actions.pending.servers == ["Hubspot CRM"]
    assert {"note": REVOKE_NOTE} in revoke_blocks(actions.pending)
    actions.cancel()
    assert actions.pending is None
    assert connection_id(demo_url, admin, "Hubspot") == hub
    assert states(demo_url, admin, "Hubspot") == {"Hubspot CRM": "connected"}


def test_a_disabled_connections_revoke_names_the_servers_its_disable_disconnected(
        actions, demo_url, admin, run_async):
    """The demo's Google Dev is disabled, its Calendar disconnected by that disable: the
    question said "no server" (it listed connected ones only), the revoke disconnected it."""
    run_async(actions.ask_revoke(connection_id(demo_url, admin, "Google Dev")))
    assert actions.pending.servers == ["Calendar"]
    run_async(actions.confirm())
    assert actions.message.endswith("Disconnected MCP servers: Calendar."), actions.message


def test_confirm_revokes_disconnects_and_tells(actions, demo_url, admin, run_async):
    run_async(actions.ask_revoke(connection_id(demo_url, admin, "Hubspot")))
    run_async(actions.confirm())
    assert actions.message_kind == "success"
    assert actions.message == ("Revoked Hubspot connection (Configured). "
                               "Disconnected MCP servers: Hubspot CRM.")
    assert states(demo_url, admin, "Hubspot") == {"Hubspot CRM": "disconnected"}
    with pytest.raises(IndexError):
        connection_id(demo_url, admin, "Hubspot")


def test_revoked_by_someone_else_first(actions, demo_url, admin, run_async):
    hub = connection_id(demo_url, admin, "Hubspot")
    run_async(actions.ask_revoke(hub))
    with session(demo_url) as s:
        revoke_connection(s, actor=admin, connection_id=hub)
    run_async(actions.confirm())
    assert actions.message_kind == "warning"
    # who revoked it, from the store (the same admin here: "someone else" was wrong)
    assert re.fullmatch(f"connection {hub} was already revoked by alice at .* UTC. Nothing was "
                        "changed.", actions.message), actions.message
    assert actions.pending is None and not actions.running


def test_viewer_may_look_but_not_revoke(demo_url, admin, viewer, run_async):
    actions = ActionsModel(Backend(viewer, demo_url))
    run_async(actions.view(connection_id(demo_url, admin, "Google")))
    assert actions.detail is not None
    run_async(actions.ask_revoke(connection_id(demo_url, admin, "Google")))
    run_async(actions.confirm())
    assert actions.message_kind == "error" and "may not write" in actions.message
    assert states(demo_url, admin, "Google") == {"Drive": "connected", "Gsuite": "connected"}


def test_bulk_revoke_matching_filter_in_batches(actions, demo_url, admin, run_async):
    where = GroupFilter(environment="staging")
    run_async(actions.ask_revoke_matching(where))
    request = actions.pending
    assert request.count == 2 and request.title == "Revoke 2 connections matching this filter?"
    assert request.servers == ["GitHub Issues", "Hubspot Sandbox CRM"]
    progress = run_async(steps(actions))
    assert progress[-1] == 2 and actions.message.startswith("Revoked 2 connections.")
    with session(demo_url) as s:
        events = len(s.exec(select(AuditEvent).where(AuditEvent.action == "revoke")).all())
        left = list_connections(s, actor=admin).items
    assert events == 2 and {c.environment for c in left} == {"dev", "production"}


def test_bulk_revoke_selected(actions, demo_url, admin, run_async):
    ids = [connection_id(demo_url, admin, p) for p in ("Noauth", "Google")]
    run_async(actions.ask_revoke_selected(ids))
    assert actions.pending.count == 2
    assert actions.pending.servers == ["Calculator", "Drive", "Gsuite"]
    run_async(actions.confirm())
    assert actions.message == ("Revoked 2 connections. "
                               "Disconnected MCP servers: Calculator, Drive, Gsuite.")


def test_dialogs_get_user_text_as_plain_values(actions, demo_url, admin, run_async):
    """No markup is built: the browser writes these values with textContent (tests/ui)."""
    run_async(actions.view(connection_id(demo_url, admin, "Google")))
    evil = actions.detail.model_copy(update={"profile": "<img src=x onerror=alert(1)>",
                                             "account": "<script>x</script>"})
    blocks = detail_blocks(evil)
    assert blocks[0] == {"heading": "<img src=x onerror=alert(1)> connection (<script>x</script>)"}
    assert ["Account", "<script>x</script>"] in blocks[1]["fields"]


def test_a_second_confirm_while_one_runs_does_nothing(actions, demo_url, admin, run_async):
    """Batches run in worker threads, so a second click on Confirm can arrive mid-way: it
    must not start the same revocation again (one run, one outcome)."""
    ids = [connection_id(demo_url, admin, p) for p in ("Noauth", "Google")]

    async def twice() -> None:
        await actions.ask_revoke_selected(ids)
        await asyncio.gather(actions.confirm(), actions.confirm())

    run_async(twice())
    assert actions.message == ("Revoked 2 connections. "
                               "Disconnected MCP servers: Calculator, Drive, Gsuite.")
    with session(demo_url) as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "revoke")).all()
    assert len(events) == 2 and actions.pending is None and not actions.running
