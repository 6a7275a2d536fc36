"""Key rotation against a writer that copies a ciphertext (issue 16, item 2): re-authorize
queues the replaced token's ciphertext for provider revocation, as it was stored. If it read
that ciphertext before a rotation in another process and wrote the copy after it, the copy
stayed under the retired key: the provider revocation could never be delivered, and the next
`rotate-key` stopped on it. On both stores."""

import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import select
from test_oauth_flow import connect, consent

from connmodel.models import Connection, ProviderRevocation
from connmodel.providers import authorization
from connmodel.providers.authorization import complete_authorization
from connmodel.secrets import KeyRing, load_keyring
from connmodel.services.keys import secret_columns
from connmodel.store import session

CONNMODEL = Path(sys.executable).parent / "connmodel"


def _ciphertexts(url: str) -> dict[tuple[str, int], str]:
    with session(url) as s:
        return {(f"{t.name}.{c.name}", pk): token
                for t, c in secret_columns()
                for pk, token in s.execute(select(*t.primary_key.columns, c)
                                           .where(c.is_not(None)))}


def test_reauthorize_across_a_rotation_in_another_process_copies_under_the_new_key(
        oauth_profile_any_store, keyring, admin, authserver, monkeypatch):
    url = oauth_profile_any_store
    conn = connect(url, keyring, admin)
    params = consent(url, keyring, admin, connection_id=conn.id)
    writer_ring = KeyRing(keyring.keys, keyring.source)  # what the writer loaded at its start

    copied, rotated = threading.Event(), threading.Event()
    real_enqueue = authorization.enqueue

    def enqueue_then_wait(*args, **kwargs):  # the real enqueue; then the rotation runs
        queued = real_enqueue(*args, **kwargs)
        copied.set()
        rotated.wait(10)
        return queued

    monkeypatch.setattr(authorization, "enqueue", enqueue_then_wait)
    errors: list[BaseException] = []

    def reauthorize() -> None:
        try:
            with session(url) as s:
                complete_authorization(s, actor=admin, keyring=writer_ring, **params)
        except BaseException as exc:  # noqa: BLE001 -- reported by the test
            errors.append(exc)

    writer = threading.Thread(target=reauthorize)
    writer.start()
    try:
        # The old code copies the stored ciphertext and only then proves its key; the fixed
        # code takes the key check first, so the rotation waits for the writer instead.
        copied.wait(30)
        rotation = subprocess.Popen([str(CONNMODEL), "rotate-key", "-d", url],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            rotation.wait(5)
        except subprocess.TimeoutExpired:
            pass  # waiting on the writer's transaction: let the writer commit
        rotated.set()
        writer.join(60)
        _out, err = rotation.communicate(timeout=60)
    finally:
        rotated.set()
        writer.join(60)
    assert not errors, errors
    assert rotation.returncode == 0, err
    assert copied.is_set()

    new_only = KeyRing(load_keyring().keys[:1], "the new key")
    with session(url) as s:
        queued = s.execute(select(ProviderRevocation.id)).scalars().all()
        live = s.get_one(Connection, conn.id)
    assert len(queued) == 1 and live.status == "Active"
    assert [where for where, token in _ciphertexts(url).items()
            if new_only.key_for(token) is None] == []  # old code: provider_revocation's copy
    again = subprocess.run([str(CONNMODEL), "rotate-key", "-d", url], capture_output=True,
                           text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
