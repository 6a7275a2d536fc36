"""Substring search over account and service, pushed down to an index on each store.

SQLite: an FTS5 table with the trigram tokenizer (`connection_fts`, kept in step by triggers,
created by the migrations) answers any substring of three or more characters. PostgreSQL:
GIN pg_trgm indexes on `account` and `service` serve ILIKE '%x%'. Shorter needles fall back
to a scan, which is still bounded by the other filters and the page limit; on SQLite it also
spells out the cases of non-ASCII letters, which SQLite's LIKE does not fold.
"""

import json
import unicodedata
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Integer, any_, literal, or_, select, text
from sqlmodel import Session, col

from connmodel.errors import InvalidInput
from connmodel.models import Connection

SEARCH_MAX = 200
FEW_HITS = 5_000


def like_pattern(needle: str) -> str:
    """'%needle%' with LIKE's own wildcards in `needle` escaped (use with escape='\\')."""
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


def search_condition(session: Session, needle: str) -> ColumnElement[bool] | None:
    """A WHERE condition matching connections whose account or service contains `needle`."""
    needle = needle.strip()
    if not needle:
        return None
    if len(needle) > SEARCH_MAX:
        raise InvalidInput(f"search text is {len(needle)} characters: at most {SEARCH_MAX}")
    if any(unicodedata.category(ch) == "Cc" for ch in needle):
        raise InvalidInput("search text may not contain control characters")
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite" and len(needle) >= 3:
        phrase = '"' + needle.replace('"', '""') + '"'
        fts: Any = text("SELECT rowid FROM connection_fts WHERE connection_fts MATCH :phrase")
        return Connection.id.in_(fts.bindparams(phrase=phrase))  # type: ignore[union-attr,no-any-return]
    needles = _case_variants(needle) if dialect == "sqlite" else [needle]
    columns: tuple[Any, ...] = (Connection.account, Connection.service)
    matches = or_(*(col.ilike(like_pattern(n), escape="\\") for n in needles for col in columns))
    if dialect == "postgresql":
        return _few_hits_by_id(session, matches)
    return matches


def _few_hits_by_id(session: Session, matches: ColumnElement[bool]) -> ColumnElement[bool]:
    """PostgreSQL: when a needle is rare, name its rows by id; when common, keep the ILIKE.

    A listing orders by id with a LIMIT. The planner estimates a substring's hits well (see
    migration 0007) but prices ILIKE as cheap, so even for a rare needle it walks the primary
    key testing every row: 225 ms at a million rows for a needle with 600 hits. So: ask the
    planner's estimate (EXPLAIN, planning only); below FEW_HITS, fetch the ids through the
    trigram indexes (a bitmap scan, a few ms) and filter by `id = ANY(ids)`; above it, keep the
    ILIKE, whose walk finds a page of a common needle within a few thousand rows.
    """
    conn = session.connection()
    probe = select(col(Connection.id)).where(matches, col(Connection.revoked_at).is_(None))
    compiled = probe.compile(dialect=conn.dialect)
    plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    if plan[0]["Plan"]["Plan Rows"] > FEW_HITS:
        return matches
    ids = conn.execute(probe.limit(FEW_HITS + 1)).scalars().all()
    if len(ids) > FEW_HITS:  # the estimate was far off: the walk is then the better bet
        return matches
    return col(Connection.id) == any_(literal(list(ids), ARRAY(Integer)))
