"""Alembic environment: the target is SQLModel.metadata; the connection comes from connmodel."""

from alembic import context
from sqlmodel import SQLModel

import connmodel.models  # noqa: F401  (registers the tables)
from connmodel.schema import include_object

config = context.config
target_metadata = SQLModel.metadata


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
        on_version_apply=config.attributes.get("on_version_apply", ()),
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
