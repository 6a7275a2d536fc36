"""`connmodel rotate-key`: every secret moves to the new key in one transaction, or none does."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from connmodel.errors import SecretKeyError
from connmodel.models import Connection, Profile
from connmodel.secrets import KeyRing, load_keyring
from connmodel.services.demo import DEMO_SECRETS, seed_demo
from connmodel.services.keys import secret_columns
from connmodel.store import session

SCRIPT = Path(sys.executable).parent / "connmodel"


def _secrets(url: str) -> dict[tuple[str, int], str]:
    """Every stored ciphertext by (column, primary key)."""
    found = {}
    with session(url) as s:
        for table, column in secret_columns():
            (pk,) = table.primary_key.columns
            for row_pk, token in s.execute(select(pk, column).where(column.is_not(None))):
                found[(f"{table.name}.{column.name}", row_pk)] = token
    return found


def _rotate_events(cli, url: str) -> int:
    return cli("events", "-d", url, "-f", "json", "--action", "secret_key.rotate").json["total"]


def test_after_rotation_secrets_open_with_the_new_key_alone(demo_url, cli, keyring):
    before = _secrets(demo_url)
    assert len(before) == len(DEMO_SECRETS)
    result = cli("rotate-key", "-d", demo_url)
    assert result.code == 0, result.err
    assert result.out.startswith(f"{len(DEMO_SECRETS)} secrets re-encrypted under a new key")

    new = load_keyring()
    assert len(new.keys) == 1 and new.keys[0] not in keyring.keys
    assert oct(Path(keyring.source).stat().st_mode & 0o777) == "0o600"
    old_only = KeyRing(keyring.keys, "the old key")
    after = _secrets(demo_url)
    assert after.keys() == before.keys()
    for where, token in after.items():
        assert token != before[where]
        assert new.decrypt(token) == keyring.decrypt(before[where]) in DEMO_SECRETS
        with pytest.raises(SecretKeyError):
            old_only.decrypt(token)
    assert _rotate_events(cli, demo_url) == 1
    assert cli("demo", "-d", demo_url).out == "demo data already present\n"  # new key checks out


def test_a_failure_midway_leaves_every_secret_readable(demo_url, cli, keyring):
    """A credential no key can read sits last: the rows before it were already re-encrypted
    inside the transaction when it fails, and the rollback undoes them."""
    with session(demo_url) as s:
        pid = s.execute(select(Profile.id).where(Profile.name == "Hubspot")).scalar_one()
        foreign = Connection(profile_id=pid, service="API Key Authentication Provider",
                             account="Configured",
                             credential_enc=Fernet(Fernet.generate_key()).encrypt(b"x").decode())
        s.add(foreign)
        s.commit()
    before = _secrets(demo_url)
    error = cli("rotate-key", "-d", demo_url).one_line_error()
    assert error == (
        f"connmodel: error: connection.credential_enc of row {foreign.id} cannot be decrypted "
        f"with the key from {keyring.source}: nothing was re-encrypted. Re-enter that secret "
        f"(`connmodel update-key {foreign.id}` or `connmodel reauthorize {foreign.id}`), or run "
        "`connmodel rotate-key --repair` to clear every unreadable secret and rotate the rest")
    assert _secrets(demo_url) == before
    ring = load_keyring()  # the new key was added in front, the old one kept
    assert ring.keys[1:] == keyring.keys
    readable = [t for w, t in before.items() if w != ("connection.credential_enc", foreign.id)]
    assert {ring.decrypt(t) for t in readable} == set(DEMO_SECRETS)
    assert _rotate_events(cli, demo_url) == 0

    repaired = cli("rotate-key", "--repair", "-d", demo_url)  # the others are not held hostage
    assert repaired.code == 0, repaired.err
    assert f"cleared connection.credential_enc of row {foreign.id}: no key could open it" \
        in repaired.out
    after = _secrets(demo_url)
    assert ("connection.credential_enc", foreign.id) not in after
    assert {load_keyring().decrypt(t) for t in after.values()} == set(DEMO_SECRETS)
    shown = cli("show", str(foreign.id), "-d", demo_url, "-f", "json").json
    assert shown["status"] == "Error" and f"update-key {foreign.id}" in shown["status_reason"]
    assert _rotate_events(cli, demo_url) == 1
    assert cli("events", "-d", demo_url, "-f", "json",
               "--action", "secret_key.repair").json["total"] == 1
    assert cli("rotate-key", "-d", demo_url).code == 0


def test_a_writer_holding_the_old_key_across_a_rotation_writes_under_the_new_one(
        demo_url, cli, keyring):
    """Issue 16: `update-key` waiting at its prompt with the key it loaded, a rotation in
    between, then the update: the new secret must be under the new key (it was written under
    the retired one, and the next rotation failed on it)."""
    cid = cli("connections", "-d", demo_url, "-f", "json", "-p", "Hubspot").json["items"][0]["id"]
    writer = _update_key_waiting(demo_url, cid, {**os.environ})
    try:
        assert cli("rotate-key", "-d", demo_url).code == 0
        _out, err = writer.communicate("pk-after-rotation-0123456789\n", timeout=60)
    finally:
        writer.kill()
    assert writer.returncode == 0, err
    (token,) = [t for (where, row), t in _secrets(demo_url).items()
                if where == "connection.credential_enc" and row == cid]
    new_only = KeyRing(load_keyring().keys[:1], "the new key")
    assert new_only.decrypt(token) == "pk-after-rotation-0123456789"
    again = cli("rotate-key", "-d", demo_url)
    assert again.code == 0, again.err


def test_key_from_the_environment_is_printed_to_set(sqlite_url, cli, keyring, admin,
                                                    monkeypatch):
    with session(sqlite_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    demo_url = sqlite_url
    old = keyring.keys[0].decode()
    monkeypatch.setenv("CONNMODEL_SECRET_KEY", old)
    result = cli("rotate-key", "-d", demo_url, "-f", "json").json
    assert result["secrets"] == len(DEMO_SECRETS) and result["key_file"] is None
    new_key = result["key_to_set"]
    assert new_key != old
    assert Path(keyring.source).read_text().strip() == old  # the key file is not touched
    assert "cannot decrypt" in cli("demo", "-d", demo_url).one_line_error()
    monkeypatch.setenv("CONNMODEL_SECRET_KEY", new_key)
    assert cli("demo", "-d", demo_url).code == 0
    fresh = KeyRing((new_key.encode(),), "env")
    assert {fresh.decrypt(t) for t in _secrets(demo_url).values()} == set(DEMO_SECRETS)


def _update_key_waiting(demo_url: str, cid: int, env: dict[str, str]) -> subprocess.Popen:
    """`connmodel update-key CID` in its own process, waiting at its prompt with its key."""
    writer = subprocess.Popen([str(SCRIPT), "update-key", str(cid), "-d", demo_url],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    prompt = ""
    while "new API key" not in prompt:  # the key is loaded and checked before the prompt
        prompt += writer.stderr.read(1) or pytest.fail(f"update-key ended: {prompt}")
    return writer


def test_a_process_with_a_retired_key_from_the_environment_refuses_to_write(
        demo_url, cli, keyring, monkeypatch):
    """Issue 16: a process cannot see a new CONNMODEL_SECRET_KEY, so it cannot follow a
    rotation as key-file processes do; its next write of a secret is refused with one line
    saying what to do, and nothing is written."""
    old = keyring.keys[0].decode()
    monkeypatch.setenv("CONNMODEL_SECRET_KEY", old)
    env = {**os.environ}
    cid = cli("connections", "-d", demo_url, "-f", "json", "-p", "Hubspot").json["items"][0]["id"]
    writer = _update_key_waiting(demo_url, cid, env)
    try:
        new_key = cli("rotate-key", "-d", demo_url, "-f", "json").json["key_to_set"]
        before = _secrets(demo_url)
        _out, err = writer.communicate("pk-after-rotation-0123456789\n", timeout=60)
    finally:
        writer.kill()
    assert writer.returncode != 0 and "Traceback" not in err
    assert err.splitlines()[-1] == (
        "connmodel: error: the secret key was rotated: CONNMODEL_SECRET_KEY holds a retired "
        "key in this process, so nothing was written. Set CONNMODEL_SECRET_KEY to the new key "
        "(`connmodel rotate-key` printed it) and restart this process")
    assert _secrets(demo_url) == before
    fresh = KeyRing((new_key.encode(),), "env")
    assert fresh.key_for(before[("connection.credential_enc", cid)]) is not None


def test_a_process_reading_a_key_file_follows_a_rotation_or_says_which_file_to_replace(
        demo_url, cli, keyring, admin, tmp_path):
    """A long-lived process with a key file needs no restart: its ring re-reads the file when
    the key check no longer opens. Where its file is not the one rotated (another host's copy),
    its write is refused naming that file, and once the file is replaced the same ring writes."""
    from connmodel.providers.connect import update_key
    from connmodel.secrets import write_key_file

    copy = tmp_path / "other-host.key"
    write_key_file(copy, keyring.keys)
    other_host = KeyRing(keyring.keys, str(copy))  # loaded at its start, kept in memory
    this_host = KeyRing(keyring.keys, keyring.source)
    cid = cli("connections", "-d", demo_url, "-f", "json", "-p", "Hubspot").json["items"][0]["id"]
    assert cli("rotate-key", "-d", demo_url).code == 0  # rewrites keyring.source only
    before = _secrets(demo_url)
    with pytest.raises(SecretKeyError) as refused, session(demo_url) as s:
        update_key(s, actor=admin, keyring=other_host, connection_id=cid,
                   api_key="pk-other-host-0123456789")
    assert str(refused.value) == (
        f"the secret key was rotated: the key file {copy} does not hold the new key, so nothing "
        f"was written. Copy the key file `connmodel rotate-key` wrote to {copy} (it is re-read "
        "at once, no restart needed)")
    assert _secrets(demo_url) == before

    write_key_file(copy, load_keyring().keys)  # the operator copies the new key file over
    for ring, secret in ((other_host, "pk-other-host-0123456789"),
                         (this_host, "pk-this-host-0123456789")):
        with session(demo_url) as s:
            update_key(s, actor=admin, keyring=ring, connection_id=cid, api_key=secret)
        (token,) = [t for (where, row), t in _secrets(demo_url).items()
                    if where == "connection.credential_enc" and row == cid]
        assert KeyRing(load_keyring().keys[:1], "new").decrypt(token) == secret


@pytest.mark.postgres
def test_a_revoke_committed_during_a_rotation_stays_wiped(postgres_url, cli, keyring, admin):
    """PostgreSQL: a rotation reads a batch of ciphertexts, then writes each back re-encrypted.
    A revoke (which takes no key check: it writes no secret) committed in between wiped the
    credential, and the rotation wrote the old credential back into the revoked connection.
    The revoke holds the connection's row here until the rotation waits on it."""
    from sqlalchemy import text

    from connmodel.services.connections import revoke_connection

    with session(postgres_url) as s:
        seed_demo(s, actor=admin, keyring=keyring)
    cid = cli("connections", "-d", postgres_url, "-f", "json", "-p",
              "Hubspot").json["items"][0]["id"]
    rotation = None
    with session(postgres_url) as revoker:
        revoker.execute(select(Connection.id).where(Connection.id == cid).with_for_update())
        rotation = subprocess.Popen([str(SCRIPT), "rotate-key", "-d", postgres_url],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            waiting = 0
            for _ in range(300):  # until the rotation waits on the row this session holds
                with session(postgres_url) as probe:
                    waiting = probe.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE 'UPDATE connection%'")).scalar_one()
                if waiting or rotation.poll() is not None:
                    break
                threading.Event().wait(0.1)
            assert waiting == 1, rotation.communicate(timeout=30)
            revoke_connection(revoker, actor=admin, connection_id=cid)  # commits
        finally:
            _out, err = rotation.communicate(timeout=60)
    assert rotation.returncode == 0, err
    with session(postgres_url) as s:
        wiped = s.execute(select(Connection.credential_enc, Connection.revoked_at)
                          .where(Connection.id == cid)).one()
    assert wiped[0] is None and wiped[1] is not None
    assert cli("rotate-key", "-d", postgres_url).code == 0
