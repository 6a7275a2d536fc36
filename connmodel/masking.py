"""What a person may see of a secret, computed without a key (and without importing one).

A hint (the secret's last four characters) is kept beside the ciphertext when the secret is
stored, so listings and View show '••••7f3a' without decrypting anything: read-only commands
never load the encryption stack (`connmodel.secrets`).
"""

MASK = "••••"


def hint_of(secret: str) -> str | None:
    """The last four characters, kept beside the ciphertext so masks need no key.

    Short secrets get no hint: four characters of an eight-character key is half of it.
    """
    return secret[-4:] if len(secret) >= 12 else None


def mask(hint: str | None) -> str:
    """What a person may see of a secret: '••••7f3a', or '••••' with no hint."""
    return MASK + (hint or "")
