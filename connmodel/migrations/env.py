"""Alembic environment: the target is SQLModel.metadata; the connection comes from connmodel."""

from alembic import context
from sqlmodel import SQLModel

import connmodel.models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    """Leave the search indexes (FTS5 tables, pg_trgm indexes) out of autogenerate comparisons:
    they are created by hand in a migration because SQLAlchemy cannot describe them."""
    if type_ == "table" and name and name.startswith("connection_fts"):
        return False
    return not (type_ == "index" and name and name.startswith("ix_connection_trgm"))


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from connmodel.store import get_engine

        connection = get_engine(config.get_main_option("sqlalchemy.url")).connect()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
