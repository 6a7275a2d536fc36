"""PostgreSQL: finer statistics on connection.account

The planner estimates how many accounts contain a substring from the column's histogram; with
the default 100 buckets a needle with 600 hits in a million rows is guessed at 4,500, with
1,000 buckets at 900. `connmodel.search` relies on that estimate to pick its plan. SQLite has
no such setting (its search goes through FTS5).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE connection ALTER COLUMN account SET STATISTICS 1000")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE connection ALTER COLUMN account SET STATISTICS -1")
