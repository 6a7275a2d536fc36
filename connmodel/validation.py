"""Checks on text a user types: names and free text. One place, so every edge agrees."""

import unicodedata

from connmodel.errors import InvalidInput
from connmodel.models import ACCOUNT_MAX, NAME_MAX, TEXT_MAX


def clean_name(value: str, what: str = "name", limit: int = NAME_MAX) -> str:
    """A trimmed, non-empty, printable name of at most `limit` characters without markup."""
    name = (value or "").strip()
    if not name:
        raise InvalidInput(f"{what} is empty")
    if len(name) > limit:
        raise InvalidInput(f"{what} is {len(name)} characters long: at most {limit}")
    if "<" in name or ">" in name:
        raise InvalidInput(f"{what} may not contain '<' or '>' (markup is not a name)")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput(f"{what} may not contain control characters")
    return name


def clean_text(value: str | None, what: str = "text") -> str:
    """Free text (descriptions): trimmed, at most TEXT_MAX characters, no control characters."""
    text = (value or "").strip()
    if len(text) > TEXT_MAX:
        raise InvalidInput(f"{what} is {len(text)} characters long: at most {TEXT_MAX}")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise InvalidInput(f"{what} may not contain control characters")
    return text


def clean_account(value: str | None) -> str:
    """An account as a listing shows it (an e-mail, a user, "Configured"): trimmed, at most
    ACCOUNT_MAX characters, no control characters. Empty stays empty: the caller picks a default."""
    account = (value or "").strip()
    if len(account) > ACCOUNT_MAX:
        raise InvalidInput(f"account is {len(account)} characters long: at most {ACCOUNT_MAX}")
    if any(unicodedata.category(ch).startswith("C") for ch in account):
        raise InvalidInput("account may not contain control characters")
    return account
