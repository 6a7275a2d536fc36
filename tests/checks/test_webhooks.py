"""Webhook notifications: a real local HTTP receiver gets signed events; failures are retried."""

import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select
from sqlmodel import col

from checks.conftest import connect
from checks.mcp_servers import LoopbackServers, calculator, mcp_app
from connmodel.checks import CheckRequest, run_checks
from connmodel.errors import AlreadyExists, InvalidInput
from connmodel.models import AuditEvent, McpServer, Webhook, WebhookDelivery, utcnow
from connmodel.services.keys import sealing_ring
from connmodel.services.webhooks import add_webhook, list_webhooks, remove_webhook
from connmodel.store import session
from connmodel.webhooks import (
    SIGNATURE_HEADER,
    backoff,
    deliver_due,
    enqueue,
    env_targets,
    pending_count,
    prune_deliveries,
)

SECRET = "receiver-shared-secret-42"


class Receiver:
    """A real HTTP server that records what it is sent, answering with `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 204
        self.delay = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(outer.delay)
                outer.received.append((dict(self.headers), body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, object]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.httpd.shutdown()


def test_error_and_recovery_are_posted_signed(sqlite_url, admin, keyring, receiver):
    own = LoopbackServers([mcp_app(calculator())]).start()
    with session(sqlite_url) as s:
        add_webhook(s, actor=admin, url=receiver.url, secret=SECRET, keyring=keyring)
        conn = connect(s, actor=admin, keyring=keyring, profile="Noauth", kind="none",
                       servers={"Calculator": own.url().replace("/mcp", "/nope")},
                       status="Active")
    request = CheckRequest(ids=(conn.id,), timeout=5)
    assert run_checks(sqlite_url, actor=admin, keyring=keyring, request=request)[0].status == "Error"
    assert receiver.received == []  # the check only queued it
    with session(sqlite_url) as s:
        assert deliver_due(s, keyring=keyring).delivered == 1
    [(headers, body)] = receiver.received
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == expected
    event = json.loads(body)
    assert (event["event"], event["status"], event["previous_status"]) == \
        ("connection.error", "Error", "Active")
    assert event["connection"] == {"id": conn.id, "profile": "Noauth",
                                   "service": "Noauth provider", "account": "Configured"}
    assert "Calculator: protocol error: HTTP 404" in event["reason"]

    with session(sqlite_url) as s:  # fixed: point it at the real endpoint, check again
        s.execute(select(McpServer)).scalar_one().url = own.url()
        s.commit()
    run_checks(sqlite_url, actor=admin, keyring=keyring, request=request)
    run_checks(sqlite_url, actor=admin, keyring=keyring, request=request)  # no change: no event
    with session(sqlite_url) as s:
        deliver_due(s, keyring=keyring)
    assert [e["event"] for e in receiver.events()] == ["connection.error", "connection.recovered"]
    own.stop()


def test_failed_delivery_is_kept_and_retried_with_backoff(sqlite_url, admin, keyring, receiver,
                                                          monkeypatch):
    monkeypatch.setenv("CONNMODEL_WEBHOOK_URLS", receiver.url)
    monkeypatch.setenv("CONNMODEL_WEBHOOK_SECRET", SECRET)
    receiver.status = 503
    with session(sqlite_url) as s:
        conn = connect(s, actor=admin, keyring=keyring, profile="Keyless", kind="api_key",
                       servers={"CRM": "http://127.0.0.1:9/mcp"})
    run_checks(sqlite_url, actor=admin, keyring=keyring, request=CheckRequest(ids=(conn.id,)))
    with session(sqlite_url) as s:
        report = deliver_due(s, keyring=keyring)
        assert (report.delivered, report.failed, report.pending) == (0, 1, 1)
        row = s.execute(select(WebhookDelivery)).scalar_one()
        assert (row.attempts, row.last_error) == (1, "HTTP 503")
        assert row.next_attempt_at > utcnow() + timedelta(seconds=20)
        assert deliver_due(s, keyring=keyring).failed == 0  # not due yet
        receiver.status = 200
        report = deliver_due(s, keyring=keyring, now=utcnow() + timedelta(minutes=1))
        assert (report.delivered, report.pending) == (1, 0)
        assert pending_count(s) == 0
    assert len(receiver.received) == 2
    assert backoff(1) == timedelta(seconds=30) and backoff(3) == timedelta(seconds=120)
    assert backoff(30) == timedelta(hours=6)


def test_unreachable_receiver_never_blocks_a_check(sqlite_url, admin, keyring, monkeypatch):
    monkeypatch.setenv("CONNMODEL_WEBHOOK_URLS", "http://127.0.0.1:9/hook")
    monkeypatch.setenv("CONNMODEL_WEBHOOK_SECRET", SECRET)
    with session(sqlite_url) as s:
        conn = connect(s, actor=admin, keyring=keyring, profile="Keyless", kind="api_key",
                       servers={"CRM": "http://127.0.0.1:9/mcp"})
    [result] = run_checks(sqlite_url, actor=admin, keyring=keyring,
                          request=CheckRequest(ids=(conn.id,)))
    assert result.status == "Error"
    with session(sqlite_url) as s:
        report = deliver_due(s, keyring=keyring, timeout=1)
        assert report.failed == 1
        assert "ConnectError" in s.execute(select(WebhookDelivery.last_error)).scalar_one()


def test_webhook_configuration(sqlite_url, admin, viewer, keyring, monkeypatch):
    with session(sqlite_url) as s:
        add_webhook(s, actor=admin, url="http://127.0.0.1:9/a", secret=SECRET, keyring=keyring)
        with pytest.raises(AlreadyExists):
            add_webhook(s, actor=admin, url="http://127.0.0.1:9/a", secret=SECRET,
                        keyring=keyring)
        with pytest.raises(InvalidInput, match="at least 16 characters"):
            add_webhook(s, actor=admin, url="http://127.0.0.1:9/b", secret="short",
                        keyring=keyring)
        # the URL's messages are a webhook's (they spoke of MCP servers and profiles)
        with pytest.raises(InvalidInput, match="malformed URL 'ftp://x/a': a webhook URL is"):
            add_webhook(s, actor=admin, url="ftp://x/a", secret=SECRET, keyring=keyring)
        with pytest.raises(InvalidInput, match="^a webhook URL may not carry a user or password: "
                                               "its signing secret authenticates the deliveries$"):
            add_webhook(s, actor=admin, url="http://u:p@h/x", secret=SECRET, keyring=keyring)
        assert list_webhooks(s, actor=viewer) == ["http://127.0.0.1:9/a"]
        remove_webhook(s, actor=admin, url="http://127.0.0.1:9/a")
        assert list_webhooks(s, actor=admin) == []
    monkeypatch.setenv("CONNMODEL_WEBHOOK_URLS", "http://127.0.0.1:9/a")
    monkeypatch.delenv("CONNMODEL_WEBHOOK_SECRET", raising=False)
    with pytest.raises(InvalidInput, match="CONNMODEL_WEBHOOK_SECRET is not"):
        env_targets()


def test_the_audit_trail_names_a_webhook_without_its_secret_path(store_url, admin, keyring):
    """A Slack-style hook's token is its path; the trail is shown to every reader (Activity,
    `connmodel events`, the API), so it names the receiver by id and origin only."""
    hook = "https://hooks.example.com:8443/services/T0/B0/s3cr3tT0kenPath"
    with session(store_url) as s:
        add_webhook(s, actor=admin, url=hook, secret=SECRET, keyring=keyring)
        remove_webhook(s, actor=admin, url=hook)
        events = s.execute(select(AuditEvent.action, AuditEvent.target, AuditEvent.outcome)
                           .where(col(AuditEvent.action).like("webhook.%"))
                           .order_by(col(AuditEvent.id))).all()
    assert [(a, t) for a, t, _ in events] == [
        ("webhook.add", "webhook 1 (https://hooks.example.com:8443/…)"),
        ("webhook.remove", "webhook 1 (https://hooks.example.com:8443/…)")]
    assert not any("s3cr3t" in (o or "") for *_, o in events)


def test_check_run_delivers_after_storing_when_asked(sqlite_url, admin, keyring, receiver,
                                                     monkeypatch):
    monkeypatch.setenv("CONNMODEL_WEBHOOK_URLS", receiver.url)
    monkeypatch.setenv("CONNMODEL_WEBHOOK_SECRET", SECRET)
    with session(sqlite_url) as s:
        conn = connect(s, actor=admin, keyring=keyring, profile="Keyless", kind="api_key",
                       servers={"CRM": "http://127.0.0.1:9/mcp"})
    run_checks(sqlite_url, actor=admin, keyring=keyring, request=CheckRequest(ids=(conn.id,)),
               deliver_webhooks=True)
    assert [e["event"] for e in receiver.events()] == ["connection.error"]


def test_a_url_httpx_cannot_encode_fails_its_delivery_not_the_queue(sqlite_url, admin, keyring,
                                                                   receiver):
    """`http://exämple..com/` passed `webhook add` (urlsplit takes it) but httpx refuses its
    host (IDNA); the delivery fails on its own and the next one is still sent (it raised out
    of deliver_due: the worker died, and the claimed row blocked every later delivery).
    `webhook add` now refuses such hosts: these rows are as an older version stored them."""
    with session(sqlite_url) as s:
        sealed = sealing_ring(s, keyring).encrypt(SECRET)
        s.add_all([Webhook(url="http://exämple..com/hook", secret_enc=sealed),
                   Webhook(url="http://xn--zz/hook", secret_enc=sealed)])
        add_webhook(s, actor=admin, url=receiver.url, secret=SECRET, keyring=keyring)
        enqueue(s, keyring=keyring, event="connection.error", payload={"n": 1})
        s.commit()
        report = deliver_due(s, keyring=keyring)
        assert (report.delivered, report.failed, report.pending) == (1, 2, 2)
        errors = s.execute(select(WebhookDelivery.last_error)
                           .where(WebhookDelivery.delivered_at.is_(None))).scalars().all()
    assert all(e.startswith("invalid URL: ") for e in errors), errors
    assert len(receiver.received) == 1


@pytest.mark.parametrize(("urls", "message"), [
    ("http://[::1/hook", "malformed URL 'http://[::1/hook'"),
    ("hooks.example/x", "malformed URL 'hooks.example/x': a webhook URL is http(s)://host/"),
    ("http://u:hunter2@127.0.0.1:9/h", "a webhook URL may not carry a user or password"),
])
def test_environment_urls_are_held_to_the_rules_of_webhook_add(monkeypatch, urls, message):
    """$CONNMODEL_WEBHOOK_URLS was taken as it came: a malformed entry crashed the worker, and
    a password in one was written to the log with every failed delivery."""
    monkeypatch.setenv("CONNMODEL_WEBHOOK_URLS", f"http://127.0.0.1:9/ok,{urls}")
    monkeypatch.setenv("CONNMODEL_WEBHOOK_SECRET", SECRET)
    with pytest.raises(InvalidInput, match=re.escape(f"CONNMODEL_WEBHOOK_URLS: {message}")):
        env_targets()


def test_a_delivery_id_is_never_sent_twice_after_pruning(store_url, admin, keyring, receiver):
    """SQLite gives a new row the highest rowid + 1 (no AUTOINCREMENT): once the delivered rows
    were pruned, the next event went out as delivery 1 again, and a receiver deduplicating by
    X-Connmodel-Delivery would drop it."""
    with session(store_url) as s:
        add_webhook(s, actor=admin, url=receiver.url, secret=SECRET, keyring=keyring)
        for n in (1, 2):
            enqueue(s, keyring=keyring, event="connection.error", payload={"n": n})
            s.commit()
            assert deliver_due(s, keyring=keyring).delivered == 1
            assert prune_deliveries(s, older_than=utcnow() + timedelta(seconds=1)) == 1
            s.commit()
    ids = [headers["X-Connmodel-Delivery"] for headers, _ in receiver.received]
    assert len(ids) == 2 and ids[0] != ids[1], ids
