"""profile names ignoring case: a unique index on lower(name)

"google" could be created beside "Google", and the cards were sorted "GitHub", "Hubspot",
"beta". Profile names are now compared and listed ignoring case (connmodel.services.profiles):
this index refuses a second "google" even when two admins create it at once, and gives the
listing its order. The profile table is small (one row per profile): built in the transaction.

Profiles made earlier whose names differ only in case cannot both keep them. The oldest of
each keeps its name; each other one is renamed "NAME (2)", "NAME (3)", ... and the rename is
written to the audit trail (action `profile.rename`, actor "migration 0021"), so Activity says
what happened and to which. Nothing else changes: ids, connections and servers stay as they are.
The downgrade drops the index and keeps the names.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ux_profile_name_lower"
ACTOR = "migration 0021"
NAME_MAX = 100  # connmodel.models.NAME_MAX when this revision was written

SAME_BUT_CASE = sa.text(
    "SELECT id, name, lower(name) FROM profile WHERE lower(name) IN "
    "(SELECT lower(name) FROM profile GROUP BY lower(name) HAVING count(*) > 1) ORDER BY id")
TAKEN = sa.text("SELECT 1 FROM profile WHERE lower(name) = lower(:name)")
RENAME = sa.text("UPDATE profile SET name = :name WHERE id = :id")
AUDIT = sa.table("audit_event", sa.column("at", sa.DateTime(timezone=True)),
                 sa.column("actor", sa.String), sa.column("action", sa.String),
                 sa.column("target", sa.String), sa.column("outcome", sa.String))


def _free_name(bind: sa.Connection, name: str) -> str:
    """`name` with the first " (N)" that no profile has in any case, within NAME_MAX."""
    n = 2
    while True:
        suffix = f" ({n})"
        candidate = name[:NAME_MAX - len(suffix)] + suffix
        if bind.execute(TAKEN, {"name": candidate}).first() is None:
            return candidate
        n += 1


def _rename_clashes(bind: sa.Connection) -> None:
    """Every profile but the oldest of each name-ignoring-case gets a free name, audited."""
    kept: set[str] = set()
    for ident, name, lowered in bind.execute(SAME_BUT_CASE).all():
        if lowered not in kept:
            kept.add(lowered)
            continue
        new = _free_name(bind, name)
        bind.execute(RENAME, {"name": new, "id": ident})
        op.bulk_insert(AUDIT, [{
            "at": datetime.now(UTC), "actor": ACTOR, "action": "profile.rename",
            "target": f"profile {name} -> {new}",
            "outcome": "ok; profile names are unique ignoring case now, and an older profile "
                       "had this name in another case"}])


def upgrade() -> None:
    _rename_clashes(op.get_bind())
    op.create_index(INDEX, "profile", [sa.text("lower(name)")], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, "profile")
