"""`connmodel worker`: background work once per deployment, however many workers race.

Two workers start at the same instant (a barrier) against one store: a real loopback receiver
gets every webhook event exactly once, and the scheduled check round runs once per interval.
"""

import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from checks.conftest import connect
from checks.test_webhooks import Receiver, receiver  # noqa: F401  (the fixture)
from connmodel.models import AuditEvent, CheckResult, utcnow
from connmodel.services.keys import checked_keyring
from connmodel.store import get_engine, session
from connmodel.webhooks import enqueue, pending_count
from connmodel.worker import CHECK_ROUND, Worker, claim_round, queue_depths

EVENTS = 30
SCRIPT = Path(sys.executable).parent / "connmodel"


def race(*jobs) -> list:
    """Run the jobs in threads released together; their results in order."""
    start = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i: int) -> None:
        start.wait()
        results[i] = jobs[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_workers_post_each_webhook_event_exactly_once(store_url, keyring, receiver,  # noqa: F811
                                                          monkeypatch):
    monkeypatch.setenv("CONNMODEL_WEBHOOK_URLS", receiver.url)
    monkeypatch.setenv("CONNMODEL_WEBHOOK_SECRET", "receiver-shared-secret-42")
    receiver.delay = 0.01  # a receiver that takes a moment widens the window two senders share
    with session(store_url) as s:
        for i in range(EVENTS):
            enqueue(s, keyring=keyring, event="connection.error", payload={"n": i})
        s.commit()
    cycles = race(Worker(store_url, keyring).run_once, Worker(store_url, keyring).run_once)
    ids = Counter(headers["X-Connmodel-Delivery"] for headers, _ in receiver.received)
    assert len(ids) == EVENTS and set(ids.values()) == {1}, ids.most_common(3)
    assert sum(c.webhooks_delivered for c in cycles) == EVENTS
    with session(store_url) as s:
        assert pending_count(s) == 0
        depths = queue_depths(s)
        assert depths.webhooks == 0 and depths.worker_lag_s is not None
        assert 0 <= depths.worker_lag_s < 30


def test_the_check_round_runs_once_per_interval_whatever_the_workers(store_url, admin, keyring,
                                                                      fleet):
    with session(store_url) as s:
        connect(s, actor=admin, keyring=keyring, profile="Noauth", kind="none",
                servers={"Calculator": fleet.url("calculator")})
    workers = [Worker(store_url, keyring, check_every=60) for _ in range(3)]
    cycles = race(*(w.run_once for w in workers)) + race(*(w.run_once for w in workers))
    assert [c.checked for c in cycles].count(1) == 1
    assert [c.checked for c in cycles].count(None) == 5
    with session(store_url) as s:
        assert s.scalar(select(func.count()).select_from(CheckResult)) == 1
        assert not s.scalar(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.action == "check"))  # Active stayed Active
        later = utcnow() + timedelta(seconds=61)
        assert claim_round(s, CHECK_ROUND, timedelta(seconds=60), later)  # the next interval
        assert not claim_round(s, CHECK_ROUND, timedelta(seconds=60), later)


def test_a_worker_cycle_survives_an_unusable_database(keyring):
    cycle = Worker("postgresql://u@127.0.0.1:1/x", keyring, check_every=60).run_once()
    assert cycle.errors and "cannot use the database" in cycle.errors[0]


def test_a_worker_refuses_to_start_with_a_misconfigured_webhook_list(sqlite_url, keyring,
                                                                     monkeypatch, tmp_path):
    """Webhook URLs without a secret failed every check round (no result recorded) while
    `connmodel worker --once` exited 0: cron saw success. It now stops at start, exit 2."""
    monkeypatch.setenv("CONNMODEL_WEBHOOK_URLS", "http://127.0.0.1:9/hook")
    monkeypatch.delenv("CONNMODEL_WEBHOOK_SECRET", raising=False)
    env = {**os.environ, "CONNMODEL_DATABASE_URL": sqlite_url, "CONNMODEL_CHECK_INTERVAL": "60"}
    done = subprocess.run([str(SCRIPT), "worker", "--once"], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 2, done
    assert done.stderr.strip() == ("connmodel: error: CONNMODEL_WEBHOOK_URLS is set but "
                                   "CONNMODEL_WEBHOOK_SECRET is not: deliveries must be signed")
    assert done.stdout == ""


def _worker_once(database_url: str) -> subprocess.CompletedProcess[str]:
    """`connmodel worker --once` as cron runs it: its own process, its output captured."""
    return subprocess.run([str(SCRIPT), "worker", "--once", "-d", database_url],
                          capture_output=True, text=True, timeout=120, check=False)


def test_worker_once_exits_1_when_its_cycle_had_errors(sqlite_url, keyring):
    """A refresh that failed (here: a table gone) was printed as "error: …" and exited 0, so
    cron saw success."""
    with session(sqlite_url) as s:
        checked_keyring(s)  # the key is proven first, as on a database in use
        s.commit()
    with get_engine(sqlite_url).begin() as c:
        c.execute(text("DROP TABLE provider_revocation"))
    done = _worker_once(sqlite_url)
    assert done.returncode == 1, done
    assert "error: " in done.stdout  # the cycle's summary, as before
    assert done.stderr.splitlines()[-1].startswith(
        "connmodel: error: the worker cycle had 1 error: ")
    assert "no such table: provider_revocation" in done.stderr


def test_a_failed_delivery_logs_the_receiver_without_its_secret_path(
        sqlite_url, keyring, receiver, monkeypatch):  # noqa: F811
    """A Slack-style hook carries its token in the path; the warning of a failed delivery
    wrote the whole URL to the worker's log."""
    token = "XXXXsecret0token0in0the0path"
    base = receiver.url.removesuffix("/hook")
    monkeypatch.setenv("CONNMODEL_WEBHOOK_URLS", f"{base}/services/T000/B000/{token}")
    monkeypatch.setenv("CONNMODEL_WEBHOOK_SECRET", "receiver-shared-secret-42")
    receiver.status = 500
    with session(sqlite_url) as s:
        enqueue(s, keyring=keyring, event="connection.error", payload={"n": 1})
        s.commit()
    done = _worker_once(sqlite_url)
    assert done.returncode == 0, done  # a receiver down is retried: not the worker's failure
    assert len(receiver.received) == 1
    assert f"webhook delivery 1 to {base}/… failed (attempt 1): HTTP 500" in done.stderr
    assert token not in done.stdout + done.stderr
