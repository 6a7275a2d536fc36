"""Encryption of secrets at rest (Fernet / MultiFernet); masks are `connmodel.masking`'s.

The key never lives in the database. It comes from CONNMODEL_SECRET_KEY (one or more Fernet
keys, comma-separated, newest first) or from a key file (CONNMODEL_KEY_FILE, default
./connmodel.key, one key per line, newest first, created 0600 by `connmodel init`). With
several keys, MultiFernet decrypts with any: that is how `rotate-key` keeps old ciphertexts
readable until they are re-encrypted. Which key a new secret is encrypted with is decided
against the database, not here (`connmodel.services.keys.sealing_ring`): a process may hold a key
that another process has since retired.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from connmodel.errors import SecretKeyError

ENV_KEY = "CONNMODEL_SECRET_KEY"
ENV_KEY_FILE = "CONNMODEL_KEY_FILE"
DEFAULT_KEY_FILE = "connmodel.key"


def key_file_path() -> Path:
    return Path(os.environ.get(ENV_KEY_FILE) or DEFAULT_KEY_FILE)


def _parse_keys(raw: str, where: str) -> list[bytes]:
    keys = [k.strip().encode() for k in raw.replace(",", "\n").splitlines() if k.strip()]
    if not keys:
        raise SecretKeyError(f"no secret key in {where}")
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise SecretKeyError(
                f"the secret key in {where} is not a Fernet key (32 url-safe base64 bytes)"
            ) from None
    return keys


@dataclass
class KeyRing:
    """The keys in use, newest first, and where they came from (for messages and rotation).

    A ring read from a key file re-reads it when a secret does not open (`reload`): a rotation
    in another process rewrites the file, and long-lived processes (the dashboard, its
    refresher, `refresh --watch`) follow without a restart. A ring from the environment cannot
    follow: the environment of a running process does not change.
    """

    keys: tuple[bytes, ...]
    source: str

    def reload(self) -> bool:
        """Re-read the key file this ring came from; whether its keys changed."""
        path = Path(self.source)
        if self.source == ENV_KEY or not path.is_file():
            return False
        try:
            keys = _read_key_file(path)
        except SecretKeyError:
            return False
        if keys == self.keys:
            return False
        self.keys = keys
        return True

    def key_for(self, token: str) -> bytes | None:
        """The key of this ring that opens `token`, if any."""
        for key in self.keys:
            try:
                Fernet(key).decrypt(token.encode())
            except InvalidToken:
                continue
            return key
        return None

    @property
    def fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(k) for k in self.keys])

    def encrypt(self, plaintext: str) -> str:
        """Encrypt with the newest key. Code that stores the result encrypts with the ring
        `connmodel.services.keys.sealing_ring` gives, proven current in its transaction."""
        return self.fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self.fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            if self.reload():
                return self.decrypt(token)
            after_rotation = (f" (after `connmodel rotate-key`, set {ENV_KEY} to the key it "
                              "printed and restart this process)" if self.source == ENV_KEY
                              else "")
            raise SecretKeyError(
                f"the secret key from {self.source} cannot decrypt the stored secrets: "
                f"it is not the key they were written with{after_rotation}"
            ) from None

    def rotate(self, token: str) -> str:
        """Re-encrypt a token under the newest key."""
        try:
            return self.fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                f"the secret key from {self.source} cannot decrypt a stored secret"
            ) from None

    def with_new_key(self) -> "KeyRing":
        return KeyRing((Fernet.generate_key(), *self.keys), self.source)

    def newest_only(self) -> "KeyRing":
        return KeyRing(self.keys[:1], self.source)


def _read_key_file(path: Path) -> tuple[bytes, ...]:
    """The keys of a key file that only its owner can read (as ssh refuses an open key)."""
    try:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise SecretKeyError(
                f"the key file {path} is open to group or others (mode {mode:o}): "
                f"run `chmod 600 {path}`")
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a text file"
        raise SecretKeyError(f"cannot read the key file {path}: {reason}") from None
    return tuple(_parse_keys(text, str(path)))


def load_keyring(*, create: bool = False) -> KeyRing:
    """The key ring from the environment or the key file; create the file only when asked."""
    raw = os.environ.get(ENV_KEY)
    if raw:
        return KeyRing(tuple(_parse_keys(raw, ENV_KEY)), ENV_KEY)
    path = key_file_path()
    if path.exists():
        return KeyRing(_read_key_file(path), str(path))
    if not create:
        raise SecretKeyError(
            f"no secret key: set {ENV_KEY} or run `connmodel init` to create {path}"
        )
    key = Fernet.generate_key()
    write_key_file(path, [key])
    return KeyRing((key,), str(path))


def write_key_file(path: Path, keys: list[bytes] | tuple[bytes, ...]) -> None:
    """Write keys (newest first) atomically with 0600 permissions."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(k.decode() for k in keys) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        raise SecretKeyError(f"cannot write the key file {path}: {exc.strerror}") from None
