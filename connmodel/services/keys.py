"""The secret key against the database: check it is the right one, and rotate it.

A token encrypted with the key is kept in `meta` (`secret_key_check`), so a wrong key is caught
before anything is written with it, even in a database that holds no secret yet.

The check token is also what decides which key new secrets are written with: the key that
opens it (`sealing_ring`). A writer takes the token's row in the transaction that stores the
secret, and a rotation holds that row from before it touches the key file until it commits; so
a writer either commits first (and the rotation, reading after it, re-encrypts what it wrote) or
waits and then finds the token under the new key, re-reads its key file and writes under the
new key. No secret can be stored under a retired key, whatever key a process loaded at start.

Rotation keeps every secret readable at every moment: the new key is put first in the key file
(the old one stays, so ciphertexts under either key decrypt), every `*_enc` column is re-encrypted
with MultiFernet.rotate in ONE transaction, and only after that commits is the old key dropped.
If anything fails before the commit, nothing in the database changed and the file still holds the
old key (beside the new one, which is harmless: the token still opens only with the old one, so
writers keep using it). A ciphertext no key opens stops the rotation with its table, row and
repair (re-enter that secret, or `rotate-key --repair`, which clears it and rotates the rest).
With CONNMODEL_SECRET_KEY the environment cannot be rewritten from here: the new key is
returned for the operator to set.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Table, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from connmodel import models
from connmodel.errors import SecretKeyError
from connmodel.permissions import Action, Actor, require
from connmodel.secrets import ENV_KEY, KeyRing, load_keyring, write_key_file
from connmodel.services.events import record
from connmodel.status import Status

CHECK_KEY = "secret_key_check"
CHECK_PLAINTEXT = "connmodel secret key check"
BATCH = 1000


# Tables whose ciphertexts are copied from another table's (a revoke queues the connection's
# token; a webhook delivery carries its hook's secret): rotated after their sources, so a copy
# committed while the rotation waited on its source row is re-encrypted too.
COPIES = ("provider_revocation", "webhook_delivery")


def secret_columns() -> list[tuple[Table, Column[Any]]]:
    """Every encrypted column of the schema (the columns named `*_enc`), copies last."""
    return sorted(
        ((table, column)
         for table in SQLModel.metadata.sorted_tables
         for column in table.columns
         if column.name.endswith("_enc")),
        key=lambda tc: tc[0].name in COPIES)


_META = models.Meta.__table__  # type: ignore[attr-defined]
# Takes the check token's row (PostgreSQL: its row lock; SQLite: the write lock) and reads it.
_HOLD_CHECK = (update(_META).where(_META.c.key == CHECK_KEY)
               .values(value=_META.c.value).returning(_META.c.value))


def sealing_ring(session: Session, keyring: KeyRing) -> KeyRing:
    """The one key this transaction may encrypt secrets with, proven against the database.

    Holds the check token's row until the caller's transaction ends (see the module's
    docstring), then picks the key of `keyring` that opens the token, re-reading the key file
    once if none does (another process rotated). SecretKeyError if the key is still not there:
    nothing is written under a retired key.
    """
    token = session.execute(_HOLD_CHECK).scalar_one_or_none()
    if token is None:  # the database's first secret: the token is written under our newest key
        verify_keyring(session, keyring)
        token = session.execute(_HOLD_CHECK).scalar_one()
    key = keyring.key_for(token) or (keyring.key_for(token) if keyring.reload() else None)
    if key is None:
        raise SecretKeyError(retired_key_message(keyring))
    return KeyRing((key,), keyring.source)


def retired_key_message(keyring: KeyRing) -> str:
    """Why a write was refused under a retired key, and what to do, by where the key came from:
    a key file is re-read at once (another host's copy must be replaced); the environment of a
    running process never changes, so it must be restarted with the new key."""
    if keyring.source == ENV_KEY:
        return (f"the secret key was rotated: {ENV_KEY} holds a retired key in this process, so "
                f"nothing was written. Set {ENV_KEY} to the new key (`connmodel rotate-key` "
                "printed it) and restart this process")
    return (f"the secret key was rotated: the key file {keyring.source} does not hold the new "
            "key, so nothing was written. Copy the key file `connmodel rotate-key` wrote to "
            f"{keyring.source} (it is re-read at once, no restart needed)")


def _any_secret(session: Session) -> str | None:
    for _table, column in secret_columns():
        value = session.execute(
            select(column).where(column.is_not(None)).limit(1)
        ).scalar_one_or_none()
        if value:
            return str(value)
    return None


def verify_keyring(session: Session, keyring: KeyRing) -> None:
    """Raise SecretKeyError unless `keyring` decrypts this database's secrets.

    The first check on a database writes the check token (the caller commits it).
    """
    check = session.get(models.Meta, CHECK_KEY)
    if check is not None:
        keyring.decrypt(check.value)
        return
    sample = _any_secret(session)
    if sample is not None:
        keyring.decrypt(sample)
    try:
        with session.begin_nested():
            session.add(models.Meta(key=CHECK_KEY, value=keyring.encrypt(CHECK_PLAINTEXT)))
    except IntegrityError:  # another process wrote its token first: check against that one
        keyring.decrypt(session.get_one(models.Meta, CHECK_KEY).value)


def checked_keyring(session: Session, *, create: bool = False) -> KeyRing:
    """The configured key ring, proven to be the one this database's secrets were written with."""
    keyring = load_keyring(create=create)
    verify_keyring(session, keyring)
    return keyring


def init_keyring(session: Session) -> KeyRing:
    """The key ring for `connmodel init`: the configured one, checked, or else a new key file.

    A new key is only made for a database without secrets: for one that has some, a new key
    could never read them, so the operator is told to configure the key they were written with.
    """
    try:
        keyring = load_keyring()
    except SecretKeyError:
        if session.get(models.Meta, CHECK_KEY) is not None or _any_secret(session) is not None:
            raise SecretKeyError(
                f"this database holds secrets but no key is configured: set {ENV_KEY} or "
                "CONNMODEL_KEY_FILE to the key they were written with (a new key cannot read them)"
            ) from None
        keyring = load_keyring(create=True)
    verify_keyring(session, keyring)
    return keyring


@dataclass(frozen=True)
class RotateResult:
    """What a rotation did. `key_to_set` is only given when the key came from the environment;
    `cleared` names the unreadable secrets a repair cleared ('connection.credential_enc of row 7')."""

    secrets: int
    key_file: str | None
    key_to_set: str | None
    cleared: tuple[str, ...] = ()


def _how_to_repair(table: str, row_pk: Any) -> str:
    """How a person re-enters one unreadable secret."""
    if table == "connection":
        return f"`connmodel update-key {row_pk}` or `connmodel reauthorize {row_pk}`"
    if table == "provider_config":
        return "adding that provider config again with its client secret"
    if table == "webhook":
        return "`connmodel webhook remove` and `webhook add` with its secret"
    return "nothing: it is cleared (a queued provider revocation or webhook delivery is dropped)"


def _rotate_column(session: Session, table: Table, column: Column[Any], ring: KeyRing,
                   unreadable: list[tuple[Table, Column[Any], Any]] | None) -> int:
    """Re-encrypt one column in batches (keyset on the primary key), inside the caller's txn.

    A ciphertext no key opens raises, naming its row and its repair, unless `unreadable`
    collects it (a repair: the caller clears it).
    """
    (pk,) = table.primary_key.columns
    # Only where the row still holds what was read: a write that takes no key check (a revoke
    # wiping a credential) may commit between the read and this update (PostgreSQL), and must
    # not get the old secret written back.
    stmt = (update(table).where(pk == bindparam("row_pk"), column == bindparam("was"))
            .values({column.name: bindparam("token")}))
    done, last = 0, None
    while True:
        query = select(pk, column).where(column.is_not(None)).order_by(pk).limit(BATCH)
        if last is not None:
            query = query.where(pk > last)
        rows = session.execute(query).all()
        if not rows:
            return done
        params = []
        for row_pk, token in rows:
            try:
                params.append({"row_pk": row_pk, "was": token, "token": ring.rotate(token)})
            except SecretKeyError:
                if unreadable is None:
                    raise SecretKeyError(
                        f"{table.name}.{column.name} of row {row_pk} cannot be decrypted with "
                        f"the key from {ring.source}: nothing was re-encrypted. Re-enter that "
                        f"secret ({_how_to_repair(table.name, row_pk)}), or run `connmodel "
                        "rotate-key --repair` to clear every unreadable secret and rotate the "
                        "rest") from None
                unreadable.append((table, column, row_pk))
        if params:
            session.execute(stmt, params)
        done += len(params)
        last = rows[-1][0]


def _clear(session: Session, actor: Actor, table: Table, column: Column[Any], row_pk: Any) -> str:
    """Clear one unreadable secret (a repair), audited: a connection is left in Error with the
    way back; a row that cannot exist without its secret is deleted."""
    (pk,) = table.primary_key.columns
    where = f"{table.name}.{column.name} of row {row_pk}"
    if table.name == "connection":
        session.execute(update(table).where(pk == row_pk).values(
            credential_enc=None, credential_hint=None, status=Status.ERROR.value,
            status_reason="credential unreadable with the current secret key: re-enter it "
                          f"({_how_to_repair(table.name, row_pk)})"))
    elif column.nullable:
        session.execute(update(table).where(pk == row_pk).values({column.name: None}))
    else:
        session.execute(delete(table).where(pk == row_pk))
    record(session, actor=actor, action="secret_key.repair", target=where,
           outcome=f"cleared (no key opens it); re-enter it: {_how_to_repair(table.name, row_pk)}")
    return where


def rotate_key(session: Session, *, actor: Actor, keyring: KeyRing,
               repair: bool = False) -> RotateResult:
    """Re-encrypt every secret under a new key in one transaction, then retire the old key.

    With `repair`, secrets no key opens are cleared (each audited, see `_clear`) instead of
    stopping the rotation.
    """
    require(actor, Action.WRITE, session)
    verify_keyring(session, keyring)
    session.commit()  # the check token (if new) is committed before the key file changes
    token = session.execute(_HOLD_CHECK).scalar_one()  # writers of secrets wait from here
    if keyring.key_for(token) is None and not (keyring.reload() and keyring.key_for(token)):
        session.rollback()
        raise SecretKeyError(f"the key from {keyring.source} was rotated meanwhile: run it again")
    ring = keyring.with_new_key()
    from_env = keyring.source == ENV_KEY
    key_file = None if from_env else Path(keyring.source)
    try:
        if key_file is not None:
            write_key_file(key_file, ring.keys)
        unreadable: list[tuple[Table, Column[Any], Any]] | None = [] if repair else None
        count = sum(_rotate_column(session, t, c, ring, unreadable) for t, c in secret_columns())
        cleared = tuple(_clear(session, actor, *u) for u in unreadable or [])
        session.execute(update(_META).where(_META.c.key == CHECK_KEY)
                        .values(value=ring.rotate(token)))
        record(session, actor=actor, action="secret_key.rotate",
               target=f"secret key ({count} secrets re-encrypted"
                      + (f", {len(cleared)} unreadable cleared)" if cleared else ")"),
               outcome="ok" if key_file else f"ok; set {ENV_KEY} to the new key")
        session.commit()
    except BaseException:
        session.rollback()
        raise
    if key_file is not None:
        write_key_file(key_file, ring.newest_only().keys)
    return RotateResult(
        secrets=count,
        key_file=str(key_file) if key_file else None,
        key_to_set=None if key_file else ring.keys[0].decode(),
        cleared=cleared,
    )
