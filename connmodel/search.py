"""Substring search over account and service, pushed down to an index on each store.

SQLite: an FTS5 table with the trigram tokenizer (`connection_fts`, kept in step by triggers,
created by the migrations) answers any substring of three or more characters. PostgreSQL:
GIN pg_trgm indexes on `account` and `service` serve ILIKE '%x%'. Shorter needles fall back
to a scan, which is still bounded by the other filters and the page limit; on SQLite it also
spells out the cases of non-ASCII letters, which SQLite's LIKE does not fold.
"""

import unicodedata
from typing import Any

from sqlalchemy import ColumnElement, or_, text

from connmodel.errors import InvalidInput
from connmodel.models import Connection

SEARCH_MAX = 200


def _like_pattern(needle: str) -> str:
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _case_variants(needle: str) -> list[str]:
    """SQLite's LIKE folds ASCII letters only: spell out the cases of the others ('é', 'É').

    Used for needles under three characters, so there are at most nine variants.
    """
    variants = [""]
    for ch in needle:
        forms = {ch} if ch.isascii() else {ch, ch.lower(), ch.upper()}
        variants = [v + f for v in variants for f in sorted(forms)]
    return variants


def search_condition(dialect: str, needle: str) -> ColumnElement[bool] | None:
    """A WHERE condition matching connections whose account or service contains `needle`."""
    needle = needle.strip()
    if not needle:
        return None
    if len(needle) > SEARCH_MAX:
        raise InvalidInput(f"search text is {len(needle)} characters: at most {SEARCH_MAX}")
    if any(unicodedata.category(ch) == "Cc" for ch in needle):
        raise InvalidInput("search text may not contain control characters")
    if dialect == "sqlite" and len(needle) >= 3:
        phrase = '"' + needle.replace('"', '""') + '"'
        fts: Any = text("SELECT rowid FROM connection_fts WHERE connection_fts MATCH :phrase")
        return Connection.id.in_(fts.bindparams(phrase=phrase))  # type: ignore[union-attr,no-any-return]
    needles = _case_variants(needle) if dialect == "sqlite" else [needle]
    columns: tuple[Any, ...] = (Connection.account, Connection.service)
    return or_(*(col.ilike(_like_pattern(n), escape="\\") for n in needles for col in columns))
