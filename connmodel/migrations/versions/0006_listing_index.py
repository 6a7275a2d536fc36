"""listing index: live connections by profile, status and account

A profile's listing filtered by status and sorted by account (the order a person scans) reads
one index range per page with this index; without it a deep page walked the profile's rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("connection", schema=None) as batch_op:
        batch_op.create_index("ix_connection_live_profile_status_account",
                              ["profile_id", "status", "account", "id"], unique=False,
                              sqlite_where=LIVE, postgresql_where=LIVE)


def downgrade() -> None:
    with op.batch_alter_table("connection", schema=None) as batch_op:
        batch_op.drop_index("ix_connection_live_profile_status_account",
                            sqlite_where=LIVE, postgresql_where=LIVE)
