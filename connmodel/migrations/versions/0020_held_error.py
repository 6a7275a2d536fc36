"""held error: the Error a disable sets aside, for Enable to bring back

A disabled connection is Inactive ("disabled by NAME"), which overwrote an Error and its reason
(an `invalid_grant`, a rejected key): Enable then called it Active, the broker served its dead
credential and the audit stopped reporting it. `held_error` keeps that reason while the
connection is disabled; a new working credential clears it. A nullable column: added at once,
whatever the table's size.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("connection", sa.Column(
        "held_error", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN on both (SQLite 3.35+): a batch copy of `connection` would
    # drop the table its foreign keys point at
    op.drop_column("connection", "held_error")
