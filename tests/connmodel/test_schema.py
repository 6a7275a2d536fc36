"""The schema the migrations build is the schema the models describe, on both stores."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlmodel import SQLModel

import connmodel.models  # noqa: F401  (registers every table on SQLModel.metadata)
from connmodel.errors import StoreUnavailable
from connmodel.models import Profile
from connmodel.schema import alembic_config, include_object, is_current, upgrade
from connmodel.store import get_engine, session


def test_migrated_schema_equals_models(module_store_url):
    engine = get_engine(module_store_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_object, "compare_type": True}
        )
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_exactly_one_head():
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"several Alembic heads: {heads}"


def test_current_after_upgrade_and_second_upgrade_is_a_no_op(module_store_url):
    engine = get_engine(module_store_url)
    assert is_current(engine)
    with engine.connect() as connection:
        before = MigrationContext.configure(connection).get_current_revision()
    upgrade(engine)
    assert is_current(engine)
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == before
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"include_object": include_object}),
            SQLModel.metadata,
        )
    assert diff == []


def test_every_migration_downgrades_and_upgrades_again(module_store_url):
    """Runs after the tests above on the same store, and leaves it at head as it found it."""
    store_url = module_store_url
    engine = get_engine(store_url)
    cfg = alembic_config(store_url)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "base")
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() is None
    assert not is_current(engine)
    not_init = r"is not a connmodel database at the current schema \(.*\): run `connmodel init`$"
    with pytest.raises(StoreUnavailable, match=not_init), session(store_url) as s:
        s.execute(select(Profile.id)).all()
    upgrade(engine)
    assert is_current(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_object, "compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_a_database_from_a_newer_connmodel_is_refused_clearly(sqlite_url):
    engine = get_engine(sqlite_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    assert not is_current(engine)
    with pytest.raises(StoreUnavailable) as info:
        upgrade(engine)
    head = ScriptDirectory.from_config(alembic_config(sqlite_url)).get_current_head()
    assert str(info.value) == (
        f"{sqlite_url} is at schema revision '9999', which this connmodel does not know "
        f"(its newest is {head!r}): a newer connmodel migrated it; upgrade connmodel")
