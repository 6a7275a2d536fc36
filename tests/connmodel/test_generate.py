"""`generate` on both stores: what lands, that it is reproducible, searchable and listable."""

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text

from connmodel.cli import run
from connmodel.errors import AlreadyExists, InvalidInput, PermissionDenied
from connmodel.models import AuditEvent, CheckResult, Connection, McpServer, Profile, ProviderConfig
from connmodel.schema import upgrade
from connmodel.services.connections import ConnectionFilter, list_connections
from connmodel.services.generate import generate
from connmodel.store import get_engine, session

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _generate(url: str, admin, keyring, n: int = 3000, profiles: int = 12, seed: int = 0):
    with session(url) as s:
        return generate(s, actor=admin, connections=n, profiles=profiles, seed=seed,
                        keyring=keyring, now=NOW)


def _snapshot(url: str) -> list[tuple]:
    """Every generated connection as a person would compare them: names, not ids."""
    with session(url) as s:
        rows = s.execute(
            select(Profile.name, Profile.environment, Connection.service, Connection.account,
                   Connection.status, Connection.status_reason, Connection.checked_at,
                   Connection.expires_at, Connection.last_used_at, Connection.created_at)
            .join(Profile, Profile.id == Connection.profile_id).order_by(Connection.id)
        ).all()
    return [tuple(r) for r in rows]


def test_counts_statuses_and_audit(store_url, admin, keyring):
    result = _generate(store_url, admin, keyring)
    assert (result.connections, result.profiles, result.provider_configs_created) == (3000, 12, 6)
    with session(store_url) as s:
        count = lambda model: s.execute(select(func.count()).select_from(model)).scalar_one()
        assert count(Connection) == 3000
        assert count(Profile) == 12
        assert count(McpServer) == result.servers >= 12
        assert count(CheckResult) == result.checks > 0
        by_status = dict(s.execute(select(Connection.status, func.count())
                                   .group_by(Connection.status)).all())
        assert by_status == result.by_status
        assert by_status["Active"] > 0.7 * 3000 and by_status["Inactive"] > 30
        assert by_status["Error"] > 30
        reasons = set(s.execute(select(Connection.status_reason)
                                .where(Connection.status != "Active")).scalars())
        assert None not in reasons
        assert "token expired" in reasons and "invalid_grant" in reasons
        assert any(r.startswith("disabled by ") for r in reasons)
        assert any("401" in r for r in reasons)
        envs = set(s.execute(select(Profile.environment)).scalars())
        assert envs == {"dev", "staging", "production"}
        accounts = set(s.execute(select(Connection.account)).scalars())
        assert "Configured" in accounts and any("@" in a for a in accounts)
        # nothing secret in clear: connections carry no credential, client secrets are Fernet
        assert s.execute(select(func.count()).where(Connection.credential_enc.is_not(None))
                         ).scalar_one() == 0
        for enc in s.execute(select(ProviderConfig.client_secret_enc)
                             .where(ProviderConfig.kind == "oauth2")).scalars():
            assert enc and keyring.decrypt(enc)
        (event,) = s.execute(select(AuditEvent).where(AuditEvent.action == "generate")).scalars()
        assert event.actor == admin.name and "3000 synthetic connections" in event.target


def test_a_load_written_in_chunks_is_whole(store_url, admin, keyring, monkeypatch):
    """Ten million rows are drawn and written a chunk at a time (memory stays bounded): every
    chunk lands, ids stay consecutive, one connection in CHECK_EVERY has its history, and the
    search index holds every row."""
    monkeypatch.setattr("connmodel.services.generate.CHUNK", 250)
    result = _generate(store_url, admin, keyring, n=1010, profiles=7)
    with session(store_url) as s:
        ids = s.execute(select(Connection.id).order_by(Connection.id)).scalars().all()
        assert len(ids) == 1010 and ids[-1] - ids[0] == 1009
        checked = s.execute(select(func.count(func.distinct(CheckResult.connection_id)))
                            ).scalar_one()
        assert checked == len(range(0, 1010, 25)) and result.checks == 3 * checked
        by_status = dict(s.execute(select(Connection.status, func.count())
                                   .group_by(Connection.status)).all())
        assert by_status == result.by_status
        configured = s.execute(select(func.count()).where(Connection.account == "Configured")
                               ).scalar_one()
        page = list_connections(s, actor=admin, where=ConnectionFilter(search="Configured"),
                                limit=1)
        assert (page.total, page.total_exact) == (configured, True)


