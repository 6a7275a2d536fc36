"""Live checks against real MCP servers on loopback: what a user sees on the connection row."""

import asyncio
import concurrent.futures
import json
import time

import pytest
from sqlalchemy import func, select, update

from checks.conftest import API_KEY, BEARER_TOKEN, connect, connection_row, server_row
from checks.mcp_servers import LoopbackServers, calculator, mcp_app
from connmodel.checks import CheckRequest, run_checks, runner
from connmodel.checks.record import save_checks
from connmodel.checks.runner import check_interval
from connmodel.errors import InvalidInput, NotFound
from connmodel.models import AuditEvent, CheckResult, McpServer
from connmodel.services.connections import revoke_connection
from connmodel.services.servers import add_server
from connmodel.store import session


def check(url, admin, keyring, *ids, timeout=5.0, **kw):
    request = CheckRequest(ids=tuple(ids), timeout=timeout, **kw)
    return run_checks(url, actor=admin, request=request, keyring=keyring)


def test_no_auth_calculator_is_active_with_its_tools(store_url, admin, keyring, fleet):
    with session(store_url) as s:
        conn = connect(s, actor=admin, keyring=keyring, profile="Noauth", kind="none",
                       servers={"Calculator": fleet.url("calculator")})
    [result] = check(store_url, admin, keyring, conn.id)
    assert result.status == "Active" and result.tool_count == 2
    assert result.servers[0].latency_ms > 0
    row = connection_row(store_url, conn.id)
    assert row.status == "Active" and row.status_reason is None and row.checked_at
    server = server_row(store_url, "Calculator")
    assert (server.check_outcome, server.tool_count, server.state) == ("ok", 2, "connected")
    with session(store_url) as s:
        [stored] = s.execute(select(CheckResult)).scalars()
    assert (stored.status, stored.reachable, stored.tool_count) == ("Active", True, 2)


def test_api_key_right_and_wrong(sqlite_url, admin, keyring, fleet):
    with session(sqlite_url) as s:
        good = connect(s, actor=admin, keyring=keyring, profile="Hubspot", kind="api_key",
                       servers={"CRM": fleet.url("api_key")}, credential=API_KEY)
        bad = connect(s, actor=admin, keyring=keyring, profile="Hubspot Old", kind="api_key",
                      servers={"CRM old": fleet.url("api_key")}, credential="wrong-key-123456")
    results = {r.connection_id: r for r in check(sqlite_url, admin, keyring, good.id, bad.id)}
    assert results[good.id].status == "Active" and results[good.id].tool_count == 2
    assert results[bad.id].status == "Error"
    row = connection_row(sqlite_url, bad.id)
    assert row.status == "Error"
    assert row.status_reason == "CRM old: authentication failed: 401"
    assert "wrong-key" not in (row.status_reason or "")
    with session(sqlite_url) as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.action == "check")).scalars().all()
    assert [e.outcome for e in events] == ["Active → Error: CRM old: authentication failed: 401"]


def test_forbidden_says_403(sqlite_url, admin, keyring, fleet):
    with session(sqlite_url) as s:
        conn = connect(s, actor=admin, keyring=keyring, profile="Readonly", kind="api_key",
                       servers={"CRM": fleet.url("api_key")}, credential="read-only-key-0000")
    [result] = check(sqlite_url, admin, keyring, conn.id)
    assert (result.status, result.reason) == ("Error", "CRM: forbidden: 403")


