"""My Servers without a browser: the view model and the page's widgets on real servers.

The model's reads and writes are coroutines (a worker thread per service call): a test runs
them on a loop of its own (`run_async`) and awaits the re-read a filter started (`settled`)."""

from cryptography.fernet import Fernet
from sqlalchemy import func, select

from checks.conftest import connect
from connmodel.changes import Change
from connmodel.models import AuditEvent, Connection, McpServer
from connmodel.services.connections import revoke_connection
from connmodel.services.keys import checked_keyring
from connmodel.store import session
from dashboard.components.server_summary import server_data
from dashboard.pages.servers import ServersPage
from dashboard.viewmodels.backend import Backend
from dashboard.viewmodels.servers import ServersPageModel

XSS = "<img src=x onerror=alert(1)>"


def make(url, actor, run_async) -> ServersPageModel:
    model = ServersPageModel(Backend(actor, url))
    run_async(model.refresh())
    return model


def test_check_all_fills_rows_as_results_arrive(sqlite_url, admin, keyring, fleet, run_async):
    with session(sqlite_url) as s:
        for i in range(3):
            connect(s, actor=admin, keyring=keyring, profile=f"P{i}", kind="none",
                    servers={f"Calc {i}": fleet.url("calculator")})
        connect(s, actor=admin, keyring=keyring, profile="Web", kind="none",
                servers={"Web page": fleet.url("plain")})
    model = make(sqlite_url, admin, run_async)
    page = ServersPage(model=model)
    assert [r.checked_at for r in model.rows] == [None] * 4
    seen = []
    model.param.watch(lambda e: seen.append((model.done, model.planned)), "done")
    run_async(model.check_all())
    assert seen[-1] == (4, 4) and len(seen) >= 1
    assert not model.checking
    health = {r.name: r.health for r in model.rows}
    assert health == {"Calc 0": "connected", "Calc 1": "connected", "Calc 2": "connected",
                      "Web page": "error"}
    assert model.message == ("checked 4 connections on 4 servers: 1 in Error, 0 Inactive, "
                             "0 servers not reached, 1 changed")
    assert model.message_kind == "error"
    assert "Web page: protocol error" in model.changes[0].outcome
    shown = page._rows.objects[3].server
    assert "protocol error: Unexpected content type: text/html" in shown["check"]


def test_reconfigure_after_revoke_and_add(sqlite_url, admin, keyring, fleet, run_async):
    with session(sqlite_url) as s:
        old = connect(s, actor=admin, keyring=keyring, profile="Noauth", kind="none",
                      servers={"Calculator": fleet.url("calculator")})
        connect(s, actor=admin, keyring=keyring, profile="Local", kind="none", servers={})
        revoke_connection(s, actor=admin, connection_id=old.id)
    model = make(sqlite_url, admin, run_async)
    page = ServersPage(model=model)
    [row] = model.rows
    assert row.health == "disconnected" and "reconfigure to reconnect" in row.reason
    run_async(model.check("Calculator"))
    assert model.message == "Calculator has no live connection to check: reconfigure it first"
    page.reconfiguring = "Calculator"
    assert page._reconfigure.open
    page._target.value = "Noauth"
    run_async(page._confirm_reconfigure())
    assert "profile 'Noauth' has no live connection" in model.message
    assert page._reconfigure.open
    page._target.value = "Local"
    run_async(page._confirm_reconfigure())
    assert not page._reconfigure.open
    assert model.rows[0].health == "connected" and model.rows[0].profile == "Local"
    page._add_name.value, page._add_url.value = "Second", "ftp://nope"
    page._add_profile.value = "Local"
    run_async(page._add())
    assert model.message.startswith("cannot add the server: malformed URL 'ftp://nope'")
    page._add_url.value = fleet.url("calculator")
    run_async(page._add())
    assert [r.name for r in model.rows] == ["Calculator", "Second"]
    assert page._add_name.value == ""


