"""A database that cannot be used is one clear StoreUnavailable, never a traceback or a password."""

import pytest
from sqlalchemy import select

from connmodel.errors import StoreUnavailable
from connmodel.models import Profile
from connmodel.store import session

PASSWORD = "hunter2-Sekr1t"


def _error_using(url: str) -> str:
    with pytest.raises(StoreUnavailable) as info, session(url) as s:
        s.execute(select(Profile.id)).all()
    message = str(info.value)
    assert PASSWORD not in message
    assert "\n" not in message
    return message


def test_unreachable_postgresql():
    message = _error_using(f"postgresql+psycopg://bob:{PASSWORD}@127.0.0.1:1/connmodel")
    assert message.startswith("cannot use the database postgresql+psycopg://bob:***@127.0.0.1:1/")
    assert "refused" in message


def test_unknown_postgresql_host():
    message = _error_using(f"postgresql://bob:{PASSWORD}@no-such-host.invalid/connmodel")
    assert "no-such-host.invalid" in message


def test_unknown_connection_option():
    message = _error_using(f"postgresql://bob:{PASSWORD}@127.0.0.1/db?bogus_option=1")
    assert message.startswith("cannot use the database postgresql+psycopg://bob:***@127.0.0.1/")
    assert 'invalid connection option "bogus_option"' in message


@pytest.mark.parametrize("url", [
    "not a url",
    f"://bob:{PASSWORD}@localhost/db",
    f"postgresql://bob:{PASSWORD}@localhost:notaport/db",
])
def test_malformed_url(url):
    assert "malformed database URL" in _error_using(url)


@pytest.mark.parametrize("url", [
    f"mysql://bob:{PASSWORD}@localhost/db",
    f"oracle://bob:{PASSWORD}@localhost/db",
    f"postgresql+asyncpg://bob:{PASSWORD}@127.0.0.1/db",
    f"postgresql+psycopg2://bob:{PASSWORD}@127.0.0.1/db",
])
def test_unsupported_scheme_or_driver(url):
    message = _error_using(url)
    assert message.startswith("unsupported database")
    assert "sqlite:///" in message and "postgresql://" in message


def test_sqlite_file_in_missing_directory(tmp_path):
    message = _error_using(f"sqlite:///{tmp_path}/no/such/dir/connmodel.db")
    assert "unable to open database file" in message


def test_sqlite_path_is_a_directory(tmp_path):
    assert "unable to open database file" in _error_using(f"sqlite:///{tmp_path}")


def test_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 200)
    message = _error_using(f"sqlite:///{path}")
    assert "file is not a database" in message
    assert path.read_text().startswith("these are my notes")


def test_empty_database_says_run_init(tmp_path):
    message = _error_using(f"sqlite:///{tmp_path}/empty.db")
    assert "run `connmodel init`" in message
