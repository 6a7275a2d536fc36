"""The provider commands as a person runs them: the OAuth loopback flow in a real process,
and connect / disable / enable / refresh / revocations in-process."""

import io
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from authserver import CLIENT_ID, CLIENT_SECRET, approve
from cryptography.fernet import Fernet
from sqlalchemy import func, select, update
from test_oauth_flow import connect as oauth_connect

from connmodel.cli import run, tables
from connmodel.models import AuditEvent, Connection, ProviderRevocation, utcnow
from connmodel.services.servers import add_server
from connmodel.store import session

SCRIPT = Path(sys.executable).parent / "connmodel"


@pytest.fixture
def cli(capsys, monkeypatch, keyring):
    monkeypatch.setenv("CONNMODEL_ACTOR", "alice")
    monkeypatch.setattr(tables.console, "width", 200)

    def invoke(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = run(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_connect_serves_its_own_loopback_callback(oauth_profile, admin):
    with session(oauth_profile) as s:
        add_server(s, actor=admin, name="Drive", url="https://drive.mcp.example/mcp")
        s.commit()
    proc = subprocess.Popen(
        [str(SCRIPT), "connect", "Local", "--server", "Drive", "-d", oauth_profile,
         "--timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "CONNMODEL_ACTOR": "alice"})
    try:
        assert proc.stdout.readline().startswith("Open this URL")
        url = proc.stdout.readline().strip()
        assert proc.stdout.readline().startswith("waiting for the callback")
        assert httpx.get(url).status_code == 200  # the consent page
        page = httpx.post(url, data={"decision": "approve"}, follow_redirects=True)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert page.status_code == 200
    assert "Local / Local OIDC / user@example.com (Active)" in page.text
    assert proc.returncode == 0, err
    assert out.strip() == "connection 1: Local / Local OIDC / user@example.com (Active)"
    assert err == ""


def test_print_url_then_finish_with_state_and_code(oauth_profile, cli):
    code, out, _ = cli("connect", "Local", "--print-url", "--redirect-uri",
                       "http://127.0.0.1:8765/oauth/callback", "-d", oauth_profile)
    assert code == 0
    url = out.splitlines()[1]
    params = approve(url)
    code, out, err = cli("connect", "Local", "--state", params["state"], "--code",
                         params["code"], "-d", oauth_profile)
    assert (code, err) == (0, "")
    assert "user@example.com (Active)" in out
    code, out, err = cli("connect", "Local", "--state", params["state"], "--code",
                         params["code"], "-d", oauth_profile)
    assert code == 2 and err.strip().endswith("(replayed state); start again")


def test_a_piped_secret_is_read_without_a_warning(sqlite_url, cli):
    """`echo KEY | connmodel update-key 1`, as the docs show, printed Python's GetPassWarning
    ("Can not control echo on the terminal ... Password input may be echoed") on every run."""
    assert cli("provider", "add", "Keys", "--kind", "api_key", "-d", sqlite_url)[0] == 0
    assert cli("profile", "add", "Hubspot", "--provider", "Keys", "-d", sqlite_url)[0] == 0
    assert cli("connect", "Hubspot", "-d", sqlite_url, stdin="sk-0123456789-7f3a\n")[0] == 0
    done = subprocess.run([str(SCRIPT), "update-key", "1", "-d", sqlite_url], check=False,
                          text=True, input="sk-piped-key-00004444\n", capture_output=True,
                          timeout=60, env={**os.environ, "CONNMODEL_ACTOR": "alice"})
    assert (done.returncode, done.stderr) == (0, "new API key: \n"), done.stderr
    assert done.stdout == "connection 1: Hubspot / Keys / Configured (Active)\n"
    with session(sqlite_url) as s:
        hint = s.execute(select(Connection.credential_hint)).scalar_one()
    assert hint == "4444"


def test_api_key_disable_enable_and_update_key(sqlite_url, cli):
    assert cli("provider", "add", "Keys", "--kind", "api_key", "-d", sqlite_url)[0] == 0
    assert cli("profile", "add", "Hubspot", "--provider", "Keys", "-d", sqlite_url)[0] == 0
    code, out, _ = cli("connect", "Hubspot", "-d", sqlite_url, stdin="sk-0123456789-7f3a\n")
    assert (code, out.strip()) == (0, "connection 1: Hubspot / Keys / Configured (Active)")
    assert "sk-0123456789" not in out
    code, out, _ = cli("disable", "1", "-d", sqlite_url)
    assert out.strip() == "connection 1 disabled (disabled by alice); disconnected: none"
    code, out, err = cli("disable", "1", "-d", sqlite_url)
    assert code == 1 and err == "connmodel: error: connection 1 is already disabled\n"
    assert cli("enable", "1", "-d", sqlite_url)[1].startswith("connection 1 enabled: Active")
    code, out, _ = cli("update-key", "1", "-d", sqlite_url, stdin="\n")
    assert code == 2
    code, out, _ = cli("update-key", "1", "-d", sqlite_url, stdin="sk-new-key-00009999\n")
    assert (code, out.strip()) == (0, "connection 1: Hubspot / Keys / Configured (Active)")
    code, out, _ = cli("reauthorize", "1", "-d", sqlite_url, stdin="sk-third-key-00001111\n")
    assert (code, out.strip()) == (0, "connection 1: Hubspot / Keys / Configured (Active)")


def test_add_oauth_provider_and_bad_issuer(sqlite_url, cli, authserver):
    code, out, err = cli("provider", "add-oauth", "Local OIDC", "--client-id", CLIENT_ID,
                         "--scopes", "openid email", "--issuer", authserver.url,
                         "-d", sqlite_url, stdin=CLIENT_SECRET + "\n")
    assert code == 0 and CLIENT_SECRET not in out + err
    assert out.strip() == ("provider config Local OIDC added (oauth2; token endpoint "
                           f"{authserver.url}/token)")
    code, out, err = cli("provider", "add-oauth", "Bad", "--client-id", CLIENT_ID,
                         "--issuer", "http://idp.example.com", "-d", sqlite_url,
                         stdin=CLIENT_SECRET + "\n")
    assert code == 2 and CLIENT_SECRET not in err
    assert err.splitlines()[-1] == ("connmodel: error: issuer URL 'http://idp.example.com' uses "
                                    "plain http: only https is allowed, except on a loopback "
                                    "host (127.0.0.1, ::1, localhost)")


def test_refresh_and_revocations_commands(oauth_profile, cli, authserver):
    params = approve(cli("connect", "Local", "--print-url", "--redirect-uri",
                         "http://127.0.0.1:8765/oauth/callback",
                         "-d", oauth_profile)[1].splitlines()[1])
    cli("connect", "Local", "--state", params["state"], "--code", params["code"],
        "-d", oauth_profile)
    code, out, _ = cli("refresh", "--id", "1", "-d", oauth_profile)
    assert code == 0 and "1 refreshed" in out
    authserver.fail["token"] = "invalid_grant"
    code, out, _ = cli("refresh", "--id", "1", "-d", oauth_profile)
    assert code == 3 and "1 error" in out
    authserver.fail.clear()
    code, out, _ = cli("reauthorize", "1", "--print-url", "-d", oauth_profile)
    params = approve(out.splitlines()[1], redirect_uri="http://127.0.0.1:8765/callback")
    code, out, _ = cli("connect", "Local", "--state", params["state"], "--code", params["code"],
                       "-d", oauth_profile)
    assert out.strip() == "connection 1: Local / Local OIDC / user@example.com (Active)"
    authserver.stop()
    assert cli("revoke", "1", "--yes", "-d", oauth_profile)[0] == 0
    code, out, _ = cli("revocations", "--deliver", "-d", oauth_profile)
    assert "2 retrying" in out and "pending" in out and "cannot reach" in out  # + replaced token


def _expire_soon(url: str, connection_id: int) -> int:
    """Make the connection due for refresh; returns its token_version."""
    with session(url) as s:
        row = s.get(Connection, connection_id)
        row.expires_at = utcnow() + timedelta(minutes=1)
        s.commit()
        return row.token_version


def test_refresh_watch_is_a_worker_at_lower_priority_that_stops_on_sigterm(oauth_profile, keyring,
                                                                         admin, authserver):
    conn = oauth_connect(oauth_profile, keyring, admin)
    version = _expire_soon(oauth_profile, conn.id)
    proc = subprocess.Popen(
        [str(SCRIPT), "refresh", "--watch", "1", "--nice", "5", "-d", oauth_profile],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "CONNMODEL_ACTOR": "alice"})
    try:
        assert proc.stdout.readline().startswith("refreshing tokens due within 0:10:00 every 1 s")
        first = proc.stdout.readline()
        assert "1 refreshed; provider revocations:" in first, first
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == os.getpriority(os.PRIO_PROCESS, 0) + 5
        assert "nothing due" in proc.stdout.readline()  # the next cycle, a second later
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    with session(oauth_profile) as s:
        assert s.get(Connection, conn.id).token_version == version + 1


def test_refresh_watch_takes_no_id(cli, sqlite_url):
    code, _, err = cli("refresh", "--watch", "5", "--id", "1", "-d", sqlite_url)
    assert code == 2
    assert err.splitlines()[-1] == "connmodel: error: --watch refreshes what is due; it takes no --id"


def _stored(url: str) -> tuple[list[tuple[object, ...]], ...]:
    """Everything a refresh or a delivery could change: connections, the queue, the audit trail."""
    with session(url) as s:
        return tuple(list(map(tuple, s.execute(select(*cols)).all())) for cols in (
            (Connection.id, Connection.status, Connection.status_reason, Connection.credential_enc,
             Connection.token_version, Connection.expires_at, Connection.checked_at),
            (ProviderRevocation.id, ProviderRevocation.attempts, ProviderRevocation.last_error,
             ProviderRevocation.next_attempt_at, ProviderRevocation.delivered_at,
             ProviderRevocation.given_up_at),
            (func.count(AuditEvent.id),)))


def test_refresh_and_deliver_refuse_a_wrong_key_and_change_nothing(oauth_profile, keyring, admin,
                                                                  authserver, cli, monkeypatch):
    """As every other secret-using command: one line, exit 2, nothing refreshed or claimed."""
    revoked = oauth_connect(oauth_profile, keyring, admin)
    authserver.fail["revoke"] = "503"
    assert cli("revoke", str(revoked.id), "--yes", "-d", oauth_profile)[0] == 0  # queued
    authserver.fail.clear()
    due = oauth_connect(oauth_profile, keyring, admin)
    _expire_soon(oauth_profile, due.id)
    with session(oauth_profile) as s:  # the queued revocation is due now
        s.execute(update(ProviderRevocation).values(next_attempt_at=utcnow() - timedelta(minutes=1)))
        s.commit()
    before = _stored(oauth_profile)
    monkeypatch.setenv("CONNMODEL_SECRET_KEY", Fernet.generate_key().decode())
    expected = cli("update-key", str(due.id), "-d", oauth_profile)  # a command that checks it
    assert expected[0] == 2 and "cannot decrypt" in expected[2]
    for argv in (["refresh", "--nice", "0"], ["refresh", "--id", str(due.id)],
                 ["refresh", "--watch", "1", "--nice", "0"], ["revocations", "--deliver"]):
        code, out, err = cli(*argv, "-d", oauth_profile)
        assert (code, out, err) == (2, "", expected[2]), argv
    assert _stored(oauth_profile) == before