def test_same_seed_same_data_on_both_files(tmp_path, sqlite_url, admin, keyring):
    other = f"sqlite:///{tmp_path / 'other.db'}"
    upgrade(get_engine(other))
    _generate(sqlite_url, admin, keyring, n=800, profiles=5, seed=7)
    _generate(other, admin, keyring, n=800, profiles=5, seed=7)
    assert _snapshot(sqlite_url) == _snapshot(other)
    third = f"sqlite:///{tmp_path / 'third.db'}"
    upgrade(get_engine(third))
    _generate(third, admin, keyring, n=800, profiles=5, seed=8)
    assert _snapshot(third) != _snapshot(sqlite_url)


@pytest.mark.postgres
def test_same_seed_same_data_on_sqlite_and_postgres(sqlite_url, postgres_url, admin, keyring):
    _generate(sqlite_url, admin, keyring, n=800, profiles=5, seed=3)
    _generate(postgres_url, admin, keyring, n=800, profiles=5, seed=3)
    assert _snapshot(sqlite_url) == _snapshot(postgres_url)


def test_search_finds_generated_accounts(store_url, admin, keyring, monkeypatch):
    _generate(store_url, admin, keyring)
    with session(store_url) as s:
        account = s.execute(select(Connection.account).where(Connection.account.contains("@"))
                            .order_by(Connection.id.desc()).limit(1)).scalar_one()
        needle = account.split("@")[0][2:]  # a substring from inside the local part
        expected = set(s.execute(select(Connection.id)
                                 .where(Connection.account.contains(needle))).scalars())
        for few_hits in (5_000, 0):  # PostgreSQL: rows by id list, or by the ILIKE walk
            monkeypatch.setattr("connmodel.search.FEW_HITS", few_hits)
            page = list_connections(s, actor=admin, where=ConnectionFilter(search=needle),
                                    limit=500)
            assert {c.id for c in page.items} == expected
            assert account in {c.account for c in page.items}
        if s.get_bind().dialect.name == "sqlite":  # the FTS index holds exactly the rows
            s.execute(text("INSERT INTO connection_fts(connection_fts) VALUES ('integrity-check')"))
            fts_rows = s.execute(text("SELECT count(*) FROM connection_fts")).scalar_one()
            assert fts_rows == 3000
            triggers = set(s.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'")
                                     ).scalars())
            assert "connection_fts_insert" in triggers
            config = dict(s.execute(text("SELECT k, v FROM connection_fts_config")).all())
            assert config.get("automerge", 4) == 4 and config.get("crisismerge", 16) == 16


def test_a_generated_text_index_is_one_segment(sqlite_url, admin, keyring, monkeypatch):
    """SQLite writes the text index of a load in segments of 64 MB of terms (27 at 10M rows),
    and a search looks each trigram up in every segment: the load merges them into one at
    its end. Here segments of 64 KB, as many a 10M load's 64 MB make."""
    monkeypatch.setattr("connmodel.services.generate.FTS_LOAD",
                        (("automerge", 0), ("crisismerge", 64), ("hashsize", 64 * 1024)))
    _generate(sqlite_url, admin, keyring)
    with session(sqlite_url) as s:
        segments = s.execute(text("SELECT count(DISTINCT segid) FROM connection_fts_idx")
                             ).scalar_one()
        s.execute(text("INSERT INTO connection_fts(connection_fts) VALUES ('integrity-check')"))
        page = list_connections(s, actor=admin, where=ConnectionFilter(search="example"),
                                limit=1)
        expected = s.execute(select(func.count()).where(
            Connection.account.contains("example") | Connection.service.contains("example"))
        ).scalar_one()
    assert segments == 1
    assert (page.total, page.total_exact) == (expected, True) and expected > 0


def test_listing_pages_through_a_generated_profile(store_url, admin, keyring):
    _generate(store_url, admin, keyring)
    with session(store_url) as s:
        profile, n = s.execute(
            select(Profile.name, func.count()).join(Connection, Connection.profile_id == Profile.id)
            .where(Connection.status == "Active").group_by(Profile.name)
            .order_by(func.count().desc()).limit(1)
        ).one()
        where = ConnectionFilter(profile=profile, status="active")
        seen, cursor = [], None
        while True:
            page = list_connections(s, actor=admin, where=where, sort="-last_used", cursor=cursor,
                                    limit=50)
            assert page.total == n
            seen.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
    assert len(seen) == len({c.id for c in seen}) == n
    assert {(c.profile, c.status) for c in seen} == {(profile, "Active")}
    used = [c.last_used_at for c in seen if c.last_used_at is not None]
    assert used == sorted(used, reverse=True)
    assert all(c.last_used_at is None for c in seen[len(used):])  # never used: last


