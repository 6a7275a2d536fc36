"""profile terms: the runs of letters in each profile's accounts and in its services, by triggers

A search for a common needle on the Connections page probes profiles by name until a page of
them has a match; a profile without one was read whole (every row), and at ten million rows a
page could read a million rows ("Google" matches the profiles of one provider: 5.5 s on
PostgreSQL). `profile_term` holds each profile's distinct runs of letters (connmodel.terms), so
the probe skips a profile lacking a run of the needle without reading its rows.

Triggers on `connection` add the terms of inserted rows and of rows whose account, service or
profile changes; nothing removes them (a term too many only costs a probe). The fill reads the
live connections once, a profile at a time: at ten million rows 7 s on SQLite (in the upgrade's
one transaction, as SQLite upgrades are) and 33 s on PostgreSQL, where the triggers are created
and committed first and the fill runs after, so writes to `connection` wait only for the
triggers' creation, not for the fill.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PATTERN = "[a-z]+"  # connmodel.terms.PATTERN, as of this revision
SOURCES = ("account", "service")

# SQLite splits with connmodel_terms(), a function every connmodel connection registers.
SQLITE_TERMS = " UNION ALL ".join(
    f"SELECT {{row}}.profile_id, '{source}', value FROM json_each(connmodel_terms({{row}}.{source}))"
    for source in SOURCES)
SQLITE_UP = [
    f"""CREATE TRIGGER profile_term_insert AFTER INSERT ON connection BEGIN
        INSERT INTO profile_term (profile_id, source, term)
        SELECT * FROM ({SQLITE_TERMS.format(row='new')}) WHERE true ON CONFLICT DO NOTHING;
    END""",
    f"""CREATE TRIGGER profile_term_update AFTER UPDATE OF profile_id, account, service
    ON connection BEGIN
        INSERT INTO profile_term (profile_id, source, term)
        SELECT * FROM ({SQLITE_TERMS.format(row='new')}) WHERE true ON CONFLICT DO NOTHING;
    END""",
]
# The fill splits each profile's live texts joined into one (a function call per profile, not
# per row: 14 s instead of 126 s at 10M rows), read from the index holding the column.
SQLITE_FILL = [
    "INSERT INTO profile_term (profile_id, source, term) "
    f"SELECT g.profile_id, '{source}', t.value FROM (SELECT profile_id, group_concat({joined}) "
    f"AS text FROM connection INDEXED BY ix_connection_live_profile_{source} "
    "WHERE revoked_at IS NULL GROUP BY profile_id) AS g, json_each(connmodel_terms(g.text)) AS t "
    "WHERE true ON CONFLICT DO NOTHING"
    for source, joined in (("account", "account, ' '"), ("service", "DISTINCT service"))]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS profile_term_update",
               "DROP TRIGGER IF EXISTS profile_term_insert"]

POSTGRES_TERMS = " UNION ".join(
    f"SELECT c.profile_id, '{source}', m[1] FROM {{rows}} AS c, "
    f"regexp_matches(lower(c.{source}), '{PATTERN}', 'g') AS m" for source in SOURCES)
POSTGRES_UP = [
    # Rows are added in key order so that concurrent writers lock them in the same order.
    f"""CREATE FUNCTION profile_term_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO profile_term (profile_id, source, term) {POSTGRES_TERMS.format(rows='inserted')}
        ORDER BY 1, 2, 3 ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION profile_term_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO profile_term (profile_id, source, term)
        {POSTGRES_TERMS.format(rows='(SELECT new.profile_id, new.account, new.service)')}
        ORDER BY 1, 2, 3 ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER profile_term_insert AFTER INSERT ON connection
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
    EXECUTE FUNCTION profile_term_inserted()""",
    """CREATE TRIGGER profile_term_update AFTER UPDATE OF profile_id, account, service
    ON connection FOR EACH ROW WHEN (old.profile_id <> new.profile_id OR
        old.account <> new.account OR old.service <> new.service)
    EXECUTE FUNCTION profile_term_changed()""",
]
POSTGRES_FILL = [
    "INSERT INTO profile_term (profile_id, source, term) "
    f"SELECT DISTINCT g.profile_id, '{source}', m[1] FROM (SELECT profile_id, "
    f"string_agg({joined}, ' ') AS text FROM connection WHERE revoked_at IS NULL "
    f"GROUP BY profile_id) AS g, regexp_matches(lower(g.text), '{PATTERN}', 'g') AS m "
    "ON CONFLICT DO NOTHING"
    for source, joined in (("account", "account"), ("service", "DISTINCT service"))]
POSTGRES_DOWN = ["DROP TRIGGER IF EXISTS profile_term_update ON connection",
                 "DROP TRIGGER IF EXISTS profile_term_insert ON connection",
                 "DROP FUNCTION IF EXISTS profile_term_changed()",
                 "DROP FUNCTION IF EXISTS profile_term_inserted()"]


# What `connmodel init` announces before running this revision (per million connections).
SECONDS_PER_MILLION = {"sqlite": 1.0, "postgresql": 3.5}


def _create_table() -> None:
    op.create_table(
        "profile_term",
        sa.Column("profile_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("term", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.ForeignKeyConstraint(["profile_id"], ["profile.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("profile_id", "source", "term"),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # one transaction, as every SQLite upgrade
        _create_table()
        for statement in (*SQLITE_UP, *SQLITE_FILL):
            op.execute(statement)
        return
    # PostgreSQL: each step commits on its own, so that connection is locked (against writes)
    # only while the triggers are created, not for the fill: rows added after the triggers get
    # their terms from them, rows before from the fill. A run stopped half-way is redone whole.
    with op.get_context().autocommit_block():
        for statement in POSTGRES_DOWN:
            op.execute(statement)
        op.execute("DROP TABLE IF EXISTS profile_term")
        _create_table()
        for statement in (*POSTGRES_UP, *POSTGRES_FILL):
            op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_DOWN if sqlite else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_table("profile_term")