def test_bearer_token_right_wrong_and_recovery(sqlite_url, admin, keyring, fleet):
    with session(sqlite_url) as s:
        good = connect(s, actor=admin, keyring=keyring, profile="Google", kind="oauth2",
                       servers={"Drive": fleet.url("bearer")},
                       credential=json.dumps({"access_token": BEARER_TOKEN, "refresh_token": "r"}),
                       status="Error")
        revoked = connect(s, actor=admin, keyring=keyring, profile="Google Old", kind="oauth2",
                          servers={"Gsuite": fleet.url("bearer")},
                          credential=json.dumps({"access_token": "revoked-token-abcdef"}))
        legacy = connect(s, actor=admin, keyring=keyring, profile="Google Legacy", kind="oauth2",
                         servers={"Drive old": fleet.url("bearer")},
                         credential="1//a-bare-refresh-token")
    results = {r.connection_id: r
               for r in check(sqlite_url, admin, keyring, good.id, revoked.id, legacy.id)}
    assert (results[good.id].previous_status, results[good.id].status) == ("Error", "Active")
    assert results[revoked.id].reason == "Gsuite: authentication failed: 401"
    assert results[legacy.id].reason == "no access token stored: re-authorize"


def test_stopped_server_is_unreachable_and_status_unchanged(sqlite_url, admin, keyring):
    own = LoopbackServers([mcp_app(calculator())]).start()
    with session(sqlite_url) as s:
        conn = connect(s, actor=admin, keyring=keyring, profile="Noauth", kind="none",
                       servers={"Calculator": own.url()})
    assert check(sqlite_url, admin, keyring, conn.id)[0].status == "Active"
    own.stop()
    [result] = check(sqlite_url, admin, keyring, conn.id)
    assert result.status == "Active" and not result.changed
    assert result.servers[0].outcome == "unreachable"
    assert result.servers[0].reason == "connection refused"
    row = connection_row(sqlite_url, conn.id)
    assert (row.status, row.status_reason) == ("Active", None)
    server = server_row(sqlite_url, "Calculator")
    assert (server.check_outcome, server.check_reason) == ("unreachable", "connection refused")
    assert server.tool_count == 2  # the last known count stays
    with session(sqlite_url) as s:
        reach = s.execute(select(CheckResult.reachable).order_by(CheckResult.id)).scalars().all()
    assert reach == [True, False]


@pytest.mark.parametrize("url", ["http://exämple..com/mcp", "http://999.1.1.1/mcp"])
def test_a_server_url_that_cannot_be_sent_leaves_the_status_alone(sqlite_url, admin, keyring,
                                                                  fleet, url):
    """A URL stored before `validate_url` refused its host was a "protocol error": the check
    turned the connection to Error, telling the admin to re-authenticate. The credential is
    not at fault; the server is not reached."""
    with session(sqlite_url) as s:
        conn = connect(s, actor=admin, keyring=keyring, profile="Noauth", kind="none",
                       servers={"Calculator": fleet.url("calculator")})
        s.execute(update(McpServer).values(url=url))
        s.commit()
    [result] = check(sqlite_url, admin, keyring, conn.id)
    assert (result.status, result.changed) == ("Active", False)
    assert result.servers[0].outcome == "unreachable"
    assert result.servers[0].reason.startswith("invalid URL: ")
    assert connection_row(sqlite_url, conn.id).status == "Active"


