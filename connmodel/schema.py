"""Schema management: Alembic migrations shipped inside the package, run by `connmodel init`."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from connmodel.errors import StoreUnavailable
from connmodel.store import describe

MIGRATIONS = Path(__file__).parent / "migrations"


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Leave the search indexes (FTS5 tables, pg_trgm indexes, SQLite's index of a search's
    hits) out of autogenerate comparisons: they are created by hand in a migration, as
    SQLAlchemy cannot describe them or a model cannot hold an index of one store only."""
    if type_ == "table" and name and name.startswith(("connection_fts", "audit_event_fts")):
        return False
    return not (type_ == "index" and name and name.startswith(
        ("ix_connection_trgm", "ix_connection_search", "ix_audit_event_trgm")))


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(engine: Engine, report: Callable[[str], None] | None = None) -> None:
    """Bring the database to the newest schema (creating it if empty).

    With `report`, each pending revision is announced before it runs (what it does, and how
    long it should take for the rows there, when the revision says: SECONDS_PER_MILLION) and
    its time said after. A database already migrated by a newer connmodel (a revision this one
    does not know) is refused with StoreUnavailable rather than Alembic's traceback.
    """
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    # PostgreSQL: the migration context begins the transaction itself, so a migration can build
    # an index CONCURRENTLY outside it (autocommit_block); SQLite: the whole upgrade in one.
    postgres = engine.dialect.name == "postgresql"
    try:
        with engine.connect() if postgres else engine.begin() as connection:
            cfg.attributes["connection"] = connection
            if report:
                _announce(cfg, connection, report)
                if postgres:
                    connection.commit()  # the migration context begins its own (see above)
            command.upgrade(cfg, "head")
    except CommandError:
        with engine.connect() as connection:
            found = MigrationContext.configure(connection).get_current_revision()
        script = ScriptDirectory.from_config(cfg)
        if found is None or found in {r.revision for r in script.walk_revisions()}:
            raise  # not a revision from the future: a problem in the migrations themselves
        head = script.get_current_head()
        raise StoreUnavailable(
            f"{describe(engine.url.render_as_string())} is at schema revision {found!r}, which "
            f"this connmodel does not know (its newest is {head!r}): a newer connmodel migrated "
            "it; upgrade connmodel"
        ) from None


def _announce(cfg: Config, connection: Connection, report: Callable[[str], None]) -> None:
    """Say what each revision pending on an existing database does and how long it should
    take; time each one."""
    script = ScriptDirectory.from_config(cfg)
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None or current not in {r.revision for r in script.walk_revisions()}:
        return  # a new database (nothing to wait for), or one from the future (refused)
    pending = list(reversed(list(script.iterate_revisions("head", current))))
    dialect = connection.dialect.name
    for revision in pending:
        rate = getattr(revision.module, "SECONDS_PER_MILLION", {}).get(dialect)
        table, noun = getattr(revision.module, "ROWS", ("connection", "connections"))
        rows = _rows(connection, table) if rate else 0
        guess = (f" (about {max(1, round(rate * rows / 1e6))} s for {rows:,} {noun})"
                 if rate and rows else "")
        report(f"migration {revision.revision}: {revision.doc}{guess}")
    started = [time.perf_counter()]

    def applied(*, step: Any, **_: Any) -> None:
        now = time.perf_counter()
        report(f"migration {step.up_revision_id} done in {now - started[0]:.1f} s")
        started[0] = now

    cfg.attributes["on_version_apply"] = applied


def _rows(connection: Connection, table: str) -> int:
    """About how many rows `table` holds, read without counting them."""
    if connection.dialect.name == "postgresql":
        found = connection.execute(text(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}).scalar()
    else:
        found = connection.execute(text(f"SELECT max(rowid) FROM {table}")).scalar()
    return max(0, int(found or 0))


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest migration."""
    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head
