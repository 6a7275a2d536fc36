"""`connmodel check`, `server add|reconfigure` and `webhook` as the person at the terminal sees them."""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from servers import free_port
from sqlalchemy import func, select

from checks.conftest import API_KEY, connect
from connmodel.cli import run, tables
from connmodel.models import AuditEvent, Connection, McpServer
from connmodel.services.connections import revoke_connection
from connmodel.services.keys import checked_keyring
from connmodel.store import session


@pytest.fixture
def cli(capsys, monkeypatch, keyring):
    monkeypatch.setenv("CONNMODEL_ACTOR", "alice")
    monkeypatch.setattr(tables.console, "width", 200)

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = run(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_check_all_reports_and_exits_3_on_error(sqlite_url, admin, keyring, fleet, cli):
    with session(sqlite_url) as s:
        good = connect(s, actor=admin, keyring=keyring, profile="Hubspot", kind="api_key",
                       servers={"CRM": fleet.url("api_key")}, credential=API_KEY)
        bad = connect(s, actor=admin, keyring=keyring, profile="Stale", kind="api_key",
                      servers={"Old CRM": fleet.url("api_key")}, credential="stale-key-000000")
    code, out, err = cli("check", "--all", "-c", "4", "-t", "5", "-d", sqlite_url)
    assert code == 3, err
    assert "Traceback" not in err
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    assert "CRM: 2 tools in" in lines[str(good.id)]
    assert "Active → Error" in lines[str(bad.id)]
    assert "Old CRM: authentication failed: 401" in lines[str(bad.id)]
    assert "checked 2 connections on 2 servers: 1 in Error, 0 Inactive, 0 servers not reached, 1 changed" in out
    assert API_KEY not in out + err and "stale-key" not in out + err

    code, out, _ = cli("check", str(good.id), "-f", "json", "-d", sqlite_url)
    assert code == 0
    [result] = json.loads(out)
    assert (result["status"], result["tool_count"], result["servers"][0]["outcome"]) == \
        ("Active", 2, "ok")


@pytest.mark.parametrize("argv, message", [
    (("check",), "connmodel: error: name connection ids, a profile (--profile) or --all"),
    (("check", "42"), "connmodel: error: no live connection with id 42"),
    (("check", "--all", "--concurrency", "0"), "connmodel: error: concurrency must be between"),
    (("check", "--all", "--timeout", "-1"), "connmodel: error: timeout must be between"),
    (("check", "--profile", "Nope"), "connmodel: error: no profile named 'Nope'"),
    (("server", "add", "X", "--url", "ftp://x/y", "--profile", "P"),
     "connmodel: error: malformed URL 'ftp://x/y'"),
    (("server", "reconfigure", "Nope", "--profile", "P"), "connmodel: error: no server named"),
])
def test_bad_input_is_one_line(sqlite_url, cli, argv, message):
    code, _out, err = cli(*argv, "-d", sqlite_url)
    assert code != 0 and err.startswith(message), err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_server_add_and_reconfigure_after_revoke(sqlite_url, admin, keyring, fleet, cli):
    with session(sqlite_url) as s:
        old = connect(s, actor=admin, keyring=keyring, profile="Noauth", kind="none", servers={})
        connect(s, actor=admin, keyring=keyring, profile="Local", kind="none", servers={})
    code, out, err = cli("server", "add", "Calculator", "--url", fleet.url("calculator"),
                         "--profile", "Noauth", "-d", sqlite_url)
    assert code == 0, err
    assert out.startswith("added server Calculator (http://127.0.0.1:")
    assert out.strip().endswith("profile Noauth, connected")
    with session(sqlite_url) as s:
        revoke_connection(s, actor=admin, connection_id=old.id)
    code, out, err = cli("server", "reconfigure", "Calculator", "--profile", "Local",
                         "-f", "json", "-d", sqlite_url)
    assert code == 0, err
    row = json.loads(out)
    assert (row["profile"], row["health"], row["reason"]) == ("Local", "connected", None)


def test_webhook_commands(sqlite_url, cli, monkeypatch):
    monkeypatch.setenv("CONNMODEL_WEBHOOK_SECRET", "a-long-enough-secret-1")
    assert cli("webhook", "add", "http://127.0.0.1:9/hook", "-d", sqlite_url)[0] == 0
    _, out, _ = cli("webhook", "list", "-f", "json", "-d", sqlite_url)
    assert json.loads(out) == ["http://127.0.0.1:9/hook"]
    assert "a-long-enough" not in out
    _, out, _ = cli("webhook", "deliver", "-d", sqlite_url)
    assert out.strip() == "delivered 0, failed 0, pending 0"
    assert cli("webhook", "remove", "http://127.0.0.1:9/hook", "-d", sqlite_url)[0] == 0
    _code, _, err = cli("webhook", "remove", "http://127.0.0.1:9/hook", "-d", sqlite_url)
    assert err.strip() == "connmodel: error: no webhook for 'http://127.0.0.1:9/hook'"


def test_demo_server_makes_the_demo_calculator_answer(sqlite_url, admin, keyring, cli,
                                                       tmp_path):
    port = free_port()
    log = tmp_path / "demo-server.log"  # a file, not a pipe nobody reads (a full one hangs it)
    with log.open("wb") as out:
        server = subprocess.Popen([str(Path(sys.executable).with_name("connmodel")), "demo-server",
                                   "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline and server.poll() is None, log.read_text()[-3000:]
            time.sleep(0.1)
        with session(sqlite_url) as s:
            connect(s, actor=admin, keyring=keyring, profile="Noauth", kind="none",
                    servers={"Calculator": f"http://127.0.0.1:{port}/mcp"})
        code, out, err = cli("check", "--profile", "Noauth", "-f", "json", "-d", sqlite_url)
        assert code == 0, err
        assert json.loads(out)[0]["tool_count"] == 2
    finally:
        server.terminate()
        server.wait(10)
    assert cli("demo-server", "--port", "0")[2].startswith(
        "connmodel: error: port must be between 1 and 65535, not 0")


def test_check_refuses_a_wrong_key_before_checking_anything(sqlite_url, admin, keyring, fleet, cli,
                                                            monkeypatch):
    """No credential needs decrypting here: the key is still proven first, as other commands do."""
    with session(sqlite_url) as s:  # a check would move it to Error and record that
        connect(s, actor=admin, keyring=keyring, profile="Web", kind="none",
                servers={"Web page": fleet.url("plain")})
        checked_keyring(s)  # the key-check token, as `connmodel init` writes it
        s.commit()

    def stored() -> tuple[object, ...]:
        with session(sqlite_url) as s:
            return (s.execute(select(Connection.status, Connection.checked_at)).all(),
                    s.execute(select(McpServer.state, McpServer.reason)).all(),
                    s.execute(select(func.count(AuditEvent.id))).scalar_one())

    before = stored()
    monkeypatch.setenv("CONNMODEL_SECRET_KEY", Fernet.generate_key().decode())
    code, out, err = cli("check", "--all", "-d", sqlite_url)
    assert (code, out) == (2, "") and len(err.splitlines()) == 1
    assert err.startswith("connmodel: error: the secret key from CONNMODEL_SECRET_KEY cannot "
                          "decrypt the stored secrets")
    assert stored() == before

