"""Statements run on the database driver itself, past SQLAlchemy's execution path.

SQLAlchemy's path (cache key, execution context, result metadata; on PostgreSQL also the greenlet
hand-off and the DBAPI adapter) costs about 40 µs a statement on SQLite and 100 µs or more on
PostgreSQL, several times what the database takes to run the statement: on the hot paths it was a
third of the server's CPU (docs/performance.md). So a Core statement the process runs again and
again is compiled once per dialect and then run on the unit of work's own connection — sqlite3's,
or asyncpg's inside the transaction SQLAlchemy's adapter keeps — with its values through the same
type processors and its rows through the same result processors, as named tuples.

Statements SQLAlchemy must help with keep its path: text, an expanding IN, Python-side column
defaults, parameter names it must escape, and on PostgreSQL several rows with RETURNING
(SQLAlchemy batches those into one) — unless they are run `each` (UnitOfWork.execute_each): one
statement per row, which asyncpg sends together and the server runs in order, one round trip.
"""
from __future__ import annotations

import re
import sqlite3
import weakref
from collections import namedtuple

from sqlalchemy.exc import ArgumentError, DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.selectable import Select

_ROWCOUNT = re.compile(r"(?:SELECT|UPDATE|DELETE|INSERT \d+) (\d+)")  # asyncpg's status, as SQLAlchemy reads it