def test_bad_servers_each_give_a_reason_within_the_timeout(sqlite_url, admin, keyring, fleet):
    servers = {"Hangs": fleet.url("hanging"), "Web page": fleet.url("plain"),
               "Huge": fleet.url("huge"), "Legacy SSE": fleet.url("sse"),
               "TLS": fleet.url("calculator").replace("http:", "https:"),
               "Nowhere": "http://no-such-host.invalid/mcp", "Garbage": fleet.url("garbage"),
               "Drops": fleet.url("closes")}
    ids = []
    with session(sqlite_url) as s:
        for name, url in servers.items():
            ids.append(connect(s, actor=admin, keyring=keyring, profile=f"P {name}",
                               kind="none", servers={name: url}).id)
    started = time.perf_counter()
    results = check(sqlite_url, admin, keyring, *ids, timeout=1.5)
    assert time.perf_counter() - started < 10  # generous: CI machines are shared
    found = {r.servers[0].server: r.servers[0] for r in results}
    assert max(s.latency_ms for s in found.values()) < 1500 + 500
    assert found["Hangs"].reason == "timeout: no answer within 1.5 s"
    assert found["Web page"].reason == "protocol error: Unexpected content type: text/html"
    assert found["Huge"].reason == "protocol error: response larger than 10 MB"
    assert found["Legacy SSE"].outcome == "ok" and found["Legacy SSE"].tool_count == 2
    assert found["TLS"].outcome == "unreachable" and found["TLS"].reason.startswith("TLS error")
    assert found["Nowhere"].reason == "DNS lookup failed: unknown host"
    assert found["Garbage"].reason.startswith("protocol error: Failed to parse JSON response")
    assert found["Drops"].reason == "connection closed mid-response"
    statuses = {r.servers[0].server: r.status for r in results}
    assert statuses == {"Hangs": "Active", "Web page": "Error", "Huge": "Error",
                        "Legacy SSE": "Active", "TLS": "Active", "Nowhere": "Active",
                        "Garbage": "Error", "Drops": "Active"}


def test_progress_reports_every_connection_as_it_finishes(sqlite_url, admin, keyring, fleet,
                                                          monkeypatch):
    monkeypatch.setattr(runner, "LOAD_CHUNK", 2)  # three chunks of targets
    with session(sqlite_url) as s:
        ids = [connect(s, actor=admin, keyring=keyring, profile=f"P{i}", kind="none",
                       servers={f"Calc {i}": fleet.url("calculator")}).id for i in range(5)]
    seen = []
    results = run_checks(sqlite_url, actor=admin, keyring=keyring,
                         request=CheckRequest(all_connections=True, concurrency=2),
                         on_result=lambda c, done, total: seen.append((c.connection_id, done, total)))
    assert sorted(c for c, _, _ in seen) == ids
    assert [d for _, d, _ in seen] == [1, 2, 3, 4, 5] and {t for _, _, t in seen} == {5}
    assert len(results) == 5


def test_missing_credential_is_an_error_without_a_request(sqlite_url, admin, keyring, fleet):
    with session(sqlite_url) as s:
        conn = connect(s, actor=admin, keyring=keyring, profile="Keyless", kind="api_key",
                       servers={"CRM": fleet.url("api_key")})
    [result] = check(sqlite_url, admin, keyring, conn.id)
    assert (result.status, result.reason) == ("Error", "no credential stored: re-authenticate")
    [server] = result.servers
    assert (server.outcome, server.latency_ms) == ("error", None)  # marked, not contacted
    row = server_row(sqlite_url, "CRM")
    assert (row.check_outcome, row.check_reason) == ("error", "no credential stored: re-authenticate")


def test_bad_requests(sqlite_url, admin, viewer, keyring):
    with pytest.raises(InvalidInput, match="--all"):
        check(sqlite_url, admin, keyring)
    with pytest.raises(NotFound, match="no live connection with id 999"):
        check(sqlite_url, admin, keyring, 999)
    with pytest.raises(InvalidInput, match="concurrency"):
        CheckRequest(all_connections=True, concurrency=0)
    with pytest.raises(InvalidInput, match="timeout"):
        CheckRequest(all_connections=True, timeout=0)
    from connmodel.errors import PermissionDenied
    with pytest.raises(PermissionDenied):
        run_checks(sqlite_url, actor=viewer, keyring=keyring,
                   request=CheckRequest(all_connections=True))


def test_schedule_interval_is_off_by_default(monkeypatch):
    monkeypatch.delenv("CONNMODEL_CHECK_INTERVAL", raising=False)
    assert check_interval() is None
    assert check_interval("0") is None
    assert check_interval("300") == 300.0
    with pytest.raises(InvalidInput, match="must be a number of seconds, not 'often'"):
        check_interval("often")
    with pytest.raises(InvalidInput, match="between 30 seconds and a week, not 5"):
        check_interval("5")
    monkeypatch.setenv("CONNMODEL_CHECK_INTERVAL", "60")
    assert check_interval() == 60.0


