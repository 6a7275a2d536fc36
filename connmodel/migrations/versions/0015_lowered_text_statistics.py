"""lowered text statistics: PostgreSQL's estimates of `lower(account)` and `lower(service)`

The capped count of a needle with more hits than the trigram index pays for tests each row
with `lower(x) LIKE lower(y)` (connmodel.search.counted_shape). Without statistics of those
expressions the planner estimated such a test at a fraction of a percent of the rows, and with
a status beside it read a bitmap of every row of that status instead of walking to the count's
cap: "Configured" + Inactive at 10M, 180 ms against 62 ms; "hooli.example" + production, 414
against 207 ms. Extended statistics on the expressions (PostgreSQL 14 and later) give the
planner their real shares; ANALYZE samples 30,000 rows whatever the table's size (~8 s at 10M).
SQLite has no such estimates to give: nothing to do there.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATISTICS = "connection_lowered_text"
SECONDS_PER_MILLION = {"postgresql": 0.8}


def _supported() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and (bind.dialect.server_version_info or (0,)) >= (14,)


def upgrade() -> None:
    if not _supported():
        return
    op.execute(f"CREATE STATISTICS IF NOT EXISTS {STATISTICS} "
               "ON (lower(account)), (lower(service)) FROM connection")
    op.execute("ANALYZE connection")


def downgrade() -> None:
    if _supported():
        op.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
