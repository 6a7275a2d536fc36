"""Refresh against the real server: rotation, the two-refresher race, and the status rules."""

import json
import logging
import threading
from datetime import timedelta

import pytest
from authserver import CLIENT_SECRET
from sqlalchemy import select
from test_oauth_flow import connect

from connmodel.models import CheckResult, Connection, WebhookDelivery, utcnow
from connmodel.providers.client import TokenSet
from connmodel.providers.refresh import due_ids, refresh_connection, refresh_due
from connmodel.providers.revocations import deliver_due
from connmodel.services.connections import get_connection, revoke_connection
from connmodel.services.webhooks import add_webhook
from connmodel.store import session


def stored_token(url, keyring, connection_id) -> tuple[TokenSet, Connection]:
    with session(url) as s:
        row = s.get(Connection, connection_id)
        return TokenSet.from_json(keyring.decrypt(row.credential_enc)), row


def test_refresh_rotates_the_refresh_token(oauth_profile, keyring, admin, authserver):
    conn = connect(oauth_profile, keyring, admin)
    before, row = stored_token(oauth_profile, keyring, conn.id)
    with session(oauth_profile) as s:
        outcome = refresh_connection(s, actor=admin, keyring=keyring, connection_id=conn.id)
    after, row2 = stored_token(oauth_profile, keyring, conn.id)
    assert outcome.result == "refreshed"
    assert after.refresh_token != before.refresh_token
    assert not authserver.is_active(before.refresh_token)
    assert authserver.is_active(after.refresh_token)
    assert row2.token_version == row.token_version + 1 and row2.status == "Active"


