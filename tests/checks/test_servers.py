"""My Servers services: listing with the latest check, reconfigure after a revoke, add."""

import pytest
from sqlalchemy import select

from checks.conftest import connect
from connmodel.checks import CheckRequest, run_checks
from connmodel.errors import InvalidInput, NotFound, PermissionDenied, StateConflict
from connmodel.models import AuditEvent
from connmodel.services.connections import revoke_connection
from connmodel.services.servers import add_server, get_server, list_servers, reconfigure_server
from connmodel.store import session


@pytest.fixture
def two_profiles(store_url, admin, keyring, fleet):
    with session(store_url) as s:
        a = connect(s, actor=admin, keyring=keyring, profile="Noauth", kind="none",
                    servers={"Calculator": fleet.url("calculator"),
                             "Broken": fleet.url("plain")})
        b = connect(s, actor=admin, keyring=keyring, profile="Local", kind="none",
                    servers={"Spare": fleet.url("calculator")})
    return store_url, a.id, b.id


def test_listing_shows_latest_check_and_filters_in_sql(two_profiles, admin, keyring):
    url, a, b = two_profiles
    run_checks(url, actor=admin, keyring=keyring, request=CheckRequest(ids=(a,), timeout=5))
    with session(url) as s:
        rows = {r.name: r for r in list_servers(s, actor=admin).items}
        assert rows["Calculator"].health == "connected" and rows["Calculator"].tool_count == 2
        assert rows["Calculator"].connection_id == a and rows["Calculator"].checked_at
        assert rows["Broken"].health == "error"
        assert rows["Broken"].check_reason == "protocol error: Unexpected content type: text/html"
        assert rows["Spare"].checked_at is None and rows["Spare"].connection_id == b
        assert [r.name for r in list_servers(s, actor=admin, state="error").items] == ["Broken"]
        assert [r.name for r in list_servers(s, actor=admin, state="Connected").items] == \
            ["Calculator", "Spare"]
        assert [r.name for r in list_servers(s, actor=admin, search="spa").items] == ["Spare"]
        assert [r.name for r in list_servers(s, actor=admin, connection_id=b).items] == ["Spare"]
        first = list_servers(s, actor=admin, limit=2)
        rest = list_servers(s, actor=admin, limit=2, cursor=first.next_cursor)
        assert [r.name for r in first.items + rest.items] == ["Broken", "Calculator", "Spare"]
        assert first.total == 3 and rest.next_cursor is None
        with pytest.raises(InvalidInput, match="unknown state 'broken': choose one of"):
            list_servers(s, actor=admin, state="broken")


def test_revoke_disconnects_and_reconfigure_moves_and_reconnects(two_profiles, admin, viewer):
    url, a, b = two_profiles
    with session(url) as s:
        revoke_connection(s, actor=admin, connection_id=a)
        row = get_server(s, actor=admin, name="Calculator")
        assert row.health == "disconnected" and "reconfigure to reconnect" in (row.reason or "")
        assert row.connection_id is None
        assert [r.name for r in list_servers(s, actor=admin, state="disconnected").items] == \
            ["Broken", "Calculator"]
        with pytest.raises(StateConflict, match="profile 'Noauth' has no live connection"):
            reconfigure_server(s, actor=admin, name="Calculator", profile="Noauth")
        with pytest.raises(PermissionDenied):
            reconfigure_server(s, actor=viewer, name="Calculator", profile="Local")
        with pytest.raises(NotFound, match="no server named 'Nope'"):
            reconfigure_server(s, actor=admin, name="Nope", profile="Local")
        with pytest.raises(NotFound, match="no profile named 'Nope'"):
            reconfigure_server(s, actor=admin, name="Calculator", profile="Nope")
        moved = reconfigure_server(s, actor=admin, name="Calculator", profile="Local")
        assert (moved.profile, moved.health, moved.reason, moved.connection_id) == \
            ("Local", "connected", None, b)
        [event] = s.execute(select(AuditEvent).where(
            AuditEvent.action == "server.reconfigure")).scalars()
        assert (event.actor, event.target, event.outcome) == \
            ("alice", "server Calculator", "ok; profile Noauth → Local")


