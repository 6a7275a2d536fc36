"""search indexes: FTS5 trigram on SQLite, pg_trgm GIN on PostgreSQL

Substring search over account and service must not scan a million rows. SQLAlchemy cannot
describe these indexes, so they live here and autogenerate is told to leave them alone.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0002"
down_revision: Union[str, None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SQLITE_UP = [
    """CREATE VIRTUAL TABLE connection_fts USING fts5(
        account, service, content='connection', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER connection_fts_insert AFTER INSERT ON connection BEGIN
        INSERT INTO connection_fts(rowid, account, service)
        VALUES (new.id, new.account, new.service);
    END""",
    """CREATE TRIGGER connection_fts_delete AFTER DELETE ON connection BEGIN
        INSERT INTO connection_fts(connection_fts, rowid, account, service)
        VALUES ('delete', old.id, old.account, old.service);
    END""",
    """CREATE TRIGGER connection_fts_update AFTER UPDATE OF account, service ON connection BEGIN
        INSERT INTO connection_fts(connection_fts, rowid, account, service)
        VALUES ('delete', old.id, old.account, old.service);
        INSERT INTO connection_fts(rowid, account, service)
        VALUES (new.id, new.account, new.service);
    END""",
    "INSERT INTO connection_fts(connection_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS connection_fts_update",
    "DROP TRIGGER IF EXISTS connection_fts_delete",
    "DROP TRIGGER IF EXISTS connection_fts_insert",
    "DROP TABLE IF EXISTS connection_fts",
]
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_connection_trgm_account ON connection USING gin (account gin_trgm_ops)",
    "CREATE INDEX ix_connection_trgm_service ON connection USING gin (service gin_trgm_ops)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_connection_trgm_service",
    "DROP INDEX IF EXISTS ix_connection_trgm_account",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _run(SQLITE_UP if dialect == "sqlite" else POSTGRES_UP)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _run(SQLITE_DOWN if dialect == "sqlite" else POSTGRES_DOWN)
