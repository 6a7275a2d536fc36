"""odd text index: the live rows a two-character needle can hide in from the text index

A two-character needle is looked up through the trigrams that hold it (connmodel.search.
pair_hits): on SQLite FTS5's "?xy" and "xy?" for every printable ASCII character, on PostgreSQL
pg_trgm's by a regular expression. A value of two characters has no trigram (SQLite),
and a neighbour beyond ASCII cannot be spelled out (no control character gets in:
connmodel.validation): this partial index holds the live rows with either, so that they are
tested too (none in generated data; to build, ~0.3 s per million rows on SQLite, ~0.8 s
on PostgreSQL, concurrently).

On PostgreSQL the index is built CONCURRENTLY (outside the migration's transaction), so the
table stays writable meanwhile; a build that failed half-way leaves an invalid index, which a
new run drops first.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_connection_live_odd_text"
ODD_TEXT = {"sqlite": "(length(account) = 2 OR length(service) = 2 "
                      "OR length(CAST(account AS BLOB)) <> length(account) "
                      "OR length(CAST(service AS BLOB)) <> length(service))",
            "postgresql": "(account ~ '[^ -~]' OR service ~ '[^ -~]')"}
SECONDS_PER_MILLION = {"sqlite": 0.3, "postgresql": 0.8}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    where = sa.text(f"revoked_at IS NULL AND {ODD_TEXT[dialect]}")
    if dialect != "postgresql":
        op.create_index(INDEX, "connection", ["id"], unique=False, sqlite_where=where)
        return
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, "connection", if_exists=True, postgresql_concurrently=True)
        op.create_index(INDEX, "connection", ["id"], unique=False, postgresql_where=where,
                        postgresql_concurrently=True)


def downgrade() -> None:
    op.drop_index(INDEX, "connection")
