"""live connection index: (profile_id, id) of live connections, for "the connection a server uses"

A server uses its profile's first live connection (the least id). PostgreSQL found it by walking
the primary key from the lowest id and dropping every other profile's rows: with a million
generated connections before a profile's own, one credential from the broker took 170 ms and a
page of servers as much per server. With this index it is one probe on both stores.

On PostgreSQL the index is built CONCURRENTLY (outside the migration's transaction), so the
table stays writable meanwhile; a build that failed half-way leaves an invalid index, which a
new run drops first.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_connection_live_profile_id"
COLUMNS = ["profile_id", "id"]
LIVE = sa.text("revoked_at IS NULL")
SECONDS_PER_MILLION = {"sqlite": 1.0, "postgresql": 1.0}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(INDEX, "connection", COLUMNS, unique=False, sqlite_where=LIVE)
        return
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, "connection", if_exists=True, postgresql_concurrently=True)
        op.create_index(INDEX, "connection", COLUMNS, unique=False, postgresql_where=LIVE,
                        postgresql_concurrently=True)


def downgrade() -> None:
    op.drop_index(INDEX, "connection")