class Rows:
    """What `UnitOfWork.execute` returns on this path: the subset of SQLAlchemy's Result the code
    uses (rows as named tuples: `row.name`, `row[0]`, `row._asdict()`)."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list, rowcount: int) -> None:
        self._rows, self.rowcount = rows, rowcount

    def __iter__(self):
        return iter(self._rows)

    def all(self) -> list:
        return self._rows

    def first(self):
        return self._rows[0] if self._rows else None

    def one(self):
        if len(self._rows) != 1:
            raise (NoResultFound if not self._rows else MultipleResultsFound)("expected exactly one row")
        return self._rows[0]

    def one_or_none(self):
        return None if not self._rows else self.one()

    def scalar(self):
        return self._rows[0][0] if self._rows else None

    def scalar_one(self):
        return self.one()[0]

    def scalar_one_or_none(self):
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalars(self) -> Rows:
        return Rows([row[0] for row in self._rows], self.rowcount)


class Compiled:
    """One statement as the driver runs it: its SQL, its parameters in order (with the values
    written into the statement and the type processor of each), and how to make its rows."""

    __slots__ = ("sql", "defaults", "binders", "row", "readers")

    def __init__(self, compiled) -> None:
        dialect = compiled.dialect
        self.sql = compiled.string
        self.defaults = {name: bind.effective_value for bind, name in compiled.bind_names.items() if not bind.required}
        # Each parameter in the statement's order, with its type's bind processor or None.
        self.binders = [(name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
                        for name in compiled.positiontup]
        # The result columns with the names SQLAlchemy gives its rows (pinned below 2.2 in pyproject.toml).
        columns = compiled._result_columns
        self.row = namedtuple("Row", [c.keyname for c in columns]) if columns else None
        readers = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        self.readers = [(at, read) for at, read in enumerate(readers) if read is not None]  # only these columns

    def values(self, parameters: dict | None) -> tuple:
        given = {**self.defaults, **parameters} if self.defaults and parameters else parameters or self.defaults
        try:
            return tuple([given[name] if bind is None else bind(given[name]) for name, bind in self.binders])
        except KeyError as missing:
            raise ArgumentError(f"a value is required for bind parameter {missing}") from None

    def rows(self, raw_rows) -> list:
        if self.row is None:
            return []
        make, readers = self.row._make, self.readers
        if not readers:
            return [make(raw) for raw in raw_rows]
        rows = []
        for raw in raw_rows:
            values = list(raw)
            for at, read in readers:
                values[at] = read(values[at])
            rows.append(make(values))
        return rows

    def run_sqlite(self, connection: sqlite3.Connection, parameters) -> Rows:
        """Run on sqlite3 (inline: the event loop's thread, see core/db.py)."""
        try:
            if not isinstance(parameters, list):
                cursor = connection.execute(self.sql, self.values(parameters))
                return Rows(self.rows(cursor.fetchall()), cursor.rowcount)
            if self.row is None:
                cursor = connection.executemany(self.sql, [self.values(p) for p in parameters])
                return Rows([], cursor.rowcount)
            # Several rows with RETURNING: one statement each, so the rows come in the parameters' order.
            rows = []
            for one in parameters:
                rows += self.rows(connection.execute(self.sql, self.values(one)).fetchall())
            return Rows(rows, len(rows))
        except sqlite3.Error as exc:
            raise DBAPIError.instance(self.sql, None, exc, sqlite3.Error, hide_parameters=True) from exc

    async def run_asyncpg(self, connection, parameters, *, each: bool = False) -> Rows:
        """Run on asyncpg inside the transaction of SQLAlchemy's adapter (`connection`: the unit of
        work's sync Connection), as the adapter's own cursor does, with its prepared statements.
        `each`: a list of parameters runs the statement once per row, pipelined (one round trip),
        and returns the rows of all of them in the parameters' order."""
        adapter = connection.connection.dbapi_connection
        dialect = connection.dialect
        async with adapter._execute_mutex:
            try:
                if adapter._transaction is None:
                    await adapter._start_transaction()
                if each:
                    prepared, _ = await adapter._prepare(self.sql, dialect._invalidate_schema_cache_asof)
                    raw_rows = await prepared.fetchmany([self.values(p) for p in parameters])
                    return Rows(self.rows(raw_rows), len(raw_rows))
                if isinstance(parameters, list):
                    await adapter._connection.executemany(self.sql, [self.values(p) for p in parameters])
                    return Rows([], -1)
                prepared, _ = await adapter._prepare(self.sql, dialect._invalidate_schema_cache_asof)
                raw_rows = await prepared.fetch(*self.values(parameters))
                counted = _ROWCOUNT.match(prepared.get_statusmsg() or "")
                return Rows(self.rows(raw_rows), int(counted.group(1)) if counted else -1)
            except (ArgumentError, DBAPIError):
                raise
            except Exception as error:
                _raise_as_sqlalchemy(self.sql, adapter, connection, error)


def _raise_as_sqlalchemy(sql: str, adapter, connection, error: Exception):
    """asyncpg's error as SQLAlchemy raises it (IntegrityError, OperationalError, ...); a connection
    found dead is invalidated, so the pool replaces it."""
    try:
        adapter._handle_exception(error)  # raises the adapter's DBAPI-style translation
    except Exception as translated:
        dbapi = connection.dialect.loaded_dbapi
        wrapped = DBAPIError.instance(sql, None, translated, dbapi.Error, hide_parameters=True,
                                      dialect=connection.dialect)
        if isinstance(translated, dbapi.Error) and connection.dialect.is_disconnect(translated, adapter, None):
            connection.invalidate(translated)
        raise wrapped from error


class Statements:
    """The statements one engine runs on its driver: a statement object seen twice is compiled (once
    per set of parameter names, which decides an INSERT's columns); one seen once, built per call
    with its values in it, keeps SQLAlchemy's path and cache."""

    def __init__(self, dialect) -> None:
        self.dialect = dialect
        self._seen: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get(self, statement, parameters, *, each: bool = False) -> Compiled | None:
        try:
            by_keys = self._seen.get(statement)
        except TypeError:  # not weak-referenceable: not ours to prepare
            return None
        if by_keys is None:
            self._seen[statement] = {}
            return None
        many = isinstance(parameters, list)
        keys = ("each" if each else many, tuple(parameters[0] if many else parameters) if parameters else ())
        if keys not in by_keys:
            by_keys[keys] = self._compile(statement, keys[1], many and not each)
        return by_keys[keys]

    def _compile(self, statement, keys, many: bool) -> Compiled | None:
        if not isinstance(statement, (Select, Insert, Update, Delete)):
            return None
        # Compiled for one row: several are run with executemany, or (SQLite) one by one when rows come back.
        compiled = statement.compile(dialect=self.dialect, column_keys=list(keys))
        if (compiled.insert_prefetch or compiled.update_prefetch or compiled.post_compile_params
                or compiled.literal_execute_params or compiled.escaped_bind_names
                or (many and compiled._result_columns and self.dialect.name != "sqlite")
                or any(bind.callable or bind.expanding for bind in compiled.bind_names)):
            return None
        try:
            return Compiled(compiled)
        except ValueError:  # a column name a named tuple cannot have (SQLAlchemy's Row can)
            return None


_BY_ENGINE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def statements_for(engine: AsyncEngine) -> Statements:
    """The one `Statements` of `engine`, however many units of work are wired to it."""
    if engine not in _BY_ENGINE:
        _BY_ENGINE[engine] = Statements(engine.dialect)
    return _BY_ENGINE[engine]