def test_every_sort_pages_through_each_row_once_in_order(store_url, admin, keyring):
    """Keyset pages on NOT NULL columns are row-value ranges: no row skipped or repeated."""
    _generate(store_url, admin, keyring, n=600, profiles=3)
    with session(store_url) as s:
        expected = s.execute(select(func.count()).where(Connection.status == "Active")).scalar_one()
        for sort, field in (("account", "account"), ("-account", "account"),
                            ("-created", "created_at"), ("service", "service")):
            seen, cursor = [], None
            while True:
                page = list_connections(s, actor=admin, where=ConnectionFilter(status="Active"),
                                        sort=sort, cursor=cursor, limit=37, count=False)
                seen.extend(page.items)
                if (cursor := page.next_cursor) is None:
                    break
            assert len(seen) == len({c.id for c in seen}) == expected, sort
            keys = [(getattr(c, field), c.id) for c in seen]
            assert keys == sorted(keys, reverse=sort.startswith("-")), sort


def test_generate_twice_or_by_a_viewer_is_refused(sqlite_url, admin, viewer, keyring):
    with session(sqlite_url) as s, pytest.raises(PermissionDenied):
        generate(s, actor=viewer, connections=10, profiles=2)
    _generate(sqlite_url, admin, keyring, n=100, profiles=3)
    with pytest.raises(AlreadyExists, match="fresh database"):
        _generate(sqlite_url, admin, keyring, n=100, profiles=3)
    with session(sqlite_url) as s:  # nothing of the second run landed
        assert s.execute(select(func.count()).select_from(Connection)).scalar_one() == 100


@pytest.mark.parametrize(("n", "profiles", "message"), [
    (0, 1, "at least 1"), (-5, 1, "at least 1"), (10, 11, "cannot exceed"),
    (10, 0, "between 1"), (10**9, 1, "at most"), (2.5, 1, "whole number"),
])
def test_bad_sizes_are_refused(sqlite_url, admin, n, profiles, message):
    with session(sqlite_url) as s, pytest.raises(InvalidInput, match=message):
        generate(s, actor=admin, connections=n, profiles=profiles)


@pytest.mark.parametrize(("argv", "message"), [
    (["-n", "0"], "connections must be at least 1"),
    (["-n", "5", "-p", "6"], "profiles (6) cannot exceed connections (5)"),
    (["-n", "many"], "Invalid value for '--connections'"),
    (["-n", "10", "--seed", "x"], "Invalid value for '--seed'"),
])
def test_cli_bad_input_is_one_line(sqlite_url, keyring, capsys, argv, message):
    code = run(["generate", "-d", sqlite_url, *argv])
    out, err = capsys.readouterr()
    assert code != 0 and "Traceback" not in out + err
    assert err.count("\n") == 1 and message in err


def test_cli_generate_json(sqlite_url, keyring, capsys):
    assert run(["generate", "-d", sqlite_url, "-n", "300", "-p", "4", "-f", "json"]) == 0
    import json

    result = json.loads(capsys.readouterr().out)
    assert result["connections"] == 300 and result["profiles"] == 4
    assert sum(result["by_status"].values()) == 300


def test_the_bulk_load_connection_is_not_pooled_after(sqlite_url, admin, keyring):
    """generate's SQLite connection ran with a 256 MB page cache whose bookkeeping SQLite keeps
    (and clears on every later transaction after another writer): it is closed, not reused."""
    with session(sqlite_url) as s:
        loader = s.connection().connection.dbapi_connection
        generate(s, actor=admin, connections=500, profiles=3, seed=0, keyring=keyring, now=NOW)
    with session(sqlite_url) as s:
        assert s.connection().connection.dbapi_connection is not loader
        assert s.execute(select(func.count()).select_from(Connection)).scalar_one() == 500
    with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
        loader.execute("SELECT 1")


