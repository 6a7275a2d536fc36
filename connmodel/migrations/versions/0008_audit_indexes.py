"""audit indexes: check results by status and time, live expiry with status

The audit counts the few Error and Inactive checks of a window by status (an index range of
thousands, where (at, status) walked the window's millions), and filters expiring credentials
by status inside the expiry index (the expired-but-Active count and listing looked up every
expired row's status in the table). (expires_at, status) replaces (expires_at): same prefix,
same write cost.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("check_result", schema=None) as batch_op:
        batch_op.create_index("ix_check_result_status_at", ["status", "at"], unique=False)
    with op.batch_alter_table("connection", schema=None) as batch_op:
        batch_op.create_index("ix_connection_live_expires_status", ["expires_at", "status"],
                              unique=False, sqlite_where=LIVE, postgresql_where=LIVE)
        batch_op.drop_index("ix_connection_live_expires", sqlite_where=LIVE,
                            postgresql_where=LIVE)


def downgrade() -> None:
    with op.batch_alter_table("connection", schema=None) as batch_op:
        batch_op.create_index("ix_connection_live_expires", ["expires_at"], unique=False,
                              sqlite_where=LIVE, postgresql_where=LIVE)
        batch_op.drop_index("ix_connection_live_expires_status", sqlite_where=LIVE,
                            postgresql_where=LIVE)
    with op.batch_alter_table("check_result", schema=None) as batch_op:
        batch_op.drop_index("ix_check_result_status_at")
