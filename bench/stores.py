"""Fresh databases for the benchmarks: a new SQLite file, or a PostgreSQL database made anew."""

import os
from pathlib import Path

from sqlalchemy import create_engine, text

from connmodel.store import get_engine

PG_SERVER = os.environ.get("CONNMODEL_TEST_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _on_server(*statements: str) -> None:
    server = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    server.dispose()


def fresh_database(kind: str, folder: Path, name: str) -> str:
    """The URL of an empty database `name`: a file in `folder`, or dropped and created on PG_SERVER."""
    if kind == "sqlite":
        return f"sqlite:///{folder / f'{name}.db'}"
    _on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return PG_SERVER.rsplit("/", 1)[0] + "/" + name


def store_kind(url: str) -> str:
    """"sqlite" or "postgres": the store a database URL names."""
    return "postgres" if url.startswith("postgresql") else "sqlite"


def drop_database(kind: str, url: str, name: str) -> None:
    """Close the benchmark's connections and, on PostgreSQL, drop its database."""
    get_engine(url).dispose()
    if kind == "postgres":
        _on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