def _largest_log_during(url: str, load: Callable[[], object]) -> int:
    """The largest size the SQLite file's write-ahead log reached before any statement of
    `load` (SQLAlchemy's cursor events)."""
    log = Path(url.removeprefix("sqlite:///") + "-wal")
    sizes = [0]

    def measure(*_: object) -> None:
        sizes.append(log.stat().st_size if log.exists() else 0)

    engine = get_engine(url)
    event.listen(engine, "before_cursor_execute", measure)
    try:
        load()
    finally:
        event.remove(engine, "before_cursor_execute", measure)
    return max(sizes)


def _journal_mode(url: str) -> str:
    """The mode the file itself is in, as a tool other than connmodel opens it."""
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as other:
        return other.execute("PRAGMA journal_mode").fetchone()[0]


def test_a_load_alone_is_written_into_the_file_not_the_log(sqlite_url, admin, keyring):
    """With no other connection open, the rows go straight into the database file (the log
    would hold them all, be read back while the indexes are built and copied at the commit);
    after, the database is in WAL again, and whole."""
    result = _largest_log_during(sqlite_url, lambda: _generate(sqlite_url, admin, keyring,
                                                               n=20_000, profiles=10))
    size = Path(sqlite_url.removeprefix("sqlite:///")).stat().st_size
    assert size > 4_000_000 and result < size / 20
    assert _journal_mode(sqlite_url) == "wal"
    with session(sqlite_url) as s:
        assert s.execute(select(func.count()).select_from(Connection)).scalar_one() == 20_000
        assert s.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"


def test_a_load_beside_an_open_connection_goes_through_the_log(sqlite_url, admin, keyring):
    """Another connection open (a served dashboard): SQLite will not leave WAL, so the load
    goes through the log as before, and the other connection reads it once committed."""
    with closing(sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))) as dashboard:
        assert dashboard.execute("SELECT COUNT(*) FROM connection").fetchone() == (0,)
        logged = _largest_log_during(sqlite_url, lambda: _generate(sqlite_url, admin, keyring,
                                                                   n=20_000, profiles=10))
        assert logged > 4_000_000
        assert dashboard.execute("SELECT COUNT(*) FROM connection").fetchone() == (20_000,)
    assert _journal_mode(sqlite_url) == "wal"


def test_a_refused_load_leaves_the_database_in_wal_and_unchanged(sqlite_url, admin, keyring):
    _generate(sqlite_url, admin, keyring, n=100, profiles=3)
    before = _snapshot(sqlite_url)
    get_engine(sqlite_url).dispose()  # alone again: the second load leaves WAL, then fails
    with pytest.raises(AlreadyExists):
        _generate(sqlite_url, admin, keyring, n=100, profiles=3)
    assert _journal_mode(sqlite_url) == "wal"
    assert _snapshot(sqlite_url) == before


def test_a_load_killed_midway_leaves_nothing_behind(sqlite_url, tmp_path, keyring):
    """The journal of a load written into the file rolls it back when the process dies
    (SIGKILL, as a machine losing power would leave it): no row, no profile, no event."""
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    empty = path.stat().st_size
    load = subprocess.Popen(
        [sys.executable, "-m", "connmodel", "generate", "-d", sqlite_url, "-n", "400000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while path.stat().st_size < empty + 20_000_000:  # rows are being written into the file
            assert load.poll() is None, load.stderr.read() if load.stderr else ""
            assert time.monotonic() < deadline, "the load never reached the file"
            time.sleep(0.05)
        assert Path(f"{path}-journal").exists()
    finally:
        load.kill()
        load.wait()
    with session(sqlite_url) as s:
        count = lambda model: s.execute(select(func.count()).select_from(model)).scalar_one()
        assert (count(Connection), count(Profile), count(AuditEvent)) == (0, 0, 0)
        assert s.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    assert not Path(f"{path}-journal").exists() and _journal_mode(sqlite_url) == "wal"


def _schema(url: str) -> list[tuple]:
    """Every index and trigger with its definition, as the store describes them."""
    with session(url) as s:
        if s.get_bind().dialect.name == "sqlite":
            sql = "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')"
        else:
            sql = ("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                   "UNION ALL SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                   "WHERE NOT tgisinternal")
        return sorted(tuple(r) for r in s.execute(text(sql)))


def test_a_load_leaves_every_index_and_trigger_as_the_migrations_made_them(store_url, admin,
                                                                          keyring):
    """The load drops the indexes and triggers it catches up on (of `connection` and
    `check_result`) and makes them again from their own definitions."""
    before = _schema(store_url)
    assert any("check_result" in str(row) for row in before)
    _generate(store_url, admin, keyring)
    assert _schema(store_url) == before
