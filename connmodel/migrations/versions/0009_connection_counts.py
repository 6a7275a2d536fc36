"""connection counts: live connections per (profile, status), kept exact by triggers

The Connections page shows counts by status for every profile on screen; counting them read
~117,000 index entries per filter change at a million connections. Triggers on `connection`
keep `connection_count` exact through inserts, status and profile changes, revocation (setting
`revoked_at`) and deletes, so the page reads a few rows. PostgreSQL counts a bulk insert once
per statement (a transition table); updates and deletes count per row, only for the rows whose
profile, status or liveness changed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILL = ("INSERT INTO connection_count (profile_id, status, n) SELECT profile_id, status, count(*) "
        "FROM connection WHERE revoked_at IS NULL GROUP BY profile_id, status")
# An update counts when the row's profile, status or liveness changed.
MOVED = ("(old.revoked_at IS NULL OR new.revoked_at IS NULL) AND (old.status <> new.status OR "
         "old.profile_id <> new.profile_id OR (old.revoked_at IS NULL) <> (new.revoked_at IS NULL))")

SQLITE_UP = [
    """CREATE TRIGGER connection_count_insert AFTER INSERT ON connection
    WHEN new.revoked_at IS NULL BEGIN
        INSERT INTO connection_count (profile_id, status, n) VALUES (new.profile_id, new.status, 1)
        ON CONFLICT (profile_id, status) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER connection_count_delete AFTER DELETE ON connection
    WHEN old.revoked_at IS NULL BEGIN
        UPDATE connection_count SET n = n - 1
        WHERE profile_id = old.profile_id AND status = old.status;
    END""",
    f"""CREATE TRIGGER connection_count_update AFTER UPDATE OF profile_id, status, revoked_at
    ON connection WHEN {MOVED} BEGIN
        UPDATE connection_count SET n = n - 1
        WHERE old.revoked_at IS NULL AND profile_id = old.profile_id AND status = old.status;
        INSERT INTO connection_count (profile_id, status, n)
        SELECT new.profile_id, new.status, 1 WHERE new.revoked_at IS NULL
        ON CONFLICT (profile_id, status) DO UPDATE SET n = n + 1;
    END""",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS connection_count_update",
               "DROP TRIGGER IF EXISTS connection_count_delete",
               "DROP TRIGGER IF EXISTS connection_count_insert"]

POSTGRES_UP = [
    # Rows are added in (profile, status) order so that concurrent writers lock them in the
    # same order.
    """CREATE FUNCTION connection_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO connection_count AS c (profile_id, status, n)
        SELECT profile_id, status, count(*) FROM inserted WHERE revoked_at IS NULL
        GROUP BY profile_id, status ORDER BY profile_id, status
        ON CONFLICT (profile_id, status) DO UPDATE SET n = c.n + excluded.n;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION connection_count_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF old.revoked_at IS NULL THEN
            UPDATE connection_count SET n = n - 1
            WHERE profile_id = old.profile_id AND status = old.status;
        END IF;
        IF TG_OP = 'UPDATE' AND new.revoked_at IS NULL THEN
            INSERT INTO connection_count AS c (profile_id, status, n)
            VALUES (new.profile_id, new.status, 1)
            ON CONFLICT (profile_id, status) DO UPDATE SET n = c.n + 1;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER connection_count_insert AFTER INSERT ON connection
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
    EXECUTE FUNCTION connection_count_inserted()""",
    """CREATE TRIGGER connection_count_delete AFTER DELETE ON connection
    FOR EACH ROW WHEN (old.revoked_at IS NULL) EXECUTE FUNCTION connection_count_changed()""",
    f"""CREATE TRIGGER connection_count_update AFTER UPDATE OF profile_id, status, revoked_at
    ON connection FOR EACH ROW WHEN ({MOVED}) EXECUTE FUNCTION connection_count_changed()""",
]
POSTGRES_DOWN = ["DROP TRIGGER IF EXISTS connection_count_update ON connection",
                 "DROP TRIGGER IF EXISTS connection_count_delete ON connection",
                 "DROP TRIGGER IF EXISTS connection_count_insert ON connection",
                 "DROP FUNCTION IF EXISTS connection_count_changed()",
                 "DROP FUNCTION IF EXISTS connection_count_inserted()"]


def upgrade() -> None:
    op.create_table(
        "connection_count",
        sa.Column("profile_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("profile_id", "status"),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_UP if sqlite else POSTGRES_UP:
        op.execute(statement)
    op.execute(FILL)  # in the migration's transaction: no write can fall between


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_DOWN if sqlite else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_table("connection_count")
