"""Hot statements compiled once per dialect and run straight on the driver's cursor.

A listing page or a revoke is a handful of index lookups: SQLite answers one in ~0.1 ms, and
SQLAlchemy's execution around it (cache key, parameter processing, result wrapping) cost
about as much again, per statement. `Prepared` keeps the SQLAlchemy statement as the one
definition of the SQL, compiles it once per dialect, converts values with the statement's own
bind types and returns the driver's plain tuples (no result processing: callers read plain
columns and do their own conversions). Driver errors are raised as SQLAlchemy's, as
`Connection.execute` raises them, so callers and `connmodel.store` translate them as usual.

Only for statements built once and run often: compiling is the expensive part.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

_Processors = dict[str, Callable[[Any], Any]]


class _Form:
    """A statement as one dialect runs it: SQL text, parameter order, value converters."""

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        self.compiled: SQLCompiler = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        self.sql = self.compiled.string
        if "POSTCOMPILE" in self.sql:  # an expanding IN needs SQLAlchemy's rendering per call
            raise TypeError("Prepared statements take no expanding parameters (IN lists)")
        self.positions: tuple[str, ...] | None = (
            tuple(self.compiled.positiontup or ())
            if dialect.positional else None)
        binds = {name: bind for bind, name in self.compiled.bind_names.items()}
        self.required = frozenset(name for name, bind in binds.items() if bind.required)
        self.literals = {name: bind.effective_value for name, bind in binds.items()
                         if not bind.required}  # values written into the statement itself
        self.processors: _Processors = {}
        for name, bind in binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.processors[name] = process

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        missing = self.required.difference(values)
        if missing:
            raise KeyError(f"no value for the bound parameters {sorted(missing)}")
        params = {**self.literals, **values}
        for name, process in self.processors.items():
            params[name] = process(params[name])
        if self.positions is None:
            return params
        return [params[name] for name in self.positions]


class Prepared:
    """One SQLAlchemy statement, compiled on first use for each dialect it runs on."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._forms: WeakKeyDictionary[Dialect, _Form] = WeakKeyDictionary()

    def _form(self, dialect: Dialect) -> _Form:
        form = self._forms.get(dialect)  # one dialect object per engine
        if form is None:
            form = self._forms[dialect] = _Form(self.statement, dialect)
        return form

    def _run(self, connection: Connection, values: Mapping[str, Any],
             fetch: Callable[[Any], Any]) -> Any:
        dialect = connection.dialect
        form = self._form(dialect)
        params = form.parameters(values)
        dbapi_connection = connection.connection.driver_connection
        try:
            cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(form.sql, params)
                return fetch(cursor)
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error as exc:
            lost = dialect.is_disconnect(exc, connection.connection.dbapi_connection, None)
            if lost:
                connection.invalidate(exc)
            raise DBAPIError.instance(form.sql, params, exc, dialect.loaded_dbapi.Error,
                                      connection_invalidated=lost, dialect=dialect) from exc

    def all(self, connection: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row, as the driver's tuples."""
        rows: list[tuple[Any, ...]] = self._run(connection, values, _fetch_all)
        return rows

    def first(self, connection: Connection, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row (None without one); a RETURNING statement's other rows are read too."""
        rows = self.all(connection, values)
        return rows[0] if rows else None

    def run(self, connection: Connection, values: Mapping[str, Any]) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        count: int = self._run(connection, values, _row_count)
        return count


def _fetch_all(cursor: Any) -> list[tuple[Any, ...]]:
    return cursor.fetchall()  # type: ignore[no-any-return]


def _row_count(cursor: Any) -> int:
    return cursor.rowcount  # type: ignore[no-any-return]
