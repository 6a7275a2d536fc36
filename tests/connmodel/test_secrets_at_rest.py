"""Secrets are encrypted at rest: no known secret is in the database files or a dump.

The demo's secrets (DEMO_SECRETS) are written through the services, then the raw bytes of the
SQLite file (with its -wal and -shm files) and a pg_dump of the PostgreSQL database are searched.
"""

import os
import shutil
import stat
import subprocess

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from connmodel.errors import SecretKeyError
from connmodel.models import Connection, ProviderConfig, ProviderRevocation
from connmodel.secrets import ENV_KEY, KeyRing, load_keyring
from connmodel.services.connections import list_connections, revoke_connection
from connmodel.services.demo import DEMO_GOOGLE_REFRESH_TOKEN, DEMO_HUBSPOT_API_KEY, DEMO_SECRETS
from connmodel.store import get_engine, session


def _sqlite_bytes(url: str) -> dict[str, bytes]:
    """The database file and its -wal / -shm companions, by name."""
    path = make_url(url).database
    assert path
    files = [path, path + "-wal", path + "-shm"]
    return {os.path.basename(f): open(f, "rb").read() for f in files if os.path.exists(f)}


def _pg_dump(url: str) -> dict[str, bytes]:
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    parsed = make_url(url)
    dump = subprocess.run(
        ["pg_dump", "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
         "-U", parsed.username or "postgres", parsed.database or ""],
        capture_output=True, check=True, timeout=30,
    ).stdout
    assert b"CREATE TABLE public.connection" in dump
    return {"pg_dump": dump}


def _raw_store(url: str) -> dict[str, bytes]:
    return _sqlite_bytes(url) if url.startswith("sqlite") else _pg_dump(url)


def _found(raw: dict[str, bytes], needles: list[str]) -> list[tuple[str, str]]:
    return [(name, needle) for name, data in raw.items() for needle in needles
            if needle.encode() in data]


def _assert_no_secret_in_raw_store(url: str, needles: list[str]) -> None:
    raw = _raw_store(url)
    assert _found(raw, ["user@example.com"]), "plain text is visible to this search"
    assert _found(raw, needles) == []
    if url.startswith("sqlite"):
        with get_engine(url).connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        raw = _raw_store(url)
        assert _found(raw, ["user@example.com"])
        assert _found(raw, needles) == []


def test_no_known_secret_or_key_in_the_raw_store(demo_url, keyring, admin):
    needles = [*DEMO_SECRETS, *(k.decode() for k in keyring.keys)]
    with session(demo_url) as s:  # the secrets are there, encrypted: the test is not vacuous
        stored = s.execute(select(Connection.credential_enc)).scalars().all()
        assert DEMO_HUBSPOT_API_KEY in {keyring.decrypt(c) for c in stored if c}
    _assert_no_secret_in_raw_store(demo_url, needles)
    # Revoking queues the provider-side token revocation: the queued token stays encrypted.
    with session(demo_url) as s:
        for connection in list_connections(s, actor=admin).items:
            revoke_connection(s, actor=admin, connection_id=connection.id)
        queued = s.execute(select(ProviderRevocation.credential_enc)).scalars().all()
    assert DEMO_GOOGLE_REFRESH_TOKEN in {keyring.decrypt(c) for c in queued}
    _assert_no_secret_in_raw_store(demo_url, needles)


def test_the_key_file_is_0600_and_holds_the_keys(keyring, tmp_path):
    key_file = tmp_path / "connmodel.key"
    assert keyring.source == str(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().split() == [k.decode() for k in keyring.keys]


SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_a_wrong_key_cannot_read_secrets_and_says_so(demo_url, keyring):
    with session(demo_url) as s:
        token = s.execute(
            select(ProviderConfig.client_secret_enc).where(ProviderConfig.client_secret_enc.is_not(None))
        ).scalars().first()
    assert token
    wrong = KeyRing((Fernet.generate_key(),), "CONNMODEL_SECRET_KEY")
    with pytest.raises(SecretKeyError) as info:
        wrong.decrypt(token)
    assert str(info.value) == (
        "the secret key from CONNMODEL_SECRET_KEY cannot decrypt the stored secrets: "
        "it is not the key they were written with (after `connmodel rotate-key`, set "
        "CONNMODEL_SECRET_KEY to the key it printed and restart this process)"
    )


@SQLITE_ONLY
def test_old_key_stays_usable_after_a_new_one_is_added(demo_url, keyring):
    with session(demo_url) as s:
        tokens = [t for t in s.execute(select(Connection.credential_enc)).scalars() if t]
    rotated_ring = keyring.with_new_key()
    plain = [keyring.decrypt(t) for t in tokens]
    assert [rotated_ring.decrypt(t) for t in tokens] == plain
    rotated = [rotated_ring.rotate(t) for t in tokens]
    assert [rotated_ring.newest_only().decrypt(t) for t in rotated] == plain
    with pytest.raises(SecretKeyError):
        keyring.decrypt(rotated[0])


@pytest.mark.parametrize("value, message", [
    ("not-a-fernet-key", "the secret key in CONNMODEL_SECRET_KEY is not a Fernet key"),
    (" , ", "no secret key in CONNMODEL_SECRET_KEY"),
])
def test_malformed_key_in_the_environment(monkeypatch, value, message):
    monkeypatch.setenv(ENV_KEY, value)
    with pytest.raises(SecretKeyError, match=message) as info:
        load_keyring()
    if value.strip(" ,"):
        assert value not in str(info.value)


def test_missing_key_says_how_to_make_one(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.setenv("CONNMODEL_KEY_FILE", str(tmp_path / "absent.key"))
    with pytest.raises(SecretKeyError, match="run `connmodel init`"):
        load_keyring()
    assert not (tmp_path / "absent.key").exists()


def _binary_key_file(folder):
    path = folder / "binary.key"
    path.write_bytes(b"\xff\xfe\x00")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing" / "connmodel.key",
     "cannot write the key file {path}: No such file or directory"),
    (lambda p: p, "cannot read the key file {path}: Is a directory"),
    (_binary_key_file, "cannot read the key file {path}: not a text file"),
])
def test_unusable_key_file_is_a_clear_error(monkeypatch, tmp_path, make, message):
    path = make(tmp_path)
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.setenv("CONNMODEL_KEY_FILE", str(path))
    with pytest.raises(SecretKeyError) as info:
        load_keyring(create=True)
    assert str(info.value) == message.format(path=path)
