"""The secret key against the database: check it is the right one, and rotate it.

A token encrypted with the key is kept in `meta` (`secret_key_check`), so a wrong key is caught
before anything is written with it, even in a database that holds no secret yet.

Rotation keeps every secret readable at every moment: the new key is put first in the key file
(the old one stays, so ciphertexts under either key decrypt), every `*_enc` column is re-encrypted
with MultiFernet.rotate in ONE transaction, and only after that commits is the old key dropped.
If anything fails before the commit, nothing in the database changed and the file still holds the
old key (beside the new one, which is harmless: another process may already have encrypted with
it). With CONNMODEL_SECRET_KEY the environment cannot be rewritten from here: the new key is
returned for the operator to set.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from connmodel import models
from connmodel.errors import SecretKeyError
from connmodel.permissions import Action, Actor, require
from connmodel.secrets import ENV_KEY, KeyRing, load_keyring, write_key_file
from connmodel.services.events import record

CHECK_KEY = "secret_key_check"
CHECK_PLAINTEXT = "connmodel secret key check"
BATCH = 1000


def secret_columns() -> list[tuple[Table, Column[Any]]]:
    """Every encrypted column of the schema: by convention, the columns named `*_enc`."""
    return [
        (table, column)
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_enc")
    ]


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
    """What a rotation did. `key_to_set` is only given when the key came from the environment."""

    secrets: int
    key_file: str | None
    key_to_set: str | None


def _rotate_column(session: Session, table: Table, column: Column[Any], ring: KeyRing) -> int:
    """Re-encrypt one column in batches (keyset on the primary key), inside the caller's txn."""
    (pk,) = table.primary_key.columns
    stmt = update(table).where(pk == bindparam("row_pk")).values({column.name: bindparam("token")})
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
                params.append({"row_pk": row_pk, "token": ring.rotate(token)})
            except SecretKeyError:
                raise SecretKeyError(
                    f"{table.name}.{column.name} of row {row_pk} cannot be decrypted with the "
                    f"key from {ring.source}: nothing was re-encrypted"
                ) from None
        session.execute(stmt, params)
        done += len(rows)
        last = rows[-1][0]


def rotate_key(session: Session, *, actor: Actor, keyring: KeyRing) -> RotateResult:
    """Re-encrypt every secret under a new key in one transaction, then retire the old key."""
    require(actor, Action.WRITE, session)
    verify_keyring(session, keyring)
    session.commit()  # the check token (if new) is committed before the key file changes
    ring = keyring.with_new_key()
    from_env = keyring.source == ENV_KEY
    key_file = None if from_env else Path(keyring.source)
    if key_file is not None:
        write_key_file(key_file, ring.keys)
    try:
        count = sum(_rotate_column(session, t, c, ring) for t, c in secret_columns())
        check = session.get(models.Meta, CHECK_KEY)
        if check is not None:
            check.value = ring.rotate(check.value)
        record(session, actor=actor, action="secret_key.rotate",
               target=f"secret key ({count} secrets re-encrypted)",
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
    )
