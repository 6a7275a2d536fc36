"""The per-process change watcher on real stores: told once per change, never per session.

On PostgreSQL a change is pushed by the migration's NOTIFY triggers (no poll: the safety poll is
set far beyond the test); a terminated LISTEN connection is reconnected and the next change
still arrives. On SQLite one poll per process finds it.
"""

import queue
import time

import pytest
from sqlalchemy import text

from connmodel.changes import Change, ChangeWatcher
from connmodel.services.connections import ConnectionFilter, list_connections, revoke_connection
from connmodel.store import session


def revoke_one(url: str, admin, profile: str) -> None:
    with session(url) as s:
        row = list_connections(s, actor=admin, where=ConnectionFilter(profile=profile)).items[0]
        revoke_connection(s, actor=admin, connection_id=row.id)


def next_change(changes: "queue.Queue[Change]", timeout: float) -> tuple[Change, float]:
    started = time.monotonic()
    change = changes.get(timeout=timeout)
    return change, time.monotonic() - started


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.postgres
def test_postgres_pushes_each_change_and_survives_a_killed_listen(postgres_url, keyring, admin):
    from connmodel.services.demo import seed_demo

    with session(postgres_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    watcher = ChangeWatcher(postgres_url, safety_poll_s=3600).start()
    changes: queue.Queue[Change] = queue.Queue()
    for _ in range(3):  # three sessions of one process: one read of the token per change
        watcher.subscribe(changes.put)
    try:
        wait_until(lambda: watcher.listening and watcher.last is not None)
        reads = watcher.reads
        time.sleep(1.5)
        assert watcher.reads == reads, "an idle store costs no query"
        revoke_one(postgres_url, admin, "Hubspot")
        first, took = next_change(changes, 5)
        assert took < 1.0 and first.error is None
        assert [changes.get(timeout=1) for _ in range(2)] == [first, first]
        assert watcher.reads == reads + 1

        with session(postgres_url) as s:  # what an operator's pg_terminate_backend does
            killed = s.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query = 'LISTEN connmodel_changes' AND datname = current_database()"
            )).scalars().all()
        assert killed == [True]
        wait_until(lambda: not watcher.listening, 5)
        wait_until(lambda: watcher.listening, 10)
        revoke_one(postgres_url, admin, "Google")
        second, took = next_change(changes, 5)
        assert second.token != first.token and took < 1.0
    finally:
        watcher.stop()


def test_sqlite_one_poll_per_process_finds_changes(sqlite_url, keyring, admin):
    from connmodel.services.demo import seed_demo

    demo_url = sqlite_url
    with session(demo_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    watcher = ChangeWatcher(demo_url, poll_s=0.2).start()
    changes: queue.Queue[Change] = queue.Queue()
    watcher.subscribe(changes.put)
    try:
        wait_until(lambda: watcher.last is not None)
        revoke_one(demo_url, admin, "Hubspot")
        change, took = next_change(changes, 5)
        assert change.error is None and took < 1.0
        assert changes.empty()
    finally:
        watcher.stop()