def test_filters_and_plain_values(sqlite_url, admin, viewer, keyring, fleet, run_async, settled):
    with session(sqlite_url) as s:
        connect(s, actor=admin, keyring=keyring, profile="Noauth", kind="none",
                servers={"Calculator": fleet.url("calculator"), "Other": fleet.url("plain")})
    model = make(sqlite_url, viewer, run_async)

    async def set_then_settle(**values) -> None:
        model.param.update(**values)
        await settled()

    run_async(set_then_settle(search="oth"))
    assert [r.name for r in model.rows] == ["Other"]
    run_async(set_then_settle(search=""))
    run_async(set_then_settle(state="disconnected"))
    assert model.rows == []
    shown_pages = []
    model.param.watch(lambda e: shown_pages.append([r.name for r in e.new]), "rows")

    async def type_ahead() -> None:  # two inputs before any read is back: the last one shows
        model.state = ""
        model.param.update(search="calc", profile="Noauth")
        await settled()

    run_async(type_ahead())
    assert shown_pages == [["Calculator"]]
    row = make(sqlite_url, viewer, run_async).rows[0].model_copy(update={"name": XSS, "reason": XSS,
                                                                  "profile": XSS})
    shown = server_data(row)  # the browser writes these with textContent (tests/ui)
    assert shown["name"] == shown["reason"] == shown["profile"] == XSS
    run_async(model.check_all())  # a viewer may not check
    assert model.message.startswith("check failed: victor (viewer) may not write")


def _stored(url: str) -> tuple[object, ...]:
    """What a check could change: connection statuses, server states, the audit trail."""
    with session(url) as s:
        return (s.execute(select(Connection.id, Connection.status, Connection.status_reason,
                                 Connection.checked_at)).all(),
                s.execute(select(McpServer.name, McpServer.state, McpServer.reason)).all(),
                s.execute(select(func.count(AuditEvent.id))).scalar_one())


def test_a_wrong_secret_key_fails_the_check_visibly_and_changes_nothing(sqlite_url, admin, keyring,
                                                                        fleet, run_async,
                                                                        monkeypatch):
    """No credential needs decrypting here, yet the key is proven before anything is checked."""
    with session(sqlite_url) as s:  # a check would move it to Error
        connect(s, actor=admin, keyring=keyring, profile="Web", kind="none",
                servers={"Web page": fleet.url("plain")})
        checked_keyring(s)  # the key-check token, as `connmodel init` writes it
        s.commit()
    model = make(sqlite_url, admin, run_async)
    before = _stored(sqlite_url)
    monkeypatch.setenv("CONNMODEL_SECRET_KEY", Fernet.generate_key().decode())
    run_async(model.check_all())
    assert model.message_kind == "error" and not model.checking
    assert model.message.startswith("check failed: the secret key from CONNMODEL_SECRET_KEY "
                                    "cannot decrypt the stored secrets"), model.message
    assert _stored(sqlite_url) == before


def test_a_change_during_the_first_read_still_brings_the_profile_choices(
        sqlite_url, admin, keyring, fleet, run_async):
    """A store change that lands while the page's first read is in flight supersedes it; the
    re-read it starts must bring what the first read would have: the profiles Reconfigure and
    Add server offer and the recent changes, not only the rows (they stayed empty)."""
    import asyncio

    
    with session(sqlite_url) as s:
        connect(s, actor=admin, keyring=keyring, profile="Noauth", kind="none",
                servers={"Calculator": fleet.url("calculator")})
        connect(s, actor=admin, keyring=keyring, profile="Local", kind="none", servers={})
    model = ServersPageModel(Backend(admin, sqlite_url))

    async def first_read_then_a_change() -> None:
        await asyncio.gather(model.refresh(), model.catch_up(Change((1, 1, 1, 1))))

    run_async(first_read_then_a_change())
    assert [r.name for r in model.rows] == ["Calculator"]
    assert model.profiles == ["Local", "Noauth"]


def test_changes_coming_while_a_catch_up_reads_are_caught_up_by_one_more_read(
        sqlite_url, admin, keyring, run_async, changes_while_held):
    """Changes made elsewhere one after another, each while the last one's rows are read:
    one more read after the one in flight, not a read per change dropping the one before."""
    with session(sqlite_url) as s:
        connect(s, actor=admin, keyring=keyring, profile="P", kind="none",
                servers={"Calc": "http://127.0.0.1:9/mcp"})
    model = make(sqlite_url, admin, run_async)
    assert run_async(changes_while_held(model.catch_up, model.backend, "acall")) == 2
    assert [r.name for r in model.rows] == ["Calc"] and not model.error