def test_a_server_is_only_connected_through_a_live_enabled_connection(two_profiles, admin):
    """Adding a server to (or moving one onto) a profile whose connections are revoked or
    disabled answered "connected", which the broker then refused. It is added disconnected with
    the reason (a disabled connection's own, so its Enable reconnects the server with the
    others), and a move there is refused with the remedy. (Found through the CLI: `server add
    Sheets -p Google` after Google's revoke said "connected".)"""
    from connmodel.providers.lifecycle import disable_connection, enable_connection

    url, a, b = two_profiles
    with session(url) as s:
        revoke_connection(s, actor=admin, connection_id=a)
        orphan = add_server(s, actor=admin, name="Orphan", url="http://127.0.0.1:9/mcp",
                            profile="Noauth")
        assert (orphan.state, orphan.reason) == (
            "disconnected", "profile Noauth has no live connection: connect it, then reconfigure")
        disable_connection(s, actor=admin, connection_id=b)
        parked = add_server(s, actor=admin, name="Parked", url="http://127.0.0.1:9/mcp",
                            profile="Local")
        s.commit()
        assert (parked.state, parked.reason) == (
            "disconnected", f"connection {b} disabled by alice; enable it to reconnect")
        with pytest.raises(StateConflict, match=f"profile 'Local' has only a disabled connection "
                                                f"\\({b}, disabled by alice\\): enable it first"):
            reconfigure_server(s, actor=admin, name="Orphan", profile="Local")
        assert enable_connection(s, actor=admin, connection_id=b).servers == ["Parked", "Spare"]
        assert get_server(s, actor=admin, name="Parked").health == "connected"


@pytest.mark.parametrize("url, message", [
    ("http://user:secret@mcp.example/mcp", "an MCP server URL may not carry a user or password"),
    ("http://mcp.example/m cp", "malformed URL 'http://mcp.example/m cp': it contains spaces"),
    ("http://mcp.example:99999/mcp", "malformed URL"),
    ("file:///etc/passwd", "malformed URL 'file:///etc/passwd': an MCP server URL is http(s)"),
    ("http://exämple..com/mcp", "malformed URL 'http://exämple..com/mcp': its host name cannot"),
    ("http://xn--zz/mcp", "malformed URL 'http://xn--zz/mcp': its host name cannot be encoded"),
    ("http://999.1.1.1/mcp", "malformed URL 'http://999.1.1.1/mcp': its host is not an IPv4"),
])
def test_add_server_refuses_bad_urls(sqlite_url, admin, url, message):
    with session(sqlite_url) as s, pytest.raises(InvalidInput) as info:
        add_server(s, actor=admin, name="Calc", url=url)
    assert str(info.value).startswith(message)
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("url", ["http://bücher.example/mcp", "http://xn--bcher-kva.example/mcp",
                                 "http://mcp_1.internal:8000/mcp", "http://[::1]:8000/mcp",
                                 "https://10.0.0.7/mcp"])
def test_add_server_takes_every_host_a_request_can_be_sent_to(sqlite_url, admin, url):
    with session(sqlite_url) as s:
        assert add_server(s, actor=admin, name="Calc", url=url).url == url


def test_add_server_then_check_it(sqlite_url, admin, keyring, fleet):
    with session(sqlite_url) as s:
        conn = connect(s, actor=admin, keyring=keyring, profile="Noauth", kind="none", servers={})
        add_server(s, actor=admin, name="New calc", url=fleet.url("calculator"), profile="Noauth")
        s.commit()
    [result] = run_checks(sqlite_url, actor=admin, keyring=keyring,
                          request=CheckRequest(ids=(conn.id,)))
    assert result.servers[0].server == "New calc" and result.tool_count == 2
