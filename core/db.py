"""Engines for SQLite (WAL, busy timeout, foreign keys, write-locking transactions) and PostgreSQL.

SQLite runs inline. Its statements take microseconds, while handing each one to aiosqlite's thread
and back through the event loop takes far longer and lets other coroutines in while the write lock
is held (docs/performance.md has the figures). So on SQLite the standard sqlite3 module runs on the
event loop's own thread, through a dialect that only tells SQLAlchemy's asyncio layer it may, and
the unit of work queues this process's writers (core/uow.py) so no statement ever waits on
SQLite's busy handler behind a transaction of the same process.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import time

from sqlalchemy import String, TypeDecorator, bindparam, event, pool, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.dialects import postgresql, registry, sqlite
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import configure_mappers

SQLITE_BUSY_TIMEOUT_S = 30
READONLY = "orderdesk_readonly"


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite, usable from SQLAlchemy's asyncio API: each statement runs at once on the calling
    thread (the event loop's), which never waits on another connection of this process because
    the unit of work runs one writer at a time."""

    driver = "inline"
    is_async = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url):
        return pool.AsyncAdaptedQueuePool if cls._is_url_file_db(url) else pool.StaticPool


registry.register("sqlite.inline", __name__, "InlineSQLiteDialect")


class _InlineCursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """What SQLAlchemy's asyncio results call on an async driver's cursor: nothing to await here."""


class _InlineConnection(sqlite3.Connection):
    def cursor(self, factory=_InlineCursor):
        return super().cursor(factory)


class _Values(TypeDecorator):
    """A list of values as one parameter: an array of the column's type on PostgreSQL, a JSON
    array on SQLite."""

    impl = String
    cache_ok = True

    def __init__(self, item_type=None) -> None:
        super().__init__()
        self.item_type = item_type if item_type is not None else String()

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(ARRAY(self.item_type) if dialect.name == "postgresql" else String())

    def process_bind_param(self, value, dialect):
        return list(value) if dialect.name == "postgresql" else json.dumps(list(value))


class _OneOf(ColumnElement):
    """`column` is one of the values of a list parameter, written so that the SQL is the same for
    any length of list (an expanding IN is rendered anew per length, and PostgreSQL then prepares
    each length as a new statement)."""

    inherit_cache = True
    type = NullType()  # a Boolean type would be written "... = 1" in a WHERE on SQLite, defeating its index
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("values", InternalTraversal.dp_clauseelement)]

    def __init__(self, column, values) -> None:
        self.column, self.values = column, values


@compiles(_OneOf)
def _one_of_sqlite(element, compiler, **kw):
    return (f"{compiler.process(element.column, **kw)} IN "
            f"(SELECT value FROM json_each({compiler.process(element.values, **kw)}))")


@compiles(_OneOf, "postgresql")
def _one_of_postgresql(element, compiler, **kw):
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.values, **kw)})"


def one_of(column, name: str) -> ColumnElement:
    """`column IN <the list given as parameter name>`, for prebuilt statements."""
    return _OneOf(column, bindparam(name, type_=_Values(column.type)))


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite database URL, as written; None for PostgreSQL or an in-memory database."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def make_engine(url: str, *, ping_after_idle_s: float = 10, autocheckpoint: bool = True, **kwargs) -> AsyncEngine:
    """`autocheckpoint=False`: SQLite's commits never copy the write-ahead log back into the database
    file; whoever asks for that runs a `core.wal.Checkpointer`, as the server does."""
    # A database error never carries a statement's parameters (phones, names, message texts) into a log.
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        inline = make_url(url).set(drivername="sqlite+inline")
        engine = create_async_engine(inline, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "factory": _InlineConnection}, **kwargs)
        _tune_sqlite(engine, autocheckpoint)
        return engine
    # Up to 20 connections a process, each kept once opened: a request holds one for its whole unit
    # of work. With 10 kept and 10 more opened under load, 16 clients made the pool close and open
    # connections all the time, each new one costing a connect and its statements prepared again:
    # PostgreSQL creates at 720 req/s with p99 100 ms instead of 1,150 req/s and 23 ms.
    engine = create_async_engine(url, **{"pool_size": 20, "max_overflow": 0, **kwargs})
    _ping_after_idle(engine, ping_after_idle_s)
    return engine


def _ping_after_idle(engine: AsyncEngine, seconds: float) -> None:
    """Pessimistic disconnect handling, paid only where it buys something: a pooled connection idle
    for a while (a database restart, a platform's maintenance, a proxy's timeout may have closed
    it) is pinged before use and replaced if dead; one in constant use is not, which spares a
    round trip per request under load (SQLAlchemy's pool_pre_ping pings at every checkout)."""
    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy):
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since >= seconds:
            try:
                dbapi_connection.ping()
            except Exception as exc:  # the pool discards this connection and checks out another
                raise DisconnectionError("the pooled connection was closed while idle") from exc


def _tune_sqlite(engine: AsyncEngine, autocheckpoint: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Take transaction control from the driver so BEGIN IMMEDIATE below is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if not autocheckpoint:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection):
        # IMMEDIATE takes the write lock up front: two transactions that read then write queue up
        # behind the busy timeout instead of one failing with "database is locked" on upgrade.
        # A read-only unit of work needs no lock at all (WAL readers never wait for the writer).
        # On sqlite3 itself: SQLAlchemy's execution path costs more than the statement.
        readonly = connection.get_execution_options().get(READONLY, False)
        connection.connection.driver_connection.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")


def dialect_of(executor) -> str:
    """The dialect name of a session or a connection."""
    return executor.dialect.name if isinstance(executor, AsyncConnection) else executor.bind.dialect.name


_PREPARED: dict = {}


def insert_unless_taken(session, table, key: tuple[str, ...], returning: str | None = None):
    """`INSERT INTO table ... ON CONFLICT (key) DO NOTHING [RETURNING column]`, built once per dialect
    and kept: the values come as parameters at execution, so SQLAlchemy neither rebuilds nor re-keys
    it per call."""
    dialect = dialect_of(session)
    statement = _PREPARED.get((dialect, table.name, key, returning))
    if statement is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(table).on_conflict_do_nothing(index_elements=list(key))
        if returning:
            statement = statement.returning(table.c[returning])
        _PREPARED[(dialect, table.name, key, returning)] = statement
    return statement


async def lock_name(session, name: str) -> None:
    """Hold a lock on `name` until this transaction ends, so a count-then-insert on it stays honest.
    PostgreSQL: a transaction-level advisory lock. SQLite: BEGIN IMMEDIATE already serialises writers."""
    await lock_names(session, [name])


async def lock_names(session, names) -> None:
    """`lock_name` for several names in one statement, taken in a fixed order (no deadlock between
    two transactions that lock overlapping sets)."""
    if dialect_of(session) == "postgresql" and names:
        keys = sorted({int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
                       for name in names})
        await session.execute(text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k"),
                              {"keys": keys})


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # The ORM's mappers are configured here, once, rather than by the first ORM query, which may run
    # inside a write transaction: on SQLite that held the write lock 13 ms longer (a job's first run).
    configure_mappers()
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)