def test_two_refreshers_at_once_never_lose_the_newer_token(oauth_profile_any_store, keyring,
                                                          admin, authserver):
    oauth_profile = oauth_profile_any_store
    conn = connect(oauth_profile, keyring, admin)
    barrier = threading.Barrier(2)
    outcomes = []

    def refresher() -> None:
        with session(oauth_profile) as s:
            s.get(Connection, conn.id)
            barrier.wait()
            outcomes.append(refresh_connection(s, actor=admin, keyring=keyring,
                                               connection_id=conn.id).result)

    threads = [threading.Thread(target=refresher) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["busy", "refreshed"]
    token, row = stored_token(oauth_profile, keyring, conn.id)
    assert row.status == "Active" and authserver.is_active(token.refresh_token)
    with session(oauth_profile) as s:  # and the next refresh works with what was stored
        assert refresh_connection(s, actor=admin, keyring=keyring,
                                  connection_id=conn.id).result == "refreshed"


def test_a_stale_writer_cannot_overwrite_a_newer_token(oauth_profile, keyring, admin,
                                                      authserver):
    conn = connect(oauth_profile, keyring, admin)
    with session(oauth_profile) as slow:
        stale = slow.get(Connection, conn.id)  # read version N, then someone else refreshes
        with session(oauth_profile) as fast:
            refresh_connection(fast, actor=admin, keyring=keyring, connection_id=conn.id)
        assert refresh_connection(slow, actor=admin, keyring=keyring,
                                  connection_id=stale.id).result == "busy"
    token, row = stored_token(oauth_profile, keyring, conn.id)
    assert authserver.is_active(token.refresh_token) and row.status == "Active"


def _expire(url, connection_id, *, drop_refresh: bool, keyring) -> None:
    with session(url) as s:
        row = s.get(Connection, connection_id)
        row.expires_at = utcnow() - timedelta(minutes=1)
        if drop_refresh:
            token = TokenSet.from_json(keyring.decrypt(row.credential_enc))
            row.credential_enc = keyring.encrypt(TokenSet(token.access_token).to_json())
        s.commit()


def test_expired_without_refresh_token_becomes_inactive(oauth_profile, keyring, admin):
    conn = connect(oauth_profile, keyring, admin)
    _expire(oauth_profile, conn.id, drop_refresh=True, keyring=keyring)
    with session(oauth_profile) as s:
        assert due_ids(s) == [conn.id]
        outcomes = refresh_due(s, actor=admin, keyring=keyring)
        view = get_connection(s, actor=admin, connection_id=conn.id)
    assert [o.result for o in outcomes] == ["expired"]
    assert (view.status, view.status_reason) == ("Inactive", "token expired")
    assert view.hint == "Token may have expired, re-authorize"


@pytest.mark.parametrize("failure, message", [
    ("invalid_grant", "invalid_grant: The refresh token has been revoked"),
    ("401", "invalid_client: Client authentication failed"),
    ("403", "HTTP 403: Forbidden: this client is suspended"),
])
def test_provider_refusal_becomes_error_with_its_message(oauth_profile, keyring, admin,
                                                        authserver, failure, message):
    conn = connect(oauth_profile, keyring, admin)
    authserver.fail["token"] = failure
    with session(oauth_profile) as s:
        outcome = refresh_connection(s, actor=admin, keyring=keyring, connection_id=conn.id)
        view = get_connection(s, actor=admin, connection_id=conn.id)
    assert outcome.result == "error"
    assert view.status == "Error" and message in view.status_reason
    assert view.hint == "Re-authenticate or check credentials"


def test_unreachable_provider_keeps_status_records_check_and_backs_off(oauth_profile, keyring,
                                                                      admin, authserver):
    conn = connect(oauth_profile, keyring, admin)
    _expire(oauth_profile, conn.id, drop_refresh=False, keyring=keyring)
    authserver.stop()
    with session(oauth_profile) as s:
        outcomes = refresh_due(s, actor=admin, keyring=keyring)
        row = s.get(Connection, conn.id)
        s.refresh(row)
        checks = s.execute(select(CheckResult).where(CheckResult.connection_id == conn.id)
                           ).scalars().all()
        assert [o.result for o in outcomes] == ["unreachable"]
        assert row.status == "Active" and row.refresh_failures == 1
        assert row.next_refresh_at > utcnow() + timedelta(seconds=20)
        assert checks[-1].reachable is False and "cannot reach" in checks[-1].reason
        assert due_ids(s) == []  # backing off
    authserver.start()
    with session(oauth_profile) as s:
        s.get(Connection, conn.id).next_refresh_at = utcnow()
        s.commit()
        assert [o.result for o in refresh_due(s, actor=admin, keyring=keyring)] == ["refreshed"]


def test_malformed_token_response_is_not_an_error_status(oauth_profile, keyring, admin,
                                                        authserver):
    conn = connect(oauth_profile, keyring, admin)
    authserver.fail["token"] = "malformed"
    with session(oauth_profile) as s:
        outcome = refresh_connection(s, actor=admin, keyring=keyring, connection_id=conn.id)
        assert outcome.result == "unreachable" and "malformed" in outcome.message
        assert s.get(Connection, conn.id).status == "Active"


def test_no_token_or_client_secret_in_any_log_record(oauth_profile, keyring, admin, authserver,
                                                     caplog):
    caplog.set_level(logging.DEBUG)
    conn = connect(oauth_profile, keyring, admin)
    first, _ = stored_token(oauth_profile, keyring, conn.id)
    with session(oauth_profile) as s:
        refresh_connection(s, actor=admin, keyring=keyring, connection_id=conn.id)
    second, _ = stored_token(oauth_profile, keyring, conn.id)
    authserver.fail["token"] = "invalid_grant"
    with session(oauth_profile) as s:
        refresh_connection(s, actor=admin, keyring=keyring, connection_id=conn.id)
        revoke_connection(s, actor=admin, connection_id=conn.id)
        deliver_due(s, keyring=keyring, actor=admin)
    ours = [r for r in caplog.records if r.threadName == "MainThread"]  # not the test server's
    logged = "\n".join(r.getMessage() for r in ours)
    assert any(r.name == "httpx2" for r in ours)  # the client side does log every request
    for secret in (CLIENT_SECRET, first.access_token, first.refresh_token, second.access_token,
                   second.refresh_token):
        assert secret not in logged


def test_refresh_status_changes_are_queued_for_webhooks(oauth_profile, keyring, admin,
                                                        authserver, monkeypatch):
    monkeypatch.delenv("CONNMODEL_WEBHOOK_URLS", raising=False)
    conn = connect(oauth_profile, keyring, admin)
    with session(oauth_profile) as s:
        add_webhook(s, actor=admin, url="http://127.0.0.1:9/hook", secret="s" * 20,
                    keyring=keyring)
        refresh_connection(s, actor=admin, keyring=keyring, connection_id=conn.id)  # no change
        authserver.fail["token"] = "invalid_grant"
        refresh_connection(s, actor=admin, keyring=keyring, connection_id=conn.id)
        events = [json.loads(p) for p in s.execute(select(WebhookDelivery.payload)).scalars()]
    assert [(e["event"], e["previous_status"], e["status"]) for e in events] == [
        ("connection.error", "Active", "Error")]
    assert "invalid_grant" in events[0]["reason"]
    assert events[0]["connection"]["account"] == "user@example.com"