def test_server_configured_for_sse_is_checked_over_sse(sqlite_url, admin, keyring, fleet):
    with session(sqlite_url) as s:
        conn = connect(s, actor=admin, keyring=keyring, profile="Legacy", kind="none", servers={})
        add_server(s, actor=admin, name="Old SSE", url=fleet.url("sse"), profile="Legacy",
                   transport="sse")
        s.commit()
    [result] = check(sqlite_url, admin, keyring, conn.id)
    assert (result.status, result.tool_count) == ("Active", 2)


def test_races_revoked_during_check_and_same_change_found_twice(sqlite_url, admin, keyring,
                                                                fleet):
    with session(sqlite_url) as s:
        bad = connect(s, actor=admin, keyring=keyring, profile="Stale", kind="api_key",
                      servers={"CRM": fleet.url("api_key")}, credential="stale-key-000000")
        gone = connect(s, actor=admin, keyring=keyring, profile="Gone", kind="none",
                       servers={"Calc": fleet.url("calculator")})
    results = {r.connection_id: r for r in check(sqlite_url, admin, keyring, bad.id, gone.id)}
    with session(sqlite_url) as s:
        revoke_connection(s, actor=admin, connection_id=gone.id)
        before = s.execute(select(func.count()).select_from(CheckResult)).scalar_one()
        save_checks(s, [results[bad.id], results[gone.id]], actor=admin, keyring=keyring)
        after = s.execute(select(func.count()).select_from(CheckResult)).scalar_one()
        changes = s.execute(select(AuditEvent).where(AuditEvent.action == "check")).scalars()
        assert after == before + 1  # only the live connection's server
        assert len(changes.all()) == 1  # Active → Error announced once


def test_sync_wrapper_works_inside_a_running_event_loop(sqlite_url, admin, keyring, fleet):
    """A notebook cell runs inside an event loop: run_checks then uses a loop of its own."""
    with session(sqlite_url) as s:
        conn = connect(s, actor=admin, keyring=keyring, profile="Noauth", kind="none",
                       servers={"Calculator": fleet.url("calculator")})

    async def notebook_cell():
        return check(sqlite_url, admin, keyring, conn.id)

    # The cell's loop runs in a thread of its own: pytest-playwright's sync API may already hold
    # a running loop in the main thread when this test runs after the browser tests.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        [result] = pool.submit(asyncio.run, notebook_cell()).result()
    assert result.status == "Active"


def test_a_round_of_checks_accounts_for_every_failed_server():
    """The dashboard's toast said "checked 6 connections: 2 in Error" over seven red servers:
    the ones not reached and those of Inactive connections were not counted."""
    from datetime import UTC, datetime

    from connmodel.checks import ConnectionCheck, Outcome, ServerCheck, tally

    def check(ident: int, before: str, after: str, *outcomes: Outcome) -> ConnectionCheck:
        servers = tuple(ServerCheck(i, f"S{ident}.{i}", "http://127.0.0.1:9/mcp", o, None, None)
                        for i, o in enumerate(outcomes))
        return ConnectionCheck(ident, "P", "svc", "a@example.com", before, after, None, servers,
                               datetime.now(UTC))

    results = [check(1, "Active", "Active", Outcome.UNREACHABLE),
               check(2, "Active", "Error", Outcome.ERROR, Outcome.ERROR),
               check(3, "Inactive", "Inactive", Outcome.ERROR),
               check(4, "Active", "Active", Outcome.OK, Outcome.UNREACHABLE)]
    assert tally(results) == ("checked 4 connections on 6 servers: 1 in Error, 1 Inactive, "
                              "2 servers not reached, 1 changed")
    assert tally(results[:1]) == ("checked 1 connection on 1 server: 0 in Error, 0 Inactive, "
                                  "1 server not reached, 0 changed")
