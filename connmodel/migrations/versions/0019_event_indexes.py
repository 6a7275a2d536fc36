"""event indexes: the audit trail's target text searched through trigrams, actor and action

The Activity page, `connmodel events --target` and the API's events filter look for a substring
of each event's target ("connection 42 (Google / ... / ada@example.com)"). Without an index
a needle found in few events read the whole trail: 1.2 s on SQLite and 2.2 s on PostgreSQL for
1.3 million events, which token refreshes and revocations reach at a large gateway. SQLite
gets an FTS5 trigram table kept in step by a trigger (the trail is append-only), PostgreSQL a
pg_trgm GIN index. An actor and an action together ("what did alice revoke") get one index
(actor, action, id): with the actor's alone every event of that actor was tested (190 ms among
1.3 million); PostgreSQL is also told which pairs occur (extended statistics), or it takes them
as independent, expects a quarter of a million events of a pair that has none and walks the
whole trail newest first for them (330 ms). On PostgreSQL both indexes are built CONCURRENTLY so the trail stays writable meanwhile
(a build that failed half-way leaves an invalid index, which a new run drops first).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_audit_event_trgm_target"
BY_ACTOR = "ix_audit_event_actor_action"
PAIRS = "audit_event_actor_action"  # PostgreSQL's statistics of (actor, action) pairs
ROWS = ("audit_event", "events")  # what the build's time grows with (connmodel.schema)
SECONDS_PER_MILLION = {"sqlite": 30.0, "postgresql": 50.0}
SQLITE_UP = [
    """CREATE VIRTUAL TABLE audit_event_fts USING fts5(
        target, content='audit_event', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER audit_event_fts_insert AFTER INSERT ON audit_event BEGIN
        INSERT INTO audit_event_fts(rowid, target) VALUES (new.id, new.target);
    END""",
    "INSERT INTO audit_event_fts(audit_event_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for statement in SQLITE_UP:
            op.execute(statement)
        op.create_index(BY_ACTOR, "audit_event", ["actor", "action", "id"], unique=False)
        return
    with op.get_context().autocommit_block():
        for index in (INDEX, BY_ACTOR):
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {index}")
        op.execute(f"CREATE INDEX CONCURRENTLY {INDEX} ON audit_event "
                   "USING gin (target gin_trgm_ops)")
        op.create_index(BY_ACTOR, "audit_event", ["actor", "action", "id"], unique=False,
                        postgresql_concurrently=True)
        op.execute(f"CREATE STATISTICS IF NOT EXISTS {PAIRS} (mcv) ON actor, action "
                   "FROM audit_event")
        op.execute("ANALYZE audit_event")


def downgrade() -> None:
    op.drop_index(BY_ACTOR, "audit_event")
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_fts_insert")
        op.execute("DROP TABLE IF EXISTS audit_event_fts")
        return
    op.execute(f"DROP STATISTICS IF EXISTS {PAIRS}")
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
