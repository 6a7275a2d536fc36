"""card sort indexes: (profile_id, column, id, status) for each column a profile card sorts by

A click on a card's column header reads the first page of one profile in that order. Without an
index starting (profile_id, column) each store sorted all of the profile's rows (60-250 ms for
a profile of 70,000), and PostgreSQL sometimes walked the global expiry or last-used index and
dropped other profiles' rows (0.8 s for a profile whose values are all NULL). Status is last so
that a status filter is checked in the index, not on each row.

On PostgreSQL the indexes are built CONCURRENTLY (outside the migration's transaction), so a
large table stays writable meanwhile; a build that failed half-way leaves an invalid index,
which a new run drops first.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("revoked_at IS NULL")
COLUMNS = {"service": "service", "created": "created_at", "expires": "expires_at",
           "last_used": "last_used_at", "checked": "checked_at"}


def _columns(column: str) -> list[str]:
    return ["profile_id", column, "id", "status"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, column in COLUMNS.items():
            op.create_index(f"ix_connection_live_profile_{name}", "connection", _columns(column),
                            unique=False, sqlite_where=LIVE)
        return
    with op.get_context().autocommit_block():
        for name, column in COLUMNS.items():
            index = f"ix_connection_live_profile_{name}"
            op.drop_index(index, "connection", if_exists=True, postgresql_concurrently=True)
            op.create_index(index, "connection", _columns(column), unique=False,
                            postgresql_where=LIVE, postgresql_concurrently=True)


def downgrade() -> None:
    for name in COLUMNS:
        op.drop_index(f"ix_connection_live_profile_{name}", "connection")
