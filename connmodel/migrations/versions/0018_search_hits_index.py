"""search hits index (SQLite): each live row's profile and status by id, for a search's hits

A search's hits (FTS5 rowids, up to 20,000) are grouped by profile and status for the page's
cards (connmodel.search.matches_by_profile): one lookup of a row by id for each. A row of
`connection` is ~800 bytes (its encrypted credential), so each lookup reads a page of its own:
20,000 cost ~35 ms at a million rows. This index holds (id, profile_id, status) of the live
rows, ~20 bytes each, a few hundred to a page: the same lookups ~24 ms. PostgreSQL reads a
search's hits from the rows its trigram bitmap rechecks, so it has no use for it. To build:
~1 s per million rows.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_connection_search_hits"  # named in connmodel.search (HITS_INDEX)
SECONDS_PER_MILLION = {"sqlite": 1.0}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index(INDEX, "connection", ["id", "profile_id", "status"], unique=False,
                        sqlite_where=sa.text("revoked_at IS NULL"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index(INDEX, "connection")
