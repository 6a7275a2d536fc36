"""Revoke also revokes at the provider (RFC 7009), through a queue that survives restarts."""

import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import httpx
from authserver import CLIENT_ID, CLIENT_SECRET
from sqlalchemy import select
from test_oauth_flow import connect

from connmodel.models import AuditEvent, Connection, ProviderRevocation, utcnow
from connmodel.providers.client import TokenSet
from connmodel.providers.refresh import refresh_connection
from connmodel.providers.revocations import deliver_due
from connmodel.services.connections import revoke_connection
from connmodel.services.revocations import list_revocations
from connmodel.store import get_engine, session

SCRIPT = Path(sys.executable).parent / "connmodel"


def _revoke(url, keyring, admin, authserver):
    conn = connect(url, keyring, admin)
    with session(url) as s:
        token = TokenSet.from_json(keyring.decrypt(s.get(Connection, conn.id).credential_enc))
        revoke_connection(s, actor=admin, connection_id=conn.id)
    return conn, token


def test_revoke_with_provider_up_revokes_the_token_there(oauth_profile, keyring, admin,
                                                        authserver):
    _conn, token = _revoke(oauth_profile, keyring, admin, authserver)
    with session(oauth_profile) as s:
        assert [r.state for r in list_revocations(s, actor=admin)] == ["pending"]
        assert deliver_due(s, keyring=keyring, actor=admin) == {
            "delivered": 1, "retrying": 0, "given_up": 0}
        assert list_revocations(s, actor=admin) == []
        events = s.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars().all()
    assert events[-2:] == ["revoke", "provider.revoke"]
    assert not authserver.is_active(token.refresh_token)
    assert not authserver.is_active(token.access_token)
    # RFC 7662 introspection, as any resource server would ask:
    answer = httpx.post(f"{authserver.url}/introspect", data={"token": token.access_token},
                        auth=(CLIENT_ID, CLIENT_SECRET)).json()
    assert answer == {"active": False}


def test_revoke_with_provider_down_is_queued_and_delivered_after_restart(
        oauth_profile, keyring, admin, authserver):
    authserver_url = authserver.url
    _conn, token = _revoke(oauth_profile, keyring, admin, authserver)
    authserver.stop()
    with session(oauth_profile) as s:
        assert deliver_due(s, keyring=keyring, actor=admin)["retrying"] == 1
        [pending] = list_revocations(s, actor=admin)
        assert pending.attempts == 1 and "cannot reach" in pending.last_error
    # "process restart": a new engine and session, a new worker, the server back on its port
    get_engine(oauth_profile).dispose()
    get_engine.cache_clear()
    authserver.start()
    assert authserver.url == authserver_url
    with session(oauth_profile) as s:
        assert deliver_due(s, keyring=keyring, actor=admin)["delivered"] == 0  # backing off
        s.execute(ProviderRevocation.__table__.update().values(next_attempt_at=utcnow()))
        s.commit()
        assert deliver_due(s, keyring=keyring, actor=admin)["delivered"] == 1
    assert not authserver.is_active(token.refresh_token)


def test_revocation_is_given_up_after_a_bounded_time_with_an_audit_event(
        oauth_profile, keyring, admin, authserver):
    _revoke(oauth_profile, keyring, admin, authserver)
    authserver.fail["revoke"] = "503"
    with session(oauth_profile) as s:
        s.execute(ProviderRevocation.__table__.update().values(
            created_at=utcnow() - timedelta(days=4)))
        s.commit()
        assert deliver_due(s, keyring=keyring, actor=admin)["given_up"] == 1
        event = s.execute(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars().first()
        assert event.action == "provider.revoke.given_up" and "HTTP 503" in event.outcome
        assert list_revocations(s, actor=admin) == []
        assert list_revocations(s, actor=admin, pending_only=False)[0].state == "given up"


def test_queued_revocation_is_delivered_by_a_new_process(oauth_profile, keyring, admin,
                                                         authserver):
    conn = connect(oauth_profile, keyring, admin)
    authserver.stop()  # down before the revoke: the local revoke still completes at once
    with session(oauth_profile) as s:
        token = TokenSet.from_json(keyring.decrypt(s.get(Connection, conn.id).credential_enc))
        revoke_connection(s, actor=admin, connection_id=conn.id)
    env = {**os.environ, "CONNMODEL_ACTOR": "cron"}
    command = [str(SCRIPT), "revocations", "--deliver", "-d", oauth_profile]
    first = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env,
                           check=False)
    assert first.returncode == 0 and "1 retrying" in first.stdout
    authserver.start()
    with session(oauth_profile) as s:
        s.execute(ProviderRevocation.__table__.update().values(next_attempt_at=utcnow()))
        s.commit()
    second = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env,
                           check=False)
    assert second.returncode == 0 and "1 delivered" in second.stdout, second.stderr
    assert not authserver.is_active(token.refresh_token)


def test_a_token_refreshed_while_the_connection_is_revoked_is_revoked_too(
        oauth_profile, keyring, admin, authserver):
    conn = connect(oauth_profile, keyring, admin)
    authserver.token_gate.clear()  # the provider holds the refresh until the revoke is done
    asked = authserver.token_requests
    outcomes = []

    def refresher() -> None:
        with session(oauth_profile) as s:
            outcomes.append(refresh_connection(s, actor=admin, keyring=keyring,
                                               connection_id=conn.id))

    thread = threading.Thread(target=refresher)
    thread.start()
    while authserver.token_requests == asked:
        threading.Event().wait(0.02)
    with session(oauth_profile) as s:
        revoke_connection(s, actor=admin, connection_id=conn.id)
    authserver.token_gate.set()
    thread.join(30)
    assert outcomes[0].result == "superseded"
    with session(oauth_profile) as s:
        queued = s.execute(select(ProviderRevocation)).scalars().all()
        assert len(queued) == 2  # the token the revoke saw, and the one the refresh got
        assert deliver_due(s, keyring=keyring, actor=admin)["delivered"] == 2
    for row in queued:
        token = TokenSet.from_json(keyring.decrypt(row.credential_enc))
        assert not authserver.is_active(token.refresh_token)
